"""Sample events for every template: realistic (preview), longest and barest (validation)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from bridge.case_kinds.contract import CaseEventV2, upcast
from bridge.case_kinds.lifecycles import CaseKind, lifecycle
from bridge.events import CaseState, CaseStateEvent, EventType

__all__ = ["Variant", "entry_names", "sample_event"]


class Variant(StrEnum):
    """Which values a sample event carries."""

    REALISTIC = "realistic"
    """What a citizen typically sees (the preview)."""
    LONGEST = "longest"
    """Every optional field present, every free text at its maximum length."""
    BAREST = "barest"
    """Every optional field absent."""


_STATE_OF_EVENT = {
    EventType.DUE_DATE_CHANGED: CaseState.IN_PROGRESS,
    EventType.PAYMENT_COMPLETED: CaseState.IN_PROGRESS,
    EventType.RESULT_DISPATCHED_BY_POST: CaseState.RESULT_READY,
}


def entry_names() -> list[str]:
    """Every template an event can be worded with: each state, then each other event type."""
    states = [f"states.{state.value}" for state in CaseState]
    kinds = [
        f"states.{kind.value}.{state}"
        for kind in CaseKind
        if kind is not CaseKind.ADMINISTRATIVE_PROCEDURE
        for state in lifecycle(kind).states
    ]
    events = [f"events.{t.value}" for t in EventType if t is not EventType.STATE_CHANGED]
    return states + kinds + events


_KIND_SUBJECTS = {
    CaseKind.COMPLAINT: "Khiếu nại quyết định thu hồi đất ",
    CaseKind.DENUNCIATION: "Tố cáo",
    CaseKind.LAND_DISPUTE: "Tranh chấp ranh giới thửa đất ",
}


def _kind_event(kind: CaseKind, state: str, variant: Variant) -> CaseStateEvent:
    """A complaint's, denunciation's or land dispute's event in ``state`` (v2, upcast)."""
    longest = variant is Variant.LONGEST
    case: dict[str, Any] = {
        "kind": kind.value,
        "code": "KN-2026-000042" if not longest else "KN-2026-000042.THANH-TRA-TINH-01"[:40],
        "receiving_agency": {
            "name": _fill(300, "Thanh tra tỉnh Thanh Hóa ") if longest else "Thanh tra tỉnh"
        },
    }
    document: dict[str, Any] = {
        "schema_version": 2,
        "event_id": "3f0c7c56-5b0e-4a52-9d7e-0a4f3f7d2b11",
        "occurred_at": "2026-03-10T09:30:11+07:00",
        "province": "thanh-hoa",
        "sequence": 2,
        "case": case,
        "state": state,
        "recipient": {"zalo_user_id": "2512523625412515", "notify_consent": True},
    }
    if variant is not Variant.BAREST:
        subject = _KIND_SUBJECTS[kind]
        case["procedure_name"] = _fill(500, subject) if longest else subject.strip()
        document |= {
            "reason": _fill(1000, "Đơn không đủ điều kiện thụ lý theo quy định; ")
            if longest
            else "Đơn không đủ điều kiện thụ lý theo quy định",
            "decision": {"number": "125/QĐ-UBND", "issued_at": "2026-04-02T08:00:00+07:00"},
            "meeting": {
                "at": "2026-03-20T08:30:00+07:00",
                "place": _fill(300, "Hội trường Ủy ban nhân dân phường Hạc Thành ")
                if longest
                else "Hội trường Ủy ban nhân dân phường Hạc Thành",
            },
            "deadline": {"due_at": "2026-04-10T17:00:00+07:00"},
        }
    return upcast(CaseEventV2.model_validate(document))


def _fill(length: int, words: str) -> str:
    return (words * (length // len(words) + 1))[:length].rstrip() or words.strip()


def _details(variant: Variant) -> dict[str, Any]:
    if variant is Variant.LONGEST:
        url = "https://dichvucong.example.gov.vn/" + "ket-qua/" * 20 + "000.20.31.H56-260310-0042"
        return {
            "reason": _fill(1000, "Hồ sơ thiếu bản sao giấy tờ chứng thực hợp lệ; "),
            "result": {
                "pickup_location": _fill(300, "Quầy số 3, Trung tâm Phục vụ hành chính công "),
                "note": _fill(500, "Mang theo giấy hẹn và căn cước công dân bản chính. "),
                "electronic_result_url": url,
                "documents": [
                    {
                        "title": _fill(200, "Giấy chứng nhận đăng ký hộ kinh doanh "),
                        "url": url,
                        "content_type": "application/pdf",
                        "sha256": "0" * 64,
                        "size": 2**31,
                    }
                ]
                * 10,
            },
            "transfer": {
                "from_unit": _fill(300, "Phòng Quản lý đô thị thành phố "),
                "to_unit": _fill(300, "Phòng Tài nguyên và Môi trường thành phố "),
                "step_name": _fill(200, "Thẩm định hồ sơ và xác minh thực địa "),
            },
            "due_date_change": {
                "old_due_at": "2026-03-13T17:00:00+07:00",
                "new_due_at": "2026-03-20T17:00:00+07:00",
            },
            "payment": {"amount_vnd": 10**13, "payment_url": url},
        }
    if variant is Variant.BAREST:
        return {
            "transfer": {"to_unit": "Phòng Tài nguyên và Môi trường"},
            "due_date_change": {"new_due_at": "2026-03-20T17:00:00+07:00", "apology": False},
        }
    return {
        "reason": "Thiếu bản sao giấy chứng nhận quyền sử dụng đất",
        "result": {
            "pickup_location": "Quầy số 3",
            "note": "Mang theo giấy hẹn.",
            "documents": [
                {
                    "title": "Giấy chứng nhận đăng ký hộ kinh doanh",
                    "url": "https://dichvucong.example.gov.vn/ket-qua/000.20.31.H56-260310-0042.pdf",
                    "content_type": "application/pdf",
                    "sha256": "0" * 64,
                    "size": 250_000,
                }
            ],
        },
        "transfer": {"to_unit": "Phòng Tài nguyên và Môi trường", "step_name": "Thẩm định"},
        "due_date_change": {
            "old_due_at": "2026-03-13T17:00:00+07:00",
            "new_due_at": "2026-03-20T17:00:00+07:00",
        },
        "payment": {
            "amount_vnd": 100000,
            "payment_url": "https://dichvucong.example.gov.vn/thanh-toan",
        },
    }


def _case(
    variant: Variant, procedure_code: str | None, procedure_name: str | None
) -> dict[str, Any]:
    agency = {"code": "000.20.31.H56", "name": "Trung tâm Phục vụ hành chính công phường Hạc Thành"}
    case: dict[str, Any] = {
        "code": "000.20.31.H56-260310-0042",
        "procedure_code": procedure_code or "1.004616",
        "procedure_name": procedure_name or "Đăng ký thành lập hộ kinh doanh",
        "receiving_agency": agency,
        "handling_department": "Phòng Kinh tế",
        "channel": "ONLINE",
        "received_at": "2026-03-10T09:30:11+07:00",
        "due_at": "2026-03-13T17:00:00+07:00",
    }
    if variant is Variant.LONGEST:
        case |= {
            "code": "000.20.31.H56-260310-00042.HS-BO-SUNG-01"[:40],
            "procedure_name": _fill(500, procedure_name or "Thủ tục cấp giấy phép xây dựng "),
            "receiving_agency": {"name": _fill(300, "Trung tâm Phục vụ hành chính công ")},
            "handling_department": _fill(300, "Phòng Quản lý đô thị "),
        }
    if variant is Variant.BAREST:
        for key in ("handling_department", "channel", "received_at", "due_at"):
            case.pop(key)
        case["receiving_agency"] = {"name": agency["name"]}
    return case


def sample_event(
    name: str,
    variant: Variant = Variant.REALISTIC,
    *,
    procedure_code: str | None = None,
    procedure_name: str | None = None,
) -> CaseStateEvent:
    """A valid event worded by template ``name`` (``states.X``, ``states.KIND.X``, ``events.Y``)."""
    kind, _, key = name.partition(".")
    if kind == "states" and "." in key:
        case_kind, _, state_name = key.partition(".")
        return _kind_event(CaseKind(case_kind), state_name, variant)
    if kind == "states":
        event_type, state = EventType.STATE_CHANGED, CaseState(key)
    else:
        event_type = EventType(key)
        state = _STATE_OF_EVENT.get(event_type, CaseState.IN_PROGRESS)
    details = _details(variant)
    if event_type is not EventType.TRANSFERRED:
        details.pop("transfer", None)
    if event_type is not EventType.DUE_DATE_CHANGED:
        details.pop("due_date_change", None)
    payment_types = {EventType.PAYMENT_COMPLETED}
    if state is not CaseState.PAYMENT_REQUESTED and event_type not in payment_types:
        details.pop("payment", None)
    if state is not CaseState.RESULT_READY:
        details.pop("result", None)
    document: dict[str, Any] = {
        "schema_version": 1,
        "event_id": "3f0c7c56-5b0e-4a52-9d7e-0a4f3f7d2b11",
        "event_type": event_type.value,
        "occurred_at": "2026-03-10T09:30:11+07:00",
        "province": "thanh-hoa",
        "sequence": 2,
        "case": _case(variant, procedure_code, procedure_name),
        "state": state.value,
        "recipient": {"zalo_user_id": "2512523625412515", "notify_consent": True},
        **details,
    }
    return CaseStateEvent.model_validate(document)
