"""Backpressure: the circuit breaker in front of Zalo, the rate limit, pausing the partitions."""

from __future__ import annotations

import asyncio
import time
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from aiolimiter import AsyncLimiter

from bridge.observability.logs import get_logger

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

__all__ = ["BreakerState", "CircuitBreaker", "FlowControl", "oa_rate_limiter"]

_log = get_logger("bridge.flow")


class BreakerState(StrEnum):
    """Where the breaker stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Stops calling Zalo while it keeps failing, then lets one probe through before resuming.

    ``failure_threshold`` consecutive transient failures open it for ``open_seconds``; each failed
    probe doubles that, up to ``max_open_seconds``. ``trip`` opens it at once, for trouble that
    only an administrator can fix (a refused token, a disabled OA): the probes then tell when it
    is fixed. Every state change is reported to ``on_change`` (the consumer pauses its partitions
    while the breaker is not closed, so an outage loses and dead-letters nothing).

    It is written out here rather than taken from a library: the asyncio breakers on PyPI are
    unmaintained, and this one must cooperate with partition pausing and the probe of a queue.
    """

    def __init__(  # noqa: PLR0913 - knobs and seams, all keyword-only
        self,
        *,
        failure_threshold: int,
        open_seconds: float,
        max_open_seconds: float,
        on_change: Callable[[BreakerState, str | None], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._threshold = failure_threshold
        self._base_open = open_seconds
        self._max_open = max_open_seconds
        self._on_change = on_change
        self._clock = clock
        self._sleep = sleep
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._open_for = open_seconds
        self._open_until = 0.0
        self._probing = False
        self._reason: str | None = None
        self._changed = asyncio.Event()

    @property
    def state(self) -> BreakerState:
        """The current state."""
        return self._state

    @property
    def reason(self) -> str | None:
        """Why it opened, while it is not closed."""
        return self._reason

    def _set(self, state: BreakerState, reason: str | None) -> None:
        if state is self._state and reason == self._reason:
            return
        self._state, self._reason = state, reason
        self._changed.set()
        self._changed = asyncio.Event()
        log = _log.warning if state is not BreakerState.CLOSED else _log.info
        log("circuit breaker", state=state.value, reason=reason, open_seconds=self._open_for)
        if self._on_change is not None:
            self._on_change(state, reason)

    async def before_call(self) -> bool:
        """Return when a call may go out: at once while closed, as the probe when half-open.

        Returns:
            True when the caller is the probe: it must report ``success``, ``failure``, ``trip``
            or, if it made no call after all, ``release_probe``.
        """
        while True:
            if self._state is BreakerState.CLOSED:
                return False
            if self._state is BreakerState.OPEN:
                wait = self._open_until - self._clock()
                if wait > 0:
                    await self._sleep(wait)
                    continue
                self._set(BreakerState.HALF_OPEN, self._reason)
            if not self._probing:
                self._probing = True
                return True
            await self._changed.wait()

    def success(self) -> None:
        """A call went through: close, and forget the failures."""
        self._failures = 0
        self._probing = False
        self._open_for = self._base_open
        self._set(BreakerState.CLOSED, None)

    def failure(self, reason: str) -> None:
        """A call failed for a transient reason."""
        self._failures += 1
        if self._state is BreakerState.HALF_OPEN:
            self._probing = False
            self._open_for = min(self._open_for * 2, self._max_open)
            self._open(reason)
        elif self._state is BreakerState.CLOSED and self._failures >= self._threshold:
            self._open(reason)

    def release_probe(self) -> None:
        """The caller let through by ``before_call`` made no call after all: let another probe."""
        if self._probing:
            self._probing = False
            self._changed.set()
            self._changed = asyncio.Event()

    def trip(self, reason: str) -> None:
        """Open now: nothing can be sent until an administrator acts (probes tell when)."""
        self._probing = False
        if self._state is BreakerState.HALF_OPEN:
            self._open_for = min(self._open_for * 2, self._max_open)
        self._open(reason)

    def _open(self, reason: str) -> None:
        self._open_until = self._clock() + self._open_for
        self._set(BreakerState.OPEN, reason)


def oa_rate_limiter(requests_per_minute: int) -> AsyncLimiter | None:
    """A leaky bucket that keeps the calls of one OA under Zalo's per-minute limit.

    The bucket drains at 98.5 % of the limit and holds at most half a second of calls, so that
    no 60-second window, sliding or aligned to the minute, ever sees more than the limit
    (burst + 60 s × rate = 99.3 % of it), while the sustained rate stays within 2 % of it.

    Returns:
        The limiter, or None when the limit is 0 (off).
    """
    if requests_per_minute <= 0:
        return None
    rate = requests_per_minute / 60 * 0.985
    burst = max(1.0, requests_per_minute / 60 * 0.5)
    return AsyncLimiter(max_rate=burst, time_period=burst / rate)


class FlowControl:
    """Pauses the consumer's partitions while any reason to hold back stands.

    Reasons: the in-flight window is full, the circuit breaker is open. Pausing keeps the
    consumer polling (so it stays in its group) without fetching more records.
    """

    def __init__(self) -> None:
        self._consumer: Any = None
        self._reasons: set[str] = set()

    def attach(self, consumer: Any) -> None:
        """Remember the aiokafka consumer whose partitions are paused and resumed."""
        if consumer is not self._consumer:
            self._consumer = consumer
            self._apply()

    @property
    def paused(self) -> bool:
        """True while any reason to hold back stands."""
        return bool(self._reasons)

    @property
    def reasons(self) -> frozenset[str]:
        """The reasons standing now."""
        return frozenset(self._reasons)

    def hold(self, reason: str, *, on: bool) -> None:
        """Set or clear one reason, then pause or resume accordingly."""
        before = bool(self._reasons)
        if on:
            self._reasons.add(reason)
        else:
            self._reasons.discard(reason)
        if bool(self._reasons) != before:
            _log.info("consumer flow", paused=bool(self._reasons), reasons=sorted(self._reasons))
            self._apply()

    def reapply(self) -> None:
        """Apply the current state again (after a rebalance assigned new partitions)."""
        self._apply()

    def _apply(self) -> None:
        consumer = self._consumer
        if consumer is None:
            return
        assigned = consumer.assignment()
        if self._reasons:
            consumer.pause(*assigned)
        else:
            consumer.resume(*assigned)
