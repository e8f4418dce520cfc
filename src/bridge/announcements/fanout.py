"""Send stored announcements to their audience, once per citizen, paced, resumable."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bridge.announcements.contract import Urgency
from bridge.announcements.store import AnnouncementStatus, RecipientStatus
from bridge.announcements.wording import announcement_text
from bridge.errors import (
    AccountError,
    DeliveryError,
    DeliveryInDoubtError,
    MessageRejectedError,
    RecipientUnreachableError,
    RetryableDeliveryError,
    TokenError,
)
from bridge.observability.logs import get_logger
from bridge.observability.masking import pseudonymise

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

    from bridge.announcements.audience import Audience
    from bridge.announcements.contract import Announcement
    from bridge.announcements.store import AnnouncementStore, ClaimedRecipient
    from bridge.delivery.deliverer import MessageSender, RateLimiter
    from bridge.quiet_hours.window import QuietWindow

__all__ = ["FanOut", "FanOutPolicy", "FanOutStats"]

_log = get_logger("bridge.announcements")
_PAGE = 1000


@dataclass(frozen=True, slots=True)
class FanOutPolicy:
    """Knobs of the fan-out (``AnnouncementSettings``)."""

    concurrency: int = 10
    lease_seconds: float = 60.0
    poll_seconds: float = 5.0
    max_attempts: int = 5
    retry_window_seconds: float = 3600.0
    in_doubt_settle_seconds: float = 3.0
    pause_seconds: float = 15.0
    signature: str | None = None


@dataclass
class FanOutStats:
    """Counters of this process (the metrics module reads them)."""

    sent: int = 0
    failed: dict[str, int] = field(default_factory=dict)
    retried: int = 0
    reconciled: int = 0


class _Pause(Exception):  # noqa: N818 - control flow inside this module, never escapes it
    """Zalo refuses the token or the OA: stop sending for a while."""


class FanOut:
    """The background job: claim an announcement, list its audience, send each copy once.

    The announcement is stored before its Kafka record is acknowledged; this job works only
    from the store, so a restart resumes where it stopped. Each recipient row is claimed before
    its send and settled after it (unique per announcement and user), so no citizen gets a
    copy twice; a send that got no answer stays ``sending`` and, once its lease ran out, is
    looked up in the citizen's conversation before it is sent again. Non-urgent announcements
    wait outside the quiet hours; every send passes the announcement limiter and the OA's.

    Args:
        store: Announcements and recipients.
        audience: Lists the user ids of an audience.
        sender: Sends consultation texts (``MessageSender.send_text``).
        limiters: Every send acquires each (the announcement rate, the OA's global limit).
        window: Non-urgent announcements are not sent while it is quiet (22:00-06:00).
        policy: Concurrency, leases, attempts.
        owner: This replica's identity in the claims.
        clock: Wall-clock seconds (tests inject a fake one).
        sleep: Awaited for every wait.
    """

    def __init__(  # noqa: PLR0913 - collaborators and knobs, all keyword-only
        self,
        *,
        store: AnnouncementStore,
        audience: Audience,
        sender: MessageSender,
        limiters: Sequence[RateLimiter],
        window: QuietWindow,
        policy: FanOutPolicy,
        owner: str,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._store = store
        self._audience = audience
        self._sender = sender
        self._limiters = tuple(limiters)
        self._window = window
        self._policy = policy
        self._owner = owner
        self._clock = clock
        self._sleep = sleep
        self._wake = asyncio.Event()
        self._stopping = False
        self.stats = FanOutStats()

    def wake(self) -> None:
        """Look for work now (a new announcement was stored)."""
        self._wake.set()

    def stop(self) -> None:
        """Stop claiming new recipients; the sends in flight finish."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        """Work until ``stop``: fan out what there is, then wait for a wake-up or the poll."""
        while not self._stopping:
            try:
                busy = await self.step()
            except Exception:  # noqa: BLE001 - the background job logs, rests and goes on
                _log.exception("announcement fan-out failed; trying again later")
                busy = False
            if busy or self._stopping:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._policy.poll_seconds)

    def _quiet(self) -> bool:
        return self._window.is_quiet(datetime.fromtimestamp(self._clock(), UTC))

    async def step(self) -> bool:
        """Work on one announcement until it is done or must wait; False when there was none."""
        policy, store = self._policy, self._store
        claimed = await store.claim_announcement(
            owner=self._owner,
            now=self._clock(),
            lease_seconds=policy.lease_seconds,
            urgent_only=self._quiet(),
        )
        if claimed is None:
            return False
        announcement = claimed.announcement
        key = str(announcement.announcement_id)
        try:
            if not claimed.enumerated:
                await self._enumerate(announcement)
            finished = await self._send_all(announcement)
        except BaseException:
            await store.let_go(key, owner=self._owner)
            raise
        if not finished:
            await store.let_go(key, owner=self._owner)
        return finished

    async def _enumerate(self, announcement: Announcement) -> None:
        key = str(announcement.announcement_id)
        async for page in self._audience.members(announcement.audience, page_size=_PAGE):
            await self._store.add_recipients(key, page, now=self._clock())
            await self._renew(key)
        total = await self._store.mark_enumerated(key)
        _log.info("announcement audience listed", announcement_id=key, recipients=total)

    async def _renew(self, key: str) -> None:
        renewed = await self._store.renew(
            key, owner=self._owner, now=self._clock(), lease_seconds=self._policy.lease_seconds
        )
        if not renewed:
            raise _Pause("another replica took the announcement over")

    def _expired(self, announcement: Announcement) -> bool:
        expires = announcement.expires_at
        return expires is not None and expires.timestamp() <= self._clock()

    async def _send_all(self, announcement: Announcement) -> bool:
        """Send until no recipient is open (True), or until it must wait (False)."""
        key = str(announcement.announcement_id)
        text = announcement_text(announcement, signature=self._policy.signature)
        urgent = announcement.urgency is Urgency.URGENT
        policy = self._policy
        transient_rounds = 0
        while not self._stopping:
            if self._expired(announcement):
                await self._store.finish(key, status=AnnouncementStatus.EXPIRED, now=self._clock())
                _log.info("announcement expired", announcement_id=key)
                return True
            if not urgent and self._quiet():
                return False
            await self._renew(key)
            batch = await self._store.claim_recipients(
                key,
                owner=self._owner,
                now=self._clock(),
                lease_seconds=policy.lease_seconds,
                limit=policy.concurrency * 5,
                in_doubt=True,
            ) or await self._store.claim_recipients(
                key,
                owner=self._owner,
                now=self._clock(),
                lease_seconds=policy.lease_seconds,
                limit=policy.concurrency * 5,
                in_doubt=False,
            )
            if not batch:
                if await self._store.open_count(key) == 0:
                    await self._store.finish(key, status=AnnouncementStatus.DONE, now=self._clock())
                    _log.info("announcement delivered", announcement_id=key)
                    return True
                return False  # copies in flight elsewhere or in doubt: look again later
            try:
                retried = await self._send_batch(key, text, batch)
            except _Pause as pause:
                _log.warning("announcement fan-out paused", why=str(pause))
                await self._sleep(policy.pause_seconds)
                return False
            if retried:
                # Zalo failed transiently: back off before the copies are tried again.
                backoff = min(policy.pause_seconds, 0.5 * 2**transient_rounds)
                transient_rounds += 1
                await self._sleep(backoff)
            else:
                transient_rounds = 0
        return False

    async def _send_batch(self, key: str, text: str, batch: list[ClaimedRecipient]) -> int:
        """Send to ``batch``; return how many copies failed transiently and wait to be retried."""
        gate = asyncio.Semaphore(self._policy.concurrency)
        paused: list[_Pause] = []
        retried_before = self.stats.retried

        async def one(recipient: ClaimedRecipient) -> None:
            async with gate:
                if paused:
                    await self._settle(key, recipient, RecipientStatus.PENDING, recipient.attempts)
                    return
                try:
                    await self._send_one(key, text, recipient)
                except _Pause as pause:
                    paused.append(pause)

        await asyncio.gather(*(one(recipient) for recipient in batch))
        if paused:
            raise paused[0]
        return self.stats.retried - retried_before

    async def _settle(  # noqa: PLR0913 - one copy's outcome
        self,
        key: str,
        recipient: ClaimedRecipient,
        status: RecipientStatus,
        attempts: int,
        *,
        reason: str | None = None,
        message_id: str | None = None,
    ) -> None:
        await self._store.settle_recipient(
            key,
            recipient.user_id,
            owner=self._owner,
            status=status,
            reason=reason,
            message_id=message_id,
            attempts=attempts,
            now=self._clock(),
        )
        if status is RecipientStatus.SENT:
            self.stats.sent += 1
        elif status is RecipientStatus.FAILED:
            label = (reason or "failed").split(":")[0]
            self.stats.failed[label] = self.stats.failed.get(label, 0) + 1

    async def _send_one(self, key: str, text: str, recipient: ClaimedRecipient) -> None:
        if recipient.in_doubt and await self._reconciled(key, text, recipient):
            return
        for limiter in self._limiters:
            await limiter.acquire()
        attempts = recipient.attempts + 1
        try:
            receipt = await self._sender.send_text(recipient.user_id, text)
        except DeliveryInDoubtError:
            await self._store.keep_in_doubt(
                key,
                recipient.user_id,
                owner=self._owner,
                until=self._clock() + self._policy.in_doubt_settle_seconds,
                attempts=attempts,
            )
        except (TokenError, AccountError) as error:
            await self._settle(key, recipient, RecipientStatus.PENDING, recipient.attempts)
            raise _Pause(str(error)) from error
        except DeliveryError as error:
            status, reason = self._refusal(error, attempts, recipient.first_attempt_at)
            if status is RecipientStatus.PENDING:
                self.stats.retried += 1
            await self._settle(key, recipient, status, attempts, reason=reason)
        else:
            _log.debug(
                "announcement sent", announcement_id=key, recipient=pseudonymise(recipient.user_id)
            )
            await self._settle(
                key, recipient, RecipientStatus.SENT, attempts, message_id=receipt.message_id
            )

    def _refusal(
        self, error: DeliveryError, attempts: int, first_attempt_at: float | None
    ) -> tuple[RecipientStatus, str | None]:
        """What a failed send leaves: pending again (transient) or failed, with the reason."""
        code = error.code if error.code is not None else "http"
        if isinstance(error, RetryableDeliveryError):
            # A Zalo outage or a -32 burst must not fail copies for good: give up only after
            # max_attempts *and* retry_window_seconds of failing (the fan-out backs off meanwhile).
            policy = self._policy
            failing_for = self._clock() - (first_attempt_at or self._clock())
            if attempts < policy.max_attempts or failing_for < policy.retry_window_seconds:
                return RecipientStatus.PENDING, None
            return RecipientStatus.FAILED, f"transient:{code}"
        if isinstance(error, RecipientUnreachableError):
            # Outside the 7-day window (-230) or not a follower (-213): consultation texts cannot
            # reach them; a later issue may use broadcast or template messages.
            return RecipientStatus.FAILED, f"unreachable:{code}"
        if isinstance(error, MessageRejectedError):
            return RecipientStatus.FAILED, f"rejected:{code}"
        return RecipientStatus.FAILED, f"error:{code}"

    async def _reconciled(self, key: str, text: str, recipient: ClaimedRecipient) -> bool:
        """Settle an unanswered send found in the conversation; False when it must be resent."""
        since = (recipient.first_attempt_at or self._clock()) - 60
        try:
            found = await self._sender.find_sent(recipient.user_id, text, since=since)
        except DeliveryError as error:
            _log.warning("cannot look up an unanswered send", error=str(error))
            await self._store.keep_in_doubt(
                key,
                recipient.user_id,
                owner=self._owner,
                until=self._clock() + self._policy.in_doubt_settle_seconds,
                attempts=recipient.attempts,
            )
            return True
        if found is None:
            return False
        self.stats.reconciled += 1
        await self._settle(
            key, recipient, RecipientStatus.SENT, recipient.attempts, message_id=found
        )
        return True
