"""Turn a case-state event into the Vietnamese message a citizen reads (pure: no I/O, no clock)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote

from bridge.events import CaseState, CaseStateEvent, EventType

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from datetime import datetime
    from zoneinfo import ZoneInfo

__all__ = [
    "MAX_TEXT_LENGTH",
    "BuiltinRenderer",
    "CitizenMessage",
    "MessageContext",
    "format_date",
    "format_vnd",
    "render_message",
]

MAX_TEXT_LENGTH = 2000
"""Zalo's limit for a consultation text message, in characters."""

_ELLIPSIS = "…"


@dataclass(frozen=True, slots=True)
class MessageContext:
    """What the messages of one province need besides the event.

    Args:
        lookup_url_template: Link to the province's dossier lookup; ``{case_code}`` is replaced by
            the URL-encoded dossier code.
        timezone: Dates are shown in this zone (Asia/Ho_Chi_Minh).
        signature: Closing line naming the sender, e.g. the province's public-service centre.
    """

    lookup_url_template: str
    timezone: ZoneInfo
    signature: str | None = None


@dataclass(frozen=True, slots=True)
class CitizenMessage:
    """A message for one citizen.

    Args:
        text: Plain text, NFC, at most ``MAX_TEXT_LENGTH`` characters.
        template_version: Identifies the wording used, recorded with every delivery.
        template_data: The parameters of a Zalo template message (ZBS/ZNS) telling the same
            news, by parameter name: what the channel cascade sends when a text cannot go.
    """

    text: str
    template_version: str
    template_data: Mapping[str, str] = field(default_factory=dict)


TEMPLATE_VERSION = "builtin-1"


def format_date(moment: datetime, tz: ZoneInfo) -> str:
    """Format a moment as the date a Vietnamese citizen expects: ``dd/MM/yyyy`` in ``tz``."""
    return moment.astimezone(tz).strftime("%d/%m/%Y")


def format_vnd(amount: int) -> str:
    """Format an amount of đồng the Vietnamese way: ``100.000 đ``."""
    return f"{amount:,}".replace(",", ".") + " đ"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + _ELLIPSIS


def _phrase(text: str, limit: int) -> str:
    """Free text to be followed by our own full stop: clipped, without its final punctuation."""
    return _clip(text.rstrip(" .;,:"), limit)


def _headline(  # noqa: PLR0911 - one return per kind of event reads best as a match
    event: CaseStateEvent, date: Callable[[datetime], str]
) -> str | None:
    """The sentence that says what happened, or None when the citizen is not told."""
    case = event.case
    of_case = f"hồ sơ {case.code} ({_clip(case.procedure_name, 300)}) của Ông/Bà"
    subject = of_case[0].upper() + of_case[1:]
    reason = _phrase(event.reason, 600) if event.reason else None
    match event.event_type:
        case EventType.TRANSFERRED:
            assert event.transfer is not None  # noqa: S101 - guaranteed by the event's validator
            step = f" ({event.transfer.step_name})" if event.transfer.step_name else ""
            return f"{subject} đã được chuyển đến {event.transfer.to_unit} để xử lý{step}."
        case EventType.DUE_DATE_CHANGED:
            change = event.due_date_change
            assert change is not None  # noqa: S101 - guaranteed by the event's validator
            old = f" từ ngày {date(change.old_due_at)}" if change.old_due_at else ""
            text = f"Ngày hẹn trả kết quả {of_case} đã được điều chỉnh{old}"
            text += f" sang ngày {date(change.new_due_at)}."
            if reason:
                text += f" Lý do: {reason}."
            if change.apology:
                text += (
                    f" {case.receiving_agency.name} thành thật xin lỗi Ông/Bà vì sự chậm trễ này."
                )
            return text
        case EventType.PAYMENT_COMPLETED:
            paid = f" số tiền {format_vnd(event.payment.amount_vnd)}" if event.payment else ""
            return f"Ông/Bà đã thanh toán thành công{paid} cho hồ sơ {case.code}."
        case EventType.SUPPLEMENT_SUBMITTED:
            return f"{subject} đã được bổ sung giấy tờ; cơ quan đang xem xét phần bổ sung."
        case EventType.RESULT_DISPATCHED_BY_POST:
            return f"Kết quả {of_case} đã được gửi qua dịch vụ bưu chính."
        case EventType.STATE_CHANGED:
            return _state_headline(event, subject, reason)
        case _:
            # Internal steps (inter-agency legs, corrections, derived overdue flags) are not
            # citizen news; the apology for a late result arrives as DUE_DATE_CHANGED.
            return None


def _state_headline(  # noqa: C901, PLR0911 - one branch per national state
    event: CaseStateEvent, subject: str, reason: str | None
) -> str:
    case = event.case
    because = f" Lý do: {reason}." if reason else ""
    match event.state:
        case CaseState.SUBMITTED:
            return f"{subject} đã được đăng ký trực tuyến và đang chờ tiếp nhận."
        case CaseState.RECEIVED:
            return f"{subject} đã được tiếp nhận."
        case CaseState.REJECTED_AT_INTAKE:
            return f"{subject} không đủ điều kiện tiếp nhận.{because}"
        case CaseState.IN_PROGRESS:
            return f"{subject} đã được chuyển cho cán bộ chuyên môn xử lý."
        case CaseState.SUPPLEMENT_REQUESTED:
            what = f" Nội dung cần bổ sung: {reason}." if reason else ""
            return (
                f"{subject} cần được bổ sung, hoàn thiện giấy tờ.{what} Ông/Bà vui lòng liên hệ "
                f"{case.receiving_agency.name} để bổ sung."
            )
        case CaseState.PAYMENT_REQUESTED:
            amount = f" số tiền {format_vnd(event.payment.amount_vnd)}" if event.payment else ""
            link = (
                f" Thanh toán trực tuyến: {event.payment.payment_url}"
                if event.payment and event.payment.payment_url
                else ""
            )
            return f"{subject} cần thực hiện nghĩa vụ tài chính{amount}.{link}"
        case CaseState.WITHDRAWAL_REQUESTED:
            return f"Yêu cầu rút hồ sơ {case.code} của Ông/Bà đã được ghi nhận."
        case CaseState.STOPPED:
            return f"{subject} đã dừng xử lý.{because}"
        case CaseState.RESULT_READY:
            return _result_ready(event, subject)
        case CaseState.RESULT_RETURNED:
            return f"{subject} đã được trả kết quả. Cảm ơn Ông/Bà đã sử dụng dịch vụ."


def _result_ready(event: CaseStateEvent, subject: str) -> str:
    text = f"{subject} đã có kết quả."
    result = event.result
    if result is None:
        return text + f" Ông/Bà vui lòng nhận kết quả tại {event.case.receiving_agency.name}."
    if result.by_post:
        text += " Kết quả sẽ được gửi đến Ông/Bà qua dịch vụ bưu chính."
    else:
        where = result.pickup_location or event.case.receiving_agency.name
        text += f" Ông/Bà vui lòng nhận kết quả tại {where}."
    if result.note:
        text += f" {_phrase(result.note, 300)}."
    if result.electronic_result_url:
        text += f" Kết quả điện tử: {result.electronic_result_url}"
    return text


@dataclass(frozen=True, slots=True)
class BuiltinRenderer:
    """The package's built-in wording for one province's context."""

    context: MessageContext

    def render(self, event: CaseStateEvent) -> CitizenMessage | None:
        """The message about ``event`` (see ``render_message``)."""
        return render_message(event, self.context)


def render_message(event: CaseStateEvent, context: MessageContext) -> CitizenMessage | None:
    """Write the message that tells the citizen about ``event``.

    Args:
        event: A validated case-state event.
        context: The province's wording settings.

    Returns:
        The message (NFC, at most ``MAX_TEXT_LENGTH`` characters), or None when this kind of
        event is not news for the citizen (internal steps, data corrections).
    """

    def date(moment: datetime) -> str:
        return format_date(moment, context.timezone)

    headline = _headline(event, date)
    if headline is None:
        return None
    case = event.case
    facts = [f"• Mã hồ sơ: {case.code}", f"• Thủ tục: {_clip(case.procedure_name, 300)}"]
    facts.append(f"• Trạng thái: {event.state.label}")
    facts.append(f"• Cơ quan tiếp nhận: {case.receiving_agency.name}")
    if case.handling_department:
        facts.append(f"• Đơn vị xử lý: {case.handling_department}")
    if case.due_at and event.state not in _CLOSED_STATES:
        facts.append(f"• Ngày hẹn trả kết quả: {date(case.due_at)}")
    facts.append(f"Tra cứu hồ sơ: {_lookup_url(event, context)}")
    if context.signature:
        facts.append(context.signature)
    greeting = "Kính gửi Ông/Bà,"
    # The facts and the link always fit; the headline (which carries the free-text reason)
    # gives way when the whole would exceed Zalo's limit.
    room = MAX_TEXT_LENGTH - len(greeting) - sum(len(line) + 1 for line in facts) - 1
    lines = [greeting, _clip(headline, room), *facts]
    text = unicodedata.normalize("NFC", "\n".join(lines))
    template_data = {
        "ma_ho_so": case.code,
        "ten_thu_tuc": _clip(case.procedure_name, 100),
        "trang_thai": event.state.label,
        "ngay_hen_tra": date(case.due_at) if case.due_at else "",
        "don_vi_xu_ly": _clip(case.handling_department or case.receiving_agency.name, 100),
        "tra_cuu": _lookup_url(event, context),
    }
    return CitizenMessage(
        text=_clip(text, MAX_TEXT_LENGTH),
        template_version=TEMPLATE_VERSION,
        template_data={k: unicodedata.normalize("NFC", v) for k, v in template_data.items()},
    )


_CLOSED_STATES = frozenset(
    {
        CaseState.REJECTED_AT_INTAKE,
        CaseState.STOPPED,
        CaseState.RESULT_RETURNED,
        CaseState.WITHDRAWAL_REQUESTED,
    }
)


def _lookup_url(event: CaseStateEvent, context: MessageContext) -> str:
    if event.lookup_url is not None:
        return str(event.lookup_url)
    return context.lookup_url_template.replace("{case_code}", quote(event.case.code, safe=""))
