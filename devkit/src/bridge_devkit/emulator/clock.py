"""Time for the emulator: an injectable wall clock and UTC ISO-8601 conversions."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeAlias

__all__ = ["Clock", "ManualClock", "from_iso", "system_clock", "to_epoch_ms", "to_iso"]

Clock: TypeAlias = Callable[[], float]
"""A callable returning the current wall-clock time in epoch seconds (like `time.time`)."""


def system_clock() -> float:
    """Return the real wall-clock time in epoch seconds."""
    return time.time()


class ManualClock:
    """A clock that only moves when told to, so tests can cross windows without sleeping."""

    def __init__(self, start: float | datetime) -> None:
        """Start the clock at `start` (epoch seconds, or an aware datetime; naive means UTC)."""
        self.now = start if isinstance(start, float | int) else _aware(start).timestamp()

    def __call__(self) -> float:
        """Return the current manual time in epoch seconds."""
        return self.now

    def advance(self, seconds: float) -> float:
        """Move the clock forward by `seconds` and return the new time."""
        self.now += seconds
        return self.now

    def set(self, when: float | datetime) -> None:
        """Jump to `when` (epoch seconds, or a datetime; naive means UTC)."""
        self.now = when if isinstance(when, float | int) else _aware(when).timestamp()


def to_iso(epoch_s: float) -> str:
    """Format epoch seconds as an ISO-8601 UTC timestamp with milliseconds."""
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="milliseconds")


def from_iso(text: str) -> float:
    """Parse an ISO-8601 timestamp (a trailing `Z` and naive values mean UTC) to epoch seconds."""
    return _aware(datetime.fromisoformat(text)).timestamp()


def to_epoch_ms(epoch_s: float) -> str:
    """Format epoch seconds as Zalo does: integer epoch milliseconds, as a string."""
    return str(int(epoch_s * 1000))


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
