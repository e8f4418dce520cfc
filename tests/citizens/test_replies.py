"""The chat answers' wording: Vietnamese, NFC, polite, with the dossier's progress."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bridge.citizens.dossiers import DossierState
from bridge.citizens.replies import Replies
from bridge.events import CaseState

VN = ZoneInfo("Asia/Ho_Chi_Minh")
CODE = "000.20.31.H56-260310-0042"
STATE = DossierState(
    case_code=CODE,
    sequence=3,
    state=CaseState.IN_PROGRESS,
    procedure_code="1.004616",
    procedure_name="Đăng ký thành lập hộ kinh doanh",
    agency_code="000.20.31.H56",
    agency_name="Trung tâm Phục vụ hành chính công phường Hạc Thành",
    handling_department="Phòng Kinh tế",
    due_at=datetime(2026, 3, 13, 17, 0, tzinfo=VN).timestamp(),
    occurred_at=datetime(2026, 3, 11, 8, 5, tzinfo=VN).timestamp(),
)
REPLIES = Replies(factor="receipt_secret", signature="Trung tâm Phục vụ hành chính công tỉnh")


def every_reply(replies):
    return [
        replies.welcome(),
        replies.help(),
        replies.ask_factor(CODE),
        replies.refused(),
        replies.rate_limited(),
        replies.dossier_locked(CODE, STATE.due_at),
        replies.new_link_notice(CODE, STATE.occurred_at),
        replies.linked(CODE, STATE),
        replies.linked(CODE, None),
        replies.lookup(STATE),
        replies.lookup_pending(CODE),
        replies.nothing_linked(),
        replies.unsubscribed(CODE),
        replies.not_subscribed(CODE),
        replies.unsubscribe_which([CODE]),
    ]


class TestReplies:
    def test_lookup_gives_state_department_and_appointment_date(self):
        text = REPLIES.lookup(STATE)
        assert text.splitlines() == [
            f"Thông tin hồ sơ {CODE}:",
            "• Thủ tục: Đăng ký thành lập hộ kinh doanh",
            "• Trạng thái: Đang xử lý",
            "• Cơ quan tiếp nhận: Trung tâm Phục vụ hành chính công phường Hạc Thành",
            "• Đơn vị đang xử lý: Phòng Kinh tế",
            "• Ngày hẹn trả kết quả: 13/03/2026",
            "• Cập nhật lúc: 08:05 11/03/2026",
            "Trung tâm Phục vụ hành chính công tỉnh",
        ]

    def test_linked_confirms_and_tells_how_to_stop(self):
        text = REPLIES.linked(CODE, STATE)
        assert "đăng ký nhận thông báo về hồ sơ" in text
        assert f"HUY {CODE}" in text
        assert "Trạng thái: Đang xử lý" in text

    @pytest.mark.parametrize("factor", ["receipt_secret", "phone_last4"])
    def test_every_reply_is_nfc_polite_and_short(self, factor):
        for text in every_reply(Replies(factor=factor)):
            assert unicodedata.is_normalized("NFC", text)
            assert len(text) <= 2000
        assert all("Ông/Bà" in t for t in every_reply(Replies(factor=factor))[:6])

    def test_the_factor_is_named(self):
        assert "mã bí mật in trên Giấy tiếp nhận" in Replies(factor="receipt_secret").help()
        assert "4 số cuối của số điện thoại" in Replies(factor="phone_last4").help()

    def test_the_refusal_does_not_say_which_part_was_wrong(self):
        assert "Mã hồ sơ hoặc thông tin xác nhận chưa đúng" in REPLIES.refused()

    def test_the_lock_names_the_dossier_and_when_to_retry_in_local_time(self):
        text = REPLIES.dossier_locked(CODE, STATE.due_at)
        assert f"Hồ sơ {CODE} đang tạm khóa" in text
        assert "thử lại sau 17:00 13/03/2026" in text

    def test_the_new_link_notice_says_when_and_what_to_do(self):
        text = REPLIES.new_link_notice(CODE, STATE.occurred_at)
        assert "lúc 08:05 11/03/2026, một tài khoản Zalo khác đã đăng ký" in text
        assert "liên hệ Bộ phận Một cửa" in text

    def test_no_linked_dossier_for_an_unsubscribe_without_code(self):
        assert REPLIES.unsubscribe_which([]) == REPLIES.nothing_linked()

    def test_the_welcome_names_the_province(self):
        assert "quan tâm Zalo OA Tỉnh Thanh Hóa." in Replies(oa_name="Tỉnh Thanh Hóa").welcome()
        assert "quan tâm Zalo OA của chúng tôi." in Replies().welcome()
