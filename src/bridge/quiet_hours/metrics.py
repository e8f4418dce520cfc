"""Quiet hours as metrics: held records by status, read from the store, and releases."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bridge.observability.metrics import Snapshot, with_zeros

if TYPE_CHECKING:
    from collections.abc import Callable

    from bridge.observability.metrics import Metrics
    from bridge.quiet_hours.holding import Releaser

__all__ = ["watch_quiet_hours"]

HOLD_STATUSES = ("held", "releasing", "released", "superseded")


def watch_quiet_hours(metrics: Metrics, releaser: Callable[[], Releaser | None]) -> None:
    """Register the held records by status (read from the store at scrape) and the releases."""
    held = Snapshot()

    async def refresh() -> None:
        held.values = None
        current = releaser()
        if current is not None:
            counts = await current.store.counts()
            held.values = {"status": with_zeros(counts, HOLD_STATUSES)}

    metrics.refresh_before_scrape("quiet_hours", refresh)
    metrics.watch_gauge(
        "held_records",
        "Records kept by quiet hours, by status (held, releasing, released, superseded); "
        "read from the store at scrape time.",
        lambda: held.get("status"),
        ["status"],
    )
    metrics.watch_counter(
        "held_releases",
        "Held records released (delivered through the cascade) by this process.",
        lambda: None if (r := releaser()) is None else {(): r.released},
    )
