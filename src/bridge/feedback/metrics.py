"""The survey as metrics: surveys planned, asked, skipped (by reason), answered, published."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from bridge.feedback.service import SurveyService
    from bridge.observability.metrics import Counts, Metrics

__all__ = ["SURVEY_OUTCOMES", "watch_feedback"]

SURVEY_OUTCOMES = (
    "planned",
    "asked",
    "answered",
    "commented",
    "published",
    "repeated",
    "stopped",
    "skipped:outside_window",
    "skipped:send_failed",
    "skipped:refused",
)


def watch_feedback(metrics: Metrics, service: Callable[[], SurveyService | None]) -> None:
    """Register the survey's counts (left out while the survey is off)."""

    def read() -> Counts | None:
        current = service()
        if current is None:
            return None
        counts = dict.fromkeys(SURVEY_OUTCOMES, 0.0)
        counts.update({key: float(value) for key, value in current.stats.items()})
        return {(outcome,): value for outcome, value in counts.items()}

    metrics.watch_counter(
        "surveys",
        "Satisfaction surveys by outcome: planned (a finished dossier, per citizen), asked, "
        "answered, commented (a reason after an unhappy rating), published (a citizen-feedback "
        "event), repeated (a second answer: the first stands), stopped (HUY KHAO SAT), "
        "skipped:<why> (outside_window, send_failed, refused).",
        read,
        ["outcome"],
    )
