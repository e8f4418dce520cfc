"""The OA webhook endpoint: verify, check freshness, queue, answer 200 at once; a worker acts."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from bridge.logs import get_logger
from bridge.masking import mask_text
from bridge.webhook_events import (
    SIGNATURE_HEADER,
    WebhookRejectedError,
    check_age,
    parse_oa_event,
    verify_signature,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    from bridge.webhook_events import OaEvent, SignatureKeys

__all__ = ["WebhookInbox", "webhook_endpoint"]

_log = get_logger("bridge.webhook")
MAX_BODY_BYTES = 256 * 1024
_REFUSED = {401: "bad_signature", 403: "too_old"}
"""The ``results`` key of a refusal by its HTTP status (any other: ``bad_request``)."""

if TYPE_CHECKING:
    Scope = dict[str, Any]
    Receive = Callable[[], Awaitable[dict[str, Any]]]
    Send = Callable[[dict[str, Any]], Awaitable[None]]


class WebhookInbox:
    """Accepts genuine, fresh events into a bounded queue that one worker drains in order.

    Args:
        keys: What signatures are checked with.
        handle: Acts on one event (``CitizenDesk.handle``); its errors are logged, not raised.
        max_age: Oldest accepted event timestamp, seconds (0: no check).
        queue_size: Events waiting at most; beyond it the endpoint answers 503 (Zalo retries).
        clock: Epoch seconds.
    """

    def __init__(
        self,
        *,
        keys: SignatureKeys,
        handle: Callable[[OaEvent], Awaitable[None]],
        max_age: float,
        queue_size: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keys = keys
        self._handle = handle
        self._max_age = max_age
        self._queue: asyncio.Queue[OaEvent] = asyncio.Queue(maxsize=queue_size)
        self._clock = clock
        self._worker: asyncio.Task[None] | None = None
        self.results: Counter[str] = Counter()
        """Requests by result, for metrics: ``accepted``, ``busy``, ``bad_signature``,
        ``too_old``, ``bad_request``, ``too_large``, ``method_not_allowed``."""

    def receive(self, raw: bytes, headers: Mapping[str, str]) -> tuple[int, str]:
        """Decide on one request without waiting: (HTTP status, reason)."""
        try:
            header = next((v for k, v in headers.items() if k.lower() == SIGNATURE_HEADER), None)
            variant = verify_signature(raw, header, self._keys)
            check_age(raw, now=self._clock(), max_age=self._max_age)
            event = parse_oa_event(raw)
        except WebhookRejectedError as rejected:
            _log.warning("webhook request refused", status=rejected.status, why=rejected.why)
            self.results[_REFUSED.get(rejected.status, "bad_request")] += 1
            return rejected.status, rejected.why
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            _log.warning("webhook queue full", event_name=event.name)
            self.results["busy"] += 1
            return 503, "busy"
        _log.debug("webhook event queued", event_name=event.name, signature=variant)
        self.results["accepted"] += 1
        return 200, "ok"

    def start(self) -> None:
        """Start the worker."""
        self._worker = asyncio.create_task(self._work(), name="webhook-worker")

    async def _work(self) -> None:
        while True:
            event = await self._queue.get()
            try:
                await self._handle(event)
            except Exception as error:  # noqa: BLE001 - one bad event must not stop the worker
                _log.error("oa event failed", event_name=event.name, error=mask_text(repr(error)))
            finally:
                self._queue.task_done()

    async def join(self) -> None:
        """Return when every queued event has been handled."""
        await self._queue.join()

    async def close(self, timeout: float = 5.0) -> None:
        """Handle what is queued (at most ``timeout`` seconds), then stop the worker."""
        if self._worker is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), timeout)
        self._worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._worker
        self._worker = None


def webhook_endpoint(
    inbox: Callable[[], WebhookInbox | None], *, enabled: bool = True
) -> Callable[..., Awaitable[None]]:
    """The ASGI app of ``POST <webhook.path>``; 503 until the runtime has started, 404 if off."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if not enabled:
            await _answer(send, 404, "webhook off")
            return
        if scope["method"] != "POST":
            _count(inbox(), "method_not_allowed")
            await _answer(send, 405, "method not allowed")
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                _count(inbox(), "too_large")
                await _answer(send, 413, "too large")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        current = inbox()
        if current is None:
            await _answer(send, 503, "starting")
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        status, reason = current.receive(b"".join(chunks), headers)
        await _answer(send, status, reason)

    return app


def _count(inbox: WebhookInbox | None, result: str) -> None:
    if inbox is not None:
        inbox.results[result] += 1


async def _answer(send: Send, status: int, reason: str) -> None:
    body = json.dumps({"status": reason}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
