"""The chat desk: act on OA events (follow, texts, receipts), link citizens, answer lookups."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

from bridge.citizens.link_guard import LockPolicy
from bridge.citizens.second_factor import verify_phone_last4, verify_receipt_secret
from bridge.citizens.text import CaseCode, Lookup, Unsubscribe, parse_citizen_text
from bridge.errors import DeliveryError
from bridge.observability.logs import get_logger
from bridge.observability.masking import pseudonymise

if TYPE_CHECKING:
    from collections.abc import Callable

    from bridge.citizens.dossiers import DossierState
    from bridge.citizens.link_guard import GuessGrant
    from bridge.citizens.replies import Replies
    from bridge.delivery.deliverer import MessageSender
    from bridge.webhook.events import OaEvent

__all__ = [
    "LINK_RESULTS",
    "REPLY_RESULTS",
    "CitizenDesk",
    "DeskStats",
    "DeskStore",
    "LinkPolicy",
    "ReplyBudgetPort",
    "SubmissionPort",
    "SurveyPort",
]

_log = get_logger("bridge.citizens")
_HOUR = 3_600.0
LINK_RESULTS = ("linked", "refused", "rate_limited", "locked")
"""Link attempts by result: ``linked``; ``refused`` (wrong code or factor); ``rate_limited``
(past the account's hourly limit: not checked, not answered); ``locked`` (the dossier is
locked: not checked, answered once per account and lock)."""
REPLY_RESULTS = ("sent", "failed", "over_budget")
"""Chat answers by result: ``sent``; ``failed`` (Zalo refused it); ``over_budget`` (no slot of
the chat's budget in time: not sent)."""


class SurveyPort(Protocol):
    """Answers to the satisfaction survey (``bridge.feedback.SurveyService``)."""

    async def answer(self, user_id: str, text: str, at: float) -> str | None:
        """The reply when ``text`` answers a survey, else None (the chat goes on)."""
        ...


class SubmissionPort(Protocol):
    """Dossiers filed in the chat (``bridge.submissions.SubmissionDesk``)."""

    async def take(self, event: OaEvent) -> bool:
        """Act on a text, photo or file of a submission; False: not one (the chat goes on)."""
        ...


class ReplyBudgetPort(Protocol):
    """The chat's share of the OA's calls (``bridge.delivery.pacing.ReplyBudget``)."""

    async def take(self) -> bool: ...  # noqa: D102 - see ReplyBudget


class DeskStore(Protocol):
    """What the desk needs from ``bridge.citizens.store.CitizenStore``."""

    async def first_seen(self, key: str, *, at: float) -> bool: ...  # noqa: D102 - see CitizenStore
    async def followed(self, user_id: str, at: float) -> None: ...  # noqa: D102 - see CitizenStore
    async def unfollowed(self, user_id: str, at: float) -> list[str]: ...  # noqa: D102 - idem
    async def interacted(self, user_id: str, at: float) -> None: ...  # noqa: D102 - idem
    async def active_cases(self, user_id: str) -> list[str]: ...  # noqa: D102 - idem
    async def link(self, user_id: str, case_code: str, *, factor: str, at: float) -> None: ...  # noqa: D102 - idem
    async def unlink(self, user_id: str, case_code: str, *, at: float) -> bool: ...  # noqa: D102 - idem
    async def linked_users(self, case_code: str) -> list[str]: ...  # noqa: D102 - idem
    async def record_attempt(  # noqa: D102 - see CitizenStore
        self,
        user_id: str,
        *,
        at: float,
        succeeded: bool,
        case_code: str | None = None,
        outcome: str | None = None,
    ) -> None: ...
    async def failed_attempts(self, user_id: str, *, since: float) -> int: ...  # noqa: D102 - idem
    async def told_locked(self, user_id: str, case_code: str, *, since: float) -> bool: ...  # noqa: D102 - idem
    async def spend_guess(  # noqa: D102 - see CitizenStore
        self, case_code: str, *, now: float, policy: LockPolicy
    ) -> GuessGrant: ...
    async def guess_succeeded(self, case_code: str) -> None: ...  # noqa: D102 - idem
    async def dossier(self, case_code: str) -> DossierState | None: ...  # noqa: D102 - idem
    async def record_receipt(  # noqa: D102 - see CitizenStore
        self, message_id: str, kind: str, *, user_id: str | None, at: float
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class LinkPolicy:
    """How a dossier code is proven: which factor, its key, and the wrong attempts allowed."""

    factor: Literal["receipt_secret", "phone_last4"]
    hmac_key: str
    receipt_secret_length: int = 6
    attempts_per_hour: int = 5
    lock: LockPolicy = field(default_factory=LockPolicy)
    """The per-dossier lock-out (any accounts)."""

    def verify(self, case_code: str, typed: str, dossier: DossierState | None) -> bool:
        """Whether ``typed`` proves ``case_code``."""
        if self.factor == "receipt_secret":
            return verify_receipt_secret(
                self.hmac_key, case_code, typed, length=self.receipt_secret_length
            )
        stored = None if dossier is None else dossier.phone_last4_hash
        return verify_phone_last4(self.hmac_key, case_code, typed, stored)


@dataclass
class DeskStats:
    """Counts of this process (the metrics read them at scrape time)."""

    events: Counter[tuple[str, str]] = field(default_factory=Counter)
    """OA events by (name, ``handled`` | ``duplicate`` | ``no_user``)."""
    link_attempts: Counter[str] = field(default_factory=Counter)
    """By result: ``LINK_RESULTS``."""
    dossier_locks: int = 0
    """Dossiers locked by this process (a lock-out began)."""
    replies: Counter[str] = field(default_factory=Counter)
    """Chat answers by result: ``REPLY_RESULTS``."""
    link_notices: Counter[str] = field(default_factory=Counter)
    """Notices to the accounts already linked to a dossier that another one linked, by
    ``REPLY_RESULTS``."""
    unlinks: Counter[str] = field(default_factory=Counter)
    """Links ended, by ``command`` (HUY) or ``unfollow``."""
    lookups: Counter[str] = field(default_factory=Counter)
    """Dossier states answered: ``answered``, or ``pending`` (no state known yet)."""


class CitizenDesk:
    """One OA event in, the store updated and (for texts and follows) one answer in the chat.

    Events are deduplicated on their ``dedupe_key`` before anything else, unless
    ``deduplicate`` is off because the durable webhook inbox already stored each key once (and
    must be able to hand an event over again after a failed attempt). Answers are
    consultation texts: the citizen has just interacted, so the 7-day window is open.

    Args:
        store: Citizens, links, dossiers, receipts.
        sender: Sends the answers (``bridge.zalo.ZaloClient``).
        replies: Their wording.
        policy: The second factor and the limits.
        clock: Epoch seconds.
        deduplicate: Record each ``dedupe_key`` (``DeskStore.first_seen``) and drop repeats.
        budget: The chat's share of the OA's calls (None: unlimited here).
        survey: Takes the texts that answer a satisfaction survey first (None: no survey).
    """

    def __init__(  # noqa: PLR0913 - keyword-only collaborators
        self,
        *,
        store: DeskStore,
        sender: MessageSender,
        replies: Replies,
        policy: LinkPolicy,
        clock: Callable[[], float] = time.time,
        deduplicate: bool = True,
        budget: ReplyBudgetPort | None = None,
        survey: SurveyPort | None = None,
    ) -> None:
        self.survey = survey
        """Set by the composition root when the survey runs (it is built after the desk)."""
        self.submissions: SubmissionPort | None = None
        """Set by the composition root when citizens file dossiers in the chat: it takes the
        texts, photos and files of a submission in progress (and ``NOP HO SO``) first."""
        self._store = store
        self._budget = budget
        self._sender = sender
        self._replies = replies
        self._policy = policy
        self._clock = clock
        self._deduplicate = deduplicate
        self.stats = DeskStats()

    def _who(self, user_id: str) -> str:
        return pseudonymise(user_id, pepper=self._policy.hmac_key)

    async def handle(self, event: OaEvent) -> None:
        """Act on one verified event; a duplicate (Zalo retry) is dropped."""
        now = self._clock()
        if event.user_id is None and event.phone is not None:
            await self._phone_receipt(event, now)
            return
        if event.user_id is None:
            _log.info("oa event without a user ignored", event_name=event.name)
            self.stats.events[event.name, "no_user"] += 1
            return
        if self._deduplicate and not await self._store.first_seen(event.dedupe_key, at=now):
            _log.info("duplicate oa event dropped", event_name=event.name)
            self.stats.events[event.name, "duplicate"] += 1
            return
        self.stats.events[event.name, "handled"] += 1
        user = event.user_id
        if event.name == "follow":
            await self._store.followed(user, event.at)
            await self._say(user, self._replies.welcome(), "welcome")
        elif event.name == "unfollow":
            codes = await self._store.unfollowed(user, event.at)
            _log.info("citizen unfollowed", user=self._who(user), unlinked=len(codes))
            self.stats.unlinks["unfollow"] += len(codes)
        elif event.name.startswith("user_send_"):
            await self._store.interacted(user, event.at)
            await self._message(event, user, now)
        elif event.name in {"user_received_message", "user_seen_message"}:
            kind = "received" if event.name == "user_received_message" else "seen"
            for message_id in event.message_ids:
                await self._store.record_receipt(message_id, kind, user_id=user, at=event.at)
        else:
            _log.info("oa event ignored", event_name=event.name)

    async def _message(self, event: OaEvent, user: str, now: float) -> None:
        """A text, photo or file: a submission's first, then the chat's commands for texts."""
        if self.submissions is not None and await self.submissions.take(event):
            return
        if event.name == "user_send_text":
            await self._text(user, event.text or "", now)

    async def _phone_receipt(self, event: OaEvent, now: float) -> None:
        """A ZNS receipt names a phone: recorded under its keyed hash, never the number."""
        if self._deduplicate and not await self._store.first_seen(event.dedupe_key, at=now):
            self.stats.events[event.name, "duplicate"] += 1
            return
        self.stats.events[event.name, "handled"] += 1
        if event.name not in {"user_received_message", "user_seen_message"}:
            _log.info("oa event by phone ignored", event_name=event.name)
            return
        kind = "received" if event.name == "user_received_message" else "seen"
        holder = "phone:" + pseudonymise(event.phone or "", pepper=self._policy.hmac_key)
        for message_id in event.message_ids:
            await self._store.record_receipt(message_id, kind, user_id=holder, at=event.at)

    async def _text(self, user: str, text: str, now: float) -> None:
        if self.survey is not None:
            answered = await self.survey.answer(user, text, now)
            if answered is not None:
                await self._say(user, answered, "survey")
                return
        command = parse_citizen_text(text)
        replies = self._replies
        if isinstance(command, Unsubscribe):
            if command.case_code is None:
                active = await self._store.active_cases(user)
                await self._say(user, replies.unsubscribe_which(active), "unsubscribe_which")
            elif await self._store.unlink(user, command.case_code, at=now):
                _log.info("citizen unlinked", user=self._who(user), case_code=command.case_code)
                self.stats.unlinks["command"] += 1
                await self._say(user, replies.unsubscribed(command.case_code), "unsubscribed")
            else:
                await self._say(user, replies.not_subscribed(command.case_code), "not_subscribed")
        elif isinstance(command, Lookup):
            await self._lookup(user, command.case_code)
        elif isinstance(command, CaseCode):
            await self._code(user, command, now)
        else:
            await self._say(user, replies.help(), "help")

    async def _lookup(self, user: str, case_code: str | None) -> None:
        active = await self._store.active_cases(user)
        if case_code is None:
            if not active:
                await self._say(user, self._replies.nothing_linked(), "nothing_linked")
            for code in active:
                await self._answer_lookup(user, code)
        elif case_code in active:
            await self._answer_lookup(user, case_code)
        else:
            await self._say(user, self._replies.ask_factor(case_code), "ask_factor")

    async def _answer_lookup(self, user: str, case_code: str) -> None:
        state = await self._store.dossier(case_code)
        self.stats.lookups["pending" if state is None else "answered"] += 1
        if state is None:
            await self._say(user, self._replies.lookup_pending(case_code), "lookup_pending")
        else:
            await self._say(user, self._replies.lookup(state), "lookup")

    async def _code(self, user: str, command: CaseCode, now: float) -> None:
        """A code with a second factor: the limits, then the check, then the link.

        In order: past the account's hourly limit, nothing is checked nor answered. A locked
        dossier is not checked; each account hears of the lock once. Otherwise one guess is
        spent on the dossier (it locks the dossier when it is the last allowed), the factor is
        checked, and the answer is the link, a refusal, the account's limit reached, or the
        lock.
        """
        code = command.case_code
        if command.factor is None:
            if code in await self._store.active_cases(user):
                await self._answer_lookup(user, code)
            else:
                await self._say(user, self._replies.ask_factor(code), "ask_factor")
            return
        policy = self._policy
        failures = await self._store.failed_attempts(user, since=now - _HOUR)
        if failures >= policy.attempts_per_hour:
            _log.info("link attempt past the account's limit: no answer", user=self._who(user))
            self.stats.link_attempts["rate_limited"] += 1
            return
        grant = await self._store.spend_guess(code, now=now, policy=policy.lock)
        if not grant.allowed:
            await self._locked(user, code, grant, now)
            return
        state = await self._store.dossier(code)
        ok = policy.verify(code, command.factor, state)
        if ok:
            await self._store.guess_succeeded(code)
        outcome = "refused_locking" if grant.locks_now and not ok else None
        await self._store.record_attempt(
            user, at=now, succeeded=ok, case_code=code, outcome=outcome
        )
        if ok:
            await self._link(user, code, state, now)
            return
        _log.info("link refused", user=self._who(user), failures=failures + 1)
        self.stats.link_attempts["refused"] += 1
        if grant.locks_now:
            assert grant.locked_until is not None  # noqa: S101 - set with locks_now
            _log.warning("dossier locked against linking", case_code=code, until=grant.locked_until)
            self.stats.dossier_locks += 1
            await self._say(user, self._replies.dossier_locked(code, grant.locked_until), "locked")
        elif failures + 1 >= policy.attempts_per_hour:
            await self._say(user, self._replies.rate_limited(), "rate_limited")
        else:
            await self._say(user, self._replies.refused(), "refused")

    async def _locked(self, user: str, code: str, grant: GuessGrant, now: float) -> None:
        """An attempt at a locked dossier: not checked; the account hears of it once."""
        assert grant.locked_at is not None  # noqa: S101 - a refused grant names its lock
        assert grant.locked_until is not None  # noqa: S101 - idem
        told = await self._store.told_locked(user, code, since=grant.locked_at)
        await self._store.record_attempt(
            user, at=now, succeeded=False, case_code=code, outcome="locked"
        )
        self.stats.link_attempts["locked"] += 1
        _log.info("link attempt at a locked dossier", user=self._who(user), answered=not told)
        if not told:
            await self._say(user, self._replies.dossier_locked(code, grant.locked_until), "locked")

    async def _link(self, user: str, code: str, state: DossierState | None, now: float) -> None:
        """Link, confirm, and tell the accounts linked before that another one joined."""
        linked = await self._store.linked_users(code)
        await self._store.link(user, code, factor=self._policy.factor, at=now)
        _log.info("citizen linked", user=self._who(user), case_code=code)
        self.stats.link_attempts["linked"] += 1
        await self._say(user, self._replies.linked(code, state), "linked")
        if user in linked:  # linked again: nobody new joined
            return
        notice = self._replies.new_link_notice(code, now)
        for other in linked:
            result = await self._say(other, notice, "new_link_notice")
            self.stats.link_notices[result] += 1

    async def _say(self, user: str, text: str, what: str) -> str:
        """Send one answer within the chat's budget; its ``REPLY_RESULTS`` result."""
        if self._budget is not None and not await self._budget.take():
            _log.warning("chat answer over budget: not sent", user=self._who(user), reply=what)
            self.stats.replies["over_budget"] += 1
            return "over_budget"
        try:
            receipt = await self._sender.send_text(user, text)
        except DeliveryError as error:
            _log.warning("chat answer not sent", user=self._who(user), reply=what, code=error.code)
            self.stats.replies["failed"] += 1
            return "failed"
        _log.info(
            "chat answer sent", user=self._who(user), reply=what, message_id=receipt.message_id
        )
        self.stats.replies["sent"] += 1
        return "sent"
