"""What citizens type in the OA chat, read whatever the case, spacing or diacritics."""

from __future__ import annotations

import unicodedata

import pytest

from bridge.citizens.text import CaseCode, Help, Lookup, Unsubscribe, fold, parse_citizen_text

CODE = "000.20.31.H56-260310-0042"


class TestFold:
    def test_removes_diacritics_case_and_extra_spaces(self):
        assert fold("  Hủy   bỏ  ") == "HUY BO"
        assert fold("Đăng ký") == "DANG KY"

    def test_nfd_input_folds_like_nfc(self):
        assert fold(unicodedata.normalize("NFD", "hủy")) == "HUY"


class TestParse:
    @pytest.mark.parametrize(
        "text",
        [
            f"HUY {CODE}",
            f"huy {CODE.lower()}",
            f"Hủy {CODE}",
            f"HUỶ   {CODE}  ",
            unicodedata.normalize("NFD", f"hủy {CODE}"),
            f"huỷ bỏ {CODE}",
        ],
    )
    def test_unsubscribe_with_a_code(self, text):
        assert parse_citizen_text(text) == Unsubscribe(CODE)

    def test_unsubscribe_without_a_code(self):
        assert parse_citizen_text("Hủy") == Unsubscribe(None)

    def test_a_word_starting_like_huy_is_not_an_unsubscribe(self):
        assert parse_citizen_text(f"HUYEN {CODE}") == CaseCode(CODE, None)

    @pytest.mark.parametrize("text", ["Tra cứu", "tra cuu", "TRACUU", "#tracuu"])
    def test_lookup_button_or_word(self, text):
        assert parse_citizen_text(text) == Lookup(None)

    def test_lookup_with_a_code(self):
        assert parse_citizen_text(f"Tra cứu {CODE}") == Lookup(CODE)

    def test_a_code_alone(self):
        assert parse_citizen_text(f"  {CODE.lower()} ") == CaseCode(CODE, None)

    @pytest.mark.parametrize(
        ("text", "factor"),
        [
            (f"{CODE} K7QM2X", "K7QM2X"),
            (f"{CODE}   k7qm2x", "K7QM2X"),
            (f"{CODE}, 5678", "5678"),
            (f"{CODE} mã: K7Q M2X", "K7QM2X"),
        ],
    )
    def test_a_code_with_its_second_factor(self, text, factor):
        assert parse_citizen_text(text) == CaseCode(CODE, factor)

    def test_a_provincial_code_of_another_form(self):
        assert parse_citizen_text("H56.22-240101-0001 1234") == CaseCode(
            "H56.22-240101-0001", "1234"
        )

    @pytest.mark.parametrize("text", ["", "Xin chào", "cảm ơn ạ", "12345"])
    def test_anything_else_gets_help(self, text):
        assert parse_citizen_text(text) == Help()
