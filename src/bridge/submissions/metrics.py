"""The submissions as metrics: steps, starts, confirmations, attachments, reminders, expiries."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from bridge.observability.metrics import Counts, Metrics
    from bridge.submissions.outbox import SubmissionWorker
    from bridge.submissions.service import SubmissionDesk

__all__ = ["SUBMISSION_OUTCOMES", "watch_submissions"]

SUBMISSION_OUTCOMES = (
    "step",
    "replayed",
    "started",
    "confirmed",
    "cancelled",
    "reminded",
    "expired",
    "attachment:stored",
    "attachment:refused",
    "published",
    "purged",
    "reply:failed",
    "reply:resent",
    "reply:dropped",
)


def watch_submissions(
    metrics: Metrics, parts: Callable[[], tuple[SubmissionDesk, SubmissionWorker] | None]
) -> None:
    """Register the submissions' counts (left out while the wing is off)."""

    def read() -> Counts | None:
        current = parts()
        if current is None:
            return None
        desk, worker = current
        stats = desk.stats
        counts = {
            "step": stats.steps,
            "replayed": stats.replayed,
            "started": stats.started,
            "confirmed": stats.confirmed,
            "cancelled": stats.cancelled,
            "reminded": stats.reminded,
            "expired": stats.expired,
            "attachment:stored": stats.attachments.get("stored", 0),
            "attachment:refused": stats.attachments.get("refused", 0),
            "published": worker.published,
            "purged": worker.purged,
            "reply:failed": stats.replies_failed,
            "reply:resent": stats.replies_resent,
            "reply:dropped": stats.replies_dropped,
        }
        return {(outcome,): float(counts[outcome]) for outcome in SUBMISSION_OUTCOMES}

    metrics.watch_counter(
        "submissions",
        "Dossiers filed in the chat, by outcome: step (an event taken), replayed (an event taken "
        "before), started, confirmed, cancelled, reminded, expired, attachment:stored, "
        "attachment:refused, published (a citizen-submission event), purged (retention), "
        "reply:failed (an answer Zalo did not take), reply:resent (owed answers sent by the "
        "sweep), reply:dropped (answers Zalo refused for good, or owed past the expiry).",
        read,
        ["outcome"],
    )
