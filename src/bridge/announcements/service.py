"""One process's announcement machinery: the intake, the fan-out task and their producer."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential_jitter,
)

from bridge.announcements.audience import SqlAudience
from bridge.announcements.fanout import FanOut, FanOutPolicy
from bridge.announcements.intake import AnnouncementIntake
from bridge.announcements.store import AnnouncementStore
from bridge.delivery.flow import oa_rate_limiter
from bridge.errors import DeliveryError
from bridge.kafka.security import client_options
from bridge.observability.logs import get_logger
from bridge.quiet_hours.window import QuietWindow, parse_clock_time

if TYPE_CHECKING:
    from collections.abc import Callable

    from bridge.announcements.audience import Audience
    from bridge.announcements.settings import AnnouncementsConfig
    from bridge.delivery.deliverer import MessageSender, RateLimiter
    from bridge.delivery.faults import Outage
    from bridge.delivery.outbox import OutboundRecord
    from bridge.store.database import Database

__all__ = ["AnnouncementService", "announcement_window"]

_log = get_logger("bridge.announcements")


def announcement_window(settings: AnnouncementsConfig) -> QuietWindow:
    """The hours no non-urgent announcement goes out (22:00-06:00 by default)."""
    section = settings.announcements
    return QuietWindow(
        parse_clock_time(section.quiet_start),
        parse_clock_time(section.quiet_end),
        ZoneInfo(section.timezone),
    )


class AnnouncementService:
    """Builds and runs the announcement intake and fan-out; ``stop`` lets sends in flight end.

    Args:
        settings: The deployment's settings.
        database: The process's database (the caller disposes of it).
        sender: Sends the texts.
        oa_limiter: The OA's global rate limiter, shared with case notifications.
        owner: This replica's identity in claims.
        audience: Lists the audience (default: the SQL one over the citizens tables).
        clock: Wall-clock seconds (tests inject a fake one).
        outage: Holds the consumers while a record waits out a store or broker outage.
    """

    def __init__(  # noqa: PLR0913 - collaborators, all keyword-only
        self,
        settings: AnnouncementsConfig,
        *,
        database: Database,
        sender: MessageSender,
        oa_limiter: RateLimiter | None,
        owner: str,
        audience: Audience | None = None,
        clock: Callable[[], float] = time.time,
        outage: Outage | None = None,
    ) -> None:
        section = settings.announcements
        self._settings = settings
        self.store = AnnouncementStore(database)
        limiters: list[RateLimiter] = []
        own = oa_rate_limiter(section.rate_per_minute)
        if own is not None:
            limiters.append(own)
        if oa_limiter is not None:
            limiters.append(oa_limiter)
        self.fanout = FanOut(
            store=self.store,
            audience=audience or SqlAudience(database),
            sender=sender,
            limiters=limiters,
            window=announcement_window(settings),
            policy=FanOutPolicy(
                concurrency=section.concurrency,
                lease_seconds=section.lease_seconds,
                poll_seconds=section.poll_seconds,
                max_attempts=section.max_attempts,
                retry_window_seconds=section.retry_window_seconds,
                in_doubt_settle_seconds=settings.delivery.in_doubt_settle_seconds,
                pause_seconds=settings.delivery.redelivery_pause_seconds,
                signature=settings.province.signature,
            ),
            owner=owner,
            clock=clock,
        )
        self._producer: AIOKafkaProducer | None = None
        self._task: asyncio.Task[None] | None = None
        self.intake = AnnouncementIntake(
            store=self.store,
            dead_letter=self._dead_letter,
            dead_letter_topic=section.dead_letter_topic,
            on_stored=self.fanout.wake,
            max_bytes=settings.kafka.max_event_bytes,
            clock=clock,
            max_tries=settings.delivery.max_processing_tries,
            outage=outage,
            initial_backoff=settings.delivery.initial_backoff_seconds,
            max_backoff=settings.delivery.max_backoff_seconds,
        )

    async def start(self) -> None:
        """Start the dead-letter producer (waiting for the broker) and the fan-out task."""
        kafka = self._settings.kafka
        retrying = AsyncRetrying(
            stop=stop_after_delay(kafka.startup_timeout_seconds),
            wait=wait_exponential_jitter(multiplier=0.5, max=10, jitter=0.5),
            retry=retry_if_exception_type(KafkaError),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                producer = AIOKafkaProducer(
                    bootstrap_servers=kafka.bootstrap_servers,
                    client_id=f"{kafka.client_id}-announcements",
                    enable_idempotence=True,
                    acks="all",
                    **client_options(kafka),
                )
                try:
                    await producer.start()
                except BaseException:
                    await producer.stop()
                    raise
        self._producer = producer
        self._task = asyncio.create_task(self.fanout.run(), name="announcement-fanout")

    async def _dead_letter(self, record: OutboundRecord) -> None:
        if self._producer is None:
            raise DeliveryError("the announcement service has not started")
        await self._producer.send_and_wait(
            record.topic, record.value, key=record.key, headers=list(record.headers)
        )

    async def stop(self, timeout: float) -> None:
        """Let the sends in flight settle (up to ``timeout`` seconds), then stop everything."""
        self.fanout.stop()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout)
            except TimeoutError:
                _log.warning("announcement sends still in flight at shutdown; cancelling")
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            self._task = None
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
