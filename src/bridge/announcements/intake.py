"""Take announcement records off Kafka: store the valid ones, dead-letter the rest, never crash."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential_jitter

from bridge.announcements.contract import parse_announcement
from bridge.delivery.dead_letter import dead_letter_headers
from bridge.delivery.outbox import OutboundRecord
from bridge.errors import InvalidEventError
from bridge.observability.logs import get_logger

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from bridge.announcements.store import AnnouncementStore
    from bridge.delivery.records import InboundRecord

__all__ = ["AnnouncementIntake"]

_log = get_logger("bridge.announcements")


class AnnouncementIntake:
    """Handles one announcement record; returns once it is safe to acknowledge it.

    A valid announcement is stored (a redelivered one is recognised by its id) and the fan-out
    is woken; an invalid record goes to the dead-letter topic with its bytes, key and headers
    and the reason. A database or broker outage is waited out (the record is not acknowledged
    before), so nothing is lost and the consumer does not stop.

    Args:
        store: Where announcements are kept.
        dead_letter: Publishes one record to the dead-letter topic.
        dead_letter_topic: The announcements' dead-letter topic.
        on_stored: Called after a new announcement is stored.
        max_bytes: Larger records are dead-lettered unparsed.
        clock: Wall-clock seconds.
    """

    def __init__(  # noqa: PLR0913 - collaborators, all keyword-only
        self,
        *,
        store: AnnouncementStore,
        dead_letter: Callable[[OutboundRecord], Awaitable[None]],
        dead_letter_topic: str,
        on_stored: Callable[[], None],
        max_bytes: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._dead_letter = dead_letter
        self._topic = dead_letter_topic
        self._on_stored = on_stored
        self._max_bytes = max_bytes
        self._clock = clock

    async def accept(self, record: InboundRecord) -> None:
        """Store or dead-letter ``record``, waiting out outages."""
        log = _log.bind(topic=record.topic, partition=record.partition, offset=record.offset)
        retrying = AsyncRetrying(
            wait=wait_exponential_jitter(multiplier=0.5, max=30),
            retry=retry_if_exception_type(Exception),
            before_sleep=lambda state: log.warning(
                "cannot take the announcement yet; retrying",
                attempt=state.attempt_number,
                error=repr(state.outcome.exception()) if state.outcome else None,
            ),
        )
        try:
            announcement = parse_announcement(record.value, max_bytes=self._max_bytes)
        except InvalidEventError as error:
            headers = dead_letter_headers(record, error, now=datetime.now(UTC))
            copy = OutboundRecord(self._topic, record.key, record.value, headers)
            async for attempt in retrying:
                with attempt:
                    await self._dead_letter(copy)
            log.warning("announcement dead-lettered", reason=error.reason.value)
            return
        async for attempt in retrying:
            with attempt:
                new = await self._store.add(announcement, now=self._clock())
        log.info(
            "announcement stored",
            announcement_id=str(announcement.announcement_id),
            new=new,
            urgency=announcement.urgency.value,
            audience=announcement.audience.kind.value,
        )
        self._on_stored()
