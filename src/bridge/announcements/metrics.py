"""Announcements as metrics: progress of the active ones, read from the store, and the sends."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bridge.observability.metrics import Snapshot

if TYPE_CHECKING:
    from collections.abc import Callable

    from bridge.announcements.service import AnnouncementService
    from bridge.observability.metrics import Counts, Metrics

__all__ = ["watch_announcements"]

RECIPIENT_STATUSES = ("pending", "sent", "failed", "expired")


def watch_announcements(
    metrics: Metrics, service: Callable[[], AnnouncementService | None]
) -> None:
    """Register the active announcements' progress (read from the store) and the sends."""
    progress = Snapshot()

    async def refresh() -> None:
        progress.values = None
        current = service()
        if current is None:
            return
        recipients = dict.fromkeys(RECIPIENT_STATUSES, 0.0)
        rate, eta = 0.0, 0.0
        ids = await current.store.active_ids()
        for announcement_id in ids:
            found = await current.store.progress(announcement_id)
            if found is None:
                continue
            recipients["pending"] += found.pending
            recipients["sent"] += found.sent
            recipients["failed"] += found.failed
            recipients["expired"] += found.expired
            rate += found.per_minute or 0.0
            eta = max(eta, found.eta_seconds or 0.0)
        progress.values = {
            "recipients": recipients,
            "active": {(): len(ids)},
            "rate": {(): rate},
            "eta": {(): eta},
        }

    metrics.refresh_before_scrape("announcements", refresh)
    metrics.watch_gauge(
        "announcement_recipients",
        "Recipients of the announcements still waiting or going out, by status (pending, "
        "sent, failed, expired); read from the store at scrape time.",
        lambda: progress.get("recipients"),
        ["status"],
    )
    metrics.watch_gauge(
        "announcements_active",
        "Announcements still waiting or going out.",
        lambda: progress.get("active"),
    )
    metrics.watch_gauge(
        "announcement_fanout_per_minute",
        "Copies settled per minute since each active announcement started, summed.",
        lambda: progress.get("rate"),
    )
    metrics.watch_gauge(
        "announcement_eta_seconds",
        "Seconds until the slowest active announcement is through, at its rate so far "
        "(0 when none is going out or the rate is unknown).",
        lambda: progress.get("eta"),
    )

    def sends() -> Counts | None:
        current = service()
        if current is None:
            return None
        stats = current.fanout.stats
        counts: dict[Any, float] = {("sent", "none"): stats.sent}
        counts.update({("failed", reason): n for reason, n in stats.failed.items()})
        return counts

    metrics.watch_counter(
        "announcement_sends",
        "Announcement copies settled by this process, by outcome (sent, failed) and the "
        "failure's class (rejected, unreachable, expired, …).",
        sends,
        ["outcome", "reason"],
    )
    metrics.watch_counter(
        "announcement_send_retries",
        "Announcement copies that failed transiently and wait to be sent again.",
        lambda: None if (s := service()) is None else {(): s.fanout.stats.retried},
    )
    metrics.watch_counter(
        "announcement_reconciled",
        "Announcement copies whose unanswered send was found in the conversation (not resent).",
        lambda: None if (s := service()) is None else {(): s.fanout.stats.reconciled},
    )
