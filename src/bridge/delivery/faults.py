"""Tell infrastructure faults from a record's own; hold the consumer while infrastructure is out.

The one rule of the record path: every record reaches exactly one terminal outcome in bounded
time. A fault of the record itself (it cannot be decoded, worded or stored) dead-letters it at
once; an unexpected exception (a bug) is tried again, at most ``max_tries`` times in all, then
dead-letters it as ``processing_failed``; an infrastructure fault (the database or the broker
unreachable) is no fault of the record: it is waited out with backoff, as long as it lasts, while
the consumer is paused and the pod reports itself unready, and it never dead-letters anything.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Self

from aiokafka.errors import KafkaError

from bridge.delivery.outbox import PublishError
from bridge.errors import StoreError, TokenStoreError

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

__all__ = ["INFRASTRUCTURE_HOLDS", "Outage", "OutageWatch", "backoff", "infrastructure_of"]

INFRASTRUCTURE_HOLDS = frozenset({"store_unavailable", "broker_unavailable"})
"""The flow-control reasons an infrastructure fault holds the consumer (and readiness) for."""


def infrastructure_of(error: BaseException) -> str | None:
    """Which piece of infrastructure ``error`` says is out (``store``, ``broker``), or None.

    None means the error is the record's own fault or a bug: not an outage.
    """
    if isinstance(error, StoreError | TokenStoreError):
        return "store"
    if isinstance(error, PublishError | KafkaError):
        return "broker"
    if isinstance(error, ConnectionError):  # a driver that let a socket error through
        return "store"
    return None


def backoff(failures: int, *, initial: float, cap: float) -> float:
    """The wait after the ``failures``-th failure in a row: doubling from ``initial`` up to ``cap``.

    Up to ``initial`` of random jitter is added (never past ``cap``), so that the lanes that
    met the same outage do not all come back in the same instant.
    """
    base: float = min(cap, initial * 2.0 ** min(failures - 1, 30))
    jitter = random.uniform(0, initial)  # noqa: S311 - spreading retries, not a secret
    return min(cap, base + jitter)


class Outage:
    """Counts who is waiting out which infrastructure; holds the consumer while anyone is.

    Args:
        hold: ``FlowControl.hold``: pauses the partitions and (through ``INFRASTRUCTURE_HOLDS``)
            makes ``/health/ready`` answer 503.
    """

    def __init__(self, hold: Callable[..., None]) -> None:
        self._hold = hold
        self._waiting: dict[str, int] = {}

    def begin(self, kind: str) -> None:
        """One more caller waits for ``kind`` to come back."""
        self._waiting[kind] = self._waiting.get(kind, 0) + 1
        if self._waiting[kind] == 1:
            self._hold(f"{kind}_unavailable", on=True)

    def end(self, kind: str) -> None:
        """That caller is done waiting (it succeeded, or it stopped)."""
        left = self._waiting.get(kind, 0) - 1
        if left > 0:
            self._waiting[kind] = left
            return
        self._waiting.pop(kind, None)
        self._hold(f"{kind}_unavailable", on=False)

    def watch(self) -> OutageWatch:
        """A tracker for one caller's retry loop (``with outage.watch() as watch: …``)."""
        return OutageWatch(self)


class OutageWatch:
    """One retry loop's part in an ``Outage``: counted from its first fault until it is done."""

    def __init__(self, outage: Outage | None) -> None:
        self._outage = outage
        self._kind: str | None = None

    def failed(self, kind: str) -> None:
        """The loop met an outage of ``kind`` and will try again."""
        if self._outage is None or self._kind == kind:
            return
        self.recovered()
        self._kind = kind
        self._outage.begin(kind)

    def recovered(self) -> None:
        """The loop got through (or gave up): it no longer waits."""
        if self._outage is not None and self._kind is not None:
            self._outage.end(self._kind)
        self._kind = None

    def __enter__(self) -> Self:
        """Start watching."""
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop waiting, however the loop ended (cancellation included)."""
        self.recovered()
