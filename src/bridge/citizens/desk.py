"""The chat desk: act on OA events (follow, texts, receipts), link citizens, answer lookups."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

from bridge.citizens.second_factor import verify_phone_last4, verify_receipt_secret
from bridge.citizens.text import CaseCode, Lookup, Unsubscribe, parse_citizen_text
from bridge.errors import DeliveryError
from bridge.observability.logs import get_logger
from bridge.observability.masking import pseudonymise

if TYPE_CHECKING:
    from collections.abc import Callable

    from bridge.citizens.dossiers import DossierState
    from bridge.citizens.replies import Replies
    from bridge.delivery.deliverer import MessageSender
    from bridge.webhook.events import OaEvent

__all__ = ["CitizenDesk", "DeskStats", "DeskStore", "LinkPolicy"]

_log = get_logger("bridge.citizens")
_HOUR = 3_600.0


class DeskStore(Protocol):
    """What the desk needs from ``bridge.citizens.store.CitizenStore``."""

    async def first_seen(self, key: str, *, at: float) -> bool: ...  # noqa: D102 - see CitizenStore
    async def followed(self, user_id: str, at: float) -> None: ...  # noqa: D102 - see CitizenStore
    async def unfollowed(self, user_id: str, at: float) -> list[str]: ...  # noqa: D102 - idem
    async def interacted(self, user_id: str, at: float) -> None: ...  # noqa: D102 - idem
    async def active_cases(self, user_id: str) -> list[str]: ...  # noqa: D102 - idem
    async def link(self, user_id: str, case_code: str, *, factor: str, at: float) -> None: ...  # noqa: D102 - idem
    async def unlink(self, user_id: str, case_code: str, *, at: float) -> bool: ...  # noqa: D102 - idem
    async def record_attempt(self, user_id: str, *, at: float, succeeded: bool) -> None: ...  # noqa: D102 - idem
    async def failed_attempts(self, user_id: str, *, since: float) -> int: ...  # noqa: D102 - idem
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
    """``linked``, ``refused`` (wrong second factor), ``rate_limited``."""
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
        policy: The second factor and the rate limit.
        clock: Epoch seconds.
        deduplicate: Record each ``dedupe_key`` (``DeskStore.first_seen``) and drop repeats.
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
    ) -> None:
        self._store = store
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
        elif event.name == "user_send_text":
            await self._store.interacted(user, event.at)
            await self._text(user, event.text or "", now)
        elif event.name.startswith("user_send_"):
            await self._store.interacted(user, event.at)
        elif event.name in {"user_received_message", "user_seen_message"}:
            kind = "received" if event.name == "user_received_message" else "seen"
            for message_id in event.message_ids:
                await self._store.record_receipt(message_id, kind, user_id=user, at=event.at)
        else:
            _log.info("oa event ignored", event_name=event.name)

    async def _text(self, user: str, text: str, now: float) -> None:
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
        code = command.case_code
        if command.factor is None:
            if code in await self._store.active_cases(user):
                await self._answer_lookup(user, code)
            else:
                await self._say(user, self._replies.ask_factor(code), "ask_factor")
            return
        failures = await self._store.failed_attempts(user, since=now - _HOUR)
        if failures >= self._policy.attempts_per_hour:
            _log.warning("link attempts rate-limited", user=self._who(user))
            self.stats.link_attempts["rate_limited"] += 1
            await self._say(user, self._replies.rate_limited(), "rate_limited")
            return
        state = await self._store.dossier(code)
        ok = self._policy.verify(code, command.factor, state)
        await self._store.record_attempt(user, at=now, succeeded=ok)
        if not ok:
            _log.info("link refused", user=self._who(user), failures=failures + 1)
            self.stats.link_attempts["refused"] += 1
            await self._say(user, self._replies.refused(), "refused")
            return
        await self._store.link(user, code, factor=self._policy.factor, at=now)
        _log.info("citizen linked", user=self._who(user), case_code=code)
        self.stats.link_attempts["linked"] += 1
        await self._say(user, self._replies.linked(code, state), "linked")

    async def _say(self, user: str, text: str, what: str) -> None:
        try:
            receipt = await self._sender.send_text(user, text)
        except DeliveryError as error:
            _log.warning("chat answer not sent", user=self._who(user), reply=what, code=error.code)
        else:
            _log.info(
                "chat answer sent", user=self._who(user), reply=what, message_id=receipt.message_id
            )
