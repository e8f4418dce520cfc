"""Hypothesis strategies of hostile input: bytes, JSON, and contract-shaped records with poison."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from bridge.events import CaseState, EventType
from support import BASE_EVENT

CASE_CODES = (
    "000.20.31.H56-260310-0042",
    "000.20.31.H56-260310-0043",
    "HS-2026-000123",
)
USERS = ("2512523625412515", "7001", "7002")
PHONES = ("0912345678", "84912345678")

SPECIAL_TEXTS = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "\udfff lone",
    "\u202eRTL override",
    "zero\u200bwidth\ufeff",
    "Vie\u0302\u0323t Nam",  # decomposed: NFC makes it "Việt Nam"
    "e" + "\u0301" * 500,
    "😀" * 300,
    "{{ 7 * 7 }}{% for x in range(10**9) %}{% endfor %}",
    "{case_code}{0}%s%(x)s",
    "<script>alert(1)</script>",
    "line\r\nbreak\ttab\x1b[31m",
    "0912345678 038095001234",
    "x" * 5000,
    "Đăng ký thành lập hộ kinh doanh",
)
"""Strings that broke, or could break, something somewhere: control, format, size, escapes."""

texts = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=60),
    st.sampled_from(SPECIAL_TEXTS),
    st.builds(
        lambda s, n: s * n,
        st.sampled_from(("ạ", "\u0301", "[", "{", '"', "\\")),
        st.integers(1, 3000),
    ),
)
"""Any text: every code point (lone surrogates included), the specials, and long runs."""

numbers = st.one_of(
    st.integers(-5, 50),
    st.integers(),
    st.integers(2**63 - 3, 2**63 + 3),
    st.integers(-(2**63) - 3, -(2**63) + 3),
    st.integers(10**18, 10**4000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from((1e308, -0.0, 5e-324, 1.5, 2.0**63)),
    st.booleans(),
    st.none(),
    texts,
)
"""Any number a producer could put where an integer is expected, and a few that are not."""


EARLIEST = datetime(1, 1, 2)  # noqa: DTZ001 - st.datetimes takes naive bounds
LATEST = datetime(9999, 12, 30)  # noqa: DTZ001 - st.datetimes takes naive bounds


@st.composite
def moments(draw: st.DrawFn, *, wild: bool = True) -> str:
    """An ISO 8601 moment: any year 1-9999, any UTC offset; when wild, maybe without one."""
    when = draw(st.datetimes(min_value=EARLIEST, max_value=LATEST))
    if wild and draw(st.integers(0, 9)) == 0:
        return when.isoformat()  # no offset: the contract refuses it
    minutes = draw(st.integers(-23 * 60 - 59, 23 * 60 + 59))
    return when.replace(tzinfo=timezone(timedelta(minutes=minutes))).isoformat()


urls = st.one_of(
    st.sampled_from(
        (
            "https://dvc.example.gov.vn/tra-cuu?ma=1",
            "http://[::1]:99999/",
            "javascript:alert(1)",
            "https://xn--vit-nam-8wa.vn/" + "a" * 3000,
            "https://ví dụ.vn/đường dẫn",
        )
    ),
    texts,
)


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The value, None, or the key left out (``deep_merge`` removes None)."""
    return st.one_of(st.none(), strategy)


fair_texts = st.one_of(
    st.text(
        st.characters(exclude_categories=("Cs",), exclude_characters="\x00"),
        min_size=1,
        max_size=200,
    ),
    st.sampled_from([t for t in SPECIAL_TEXTS if t.strip() and len(t) <= 200]).filter(
        lambda t: "\x00" not in t and not any(0xD800 <= ord(c) <= 0xDFFF for c in t)
    ),
    st.builds(
        lambda s, n: "Hồ sơ " + s * n,
        st.sampled_from(("ạ", "\u0301", "[", "{{", '"', "\\", "😀", "\u202e")),
        st.integers(1, 90),
    ),
).filter(lambda t: t.strip())
"""Text the contract accepts, still hostile: any code point but NUL and surrogates, 200 at most."""

fair_urls = st.one_of(
    st.sampled_from(
        (
            "https://dvc.example.gov.vn/tra-cuu?ma=1",
            "https://ví-dụ.vn/đường dẫn?q={{x}}",
            "http://127.0.0.1:8080/%00%ff",
            "https://example.vn/" + "a" * 1500,
        )
    ),
    st.builds("https://example.vn/{}".format, st.text("abc/%?#&=ạ ", max_size=40)),
)


@st.composite
def hostile_events(draw: st.DrawFn) -> dict[str, Any]:
    """A case-state event shaped like the contract, with hostile strings and numbers inside.

    Three in four keep every value within the contract (hostile still: any code point, NFD,
    format characters, template syntax, extreme dates and numbers), so they go all the way to
    Zalo; the fourth takes its values from anywhere.
    """
    wild = draw(st.integers(0, 3)) == 0
    text = texts if wild else fair_texts
    url = urls if wild else fair_urls
    number = numbers if wild else st.one_of(st.integers(0, 20), st.integers(0, 2**63 - 1))
    event = copy.deepcopy(BASE_EVENT)
    event["event_id"] = str(draw(st.uuids()))
    event["event_type"] = draw(st.sampled_from(list(EventType)))
    event["state"] = draw(st.sampled_from(list(CaseState)))
    event["previous_state"] = draw(optional(st.sampled_from(list(CaseState))))
    event["sequence"] = draw(number)
    event["occurred_at"] = draw(moments(wild=wild))
    event["province"] = draw(st.sampled_from(("thanh-hoa", "ha-noi", *["Thanh Hoá"] * wild)))
    case = event["case"]
    case["code"] = draw(st.sampled_from(CASE_CODES))
    case["procedure_name"] = draw(text)
    case["receiving_agency"]["name"] = draw(text)
    case["handling_department"] = draw(optional(text))
    case["due_at"] = draw(optional(moments(wild=wild)))
    event["reason"] = draw(optional(text))
    if draw(st.booleans()):
        event["result"] = {
            "pickup_location": draw(optional(text)),
            "note": draw(optional(text)),
            "electronic_result_url": draw(optional(url)),
            "by_post": draw(st.booleans()),
        }
    if event["event_type"] == "TRANSFERRED" or draw(st.booleans()):
        event["transfer"] = {"to_unit": draw(text), "step_name": draw(optional(text))}
    if event["event_type"] == "DUE_DATE_CHANGED" or draw(st.booleans()):
        event["due_date_change"] = {
            "new_due_at": draw(moments(wild=wild)),
            "apology": draw(st.booleans()),
        }
    if draw(st.booleans()):
        amount = numbers if wild else st.integers(0, 10**13)
        event["payment"] = {"amount_vnd": draw(amount), "payment_url": draw(optional(url))}
    event["lookup_url"] = draw(optional(url))
    user = st.from_regex(r"[0-9]{1,32}", fullmatch=True)
    phone = st.from_regex(r"(?:\+?84|0)[1-9][0-9]{8,9}", fullmatch=True)
    event["recipient"] = {
        "zalo_user_id": draw(optional(st.one_of(st.sampled_from(USERS), user, *[texts] * wild))),
        "phone": draw(optional(st.one_of(st.sampled_from(PHONES), phone, *[texts] * wild))),
        "notify_consent": draw(st.one_of(st.booleans(), *[numbers] * wild)),
    }
    if not event["recipient"]["zalo_user_id"] and not event["recipient"]["phone"]:
        event["recipient"]["zalo_user_id"] = USERS[0]
    extra = draw(st.dictionaries(texts, json_values, max_size=2)) if wild else {}
    return {**extra, **{k: v for k, v in event.items() if v is not None}}


json_values = st.recursive(
    st.none() | st.booleans() | numbers | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=25,
)
"""Any JSON value (and NaN, infinities, big integers, lone surrogates that JSON cannot hold)."""


def serialise(document: Any, *, ascii_only: bool) -> bytes:
    """Bytes a careless producer would send: NaN allowed, surrogates passed through as bytes."""
    return json.dumps(document, ensure_ascii=ascii_only, allow_nan=True).encode(
        "utf-8", "surrogatepass"
    )


def deep(depth: int) -> bytes:
    return b'{"a":' + b"[" * depth + b"]" * depth + b"}"


POISON = (
    b'{"sequence": ' + b"7" * 5000 + b"}",
    deep(1200),
    deep(100_000),
    b'{"a": ' + b"[" * 33 + b"]" * 33 + b"}",
    b'{"a": NaN, "b": -Infinity}',
    b'{"a": 1e99999}',
    b'{"a": "\\ud800"}',
    b'{"a": "\xed\xa0\x80"}',
    b'{"a": 1, "a": 2}',
    b"\xff\xfe{}",
    b"\xef\xbb\xbf{}",
    b"",
    b"null",
    b"[]",
    b" " * 70_000,
)
"""The records of the issue and their relatives."""


@st.composite
def mutated_events(draw: st.DrawFn) -> bytes:
    """A valid event's bytes with a few bytes flipped, cut or inserted."""
    raw = bytearray(json.dumps({**BASE_EVENT, "event_id": str(uuid.uuid4())}).encode())
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(raw)))
        action = draw(st.sampled_from(("flip", "cut", "insert")))
        if action == "flip" and at < len(raw):
            raw[at] = draw(st.integers(0, 255))
        elif action == "cut":
            del raw[at : at + draw(st.integers(1, 20))]
        else:
            raw[at:at] = draw(st.binary(min_size=1, max_size=8))
    return bytes(raw)


record_values = st.one_of(
    st.binary(max_size=200),
    st.builds(serialise, json_values, ascii_only=st.booleans()),
    st.builds(serialise, hostile_events(), ascii_only=st.booleans()),
    mutated_events(),
    st.sampled_from(POISON),
)
"""Any record value: arbitrary bytes, arbitrary JSON, hostile events, mutations, known poison."""

record_keys = st.one_of(
    st.sampled_from(CASE_CODES).map(str.encode), st.none(), st.binary(max_size=12)
)
record_headers = st.lists(st.tuples(texts, st.binary(max_size=16)), max_size=2)
