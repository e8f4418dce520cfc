"""Deliver one Kafka record to one citizen: decode, word, send with bounded retries, or park it."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

import structlog
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

from bridge.errors import (
    DeliveryError,
    InvalidEventError,
    InvalidEventReason,
    MessageRejectedError,
    RecipientUnreachableError,
    RetryableDeliveryError,
)
from bridge.events import CaseStateEvent, parse_event
from bridge.mapping import CitizenMessage, MessageContext, render_message
from bridge.masking import pseudonymise

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

    from bridge.zalo import SendReceipt

__all__ = [
    "DeadLetterSink",
    "Deliverer",
    "DeliveryOutcome",
    "DeliveryPolicy",
    "DeliveryStatus",
    "InboundRecord",
    "MessageSender",
]

_log = structlog.stdlib.get_logger("bridge.delivery")


@dataclass(frozen=True, slots=True)
class InboundRecord:
    """A Kafka record exactly as it arrived: value and header bytes untouched."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: Sequence[tuple[str, bytes]] = ()
    timestamp_ms: int | None = None


class MessageSender(Protocol):
    """Sends a text to a Zalo user; ``bridge.zalo.ZaloClient`` is the production one."""

    async def send_text(self, user_id: str, text: str) -> SendReceipt:
        """Send ``text`` to ``user_id`` and return Zalo's receipt, or raise a ``DeliveryError``."""
        ...


class DeadLetterSink(Protocol):
    """Keeps records bridge cannot understand, with the reason, for people to look at."""

    async def dead_letter(self, record: InboundRecord, error: InvalidEventError) -> None:
        """Store ``record`` durably with ``error``; return only once it is stored."""
        ...


class DeliveryStatus(StrEnum):
    """What became of one input event."""

    DELIVERED = "delivered"
    FAILED = "failed"
    SUPPRESSED = "suppressed"
    DEAD_LETTERED = "dead_lettered"


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """The final word on one input record; the offset may be committed once it exists."""

    status: DeliveryStatus
    reason: str | None = None
    message_id: str | None = None
    attempts: int = 0
    template_version: str | None = None
    event: CaseStateEvent | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How hard to try one record before handing it back to the broker.

    Args:
        max_attempts: Sends per record, the first included.
        initial_backoff: First wait between attempts, in seconds; it doubles, with jitter.
        max_backoff: Longest wait between two attempts.
        budget: Longest time one record may spend in retries.
    """

    max_attempts: int = 5
    initial_backoff: float = 0.5
    max_backoff: float = 30.0
    budget: float = 120.0


class Deliverer:
    """The use case: one record in, one ``DeliveryOutcome`` out, or an exception to retry later.

    A record that cannot be decoded is dead-lettered. A decoded event is worded, and sent to
    the citizen with bounded retries of transient failures. Failures that say the citizen cannot
    be reached, or that Zalo refuses the message, end in ``FAILED``.

    Raises from ``handle``: ``RetryableDeliveryError`` when the retries ran out, ``TokenError``
    and ``AccountError`` when nothing can be sent until the token or the account is fixed. The
    caller must then not commit the record, so that it is delivered again later.

    Args:
        sender: Where messages go.
        dead_letters: Where undecodable records go.
        context: The province's wording settings.
        policy: Retry bounds.
        max_event_bytes: Larger records are dead-lettered unparsed.
        sleep: Awaited between attempts; tests pass a fake.
    """

    def __init__(  # noqa: PLR0913 - these are the use case's collaborators, all keyword-only
        self,
        *,
        sender: MessageSender,
        dead_letters: DeadLetterSink,
        context: MessageContext,
        policy: DeliveryPolicy,
        max_event_bytes: int,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._sender = sender
        self._dead_letters = dead_letters
        self._context = context
        self._policy = policy
        self._max_event_bytes = max_event_bytes
        self._sleep = sleep

    async def handle(self, record: InboundRecord) -> DeliveryOutcome:
        """Deliver ``record``; see the class docstring for what it guarantees and raises."""
        started = time.perf_counter()
        log = _log.bind(topic=record.topic, partition=record.partition, offset=record.offset)
        try:
            event, message = self._understand(record)
        except InvalidEventError as error:
            await self._dead_letters.dead_letter(record, error)
            log.warning("event dead-lettered", reason=error.reason.value, detail=error.detail)
            return DeliveryOutcome(DeliveryStatus.DEAD_LETTERED, reason=error.reason.value)
        log = log.bind(event_id=str(event.event_id), case_code=event.case.code)
        outcome = await self._deliver(event, message, log)
        log.info(
            "event handled",
            status=outcome.status.value,
            reason=outcome.reason,
            message_id=outcome.message_id,
            attempts=outcome.attempts,
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
        )
        return outcome

    def _understand(self, record: InboundRecord) -> tuple[CaseStateEvent, CitizenMessage | None]:
        event = parse_event(record.value, max_bytes=self._max_event_bytes)
        try:
            return event, render_message(event, self._context)
        except Exception as exc:
            # A wording bug must not block the partition: park the record with the reason.
            raise InvalidEventError(
                InvalidEventReason.PROCESSING_ERROR, f"cannot word the message: {exc!r}"
            ) from exc

    async def _deliver(
        self,
        event: CaseStateEvent,
        message: CitizenMessage | None,
        log: structlog.stdlib.BoundLogger,
    ) -> DeliveryOutcome:
        if message is None:
            return DeliveryOutcome(
                DeliveryStatus.SUPPRESSED, reason="not_citizen_news", event=event
            )
        recipient = event.recipient
        if not recipient.notify_consent:
            return DeliveryOutcome(
                DeliveryStatus.SUPPRESSED,
                reason="no_consent",
                template_version=message.template_version,
                event=event,
            )
        if recipient.zalo_user_id is None:
            return DeliveryOutcome(
                DeliveryStatus.FAILED,
                reason="unreachable:no_zalo_user_id",
                template_version=message.template_version,
                event=event,
            )
        user_id = recipient.zalo_user_id
        attempts = 0
        try:
            async for attempt in self._retrying(log.bind(recipient=pseudonymise(user_id))):
                with attempt:
                    attempts = attempt.retry_state.attempt_number
                    receipt = await self._sender.send_text(user_id, message.text)
        except (RecipientUnreachableError, MessageRejectedError) as error:
            kind = "unreachable" if isinstance(error, RecipientUnreachableError) else "rejected"
            return DeliveryOutcome(
                DeliveryStatus.FAILED,
                reason=f"{kind}:{error.code if error.code is not None else error}",
                attempts=attempts,
                template_version=message.template_version,
                event=event,
            )
        return DeliveryOutcome(
            DeliveryStatus.DELIVERED,
            message_id=receipt.message_id,
            attempts=attempts,
            template_version=message.template_version,
            event=event,
        )

    def _retrying(self, log: structlog.stdlib.BoundLogger) -> AsyncRetrying:
        policy = self._policy

        def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            log.warning(
                "send failed, retrying",
                attempt=state.attempt_number,
                error=str(error),
                code=error.code if isinstance(error, DeliveryError) else None,
                wait_s=round(state.upcoming_sleep, 2),
            )

        return AsyncRetrying(
            stop=stop_after_attempt(policy.max_attempts) | stop_after_delay(policy.budget),
            wait=wait_exponential_jitter(
                multiplier=policy.initial_backoff,
                max=policy.max_backoff,
                jitter=policy.initial_backoff,
            ),
            retry=retry_if_exception_type(RetryableDeliveryError),
            before_sleep=before_sleep,
            sleep=self._sleep,
            reraise=True,
        )
