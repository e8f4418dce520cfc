"""The variables a message template sees, taken from one event and the province's context."""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from datetime import datetime  # noqa: TC003 - variable_schema() resolves the hints at run time
from typing import TYPE_CHECKING, Any, Union, get_type_hints
from urllib.parse import quote

from bridge.events import CaseState, CaseStateEvent

if TYPE_CHECKING:
    from bridge.wording import MessageContext

__all__ = [
    "CLOSED_STATES",
    "RECORD_TYPES",
    "CaseVars",
    "DueChangeVars",
    "KindVars",
    "PaymentVars",
    "ResultVars",
    "TransferVars",
    "message_variables",
    "variable_schema",
]

_KIND_LABELS = {
    "COMPLAINT": "Khiếu nại",
    "DENUNCIATION": "Tố cáo",
    "LAND_DISPUTE": "Tranh chấp đất đai",
}
"""The kinds' Vietnamese names (``bridge.case_kinds.CaseKind.label``; the wording stays pure)."""

CLOSED_STATES = frozenset(
    {
        CaseState.REJECTED_AT_INTAKE,
        CaseState.STOPPED,
        CaseState.RESULT_RETURNED,
        CaseState.WITHDRAWAL_REQUESTED,
    }
)
"""States after which no appointment date is shown (the variable ``closed``)."""


@dataclass(frozen=True, slots=True)
class CaseVars:
    """``case``: the dossier."""

    code: str
    procedure_code: str
    procedure_name: str
    agency: str
    agency_code: str | None
    department: str | None
    channel: str | None
    received_at: datetime | None
    due_at: datetime | None


@dataclass(frozen=True, slots=True)
class DocumentVars:
    """``result.documents[]``: one document of the result (sent as a file after the text)."""

    title: str
    url: str
    content_type: str
    size: int


@dataclass(frozen=True, slots=True)
class ResultVars:
    """``result``: where and how the citizen gets the result (None when the event has none)."""

    pickup_location: str | None
    note: str | None
    electronic_result_url: str | None
    by_post: bool
    documents: tuple[DocumentVars, ...] = ()


@dataclass(frozen=True, slots=True)
class TransferVars:
    """``transfer``: a move to another department or step."""

    from_unit: str | None
    to_unit: str
    step_name: str | None


@dataclass(frozen=True, slots=True)
class DueChangeVars:
    """``due_change``: a new appointment date."""

    old_due_at: datetime | None
    new_due_at: datetime
    apology: bool


@dataclass(frozen=True, slots=True)
class PaymentVars:
    """``payment``: a fee requested or paid."""

    amount_vnd: int
    payment_url: str | None


@dataclass(frozen=True, slots=True)
class KindVars:
    """``kind``: a complaint, denunciation or land dispute (None for a dossier).

    ``name`` is ``COMPLAINT``, ``DENUNCIATION`` or ``LAND_DISPUTE``; ``label`` its Vietnamese
    name; ``state``/``state_label`` the kind's own state; ``statutory_period`` the time limit the
    law sets for the step (``30 ngày``), binding ``statutory_party`` (``agency``, ``citizen``,
    ``effect``); ``due_at`` the agency's due date; the decision and the meeting when given.
    ``protected`` is true for a denunciation: name nobody, link nothing.
    """

    name: str
    label: str
    state: str
    state_label: str
    step: str
    terminal: bool
    statutory_period: str | None
    statutory_party: str | None
    due_at: datetime | None
    decision_number: str | None
    decision_issued_at: datetime | None
    meeting_at: datetime | None
    meeting_place: str | None
    protected: bool


@dataclass(frozen=True, slots=True)
class _Variables:
    """The top-level variables (documented in docs/templates.md)."""

    case: CaseVars
    state: str
    state_label: str
    state_code: int
    previous_state: str | None
    event_type: str
    occurred_at: datetime
    province: str
    reason: str | None
    result: ResultVars | None
    transfer: TransferVars | None
    due_change: DueChangeVars | None
    payment: PaymentVars | None
    closed: bool
    lookup_url: str
    signature: str | None
    kind: KindVars | None


_VARIABLE_NAMES = tuple(field.name for field in dataclasses.fields(_Variables))
"""The top-level variables, in order (read once: every event is worded)."""

RECORD_TYPES: frozenset[type] = frozenset(
    {CaseVars, ResultVars, DocumentVars, TransferVars, DueChangeVars, PaymentVars, KindVars}
)
"""The records templates see; they hold data only (the sandbox's fast path relies on it)."""


def _str(value: object | None) -> str | None:
    return None if value is None else str(value)


def lookup_url(event: CaseStateEvent, context: MessageContext) -> str:
    """The event's own lookup link, or the province's with the URL-encoded dossier code."""
    if event.lookup_url is not None:
        return str(event.lookup_url)
    return context.lookup_url_template.replace("{case_code}", quote(event.case.code, safe=""))


def message_variables(event: CaseStateEvent, context: MessageContext) -> dict[str, Any]:
    """The variables of the templates for ``event``, by name."""
    case = event.case
    result = event.result
    transfer = event.transfer
    change = event.due_date_change
    payment = event.payment
    details = event.kind_details
    kind = None
    if details is not None:
        kind = KindVars(
            name=details.kind,
            label=_KIND_LABELS.get(details.kind, details.kind),
            state=details.state,
            state_label=details.label,
            step=details.step,
            terminal=details.terminal,
            statutory_period=details.statutory_period,
            statutory_party=details.statutory_party,
            due_at=details.due_at,
            decision_number=details.decision_number,
            decision_issued_at=details.decision_issued_at,
            meeting_at=details.meeting_at,
            meeting_place=details.meeting_place,
            protected=details.protects_identity,
        )
    variables = _Variables(
        case=CaseVars(
            code=case.code,
            procedure_code=case.procedure_code,
            procedure_name=case.procedure_name,
            agency=case.receiving_agency.name,
            agency_code=case.receiving_agency.code,
            department=case.handling_department,
            channel=_str(case.channel),
            received_at=case.received_at,
            due_at=case.due_at,
        ),
        state=kind.state if kind else event.state.value,
        state_label=kind.state_label if kind else event.state.label,
        state_code=0 if kind else event.state.dvcqg_code,
        previous_state=None if kind else _str(event.previous_state),
        event_type=event.event_type.value,
        occurred_at=event.occurred_at,
        province=event.province,
        reason=event.reason,
        result=None
        if result is None
        else ResultVars(
            pickup_location=result.pickup_location,
            note=result.note,
            electronic_result_url=_str(result.electronic_result_url),
            by_post=result.by_post,
            documents=tuple(
                DocumentVars(d.title, str(d.url), d.content_type, d.size) for d in result.documents
            ),
        ),
        transfer=None
        if transfer is None
        else TransferVars(transfer.from_unit, transfer.to_unit, transfer.step_name),
        due_change=None
        if change is None
        else DueChangeVars(change.old_due_at, change.new_due_at, change.apology),
        payment=None
        if payment is None
        else PaymentVars(payment.amount_vnd, _str(payment.payment_url)),
        closed=kind.terminal if kind else event.state in CLOSED_STATES,
        lookup_url="" if kind and kind.protected else lookup_url(event, context),
        signature=context.signature,
        kind=kind,
    )
    return {name: getattr(variables, name) for name in _VARIABLE_NAMES}


Schema = dict[str, Any]
"""A variable's shape: a nested schema for our dataclasses, else the Python type of the value."""


def _shape(hint: Any) -> Any:
    if typing.get_origin(hint) in {Union, types.UnionType}:
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        hints = get_type_hints(hint)
        return {f.name: _shape(hints[f.name]) for f in dataclasses.fields(hint)}
    return hint


def variable_schema() -> Schema:
    """Every variable and attribute a template may use, for the unknown-placeholder check."""
    shape = _shape(_Variables)
    assert isinstance(shape, dict)  # noqa: S101 - _Variables is a dataclass
    return shape
