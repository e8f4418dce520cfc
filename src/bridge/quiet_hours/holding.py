"""Hold non-urgent notifications through quiet hours and release them in the morning."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from tenacity import AsyncRetrying, stop_after_attempt, wait_exponential_jitter

from bridge.case_kinds.contract import parse_case_event
from bridge.delivery.cascade import CascadeConfig, may_reach
from bridge.delivery.records import DeliveryOutcome
from bridge.errors import BridgeError, InvalidEventError
from bridge.observability.logs import get_logger
from bridge.quiet_hours.window import is_urgent
from bridge.status import DeliveryStatus

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence

    from bridge.delivery.outbox import OutboundRecord
    from bridge.delivery.records import InboundRecord
    from bridge.events import CaseStateEvent
    from bridge.quiet_hours.store import HeldRecord, HoldStore
    from bridge.quiet_hours.window import QuietWindow

__all__ = [
    "HOLD_REASON",
    "SUPERSEDED_REASON",
    "QuietHoursGate",
    "Releaser",
    "SerialPublisher",
    "UrgencyRule",
    "stop_task",
]

HOLD_REASON = "quiet_hours"
SUPERSEDED_REASON = "superseded"

_log = get_logger("bridge.holding")


class SerialPublisher:
    """Shares one transactional producer between the committer and the releaser.

    A Kafka producer runs one transaction at a time; this runs the callers' one after another.
    """

    def __init__(
        self,
        publish: Callable[
            [Sequence[OutboundRecord], Mapping[tuple[str, int], int], str | None],
            Awaitable[None],
        ],
    ) -> None:
        self._publish = publish
        self._lock = asyncio.Lock()

    async def publish(
        self,
        outputs: Sequence[OutboundRecord],
        offsets: Mapping[tuple[str, int], int],
        owner: str | None = None,
    ) -> None:
        """Publish ``outputs`` and commit ``offsets`` in one transaction, after any running one.

        ``owner``: the group identity the offsets are committed under (see ``Dispatcher``).
        """
        async with self._lock:
            await self._publish(outputs, offsets, owner)


@dataclass(frozen=True, slots=True)
class UrgencyRule:
    """Which events are sent at once even during quiet hours."""

    states: Collection[str]
    event_types: Collection[str]

    def __call__(self, event: CaseStateEvent) -> bool:
        """Whether ``event`` is urgent."""
        return is_urgent(event, urgent_states=self.states, urgent_event_types=self.event_types)


class QuietHoursGate:
    """Stands before the Deliverer: holds non-urgent news during quiet hours, drops stale holds.

    Every parsed event first supersedes its dossier's older held records in another state;
    their final status events (``suppressed``, reason ``superseded``) go out with this record's.
    Then, during quiet hours, a non-urgent event that would reach someone (a consenting
    recipient with a Zalo user id or a phone, or a citizen linked to the dossier) is stored
    (raw bytes, key, headers) and settled as ``held``, so its offset commits and the partition
    moves on. Everything else goes on to the Deliverer as before. Who "would be reached" is the
    cascade's own decision (``bridge.delivery.cascade.may_reach``): a phone counts only when the
    state's route has a template by phone.

    Args:
        store: Where held records are kept.
        window: The quiet hours.
        urgent: Decides which events go at once.
        max_event_bytes: Larger records are left to the Deliverer (which dead-letters them).
        clock: Wall-clock seconds (tests inject a fake one).
        linked: The users linked to a dossier (None: nobody is ever linked).
        cascade: The channel cascade the Deliverer walks (default: CS only, no template ids).
    """

    def __init__(  # noqa: PLR0913 - collaborators and knobs, all keyword-only
        self,
        *,
        store: HoldStore,
        window: QuietWindow,
        urgent: Callable[[CaseStateEvent], bool],
        max_event_bytes: int,
        clock: Callable[[], float],
        linked: Callable[[str], Awaitable[list[str]]] | None = None,
        cascade: CascadeConfig | None = None,
        decode: Callable[..., CaseStateEvent] = parse_case_event,
    ) -> None:
        self._decode = decode
        self._linked = linked
        self._cascade = cascade or CascadeConfig()
        self._store = store
        self._window = window
        self._urgent = urgent
        self._max_event_bytes = max_event_bytes
        self._clock = clock

    def guard(
        self,
        deliver: Callable[[InboundRecord], Awaitable[list[OutboundRecord]]],
        outputs: Callable[[InboundRecord, DeliveryOutcome], list[OutboundRecord]],
        *,
        on_held: Callable[[CaseStateEvent], Awaitable[None]] | None = None,
    ) -> Callable[[InboundRecord], Awaitable[list[OutboundRecord]]]:
        """Wrap the dispatcher's ``process`` function with the quiet-hours rules.

        ``on_held`` sees each event held (``deliver`` sees the others), e.g. to keep the
        dossier's latest state current for lookups while its notification waits.
        """

        async def process(record: InboundRecord) -> list[OutboundRecord]:
            try:
                event = self._decode(record.value, max_bytes=self._max_event_bytes)
            except InvalidEventError:
                return await deliver(record)
            now = self._clock()
            superseded = await self._store.supersede(event, now=now)
            extra = [out for held in superseded for out in self._superseded(held, outputs)]
            if await self._holds(event, now):
                release_at = self._window.next_release(datetime.fromtimestamp(now, UTC))
                await self._store.hold(record, event, release_at=release_at.timestamp(), now=now)
                _log.info(
                    "event held for quiet hours",
                    event_id=str(event.event_id),
                    case_code=event.case.code,
                    release_at=release_at.isoformat(),
                )
                if on_held is not None:
                    await on_held(event)
                held = DeliveryOutcome(DeliveryStatus.HELD, reason=HOLD_REASON, event=event)
                return [*outputs(record, held), *extra]
            return [*await deliver(record), *extra]

        return process

    async def _holds(self, event: CaseStateEvent, now: float) -> bool:
        if not self._window.is_quiet(datetime.fromtimestamp(now, UTC)) or self._urgent(event):
            return False
        route = self._cascade.route(event.state)
        if may_reach(event, (), route):
            return True
        # Otherwise only citizens linked to the dossier could be woken.
        if self._linked is None:
            return False
        linked = await self._linked(event.case.code)
        return bool(linked) and may_reach(event, linked, route)

    def _superseded(
        self,
        held: HeldRecord,
        outputs: Callable[[InboundRecord, DeliveryOutcome], list[OutboundRecord]],
    ) -> list[OutboundRecord]:
        try:
            event = self._decode(held.record.value, max_bytes=len(held.record.value) + 1)
        except InvalidEventError:  # pragma: no cover - it was parsed before it was held
            return []
        _log.info("held event superseded", event_id=held.event_id, case_code=held.case_code)
        outcome = DeliveryOutcome(DeliveryStatus.SUPPRESSED, reason=SUPERSEDED_REASON, event=event)
        return outputs(held.record, outcome)


class Releaser:
    """Feeds held records back through the Deliverer once quiet hours are over.

    Every ``poll`` seconds (and at start-up, for holds already overdue) it claims due records
    (row-level, so two replicas never release the same one), releases each dossier's records
    in sequence order, dossiers side by side, and publishes each record's final status event
    (a transaction without offsets) before marking the row released. A crash in between
    releases the record again after its lease: the ledger answers with the settled outcome, so
    nothing is sent twice, at worst the status event is.

    Args:
        store: The held records.
        deliver: ``Deliverer.handle``.
        outputs: The status event (and DLQ copy) of an outcome.
        publish: Publishes outputs (``SerialPublisher.publish``).
        window: The quiet hours (nothing is released while they last).
        owner: This replica's identity in the claims.
        lease_seconds: How long a claim is held.
        poll: Seconds between looks.
        concurrency: Dossiers released side by side.
        clock: Wall-clock seconds.
        sleep: Awaited between looks.
    """

    def __init__(  # noqa: PLR0913 - collaborators and knobs, all keyword-only
        self,
        *,
        store: HoldStore,
        deliver: Callable[[InboundRecord], Awaitable[DeliveryOutcome]],
        outputs: Callable[[InboundRecord, DeliveryOutcome], list[OutboundRecord]],
        publish: Callable[
            [Sequence[OutboundRecord], Mapping[tuple[str, int], int]], Awaitable[None]
        ],
        window: QuietWindow,
        owner: str,
        lease_seconds: float,
        poll: float,
        concurrency: int,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.store = store
        self._deliver = deliver
        self._outputs = outputs
        self._publish = publish
        self._window = window
        self._owner = owner
        self._lease = lease_seconds
        self._poll = poll
        self._concurrency = concurrency
        self._clock = clock
        self._sleep = sleep
        self.released = 0
        """Records released by this process (for metrics)."""

    async def run(self) -> None:
        """Release due records until cancelled."""
        while True:
            try:
                while await self.release_due():
                    pass
            except Exception:  # noqa: BLE001 - the background task logs, rests and goes on
                _log.exception("releasing held records failed; trying again later")
            await self._sleep(self._poll)

    async def release_due(self) -> int:
        """Release one batch of due records; return how many were claimed (0: none due)."""
        now = self._clock()
        if self._window.is_quiet(datetime.fromtimestamp(now, UTC)):
            return 0
        claimed = await self.store.claim_due(
            now=now, owner=self._owner, lease_seconds=self._lease, limit=self._concurrency * 10
        )
        if not claimed:
            return 0
        gate = asyncio.Semaphore(self._concurrency)

        async def one_dossier(records: list[HeldRecord]) -> None:
            async with gate:
                for held in records:
                    await self._release(held)

        by_case = itertools.groupby(claimed, key=lambda held: held.case_code)
        results = await asyncio.gather(
            *(one_dossier(list(records)) for _, records in by_case), return_exceptions=True
        )
        for result in results:
            if isinstance(result, Exception):
                _log.error("a held record could not be released", error=repr(result))
        return len(claimed)

    async def _release(self, held: HeldRecord) -> None:
        outcome = await self._deliver(held.record)
        retrying = AsyncRetrying(
            stop=stop_after_attempt(5),
            wait=wait_exponential_jitter(multiplier=0.2, max=5),
            sleep=self._sleep,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                await self._publish(self._outputs(held.record, outcome), {})
        settled = await self.store.settle(
            held.event_id,
            owner=self._owner,
            outcome=outcome.status.value,
            reason=outcome.reason,
            now=self._clock(),
        )
        self.released += 1
        _log.info(
            "held event released",
            event_id=held.event_id,
            case_code=held.case_code,
            status=outcome.status.value,
            reason=outcome.reason,
            recorded=settled,
        )


async def stop_task(task: asyncio.Task[None] | None) -> None:
    """Cancel a background task and wait for it to end."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, BridgeError):
        await task
