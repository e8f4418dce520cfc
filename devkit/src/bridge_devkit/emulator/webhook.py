"""The webhook outbox (reference §7): signed OA events, their delivery attempts and retry schedule.

An event is signed once, when it is created: the header is
`X-ZEvent-Signature: mac=<sha256 hex of first_term + raw_body + timestamp + secret>` where, by
default, `first_term` is the app id and `secret` the OA secret key (both choices are UNCERTAIN
in the reference and configurable). Every attempt sends the same bytes and signature.

An attempt succeeds when the receiver answers HTTP 200 within `timeout_s` (2 s). After a failed
attempt the event is retried 30 s, 5 min, 15 min, 30 min and 1 h later (each delay counted from
the previous failure), with the header `num_retry: <n>`. When the last retry fails, the webhook
is switched off, a warning for the OA admin is recorded, and the events still waiting are
dropped. Events created while the webhook is off (or has no URL) are recorded but never sent.

This module decides *what* to send and *when*; `webhook_delivery` does the HTTP.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "RETRY_DELAYS_S",
    "SIGNATURE_HEADER",
    "DeliveryAttempt",
    "DeliveryRequest",
    "EventStatus",
    "SignatureFirstTerm",
    "SignatureSecret",
    "WebhookConfig",
    "WebhookEvent",
    "WebhookIdentity",
    "WebhookOutbox",
    "WebhookSettings",
    "WebhookWarning",
    "compact_json",
    "signature",
]

SIGNATURE_HEADER: Final = "X-ZEvent-Signature"
"""The header carrying the event's signature (reference §7.2)."""

RETRY_HEADER: Final = "num_retry"
"""The header numbering a retry, from 1 (reference §7.1)."""

RETRY_DELAYS_S: Final = (30.0, 300.0, 900.0, 1_800.0, 3_600.0)
"""Zalo's retry schedule: 30 s → 5 min → 15 min → 30 min → 1 h (reference §7.1)."""

DELIVERY_TIMEOUT_S: Final = 2.0
"""A receiver must answer HTTP 200 within 2 s (reference §7.1)."""


class SignatureFirstTerm(StrEnum):
    """Which id starts the signed string (UNCERTAIN: app id per most sources)."""

    APP_ID = "app_id"
    OA_ID = "oa_id"


class SignatureSecret(StrEnum):
    """Which secret ends the signed string (UNCERTAIN: the OA secret key per most sources)."""

    OA_SECRET_KEY = "oa_secret_key"  # noqa: S105 - which secret, not the secret
    APP_SECRET = "app_secret"  # noqa: S105 - which secret, not the secret


class EventStatus(StrEnum):
    """Where an event is in its delivery."""

    PENDING = "pending"  # waiting for its first attempt
    RETRYING = "retrying"  # an attempt failed; the next one is scheduled
    DELIVERED = "delivered"
    FAILED = "failed"  # the last retry failed (the webhook was switched off)
    DROPPED = "dropped"  # was waiting when the webhook was switched off
    NOT_SENT = "not_sent"  # created while the webhook was off or had no URL


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    """The webhook knobs an emulator starts with.

    Attributes:
        url: Where events are POSTed; None sends nothing.
        enabled: Whether events are sent to `url`.
        signature_first_term: The id starting the signed string.
        signature_secret: The secret ending the signed string.
        mac_prefix: Whether the header value starts with `mac=`.
        auto_receipts: Whether an accepted message is followed by a `user_received_message`.
        receipt_delay_s: How long after the message that receipt is due.
        timeout_s: How long an attempt waits for the answer.
        retry_delays_s: The delay before each retry.
        auto_deliver: Whether the emulator delivers due events by itself (first attempts of
            receipts, retries); None means yes with the real clock and no with a manual clock
            (tests then call `POST /_emulator/webhook/run-due`).
    """

    url: str | None = None
    enabled: bool = True
    signature_first_term: SignatureFirstTerm = SignatureFirstTerm.APP_ID
    signature_secret: SignatureSecret = SignatureSecret.OA_SECRET_KEY
    mac_prefix: bool = True
    auto_receipts: bool = False
    receipt_delay_s: float = 0.0
    timeout_s: float = DELIVERY_TIMEOUT_S
    retry_delays_s: tuple[float, ...] = RETRY_DELAYS_S
    auto_deliver: bool | None = None


@dataclass(slots=True)
class WebhookSettings:
    """The webhook knobs as they are now (`PUT /_emulator/webhook`), and why it is off."""

    url: str | None
    enabled: bool
    signature_first_term: SignatureFirstTerm
    signature_secret: SignatureSecret
    mac_prefix: bool
    auto_receipts: bool
    receipt_delay_s: float
    timeout_s: float
    retry_delays_s: tuple[float, ...]
    auto_deliver: bool
    disabled_reason: str | None = None
    disabled_at: float | None = None

    @classmethod
    def from_config(cls, config: WebhookConfig, *, auto_deliver: bool) -> WebhookSettings:
        """Take the initial values from `config`; `auto_deliver` resolves its None."""
        return cls(
            url=config.url,
            enabled=config.enabled,
            signature_first_term=config.signature_first_term,
            signature_secret=config.signature_secret,
            mac_prefix=config.mac_prefix,
            auto_receipts=config.auto_receipts,
            receipt_delay_s=config.receipt_delay_s,
            timeout_s=config.timeout_s,
            retry_delays_s=tuple(config.retry_delays_s),
            auto_deliver=auto_deliver if config.auto_deliver is None else config.auto_deliver,
        )

    @property
    def active(self) -> bool:
        """Whether new events are sent."""
        return self.enabled and self.url is not None


@dataclass(frozen=True, slots=True)
class WebhookIdentity:
    """The ids and secrets that sign events."""

    app_id: str
    oa_id: str
    app_secret: str
    oa_secret_key: str


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    """One POST of an event to the webhook.

    Attributes:
        number: 0 for the first attempt, n for the n-th retry (sent with `num_retry: n`).
        url: Where it was sent.
        at: When it started, in epoch seconds (the emulator's clock).
        http_status: The receiver's HTTP status; None if there was no answer.
        error: Why it failed without an answer (`timeout`, a connection error), if it did.
        duration_ms: Real time the attempt took.
    """

    number: int
    url: str
    at: float
    http_status: int | None
    error: str | None
    duration_ms: float

    @property
    def ok(self) -> bool:
        """Whether the receiver took the event (HTTP 200)."""
        return self.http_status == 200  # noqa: PLR2004 - Zalo wants exactly 200


@dataclass(frozen=True, slots=True)
class WebhookWarning:
    """A warning Zalo would send the OA admin (the webhook was switched off)."""

    at: float
    text: str


@dataclass(frozen=True, slots=True)
class DeliveryRequest:
    """What one attempt sends: URL, bytes and headers."""

    url: str
    body: bytes
    headers: dict[str, str]
    number: int
    timeout_s: float


@dataclass(slots=True)
class WebhookEvent:
    """One event the OA sends to the app's webhook.

    Attributes:
        seq: Creation order, from 1, never reused.
        event_name: e.g. `user_send_text`.
        user_id: The user the event is about.
        payload: The JSON payload.
        body: The exact body sent (compact JSON, UTF-8).
        signature: The `X-ZEvent-Signature` header value.
        headers: Extra headers (e.g. `X-ZEvent-Server: ZNS`).
        created_at: Epoch seconds.
        status: Where it is in its delivery.
        next_attempt_at: When the next attempt is due, if one is.
        attempts: The attempts so far.
        in_flight: Whether an attempt is running.
    """

    seq: int
    event_name: str
    user_id: str | None
    payload: dict[str, object]
    body: str
    signature: str
    headers: dict[str, str]
    created_at: float
    status: EventStatus
    next_attempt_at: float | None
    attempts: list[DeliveryAttempt] = field(default_factory=list)
    in_flight: bool = False


def compact_json(payload: Mapping[str, object]) -> str:
    """Serialise `payload` as Zalo does: compact JSON, non-ASCII text as is (UNCERTAIN)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def signature(first_term: str, raw_body: str, timestamp: str, secret: str) -> str:
    """Return sha256(first_term + raw_body + timestamp + secret) as lowercase hex (not HMAC)."""
    return hashlib.sha256(f"{first_term}{raw_body}{timestamp}{secret}".encode()).hexdigest()


class WebhookOutbox:
    """The events the OA produced, and the state of their delivery."""

    __slots__ = ("_events", "_identity", "_seq", "_waiting", "settings", "warnings")

    def __init__(
        self,
        identity: WebhookIdentity,
        settings: WebhookSettings,
        max_events: int | None = None,
    ) -> None:
        """Create an empty outbox signing with `identity`, keeping at most `max_events`."""
        self._identity = identity
        self.settings = settings
        self._events: deque[WebhookEvent] = deque(maxlen=max_events)
        self._waiting: dict[int, WebhookEvent] = {}  # by seq: the events with an attempt ahead
        self._seq = itertools.count(1)
        self.warnings: list[WebhookWarning] = []

    def add(
        self,
        payload: dict[str, object],
        now: float,
        *,
        user_id: str | None,
        delay_s: float = 0.0,
        headers: Mapping[str, str] | None = None,
    ) -> WebhookEvent:
        """Sign `payload` and queue it, due `delay_s` after `now` (not sent if inactive)."""
        body = compact_json(payload)
        settings = self.settings
        ids = self._identity
        first = (
            ids.app_id if settings.signature_first_term is SignatureFirstTerm.APP_ID else ids.oa_id
        )
        secret = (
            ids.oa_secret_key
            if settings.signature_secret is SignatureSecret.OA_SECRET_KEY
            else ids.app_secret
        )
        mac = signature(first, body, str(payload.get("timestamp", "")), secret)
        active = settings.active
        event = WebhookEvent(
            seq=next(self._seq),
            event_name=str(payload.get("event_name", "")),
            user_id=user_id,
            payload=payload,
            body=body,
            signature=f"mac={mac}" if settings.mac_prefix else mac,
            headers=dict(headers or {}),
            created_at=now,
            status=EventStatus.PENDING if active else EventStatus.NOT_SENT,
            next_attempt_at=now + delay_s if active else None,
        )
        self._events.append(event)
        if active:
            self._waiting[event.seq] = event
        return event

    def due(self, now: float) -> list[WebhookEvent]:
        """Return the events whose next attempt is due at `now` and not running, oldest first."""
        if not self.settings.active:
            return []
        return [
            event
            for event in self._waiting.values()
            if event.next_attempt_at is not None
            and event.next_attempt_at <= now
            and not event.in_flight
        ]

    def claim(self, event: WebhookEvent) -> DeliveryRequest | None:
        """Start an attempt of `event` (None if it is not waiting, running, or the hook is off)."""
        settings = self.settings
        if (
            event.in_flight
            or event.status not in {EventStatus.PENDING, EventStatus.RETRYING}
            or not settings.active
            or settings.url is None
        ):
            return None
        event.in_flight = True
        number = len(event.attempts)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: event.signature,
            **event.headers,
        }
        if number > 0:
            headers[RETRY_HEADER] = str(number)
        return DeliveryRequest(
            url=settings.url,
            body=event.body.encode("utf-8"),
            headers=headers,
            number=number,
            timeout_s=settings.timeout_s,
        )

    def finish(self, event: WebhookEvent, attempt: DeliveryAttempt, now: float) -> None:
        """Record `attempt` of `event`, ended at `now`, and schedule what comes next."""
        event.in_flight = False
        event.attempts.append(attempt)
        if attempt.ok:
            event.status = EventStatus.DELIVERED
            event.next_attempt_at = None
            self._waiting.pop(event.seq, None)
            return
        if event.status not in {EventStatus.PENDING, EventStatus.RETRYING}:
            return  # dropped while the attempt ran
        retries_done = len(event.attempts) - 1
        delays = self.settings.retry_delays_s
        if retries_done < len(delays):
            event.status = EventStatus.RETRYING
            event.next_attempt_at = now + delays[retries_done]
            return
        event.status = EventStatus.FAILED
        event.next_attempt_at = None
        self._waiting.pop(event.seq, None)
        self._switch_off(event, now)

    def enable(self) -> None:
        """Switch the webhook on again, forgetting why it was off."""
        self.settings.enabled = True
        self.settings.disabled_reason = None
        self.settings.disabled_at = None

    def events(
        self, *, event_name: str | None = None, status: EventStatus | None = None
    ) -> list[WebhookEvent]:
        """Return the events (of `event_name`, in `status`, if given), oldest first."""
        return [
            event
            for event in self._events
            if (event_name is None or event.event_name == event_name)
            and (status is None or event.status is status)
        ]

    def clear(self) -> int:
        """Forget every event and warning; return how many events there were."""
        count = len(self._events)
        self._events.clear()
        self._waiting.clear()
        self.warnings.clear()
        return count

    def has_waiting(self) -> bool:
        """Whether any event still has an attempt ahead."""
        return bool(self._waiting)

    def _switch_off(self, failed: WebhookEvent, now: float) -> None:
        reason = (
            f"event {failed.seq} ({failed.event_name}) failed after {len(failed.attempts)} attempts"
        )
        settings = self.settings
        settings.enabled = False
        settings.disabled_reason = reason
        settings.disabled_at = now
        self.warnings.append(WebhookWarning(at=now, text=f"webhook switched off: {reason}"))
        for event in self._waiting.values():
            event.status = EventStatus.DROPPED
            event.next_attempt_at = None
        self._waiting.clear()
