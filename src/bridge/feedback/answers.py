"""Read a citizen's answer to the satisfaction survey: a rating, a stop, or a comment (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from bridge.citizens.text import fold

__all__ = [
    "MAX_ANSWER_CHARS",
    "MAX_COMMENT_CHARS",
    "RATING_PAYLOAD",
    "Level",
    "Rating",
    "StopSurveys",
    "level_of",
    "parse_answer",
]

MAX_ANSWER_CHARS = 200
"""A longer text is no rating (it is read as a comment, or as an ordinary chat text)."""
MAX_COMMENT_CHARS = 500
"""Comments are cut to this many characters (after masking)."""
RATING_PAYLOAD = "#DANHGIA"
"""The prefix of the buttons' ``oa.query.show`` payloads: ``#DANHGIA 5``."""


class Level(StrEnum):
    """The three levels the national portal asks for (rất hài lòng, hài lòng, chưa hài lòng)."""

    VERY_SATISFIED = "rat_hai_long"
    SATISFIED = "hai_long"
    UNSATISFIED = "chua_hai_long"


@dataclass(frozen=True, slots=True)
class Rating:
    """A score from 1 to 5 and its level."""

    score: int

    @property
    def level(self) -> Level:
        """5: very satisfied; 3-4: satisfied; 1-2: not yet satisfied."""
        return level_of(self.score)


@dataclass(frozen=True, slots=True)
class StopSurveys:
    """``HUY`` while a survey waits (or ``HUY KHAO SAT`` at any time): no more surveys."""


def level_of(score: int) -> Level:
    """The level of a 1-5 score (see ``Rating.level``)."""
    if score >= 5:  # noqa: PLR2004 - the top of the scale
        return Level.VERY_SATISFIED
    if score >= 3:  # noqa: PLR2004 - the middle of the scale
        return Level.SATISFIED
    return Level.UNSATISFIED


_WORDS = {
    "RAT HAI LONG": 5,
    "HAI LONG": 4,
    "BINH THUONG": 3,
    "CHUA HAI LONG": 2,
    "KHONG HAI LONG": 1,
}
_SCORE = re.compile(r"^(?:#DANHGIA |DANH GIA |DANHGIA )?([1-5])(?: ?SAO| ?DIEM)?$")
_STOP_ANY_TIME = frozenset({"HUY KHAO SAT", "HUY DANH GIA", "DUNG KHAO SAT"})
_STOP_WHILE_ASKED = frozenset({"HUY", "DUNG", "STOP"})


def parse_answer(text: str, *, survey_waiting: bool) -> Rating | StopSurveys | None:
    """What ``text`` says to the survey, or None when it is not a survey answer.

    A rating is a score 1-5 (``5``, ``4 sao``, ``#DANHGIA 4``: the buttons' payload) or the words
    of a level, with or without diacritics. ``HUY KHAO SAT`` stops the surveys at any time; a
    bare ``HUY`` (or ``DUNG``/``STOP``) does so only while a survey waits for this citizen's answer
    (otherwise it keeps its meaning in the chat: stop a dossier's notifications). Longer texts
    than ``MAX_ANSWER_CHARS`` are never answers; below it the work is linear.
    """
    if len(text) > MAX_ANSWER_CHARS:
        return None
    folded = fold(text).strip(" .!")
    if folded in _STOP_ANY_TIME or (survey_waiting and folded in _STOP_WHILE_ASKED):
        return StopSurveys()
    if folded.startswith(RATING_PAYLOAD + " "):
        folded = folded[len(RATING_PAYLOAD) + 1 :]
    if folded in _WORDS:
        return Rating(_WORDS[folded])
    matched = _SCORE.match(folded)
    if matched is not None:
        return Rating(int(matched.group(1)))
    return None
