"""The per-app request budget: a fixed window aligned on the calendar minute.

Semantics (the reference, §9, says "4,000 requests/minute per app" and advises retrying
"after the minute rolls over", which reads as a fixed window):

* Time is cut into windows of `window_s` seconds aligned on the epoch, so with the default
  60 s every window is one UTC calendar minute (hh:mm:00.000 to hh:mm:59.999).
* Each counted call uses one unit of the current window's budget; the call that would make the
  count exceed the limit is refused, and refused calls do not use budget.
* When the window changes, the count starts again from zero, whatever happened before
  (a burst of 2 × limit across a minute boundary is therefore possible, as with any fixed window).
* A limit of 0 switches the limiter off: every call is allowed and no budget is reported.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FixedWindowRateLimiter", "RateDecision"]


@dataclass(frozen=True, slots=True)
class RateDecision:
    """The outcome of one call against the budget.

    Attributes:
        allowed: Whether the call fits in the budget.
        limit: The budget per window, or None when the limiter is off.
        remaining: Calls left in the current window after this one, or None when off.
    """

    allowed: bool
    limit: int | None
    remaining: int | None


_UNLIMITED = RateDecision(allowed=True, limit=None, remaining=None)


class FixedWindowRateLimiter:
    """Count calls per fixed, epoch-aligned window and refuse those over the limit."""

    __slots__ = ("_count", "_limit", "_window_index", "_window_s")

    def __init__(self, limit: int, window_s: float = 60.0) -> None:
        """Create a limiter allowing `limit` calls per `window_s` seconds (0 = off)."""
        if limit < 0:
            raise ValueError("limit must be >= 0")
        if window_s <= 0:
            raise ValueError("window_s must be > 0")
        self._limit = limit
        self._window_s = window_s
        self._window_index = -1
        self._count = 0

    @property
    def limit(self) -> int:
        """The calls allowed per window; 0 means the limiter is off."""
        return self._limit

    @limit.setter
    def limit(self, value: int) -> None:
        if value < 0:
            raise ValueError("limit must be >= 0")
        self._limit = value

    def hit(self, now: float) -> RateDecision:
        """Count one call at time `now` (epoch seconds) and say whether it is allowed."""
        if self._limit == 0:
            return _UNLIMITED
        self._roll(now)
        if self._count >= self._limit:
            return RateDecision(allowed=False, limit=self._limit, remaining=0)
        self._count += 1
        return RateDecision(allowed=True, limit=self._limit, remaining=self._limit - self._count)

    def peek(self, now: float) -> RateDecision:
        """Report the budget at time `now` without counting a call."""
        if self._limit == 0:
            return _UNLIMITED
        self._roll(now)
        remaining = max(self._limit - self._count, 0)
        return RateDecision(allowed=remaining > 0, limit=self._limit, remaining=remaining)

    def reset(self) -> None:
        """Forget the calls counted in the current window."""
        self._window_index = -1
        self._count = 0

    def _roll(self, now: float) -> None:
        index = int(now // self._window_s)
        if index != self._window_index:
            self._window_index = index
            self._count = 0
