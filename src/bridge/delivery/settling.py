"""Settle one input record: deliver it, record its dossier's state, and list what to publish."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from bridge.delivery.deliverer import processing_failed
from bridge.errors import InvalidEventError, InvalidEventReason, StoreValueError, exception_name
from bridge.observability.logs import get_logger

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from bridge.delivery.outbox import OutboundRecord
    from bridge.delivery.records import DeliveryOutcome, InboundRecord
    from bridge.events import CaseStateEvent

__all__ = ["Settler"]

_log = get_logger("bridge.settling")


class Settler:
    """The dispatcher's ``process`` and ``give_up``: every record ends with exactly one outcome.

    ``deliver`` settles a record with the Deliverer, then records its dossier's latest state. A
    state the store refuses (``StoreValueError``: that dossier's row only, no other) does not
    change what the citizen got: the status event tells the delivery, and a dead-letter copy
    (reason ``processing_error``) tells operators that the lookup state is missing; replaying it
    records the state and sends nothing again (the ledger remembers).

    Args:
        handle: ``Deliverer.handle``.
        record_event: Stores the dossier's state (``CitizenServices.record_event``).
        outputs: The status event (and dead-letter copy) of an outcome.
    """

    def __init__(
        self,
        *,
        handle: Callable[[InboundRecord], Awaitable[DeliveryOutcome]],
        record_event: Callable[[CaseStateEvent], Awaitable[None]],
        outputs: Callable[[InboundRecord, DeliveryOutcome], list[OutboundRecord]],
    ) -> None:
        self._handle = handle
        self._record_event = record_event
        self._outputs = outputs

    async def deliver(self, record: InboundRecord) -> list[OutboundRecord]:
        """Settle ``record``; return its outputs."""
        outcome = await self._handle(record)
        if outcome.event is not None:
            refused = await self._record_state(outcome.event)
            if refused is not None and outcome.dead_letter is None:
                outcome = dataclasses.replace(outcome, dead_letter=refused)
        return self._outputs(record, outcome)

    async def record_held(self, event: CaseStateEvent) -> None:
        """Record the state of an event held for quiet hours (a refusal shows at its release)."""
        await self._record_state(event)

    def give_up(
        self, record: InboundRecord, error: BaseException, tries: int
    ) -> list[OutboundRecord]:
        """The outputs of a record that kept failing: dead-lettered as ``processing_failed``."""
        return self._outputs(record, processing_failed(error, tries=tries))

    async def _record_state(self, event: CaseStateEvent) -> InvalidEventError | None:
        """Record the dossier's state; the refusal when the store refused this event's row."""
        try:
            await self._record_event(event)
        except StoreValueError as error:
            cause = exception_name(error.__cause__ or error)
            _log.warning(
                "the store refused the dossier's state", event_id=str(event.event_id), error=cause
            )
            return InvalidEventError(
                InvalidEventReason.PROCESSING_ERROR,
                f"the dossier's state for lookups was not stored: {error}",
                exception=cause,
            )
        return None
