"""The case-state event contract (v1): what the one-stop-shop system publishes on Kafka."""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum
from typing import Annotated, Any, Literal
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
from pydantic.json_schema import SkipJsonSchema

from bridge.errors import InvalidEventError, InvalidEventReason, exception_name
from bridge.record_json import INT64_MAX, decode_json_object

__all__ = [
    "NATIONAL_CASE_CODE",
    "SCHEMA_ID",
    "Agency",
    "CaseInfo",
    "CaseState",
    "CaseStateEvent",
    "DueDateChange",
    "EventType",
    "KindDetails",
    "PaymentInfo",
    "Recipient",
    "ResultDocument",
    "ResultInfo",
    "SubmissionChannel",
    "TransferInfo",
    "decode_v1_document",
    "event_from_document",
    "event_json_schema",
    "invalid_event",
    "is_national_case_code",
    "parse_event",
]

SCHEMA_ID = "https://github.com/zalo-bridge/bridge/schemas/case-state-event.v1.json"

NATIONAL_CASE_CODE = re.compile(
    r"^[0-9A-Z]{3}\.[0-9A-Z]{2}\.[0-9A-Z]{2}\.[GH][0-9]{2}-\d{6}-\d{4,5}$"
)
"""The national dossier-code form ``NNN.NN.NN.Hxx-yyMMdd-NNNN(N)`` (MaHoSo)."""

_CASE_CODE_FALLBACK = r"^[0-9A-Za-z.\-]{8,40}$"


def is_national_case_code(code: str) -> bool:
    """Tell whether a dossier code has the national ``NNN.NN.NN.Hxx-yyMMdd-NNNN(N)`` form."""
    return NATIONAL_CASE_CODE.fullmatch(code) is not None


def _nfc(value: str) -> str:
    return unicodedata.normalize("NFC", value).strip()


Text = Annotated[str, AfterValidator(_nfc)]
"""Human-readable Vietnamese text, normalised to NFC."""


class CaseState(StrEnum):
    """The national dossier state (TrangThaiHoSo), as its name; ``dvcqg_code`` gives the number.

    Codes: SUBMITTED=1 (Mới đăng ký), RECEIVED=2 (Được tiếp nhận), REJECTED_AT_INTAKE=3
    (Không được tiếp nhận), IN_PROGRESS=4 (Đang xử lý), SUPPLEMENT_REQUESTED=5 (Yêu cầu bổ sung
    giấy tờ), PAYMENT_REQUESTED=6 (Yêu cầu thực hiện nghĩa vụ tài chính), WITHDRAWAL_REQUESTED=7
    (Công dân yêu cầu rút hồ sơ), STOPPED=8 (Dừng xử lý), RESULT_READY=9 (Đã xử lý xong),
    RESULT_RETURNED=10 (Đã trả kết quả).
    """

    SUBMITTED = "SUBMITTED"
    RECEIVED = "RECEIVED"
    REJECTED_AT_INTAKE = "REJECTED_AT_INTAKE"
    IN_PROGRESS = "IN_PROGRESS"
    SUPPLEMENT_REQUESTED = "SUPPLEMENT_REQUESTED"
    PAYMENT_REQUESTED = "PAYMENT_REQUESTED"
    WITHDRAWAL_REQUESTED = "WITHDRAWAL_REQUESTED"
    STOPPED = "STOPPED"
    RESULT_READY = "RESULT_READY"
    RESULT_RETURNED = "RESULT_RETURNED"

    @property
    def dvcqg_code(self) -> int:
        """The national code 1-10 used by DVCQG-connected systems."""
        return _DVCQG_CODES[self]

    @property
    def label(self) -> str:
        """The official Vietnamese label of the state."""
        return _STATE_LABELS[self]

    @classmethod
    def from_dvcqg_code(cls, code: int) -> CaseState:
        """Return the state with the national code ``code`` (1-10)."""
        states = list(cls)
        if not 1 <= code <= len(states):
            raise ValueError(f"no national dossier state has code {code}")
        return states[code - 1]


_DVCQG_CODES = {state: code for code, state in enumerate(CaseState, start=1)}
"""The national code of each state: its place in the declaration (every event words it)."""

_STATE_LABELS = {
    CaseState.SUBMITTED: "Mới đăng ký",
    CaseState.RECEIVED: "Được tiếp nhận",
    CaseState.REJECTED_AT_INTAKE: "Không được tiếp nhận",
    CaseState.IN_PROGRESS: "Đang xử lý",
    CaseState.SUPPLEMENT_REQUESTED: "Yêu cầu bổ sung giấy tờ",
    CaseState.PAYMENT_REQUESTED: "Yêu cầu thực hiện nghĩa vụ tài chính",
    CaseState.WITHDRAWAL_REQUESTED: "Công dân yêu cầu rút hồ sơ",
    CaseState.STOPPED: "Dừng xử lý",
    CaseState.RESULT_READY: "Đã xử lý xong",
    CaseState.RESULT_RETURNED: "Đã trả kết quả",
}


class EventType(StrEnum):
    """What happened to the case; the state may stay the same (one-stop-shop-domain §7.2)."""

    STATE_CHANGED = "STATE_CHANGED"
    TRANSFERRED = "TRANSFERRED"
    DUE_DATE_CHANGED = "DUE_DATE_CHANGED"
    PAYMENT_COMPLETED = "PAYMENT_COMPLETED"
    SUPPLEMENT_SUBMITTED = "SUPPLEMENT_SUBMITTED"
    SUPPLEMENT_ACCEPTED = "SUPPLEMENT_ACCEPTED"
    INTERAGENCY_SENT = "INTERAGENCY_SENT"
    INTERAGENCY_RETURNED = "INTERAGENCY_RETURNED"
    RESULT_DISPATCHED_BY_POST = "RESULT_DISPATCHED_BY_POST"
    OVERDUE = "OVERDUE"
    CORRECTION = "CORRECTION"


class SubmissionChannel(StrEnum):
    """How the dossier was submitted (KenhThucHien 1/2/3)."""

    IN_PERSON = "IN_PERSON"
    ONLINE = "ONLINE"
    POSTAL = "POSTAL"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", str_max_length=4000)


class Agency(_Model):
    """An agency or unit (cơ quan, đơn vị)."""

    code: str | None = Field(
        default=None,
        max_length=40,
        description="Electronic identifier (MaDinhDanh), e.g. 000.20.31.H56.",
        examples=["000.20.31.H56"],
    )
    name: Text = Field(
        min_length=1,
        max_length=300,
        description="Name as citizens know it.",
        examples=["Trung tâm Phục vụ hành chính công phường Hạc Thành"],
    )


class CaseInfo(_Model):
    """The dossier (hồ sơ) the event is about."""

    code: str = Field(
        pattern=_CASE_CODE_FALLBACK,
        description=(
            "Dossier code (MaHoSo). The national form NNN.NN.NN.Hxx-yyMMdd-NNNN(N) is expected; "
            "other provincial forms of 8-40 letters, digits, dots and dashes are accepted."
        ),
        examples=["000.20.31.H56-260310-0042"],
    )
    procedure_code: str = Field(
        min_length=1,
        max_length=60,
        description="National procedure code (MaTTHC).",
        examples=["1.004616"],
    )
    procedure_name: Text = Field(
        min_length=1,
        max_length=500,
        description="Procedure name (TenTTHC).",
        examples=["Đăng ký thành lập hộ kinh doanh"],
    )
    receiving_agency: Agency = Field(description="Where the dossier was received.")
    handling_department: Text | None = Field(
        default=None,
        max_length=300,
        description="Department currently handling the dossier (PhongBanXuLy).",
        examples=["Phòng Kinh tế"],
    )
    channel: SubmissionChannel | None = Field(default=None, description="Submission channel.")
    received_at: AwareDatetime | None = Field(default=None, description="Reception time.")
    due_at: AwareDatetime | None = Field(
        default=None,
        description="Appointment date for the result (ngày hẹn trả, NgayHenTra).",
    )


_SHA256 = r"^[0-9a-f]{64}$"
_CONTENT_TYPE = r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,62}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$"

MAX_RESULT_DOCUMENTS = 10
"""Documents one result event may carry (each is fetched, checked and sent on its own)."""


class ResultDocument(_Model):
    """One document of the result (văn bản kết quả): fetched, checked, and sent into the chat."""

    title: Text = Field(
        min_length=1,
        max_length=200,
        description="What the citizen sees the document called.",
        examples=["Giấy chứng nhận đăng ký hộ kinh doanh"],
    )
    url: HttpUrl = Field(
        description=(
            "Where bridge fetches it: an HTTPS URL in the one-stop-shop or an object store "
            "(e.g. a pre-signed URL valid for at least a day). Plain HTTP is refused unless "
            "the deployment allows it (documents.allow_http, for development)."
        ),
        examples=["https://dichvucong.example.gov.vn/ketqua/000.20.31.H56-260310-0042.pdf"],
    )
    content_type: str = Field(
        pattern=_CONTENT_TYPE,
        description=(
            "Its media type: application/pdf, application/msword, "
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document, "
            "image/jpeg or image/png are sent as files or images; others only as the link."
        ),
        examples=["application/pdf"],
    )
    sha256: str = Field(
        pattern=_SHA256,
        description="SHA-256 of its bytes, lowercase hex: a fetched file that differs is not sent.",
    )
    size: int = Field(ge=1, le=2**31, description="Its size in bytes.")


class ResultInfo(_Model):
    """Where and how the citizen gets the result."""

    pickup_location: Text | None = Field(
        default=None,
        max_length=300,
        description="Where to collect the result.",
        examples=["Quầy số 3, Trung tâm Phục vụ hành chính công tỉnh"],
    )
    note: Text | None = Field(default=None, max_length=500, description="What to bring.")
    electronic_result_url: HttpUrl | None = Field(
        default=None, description="Link to the electronic result, when there is one."
    )
    by_post: bool = Field(default=False, description="The result is returned by public post.")
    documents: tuple[ResultDocument, ...] = Field(
        default=(),
        max_length=MAX_RESULT_DOCUMENTS,
        description=(
            "The result's documents, sent into the chat as file or image messages after the "
            "text (added in bridge 0.x, optional: events without it are unchanged)."
        ),
    )


class TransferInfo(_Model):
    """A move between steps or departments (chuyển xử lý)."""

    from_unit: Text | None = Field(default=None, max_length=300)
    to_unit: Text = Field(min_length=1, max_length=300, examples=["Phòng Tài nguyên và Môi trường"])
    step_name: Text | None = Field(default=None, max_length=200, examples=["Thẩm định hồ sơ"])


class DueDateChange(_Model):
    """A new appointment date, with the apology the agency owes (Phiếu xin lỗi và hẹn lại)."""

    old_due_at: AwareDatetime | None = None
    new_due_at: AwareDatetime
    apology: bool = Field(default=True, description="The agency apologises for the delay.")


class PaymentInfo(_Model):
    """A fee or tax the citizen must pay, or has paid."""

    amount_vnd: int = Field(ge=0, le=10**13, description="Amount in Vietnamese đồng.")
    payment_url: HttpUrl | None = None


_ZALO_USER_ID = r"^[0-9]{1,32}$"
_PHONE = r"^(?:\+?84|0)[1-9][0-9]{8,9}$"


class Recipient(_Model):
    """Who is told, and whether they agreed to be told through Zalo."""

    zalo_user_id: str | None = Field(
        default=None,
        pattern=_ZALO_USER_ID,
        description="The citizen's OA-scoped Zalo user id (a numeric string).",
        examples=["2512523625412515"],
    )
    phone: str | None = Field(
        default=None,
        pattern=_PHONE,
        description="Phone number (0xxxxxxxxx or 84xxxxxxxxx), for template messages by phone.",
        examples=["0912345678"],
    )
    notify_consent: bool = Field(
        description="The citizen opted in to Zalo notifications for this dossier (ThongBaoZalo)."
    )

    @model_validator(mode="after")
    def _has_an_address(self) -> Recipient:
        if self.zalo_user_id is None and self.phone is None:
            raise ValueError("a recipient needs a zalo_user_id or a phone")
        return self


class KindDetails(_Model):
    """A complaint's, denunciation's or land dispute's own state, beside the generic one.

    Never read from a v1 record: the v2 contract (``bridge.case_kinds.contract``) fills it when
    it turns a v2 event into this model, so everything after decoding works on one model.

    Args:
        kind: ``COMPLAINT``, ``DENUNCIATION`` or ``LAND_DISPUTE``.
        state: The kind's state name (e.g. ``FIRST_DECISION``).
        label: Its official Vietnamese label.
        step: The part of the lifecycle (receipt, acceptance, refusal, decision, …).
        source: The articles that set it.
        terminal: No state follows.
        urgent: Sent even in quiet hours.
        told: Whether the citizen is told of it (internal steps are not, by default).
        statutory_period: The time limit running in it, in Vietnamese (``30 ngày``), if any.
        statutory_party: Whom that limit binds: ``agency`` (to decide), ``citizen`` (to
            complain again or sue), ``effect`` (the decision takes effect).
        statutory_source: Where that limit is written.
        due_at: The agency's due date for the step, as the producer computed it.
        decision_number, decision_issued_at: The decision or conclusion, when one was issued.
        meeting_at, meeting_place: The dialogue or mediation meeting, when one is set.
    """

    kind: str
    state: str
    label: str
    step: str
    source: str
    terminal: bool = False
    urgent: bool = False
    told: bool = True
    statutory_period: str | None = None
    statutory_party: str | None = None
    statutory_source: str | None = None
    due_at: AwareDatetime | None = None
    decision_number: str | None = None
    decision_issued_at: AwareDatetime | None = None
    meeting_at: AwareDatetime | None = None
    meeting_place: str | None = None

    @property
    def protects_identity(self) -> bool:
        """A denunciation: the denouncer's identity is protected (Luật Tố cáo 2018 Art. 8, 47)."""
        return self.kind == "DENUNCIATION"


class CaseStateEvent(_Model):
    """One change to one dossier, as published by the one-stop-shop system (v1).

    The Kafka record key is the dossier code, so all events of a case share a partition.
    """

    model_config = ConfigDict(
        title="CaseStateEvent",
        json_schema_extra={"$id": SCHEMA_ID},
    )

    schema_version: Literal[1] = Field(default=1, description="Contract version.")
    event_id: UUID = Field(description="Unique id of this event: the idempotency key.")
    event_type: EventType = Field(description="What happened.")
    occurred_at: AwareDatetime = Field(description="When it happened, with a UTC offset.")
    province: str = Field(
        pattern=r"^[a-z]+(?:-[a-z]+)*$",
        max_length=40,
        description="Province slug (one-stop-shop-domain §5), e.g. thanh-hoa.",
        examples=["thanh-hoa"],
    )
    source_system: str | None = Field(default=None, max_length=60, examples=["td-dvc"])
    sequence: int = Field(
        ge=0,
        le=INT64_MAX,
        description=(
            "Per-case sequence number, increasing with every event of the case; a signed 64-bit "
            "integer."
        ),
    )
    case: CaseInfo
    state: CaseState = Field(description="The dossier's state after this event.")
    previous_state: CaseState | None = Field(default=None, description="The state before it.")
    reason: Text | None = Field(
        default=None,
        max_length=1000,
        description="Reason for a rejection, a supplement request or a stop.",
    )
    result: ResultInfo | None = None
    transfer: TransferInfo | None = None
    due_date_change: DueDateChange | None = None
    payment: PaymentInfo | None = None
    lookup_url: HttpUrl | None = Field(
        default=None, description="Overrides the province's lookup link for this dossier."
    )
    recipient: Recipient
    submission_id: str | None = Field(
        default=None,
        pattern=r"^HS-[0-9A-Z]{4,40}$",
        description=(
            "Set by the centre on the dossier's first event when it was filed through Zalo: the "
            "submission_id of the citizen-submission.v1 event it came from (docs/submissions.md). "
            "bridge then links the citizen who filed it to this dossier."
        ),
    )
    kind_details: SkipJsonSchema[KindDetails | None] = Field(default=None, exclude=True)
    """Set only for v2 events of another kind than administrative procedures (never in v1)."""

    @model_validator(mode="after")
    def _details_match_type(self) -> CaseStateEvent:
        if self.event_type is EventType.TRANSFERRED and self.transfer is None:
            raise ValueError("a TRANSFERRED event needs `transfer`")
        if self.event_type is EventType.DUE_DATE_CHANGED and self.due_date_change is None:
            raise ValueError("a DUE_DATE_CHANGED event needs `due_date_change`")
        return self


def parse_event(raw: bytes, *, max_bytes: int) -> CaseStateEvent:
    """Decode one Kafka record value into a case-state event.

    Args:
        raw: The record value, untouched.
        max_bytes: Larger values are refused before any parsing.

    Returns:
        The validated event.

    Raises:
        InvalidEventError: With the reason the record must be dead-lettered.
    """
    return event_from_document(decode_v1_document(raw, max_bytes=max_bytes))


def event_from_document(document: dict[str, Any]) -> CaseStateEvent:
    """The v1 event of an already-decoded record value (``decode_v1_document``'s output).

    Raises:
        InvalidEventError: With the reason the record must be dead-lettered.
    """
    _refuse_other_kinds(document)
    try:
        return CaseStateEvent.model_validate(document)
    except ValidationError as exc:
        raise invalid_event(exc) from exc


def _refuse_other_kinds(document: dict[str, Any]) -> None:
    """Fail closed: v1 carries administrative procedures only, never another kind of case.

    A v1 producer that marks a denunciation must not have it worded, linked and looked up as an
    ordinary dossier: such a record is dead-lettered (docs/complaints-and-disputes.md §9.1).
    """
    case = document.get("case")
    kind = case.get("kind") if isinstance(case, dict) else None
    if "kind_details" in document or kind not in {None, "ADMINISTRATIVE_PROCEDURE"}:
        raise InvalidEventError(
            InvalidEventReason.SCHEMA_VIOLATION,
            "case.kind: complaints, denunciations and land disputes need schema_version 2",
        )


def decode_v1_document(raw: bytes, *, max_bytes: int) -> dict[str, Any]:
    """Decode a record value into the JSON object of a v1 contract, before its model.

    Shared by the contracts read from Kafka (case-state events, announcements); the bounds on
    size, nesting, numbers and text are those of ``bridge.record_json``.

    Raises:
        InvalidEventError: Outside a bound, not UTF-8, not JSON, not an object, or not version 1.
    """
    document = decode_json_object(raw, max_bytes=max_bytes)
    if document.get("schema_version", 1) != 1:
        raise InvalidEventError(
            InvalidEventReason.UNSUPPORTED_VERSION,
            f"schema_version {str(document.get('schema_version'))[:40]!r} is not 1",
        )
    return document


def invalid_event(exc: ValidationError) -> InvalidEventError:
    """Summarise a validation error without echoing input values (they may be personal data)."""
    errors = exc.errors(include_url=False, include_input=False)
    state_fields = {("state",), ("previous_state",)}
    reason = InvalidEventReason.SCHEMA_VIOLATION
    if any(tuple(e["loc"]) in state_fields and e["type"] == "enum" for e in errors):
        reason = InvalidEventReason.UNKNOWN_STATE
    summary = "; ".join(f"{_loc(e['loc'])}: {e['msg']}" for e in errors[:10])
    if len(errors) > 10:  # noqa: PLR2004 - enough to act on, short enough for a header
        summary += f"; and {len(errors) - 10} more"
    return InvalidEventError(reason, summary, exception=exception_name(exc))


def _loc(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(root)"


def event_json_schema() -> dict[str, Any]:
    """Return the JSON Schema of the v1 contract, as written to ``schemas/``."""
    schema = CaseStateEvent.model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
