"""The v2 case-event contract: complaints, denunciations and land disputes beside dossiers.

v2 is read beside v1 (docs/complaints-and-disputes.md §9.1): its own topic, ACLs, DLQ and status
topic; ``case.kind`` is required, so a record that forgets it is dead-lettered, never delivered as
an ordinary dossier. Each record's ``schema_version`` decides how it is read
(``parse_case_event``); a v2 event becomes the one internal model (``CaseStateEvent`` with its
``kind_details``), so wording, the ledger, quiet hours and the status events work on one model.
"""

from __future__ import annotations

import unicodedata
from collections import OrderedDict
from typing import TYPE_CHECKING, Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    ValidationError,
    model_validator,
)

from bridge.case_kinds.deadlines import Certainty, DayCount, DeadlineCatalogue
from bridge.case_kinds.lifecycles import CaseKind, Notice, Step, lifecycle
from bridge.case_kinds.statutory import statutory_catalogue
from bridge.errors import InvalidEventError, InvalidEventReason, exception_name
from bridge.events import (
    Agency,
    CaseState,
    CaseStateEvent,
    EventType,
    KindDetails,
    Recipient,
    ResultInfo,
    event_from_document,
    invalid_event,
    parse_event,
)
from bridge.record_json import INT64_MAX, decode_json_object

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import date

__all__ = [
    "SCHEMA_V2_ID",
    "CaseEventReader",
    "CaseEventV2",
    "CaseInfoV2",
    "DeadlineInfo",
    "DecisionInfo",
    "MeetingInfo",
    "event_v2_json_schema",
    "generic_state",
    "parse_case_event",
    "unconfirmed_limits",
    "upcast",
]

SCHEMA_V2_ID = "https://github.com/zalo-bridge/bridge/schemas/case-state-event.v2.json"

_CASE_CODE = r"^[0-9A-Za-z.\-]{8,40}$"


def _nfc(value: str) -> str:
    return unicodedata.normalize("NFC", value).strip()


Text = Annotated[str, AfterValidator(_nfc)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", str_max_length=4000)


class CaseInfoV2(_Model):
    """The case: a dossier, a complaint, a denunciation or a land dispute."""

    kind: CaseKind = Field(
        description=(
            "What kind of case it is; required, so that a record never becomes an ordinary "
            "dossier by omission."
        )
    )
    code: str = Field(pattern=_CASE_CODE, description="The case code (số hồ sơ / số đơn).")
    procedure_code: str | None = Field(
        default=None, max_length=60, description="The procedure code, when there is one."
    )
    procedure_name: Text | None = Field(
        default=None,
        max_length=500,
        description=(
            "What the case is about, as the citizen knows it. Never used for a denunciation: "
            "its messages name the kind only (the denouncer's identity is protected)."
        ),
    )
    receiving_agency: Agency = Field(description="The agency that handles the case.")
    handling_department: Text | None = Field(default=None, max_length=300)
    received_at: AwareDatetime | None = None


class DecisionInfo(_Model):
    """The decision (complaint, land dispute) or the conclusion (denunciation)."""

    number: str | None = Field(default=None, max_length=60, examples=["125/QĐ-UBND"])
    issued_at: AwareDatetime | None = None


class MeetingInfo(_Model):
    """A dialogue (đối thoại) or mediation (hòa giải) meeting the citizen is invited to."""

    at: AwareDatetime
    place: Text = Field(min_length=1, max_length=300)


class DeadlineInfo(_Model):
    """The agency's due date for the step the case is in (the producer counts it)."""

    due_at: AwareDatetime


class CaseEventV2(_Model):
    """One change to one case of any kind (v2), keyed by the case code like v1."""

    model_config = ConfigDict(title="CaseStateEventV2", json_schema_extra={"$id": SCHEMA_V2_ID})

    schema_version: Literal[2] = Field(description="Contract version.")
    event_id: UUID
    event_type: EventType = Field(default=EventType.STATE_CHANGED)
    occurred_at: AwareDatetime
    province: str = Field(pattern=r"^[a-z]+(?:-[a-z]+)*$", max_length=40)
    source_system: str | None = Field(default=None, max_length=60)
    sequence: int = Field(ge=0, le=INT64_MAX)
    case: CaseInfoV2
    state: str = Field(
        min_length=1,
        max_length=60,
        description=(
            "The case's state in its kind's lifecycle (docs/complaints-and-disputes.md), or one "
            "of the ten dossier states for ADMINISTRATIVE_PROCEDURE."
        ),
    )
    previous_state: str | None = Field(default=None, max_length=60)
    reason: Text | None = Field(
        default=None, max_length=1000, description="Why the case was not accepted or stopped."
    )
    decision: DecisionInfo | None = None
    meeting: MeetingInfo | None = None
    deadline: DeadlineInfo | None = None
    result: ResultInfo | None = None
    lookup_url: HttpUrl | None = None
    recipient: Recipient = Field(
        description="For a denunciation, the denouncer: the only person ever told about it."
    )

    @model_validator(mode="after")
    def _state_of_its_kind(self) -> CaseEventV2:
        names = _state_names(self.case.kind)
        if self.state not in names:
            raise ValueError(f"state {self.state[:60]!r} is not a {self.case.kind.value} state")
        if self.previous_state is not None and self.previous_state not in names:
            raise ValueError(f"previous_state is not a {self.case.kind.value} state")
        return self


def _state_names(kind: CaseKind) -> frozenset[str]:
    if kind is CaseKind.ADMINISTRATIVE_PROCEDURE:
        return frozenset(state.value for state in CaseState)
    return frozenset(lifecycle(kind).states)


_GENERIC: dict[Step, CaseState] = {
    Step.RECEIPT: CaseState.RECEIVED,
    Step.ACCEPTANCE: CaseState.IN_PROGRESS,
    Step.REFUSAL: CaseState.REJECTED_AT_INTAKE,
    Step.PROCESSING: CaseState.IN_PROGRESS,
    Step.VERIFICATION: CaseState.IN_PROGRESS,
    Step.DIALOGUE: CaseState.IN_PROGRESS,
    Step.MEDIATION: CaseState.IN_PROGRESS,
    Step.SUSPENSION: CaseState.IN_PROGRESS,
    Step.DECISION: CaseState.RESULT_READY,
    Step.APPEAL: CaseState.IN_PROGRESS,
    Step.CLOSURE: CaseState.RESULT_RETURNED,
}
"""The dossier state that stands for a kind's step where only the generic one is read (the
cascade's per-state routes): a decision is a result, a refusal a refusal at intake."""


def generic_state(kind: CaseKind, state: str) -> CaseState:
    """The generic dossier state of ``state`` of ``kind`` (see ``_GENERIC``)."""
    spec = lifecycle(kind).spec(state)
    if spec.terminal and spec.step is not Step.REFUSAL:
        return CaseState.STOPPED if spec.step is Step.SUSPENSION else CaseState.RESULT_RETURNED
    return _GENERIC[spec.step]


def _period(
    catalogue: DeadlineCatalogue, kind: CaseKind, state: str, on: date
) -> tuple[str | None, str | None, str | None]:
    """The statutory limit running in ``state``, in Vietnamese; whom it binds; its source.

    The figure is the rule's general case (its last variant); the agency's own due date for the
    case, with its circumstances counted, comes in the event's ``deadline``.
    """
    key = lifecycle(kind).spec(state).deadline
    if key is None:
        return None, None, None
    try:
        rule = catalogue.rule(key, on)
    except (KeyError, ValueError):
        return None, None, None
    period = rule.variants[-1].period
    if period is None:
        return None, rule.party.value, rule.source
    unit = "ngày làm việc" if period.count is DayCount.WORKING else "ngày"
    return f"{period.days} {unit}", rule.party.value, rule.source


def upcast(event: CaseEventV2, catalogue: DeadlineCatalogue | None = None) -> CaseStateEvent:
    """The internal model of a v2 event: the generic fields, and the kind's own state.

    ``catalogue`` gives the time limits shown beside the state (default: the laws' figures).

    A denunciation keeps nothing that could name anyone: its procedure name, department, result
    notes and lookup link are dropped here (docs/complaints-and-disputes.md §9.3, R3); its
    refusal reason, addressed to the denouncer, stays.
    """
    kind = event.case.kind
    case = event.case
    document: dict[str, Any] = {
        "schema_version": 1,
        "event_id": event.event_id,
        "event_type": event.event_type,
        "occurred_at": event.occurred_at,
        "province": event.province,
        "source_system": event.source_system,
        "sequence": event.sequence,
        "reason": event.reason,
        "result": event.result,
        "lookup_url": event.lookup_url,
        "recipient": event.recipient,
        "case": {
            "code": case.code,
            "procedure_code": case.procedure_code or kind.value,
            "procedure_name": case.procedure_name or kind.label,
            "receiving_agency": case.receiving_agency,
            "handling_department": case.handling_department,
            "received_at": case.received_at,
            "due_at": event.deadline.due_at if event.deadline else None,
        },
    }
    if kind is CaseKind.ADMINISTRATIVE_PROCEDURE:
        document["state"] = event.state
        document["previous_state"] = event.previous_state
        return CaseStateEvent.model_validate(document)
    spec = lifecycle(kind).spec(event.state)
    limits = catalogue if catalogue is not None else statutory_catalogue()
    period, party, source = _period(limits, kind, event.state, event.occurred_at.date())
    document["state"] = generic_state(kind, event.state)
    document["previous_state"] = (
        generic_state(kind, event.previous_state) if event.previous_state else None
    )
    if kind is CaseKind.DENUNCIATION:
        document["case"] |= {"procedure_name": kind.label, "handling_department": None}
        document["result"] = None
        document["lookup_url"] = None
    document["kind_details"] = KindDetails(
        kind=kind.value,
        state=spec.name,
        label=spec.label,
        step=spec.step.value,
        source=spec.source,
        terminal=spec.terminal,
        urgent=spec.urgent,
        told=spec.notice is not Notice.NONE,
        statutory_period=period,
        statutory_party=party,
        statutory_source=source,
        due_at=event.deadline.due_at if event.deadline else None,
        decision_number=event.decision.number if event.decision else None,
        decision_issued_at=event.decision.issued_at if event.decision else None,
        meeting_at=event.meeting.at if event.meeting else None,
        meeting_place=event.meeting.place if event.meeting else None,
    )
    return CaseStateEvent.model_validate(document)


class CaseEventReader:
    """Reads records of either contract with the province's time limits (``case_kinds``).

    The quiet-hours gate and the deliverer read the same record one after the other: the last
    few values read are remembered by identity (the very same bytes object, never an equal
    one), so the second read costs nothing (≈ 4 % of the loop's CPU).
    """

    _REMEMBERED = 64

    def __init__(self, catalogue: DeadlineCatalogue) -> None:
        self._catalogue = catalogue
        self._recent: OrderedDict[int, tuple[bytes, CaseStateEvent]] = OrderedDict()

    @classmethod
    def from_overrides(cls, overrides: Mapping[str, Mapping[str, str]]) -> CaseEventReader:
        """With the laws' figures, overridden; ``ConfigurationError`` names a bad override."""
        return cls(statutory_catalogue().with_overrides(overrides))

    @property
    def remembered(self) -> int:
        """Records remembered now: at most the last 64 read, however many dossiers pass."""
        return len(self._recent)

    def __call__(self, raw: bytes, *, max_bytes: int) -> CaseStateEvent:
        """See ``parse_case_event``."""
        seen = self._recent.get(id(raw))
        if seen is not None and seen[0] is raw and len(raw) <= max_bytes:
            return seen[1]
        event = parse_case_event(raw, max_bytes=max_bytes, catalogue=self._catalogue)
        self._recent[id(raw)] = (raw, event)
        if len(self._recent) > self._REMEMBERED:
            self._recent.popitem(last=False)
        return event


def unconfirmed_limits(overrides: Mapping[str, Mapping[str, str]]) -> list[str]:
    """The statutory limits still at a default nobody confirmed (not ``verified``, not overridden).

    Law 136/2025/QH15 amended both laws and was not read (docs/complaints-and-disputes.md §2):
    an operator should see at start which figures her province's legal office has yet to confirm.
    """
    catalogue = statutory_catalogue()
    return sorted(
        key
        for key in catalogue.names()
        if key not in overrides
        and any(rule.certainty is not Certainty.VERIFIED for rule in catalogue.versions(key))
    )


def parse_case_event(
    raw: bytes, *, max_bytes: int, catalogue: DeadlineCatalogue | None = None
) -> CaseStateEvent:
    """Decode a record of either contract: its ``schema_version`` decides (absent: 1).

    Raises:
        InvalidEventError: With the reason the record must be dead-lettered.
    """
    document = decode_json_object(raw, max_bytes=max_bytes)
    version = document.get("schema_version", 1)
    if version == 1:
        return event_from_document(document)  # decoded once, not again by parse_event
    if version != 2:  # noqa: PLR2004 - the contract's version
        return parse_event(raw, max_bytes=max_bytes)  # refused with its reason
    try:
        event = CaseEventV2.model_validate(document)
    except ValidationError as exc:
        error = invalid_event(exc)
        if any("is not a" in e["msg"] and "state" in e["msg"] for e in exc.errors()):
            error = InvalidEventError(
                InvalidEventReason.UNKNOWN_STATE, error.detail, exception=error.exception
            )
        raise error from exc
    try:
        return upcast(event, catalogue)
    except ValidationError as exc:
        raise InvalidEventError(
            InvalidEventReason.SCHEMA_VIOLATION,
            "the v2 event does not fit the internal model",
            exception=exception_name(exc),
        ) from exc


def event_v2_json_schema() -> dict[str, Any]:
    """Return the JSON Schema of the v2 contract, as written to ``schemas/``."""
    schema = CaseEventV2.model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
