"""Take announcement records off Kafka: store the valid ones, dead-letter the rest, never crash."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bridge.announcements.contract import parse_announcement
from bridge.delivery.faults import OutageWatch, backoff, infrastructure_of
from bridge.delivery.outbox import OutboundRecord, dead_letter_of
from bridge.errors import InvalidEventError, InvalidEventReason, StoreValueError, exception_name
from bridge.observability.logs import get_logger
from bridge.observability.masking import mask_text

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from structlog.typing import FilteringBoundLogger

    from bridge.announcements.contract import Announcement
    from bridge.announcements.store import AnnouncementStore
    from bridge.delivery.faults import Outage
    from bridge.delivery.records import InboundRecord

__all__ = ["AnnouncementIntake"]

_log = get_logger("bridge.announcements")


class AnnouncementIntake:
    """Handles one announcement record; returns once it is safe to acknowledge it.

    Every record reaches exactly one outcome in bounded time, by the rules of the case-state
    records (``bridge.delivery.faults``). A valid announcement is stored (a redelivered one is
    recognised
    by its id) and the fan-out is woken. A record that cannot be decoded, or whose values the
    store refuses, goes to the dead-letter topic at once with its bytes, key and headers, the
    reason and the exception class; one whose storing keeps failing for an unexpected reason
    goes there after ``max_tries`` tries, as ``processing_failed``. A database or broker outage
    is waited out with backoff (the record is not acknowledged before; ``outage`` holds the
    consumers and readiness meanwhile), so nothing is lost and the consumer does not stop.

    Args:
        store: Where announcements are kept.
        dead_letter: Publishes one record to the dead-letter topic.
        dead_letter_topic: The announcements' dead-letter topic.
        on_stored: Called after a new announcement is stored.
        max_bytes: Larger records are dead-lettered unparsed.
        clock: Wall-clock seconds.
        max_tries: Tries of a record whose storing raises an unexpected exception.
        outage: Holds the consumer while the store or the broker cannot be reached.
        initial_backoff: First wait before trying again, doubling up to ``max_backoff``.
        max_backoff: Longest wait before trying again.
        sleep: Awaited for every wait; tests pass a fake.
    """

    def __init__(  # noqa: PLR0913 - collaborators and knobs, all keyword-only
        self,
        *,
        store: AnnouncementStore,
        dead_letter: Callable[[OutboundRecord], Awaitable[None]],
        dead_letter_topic: str,
        on_stored: Callable[[], None],
        max_bytes: int,
        clock: Callable[[], float] = time.time,
        max_tries: int = 5,
        outage: Outage | None = None,
        initial_backoff: float = 0.5,
        max_backoff: float = 30.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._store = store
        self._dead_letter = dead_letter
        self._topic = dead_letter_topic
        self._on_stored = on_stored
        self._max_bytes = max_bytes
        self._clock = clock
        self._max_tries = max(1, max_tries)
        self._outage = outage
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff
        self._sleep = sleep

    async def accept(self, record: InboundRecord) -> None:
        """Store or dead-letter ``record``, waiting out outages."""
        log = _log.bind(topic=record.topic, partition=record.partition, offset=record.offset)
        try:
            announcement = parse_announcement(record.value, max_bytes=self._max_bytes)
        except InvalidEventError as error:
            await self._park(record, error, log)
            return
        except Exception as exc:  # noqa: BLE001 - a decoder bug: the same bytes would fail again
            name = exception_name(exc)
            refusal = InvalidEventError(
                InvalidEventReason.PROCESSING_ERROR, f"cannot decode: {name}", exception=name
            )
            await self._park(record, refusal, log)
            return
        refused = await self._store_it(announcement, log)
        if refused is not None:
            await self._park(record, refused, log)

    async def _store_it(
        self, announcement: Announcement, log: FilteringBoundLogger
    ) -> InvalidEventError | None:
        """Store the announcement; the reason to dead-letter it instead, if there is one."""
        tries = outages = 0
        with OutageWatch(self._outage) as watch:
            while True:
                try:
                    new = await self._store.add(announcement, now=self._clock())
                    break
                except StoreValueError as error:
                    name = exception_name(error.__cause__ or error)
                    return InvalidEventError(
                        InvalidEventReason.PROCESSING_ERROR, str(error), exception=name
                    )
                except Exception as error:  # sorted here: nothing may escape the intake
                    kind = infrastructure_of(error)
                    if kind is not None:
                        outages += 1
                        watch.failed(kind)
                        wait = self._backoff(outages)
                        log.warning(
                            "cannot take the announcement yet; retrying",
                            infrastructure=kind,
                            error=exception_name(error),
                            rest_s=round(wait, 2),
                        )
                        await self._sleep(wait)
                        continue
                    watch.recovered()
                    outages = 0
                    tries += 1
                    name = exception_name(error)
                    if tries >= self._max_tries:
                        log.exception("announcement kept failing; dead-lettered", tries=tries)
                        detail = f"failed {tries} times; the last time: {name}: {error}"
                        return InvalidEventError(
                            InvalidEventReason.PROCESSING_FAILED,
                            mask_text(detail)[:400],
                            exception=name,
                        )
                    log.exception("storing the announcement failed; retrying", tries=tries)
                    await self._sleep(self._backoff(tries))
        log.info(
            "announcement stored",
            announcement_id=str(announcement.announcement_id),
            new=new,
            urgency=announcement.urgency.value,
            audience=announcement.audience.kind.value,
        )
        self._on_stored()
        return None

    async def _park(
        self, record: InboundRecord, error: InvalidEventError, log: FilteringBoundLogger
    ) -> None:
        """Publish the dead-letter copy; an outage of the broker is waited out."""
        now = datetime.fromtimestamp(self._clock(), UTC)
        copy = dead_letter_of(record, error, topic=self._topic, now=now)
        failures = 0
        with OutageWatch(self._outage) as watch:
            while True:
                try:
                    await self._dead_letter(copy)
                    break
                except Exception as failure:  # noqa: BLE001 - unacknowledged until it is written
                    failures += 1
                    watch.failed(infrastructure_of(failure) or "broker")
                    wait = self._backoff(failures)
                    log.warning(
                        "cannot dead-letter the announcement yet; retrying",
                        error=exception_name(failure),
                        rest_s=round(wait, 2),
                    )
                    await self._sleep(wait)
        log.warning(
            "announcement dead-lettered", reason=error.reason.value, exception=error.exception
        )

    def _backoff(self, failures: int) -> float:
        return backoff(failures, initial=self._initial_backoff, cap=self._max_backoff)
