"""Wording: every state and sub-event becomes the Vietnamese message a citizen should read."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bridge.events import CaseState, CaseStateEvent
from bridge.templates import render_message
from bridge.wording import MAX_TEXT_LENGTH, MessageContext, format_date, format_vnd

VN = ZoneInfo("Asia/Ho_Chi_Minh")
CONTEXT = MessageContext(
    lookup_url_template="https://dvc.example.gov.vn/tra-cuu?ma={case_code}",
    timezone=VN,
    signature="Trung tâm Phục vụ hành chính công tỉnh Thanh Hóa",
)

HEADLINES = {
    "SUBMITTED": "đã được đăng ký trực tuyến và đang chờ tiếp nhận.",
    "RECEIVED": "đã được tiếp nhận.",
    "REJECTED_AT_INTAKE": "không đủ điều kiện tiếp nhận. Lý do: Thiếu giấy tờ.",
    "IN_PROGRESS": "đã được chuyển cho cán bộ chuyên môn xử lý.",
    "SUPPLEMENT_REQUESTED": "Nội dung cần bổ sung: Thiếu giấy tờ.",
    "PAYMENT_REQUESTED": "cần thực hiện nghĩa vụ tài chính",
    "WITHDRAWAL_REQUESTED": "Yêu cầu rút hồ sơ 000.20.31.H56-260310-0042 của Ông/Bà đã được",
    "STOPPED": "đã dừng xử lý. Lý do: Thiếu giấy tờ.",
    "RESULT_READY": "đã có kết quả. Ông/Bà vui lòng nhận kết quả tại",
    "RESULT_RETURNED": "đã được trả kết quả. Cảm ơn Ông/Bà đã sử dụng dịch vụ.",
}


def event(make_event, **changes) -> CaseStateEvent:
    return CaseStateEvent.model_validate(make_event(**changes))


def text_of(make_event, **changes) -> str:
    message = render_message(event(make_event, **changes), CONTEXT)
    assert message is not None
    return message.text


class TestEveryState:
    @pytest.mark.parametrize("state", list(CaseState))
    def test_each_state_has_its_own_headline(self, make_event, state):
        text = text_of(make_event, state=state.value, reason="Thiếu giấy tờ")
        assert HEADLINES[state.value] in text

    @pytest.mark.parametrize("state", list(CaseState))
    def test_each_message_has_the_essentials(self, make_event, state):
        """Greeting, code, procedure, official state label, agency and lookup link, always."""
        text = text_of(make_event, state=state.value)
        assert text.startswith("Kính gửi Ông/Bà,\n")
        assert "• Mã hồ sơ: 000.20.31.H56-260310-0042" in text
        assert "• Thủ tục: Đăng ký thành lập hộ kinh doanh" in text
        assert f"• Trạng thái: {state.label}" in text
        assert "• Cơ quan tiếp nhận: Trung tâm Phục vụ hành chính công phường Hạc Thành" in text
        assert "• Đơn vị xử lý: Phòng Kinh tế" in text
        assert (
            "Tra cứu hồ sơ: https://dvc.example.gov.vn/tra-cuu?ma=000.20.31.H56-260310-0042" in text
        )
        assert text.endswith("Trung tâm Phục vụ hành chính công tỉnh Thanh Hóa")

    @pytest.mark.parametrize("state", list(CaseState))
    def test_each_message_is_nfc_and_within_zalos_limit(self, make_event, state):
        text = text_of(make_event, state=state.value, reason="Thiếu giấy tờ")
        assert unicodedata.is_normalized("NFC", text)
        assert len(text) <= MAX_TEXT_LENGTH

    @pytest.mark.parametrize("state", ["RECEIVED", "IN_PROGRESS", "RESULT_READY"])
    def test_open_cases_show_the_appointment_date(self, make_event, state):
        assert "• Ngày hẹn trả kết quả: 13/03/2026" in text_of(make_event, state=state)

    @pytest.mark.parametrize("state", ["REJECTED_AT_INTAKE", "STOPPED", "RESULT_RETURNED"])
    def test_closed_cases_do_not_show_an_appointment_date(self, make_event, state):
        assert "Ngày hẹn trả" not in text_of(make_event, state=state)

    def test_a_reason_ending_with_a_full_stop_gets_no_second_one(self, make_event):
        text = text_of(make_event, state="STOPPED", reason="Công dân rút hồ sơ.")
        assert "Lý do: Công dân rút hồ sơ." in text
        assert ".." not in text

    def test_a_missing_reason_is_left_out_rather_than_invented(self, make_event):
        text = text_of(make_event, state="STOPPED")
        assert "đã dừng xử lý." in text
        assert "Lý do" not in text

    def test_a_payment_request_shows_the_amount_and_link(self, make_event):
        text = text_of(
            make_event,
            state="PAYMENT_REQUESTED",
            payment={"amount_vnd": 100000, "payment_url": "https://dvc.example.gov.vn/thanh-toan"},
        )
        assert "số tiền 100.000 đ" in text
        assert "Thanh toán trực tuyến: https://dvc.example.gov.vn/thanh-toan" in text

    def test_a_result_at_a_counter_names_the_place(self, make_event):
        text = text_of(
            make_event,
            state="RESULT_READY",
            result={"pickup_location": "Quầy số 3", "note": "Mang theo giấy hẹn."},
        )
        assert "nhận kết quả tại Quầy số 3. Mang theo giấy hẹn." in text

    def test_a_result_by_post_says_so(self, make_event):
        text = text_of(make_event, state="RESULT_READY", result={"by_post": True})
        assert "qua dịch vụ bưu chính" in text

    def test_an_electronic_result_is_linked(self, make_event):
        text = text_of(
            make_event,
            state="RESULT_READY",
            result={"electronic_result_url": "https://dvc.example.gov.vn/kq/1"},
        )
        assert "Kết quả điện tử: https://dvc.example.gov.vn/kq/1" in text


class TestSubEvents:
    def test_a_transfer_names_the_new_department(self, make_event):
        text = text_of(
            make_event,
            event_type="TRANSFERRED",
            state="IN_PROGRESS",
            transfer={"to_unit": "Phòng Tài nguyên và Môi trường", "step_name": "Thẩm định"},
        )
        assert "đã được chuyển đến Phòng Tài nguyên và Môi trường để xử lý (Thẩm định)." in text

    def test_a_new_appointment_date_gives_both_dates_and_apologises(self, make_event):
        text = text_of(
            make_event,
            event_type="DUE_DATE_CHANGED",
            state="IN_PROGRESS",
            reason="Cần xác minh thêm",
            due_date_change={
                "old_due_at": "2026-03-13T17:00:00+07:00",
                "new_due_at": "2026-03-20T17:00:00+07:00",
            },
            case={"due_at": "2026-03-20T17:00:00+07:00"},
        )
        assert "đã được điều chỉnh từ ngày 13/03/2026 sang ngày 20/03/2026." in text
        assert "Lý do: Cần xác minh thêm." in text
        assert "thành thật xin lỗi Ông/Bà" in text
        assert "• Ngày hẹn trả kết quả: 20/03/2026" in text

    def test_a_completed_payment_is_confirmed(self, make_event):
        text = text_of(make_event, event_type="PAYMENT_COMPLETED", payment={"amount_vnd": 1500000})
        assert "Ông/Bà đã thanh toán thành công số tiền 1.500.000 đ" in text

    @pytest.mark.parametrize("event_type", ["CORRECTION", "INTERAGENCY_SENT", "OVERDUE"])
    def test_internal_steps_are_not_citizen_news(self, make_event, event_type):
        assert render_message(event(make_event, event_type=event_type), CONTEXT) is None


class TestFormatting:
    def test_dates_are_shown_in_vietnam_time(self):
        """20:00 UTC on the 13th is already the 14th in Hà Nội."""
        assert format_date(datetime(2026, 3, 13, 20, 0, tzinfo=UTC), VN) == "14/03/2026"

    @pytest.mark.parametrize(
        ("amount", "shown"),
        [(0, "0 đ"), (500, "500 đ"), (100000, "100.000 đ"), (1234567, "1.234.567 đ")],
    )
    def test_money_uses_dots_and_dong(self, amount, shown):
        assert format_vnd(amount) == shown

    def test_the_lookup_link_encodes_the_code(self, make_event):
        text = text_of(make_event, case={"code": "HS.2026-0001"})
        assert "?ma=HS.2026-0001" in text

    def test_the_event_may_carry_its_own_lookup_link(self, make_event):
        text = text_of(make_event, lookup_url="https://other.example.gov.vn/hs/42")
        assert "Tra cứu hồ sơ: https://other.example.gov.vn/hs/42" in text

    def test_the_longest_realistic_values_still_fit(self, make_event):
        """Every free-text field at its maximum: the message stays within 2,000 characters."""
        long_name = "Tên thủ tục rất dài " * 25
        text = text_of(
            make_event,
            state="SUPPLEMENT_REQUESTED",
            reason="Bổ sung giấy tờ " * 62,
            case={
                "procedure_name": long_name[:500],
                "handling_department": ("Phòng " * 60)[:300],
                "receiving_agency": {"name": ("Trung tâm " * 40)[:300]},
            },
        )
        assert len(text) <= MAX_TEXT_LENGTH
        assert "Mã hồ sơ: 000.20.31.H56-260310-0042" in text
        assert "Tra cứu hồ sơ: https://dvc.example.gov.vn/tra-cuu?ma=" in text
        assert text.endswith("Trung tâm Phục vụ hành chính công tỉnh Thanh Hóa")

    def test_the_template_version_is_reported(self, make_event):
        """The package's defaults: source, template name and a hash of the wording."""
        message = render_message(event(make_event), CONTEXT)
        again = render_message(event(make_event, state="RECEIVED"), CONTEXT)
        assert message is not None
        assert again is not None
        assert message.template_version.startswith("package:states.RECEIVED@")
        assert message.template_version == again.template_version
