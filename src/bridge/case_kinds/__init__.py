"""Case kinds beside administrative procedures: complaints, denunciations, land disputes.

The pure legal model (no I/O): each kind's states with their Vietnamese labels and allowed
moves (``lifecycles``), the statutory time limits with their sources (``statutory``), the
arithmetic of due dates (``deadlines``) over a working-day calendar (``working_days``,
``vietnam_calendar``), and the due date of a case from its history (``case_clock``).
docs/complaints-and-disputes.md explains the law behind every figure.
"""

from bridge.case_kinds.case_clock import Due, Entry, statutory_due
from bridge.case_kinds.deadlines import (
    Certainty,
    Circumstances,
    Complexity,
    DayCount,
    DeadlineCatalogue,
    DeadlineRule,
    Extensions,
    Level,
    Party,
    Pause,
    Period,
    Variant,
    due_date,
)
from bridge.case_kinds.lifecycles import (
    CaseKind,
    ComplaintState,
    DenunciationState,
    LandDisputeState,
    Lifecycle,
    Notice,
    StateSpec,
    Step,
    lifecycle,
)
from bridge.case_kinds.statutory import TWO_TIER_GOVERNMENT, statutory_catalogue
from bridge.case_kinds.vietnam_calendar import vietnam_calendar
from bridge.case_kinds.working_days import WorkingCalendar

__all__ = [
    "TWO_TIER_GOVERNMENT",
    "CaseKind",
    "Certainty",
    "Circumstances",
    "ComplaintState",
    "Complexity",
    "DayCount",
    "DeadlineCatalogue",
    "DeadlineRule",
    "DenunciationState",
    "Due",
    "Entry",
    "Extensions",
    "LandDisputeState",
    "Level",
    "Lifecycle",
    "Notice",
    "Party",
    "Pause",
    "Period",
    "StateSpec",
    "Step",
    "Variant",
    "WorkingCalendar",
    "due_date",
    "lifecycle",
    "statutory_catalogue",
    "statutory_due",
    "vietnam_calendar",
]
