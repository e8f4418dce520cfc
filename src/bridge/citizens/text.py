"""Understand what a citizen typed in the OA chat: a dossier code, a lookup or ``HUY <mã>``."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = ["CaseCode", "Help", "Lookup", "Unsubscribe", "fold", "parse_citizen_text"]

_NATIONAL = re.compile(r"[0-9A-Z]{3}\.[0-9A-Z]{2}\.[0-9A-Z]{2}\.[GH][0-9]{2}-\d{6}-\d{4,5}")
_OTHER_CODE = re.compile(
    r"(?=[0-9A-Z.\-]*\d)(?=[0-9A-Z.\-]*[.\-])[0-9A-Z][0-9A-Z.\-]{6,38}[0-9A-Z]"
)
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


def _find_code(folded: str) -> tuple[str, str] | None:
    """The first dossier code in ``folded`` and what follows it."""
    for pattern in (_NATIONAL, _OTHER_CODE):
        match = pattern.search(folded)
        if match is not None:
            return match.group(0), folded[match.end() :]
    return None


def _factor(rest: str) -> str | None:
    words = [w.strip(_SEPARATORS) for w in rest.split()]
    words = [w for w in words if w and w not in {"MA", "MA BI MAT", "SDT"}]
    return "".join(words) or None


def parse_citizen_text(text: str) -> CitizenText:
    """Read one chat text: NFC, case and diacritics do not matter, nor extra spaces."""
    folded = fold(text)
    found = _find_code(folded)
    code = found[0] if found else None
    if _UNSUBSCRIBE.match(folded):
        return Unsubscribe(code)
    if _LOOKUP.match(folded):
        return Lookup(code)
    if found is None:
        return Help()
    return CaseCode(found[0], _factor(found[1]))
