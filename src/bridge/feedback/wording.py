"""What the survey says in the chat (pure): the question, its buttons, the thanks."""

from __future__ import annotations

import unicodedata

from bridge.feedback.answers import RATING_PAYLOAD, Level

__all__ = [
    "BUTTONS",
    "already_answered",
    "ask_reason",
    "comment_received",
    "question",
    "stopped",
    "thanks",
]

BUTTONS: tuple[tuple[str, str], ...] = (
    ("Rất hài lòng", f"{RATING_PAYLOAD} 5"),
    ("Hài lòng", f"{RATING_PAYLOAD} 4"),
    ("Chưa hài lòng", f"{RATING_PAYLOAD} 2"),
)
"""(title, oa.query.show payload) of the buttons under the question."""


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def question(template: str, *, case_code: str, procedure_name: str, agency_name: str) -> str:
    """The question, with how to answer by typing and how to stop."""
    asked = template.format_map(
        {"case_code": case_code, "procedure_name": procedure_name, "agency_name": agency_name}
    )
    return _nfc(
        f"{asked}\n"
        "Ông/Bà chọn một nút bên dưới, hoặc trả lời một số từ 1 đến 5 "
        "(5: rất hài lòng, 1: không hài lòng).\n"
        "Không muốn nhận khảo sát: trả lời HUY KHAO SAT."
    )


def thanks(level: Level) -> str:
    """After a rating that needs no reason."""
    if level is Level.VERY_SATISFIED:
        return _nfc("Cảm ơn Ông/Bà đã đánh giá Rất hài lòng. Chúc Ông/Bà nhiều sức khỏe!")
    return _nfc("Cảm ơn Ông/Bà đã dành thời gian đánh giá chất lượng phục vụ.")


def ask_reason(minutes: float) -> str:
    """After an unhappy rating: the reason, if the citizen wants to give one."""
    return _nfc(
        "Cảm ơn Ông/Bà đã đánh giá. Ông/Bà vui lòng cho biết lý do chưa hài lòng "
        f"(một tin nhắn ngắn, trong {minutes:.0f} phút) để cơ quan cải thiện. "
        "Xin đừng gửi số điện thoại hay số giấy tờ."
    )


def comment_received() -> str:
    """After the reason."""
    return _nfc("Cảm ơn Ông/Bà. Ý kiến đã được ghi nhận và chuyển tới cơ quan giải quyết.")


def already_answered() -> str:
    """A second answer: the first one stands."""
    return _nfc("Ông/Bà đã đánh giá hồ sơ này; đánh giá đầu tiên được ghi nhận. Xin cảm ơn!")


def stopped() -> str:
    """After HUY KHAO SAT."""
    return _nfc(
        "Ông/Bà sẽ không nhận khảo sát đánh giá nữa. Thông báo về hồ sơ vẫn được gửi như cũ "
        "(để ngừng nhận thông báo của một hồ sơ: HUY <mã hồ sơ>)."
    )
