"""Keep an OA's access token fresh: refresh it ahead of expiry and on refusal, one at a time."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential_jitter

from bridge.errors import OAuthError, TokenStoreError
from bridge.observability.logs import get_logger

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

    from tenacity import RetryCallState

    from bridge.zalo.oauth import ZaloOAuth
    from bridge.zalo.token_store import StoredTokens, TokenPair, TokenStore

__all__ = ["ManagedToken", "describe_error", "refresh_due_at"]

_log = get_logger("bridge.tokens")


def refresh_due_at(pair: TokenPair, fraction: float) -> float:
    """When ``pair`` should be refreshed: once ``fraction`` of its lifetime has passed."""
    lifetime = max(0.0, pair.access_expires_at - pair.access_issued_at)
    return pair.access_issued_at + fraction * lifetime


def describe_error(error: BaseException) -> str:
    """A log-safe description: database errors without their SQL parameters (ciphertexts)."""
    cause = error.__cause__
    if isinstance(cause, DBAPIError):
        return f"{error.__class__.__name__}: database error {cause.orig.__class__.__name__}"
    if isinstance(cause, SQLAlchemyError):
        return f"{error.__class__.__name__}: {cause.__class__.__name__}"
    return str(error)


class ManagedToken:
    """A ``TokenSource`` whose tokens live in the ``TokenStore`` and are refreshed in time.

    * ``token()`` answers from memory (the hot path).
    * ``refresh(rejected)`` (Zalo refused ``rejected``: -216/-220) and the background task
      (``start``; at ``refresh_at_fraction`` of the token's lifetime) replace the pair under the
      store's lock, after reading it again: when another replica already replaced it, its pair
      is used and no refresh token is spent. The new pair is committed before it is used.
    * While there is no usable token (none stored, expired, or refused with no successor) it is
      unhealthy: ``on_health(False)`` (the runtime pauses delivery and answers not-ready), and
      the background task keeps trying with exponential backoff, re-reading the store each time
      (so a ``zalo-bridge zalo token import`` or ``authorize`` is picked up).

    Args:
        store: Where the pair is kept.
        oauth: Zalo's token endpoint.
        oa_id: The OA whose tokens these are.
        owner: Who refreshes (written to the store; host, pid).
        refresh_at_fraction: Fraction of the lifetime after which the pair is refreshed.
        retry_max_seconds: Longest wait between failed attempts.
        poll_seconds: How often the store is read again while all is well.
        on_health: Called with the new health when it changes.
        clock: Epoch seconds.
        sleep: Waits (tests pass fakes).
        owned: Closed by ``stop`` (the HTTP client, the store) in this order.
    """

    def __init__(  # noqa: PLR0913 - collaborators and knobs, keyword-only
        self,
        store: TokenStore,
        oauth: ZaloOAuth,
        *,
        oa_id: str,
        owner: str,
        refresh_at_fraction: float = 0.8,
        retry_max_seconds: float = 300.0,
        poll_seconds: float = 60.0,
        on_health: Callable[[bool], None] | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        owned: Sequence[Callable[[], Awaitable[Any]]] = (),
    ) -> None:
        self._store = store
        self._oauth = oauth
        self._oa_id = oa_id
        self._owner = owner
        self._fraction = refresh_at_fraction
        self._retry_max = retry_max_seconds
        self._poll = poll_seconds
        self._on_health = on_health
        self._clock = clock
        self._sleep = sleep
        self._owned = list(owned)
        self._current: StoredTokens | None = None
        self._rejected: str | None = None
        self._healthy = False
        self._refresh_failing = False
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.outcomes: Counter[str] = Counter()
        """Refresh rounds so far, for metrics: ``refreshed`` (a refresh token was spent),
        ``adopted`` (another replica's pair was taken after waiting for the lock), ``failed``."""

    # ------------------------------------------------------------------ what others read

    @property
    def healthy(self) -> bool:
        """A usable access token is at hand (stored, not expired, not refused)."""
        return self._healthy

    @property
    def refresh_failing(self) -> bool:
        """The last refresh attempt failed (the token may still be usable for a while)."""
        return self._refresh_failing

    @property
    def generation(self) -> int | None:
        """The generation of the pair in use, or None."""
        return self._current.generation if self._current else None

    def seconds_until_expiry(self) -> float | None:
        """Seconds until the access token in use expires (negative once past), or None."""
        if self._current is None:
            return None
        return self._current.pair.access_expires_at - self._clock()

    def seconds_until_refresh_expiry(self) -> float | None:
        """Seconds until the refresh token in use expires (re-consent needed then), or None."""
        current = self._current
        if current is None or current.pair.refresh_expires_at is None:
            return None
        return current.pair.refresh_expires_at - self._clock()

    # ------------------------------------------------------------------ TokenSource

    async def token(self) -> str | None:
        """The access token in use, or None when none is stored."""
        current = self._current
        return current.pair.access_token if current is not None else None

    async def refresh(self, rejected: str) -> bool:
        """Replace ``rejected``; True when a different token is now in use."""
        async with self._lock:
            current = self._current
            if current is not None and current.pair.access_token != rejected:
                return True  # replaced meanwhile, by this process
            self._rejected = rejected
            try:
                stored = await self._renew(lambda stored: stored.pair.access_token == rejected)
            except (OAuthError, TokenStoreError) as error:
                self._failed(error, "refused access token")
                self._wake.set()  # the background task takes over, with backoff
                return False
            return stored.pair.access_token != rejected

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Read the stored pair (a missing one is logged, not fatal) and start refreshing."""
        try:
            await self._reload()
        except TokenStoreError as error:
            self._failed(error, "start")
        self._update_health()
        if self._current is None:
            _log.error(
                "no Zalo OA tokens stored: run `zalo-bridge zalo authorize` or "
                "`zalo-bridge zalo token import`; delivery is paused",
                oa_id=self._oa_id,
            )
        self._task = asyncio.create_task(self._run(), name="zalo-token-refresher")

    async def stop(self) -> None:
        """Stop refreshing and close what this token source owns."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        while self._owned:
            await self._owned.pop(0)()

    async def refresh_now(self) -> StoredTokens:
        """Refresh whatever the stored pair's age (``zalo-bridge zalo token refresh``).

        Raises:
            OAuthError, TokenStoreError: The refresh failed.
        """
        async with self._lock:
            try:
                return await self._renew(lambda _stored: True)
            except (OAuthError, TokenStoreError) as error:
                self._failed(error, "forced")
                raise

    async def run_once(self) -> float:
        """One round of the background task: re-read, refresh when due; seconds to the next.

        Raises:
            OAuthError, TokenStoreError: The refresh failed (the task then backs off).
        """
        async with self._lock:
            try:
                stored = await self._reload_existing()
                if self._needs_refresh(stored):
                    stored = await self._renew(self._needs_refresh)
            except (OAuthError, TokenStoreError) as error:
                self._failed(error, "scheduled")
                raise
        due = refresh_due_at(stored.pair, self._fraction) - self._clock()
        return max(0.0, min(self._poll, due))

    def _needs_refresh(self, stored: StoredTokens) -> bool:
        """Due by age, or refused by Zalo."""
        return stored.pair.access_token == self._rejected or self._clock() >= refresh_due_at(
            stored.pair, self._fraction
        )

    async def _run(self) -> None:
        retrying = AsyncRetrying(
            wait=wait_exponential_jitter(initial=1, max=self._retry_max, jitter=1),
            retry=retry_if_exception_type((OAuthError, TokenStoreError)),
            sleep=self._sleep,
            before_sleep=self._before_retry,
        )
        while True:
            self._wake.clear()
            try:
                delay: float = await retrying(self.run_once)
            except Exception:  # noqa: BLE001 - a bug here must not end the refreshes for good
                _log.exception("the Zalo token refresher failed unexpectedly", oa_id=self._oa_id)
                delay = self._retry_max
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    def _before_retry(self, state: RetryCallState) -> None:
        wait = state.next_action.sleep if state.next_action else None
        _log.info("retrying the Zalo token refresh", attempt=state.attempt_number, wait_s=wait)

    # ------------------------------------------------------------------ the work

    async def _reload(self) -> StoredTokens | None:
        stored = await self._store.load(self._oa_id)
        if stored is not None:
            self._adopt(stored)
        return stored

    async def _reload_existing(self) -> StoredTokens:
        stored = await self._reload()
        if stored is None:
            raise TokenStoreError(f"no tokens stored for OA {self._oa_id}")
        return stored

    async def _renew(self, needed: Callable[[StoredTokens], bool]) -> StoredTokens:
        """Under the store's lock: use the stored pair unless ``needed(stored)``, then refresh."""
        async with self._store.exclusive(self._oa_id) as slot:
            stored = slot.current
            if stored is None:
                raise TokenStoreError(f"no tokens stored for OA {self._oa_id}")
            if not needed(stored):
                if stored.generation != self.generation:
                    _log.info(
                        "Zalo OA token already refreshed elsewhere",
                        oa_id=self._oa_id,
                        generation=stored.generation,
                        by=stored.updated_by,
                    )
                    self.outcomes["adopted"] += 1
                self._adopt(stored)
                return stored
            pair = await self._oauth.refresh(stored.pair.refresh_token, now=self._clock())
            fresh = await slot.replace(pair, source="refresh", by=self._owner, now=self._clock())
        self._refresh_failing = False
        self.outcomes["refreshed"] += 1
        self._adopt(fresh)
        _log.info(
            "Zalo OA token refreshed",
            oa_id=self._oa_id,
            generation=fresh.generation,
            expires_in_s=round(pair.access_expires_at - pair.access_issued_at),
        )
        return fresh

    def _adopt(self, stored: StoredTokens) -> None:
        previous = self._current
        self._current = stored
        if stored.pair.access_token != self._rejected:
            self._rejected = None
        if previous is None or previous.generation != stored.generation:
            self._refresh_failing = False  # a newer pair makes an earlier failure moot
            _log.debug("Zalo OA token in use", oa_id=self._oa_id, generation=stored.generation)
        self._update_health()

    def _failed(self, error: BaseException, why: str) -> None:
        self._refresh_failing = True
        self.outcomes["failed"] += 1
        self._update_health()
        _log.error(
            "Zalo token refresh failed",
            oa_id=self._oa_id,
            trigger=why,
            error=describe_error(error),
            oauth_code=getattr(error, "code", None),
            token_usable=self._healthy,
            seconds_until_expiry=self.seconds_until_expiry(),
        )

    def _update_health(self) -> None:
        current = self._current
        healthy = (
            current is not None
            and current.pair.access_expires_at > self._clock()
            and current.pair.access_token != self._rejected
        )
        if healthy != self._healthy:
            self._healthy = healthy
            log = _log.info if healthy else _log.error
            log("Zalo OA token", usable=healthy, oa_id=self._oa_id)
            if self._on_health is not None:
                self._on_health(healthy)
