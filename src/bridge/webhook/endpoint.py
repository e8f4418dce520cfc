"""The OA webhook endpoint: verify, store the event durably, answer 200; a worker acts."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from bridge.errors import StoreError
from bridge.observability.logs import get_logger
from bridge.observability.masking import mask_text
from bridge.webhook.events import (
    SIGNATURE_HEADER,
    WebhookRejectedError,
    check_age,
    parse_oa_event,
    verify_signature,
)
from bridge.webhook.inbox import InboxStatus

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    from bridge.webhook.events import OaEvent, SignatureKeys
    from bridge.webhook.inbox import InboxClaim, InboxRow

__all__ = ["REQUEST_RESULTS", "InboxPolicy", "InboxPort", "WebhookInbox", "webhook_endpoint"]

_log = get_logger("bridge.webhook")
MAX_BODY_BYTES = 256 * 1024
_LENGTH_DIGITS = 12
"""A ``Content-Length`` of more digits is not converted: it is too large anyway."""
_ATTEMPT_SHARE_OF_LEASE = 0.8
"""An attempt taking longer than this share of the lease is cut short and retried."""
_REFUSED = {401: "bad_signature", 403: "too_old", 405: "method_not_allowed", 413: "too_large"}
"""The ``results`` key of a refusal by its HTTP status (any other: ``bad_request``)."""
REQUEST_RESULTS = (
    "accepted",
    "duplicate",
    "busy",
    "bad_request",
    "bad_signature",
    "too_old",
    "too_large",
    "method_not_allowed",
)
"""Webhook requests by result: stored (``accepted``), stored before (``duplicate``), not stored
in time (``busy``: 503); refused: not a signed JSON event (``bad_request``: 400), a missing,
malformed or wrong signature (``bad_signature``: 401), outside the freshness window
(``too_old``: 403), over the size limit (``too_large``: 413), not a POST
(``method_not_allowed``: 405)."""

if TYPE_CHECKING:
    Scope = dict[str, Any]
    Receive = Callable[[], Awaitable[dict[str, Any]]]
    Send = Callable[[dict[str, Any]], Awaitable[None]]


class InboxPort(Protocol):
    """What the inbox needs from ``bridge.webhook.inbox.InboxStore``."""

    async def add(  # noqa: D102 - see InboxStore
        self, *, dedupe_key: str, event_name: str, user_id: str | None, body: bytes, now: float
    ) -> bool: ...
    async def claim(  # noqa: D102 - see InboxStore
        self, *, owner: str, now: float, lease_seconds: float, limit: int, max_attempts: int
    ) -> InboxClaim: ...
    async def done(self, row_id: int, *, owner: str, now: float) -> bool: ...  # noqa: D102 - idem
    async def release(  # noqa: D102 - see InboxStore
        self, row_id: int, *, owner: str, now: float, error: str, retry_at: float | None
    ) -> bool: ...
    async def counts(self) -> dict[str, int]: ...  # noqa: D102 - see InboxStore


@dataclass(frozen=True, slots=True)
class InboxPolicy:
    """How stored events are claimed, retried and given up on (``webhook.inbox_*`` settings)."""

    lease_seconds: float = 60.0
    max_attempts: int = 5
    retry_seconds: float = 2.0
    retry_max_seconds: float = 60.0
    poll_seconds: float = 1.0
    batch: int = 16
    accept_timeout: float = 1.5

    def retry_at(self, attempts: int, now: float) -> float | None:
        """When an event that failed its ``attempts``-th attempt is tried again; None: give up."""
        if attempts >= self.max_attempts:
            return None
        return now + min(self.retry_seconds * 2.0 ** max(attempts - 1, 0), self.retry_max_seconds)


class WebhookInbox:
    """Stores genuine, fresh events durably before answering; a worker handles them.

    The endpoint answers 200 only once the event's row is committed (a duplicate key, from a
    Zalo retry or another replica, is answered 200 and stored once), and 503 when the store
    cannot take it within ``policy.accept_timeout`` (Zalo retries). The worker claims each
    user's oldest waiting event with a lease (users in parallel, a user's events in order),
    hands it to ``handle`` and marks it done; an error is retried with back-off up to
    ``policy.max_attempts`` times, then the event is marked failed. Events left pending or
    claimed by a stopped process are handled when their lease runs out, by any replica.

    Args:
        keys: What signatures are checked with.
        handle: Acts on one event (``CitizenDesk.handle``); an error means "try again later".
        store: The durable inbox.
        owner: This process's name on its claims (unique per process).
        max_age: Oldest accepted event timestamp, seconds (0: no check).
        policy: Leases, retries, polling.
        clock: Epoch seconds.
    """

    def __init__(  # noqa: PLR0913 - keyword-only collaborators and knobs
        self,
        *,
        keys: SignatureKeys,
        handle: Callable[[OaEvent], Awaitable[None]],
        store: InboxPort,
        owner: str,
        max_age: float,
        policy: InboxPolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keys = keys
        self._handle = handle
        self._store = store
        self._owner = owner
        self._max_age = max_age
        self._policy = policy or InboxPolicy()
        self._clock = clock
        self._wake = asyncio.Event()
        self._stopping = False
        self._worker: asyncio.Task[None] | None = None
        self.results: Counter[str] = Counter()
        """Requests by result, for metrics: ``REQUEST_RESULTS``."""
        self.outcomes: Counter[str] = Counter()
        """Stored events' attempts by outcome: ``handled``, ``retried``, ``failed``."""

    async def receive(self, raw: bytes, headers: Mapping[str, str]) -> tuple[int, str]:
        """Decide on one request and store the event: (HTTP status, reason).

        Never raises, and answers 5xx only when a verified event could not be stored (Zalo then
        retries): whatever an unauthenticated caller sends is refused with a 4xx, counted in
        ``results``, and never reaches the store.
        """
        try:
            header = next((v for k, v in headers.items() if k.lower() == SIGNATURE_HEADER), None)
            variant = verify_signature(raw, header, self._keys)
            check_age(raw, now=self._clock(), max_age=self._max_age)
            event = parse_oa_event(raw)
        except WebhookRejectedError as rejected:
            return self.refuse(rejected.status, rejected.why)
        except Exception as error:  # noqa: BLE001 - hostile input must never become a 5xx
            # A bug, not the caller's fault: visible in the logs by its class, never its text.
            _log.error("webhook request refused (unexpected error)", error=type(error).__name__)
            return self.refuse(400, "bad request")
        try:
            stored = await asyncio.wait_for(
                self._store.add(
                    dedupe_key=event.dedupe_key,
                    event_name=event.name,
                    user_id=event.user_id,
                    body=raw,
                    now=self._clock(),
                ),
                self._policy.accept_timeout,
            )
        except Exception as error:  # noqa: BLE001 - StoreError, TimeoutError, or a driver's bug
            # The event is genuine but not stored: 503, so that Zalo sends it again.
            log = _log.warning if isinstance(error, StoreError | TimeoutError) else _log.error
            log("webhook event not stored", event_name=event.name, error=type(error).__name__)
            self.results["busy"] += 1
            return 503, "busy"
        if not stored:
            _log.info("duplicate oa event accepted", event_name=event.name)
            self.results["duplicate"] += 1
            return 200, "ok"
        _log.debug("webhook event stored", event_name=event.name, signature=variant)
        self.results["accepted"] += 1
        self._wake.set()
        return 200, "ok"

    def refuse(self, status: int, why: str) -> tuple[int, str]:
        """Count and log a refused request (a 4xx); returns (status, reason)."""
        _log.warning("webhook request refused", status=status, why=why)
        self.results[_REFUSED.get(status, "bad_request")] += 1
        return status, why

    def start(self) -> None:
        """Start the worker (it first handles what a stopped process left behind)."""
        self._stopping = False
        self._worker = asyncio.create_task(self._work(), name="webhook-worker")

    async def _work(self) -> None:
        policy = self._policy
        while not self._stopping:
            self._wake.clear()
            try:
                claim = await self._store.claim(
                    owner=self._owner,
                    now=self._clock(),
                    lease_seconds=policy.lease_seconds,
                    limit=policy.batch,
                    max_attempts=policy.max_attempts,
                )
            except StoreError as error:
                _log.error("webhook inbox claim failed", error=str(error))
            else:
                if claim.failed:
                    _log.error("oa events abandoned after their last attempt", count=claim.failed)
                    self.outcomes["failed"] += claim.failed
                if claim.rows:
                    # One row per user at most: a user's events stay in order.
                    await asyncio.gather(*(self._attempt(row) for row in claim.rows))
                    continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), policy.poll_seconds)

    async def _attempt(self, row: InboxRow) -> None:
        # An attempt ends before its lease does, so no other replica takes the event meanwhile.
        limit = self._policy.lease_seconds * _ATTEMPT_SHARE_OF_LEASE
        try:
            await asyncio.wait_for(self._handle(parse_oa_event(row.body)), limit)
        except Exception as error:  # noqa: BLE001 - one bad event must not stop the worker
            now = self._clock()
            retry_at = self._policy.retry_at(row.attempts, now)
            outcome = "failed" if retry_at is None else "retried"
            log = _log.error if retry_at is None else _log.warning
            log(
                f"oa event {outcome}",
                event_name=row.event_name,
                attempts=row.attempts,
                error=mask_text(repr(error)),
            )
            self.outcomes[outcome] += 1
            settle = self._store.release(
                row.id, owner=self._owner, now=now, error=type(error).__name__, retry_at=retry_at
            )
        else:
            self.outcomes["handled"] += 1
            settle = self._store.done(row.id, owner=self._owner, now=self._clock())
        try:
            kept = await settle
        except StoreError as error:  # the lease runs out and the event is handled again
            _log.error("webhook inbox settle failed", event_name=row.event_name, error=str(error))
        else:
            if not kept:
                _log.warning("webhook inbox claim lost (lease ran out)", event_name=row.event_name)

    async def counts(self) -> dict[str, int]:
        """Stored events by status: ``pending``, ``claimed``, ``done``, ``failed``."""
        counts = await self._store.counts()
        return {**dict.fromkeys([s.value for s in InboxStatus], 0), **counts}

    async def join(self, interval: float = 0.02) -> None:
        """Return when no stored event is pending or claimed any more (for tests and drains)."""
        while True:
            counts = await self._store.counts()
            if not counts.get(InboxStatus.PENDING.value) and not counts.get(
                InboxStatus.CLAIMED.value
            ):
                return
            self._wake.set()
            await asyncio.sleep(interval)

    async def close(self, timeout: float = 5.0) -> None:
        """Finish the events in hand (at most ``timeout`` seconds), then stop the worker.

        What is still pending stays in the store for the next start; an attempt cut short keeps
        its claim until the lease runs out.
        """
        if self._worker is None:
            return
        self._stopping = True
        self._wake.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._worker), timeout)
        self._worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._worker
        self._worker = None


def webhook_endpoint(
    inbox: Callable[[], WebhookInbox | None], *, enabled: bool = True
) -> Callable[..., Awaitable[None]]:
    """The ASGI app of ``POST <webhook.path>``; 503 until the runtime has started, 404 if off.

    Before the inbox decides: 405 for another method, 413 for a body (declared or read) over
    ``MAX_BODY_BYTES``, 400 for a repeated ``X-ZEvent-Signature``. A client that goes away
    before its body is read gets no answer. The content type is not checked: Zalo's is not
    documented, and the body is read as JSON whatever it says.
    """

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if not enabled:
            await _answer(send, 404, "webhook off")
            return
        if scope.get("method") != "POST":
            _count(inbox(), "method_not_allowed")
            await _answer(send, 405, "method not allowed", allow=b"POST")
            return
        raw_headers: list[tuple[bytes, bytes]] = list(scope.get("headers") or [])
        if _declared_length(raw_headers) > MAX_BODY_BYTES:
            _count(inbox(), "too_large")
            await _answer(send, 413, "too large")
            return
        body = await _read_body(receive)
        if body is None:  # the client went away
            return
        if len(body) > MAX_BODY_BYTES:
            _count(inbox(), "too_large")
            await _answer(send, 413, "too large")
            return
        current = inbox()
        if current is None:
            await _answer(send, 503, "starting")
            return
        names = [name.decode("latin-1").lower() for name, _ in raw_headers]
        if names.count(SIGNATURE_HEADER) > 1:
            status, reason = current.refuse(400, "signature header repeated")
        else:
            headers = dict(zip(names, (v.decode("latin-1") for _, v in raw_headers), strict=True))
            status, reason = await current.receive(body, headers)
        await _answer(send, status, reason)

    return app


def _declared_length(headers: list[tuple[bytes, bytes]]) -> int:
    """The ``Content-Length`` the client announced, or 0 when none (or not a number)."""
    for name, value in headers:
        if name.lower() == b"content-length":
            digits = value.strip()
            if digits.isdigit():  # bytes: ASCII digits only
                return int(digits) if len(digits) <= _LENGTH_DIGITS else MAX_BODY_BYTES + 1
    return 0


async def _read_body(receive: Receive) -> bytes | None:
    """The request body, cut one byte past ``MAX_BODY_BYTES``; None if the client left."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message.get("type") == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        chunks.append(chunk)
        if size > MAX_BODY_BYTES:
            return b"".join(chunks)[: MAX_BODY_BYTES + 1]
        if not message.get("more_body", False):
            return b"".join(chunks)


def _count(inbox: WebhookInbox | None, result: str) -> None:
    if inbox is not None:
        inbox.results[result] += 1


async def _answer(send: Send, status: int, reason: str, *, allow: bytes | None = None) -> None:
    body = json.dumps({"status": reason}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if allow is not None:
        headers.append((b"allow", allow))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
