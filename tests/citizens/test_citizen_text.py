"""What citizens type in the OA chat, read whatever the case, spacing or diacritics."""

from __future__ import annotations

import itertools
import re
import unicodedata

import pytest
from hypothesis import assume, event, given
from hypothesis import strategies as st

from bridge.citizens.text import (
    MAX_TEXT_CHARS,
    CaseCode,
    Help,
    Lookup,
    Unsubscribe,
    find_code,
    fold,
    parse_citizen_text,
)

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


class TestLabelsAndLimits:
    def test_the_label_ma_bi_mat_is_not_part_of_the_factor(self):
        assert parse_citizen_text(f"{CODE} mã bí mật: K7QM2X") == CaseCode(CODE, "K7QM2X")
        assert parse_citizen_text(f"{CODE} SĐT 5678") == CaseCode(CODE, "5678")

    def test_a_text_over_the_cap_is_not_read(self, monkeypatch):
        def never(_text):
            raise AssertionError("folded a text over the cap")

        monkeypatch.setattr("bridge.citizens.text.fold", never)
        assert parse_citizen_text(f"{CODE} K7QM2X" + " " * MAX_TEXT_CHARS) == Help()

    def test_a_text_at_the_cap_is_read(self):
        text = f"{CODE} K7QM2X".ljust(MAX_TEXT_CHARS)
        assert parse_citizen_text(text) == CaseCode(CODE, "K7QM2X")

    @pytest.mark.parametrize(
        "text",
        [
            "1" * 32_768,  # the 32K characters: 5.9 s before
            "1-" * 32_768,
            "A" * 65_536,
            "000.20.31.H56-260310-" * 3_000,
        ],
    )
    def test_the_measured_slow_texts_are_answered_with_help_unread(self, text):
        assert parse_citizen_text(text) == Help()


# ------------------------------------------------------------------ the old parser, as the oracle

_OLD_NATIONAL = re.compile(r"[0-9A-Z]{3}\.[0-9A-Z]{2}\.[0-9A-Z]{2}\.[GH][0-9]{2}-\d{6}-\d{4,5}")
_UNSUBSCRIBE_OLD = re.compile(r"^(?:HUY|HUY BO|DUNG|STOP)\b")
_LOOKUP_OLD = re.compile(r"^(?:#?TRA ?CUU|TRACUU|XEM)\b")
_OLD_OTHER_CODE = re.compile(
    r"(?=[0-9A-Z.\-]*\d)(?=[0-9A-Z.\-]*[.\-])[0-9A-Z][0-9A-Z.\-]{6,38}[0-9A-Z]"
)


def old_find_code(folded: str) -> tuple[str, str] | None:
    """The regular expressions this parser had before issue 11 (quadratic on long runs)."""
    for pattern in (_OLD_NATIONAL, _OLD_OTHER_CODE):
        match = pattern.search(folded)
        if match is not None:
            return match.group(0), folded[match.end() :]
    return None


CODE_PIECES = st.sampled_from(
    [
        CODE,
        CODE.lower(),
        "000.20.31.H56-260310-00421",
        "H56.22-240101-0001",
        "000.20.31.G01-",
        "1-",
        ".",
        "-",
        "0",
        "A",
        "H56",
        "2603100042",
        "X" * 45,
    ]
)
WORDS = st.sampled_from(
    [
        "huy",
        "Hủy",
        "HUY BO",
        "tra cứu",
        "TRACUU",
        "#tracuu",
        "xem",
        "dừng",
        "stop",
        "mã",
        "SĐT",
        "K7QM2X",
        "5678",
        "xin chào",
        "cảm ơn",
        ",",
        ":",
        ";",
        "/",
        "|",
        "đ",
        "ư",
    ]
)
NORMAL_TEXTS = st.lists(
    st.one_of(
        CODE_PIECES,
        WORDS,
        st.text(alphabet="0123456789ABCDEFGHKMN.-abc ", max_size=30),
    ),
    max_size=12,
).flatmap(
    lambda parts: st.lists(
        st.sampled_from(["", " ", "  ", "\t"]), min_size=len(parts), max_size=len(parts)
    ).map(lambda gaps: "".join(gap + part for gap, part in zip(gaps, parts, strict=True)))
)


class TestLinearTokenizer:
    @pytest.mark.fuzz
    @given(NORMAL_TEXTS)
    def test_it_finds_what_the_old_regular_expressions_found(self, text):
        folded = fold(text)
        found = find_code(folded)
        old = old_find_code(folded)
        event("code found" if old else "no code")
        assert (found.code, found.rest) == (old or (None, ""))

    @pytest.mark.fuzz
    @given(NORMAL_TEXTS)
    def test_parsing_agrees_with_the_old_parser_on_normal_texts(self, text):
        folded = fold(text)
        assume("MA BI MAT" not in folded)  # the label the old parser kept in the factor
        old = old_find_code(folded)
        if _UNSUBSCRIBE_OLD.match(folded):
            expected: object = Unsubscribe(old[0] if old else None)
        elif _LOOKUP_OLD.match(folded):
            expected = Lookup(old[0] if old else None)
        elif old is None:
            expected = Help()
        else:
            words = [w.strip(",;:/|") for w in old[1].split()]
            factor = "".join(w for w in words if w and w not in {"MA", "MA BI MAT", "SDT"})
            expected = CaseCode(old[0], factor or None)
        event(type(expected).__name__)
        assert parse_citizen_text(text) == expected

    @pytest.mark.fuzz
    @given(
        st.one_of(
            NORMAL_TEXTS,
            st.text(max_size=MAX_TEXT_CHARS),
            st.text(alphabet="0123456789ABC.-", max_size=MAX_TEXT_CHARS),
            st.builds(
                lambda piece, times: piece * times,
                st.sampled_from(["1", "1-", "A.", "0.0", "000.20.31.H56-", "-1", "9" * 7 + "."]),
                st.integers(min_value=1, max_value=MAX_TEXT_CHARS),
            ),
        )
    )
    def test_its_work_is_linear_in_the_text(self, text):
        """Steps (characters looked at) stay under 32 per character, whatever the text."""
        folded = fold(text)
        scan = find_code(folded)
        event(f"{len(folded) // 200 * 200}+ characters")
        assert scan.steps <= 32 * len(folded) + 32
        parse_citizen_text(text)  # terminates, and raises nothing

    @pytest.mark.parametrize("piece", ["1", "1-", "A.", "000.20.31.H56-260310-", "9999999."])
    def test_each_thousand_characters_more_cost_the_same_steps(self, piece):
        """Linear, not quadratic: the second difference of the step count is zero."""
        times = 1_000 // len(piece)
        steps = [find_code(piece * (n * times)).steps for n in (1, 2, 3, 4)]
        increments = {b - a for a, b in itertools.pairwise(steps)}
        assert len(increments) == 1, steps
