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

__all__ = ["BreakerState", "CircuitBreaker", "FlowControl", "Probe", "oa_rate_limiter"]

_log = get_logger("bridge.flow")


class BreakerState(StrEnum):
    """Where the breaker stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Probe:
    """The one call a half-open breaker lets through; handed back with ``release_probe``."""

    __slots__ = ()


class CircuitBreaker:
    """Stops calling Zalo while it keeps failing, then lets one probe through before resuming.

    ``failure_threshold`` consecutive transient failures open it for ``open_seconds``; each failed
    probe doubles that, up to ``max_open_seconds``. ``trip`` opens it at once, for trouble that
    only an administrator can fix (a refused token, a disabled OA): the probes then tell when it
    is fixed. Every state change is reported to ``on_change`` (the consumer pauses its partitions
    while the breaker is not closed, so an outage loses and dead-letters nothing).

    An open breaker turns half-open by time: whoever looks at it (``state``, a caller waiting in
    ``before_call``, the background prober waiting in ``next_probe``) sees it half-open once the
    open time is over, so it recovers with no record in flight. One probe at a time: the slot is
    held by a ``Probe`` until a verdict (``success``, ``failure``, ``trip``) or until it is handed
    back (``release_probe``, which the holder calls in a ``finally``, so a probe that ends without
    a verdict, cancelled mid-send included, lets the next one go).

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
        self._probe: Probe | None = None
        self._reason: str | None = None
        self._changed = asyncio.Event()

    @property
    def state(self) -> BreakerState:
        """The current state; an open breaker whose open time is over is half-open."""
        self._expire()
        return self._state

    @property
    def reason(self) -> str | None:
        """Why it opened, while it is not closed."""
        return self._reason

    @property
    def open_seconds(self) -> float:
        """How long the breaker stays open when it opens (or stayed open the last time)."""
        return self._open_for

    @property
    def probing(self) -> bool:
        """True while a probe is out."""
        return self._probe is not None

    def _expire(self) -> None:
        if self._state is BreakerState.OPEN and self._clock() >= self._open_until:
            self._set(BreakerState.HALF_OPEN, self._reason)

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _set(self, state: BreakerState, reason: str | None) -> None:
        if state is self._state and reason == self._reason:
            return
        self._state, self._reason = state, reason
        self._notify()
        log = _log.warning if state is not BreakerState.CLOSED else _log.info
        log("circuit breaker", state=state.value, reason=reason, open_seconds=self._open_for)
        if self._on_change is not None:
            self._on_change(state, reason)

    async def before_call(self) -> Probe | None:
        """Return when a call may go out: at once while closed, as the probe when half-open.

        Returns:
            None while closed. Otherwise the caller holds the probe: it reports ``success``,
            ``failure`` or ``trip``, and hands the probe back with ``release_probe`` in a
            ``finally`` (harmless after a verdict; without one, it lets the next caller probe).
        """
        return await self._next(closed_passes=True)

    async def next_probe(self) -> Probe:
        """Wait until a probe is due (half-open by time, no probe out) and take it.

        While the breaker is closed this waits for it to open: the background prober's loop.
        """
        while True:
            probe = await self._next(closed_passes=False)
            if probe is not None:
                return probe

    async def _next(self, *, closed_passes: bool) -> Probe | None:
        while True:
            self._expire()
            if self._state is BreakerState.CLOSED:
                if closed_passes:
                    return None
                await self._change_or_timeout(None)
            elif self._state is BreakerState.OPEN:
                await self._change_or_timeout(self._open_until - self._clock())
            elif self._probe is None:
                self._probe = Probe()
                return self._probe
            else:
                await self._change_or_timeout(None)

    async def _change_or_timeout(self, seconds: float | None) -> None:
        """Wait for the next change or ``seconds`` (the injected sleep), whichever comes first."""
        changed = self._changed.wait()
        if seconds is None:
            await changed
            return
        waits = [asyncio.ensure_future(changed), asyncio.ensure_future(self._sleep(seconds))]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    def success(self) -> None:
        """A call went through: close, and forget the failures."""
        self._failures = 0
        self._probe = None
        self._open_for = self._base_open
        self._set(BreakerState.CLOSED, None)

    def failure(self, reason: str) -> None:
        """A call failed for a transient reason."""
        self._failures += 1
        if self._state is BreakerState.HALF_OPEN:
            self._probe = None
            self._open_for = min(self._open_for * 2, self._max_open)
            self._open(reason)
        elif self._state is BreakerState.CLOSED and self._failures >= self._threshold:
            self._open(reason)

    def release_probe(self, probe: Probe | None) -> None:
        """Hand ``probe`` back: if no verdict came for it, the next caller may probe.

        Does nothing for None, or for a probe whose verdict is in (the slot may belong to a
        later probe by then).
        """
        if probe is not None and probe is self._probe:
            self._probe = None
            self._notify()

    def trip(self, reason: str) -> None:
        """Open now: nothing can be sent until an administrator acts (probes tell when)."""
        self._probe = None
        if self._state is BreakerState.HALF_OPEN:
            self._open_for = min(self._open_for * 2, self._max_open)
        self._open(reason)

    def _open(self, reason: str) -> None:
        self._open_until = self._clock() + self._open_for
        self._set(BreakerState.OPEN, reason)
        self._notify()  # a new open time, even when the state and reason stay the same


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
