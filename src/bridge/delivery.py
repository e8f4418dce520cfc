"""Deliver one Kafka record to one citizen, once: decode, word, claim, send, settle."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

from bridge.errors import (
    AccountError,
    DeliveryError,
    DeliveryInDoubtError,
    InvalidEventError,
    InvalidEventReason,
    MessageRejectedError,
    RecipientUnreachableError,
    RetryableDeliveryError,
    TokenError,
)
from bridge.events import CaseStateEvent, parse_event
from bridge.ledger import ClaimResult, SettledStatus, Settlement
from bridge.logs import get_logger
from bridge.masking import mask_text, pseudonymise
from bridge.status import DeliveryStatus

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

    from structlog.typing import FilteringBoundLogger

    from bridge.flow import CircuitBreaker
    from bridge.ledger import Ledger, LedgerEntry
    from bridge.mapping import CitizenMessage
    from bridge.zalo import SendReceipt

__all__ = [
    "CHANNEL",
    "Deliverer",
    "DeliveryOutcome",
    "DeliveryPolicy",
    "DeliveryStatus",
    "InboundRecord",
    "MessageRenderer",
    "MessageSender",
    "RateLimiter",
]

CHANNEL = "zalo_cs"
GENERIC_SEND_FAILURE = -200
"""Zalo's "Send message failed": retried once, then the message is parked."""

_log = get_logger("bridge.delivery")


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
    """Sends texts to Zalo users; ``bridge.zalo.ZaloClient`` is the production one."""

    async def send_text(self, user_id: str, text: str) -> SendReceipt:
        """Send ``text`` to ``user_id`` and return Zalo's receipt, or raise a ``DeliveryError``."""
        ...

    async def find_sent(self, user_id: str, text: str, *, since: float) -> str | None:
        """Return the message id of ``text`` if it reached ``user_id`` after ``since``."""
        ...


class MessageRenderer(Protocol):
    """Words the citizen's message for an event (``bridge.mapping.BuiltinRenderer`` fits)."""

    def render(self, event: CaseStateEvent) -> CitizenMessage | None:
        """The message about ``event``, or None when the event is not news for the citizen."""
        ...


class RateLimiter(Protocol):
    """Paces calls to Zalo (``aiolimiter.AsyncLimiter`` fits)."""

    async def acquire(self, amount: float = 1) -> None:
        """Return when one more call may go out."""
        ...


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """The final word on one input record; its offset may be committed once it exists."""

    status: DeliveryStatus
    reason: str | None = None
    message_id: str | None = None
    attempts: int = 0
    template_version: str | None = None
    event: CaseStateEvent | None = field(default=None, repr=False)
    dead_letter: InvalidEventError | None = None
    history: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How hard to try, and how to treat a send whose answer was lost.

    Args:
        max_attempts: Sends per round before the case rests for ``pause``.
        initial_backoff: First wait between sends of a round, in seconds; it doubles, jittered.
        max_backoff: Longest wait between two sends.
        budget: Longest time one round may take.
        pause: Rest between rounds, and while another replica holds the delivery.
        lease: How long a claim is held; longer than the HTTP timeout.
        in_doubt: ``reconcile`` (read the conversation back) or ``resend_after_hold``.
        in_doubt_settle: Wait before reading the conversation back.
        in_doubt_hold: Wait before resending, for ``resend_after_hold``.
    """

    max_attempts: int = 5
    initial_backoff: float = 0.5
    max_backoff: float = 30.0
    budget: float = 120.0
    pause: float = 15.0
    lease: float = 30.0
    in_doubt: Literal["reconcile", "resend_after_hold"] = "reconcile"
    in_doubt_settle: float = 3.0
    in_doubt_hold: float = 300.0


class _TryLater(Exception):  # noqa: N818 - control flow inside this module, never escapes it
    """Nothing can be settled now; rest ``seconds`` and start the round again."""

    def __init__(self, seconds: float, why: str) -> None:
        super().__init__(why)
        self.seconds = seconds
        self.why = why


class _NotSent(Exception):  # noqa: N818 - control flow inside this module, never escapes it
    """A send failed before anything reached Zalo: retry within the round."""


class Deliverer:
    """The use case: one record in, one ``DeliveryOutcome`` out, never twice to Zalo.

    ``handle`` returns only when the record's outcome is final; until then it keeps the record,
    resting between rounds, so an outage, a refused token or a disabled OA loses nothing and
    dead-letters nothing. Before every send it claims the delivery in the ledger (keyed by event
    and channel): a delivery settled before (redelivery, replay, duplicate publish) is not sent
    again; one whose answer was lost is reconciled before anything is resent; an event older than
    the case's last delivered one is suppressed as stale.

    Args:
        sender: Where messages go.
        ledger: What was sent.
        renderer: Words the messages.
        policy: Retry and in-doubt settings.
        max_event_bytes: Larger records are dead-lettered unparsed.
        owner: This process's identity in the ledger.
        breaker: Holds sends back while Zalo keeps failing.
        limiter: Paces sends (None: no limit).
        clock: Wall-clock seconds (ledger times).
        sleep: Awaited for every wait; tests pass a fake.
    """

    def __init__(  # noqa: PLR0913 - the use case's collaborators, all keyword-only
        self,
        *,
        sender: MessageSender,
        ledger: Ledger,
        renderer: MessageRenderer,
        policy: DeliveryPolicy,
        max_event_bytes: int,
        owner: str,
        breaker: CircuitBreaker,
        limiter: RateLimiter | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._sender = sender
        self._ledger = ledger
        self._renderer = renderer
        self._policy = policy
        self._max_event_bytes = max_event_bytes
        self._owner = owner
        self._breaker = breaker
        self._limiter = limiter
        self._clock = clock
        self._sleep = sleep

    async def handle(self, record: InboundRecord) -> DeliveryOutcome:
        """Settle ``record``; see the class docstring for what it guarantees."""
        started = time.perf_counter()
        log = _log.bind(topic=record.topic, partition=record.partition, offset=record.offset)
        try:
            event, message = self._understand(record)
        except InvalidEventError as error:
            log.warning("event dead-lettered", reason=error.reason.value, detail=error.detail)
            return DeliveryOutcome(
                DeliveryStatus.DEAD_LETTERED, reason=error.reason.value, dead_letter=error
            )
        log = log.bind(event_id=str(event.event_id), case_code=event.case.code)
        outcome = self._without_sending(event, message)
        if outcome is None:
            assert message is not None  # noqa: S101 - _without_sending settles the None case
            outcome = await self._until_settled(event, message, log)
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
            return event, self._renderer.render(event)
        except Exception as exc:
            # A wording bug must not block the partition: park the record with the reason.
            raise InvalidEventError(
                InvalidEventReason.PROCESSING_ERROR, f"cannot word the message: {exc!r}"
            ) from exc

    @staticmethod
    def _without_sending(
        event: CaseStateEvent, message: CitizenMessage | None
    ) -> DeliveryOutcome | None:
        """The outcomes decided by the event alone, or None when a send is needed."""
        if message is None:
            return DeliveryOutcome(
                DeliveryStatus.SUPPRESSED, reason="not_citizen_news", event=event
            )
        version = message.template_version
        if not event.recipient.notify_consent:
            return DeliveryOutcome(
                DeliveryStatus.SUPPRESSED,
                reason="no_consent",
                template_version=version,
                event=event,
            )
        if event.recipient.zalo_user_id is None:
            return DeliveryOutcome(
                DeliveryStatus.FAILED,
                reason="unreachable:no_zalo_user_id",
                template_version=version,
                event=event,
            )
        return None

    async def _until_settled(
        self, event: CaseStateEvent, message: CitizenMessage, log: FilteringBoundLogger
    ) -> DeliveryOutcome:
        while True:
            try:
                return await self._round(event, message, log)
            except _TryLater as later:
                log.warning("delivery postponed", why=later.why, rest_s=round(later.seconds, 2))
                await self._sleep(later.seconds)
            except Exception:
                log.exception("unexpected error; the event is kept and tried again")
                await self._sleep(self._policy.pause)

    async def _round(
        self, event: CaseStateEvent, message: CitizenMessage, log: FilteringBoundLogger
    ) -> DeliveryOutcome:
        """One round of sends, bounded by the policy; raises ``_TryLater`` to rest."""
        policy = self._policy
        history: list[str] = []

        def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            log.warning("send failed, retrying", attempt=state.attempt_number, error=str(error))

        retrying = AsyncRetrying(
            stop=stop_after_attempt(policy.max_attempts) | stop_after_delay(policy.budget),
            wait=wait_exponential_jitter(
                multiplier=policy.initial_backoff,
                max=policy.max_backoff,
                jitter=policy.initial_backoff,
            ),
            retry=retry_if_exception(lambda error: isinstance(error, _NotSent)),
            before_sleep=before_sleep,
            sleep=self._sleep,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._attempt(event, message, history)
        except _NotSent as exhausted:
            raise _TryLater(policy.pause, f"retries exhausted: {exhausted}") from exhausted
        raise AssertionError  # pragma: no cover - AsyncRetrying either returns or raises

    async def _attempt(
        self, event: CaseStateEvent, message: CitizenMessage, history: list[str]
    ) -> DeliveryOutcome:
        """Claim, and send once if the ledger says so."""
        await self._breaker.before_call()
        if self._limiter is not None:
            await self._limiter.acquire()
        key = f"{event.event_id}/{CHANNEL}"
        user_id = event.recipient.zalo_user_id
        assert user_id is not None  # noqa: S101 - checked in _without_sending
        claim = await self._ledger.claim(
            key,
            event_id=str(event.event_id),
            case_code=event.case.code,
            sequence=event.sequence,
            owner=self._owner,
            now=self._clock(),
            lease_seconds=self._policy.lease,
        )
        match claim.result:
            case ClaimResult.SETTLED:
                return self._from_ledger(claim.entry, event, message)
            case ClaimResult.STALE:
                return DeliveryOutcome(
                    DeliveryStatus.SUPPRESSED,
                    reason="stale",
                    template_version=message.template_version,
                    event=event,
                )
            case ClaimResult.BUSY:
                wait = (claim.entry.lease_until or 0) - self._clock()
                raise _TryLater(
                    max(0.1, min(wait, self._policy.pause)), "another replica is sending"
                )
            case ClaimResult.IN_DOUBT:
                resolved = await self._resolve_in_doubt(key, claim.entry, event, message, user_id)
                if isinstance(resolved, DeliveryOutcome):
                    return resolved
                attempts = resolved
            case ClaimResult.CLAIMED:
                attempts = claim.entry.attempts
        return await self._send(
            key, event, message, user_id=user_id, attempts=attempts, history=history
        )

    async def _send(  # noqa: PLR0913 - one send needs all of these
        self,
        key: str,
        event: CaseStateEvent,
        message: CitizenMessage,
        *,
        user_id: str,
        attempts: int,
        history: list[str],
    ) -> DeliveryOutcome:
        ledger, now = self._ledger, self._clock
        try:
            receipt = await self._sender.send_text(user_id, message.text)
        except DeliveryInDoubtError as error:
            history.append(f"in doubt: {error}")
            self._breaker.failure("no answer from Zalo")
            await ledger.mark_in_doubt(key, now=now())
            raise _TryLater(self._in_doubt_wait(), f"in doubt: {error}") from error
        except (TokenError, AccountError) as error:
            history.append(str(error))
            await ledger.release(key, now=now())
            self._breaker.trip(f"Zalo error {error.code}: {error}")
            raise _TryLater(self._policy.pause, f"blocked: {error}") from error
        except RetryableDeliveryError as error:
            if error.code == GENERIC_SEND_FAILURE and any(
                h.startswith(f"Zalo error {GENERIC_SEND_FAILURE}:") for h in history
            ):
                # "Send message failed" twice for the same message: Zalo will not take it.
                history.append(str(error))
                self._breaker.success()
                rejected = MessageRejectedError(str(error), code=error.code)
                return await self._settle_refusal(
                    key, event, message, error=rejected, attempts=attempts, history=history
                )
            history.append(str(error))
            await ledger.release(key, now=now())
            self._breaker.failure(str(error))
            raise _NotSent(str(error)) from error
        except (RecipientUnreachableError, MessageRejectedError) as error:
            self._breaker.success()
            history.append(str(error))
            return await self._settle_refusal(
                key, event, message, error=error, attempts=attempts, history=history
            )
        self._breaker.success()
        settlement = Settlement(
            SettledStatus.DELIVERED,
            attempts=attempts,
            zalo_message_id=receipt.message_id,
            template_version=message.template_version,
        )
        await self._settle(key, event, settlement)
        return DeliveryOutcome(
            DeliveryStatus.DELIVERED,
            message_id=receipt.message_id,
            attempts=attempts,
            template_version=message.template_version,
            event=event,
        )

    async def _settle_refusal(  # noqa: PLR0913 - the refusal and its context
        self,
        key: str,
        event: CaseStateEvent,
        message: CitizenMessage,
        *,
        error: DeliveryError,
        attempts: int,
        history: list[str],
    ) -> DeliveryOutcome:
        code = error.code if error.code is not None else "http"
        if isinstance(error, RecipientUnreachableError):
            # The citizen cannot be reached this way; another channel may (a later cascade).
            status, reason = SettledStatus.FAILED, f"unreachable:{code}"
            dead_letter = None
        else:
            # Zalo refuses the message as written: keep it for people, replayable once fixed.
            status, reason = SettledStatus.DEAD_LETTERED, f"rejected:{code}"
            dead_letter = InvalidEventError(InvalidEventReason.ZALO_REJECTED, mask_text(str(error)))
        settlement = Settlement(
            status, attempts=attempts, reason=reason, template_version=message.template_version
        )
        await self._settle(key, event, settlement)
        return DeliveryOutcome(
            DeliveryStatus(status.value),
            reason=reason,
            attempts=attempts,
            template_version=message.template_version,
            event=event,
            dead_letter=dead_letter,
            history=tuple(history),
        )

    async def _settle(self, key: str, event: CaseStateEvent, settlement: Settlement) -> None:
        await self._ledger.settle(
            key,
            settlement,
            case_code=event.case.code,
            sequence=event.sequence,
            now=self._clock(),
        )

    def _in_doubt_wait(self) -> float:
        policy = self._policy
        return policy.in_doubt_settle if policy.in_doubt == "reconcile" else policy.in_doubt_hold

    async def _resolve_in_doubt(
        self,
        key: str,
        entry: LedgerEntry,
        event: CaseStateEvent,
        message: CitizenMessage,
        user_id: str,
    ) -> DeliveryOutcome | int:
        """Decide about a send that may have happened: settled if found, else reclaimed to resend.

        Returns:
            The outcome when the message is found in the conversation, else the attempt count of
            the reclaimed delivery.
        """
        now = self._clock()
        since = entry.in_doubt_since or now
        wait = since + self._in_doubt_wait() - now
        if wait > 0:
            raise _TryLater(wait, "in doubt, waiting before deciding")
        if self._policy.in_doubt == "reconcile":
            started = entry.first_attempt_at or since
            try:
                found = await self._sender.find_sent(user_id, message.text, since=started - 60)
            except DeliveryError as error:
                raise _TryLater(self._policy.pause, f"cannot reconcile: {error}") from error
            if found is not None:
                _log.info(
                    "in-doubt send found in the conversation",
                    event_id=str(event.event_id),
                    message_id=found,
                    recipient=pseudonymise(user_id),
                )
                settlement = Settlement(
                    SettledStatus.DELIVERED,
                    attempts=entry.attempts,
                    zalo_message_id=found,
                    template_version=message.template_version,
                )
                await self._settle(key, event, settlement)
                return DeliveryOutcome(
                    DeliveryStatus.DELIVERED,
                    reason="reconciled",
                    message_id=found,
                    attempts=entry.attempts,
                    template_version=message.template_version,
                    event=event,
                )
        attempts = await self._ledger.reclaim(
            key, owner=self._owner, now=self._clock(), lease_seconds=self._policy.lease
        )
        if attempts is None:
            raise _TryLater(0.1, "another replica took the in-doubt delivery")
        return attempts

    @staticmethod
    def _from_ledger(
        entry: LedgerEntry, event: CaseStateEvent, message: CitizenMessage
    ) -> DeliveryOutcome:
        """A delivery settled before: report the same outcome, send nothing."""
        dead_letter = None
        if entry.status == SettledStatus.DEAD_LETTERED.value:
            dead_letter = InvalidEventError(
                InvalidEventReason.ZALO_REJECTED, entry.reason or "rejected by Zalo"
            )
        return DeliveryOutcome(
            DeliveryStatus(entry.status),
            reason=entry.reason,
            message_id=entry.zalo_message_id,
            attempts=entry.attempts,
            template_version=entry.template_version or message.template_version,
            event=event,
            dead_letter=dead_letter,
        )
