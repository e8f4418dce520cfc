"""Deliver one Kafka record to its citizens once: decode, word, claim, send, settle each step."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

from bridge.case_kinds.contract import parse_case_event
from bridge.delivery.cascade import (
    CascadeConfig,
    Recipients,
    Step,
    document_key,
    phone_step,
    recipients_of,
    user_steps,
)
from bridge.delivery.faults import OutageWatch, backoff, infrastructure_of
from bridge.delivery.ledger import ClaimResult, SettledStatus, Settlement
from bridge.delivery.records import DeliveryOutcome, InboundRecord
from bridge.errors import (
    AccountError,
    DeliveryError,
    DeliveryInDoubtError,
    DocumentNotSendableError,
    InvalidEventError,
    InvalidEventReason,
    MessageRejectedError,
    RecipientUnreachableError,
    RetryableDeliveryError,
    StoreValueError,
    TokenError,
    exception_name,
)
from bridge.observability.logs import get_logger
from bridge.observability.masking import mask_text, pseudonymise
from bridge.status import (
    Channel,
    ChannelDelivery,
    DeliveryStatus,
    DocumentDelivery,
    DocumentOutcome,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping, Sequence

    from structlog.typing import FilteringBoundLogger

    from bridge.delivery.faults import Outage
    from bridge.delivery.flow import CircuitBreaker
    from bridge.delivery.ledger import Ledger, LedgerEntry
    from bridge.events import CaseStateEvent, ResultDocument
    from bridge.wording import CitizenMessage
    from bridge.zalo.client import SendReceipt

__all__ = [
    "CHANNEL",
    "CitizenDirectory",
    "Deliverer",
    "DeliveryPolicy",
    "DeliveryStatus",
    "DocumentPlan",
    "DocumentSender",
    "EmptyDirectory",
    "MessageRenderer",
    "MessageSender",
    "RateLimiter",
    "processing_failed",
]

CHANNEL = Channel.ZALO_CS.value
"""The ledger channel of the consultation text (the first step of the cascade)."""
GENERIC_SEND_FAILURE = -200
"""Zalo's "Send message failed": retried once, then the message is parked."""

_log = get_logger("bridge.delivery")


class MessageSender(Protocol):
    """Sends texts and template messages; ``bridge.zalo.ZaloClient`` is the production one."""

    async def send_text(self, user_id: str, text: str) -> SendReceipt:
        """Send ``text`` to ``user_id`` and return Zalo's receipt, or raise a ``DeliveryError``."""
        ...

    async def find_sent(self, user_id: str, text: str, *, since: float) -> str | None:
        """Return the message id of ``text`` if it reached ``user_id`` after ``since``."""
        ...

    async def send_template(
        self, user_id: str, template_id: str, template_data: Mapping[str, str]
    ) -> SendReceipt:
        """Send a template message to ``user_id``, or raise a ``DeliveryError``."""
        ...

    async def send_template_by_phone(
        self,
        phone: str,
        template_id: str,
        template_data: Mapping[str, str],
        tracking_id: str,
    ) -> SendReceipt:
        """Send a template message to ``phone``, or raise a ``DeliveryError``."""
        ...


class DocumentPlan(Protocol):
    """How one result document goes to one citizen (``bridge.result_documents.Plan``)."""

    @property
    def channel(self) -> Channel: ...  # noqa: D102 - zalo_file or zalo_image

    @property
    def link_reason(self) -> str | None: ...  # noqa: D102 - set when only the link goes


class DocumentSender(Protocol):
    """Sends result documents into the chat (``bridge.result_documents.ZaloDocuments``)."""

    def plan(self, document: ResultDocument, *, window_open: bool) -> DocumentPlan:
        """Decide from the event alone how ``document`` may go (the same on every redelivery)."""
        ...

    async def send(self, user_id: str, document: ResultDocument, channel: Channel) -> SendReceipt:
        """Fetch, check, upload and send; ``DocumentNotSendableError`` when only the link goes."""
        ...

    @property
    def reads_back(self) -> bool:
        """Whether an in-doubt send is looked for in the conversation (else held and resent)."""
        ...

    async def find_sent(  # noqa: PLR0913 - the send's identity and its window, keyword-only
        self,
        user_id: str,
        document: ResultDocument,
        channel: Channel,
        *,
        sent_after: float,
        sent_before: float,
        taken: frozenset[str],
    ) -> str | None:
        """The id of ``document``'s message to ``user_id`` sent within the window, if Zalo shows it.

        ``taken``: ids the other documents of the event to the same user are settled with.
        """
        ...


class CitizenDirectory(Protocol):
    """What bridge knows of the citizens beyond the event (``CitizenStore`` implements it)."""

    async def linked_users(self, case_code: str) -> list[str]:
        """The Zalo users who linked themselves to the dossier through the OA."""
        ...

    async def last_interaction_at(self, user_id: str) -> float | None:
        """When ``user_id`` last interacted with the OA (epoch seconds), or None if unknown."""
        ...


class EmptyDirectory:
    """Nobody linked, no interaction known: every event goes to its own recipient only."""

    async def linked_users(self, case_code: str) -> list[str]:  # noqa: ARG002 - the protocol
        """Nobody."""
        return []

    async def last_interaction_at(self, user_id: str) -> float | None:  # noqa: ARG002 - the protocol
        """Unknown."""
        return None


class MessageRenderer(Protocol):
    """Words the citizen's message for an event (``bridge.wording.BuiltinRenderer`` fits)."""

    def render(self, event: CaseStateEvent) -> CitizenMessage | None:
        """The message about ``event``, or None when the event is not news for the citizen."""
        ...


class RateLimiter(Protocol):
    """Paces calls to Zalo (``aiolimiter.AsyncLimiter`` fits)."""

    async def acquire(self, amount: float = 1) -> None:
        """Return when one more call may go out."""
        ...


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


def _is_not_sent(error: BaseException) -> bool:
    return isinstance(error, _NotSent)


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

    Each event goes through the channel cascade (``bridge.delivery.cascade``): for each recipient
    (the event's Zalo user when it carries consent, and the users linked to the dossier) a CS text,
    then a template by user id, until one channel delivers; when no user was reached, a template
    to the event's phone (with consent); otherwise the event failed as unreachable.

    ``handle`` returns only when the record's outcome is final; until then it keeps the record,
    resting between rounds, so an outage, a refused token or a disabled OA loses nothing and
    dead-letters nothing. A fault of the record itself dead-letters it at once: it cannot be
    decoded or worded, or the ledger refuses its values (``StoreValueError``). An unexpected
    exception (a bug) is tried again up to ``max_tries`` times in all, then the record is
    dead-lettered as ``processing_failed``; a store that cannot be reached is waited out with
    backoff for as long as it lasts (``outage`` holds the consumer meanwhile). Before every
    send it claims the step in the ledger (keyed by event,
    recipient and channel): a step settled before (redelivery, replay, duplicate publish) is not
    sent again and the cascade walks on as it did the first time; one whose answer was lost is
    reconciled (CS texts, result documents) or held (templates) before anything is resent; an event
    older than the case's last delivered one is suppressed as stale.

    Args:
        sender: Where messages go.
        ledger: What was sent.
        renderer: Words the messages.
        policy: Retry and in-doubt settings.
        max_event_bytes: Larger records are dead-lettered unparsed.
        owner: This process's identity in the ledger.
        breaker: Holds sends back while Zalo keeps failing.
        limiter: Paces sends (None: no limit).
        citizens: Linked users and last interactions (default: none known).
        cascade: Channel order and templates per state (default: CS only, as no template id
            is configured).
        clock: Wall-clock seconds (ledger times).
        sleep: Awaited for every wait; tests pass a fake.
        max_tries: Tries of an event whose delivery raises an unexpected exception.
        outage: Holds the consumer while the store cannot be reached.
        documents: Sends a result's documents after the text (None: the links only).
        decode: Reads a record's value (both contracts; the province's time limits).
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
        citizens: CitizenDirectory | None = None,
        cascade: CascadeConfig | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_tries: int = 5,
        outage: Outage | None = None,
        documents: DocumentSender | None = None,
        decode: Callable[..., CaseStateEvent] | None = None,
        delivered_sample: int = 1,
    ) -> None:
        self._delivered_sample = max(1, delivered_sample)
        self._delivered_seen = 0
        self._documents = documents
        self._decode = decode or parse_case_event
        self._max_tries = max(1, max_tries)
        self._outage = outage
        self._sender = sender
        self._ledger = ledger
        self._renderer = renderer
        self._policy = policy
        self._max_event_bytes = max_event_bytes
        self._owner = owner
        self._breaker = breaker
        self._limiter = limiter
        self._citizens = citizens or EmptyDirectory()
        self._cascade = cascade or CascadeConfig()
        self._clock = clock
        self._sleep = sleep
        # The round's stop, wait and retry conditions hold no state: built once, not per round.
        self._retry_parts = (
            stop_after_attempt(policy.max_attempts) | stop_after_delay(policy.budget),
            wait_exponential_jitter(
                multiplier=policy.initial_backoff,
                max=policy.max_backoff,
                jitter=policy.initial_backoff,
            ),
            retry_if_exception(_is_not_sent),
        )

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
        if message is None:
            outcome = DeliveryOutcome(
                DeliveryStatus.SUPPRESSED, reason="not_citizen_news", event=event
            )
        else:
            outcome = await self._until_settled(event, message, log)
        if outcome.status is DeliveryStatus.DELIVERED and self._delivered_sample > 1:
            # Sampled (log.delivered_sample): the line costs ≈ 5 % of the CPU per event.
            self._delivered_seen += 1
            if self._delivered_seen % self._delivered_sample:
                return outcome
        log.info(
            "event handled",
            status=outcome.status.value,
            reason=outcome.reason,
            channel=outcome.channel.value,
            message_id=outcome.message_id,
            attempts=outcome.attempts,
            steps=len(outcome.deliveries),
            documents=len(outcome.documents),
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
        )
        return outcome

    def _understand(self, record: InboundRecord) -> tuple[CaseStateEvent, CitizenMessage | None]:
        try:
            event = self._decode(record.value, max_bytes=self._max_event_bytes)
        except InvalidEventError:
            raise
        except Exception as exc:
            # The decoder refuses with InvalidEventError; anything else is a bug that the same
            # bytes would meet again: park the record with the reason.
            raise _processing_error(f"cannot decode the event: {exception_name(exc)}", exc) from exc
        try:
            return event, self._renderer.render(event)
        except Exception as exc:
            # A wording bug must not block the partition: park the record with the reason.
            raise _processing_error(f"cannot word the message: {exc!r}", exc) from exc

    async def _until_settled(
        self, event: CaseStateEvent, message: CitizenMessage, log: FilteringBoundLogger
    ) -> DeliveryOutcome:
        """Walk the cascade until it settles; see the class docstring for the faults."""
        policy = self._policy
        tries = outages = 0
        with OutageWatch(self._outage) as watch:
            while True:
                try:
                    return await self._cascade_of(event, message, log)
                except _TryLater as later:
                    watch.recovered()
                    outages = 0
                    log.warning("delivery postponed", why=later.why, rest_s=round(later.seconds, 2))
                    await self._sleep(later.seconds)
                except StoreValueError as error:
                    log.warning("the ledger refused the event's values; dead-lettered")
                    cause = error.__cause__ or error
                    return DeliveryOutcome(
                        DeliveryStatus.DEAD_LETTERED,
                        reason=InvalidEventReason.PROCESSING_ERROR.value,
                        event=event,
                        dead_letter=_processing_error(str(error), cause),
                        template_version=message.template_version,
                    )
                except Exception as error:  # sorted here: nothing but an outcome may leave
                    kind = infrastructure_of(error)
                    if kind is not None:
                        outages += 1
                        watch.failed(kind)
                        wait = backoff(outages, initial=policy.initial_backoff, cap=policy.pause)
                        log.warning(
                            "infrastructure unavailable; the event is kept and tried again",
                            infrastructure=kind,
                            error=exception_name(error),
                            rest_s=round(wait, 2),
                        )
                        await self._sleep(wait)
                        continue
                    watch.recovered()
                    outages = 0
                    tries += 1
                    if tries >= self._max_tries:
                        log.exception(
                            "event kept failing; dead-lettered as processing_failed",
                            error=exception_name(error),
                            tries=tries,
                        )
                        return processing_failed(error, tries=tries, event=event)
                    log.exception(
                        "unexpected error; the event is kept and tried again",
                        tries=tries,
                        max_tries=self._max_tries,
                    )
                    await self._sleep(policy.pause)

    async def _cascade_of(
        self, event: CaseStateEvent, message: CitizenMessage, log: FilteringBoundLogger
    ) -> DeliveryOutcome:
        """Walk the cascade; steps settled before are read back from the ledger, not resent."""
        recipients = recipients_of(event, await self._citizens.linked_users(event.case.code))
        version = message.template_version
        if not recipients.users and recipients.phone is None:
            return DeliveryOutcome(
                DeliveryStatus.SUPPRESSED,
                reason="no_consent",
                template_version=version,
                event=event,
            )
        route = self._cascade.route(event.state)
        uses_cs = Channel.ZALO_CS in route.usable()
        done: list[tuple[Step, DeliveryOutcome]] = []
        reached_by: dict[str, Channel] = {}
        for user_id in recipients.users:
            last = await self._citizens.last_interaction_at(user_id) if uses_cs else None
            steps = user_steps(
                event,
                message,
                route,
                recipients,
                user_id,
                last_interaction=last,
                now=self._clock(),
                window_seconds=self._cascade.window_seconds,
            )
            for step in steps:
                outcome = await self._round(event, message, step, log)
                done.append((step, outcome))
                if outcome.status is DeliveryStatus.SUPPRESSED:
                    return _summary(event, message, done)  # stale: the whole event is
                if outcome.status is DeliveryStatus.DELIVERED:
                    reached_by[user_id] = step.channel
                    break
                log.info(
                    "channel did not reach the citizen",
                    channel=step.channel.value,
                    recipient=_who(event, user_id),
                    reason=outcome.reason,
                )
        last_resort = None if reached_by else phone_step(event, message, route)
        if last_resort is not None:
            done.append((last_resort, await self._round(event, message, last_resort, log)))
        if not done:
            reason = "unreachable:no_zalo_user_id" if not recipients.users else "unreachable"
            return DeliveryOutcome(
                DeliveryStatus.FAILED, reason=reason, template_version=version, event=event
            )
        summary = _summary(event, message, done)
        documents = await self._documents_of(event, message, recipients, reached_by, log)
        return dataclasses.replace(summary, documents=documents) if documents else summary

    async def _documents_of(
        self,
        event: CaseStateEvent,
        message: CitizenMessage,
        recipients: Recipients,
        reached_by: Mapping[str, Channel],
        log: FilteringBoundLogger,
    ) -> tuple[DocumentDelivery, ...]:
        """Send the result's documents to each user the text reached, each once (its own step).

        Only Zalo users get documents: the event's own user (with consent) and the users linked
        to the dossier with the second factor; a phone-only recipient never does. A user the
        text reached by template is outside the CS window: she keeps the links of the text.
        """
        result = event.result
        if self._documents is None or result is None or not result.documents:
            return ()
        delivered: list[DocumentDelivery] = []
        for user_id, channel in reached_by.items():
            kind = recipients.kind(user_id)
            if kind == "phone":
                continue
            window_open = channel is Channel.ZALO_CS
            taken: set[str] = set()  # the user's messages this event's documents settled with
            for index, document in enumerate(result.documents):
                plan = self._documents.plan(document, window_open=window_open)
                step = Step(
                    document_key(event, user_id, index, plan.channel),
                    plan.channel,
                    kind,
                    user_id=user_id,
                    skip=plan.link_reason,
                    document=index,
                    taken=frozenset(taken),
                )
                outcome = await self._round(event, message, step, log)
                if outcome.message_id is not None:
                    taken.add(outcome.message_id)
                delivered.append(_document_delivery(step, document, outcome))
        return tuple(delivered)

    async def _round(
        self,
        event: CaseStateEvent,
        message: CitizenMessage,
        step: Step,
        log: FilteringBoundLogger,
    ) -> DeliveryOutcome:
        """One round of sends of one step, bounded by the policy; raises ``_TryLater`` to rest."""
        policy = self._policy
        history: list[str] = []

        def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            log.warning(
                "send failed, retrying",
                channel=step.channel.value,
                attempt=state.attempt_number,
                error=str(error),
            )

        stop, wait, retry = self._retry_parts
        retrying = AsyncRetrying(
            stop=stop,
            wait=wait,
            retry=retry,
            before_sleep=before_sleep,
            sleep=self._sleep,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._attempt(event, message, step, history)
        except _NotSent as exhausted:
            raise _TryLater(policy.pause, f"retries exhausted: {exhausted}") from exhausted
        raise AssertionError  # pragma: no cover - AsyncRetrying either returns or raises

    async def _attempt(
        self, event: CaseStateEvent, message: CitizenMessage, step: Step, history: list[str]
    ) -> DeliveryOutcome:
        """Claim, and send once if the ledger says so."""
        probe = await self._breaker.before_call()
        try:
            decided = await self._claim(event, message, step)
            if isinstance(decided, DeliveryOutcome):
                return decided  # no call to Zalo: the release below lets another probe
            return await self._send(step, event, message, attempts=decided, history=history)
        finally:
            # A probe without a verdict (no call, an unexpected error, cancelled mid-send by a
            # rebalance or a shutdown) must not keep the slot, or no probe would go out again.
            self._breaker.release_probe(probe)

    async def _claim(
        self, event: CaseStateEvent, message: CitizenMessage, step: Step
    ) -> DeliveryOutcome | int:
        """The step's outcome when no send is needed, else the attempt count of the send."""
        if self._limiter is not None and step.skip is None:
            await self._limiter.acquire()
        claim = await self._ledger.claim(
            step.key,
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
                resolved = await self._resolve_in_doubt(step, claim.entry, event, message)
                if isinstance(resolved, DeliveryOutcome):
                    return resolved
                attempts = resolved
            case ClaimResult.CLAIMED:
                attempts = claim.entry.attempts
        if step.skip is not None:
            # Known to be out of reach on this channel: settled without a send, so that a
            # redelivery walks past it the same way. The claim counted a send that is not made.
            return await self._settled(
                step.key,
                event,
                message,
                SettledStatus.FAILED,
                attempts=attempts - 1,
                reason=step.skip,
            )
        return attempts

    async def _transmit(
        self, step: Step, event: CaseStateEvent, message: CitizenMessage
    ) -> SendReceipt:
        """The one call to Zalo that the step stands for."""
        sender = self._sender
        match step.channel:
            case Channel.ZALO_FILE | Channel.ZALO_IMAGE:
                assert step.user_id is not None  # noqa: S101 - document steps carry the user
                assert step.document is not None  # noqa: S101 - and the document's index
                assert event.result is not None  # noqa: S101 - only results have documents
                assert self._documents is not None  # noqa: S101 - only planned with a sender
                document = event.result.documents[step.document]
                return await self._documents.send(step.user_id, document, step.channel)
            case Channel.ZALO_CS:
                assert step.user_id is not None  # noqa: S101 - user steps carry the user
                return await sender.send_text(step.user_id, message.text)
            case Channel.ZALO_TEMPLATE_UID:
                assert step.user_id is not None  # noqa: S101 - user steps carry the user
                assert step.template_id is not None  # noqa: S101 - only usable channels
                return await sender.send_template(
                    step.user_id, step.template_id, step.template_data
                )
            case Channel.ZALO_TEMPLATE_PHONE:
                assert step.phone is not None  # noqa: S101 - the phone step carries it
                assert step.template_id is not None  # noqa: S101 - only usable channels
                return await sender.send_template_by_phone(
                    step.phone,
                    step.template_id,
                    step.template_data,
                    step.tracking_id or step.key,
                )

    async def _send(
        self,
        step: Step,
        event: CaseStateEvent,
        message: CitizenMessage,
        *,
        attempts: int,
        history: list[str],
    ) -> DeliveryOutcome:
        ledger, now, key = self._ledger, self._clock, step.key
        try:
            receipt = await self._transmit(step, event, message)
        except DocumentNotSendableError as error:
            # The document cannot go as a file (its host, its bytes, Zalo's upload): the citizen
            # keeps the link of the text. Settled, so a redelivery does not fetch it again.
            history.append(error.reason)
            return await self._settled(
                key, event, message, SettledStatus.FAILED, attempts=attempts, reason=error.reason
            )
        except DeliveryInDoubtError as error:
            history.append(f"in doubt: {error}")
            self._breaker.failure("no answer from Zalo")
            await ledger.mark_in_doubt(key, now=now())
            raise _TryLater(self._in_doubt_wait(step), f"in doubt: {error}") from error
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
        return await self._settled(
            key,
            event,
            message,
            SettledStatus.DELIVERED,
            attempts=attempts,
            message_id=receipt.message_id,
        )

    async def _settled(  # noqa: PLR0913 - the settlement and its context
        self,
        key: str,
        event: CaseStateEvent,
        message: CitizenMessage,
        status: SettledStatus,
        *,
        attempts: int,
        reason: str | None = None,
        message_id: str | None = None,
    ) -> DeliveryOutcome:
        """Settle the step under ``key`` as ``status`` and report the same outcome."""
        settlement = Settlement(
            status,
            attempts=attempts,
            reason=reason,
            zalo_message_id=message_id,
            template_version=message.template_version,
        )
        await self._settle(key, event, settlement)
        return DeliveryOutcome(
            DeliveryStatus(status.value),
            reason=reason,
            message_id=message_id,
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
            # The citizen cannot be reached this way; the cascade tries the next channel.
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

    def _reconciles(self, step: Step) -> bool:
        """CS texts and result documents can be found again in the conversation; templates not.

        A template shows no content there. A file or an image is recognised by its type, its
        time and an image's caption, unless the document sender's read-back is off.
        """
        if self._policy.in_doubt != "reconcile":
            return False
        if step.channel in {Channel.ZALO_FILE, Channel.ZALO_IMAGE}:
            return self._documents is not None and self._documents.reads_back
        return step.channel is Channel.ZALO_CS

    def _in_doubt_wait(self, step: Step) -> float:
        policy = self._policy
        return policy.in_doubt_settle if self._reconciles(step) else policy.in_doubt_hold

    async def _resolve_in_doubt(
        self,
        step: Step,
        entry: LedgerEntry,
        event: CaseStateEvent,
        message: CitizenMessage,
    ) -> DeliveryOutcome | int:
        """Decide about a send that may have happened: settled if found, else reclaimed to resend.

        Returns:
            The outcome when the message is found in the conversation, else the attempt count of
            the reclaimed delivery.
        """
        now = self._clock()
        since = entry.in_doubt_since or now
        wait = since + self._in_doubt_wait(step) - now
        if wait > 0:
            raise _TryLater(wait, "in doubt, waiting before deciding")
        if self._reconciles(step):
            assert step.user_id is not None  # noqa: S101 - CS and document steps carry the user
            started = entry.first_attempt_at or since
            try:
                found = await self._find_sent(step, event, message, started=started, doubt=since)
            except DeliveryError as error:
                raise _TryLater(self._policy.pause, f"cannot reconcile: {error}") from error
            self._breaker.success()  # Zalo answered
            if found is not None:
                _log.info(
                    "in-doubt send found in the conversation",
                    event_id=str(event.event_id),
                    channel=step.channel.value,
                    message_id=found,
                    recipient=_who(event, step.user_id),
                )
                settlement = Settlement(
                    SettledStatus.DELIVERED,
                    attempts=entry.attempts,
                    zalo_message_id=found,
                    template_version=message.template_version,
                )
                await self._settle(step.key, event, settlement)
                return DeliveryOutcome(
                    DeliveryStatus.DELIVERED,
                    reason="reconciled",
                    message_id=found,
                    attempts=entry.attempts,
                    template_version=message.template_version,
                    event=event,
                )
        attempts = await self._ledger.reclaim(
            step.key, owner=self._owner, now=self._clock(), lease_seconds=self._policy.lease
        )
        if attempts is None:
            raise _TryLater(0.1, "another replica took the in-doubt delivery")
        return attempts

    async def _find_sent(
        self,
        step: Step,
        event: CaseStateEvent,
        message: CitizenMessage,
        *,
        started: float,
        doubt: float,
    ) -> str | None:
        """Read the conversation back for the step's message sent since its first attempt."""
        assert step.user_id is not None  # noqa: S101 - reconciled steps carry the user
        if step.document is None:
            return await self._sender.find_sent(step.user_id, message.text, since=started - 60)
        assert event.result is not None  # noqa: S101 - only results have documents
        assert self._documents is not None  # noqa: S101 - only reconciled with a sender
        return await self._documents.find_sent(
            step.user_id,
            event.result.documents[step.document],
            step.channel,
            sent_after=started,
            sent_before=doubt,
            taken=step.taken,
        )

    @staticmethod
    def _from_ledger(
        entry: LedgerEntry, event: CaseStateEvent, message: CitizenMessage
    ) -> DeliveryOutcome:
        """A step settled before: report the same outcome, send nothing."""
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


def processing_failed(
    error: BaseException, *, tries: int, event: CaseStateEvent | None = None
) -> DeliveryOutcome:
    """The outcome of a record that kept failing for an unexpected reason: parked in the DLQ."""
    name = exception_name(error)
    detail = f"failed {tries} times; the last time: {name}: {mask_text(str(error))[:300]}"
    return DeliveryOutcome(
        DeliveryStatus.DEAD_LETTERED,
        reason=InvalidEventReason.PROCESSING_FAILED.value,
        attempts=0,
        event=event,
        dead_letter=InvalidEventError(InvalidEventReason.PROCESSING_FAILED, detail, exception=name),
    )


def _processing_error(detail: str, cause: BaseException) -> InvalidEventError:
    """The record's own fault met while processing it, naming the exception behind it."""
    return InvalidEventError(
        InvalidEventReason.PROCESSING_ERROR, detail, exception=exception_name(cause)
    )


def _who(event: CaseStateEvent, user_id: str) -> str | None:
    """The user as logs may name her: a keyed pseudonym, or nothing for a denouncer.

    Even the pseudonym of a denouncer would tie the denunciation to her other, named dossiers
    (docs/complaints-and-disputes.md §9.3, R4).
    """
    details = event.kind_details
    return None if details is not None and details.protects_identity else pseudonymise(user_id)


def _document_delivery(
    step: Step, document: ResultDocument, outcome: DeliveryOutcome
) -> DocumentDelivery:
    """What the status event says of one document step."""
    reason = outcome.reason or outcome.status.value
    if outcome.status is DeliveryStatus.DELIVERED:
        result, reason_out = DocumentOutcome.SENT, None
    elif reason.startswith("refused:"):
        result, reason_out = DocumentOutcome.REFUSED, reason
    elif reason.startswith("link:"):
        result, reason_out = DocumentOutcome.LINK, reason
    else:
        # Zalo refused the file message (rejected:<code>), the window closed meanwhile
        # (unreachable:<code>), or a newer event overtook it (stale): the link remains.
        result, reason_out = DocumentOutcome.LINK, f"link:{reason}"
    recipient: Literal["event_user", "linked_user"] = (
        "event_user" if step.recipient == "event_user" else "linked_user"
    )
    return DocumentDelivery(
        index=step.document or 0,
        sha256=document.sha256,
        channel=step.channel,
        recipient=recipient,
        zalo_user_id=step.user_id,  # the status event keeps only the event's own (outbox)
        outcome=result,
        reason=reason_out,
        zalo_message_id=outcome.message_id,
        attempts=outcome.attempts,
    )


def _summary(
    event: CaseStateEvent, message: CitizenMessage, done: Sequence[tuple[Step, DeliveryOutcome]]
) -> DeliveryOutcome:
    """The outcome of the record: delivered if any step delivered, else stale, rejected, failed.

    Rejections (parked, replayable) outrank unreachable steps, so the DLQ keeps a message that
    Zalo refused as written when no other channel delivered it.
    """
    details = tuple(
        ChannelDelivery(
            channel=step.channel,
            recipient=step.recipient,
            zalo_user_id=step.user_id,
            status=outcome.status,
            reason=outcome.reason,
            zalo_message_id=outcome.message_id,
            attempts=outcome.attempts,
        )
        for step, outcome in done
    )
    several = len(done) > 1
    history = tuple(
        f"{step.channel.value}: {line}" if several else line
        for step, outcome in done
        for line in outcome.history
    )
    attempts = sum(outcome.attempts for _, outcome in done)
    by_status = {
        status: [(s, o) for s, o in done if o.status is status] for status in DeliveryStatus
    }
    for status in (
        DeliveryStatus.DELIVERED,
        DeliveryStatus.SUPPRESSED,
        DeliveryStatus.DEAD_LETTERED,
    ):
        if by_status[status]:
            step, chosen = by_status[status][0]
            break
    else:
        step, chosen = done[-1]
    return DeliveryOutcome(
        chosen.status,
        reason=chosen.reason,
        message_id=chosen.message_id,
        attempts=attempts,
        template_version=chosen.template_version or message.template_version,
        event=event,
        dead_letter=chosen.dead_letter,
        history=history,
        channel=step.channel,
        deliveries=details,
    )
