"""Decode an untrusted record value into a JSON object, within explicit bounds, before any model.

Every bound is checked before or while parsing, so no input makes the parser raise anything but
``InvalidEventError`` (the standard library would otherwise raise ``ValueError`` for an integer of
4,300 digits and ``RecursionError`` for nesting about a thousand deep), and nothing reaches the
models, the wording or the databases that they cannot take (a lone surrogate cannot be encoded as
UTF-8; an integer beyond 64 bits cannot be bound to a ``BIGINT``; PostgreSQL text cannot hold NUL).
"""

from __future__ import annotations

import itertools
import json
import math
import re
from typing import Any, NoReturn

from bridge.errors import InvalidEventError, InvalidEventReason, exception_name

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "MAX_DEPTH",
    "MAX_FLOAT_CHARS",
    "MAX_INT_DIGITS",
    "decode_json_object",
]

MAX_DEPTH = 32
"""Deepest nesting of arrays and objects (the contracts need 3; the parser breaks near 1,000)."""
MAX_INT_DIGITS = 19
"""Most digits of an integer literal: every signed 64-bit integer, nothing longer."""
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
"""Every integer must fit a signed 64-bit column (``sequence`` is a ``BIGINT`` in the ledger)."""
MAX_FLOAT_CHARS = 40
"""Longest number literal with a fraction or an exponent (a double needs 24 characters)."""

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
"""A JSON string literal, lexed as the parser lexes it (an unterminated one does not match)."""
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
"""NUL, and the surrogates left alone once valid pairs are decoded (``\\ud800`` escapes)."""


class _RefusedError(Exception):
    """Raised from the parser's hooks; becomes ``InvalidEventError`` once the parser returns."""

    def __init__(self, reason: InvalidEventReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def decode_json_object(raw: bytes, *, max_bytes: int) -> dict[str, Any]:
    """Decode ``raw`` into a JSON object, or refuse it with the reason.

    Bounds: at most ``max_bytes`` bytes (checked before anything else), strict UTF-8, at most
    ``MAX_DEPTH`` levels of nesting (checked before parsing), integers within 64 bits (at most
    ``MAX_INT_DIGITS`` digits), finite numbers of at most ``MAX_FLOAT_CHARS`` characters, no
    ``NaN`` or ``Infinity``, no duplicate key in an object, no NUL or lone surrogate in any
    string or key, and an object at the top.

    Raises:
        InvalidEventError: ``oversize``, ``not_utf8``, ``too_deep``, ``invalid_json``,
            ``number_out_of_range``, ``duplicate_key``, ``invalid_text`` or
            ``schema_violation`` (not an object), naming the exception behind it.
    """
    if len(raw) > max_bytes:
        raise InvalidEventError(
            InvalidEventReason.OVERSIZE, f"{len(raw)} bytes, more than the limit of {max_bytes}"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidEventError(
            InvalidEventReason.NOT_UTF8, str(exc), exception=exception_name(exc)
        ) from exc
    if text.count("[") + text.count("{") > MAX_DEPTH:  # else it cannot nest deeper
        depth = nesting_depth(text)
        if depth > MAX_DEPTH:
            raise InvalidEventError(
                InvalidEventReason.TOO_DEEP, f"nested {depth} levels deep, more than {MAX_DEPTH}"
            )
    try:
        document = json.loads(
            text,
            parse_int=_integer,
            parse_float=_fraction,
            parse_constant=_constant,
            object_pairs_hook=_object,
        )
    except _RefusedError as exc:
        raise InvalidEventError(exc.reason, exc.detail) from exc
    except json.JSONDecodeError as exc:
        raise InvalidEventError(
            InvalidEventReason.INVALID_JSON, str(exc), exception=exception_name(exc)
        ) from exc
    except RecursionError as exc:  # pragma: no cover - the depth is checked before parsing
        raise InvalidEventError(
            InvalidEventReason.TOO_DEEP, "nested too deep to parse", exception=exception_name(exc)
        ) from exc
    except ValueError as exc:  # pragma: no cover - every number goes through the hooks
        raise InvalidEventError(
            InvalidEventReason.INVALID_JSON,
            f"cannot parse: {exception_name(exc)}",
            exception=exception_name(exc),
        ) from exc
    if not isinstance(document, dict):
        raise InvalidEventError(
            InvalidEventReason.SCHEMA_VIOLATION,
            f"expected a JSON object, got {type(document).__name__}",
        )
    _check_texts(document)
    return document


def nesting_depth(text: str) -> int:
    """How deep arrays and objects nest in ``text``, brackets inside strings left out.

    Linear in the length. For text that is not valid JSON the answer is never lower than the
    depth the parser would reach before failing, so it is safe as a bound.
    """
    skeleton = _STRING.sub("", text)
    unterminated = skeleton.find('"')
    if unterminated >= 0:  # the parser stops at a string that never ends
        skeleton = skeleton[:unterminated]
    brackets = _NOT_BRACKET.sub("", skeleton)
    if not brackets:
        return 0
    return max(0, *itertools.accumulate(1 if b in "[{" else -1 for b in brackets))


def _integer(literal: str) -> int:
    digits = len(literal) - literal.startswith("-")
    if digits > MAX_INT_DIGITS:
        _refuse(
            InvalidEventReason.NUMBER_OUT_OF_RANGE,
            f"an integer of {digits} digits, outside the signed 64-bit range",
        )
    value = int(literal)
    if not INT64_MIN <= value <= INT64_MAX:
        _refuse(
            InvalidEventReason.NUMBER_OUT_OF_RANGE,
            "an integer outside the signed 64-bit range",
        )
    return value


def _fraction(literal: str) -> float:
    if len(literal) > MAX_FLOAT_CHARS:
        _refuse(
            InvalidEventReason.NUMBER_OUT_OF_RANGE,
            f"a number literal of {len(literal)} characters, more than {MAX_FLOAT_CHARS}",
        )
    value = float(literal)
    if not math.isfinite(value):
        _refuse(InvalidEventReason.NUMBER_OUT_OF_RANGE, "a number too large for a double")
    return value


def _constant(literal: str) -> NoReturn:
    _refuse(InvalidEventReason.INVALID_JSON, f"{literal} is not a JSON value")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                _refuse(
                    InvalidEventReason.DUPLICATE_KEY,
                    f"the key {_shown(key)} appears more than once in an object",
                )
            seen.add(key)
    return document


def _check_texts(document: dict[str, Any]) -> None:
    """Refuse NUL and lone surrogates in any key or string (the depth is bounded already)."""
    pending: list[Any] = [document]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            found = _BAD_TEXT.search(value)
            if found is not None:
                what = "NUL" if found.group() == "\x00" else "a lone surrogate"
                _invalid_text(f"a string holds {what} (U+{ord(found.group()):04X})")
        elif isinstance(value, dict):
            for key in value:
                if _BAD_TEXT.search(key) is not None:
                    _invalid_text("a key holds NUL or a lone surrogate")
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)


def _invalid_text(detail: str) -> NoReturn:
    raise InvalidEventError(InvalidEventReason.INVALID_TEXT, detail)


def _refuse(reason: InvalidEventReason, detail: str) -> NoReturn:
    raise _RefusedError(reason, detail)


def _shown(key: str) -> str:
    """A key as a detail may show it: short, and printable (it came from the input)."""
    shown = key[:40].encode("ascii", "backslashreplace").decode("ascii")
    return repr(shown) + ("…" if len(key) > 40 else "")  # noqa: PLR2004 - a short excerpt
