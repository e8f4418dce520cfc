"""A citizen's typed answers: each kind checked, normalised, or refused with a Vietnamese hint."""

from __future__ import annotations

import unicodedata
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.submissions import Accepted, FieldSpec, Refused, display_value, read_answer

TODAY = date(2026, 3, 10)


def spec(kind: str, **extra: object) -> FieldSpec:
    if kind == "choice":
        extra.setdefault(
            "choices", [{"value": "nam", "label": "Nam"}, {"value": "nu", "label": "Nữ"}]
        )
    return FieldSpec.model_validate(
        {"key": "answer", "kind": kind, "label": "Giá trị", "prompt": "Xin nhập.", **extra}
    )


@pytest.mark.parametrize(
    ("field", "text", "value"),
    [
        (spec("text"), "  Nguyễn   Thị  An ", "Nguyễn Thị An"),
        (spec("text"), unicodedata.normalize("NFD", "Lê Văn Đức"), "Lê Văn Đức"),
        (spec("number"), "100.000.000", 100_000_000),
        (spec("number"), "1 500", 1_500),
        (spec("number"), "42", 42),
        (spec("date"), "05/03/2026", "2026-03-05"),
        (spec("date"), "5-3-2026", "2026-03-05"),
        (spec("date", not_in_future=True), "10/03/2026", "2026-03-10"),
        (spec("choice"), "2", "nu"),
        (spec("choice"), "nữ", "nu"),
        (spec("choice"), "NU", "nu"),
        (spec("citizen_id"), "001 203 004 567", "001203004567"),
        (spec("phone"), "0905 123 456", "0905123456"),
        (spec("phone"), "+84 905 123 456", "0905123456"),
        (spec("phone"), "84905123456", "0905123456"),
        (spec("address"), "12 Lê Lợi, Hải Châu, Đà Nẵng", "12 Lê Lợi, Hải Châu, Đà Nẵng"),
    ],
)
def test_good_answers_are_normalised(field, text, value):
    assert read_answer(field, text, today=TODAY) == Accepted(value)


@pytest.mark.parametrize(
    ("field", "text", "says"),
    [
        (spec("text", min_length=2), "A", "ít nhất 2 ký tự"),
        (spec("text", max_length=5), "Nguyễn Văn", "dài quá 5 ký tự"),
        (spec("number"), "một trăm", "số nguyên"),
        (spec("number"), "1,5", "số nguyên"),
        (spec("number", minimum=1), "0", "không được nhỏ hơn 1"),
        (spec("number", maximum=1_000_000), "2.000.000", "không được lớn hơn 1.000.000"),
        (spec("date"), "2026-03-05", "ngày/tháng/năm"),
        (spec("date"), "31/02/2026", "không có trên lịch"),
        (spec("date"), "01/01/1850", "từ năm 1900"),
        (spec("date", not_in_future=True), "11/03/2026", "sau ngày hôm nay (10/03/2026)"),
        (spec("choice"), "3", "1. Nam; 2. Nữ"),
        (spec("citizen_id"), "123456789", "đúng 12 chữ số"),
        (spec("citizen_id"), "００１２０３００４５６７", "đúng 12 chữ số"),
        (spec("phone"), "12345", "10 chữ số"),
        (spec("address"), "1234567890", "tên đường"),
        (spec("text"), "   ", "Xin nhập giá trị"),
    ],
)
def test_wrong_answers_get_a_vietnamese_correction(field, text, says):
    answer = read_answer(field, text, today=TODAY)
    assert isinstance(answer, Refused)
    assert says in answer.message


def test_values_are_shown_back_masked_where_personal():
    assert display_value(spec("citizen_id"), "001203004567") == "********4567"
    assert display_value(spec("phone"), "0905123456") == "******3456"
    assert display_value(spec("date"), "2026-03-05") == "05/03/2026"
    assert display_value(spec("number"), 100_000_000) == "100.000.000"
    assert display_value(spec("choice"), "nu") == "Nữ"
    assert display_value(spec("text", required=False), None) == "(bỏ qua)"


KINDS = ["text", "number", "date", "choice", "citizen_id", "phone", "address"]


@given(st.sampled_from(KINDS), st.text(max_size=400))
def test_any_text_is_either_accepted_or_refused_with_a_message(kind, text):
    field = spec(kind)
    answer = read_answer(field, text, today=TODAY)
    if isinstance(answer, Refused):
        assert answer.message.strip()
        assert unicodedata.is_normalized("NFC", answer.message)
    else:
        assert read_answer(field, str(answer.value), today=TODAY) == answer or kind in {
            "date",
            "number",
        }
        assert display_value(field, answer.value)


@given(st.from_regex(r"[0-9]{12}", fullmatch=True))
def test_every_twelve_digit_number_is_a_citizen_id_and_never_shown_whole(digits):
    field = spec("citizen_id")
    assert read_answer(field, digits, today=TODAY) == Accepted(digits)
    assert digits not in display_value(field, digits)


@given(st.dates(min_value=date(1900, 1, 1), max_value=TODAY))
def test_every_past_date_written_dd_mm_yyyy_is_read_back(day):
    field = spec("date", not_in_future=True)
    typed = day.strftime("%d/%m/%Y")
    assert read_answer(field, typed, today=TODAY) == Accepted(day.isoformat())
    assert display_value(field, day.isoformat()) == typed
