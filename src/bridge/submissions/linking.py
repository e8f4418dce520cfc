"""The centre opened a dossier from a submission: the citizen who filed it follows it."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Protocol, TypeVar

import structlog

from bridge.errors import InvalidEventError
from bridge.events import parse_event

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from bridge.delivery.records import InboundRecord
    from bridge.events import CaseStateEvent
    from bridge.submissions.store import SubmissionStore

__all__ = ["LINK_FACTOR", "LinkPort", "SubmissionLinker"]

_log = structlog.get_logger("bridge.submissions")
_Outcome = TypeVar("_Outcome")

LINK_FACTOR = "submission"
"""How the link was made, in ``citizen_links.factor``: her consent at XAC NHAN, no code typed."""


class LinkPort(Protocol):
    """Links a Zalo user to a dossier (``bridge.citizens.CitizenStore``)."""

    async def link(self, user_id: str, case_code: str, *, factor: str, at: float) -> None:
        """Link (again) ``user_id`` to ``case_code``."""
        ...


class SubmissionLinker:
    """Before a case event is delivered: when it names a submission, link its citizen.

    The link is made before the delivery, so the dossier's first message (received, or refused
    at intake) already reaches her, worded as for anyone who follows a dossier. Linking is
    idempotent and marked after: a crash in between links again, never twice.

    Args:
        store: The submissions (who filed which).
        citizens: The links.
        input_topic: The v1 topic (only v1 carries ``submission_id``).
        max_event_bytes: As the deliverer reads records.
        clock: Epoch seconds.
        decode: Reads a record's value; the app passes the reader the quiet-hours gate and the
            deliverer share, so the record is decoded once for all three.
    """

    def __init__(  # noqa: PLR0913 - collaborators and knobs, keyword-only
        self,
        *,
        store: SubmissionStore,
        citizens: LinkPort,
        input_topic: str,
        max_event_bytes: int,
        clock: Callable[[], float] = time.time,
        decode: Callable[..., CaseStateEvent] = parse_event,
    ) -> None:
        self._decode = decode
        self._store = store
        self._citizens = citizens
        self._topic = input_topic
        self._max_bytes = max_event_bytes
        self._clock = clock
        self.linked = 0

    async def link(self, submission_id: str, case_code: str) -> bool:
        """Link the citizen who filed ``submission_id`` to ``case_code``; False: nobody new."""
        filed = await self._store.filed(submission_id)
        if filed is None:
            _log.info("case event names an unknown submission", submission_id=submission_id)
            return False
        now = self._clock()
        await self._citizens.link(filed.user_id, case_code, factor=LINK_FACTOR, at=now)
        if await self._store.opened(submission_id, case_code, at=now) is None:
            return False
        self.linked += 1
        _log.info("submission linked", submission_id=submission_id, case_code=case_code)
        return True

    def before(
        self, handle: Callable[[InboundRecord], Awaitable[_Outcome]]
    ) -> Callable[[InboundRecord], Awaitable[_Outcome]]:
        """``handle`` preceded by the link (records that do not parse go on untouched)."""

        async def linked_first(record: InboundRecord) -> _Outcome:
            if record.topic == self._topic:
                try:
                    event = self._decode(record.value, max_bytes=self._max_bytes)
                except InvalidEventError:
                    event = None  # the deliverer dead-letters it
                if event is not None and event.submission_id is not None:
                    await self.link(event.submission_id, event.case.code)
            return await handle(record)

        return linked_first
