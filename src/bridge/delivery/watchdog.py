"""Notice when delivery stops making progress: a log line, two gauges, a failing liveness probe."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from bridge.observability.logs import get_logger

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    from bridge.delivery.dispatch import Partition, Unsettled

__all__ = ["Progress", "ProgressSource", "ProgressWatchdog"]

_log = get_logger("bridge.watchdog")

MAX_CHECK_INTERVAL = 5.0
"""The watchdog looks at least this often (seconds), and at every liveness probe and scrape."""


class ProgressSource(Protocol):
    """What the watchdog reads of the pipeline (``bridge.delivery.dispatch.Dispatcher`` fits)."""

    @property
    def last_settled_at(self) -> float | None:
        """When a record was last settled (the watchdog's clock); None before the first."""
        ...

    def oldest_unsettled(self) -> Mapping[Partition, Unsettled | None]:
        """Each partition's oldest record read and not settled yet, or None."""
        ...


@dataclass(frozen=True, slots=True)
class Progress:
    """What one look found."""

    stalled: bool
    oldest: Mapping[Partition, float]
    """Age in seconds of each partition's oldest unsettled record (0 when none is)."""


class ProgressWatchdog:
    """Says "stalled" when records are in flight and none has settled for ``stall_seconds``.

    Only time during which delivery could progress counts: while ``held_back()`` names a reason
    (the circuit breaker is not closed, the token is unusable, the flow is held on purpose) the
    count starts again, and so it does while nothing is in flight. Records held by quiet hours
    are settled records, so they never count. A stall is a bug or a hang (a record retried for
    ever, a call that never returns, a lost wake-up): restarting the process is the cure, so the
    liveness probe fails while it lasts.

    On a stall it logs one error naming the partition and offset of the oldest unsettled record;
    when a record settles again it logs that too. ``check`` is cheap: ``run`` calls it every
    ``min(5 s, stall_seconds / 10)``, and ``/health/live`` and ``/metrics`` call it as well, so a
    hold is seen to within that interval and a stall at once.

    Args:
        progress: The dispatcher.
        held_back: The reason delivery is held back on purpose now, or None.
        stall_seconds: How long without a settled record counts as a stall; 0 turns the stall
            verdict off (the ages are still reported).
        clock: Monotonic seconds, the dispatcher's clock; tests pass a fake.
        sleep: Awaited between looks; tests pass a fake.
    """

    def __init__(
        self,
        *,
        progress: ProgressSource,
        held_back: Callable[[], str | None],
        stall_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._progress = progress
        self._held_back = held_back
        self._stall_seconds = stall_seconds
        self._clock = clock
        self._sleep = sleep
        self._free_since = clock()
        self._stalled = False

    @property
    def interval(self) -> float:
        """Seconds between two looks of ``run``."""
        if self._stall_seconds <= 0:
            return MAX_CHECK_INTERVAL
        return min(MAX_CHECK_INTERVAL, self._stall_seconds / 10)

    @property
    def stalled(self) -> bool:
        """The verdict of the last look."""
        return self._stalled

    async def run(self) -> None:
        """Look every ``interval`` seconds, until cancelled."""
        while True:
            self.check()
            await self._sleep(self.interval)

    def check(self) -> Progress:
        """Look now: update the verdict, log a change, and return what was found."""
        now = self._clock()
        found = self._progress.oldest_unsettled()
        ages = {tp: 0.0 if u is None else max(0.0, now - u.read_at) for tp, u in found.items()}
        pending = [u for u in found.values() if u is not None]
        held = self._held_back() if pending else None
        if not pending or held is not None or self._stall_seconds <= 0:
            self._free_since = now
            self._verdict(stalled=False, why=held or "nothing in flight")
            return Progress(stalled=False, oldest=ages)
        oldest = min(pending, key=lambda u: u.read_at)
        last_settled = self._progress.last_settled_at
        # Since the latest of these, records were in flight, none settled and nothing held.
        quiet_since = max(
            self._free_since,
            oldest.read_at,
            oldest.read_at if last_settled is None else last_settled,
        )
        quiet_for = now - quiet_since
        stalled = quiet_for >= self._stall_seconds
        if stalled and not self._stalled:
            _log.error(
                "delivery stalled: no record settled while Zalo and the token are healthy",
                topic=oldest.topic,
                partition=oldest.partition,
                offset=oldest.offset,
                stalled_seconds=round(quiet_for, 1),
                oldest_unsettled_seconds=round(now - oldest.read_at, 1),
                partitions_waiting=len(pending),
            )
        self._verdict(stalled=stalled, why="a record settled")
        return Progress(stalled=stalled, oldest=ages)

    def _verdict(self, *, stalled: bool, why: str) -> None:
        if self._stalled and not stalled:
            _log.warning("delivery no longer stalled", why=why)
        self._stalled = stalled
