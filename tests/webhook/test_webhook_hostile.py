"""Hostile webhook requests: whatever a caller without the secret sends, a counted 4xx, never a 5xx.

The requests go through the real ASGI app (``webhook_endpoint``) and ``WebhookInbox.receive`` to
a store that records what reaches it; the examples are the measured triggers of issue 11, the
properties are Hypothesis runs over bodies and headers (``make fuzz`` runs them longer).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from bridge.errors import StoreError
from bridge.webhook.endpoint import MAX_BODY_BYTES, REQUEST_RESULTS, WebhookInbox, webhook_endpoint
from bridge.webhook.events import SignatureKeys, parse_oa_event
from bridge_devkit.emulator.webhook import compact_json

APP_ID, SECRET = "3066521851012345678", "oa-secret"
NOW = 1_796_032_830.0
FRESH = str(int(NOW * 1000))
REFUSALS = {400, 401, 403, 405, 413}
STATUS_OF = {
    "accepted": 200,
    "duplicate": 200,
    "busy": 503,
    "bad_request": 400,
    "bad_signature": 401,
    "too_old": 403,
    "too_large": 413,
    "method_not_allowed": 405,
}


@dataclass
class RecordingStore:
    """An inbox store that keeps what reaches it (or fails like a database that is down)."""

    rows: list[dict[str, object]] = field(default_factory=list)
    fail: bool = False

    async def add(self, **row: object) -> bool:
        if self.fail:
            raise StoreError("citizen store: OperationalError")
        self.rows.append(row)
        return True


def make_inbox(store: RecordingStore) -> WebhookInbox:
    async def handle(_event: object) -> None:  # the worker is never started here
        raise AssertionError

    return WebhookInbox(
        keys=SignatureKeys(APP_ID, None, SECRET),
        handle=handle,
        store=store,  # type: ignore[arg-type]
        owner="hostile",
        max_age=300,
        clock=lambda: NOW,
    )


def sign(body: bytes, timestamp: str) -> str:
    text = body.decode("utf-8")
    return "mac=" + hashlib.sha256((APP_ID + text + timestamp + SECRET).encode()).hexdigest()


def text_event(**changes: object) -> dict[str, object]:
    payload: dict[str, object] = {
        "app_id": APP_ID,
        "sender": {"id": "2512523625412515"},
        "recipient": {"id": "9"},
        "event_name": "user_send_text",
        "message": {"text": "chào", "msg_id": "m1"},
        "timestamp": FRESH,
    }
    payload.update(changes)
    return payload


@dataclass
class Answer:
    status: int | None
    headers: dict[bytes, bytes]


async def post(
    inbox: WebhookInbox | None,
    chunks: list[bytes],
    headers: list[tuple[bytes, bytes]],
    *,
    method: str = "POST",
    disconnect_after: int | None = None,
) -> Answer:
    """One request through the ASGI app, body in ``chunks``; no answer if the client left."""
    app = webhook_endpoint(lambda: inbox)
    scope = {"type": "http", "method": method, "path": "/webhook/zalo", "headers": headers}
    messages = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks or [b""])
    ]
    if disconnect_after is not None:
        messages = messages[:disconnect_after]
    pending = iter(messages)
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return next(pending, {"type": "http.disconnect"})

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    if not sent:
        return Answer(None, {})
    start = sent[0]
    assert start["type"] == "http.response.start"
    return Answer(int(start["status"]), dict(start["headers"]))  # type: ignore[arg-type, call-overload]


def run(inbox: WebhookInbox | None, body: bytes, headers: list[tuple[bytes, bytes]]) -> Answer:
    return asyncio.run(post(inbox, [body], headers))


def signed_headers(body: bytes, timestamp: str = FRESH) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-type", b"application/json"),
        (b"x-zevent-signature", sign(body, timestamp).encode()),
    ]


def check_counted(inbox: WebhookInbox, answers: list[Answer]) -> None:
    """Every answered request is counted once, under the result its status stands for."""
    assert set(inbox.results) <= set(REQUEST_RESULTS)
    by_status = Counter(a.status for a in answers if a.status is not None)
    counted = Counter[int]()
    for result, count in inbox.results.items():
        counted[STATUS_OF[result]] += count
    assert counted == by_status


# ------------------------------------------------------------------ the measured triggers

DEEP = b'{"timestamp": "1", "a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
NESTED_1200 = b'{"a": ' + b"[" * 1_200 + b"]" * 1_200 + b', "timestamp": "' + FRESH.encode() + b'"}'


@pytest.mark.parametrize(
    ("body", "signature", "status", "result"),
    [
        pytest.param(
            compact_json(text_event()).encode(), "mac=" + "é" * 64, 401, "bad_signature", id="é sig"
        ),
        pytest.param(
            compact_json(text_event()).encode(),
            "mac=²" + "0" * 63,
            401,
            "bad_signature",
            id="² sig",
        ),
        pytest.param(
            b'{"timestamp": ' + b"1" * 5_000 + b"}",
            "mac=" + "0" * 64,
            400,
            "bad_request",
            id="5000-digit timestamp",
        ),
        pytest.param(
            b'{"timestamp": "1", "n": ' + b"9" * 5_000 + b"}",
            "mac=" + "0" * 64,
            400,
            "bad_request",
            id="5000-digit integer",
        ),
        pytest.param(DEEP, "mac=" + "0" * 64, 400, "bad_request", id="nesting 100000"),
        pytest.param(NESTED_1200, "mac=" + "0" * 64, 400, "bad_request", id="nesting 1200"),
        pytest.param(b"\xff\xfe{}", "mac=" + "0" * 64, 400, "bad_request", id="not UTF-8"),
        pytest.param(b'{"timestamp": NaN}', "mac=" + "0" * 64, 400, "bad_request", id="NaN"),
        pytest.param(b"[1, 2]", "mac=" + "0" * 64, 400, "bad_request", id="array"),
        pytest.param(b"null", "mac=" + "0" * 64, 400, "bad_request", id="null"),
        pytest.param(b'"text"', "mac=" + "0" * 64, 400, "bad_request", id="string"),
        pytest.param(b"", "mac=" + "0" * 64, 400, "bad_request", id="empty"),
        pytest.param(
            compact_json(text_event()).encode(),
            "mac=" + "0" * 63,
            401,
            "bad_signature",
            id="63 hex digits",
        ),
        pytest.param(
            compact_json(text_event()).encode(), "", 401, "bad_signature", id="empty signature"
        ),
    ],
)
def test_a_crafted_request_gets_a_counted_4xx_and_stores_nothing(body, signature, status, result):
    store = RecordingStore()
    inbox = make_inbox(store)
    answer = run(inbox, body, [(b"x-zevent-signature", signature.encode("utf-8"))])
    assert answer.status == status
    assert inbox.results == Counter({result: 1})
    assert store.rows == []


@pytest.mark.parametrize(
    "timestamp",
    [
        pytest.param("²", id="superscript two"),
        pytest.param("١٧٩٦٠٣٢٨٣٠٠٠٠", id="Arabic-Indic digits"),
        pytest.param("1" * 400, id="400 digits"),
        pytest.param("-1", id="negative"),
        pytest.param("", id="empty"),
    ],
)
def test_a_correctly_signed_odd_timestamp_is_a_bad_request(timestamp):
    store = RecordingStore()
    inbox = make_inbox(store)
    body = compact_json(text_event(timestamp=timestamp)).encode()
    answer = run(inbox, body, signed_headers(body, timestamp))
    assert answer.status == 400
    assert inbox.results == Counter({"bad_request": 1})
    assert store.rows == []


def test_a_correctly_signed_integer_timestamp_of_400_digits_is_a_bad_request():
    store = RecordingStore()
    inbox = make_inbox(store)
    big = "9" * 400
    body = compact_json(text_event(timestamp=0)).replace('"timestamp":0', f'"timestamp":{big}')
    raw = body.encode()
    assert run(inbox, raw, signed_headers(raw, big)).status == 400
    assert store.rows == []


class TestHeadersAndTransport:
    def test_a_missing_signature_is_401(self):
        inbox = make_inbox(RecordingStore())
        body = compact_json(text_event()).encode()
        assert run(inbox, body, [(b"content-type", b"application/json")]).status == 401
        assert inbox.results == Counter({"bad_signature": 1})

    def test_a_repeated_signature_header_is_400_even_when_one_is_right(self):
        store = RecordingStore()
        inbox = make_inbox(store)
        body = compact_json(text_event()).encode()
        right = sign(body, FRESH).encode()
        for headers in (
            [(b"x-zevent-signature", right), (b"X-ZEvent-Signature", right)],
            [(b"x-zevent-signature", b"mac=" + b"0" * 64), (b"x-zevent-signature", right)],
        ):
            assert run(inbox, body, headers).status == 400
        assert inbox.results == Counter({"bad_request": 2})
        assert store.rows == []

    @pytest.mark.parametrize(
        "content_type",
        [b"application/json", b"text/plain", b"multipart/form-data; boundary=x", b"\xff\x00", None],
    )
    def test_the_content_type_does_not_change_the_decision(self, content_type):
        store = RecordingStore()
        inbox = make_inbox(store)
        body = compact_json(text_event()).encode()
        headers = [(b"x-zevent-signature", sign(body, FRESH).encode())]
        if content_type is not None:
            headers.append((b"content-type", content_type))
        assert run(inbox, body, headers).status == 200
        assert run(inbox, b"a=1&b=2", headers).status == 400
        assert len(store.rows) == 1

    def test_a_declared_length_over_the_limit_is_413_before_the_body_is_read(self):
        inbox = make_inbox(RecordingStore())
        for length in (str(MAX_BODY_BYTES + 1).encode(), b"9" * 40):
            answer = asyncio.run(post(inbox, [], [(b"content-length", length)]))
            assert answer.status == 413
        assert inbox.results == Counter({"too_large": 2})

    def test_a_streamed_body_over_the_limit_is_413(self):
        inbox = make_inbox(RecordingStore())
        chunks = [b"x" * 65_536] * 5
        assert asyncio.run(post(inbox, chunks, [])).status == 413
        assert inbox.results == Counter({"too_large": 1})

    def test_a_client_leaving_mid_body_gets_no_answer_and_nothing_is_stored(self):
        store = RecordingStore()
        inbox = make_inbox(store)
        body = compact_json(text_event()).encode()
        half = len(body) // 2
        answer = asyncio.run(
            post(inbox, [body[:half], body[half:]], signed_headers(body), disconnect_after=1)
        )
        assert answer.status is None
        assert store.rows == []
        assert inbox.results == Counter()

    def test_another_method_is_405_and_names_post(self):
        inbox = make_inbox(RecordingStore())
        answer = asyncio.run(post(inbox, [b""], [], method="GET"))
        assert (answer.status, answer.headers[b"allow"]) == (405, b"POST")
        assert inbox.results == Counter({"method_not_allowed": 1})

    def test_a_verified_event_the_store_cannot_take_is_the_only_503(self):
        store = RecordingStore(fail=True)
        inbox = make_inbox(store)
        body = compact_json(text_event()).encode()
        assert run(inbox, body, signed_headers(body)).status == 503
        assert run(inbox, body, [(b"x-zevent-signature", b"mac=" + b"0" * 64)]).status == 401
        assert inbox.results == Counter({"busy": 1, "bad_signature": 1})


class TestVerifiedOddities:
    """Bodies only someone holding the secret can send: still a 4xx or a storable event."""

    def test_a_lone_surrogate_in_an_id_is_refused(self):
        store = RecordingStore()
        inbox = make_inbox(store)
        body = compact_json(text_event()).replace('"m1"', '"m\\ud800"').encode()
        assert run(inbox, body, signed_headers(body)).status == 400
        assert store.rows == []

    def test_a_lone_surrogate_in_the_text_is_replaced(self):
        store = RecordingStore()
        inbox = make_inbox(store)
        body = compact_json(text_event()).replace('"chào"', '"ch\\ud800o"').encode()
        assert run(inbox, body, signed_headers(body)).status == 200
        assert parse_oa_event(body).text == "ch?o"

    def test_an_id_that_is_not_text_is_refused(self):
        store = RecordingStore()
        inbox = make_inbox(store)
        body = compact_json(text_event(sender={"id": {"nested": 1}})).encode()
        assert run(inbox, body, signed_headers(body)).status == 400
        assert store.rows == []


# ------------------------------------------------------------------ properties

HEADER_NAMES = st.sampled_from(
    [b"x-zevent-signature", b"X-ZEvent-Signature", b"content-type", b"content-length", b"num_retry"]
)
SIGNATURE_VALUES = st.one_of(
    st.binary(max_size=80),
    st.text(max_size=70).map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.text(alphabet="0123456789abcdefABCDEF", min_size=60, max_size=68).map(
        lambda digits: ("mac=" + digits).encode()
    ),
)
HEADERS = st.lists(
    st.one_of(
        st.tuples(st.just(b"x-zevent-signature"), SIGNATURE_VALUES),
        st.tuples(HEADER_NAMES | st.binary(max_size=20), st.binary(max_size=80)),
    ),
    max_size=6,
)
HOSTILE_NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=31, max_value=4_000).map(lambda digits: int("9" * digits)),
    st.floats(allow_nan=False),
    st.just(2**63),
)
HOSTILE_STRINGS = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(categories=["Nd", "No"]), min_size=1, max_size=20),
    st.sampled_from(["²", "١٢٣", "0x10", "1e3", " 1", "1 ", FRESH, "\u0000"]),
)
LEAVES = st.one_of(st.none(), st.booleans(), HOSTILE_NUMBERS, HOSTILE_STRINGS)
JSON_VALUES = st.recursive(
    LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
DOCUMENTS = st.fixed_dictionaries(
    {},
    optional={
        "timestamp": st.one_of(HOSTILE_NUMBERS, HOSTILE_STRINGS, JSON_VALUES),
        "event_name": st.one_of(
            st.sampled_from(["user_send_text", "follow", "user_seen_message"]), LEAVES
        ),
        "sender": st.one_of(st.fixed_dictionaries({"id": LEAVES}), JSON_VALUES),
        "follower": st.one_of(st.fixed_dictionaries({"id": LEAVES}), JSON_VALUES),
        "recipient": st.one_of(st.fixed_dictionaries({"id": LEAVES}), JSON_VALUES),
        "message": st.one_of(
            st.fixed_dictionaries(
                {},
                optional={
                    "text": HOSTILE_STRINGS,
                    "msg_id": LEAVES,
                    "msg_ids": st.lists(LEAVES, max_size=5),
                },
            ),
            JSON_VALUES,
        ),
    },
).flatmap(
    lambda doc: st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=3).map(
        lambda extra: {**extra, **doc}
    )
)


def encode(document: object, *, ascii_only: bool) -> bytes:
    return json.dumps(document, ensure_ascii=ascii_only, separators=(",", ":")).encode(
        "utf-8", "surrogatepass"
    )


def deep(depth: int, opener: bytes) -> bytes:
    closer = b"]" if opener == b"[" else b"}"
    inner = b"1" if opener == b"[" else b""
    if opener == b"{":
        return b'{"a":' * depth + b"1" + closer * depth
    return opener * depth + inner + closer * depth


CRAFTED_BODIES = st.one_of(
    st.binary(max_size=2_000),
    st.builds(
        lambda doc, ascii_only: encode({**text_event(), **doc}, ascii_only=ascii_only),
        DOCUMENTS,
        st.booleans(),
    ),
    st.builds(encode, JSON_VALUES, ascii_only=st.booleans()),
    st.builds(encode, DOCUMENTS, ascii_only=st.booleans()),
    st.builds(deep, st.integers(min_value=1, max_value=5_000), st.sampled_from([b"[", b"{"])),
    st.builds(lambda n: b'{"timestamp":' + b"7" * n + b"}", st.integers(1, 6_000)),
)


@pytest.mark.fuzz
@given(bodies=st.lists(CRAFTED_BODIES, min_size=1, max_size=3), headers=HEADERS)
def test_unsigned_input_never_gets_a_5xx_nor_reaches_the_store(bodies, headers):
    store = RecordingStore()
    inbox = make_inbox(store)
    answers = [run(inbox, body, headers) for body in bodies]
    for answer in answers:
        event(f"status {answer.status}")
    assert {a.status for a in answers} <= REFUSALS
    assert store.rows == []
    check_counted(inbox, answers)


@pytest.mark.fuzz
@given(
    body=CRAFTED_BODIES,
    chunk=st.integers(min_value=1, max_value=4_096),
    method=st.sampled_from(["POST"] * 5 + ["GET", "PUT", "HEAD", "OPTIONS", "post"]),
    leave=st.none() | st.integers(min_value=0, max_value=3),
    headers=HEADERS,
)
def test_any_method_chunking_or_disconnect_never_gets_a_5xx(body, chunk, method, leave, headers):
    store = RecordingStore()
    inbox = make_inbox(store)
    chunks = [body[i : i + chunk] for i in range(0, len(body), chunk)] or [b""]
    answer = asyncio.run(post(inbox, chunks, headers, method=method, disconnect_after=leave))
    event(f"status {answer.status}")
    assert answer.status is None or answer.status in REFUSALS
    assert store.rows == []
    check_counted(inbox, [answer])


@pytest.mark.fuzz
@given(document=DOCUMENTS, ascii_only=st.booleans(), fresh=st.booleans())
def test_signed_hostile_documents_are_stored_readable_or_refused_with_a_4xx(
    document, ascii_only, fresh
):
    """Even with a valid signature: 200 with a body the worker can read, or a 4xx."""
    document = {**text_event(), **document}  # what the document leaves out is well formed
    if fresh:
        document = {**document, "timestamp": FRESH}
    body = encode(document, ascii_only=ascii_only)
    timestamp = document.get("timestamp")
    signed_ts = str(timestamp) if isinstance(timestamp, int | str) else ""
    try:
        headers = signed_headers(body, signed_ts)
    except UnicodeError:  # a body or timestamp no signer could encode: sign something else
        headers = [(b"x-zevent-signature", b"mac=" + b"0" * 64)]
    store = RecordingStore()
    inbox = make_inbox(store)
    answer = run(inbox, body, headers)
    event(f"status {answer.status}")
    assert answer.status in REFUSALS | {200}
    check_counted(inbox, [answer])
    if answer.status == 200:
        [row] = store.rows
        read = parse_oa_event(row["body"])  # type: ignore[arg-type]
        assert row["dedupe_key"] == read.dedupe_key
        read.dedupe_key.encode("utf-8")
        if read.text is not None:
            read.text.encode("utf-8")
    else:
        assert store.rows == []


@pytest.mark.fuzz
@given(bodies=st.lists(CRAFTED_BODIES, max_size=3), signed=st.booleans())
def test_with_the_store_down_only_verified_events_get_503(bodies, signed):
    store = RecordingStore(fail=True)
    inbox = make_inbox(store)
    valid = compact_json(text_event()).encode()
    answers = [run(inbox, body, [(b"x-zevent-signature", b"mac=" + b"0" * 64)]) for body in bodies]
    assert {a.status for a in answers} <= REFUSALS
    if signed:
        answers.append(run(inbox, valid, signed_headers(valid)))
        assert answers[-1].status == 503
    check_counted(inbox, answers)
