"""Reading survey answers: ratings typed or tapped, the stop word, everything else left alone."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.feedback.answers import (
    MAX_ANSWER_CHARS,
    Level,
    Rating,
    StopSurveys,
    level_of,
    parse_answer,
)
from bridge.feedback.wording import BUTTONS


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("5", 5),
        (" 4 ", 4),
        ("3 sao", 3),
        ("1 điểm", 1),
        ("#DANHGIA 2", 2),
        ("Rất hài lòng", 5),
        ("rat hai long", 5),
        ("Hài lòng", 4),
        ("Bình thường", 3),
        ("Chưa hài lòng!", 2),
        ("KHÔNG HÀI LÒNG", 1),
        ("Đánh giá 5", 5),
    ],
)
def test_ratings_typed_or_tapped(text, score):
    assert parse_answer(text, survey_waiting=True) == Rating(score)


@pytest.mark.parametrize(("title", "payload"), BUTTONS)
def test_every_button_payload_is_a_rating_of_its_title(title, payload):
    tapped = parse_answer(payload, survey_waiting=True)
    typed = parse_answer(title, survey_waiting=True)
    assert isinstance(tapped, Rating)
    assert tapped == typed


@pytest.mark.parametrize(
    "text", ["0", "6", "45", "5 5", "tra cuu", "000.20.31.H56-260310-0042", ""]
)
def test_other_texts_are_not_answers(text):
    assert parse_answer(text, survey_waiting=True) is None


def test_the_bare_stop_word_stops_surveys_only_while_one_waits():
    assert parse_answer("HUY", survey_waiting=True) == StopSurveys()
    assert parse_answer("Hủy", survey_waiting=False) is None  # the chat's own HUY
    assert parse_answer("hủy khảo sát", survey_waiting=False) == StopSurveys()


def test_levels():
    assert [level_of(s) for s in range(1, 6)] == [
        Level.UNSATISFIED,
        Level.UNSATISFIED,
        Level.SATISFIED,
        Level.SATISFIED,
        Level.VERY_SATISFIED,
    ]


def test_a_long_text_is_never_an_answer():
    assert parse_answer("5" + " " * MAX_ANSWER_CHARS, survey_waiting=True) is None


@given(st.text(max_size=2 * MAX_ANSWER_CHARS), st.booleans())
def test_any_text_gives_a_rating_in_range_a_stop_or_nothing(text, waiting):
    parsed = parse_answer(text, survey_waiting=waiting)
    assert parsed is None or parsed == StopSurveys() or 1 <= parsed.score <= 5
    if len(text) > MAX_ANSWER_CHARS:
        assert parsed is None


@given(st.integers(min_value=1, max_value=5), st.sampled_from(["", " ", "  "]))
def test_a_score_with_spaces_around_is_that_score(score, pad):
    assert parse_answer(f"{pad}{score}{pad}", survey_waiting=False) == Rating(score)
