"""A dossier's latest state as the bridge keeps it for lookups, derived from case-state events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bridge.events import CaseState

if TYPE_CHECKING:
    from bridge.events import CaseStateEvent

__all__ = ["FINAL_STATES", "DossierState", "dossier_state"]

FINAL_STATES = frozenset(
    {CaseState.REJECTED_AT_INTAKE, CaseState.STOPPED, CaseState.RESULT_RETURNED}
)
"""States after which nothing more is expected (national codes 3, 8 and 10)."""


@dataclass(frozen=True, slots=True)
class DossierState:
    """What a lookup answers: no name, phone or ID number, only the dossier's progress.

    ``phone_last4_hash`` is the keyed hash of the registered phone's last 4 digits (second
    factor), never the phone itself. Times are epoch seconds, UTC.
    """

    case_code: str
    sequence: int
    state: CaseState
    procedure_code: str
    procedure_name: str
    agency_code: str | None
    agency_name: str
    handling_department: str | None
    due_at: float | None
    occurred_at: float
    phone_last4_hash: str | None = None


def dossier_state(event: CaseStateEvent, *, phone_last4_hash: str | None) -> DossierState:
    """The latest state ``event`` leaves its dossier in."""
    case = event.case
    due = case.due_at
    if event.due_date_change is not None:
        due = event.due_date_change.new_due_at
    return DossierState(
        case_code=case.code,
        sequence=event.sequence,
        state=event.state,
        procedure_code=case.procedure_code,
        procedure_name=case.procedure_name,
        agency_code=case.receiving_agency.code,
        agency_name=case.receiving_agency.name,
        handling_department=case.handling_department
        or (event.transfer.to_unit if event.transfer is not None else None),
        due_at=None if due is None else due.timestamp(),
        occurred_at=event.occurred_at.timestamp(),
        phone_last4_hash=phone_last4_hash,
    )
