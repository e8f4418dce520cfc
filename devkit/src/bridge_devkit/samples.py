"""Realistic sample case-state events (synthetic people, real structure) for `make run`."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

__all__ = [
    "LINKING_CITIZEN",
    "SampleCitizen",
    "dossier_number",
    "filed_dossier_event",
    "linking_case_code",
    "linking_sample_event",
    "sample_case_events",
    "sample_citizens",
    "sample_events",
    "sample_result_pdf",
]

VN = timezone(timedelta(hours=7))


@dataclass(frozen=True, slots=True)
class SampleCitizen:
    """A citizen who follows the province's OA (as the emulator should know them)."""

    zalo_user_id: str
    display_name: str


_CITIZENS = (
    SampleCitizen("2512523625412515", "Nguyễn Văn An"),
    SampleCitizen("5510185758261927916", "Trần Thị Bích"),
    SampleCitizen("3611371994410983884", "Lê Hoàng Minh"),
)


def sample_citizens() -> tuple[SampleCitizen, ...]:
    """The followers the sample events are addressed to."""
    return _CITIZENS


_AGENCY = {"code": "000.20.31.H56", "name": "Trung tâm Phục vụ hành chính công phường Hạc Thành"}
_PROVINCE_CENTRE = {
    "code": "000.00.00.H56",
    "name": "Trung tâm Phục vụ hành chính công tỉnh Thanh Hóa",
}


def _case(
    code: str, procedure_code: str, procedure: str, agency: dict[str, str], **extra: Any
) -> dict[str, Any]:
    return {
        "code": code,
        "procedure_code": procedure_code,
        "procedure_name": procedure,
        "receiving_agency": agency,
        **extra,
    }


_RUN_STRIDE = 100
"""Dossier numbers of run N are those of run 1 plus 100 × (N - 1)."""


def dossier_number(first_run: int, run: int) -> str:
    """The number ending a dossier code in run ``run``, whose first run's number was ``first_run``.

    Each run of `make run` files new dossiers: events of a dossier already delivered by an
    earlier run in the same checkout would be stale (their sequences already seen).
    """
    if run < 1:
        raise ValueError(f"runs count from 1, not {run}")
    return f"{first_run + _RUN_STRIDE * (run - 1):04d}"


def sample_events(
    now: datetime | None = None,
    *,
    run: int = 1,
    result_documents: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Events of four dossiers, in the order a one-stop-shop system would publish them.

    Marriage registration (received, in progress, result ready), a household-business
    registration (submitted online, received, fee requested), a construction permit (received,
    transferred, supplement requested, new appointment date) and a land-use certificate
    (received, rejected at intake). ``run`` numbers the run of `make run` in its checkout: each
    run's dossiers are new ones (``dossier_number``). ``result_documents`` go with the marriage
    result (``result.documents[]``), sent into the chat after its text.
    """
    start = (
        (now or datetime.now(UTC)).astimezone(VN).replace(hour=8, minute=0, second=0, microsecond=0)
    )
    day = start.strftime("%y%m%d")

    def at(hours: float) -> str:
        return (start + timedelta(hours=hours)).isoformat()

    def due(days: int) -> str:
        return (start + timedelta(days=days)).replace(hour=17).isoformat()

    an, bich, minh = (c.zalo_user_id for c in _CITIZENS)
    marriage = _case(
        f"000.20.31.H56-{day}-{dossier_number(42, run)}",
        "1.000894",
        "Đăng ký kết hôn",
        _AGENCY,
        channel="IN_PERSON",
        due_at=due(3),
        handling_department="Bộ phận Tư pháp - Hộ tịch",
    )
    business = _case(
        f"000.20.31.H56-{day}-{dossier_number(43, run)}",
        "1.004616",
        "Đăng ký thành lập hộ kinh doanh",
        _AGENCY,
        channel="ONLINE",
        due_at=due(3),
        handling_department="Phòng Kinh tế",
    )
    permit = _case(
        f"000.00.00.H56-{day}-{dossier_number(10571, run)}",
        "1.009972",
        "Cấp giấy phép xây dựng đối với công trình cấp III, cấp IV và nhà ở riêng lẻ",
        _PROVINCE_CENTRE,
        channel="IN_PERSON",
        due_at=due(15),
        handling_department="Sở Xây dựng",
    )
    land = _case(
        f"000.00.00.H56-{day}-{dossier_number(10572, run)}",
        "1.004227",
        "Đăng ký, cấp Giấy chứng nhận quyền sử dụng đất, quyền sở hữu nhà ở lần đầu",
        _PROVINCE_CENTRE,
        channel="IN_PERSON",
    )
    rows: list[tuple[dict[str, Any], str, str, float, dict[str, Any]]] = [
        (marriage, an, "RECEIVED", 0.1, {}),
        (business, bich, "SUBMITTED", 0.2, {}),
        (permit, minh, "RECEIVED", 0.3, {}),
        (business, bich, "RECEIVED", 0.5, {"previous_state": "SUBMITTED"}),
        (marriage, an, "IN_PROGRESS", 1.0, {"previous_state": "RECEIVED"}),
        (
            permit,
            minh,
            "IN_PROGRESS",
            1.5,
            {
                "event_type": "TRANSFERRED",
                "transfer": {
                    "from_unit": "Bộ phận Một cửa",
                    "to_unit": "Phòng Quản lý xây dựng, Sở Xây dựng",
                    "step_name": "Thẩm định hồ sơ",
                },
            },
        ),
        (land, an, "RECEIVED", 2.0, {}),
        (
            business,
            bich,
            "PAYMENT_REQUESTED",
            2.5,
            {
                "payment": {
                    "amount_vnd": 100000,
                    "payment_url": "https://dichvucong.thanhhoa.gov.vn/thanh-toan",
                }
            },
        ),
        (
            permit,
            minh,
            "SUPPLEMENT_REQUESTED",
            3.0,
            {"reason": "Bổ sung bản vẽ mặt bằng móng có chữ ký của chủ đầu tư."},
        ),
        (
            land,
            an,
            "REJECTED_AT_INTAKE",
            3.5,
            {"reason": "Thửa đất đang có tranh chấp, chưa đủ điều kiện cấp Giấy chứng nhận."},
        ),
        (
            marriage,
            an,
            "RESULT_READY",
            4.0,
            {
                "result": {
                    "pickup_location": f"Quầy số 3, {_AGENCY['name']}",
                    "note": "Hai bên nam, nữ có mặt và mang theo căn cước.",
                    **({"documents": result_documents} if result_documents else {}),
                }
            },
        ),
        (
            permit,
            minh,
            "SUPPLEMENT_REQUESTED",
            5.0,
            {
                "event_type": "DUE_DATE_CHANGED",
                "reason": "Chờ ý kiến thẩm định của cơ quan phòng cháy chữa cháy",
                "due_date_change": {"old_due_at": due(15), "new_due_at": due(20), "apology": True},
            },
        ),
    ]
    sequences: dict[str, int] = {}
    events = []
    for case, user, state, hours, extra in rows:
        sequences[case["code"]] = sequences.get(case["code"], 0) + 1
        case_now = dict(case)
        if "due_date_change" in extra:
            case_now["due_at"] = extra["due_date_change"]["new_due_at"]
        events.append(
            {
                "schema_version": 1,
                "event_id": str(uuid.uuid4()),
                "event_type": extra.pop("event_type", "STATE_CHANGED"),
                "occurred_at": at(hours),
                "province": "thanh-hoa",
                "source_system": "make-run",
                "sequence": sequences[case["code"]],
                "case": case_now,
                "state": state,
                "recipient": {"zalo_user_id": user, "notify_consent": True},
                **extra,
            }
        )
    return events


def encode(event: dict[str, Any]) -> bytes:
    """Serialise an event as the one-stop-shop system would (UTF-8 JSON)."""
    return json.dumps(event, ensure_ascii=False).encode()


LINKING_CITIZEN = SampleCitizen("8800112233445566", "Phạm Thị Dung")
"""The citizen of `make run`'s chat scene: not a follower yet, she scans the receipt's QR code."""


def linking_sample_event(now: datetime | None = None, *, run: int = 1) -> dict[str, Any]:
    """The first event of the dossier `LINKING_CITIZEN` links in the chat (a birth registration).

    The event carries only her phone, as filed at the counter: it reaches her Zalo chat because
    she linked the dossier (the phone is the cascade's last resort, unused when she is reached).
    """
    start = (
        (now or datetime.now(UTC)).astimezone(VN).replace(hour=8, minute=0, second=0, microsecond=0)
    )
    return {
        "schema_version": 1,
        "event_id": str(uuid.uuid4()),
        "event_type": "STATE_CHANGED",
        "occurred_at": (start + timedelta(hours=6)).isoformat(),
        "province": "thanh-hoa",
        "source_system": "make-run",
        "sequence": 1,
        "case": _case(
            linking_case_code(now, run=run),
            "1.001193",
            "Đăng ký khai sinh",
            _AGENCY,
            channel="IN_PERSON",
            due_at=(start + timedelta(days=1)).replace(hour=17).isoformat(),
            handling_department="Bộ phận Tư pháp - Hộ tịch",
        ),
        "state": "IN_PROGRESS",
        "previous_state": "RECEIVED",
        "recipient": {"phone": "0912345678", "notify_consent": True},
    }


def linking_result_returned(now: datetime | None = None, *, run: int = 1) -> dict[str, Any]:
    """The last event of `LINKING_CITIZEN`'s dossier: the result handed over (the survey's cue)."""
    event = linking_sample_event(now, run=run)
    return {
        **event,
        "event_id": str(uuid.uuid4()),
        "sequence": 5,
        "state": "RESULT_RETURNED",
        "previous_state": "RESULT_READY",
    }


def linking_case_code(now: datetime | None = None, *, run: int = 1) -> str:
    """The dossier code printed on `LINKING_CITIZEN`'s receipt (a new dossier each run)."""
    day = (now or datetime.now(UTC)).astimezone(VN).strftime("%y%m%d")
    return f"000.20.31.H56-{day}-{dossier_number(77, run)}"


def filed_dossier_event(
    submission_id: str, now: datetime | None = None, *, run: int = 1
) -> dict[str, Any]:
    """The centre's first event of the dossier `LINKING_CITIZEN` filed through Zalo.

    Her counter dossier's first event (`linking_sample_event`) made a new dossier: filed online,
    received, naming her submission (``submission_id``) and carrying only the phone she typed
    in the form, without consent. It reaches her chat because bridge links the filer by itself.
    """
    base = linking_sample_event(now, run=run)
    occurred = datetime.fromisoformat(base["occurred_at"]) + timedelta(hours=1)
    return {
        **base,
        "occurred_at": occurred.isoformat(),
        "case": {
            **base["case"],
            "code": f"000.20.31.H56-{occurred:%y%m%d}-{dossier_number(78, run)}",
            "channel": "ONLINE",
            "due_at": (occurred + timedelta(days=3)).replace(hour=17, minute=0).isoformat(),
        },
        "state": "RECEIVED",
        "previous_state": "SUBMITTED",
        "recipient": {"phone": "0905123456", "notify_consent": False},
        "submission_id": submission_id,
    }


def sample_result_pdf() -> bytes:
    """A one-page PDF: the electronic copy of a marriage certificate extract (`make run`)."""
    text = "Trich luc dang ky ket hon (ban dien tu) - make run"
    stream = f"BT /F1 14 Tf 72 760 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
            b" /Resources << /Font << /F1 5 0 R >> >> >>"
        ),
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    trailer = f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    out += trailer.encode()
    return bytes(out)


def sample_case_events(now: datetime | None = None, *, run: int = 1) -> list[dict[str, Any]]:
    """A complaint and a land dispute (v2 contract, read from the v2 topic) for `make run`.

    The complaint about a land recovery decision is accepted, then decided at first instance
    (the citizen's 30 days to complain again or sue beside it); the land dispute's mediation
    meeting is set at the commune People's Committee.
    """
    start = (now or datetime.now(UTC)).astimezone(VN).replace(hour=8, minute=0, second=0)
    start = start.replace(microsecond=0)
    an, bich, _minh = (c.zalo_user_id for c in _CITIZENS)
    complaint = f"KN.H56-{start:%y%m%d}-{dossier_number(7, run)}"
    dispute = f"TC-DD.H56-{start:%y%m%d}-{dossier_number(9, run)}"

    def event(  # noqa: PLR0913, PLR0917 - one sample row, read as a table
        code: str,
        kind: str,
        subject: str,
        state: str,
        sequence: int,
        user: str,
        hours: float,
        **extra: Any,
    ) -> dict[str, Any]:
        return {
            "schema_version": 2,
            "event_id": str(uuid.uuid4()),
            "occurred_at": (start + timedelta(hours=hours)).isoformat(),
            "province": "thanh-hoa",
            "source_system": "make-run",
            "sequence": sequence,
            "case": {
                "kind": kind,
                "code": code,
                "procedure_name": subject,
                "receiving_agency": {"name": "Ủy ban nhân dân phường Hạc Thành"},
            },
            "state": state,
            "recipient": {"zalo_user_id": user, "notify_consent": True},
            **extra,
        }

    subject = "Khiếu nại quyết định thu hồi đất số 52/QĐ-UBND"
    return [
        event(
            complaint,
            "COMPLAINT",
            subject,
            "ACCEPTED",
            1,
            an,
            1.0,
            deadline={"due_at": (start + timedelta(days=30)).replace(hour=17).isoformat()},
        ),
        event(
            complaint,
            "COMPLAINT",
            subject,
            "FIRST_DECISION",
            2,
            an,
            2.0,
            decision={"number": "118/QĐ-UBND", "issued_at": start.isoformat()},
        ),
        event(
            dispute,
            "LAND_DISPUTE",
            "Tranh chấp ranh giới thửa đất số 215, tờ bản đồ số 9",
            "MEDIATION_MEETING",
            1,
            bich,
            2.5,
            meeting={
                "at": (start + timedelta(days=7, hours=0.5)).isoformat(),
                "place": "Hội trường Ủy ban nhân dân phường Hạc Thành",
            },
        ),
    ]
