"""What the bridge answers in the OA chat: link confirmations, lookups, errors (Vietnamese)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bridge.citizens.dossiers import DossierState

__all__ = ["Replies"]

Factor = Literal["receipt_secret", "phone_last4"]

_FACTOR_NAME: dict[str, str] = {
    "receipt_secret": "mã bí mật in trên Giấy tiếp nhận hồ sơ",
    "phone_last4": "4 số cuối của số điện thoại đã đăng ký khi nộp hồ sơ",
}
_EXAMPLE_FACTOR: dict[str, str] = {"receipt_secret": "K7QM2X", "phone_last4": "5678"}
_EXAMPLE_CODE = "000.20.31.H56-260310-0042"


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


@dataclass(frozen=True, slots=True)
class Replies:
    """The wording of every chat answer; pure, so it is tested without Zalo.

    Args:
        factor: The second factor the province asks for.
        timezone: Where dates are shown (the province's).
        signature: Closing line, or None.
        oa_name: Whose OA this is (the province's display name), or None.
    """

    factor: Factor = "receipt_secret"
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Ho_Chi_Minh"))
    signature: str | None = None
    oa_name: str | None = None

    def _done(self, *lines: str) -> str:
        body = "\n".join(lines)
        if self.signature:
            body += "\n" + self.signature
        return _nfc(body)

    def _how_to_link(self) -> str:
        factor = _FACTOR_NAME[self.factor]
        example = f"{_EXAMPLE_CODE} {_EXAMPLE_FACTOR[self.factor]}"
        return (
            f"Để nhận thông báo về hồ sơ, Ông/Bà vui lòng gửi mã hồ sơ kèm {factor}, "
            f"cách nhau bởi dấu cách. Ví dụ: {example}"
        )

    def welcome(self) -> str:
        """After a follow."""
        whose = f"Zalo OA {self.oa_name}" if self.oa_name else "Zalo OA của chúng tôi"
        return self._done(f"Cảm ơn Ông/Bà đã quan tâm {whose}.", self._how_to_link())

    def help(self) -> str:
        """For a text the bridge does not understand."""
        return self._done(
            self._how_to_link(),
            "Để tra cứu hồ sơ đã đăng ký, Ông/Bà gửi: TRA CUU <mã hồ sơ>.",
            "Để ngừng nhận thông báo của một hồ sơ, Ông/Bà gửi: HUY <mã hồ sơ>.",
        )

    def ask_factor(self, case_code: str) -> str:
        """A code came without the second factor (or from a user not yet linked)."""
        return self._done(
            f"Để xác nhận Ông/Bà là người nộp hồ sơ {case_code}, vui lòng gửi lại mã hồ sơ "
            f"kèm {_FACTOR_NAME[self.factor]}. Ví dụ: {case_code} {_EXAMPLE_FACTOR[self.factor]}"
        )

    def refused(self) -> str:
        """A wrong code or second factor; the same words for both, so codes cannot be probed."""
        return self._done(
            "Mã hồ sơ hoặc thông tin xác nhận chưa đúng. Ông/Bà vui lòng kiểm tra lại trên "
            "Giấy tiếp nhận hồ sơ và hẹn trả kết quả rồi gửi lại."
        )

    def rate_limited(self) -> str:
        """The last wrong attempt the account may send this hour: later ones get no answer."""
        return self._done(
            "Mã hồ sơ hoặc thông tin xác nhận chưa đúng. Ông/Bà đã nhập sai quá số lần cho "
            "phép; các tin nhắn xác nhận gửi trong 1 giờ tới sẽ không được trả lời. Vui lòng thử "
            "lại sau 1 giờ hoặc liên hệ Bộ phận Một cửa để được hỗ trợ."
        )

    def dossier_locked(self, case_code: str, until: float) -> str:
        """Too many wrong attempts for the dossier (from any account): linking waits."""
        return self._done(
            f"Hồ sơ {case_code} đang tạm khóa đăng ký nhận thông báo qua Zalo do thông tin xác "
            "nhận bị nhập sai nhiều lần. Ông/Bà vui lòng thử lại sau "
            f"{self._date(until, with_time=True)} hoặc liên hệ Bộ phận Một cửa để được hỗ trợ."
        )

    def new_link_notice(self, case_code: str, at: float) -> str:
        """To the accounts linked before: another Zalo account now follows the dossier too."""
        return self._done(
            f"Lưu ý: lúc {self._date(at, with_time=True)}, một tài khoản Zalo khác đã đăng ký "
            f"nhận thông báo về hồ sơ {case_code}. Nếu Ông/Bà không biết việc này, vui lòng "
            "liên hệ Bộ phận Một cửa để được hỗ trợ."
        )

    def linked(self, case_code: str, state: DossierState | None) -> str:
        """The link is made: notifications of ``case_code`` now come here."""
        lines = [
            f"Ông/Bà đã đăng ký nhận thông báo về hồ sơ {case_code} qua Zalo thành công.",
            "Từ nay, mỗi khi hồ sơ thay đổi trạng thái, chúng tôi sẽ gửi tin nhắn tại đây.",
        ]
        if state is not None:
            lines.extend(self._state_lines(state))
        lines.append(f"Để ngừng nhận thông báo, Ông/Bà gửi: HUY {case_code}")
        return self._done(*lines)

    def lookup(self, state: DossierState) -> str:
        """The current state of a linked dossier."""
        return self._done(f"Thông tin hồ sơ {state.case_code}:", *self._state_lines(state))

    def lookup_pending(self, case_code: str) -> str:
        """Linked, but no event of the dossier has reached the bridge yet."""
        return self._done(
            f"Hồ sơ {case_code} chưa có thông tin cập nhật. Chúng tôi sẽ nhắn Ông/Bà ngay khi "
            "hồ sơ thay đổi trạng thái."
        )

    def nothing_linked(self) -> str:
        """A lookup from a user with no linked dossier."""
        return self._done("Ông/Bà chưa đăng ký nhận thông báo cho hồ sơ nào.", self._how_to_link())

    def unsubscribed(self, case_code: str) -> str:
        """``HUY <mã>`` done."""
        return self._done(
            f"Ông/Bà đã ngừng nhận thông báo về hồ sơ {case_code} qua Zalo. Để đăng ký lại, "
            "Ông/Bà gửi mã hồ sơ kèm thông tin xác nhận."
        )

    def not_subscribed(self, case_code: str) -> str:
        """``HUY <mã>`` for a dossier this user does not follow."""
        return self._done(f"Ông/Bà chưa đăng ký nhận thông báo về hồ sơ {case_code}.")

    def unsubscribe_which(self, case_codes: Sequence[str]) -> str:
        """``HUY`` without a code."""
        if not case_codes:
            return self.nothing_linked()
        listed = "\n".join(f"• {code}" for code in case_codes)
        return self._done(
            "Ông/Bà vui lòng gửi HUY kèm mã hồ sơ muốn ngừng nhận thông báo. Các hồ sơ "
            f"Ông/Bà đang nhận thông báo:\n{listed}"
        )

    def _state_lines(self, state: DossierState) -> list[str]:
        lines = [
            f"• Thủ tục: {state.procedure_name}",
            f"• Trạng thái: {state.state.label}",
            f"• Cơ quan tiếp nhận: {state.agency_name}",
        ]
        if state.handling_department:
            lines.append(f"• Đơn vị đang xử lý: {state.handling_department}")
        if state.due_at is not None:
            lines.append(f"• Ngày hẹn trả kết quả: {self._date(state.due_at)}")
        lines.append(f"• Cập nhật lúc: {self._date(state.occurred_at, with_time=True)}")
        return lines

    def _date(self, epoch: float, *, with_time: bool = False) -> str:
        moment = datetime.fromtimestamp(epoch, UTC).astimezone(self.timezone)
        return moment.strftime("%H:%M %d/%m/%Y" if with_time else "%d/%m/%Y")
