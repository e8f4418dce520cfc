"""Delivering the webhook outbox over HTTP (aiohttp client), now or when attempts fall due."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any, Final

import aiohttp
from aiohttp import web

from bridge_devkit.emulator.webhook import DeliveryAttempt

if TYPE_CHECKING:
    from collections.abc import Coroutine, Iterable

    from bridge_devkit.emulator.state import EmulatorState
    from bridge_devkit.emulator.webhook import DeliveryRequest, WebhookEvent

__all__ = ["POLL_INTERVAL_S", "WebhookDispatcher"]

POLL_INTERVAL_S: Final = 0.2
"""How often (real time) an auto-delivering emulator looks for due attempts."""

_LOG = logging.getLogger("bridge_devkit.emulator.webhook")
_MAX_ERROR_LENGTH = 200


class WebhookDispatcher:
    """Sends the outbox's due attempts and records their outcome.

    With `auto_deliver` on, a background task delivers due attempts every `POLL_INTERVAL_S`
    and `kick()` delivers at once; otherwise only `deliver()` (the admin event call) and
    `run_due()` (`POST /_emulator/webhook/run-due`) send anything.
    """

    def __init__(self, state: EmulatorState) -> None:
        """Deliver the outbox of `state`."""
        self._state = state
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._poller: asyncio.Task[None] | None = None

    async def on_startup(self, _app: web.Application) -> None:
        """Start the background delivery (always; it idles while `auto_deliver` is off)."""
        self._poller = asyncio.create_task(self._poll(), name="zalo-emulator-webhook")

    async def on_cleanup(self, _app: web.Application) -> None:
        """Stop the background delivery, cancel attempts in flight, close the HTTP client."""
        tasks = [*self._tasks, *([self._poller] if self._poller is not None else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._session is not None:
            await self._session.close()
            self._session = None

    def kick(self) -> None:
        """Deliver the due attempts in the background, if the emulator delivers by itself."""
        outbox = self._state.webhook
        if outbox.settings.auto_deliver and outbox.due(self._state.clock()):
            self._spawn(self.deliver_due())

    async def deliver(self, events: Iterable[WebhookEvent]) -> list[DeliveryAttempt]:
        """Make the due attempt of each of `events` now, one after the other, in order."""
        outbox = self._state.webhook
        now = self._state.clock()
        claimed = [
            (event, request)
            for event in events
            if event.next_attempt_at is not None
            and event.next_attempt_at <= now
            and (request := outbox.claim(event)) is not None
        ]
        return [await self._attempt(event, request) for event, request in claimed]

    async def deliver_due(self) -> list[DeliveryAttempt]:
        """Make every attempt due now, concurrently; return them in event order."""
        outbox = self._state.webhook
        claimed = [
            (event, request)
            for event in outbox.due(self._state.clock())
            if (request := outbox.claim(event)) is not None
        ]
        return list(
            await asyncio.gather(*(self._attempt(event, request) for event, request in claimed))
        )

    async def run_due(self) -> list[DeliveryAttempt]:
        """Wait for attempts already running, then make every attempt due now."""
        running = [task for task in self._tasks if not task.done()]
        if running:
            await asyncio.gather(*running, return_exceptions=True)
        return await self.deliver_due()

    async def _attempt(self, event: WebhookEvent, request: DeliveryRequest) -> DeliveryAttempt:
        started_at = self._state.clock()
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        try:
            session = self._client()
            timeout = aiohttp.ClientTimeout(total=request.timeout_s)
            async with session.post(
                request.url, data=request.body, headers=request.headers, timeout=timeout
            ) as response:
                status = response.status
                await response.read()
        except TimeoutError:
            error = "timeout"
        except aiohttp.ClientError as exc:
            error = f"{type(exc).__name__}: {exc}"[:_MAX_ERROR_LENGTH]
        except BaseException:
            event.in_flight = False
            raise
        attempt = DeliveryAttempt(
            number=request.number,
            url=request.url,
            at=started_at,
            http_status=status,
            error=error,
            duration_ms=round((time.perf_counter() - started) * 1000.0, 3),
        )
        self._state.webhook.finish(event, attempt, self._state.clock())
        if not attempt.ok:
            _LOG.info(
                "webhook event %d attempt %d failed: %s",
                event.seq,
                attempt.number,
                error or f"HTTP {status}",
            )
        return attempt

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    def _spawn(self, coro: Coroutine[Any, Any, object]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _poll(self) -> None:
        outbox = self._state.webhook
        while True:
            await asyncio.sleep(POLL_INTERVAL_S)
            if outbox.settings.auto_deliver and outbox.has_waiting():
                try:
                    await self.deliver_due()
                except Exception:  # noqa: BLE001 - the loop must outlive one bad round
                    _LOG.exception("webhook delivery failed")
