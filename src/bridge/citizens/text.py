"""Understand what a citizen typed in the OA chat: a dossier code, a lookup or ``HUY <mã>``."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = [
    "MAX_TEXT_CHARS",
    "CaseCode",
    "CodeScan",
    "Help",
    "Lookup",
    "Unsubscribe",
    "find_code",
    "fold",
    "parse_citizen_text",
]

MAX_TEXT_CHARS = 1_000
"""Longer texts are not read at all (they get the instructions): a code and its factor fit in 60.

Zalo delivers texts of a few thousand characters and the webhook accepts 256 KiB bodies; the cap
bounds the parser's work before any normalisation."""
_ALNUM = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_CODE_CHARS = _ALNUM | {".", "-"}
_DIGITS = frozenset("0123456789")
_NATIONAL_SHAPE = "XXX.XX.XX.GNN-NNNNNN-NNNN"
"""The national code (one-stop-shop-domain §4): X a digit or letter, G ``G`` or ``H``, N a digit;
a fifth final digit may follow."""
_OTHER_MIN, _OTHER_MAX = 8, 40
"""Another code: 8-40 code characters, starting and ending with a digit or letter, holding a
digit and a ``.`` or ``-``."""
_UNSUBSCRIBE = re.compile(r"^(?:HUY|HUY BO|DUNG|STOP)\b")
_LOOKUP = re.compile(r"^(?:#?TRA ?CUU|TRACUU|XEM)\b")
_SEPARATORS = ",;:/|"


@dataclass(frozen=True, slots=True)
class CaseCode:
    """A dossier code, with the second factor when one followed it."""

    case_code: str
    factor: str | None = None


@dataclass(frozen=True, slots=True)
class Lookup:
    """A lookup ("Tra cứu", typed or a button payload), for one code or every linked one."""

    case_code: str | None = None


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    """``HUY <mã hồ sơ>``: stop the notifications of one dossier (None: the code is missing)."""

    case_code: str | None = None


@dataclass(frozen=True, slots=True)
class Help:
    """Nothing the bridge understands: answer with the instructions."""


CitizenText = CaseCode | Lookup | Unsubscribe | Help


def fold(text: str) -> str:
    """Upper case without Vietnamese diacritics and with single spaces: ``hủy`` → ``HUY``."""
    decomposed = unicodedata.normalize("NFD", unicodedata.normalize("NFC", text))
    bare = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    bare = bare.replace("đ", "d").replace("Đ", "D")
    return " ".join(bare.upper().split())


@dataclass(frozen=True, slots=True)
class CodeScan:
    """Where ``find_code`` found the first dossier code, and the work it took."""

    code: str | None
    rest: str
    steps: int
    """Characters looked at (the tests bound it by a constant times the text's length)."""


def _national_at(folded: str, start: int, end: int) -> tuple[int, int]:
    """(length of the national code at ``start`` or 0, characters looked at)."""
    if end - start < len(_NATIONAL_SHAPE):
        return 0, 0
    steps = 0
    for offset, want in enumerate(_NATIONAL_SHAPE):
        char = folded[start + offset]
        steps += 1
        if want == "X":
            ok = char in _ALNUM
        elif want == "G":
            ok = char in "GH"
        elif want == "N":
            ok = char in _DIGITS
        else:
            ok = char == want
        if not ok:
            return 0, steps
    after = start + len(_NATIONAL_SHAPE)
    if after < end and folded[after] in _DIGITS:
        return len(_NATIONAL_SHAPE) + 1, steps + 1
    return len(_NATIONAL_SHAPE), steps


def _other_in(folded: str, start: int, end: int) -> tuple[tuple[int, int] | None, int]:
    """((first, last) of the first other-form code in the run ``[start, end)``, steps).

    A code begins at the first letter or digit from which the rest of the run still holds a
    digit and a separator, and ends at the last letter or digit within ``_OTHER_MAX``
    characters (at least ``_OTHER_MIN``). One pass backwards finds, for every position, the
    next digit and separator; one pass forwards the last letter or digit so far; then each
    candidate costs O(1): linear in the run.
    """
    size = end - start
    last_digit = last_separator = -1
    has_digit = [False] * size
    has_separator = [False] * size
    for k in range(size - 1, -1, -1):
        char = folded[start + k]
        if char in _DIGITS and last_digit < 0:
            last_digit = k
        if char in ".-" and last_separator < 0:
            last_separator = k
        has_digit[k] = last_digit >= k
        has_separator[k] = last_separator >= k
    previous_alnum = [-1] * size
    latest = -1
    for k in range(size):
        if folded[start + k] in _ALNUM:
            latest = k
        previous_alnum[k] = latest
    steps = 2 * size
    for k in range(size):
        steps += 1
        if folded[start + k] in _ALNUM and has_digit[k] and has_separator[k]:
            last = previous_alnum[min(k + _OTHER_MAX - 1, size - 1)]
            if last >= k + _OTHER_MIN - 1:
                return (start + k, start + last), steps
    return None, steps


def _runs(folded: str) -> tuple[list[tuple[int, int]], int]:
    """The maximal runs of code characters (``0-9A-Z.-``) as [start, end) pairs; steps."""
    runs: list[tuple[int, int]] = []
    begin = -1
    for index, char in enumerate(folded):
        if char in _CODE_CHARS:
            if begin < 0:
                begin = index
        elif begin >= 0:
            runs.append((begin, index))
            begin = -1
    if begin >= 0:
        runs.append((begin, len(folded)))
    return runs, len(folded)


def find_code(folded: str) -> CodeScan:
    """The first dossier code in folded text: a national one anywhere first, else another form.

    A tokenizer, not a regular expression: one pass cuts the text into runs of code characters
    (a code never spans two), and each run is read in time linear in its length, so the whole
    scan is linear in the text (``CodeScan.steps`` counts it). Codes are ASCII: digits of other
    scripts are not code characters.
    """
    runs, steps = _runs(folded)
    for start, end in runs:
        for first in range(start, end):
            length, looked = _national_at(folded, first, end)
            steps += looked + 1
            if length:
                last = first + length
                return CodeScan(folded[first:last], folded[last:], steps)
    for start, end in runs:
        found, looked = _other_in(folded, start, end)
        steps += looked
        if found is not None:
            first, last = found
            return CodeScan(folded[first : last + 1], folded[last + 1 :], steps)
    return CodeScan(None, "", steps)


def _factor(rest: str) -> str | None:
    """The second factor after the code: its words joined, without labels ("mã bí mật", "SĐT")."""
    words = [w.strip(_SEPARATORS) for w in rest.split()]
    words = [w for w in words if w]
    for index in range(len(words) - 2):  # the label "mã bí mật": three words
        if words[index : index + 3] == ["MA", "BI", "MAT"]:
            del words[index : index + 3]
            break
    words = [w for w in words if w not in {"MA", "SDT"}]
    return "".join(words) or None


def parse_citizen_text(text: str) -> CitizenText:
    """Read one chat text: NFC, case and diacritics do not matter, nor extra spaces.

    A text longer than ``MAX_TEXT_CHARS`` is not read (``Help``). Below it every step is linear:
    folding, ``find_code``, and the two keywords, matched at the start only.
    """
    if len(text) > MAX_TEXT_CHARS:
        return Help()
    folded = fold(text)
    found = find_code(folded)
    if _UNSUBSCRIBE.match(folded):
        return Unsubscribe(found.code)
    if _LOOKUP.match(folded):
        return Lookup(found.code)
    if found.code is None:
        return Help()
    return CaseCode(found.code, _factor(found.rest))
