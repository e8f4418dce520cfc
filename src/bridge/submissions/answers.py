"""A citizen's answer to one field: read, checked, normalised, or a Vietnamese correction prompt."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from bridge.submissions.forms import FieldSpec

__all__ = ["Accepted", "Refused", "display_value", "read_answer"]

_SPACES = re.compile(r"\s+")
_DATE = re.compile(r"^(?P<d>\d{1,2})[/.-](?P<m>\d{1,2})[/.-](?P<y>\d{4})$")
_GROUPED = re.compile(r"^\d{1,3}([.,]\d{3})+$")
_EARLIEST_YEAR = 1900
_CITIZEN_ID_DIGITS = 12
_SHOWN_ID_DIGITS = 4


@dataclass(frozen=True, slots=True)
class Accepted:
    """The answer, normalised as it goes in the event (``None``: an optional field skipped)."""

    value: str | int | None


@dataclass(frozen=True, slots=True)
class Refused:
    """Why the answer cannot be taken, in Vietnamese, with how to write it."""

    message: str


def _clean(text: str) -> str:
    return _SPACES.sub(" ", unicodedata.normalize("NFC", text)).strip()


def _folded(text: str) -> str:
    """Lower case without diacritics, for matching a typed choice."""
    decomposed = unicodedata.normalize("NFD", text.casefold()).replace("đ", "d")
    return "".join(char for char in decomposed if not unicodedata.combining(char)).strip()


def _text(spec: FieldSpec, text: str) -> Accepted | Refused:
    low = spec.min_length or 1
    if len(text) < low:
        return Refused(f"{spec.label} cần ít nhất {low} ký tự.")
    if spec.max_length is not None and len(text) > spec.max_length:
        return Refused(f"{spec.label} dài quá {spec.max_length} ký tự, xin viết gọn hơn.")
    if spec.kind == "address" and not any(char.isalpha() for char in text):
        return Refused(f"{spec.label} cần có tên đường, xã/phường hoặc tỉnh/thành phố.")
    return Accepted(text)


def _number(spec: FieldSpec, text: str) -> Accepted | Refused:
    compact = text.replace(" ", "")
    if _GROUPED.match(compact):
        compact = compact.replace(".", "").replace(",", "")
    if not compact.isascii() or not compact.isdigit():
        return Refused(f"{spec.label} cần là một số nguyên, chỉ gồm chữ số (ví dụ: 100.000.000).")
    number = int(compact)
    if spec.minimum is not None and number < spec.minimum:
        return Refused(f"{spec.label} không được nhỏ hơn {spec.minimum:,}.".replace(",", "."))
    if spec.maximum is not None and number > spec.maximum:
        return Refused(f"{spec.label} không được lớn hơn {spec.maximum:,}.".replace(",", "."))
    return Accepted(number)


def _date(spec: FieldSpec, text: str, today: date) -> Accepted | Refused:
    how = "Xin nhập ngày theo dạng ngày/tháng/năm, ví dụ 05/03/2026."
    match = _DATE.match(text.replace(" ", ""))
    if match is None:
        return Refused(f"{spec.label} chưa đúng dạng. {how}")
    try:
        value = date(int(match["y"]), int(match["m"]), int(match["d"]))
    except ValueError:
        return Refused(f"Ngày {text} không có trên lịch. {how}")
    if value.year < _EARLIEST_YEAR:
        return Refused(f"{spec.label} phải từ năm {_EARLIEST_YEAR} trở đi. {how}")
    if spec.not_in_future and value > today:
        return Refused(f"{spec.label} không thể sau ngày hôm nay ({today:%d/%m/%Y}).")
    return Accepted(value.isoformat())


def _choice(spec: FieldSpec, text: str) -> Accepted | Refused:
    if text.isascii() and text.isdigit() and 1 <= int(text) <= len(spec.choices):
        return Accepted(spec.choices[int(text) - 1].value)
    folded = _folded(text)
    for choice in spec.choices:
        if folded in {_folded(choice.label), choice.value}:
            return Accepted(choice.value)
    numbered = "; ".join(f"{n}. {choice.label}" for n, choice in enumerate(spec.choices, 1))
    return Refused(f"Xin chọn một trong các số sau: {numbered}.")


def _citizen_id(spec: FieldSpec, text: str) -> Accepted | Refused:
    digits = re.sub(r"[\s.-]", "", text)
    if not digits.isascii() or not digits.isdigit() or len(digits) != _CITIZEN_ID_DIGITS:
        return Refused(
            f"{spec.label} gồm đúng {_CITIZEN_ID_DIGITS} chữ số (số trên căn cước, "
            "không phải số chứng minh nhân dân 9 số). Xin nhập lại."
        )
    return Accepted(digits)


def _phone(spec: FieldSpec, text: str) -> Accepted | Refused:
    digits = re.sub(r"[\s.()-]", "", text)
    if digits.startswith("+84"):
        digits = "0" + digits[3:]
    elif digits.startswith("84") and len(digits) == 11:  # noqa: PLR2004 - 84 + nine digits
        digits = "0" + digits[2:]
    if not re.fullmatch(r"0[1-9]\d{8,9}", digits):
        return Refused(
            f"{spec.label} chưa đúng: số điện thoại gồm 10 chữ số bắt đầu bằng 0 "
            "(ví dụ: 0905123456)."
        )
    return Accepted(digits)


def read_answer(spec: FieldSpec, text: str, *, today: date) -> Accepted | Refused:
    """Check one typed answer against its field; ``today`` is the province's date, never a clock."""
    cleaned = _clean(text)
    if not cleaned:
        return Refused(f"Xin nhập {spec.label.lower()}.")
    if spec.kind == "date":
        return _date(spec, cleaned, today)
    readers: dict[str, Callable[[FieldSpec, str], Accepted | Refused]] = {
        "text": _text,
        "address": _text,
        "number": _number,
        "choice": _choice,
        "citizen_id": _citizen_id,
        "phone": _phone,
    }
    return readers[spec.kind](spec, cleaned)


def display_value(spec: FieldSpec, value: str | int | None) -> str:
    """How an accepted value is shown back to the citizen (ID and phone numbers masked)."""
    if value is None:
        return "(bỏ qua)"
    if spec.kind == "number" and isinstance(value, int):
        return f"{value:,}".replace(",", ".")
    if spec.kind == "date":
        year, month, day = str(value).split("-")
        return f"{day}/{month}/{year}"
    if spec.kind == "choice":
        return next((choice.label for choice in spec.choices if choice.value == value), str(value))
    if spec.kind in {"citizen_id", "phone"}:
        shown = str(value)
        return "*" * (len(shown) - _SHOWN_ID_DIGITS) + shown[-_SHOWN_ID_DIGITS:]
    return str(value)
