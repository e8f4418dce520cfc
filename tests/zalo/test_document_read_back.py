"""Finding a file or image message in the conversation read-back: the match and the page walk."""

from __future__ import annotations

import json
import unicodedata

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.zalo import DocumentQuery, StaticToken, ZaloClient
from bridge.zalo.read_back import document_candidates

USER = "7"
OA = "4321"
SINCE = 1_000.0  # epoch seconds: the first attempt, less the margin
UNTIL = 1_100.0


def item(message_id: str, *, type_: str = "file", at: float = 1_050.0, **fields: object) -> dict:
    """A read-back item as Zalo shows an OA → user message (part 2 §4.2)."""
    shown: dict[str, object] = {
        "message_id": message_id,
        "src": 0,
        "time": int(at * 1000),
        "from_id": OA,
        "to_id": USER,
        "type": type_,
        "message": "",
    }
    shown.update(fields)
    return {k: v for k, v in shown.items() if v is not None}


def query(kind="file", **changes) -> DocumentQuery:
    fields: dict[str, object] = {
        "user_id": USER,
        "kind": kind,
        "since": SINCE,
        "until": UNTIL,
        "caption": None,
        "taken": frozenset(),
    }
    fields.update(changes)
    return DocumentQuery(**fields)  # type: ignore[arg-type]


def ids(items, q) -> list[str]:
    return [message_id for _, message_id in document_candidates(items, q)]


class TestMatch:
    def test_a_file_to_the_user_within_the_window_matches(self):
        assert ids([item("f")], query()) == ["f"]

    @pytest.mark.parametrize(
        ("shown", "why"),
        [
            (item("x", type_="text", message="Kính gửi"), "a text"),
            (item("x", type_="photo"), "a photo is not a file"),
            (item("x", type_="template"), "a template"),
            (item("x", src=1, from_id=USER, to_id=OA), "the citizen's own file"),
            (item("x", src=1, to_id=None), "the citizen's file, no to_id"),
            (item("x", to_id="8"), "another citizen"),
            (item("x", src=None, to_id=None), "no direction at all"),
            (item("x", at=SINCE - 0.001), "before the first attempt"),
            (item("x", at=UNTIL + 0.001), "after the send was in doubt"),
            (item("x", time=None), "no time"),
            (item("x", time="1050000"), "a time that is not a number"),
            (item("", at=1_050.0), "no message id"),
            (item(None, at=1_050.0), "no message id"),  # type: ignore[arg-type]
        ],
    )
    def test_what_is_not_this_file(self, shown, why):
        assert ids([shown], query()) == [], why

    def test_the_bounds_are_inclusive(self):
        assert ids([item("a", at=SINCE), item("b", at=UNTIL)], query()) == ["a", "b"]

    def test_without_an_upper_bound_any_later_file_matches(self):
        assert ids([item("late", at=UNTIL + 999)], query(until=None)) == ["late"]

    def test_only_a_src_or_only_a_to_id_is_enough(self):
        assert ids([item("a", to_id=None), item("b", src=None)], query()) == ["a", "b"]

    def test_a_message_id_already_taken_is_not_taken_twice(self):
        shown = [item("sibling", at=1_010), item("mine", at=1_020)]
        assert ids(shown, query(taken=frozenset({"sibling"}))) == ["mine"]

    def test_a_photo_matches_by_its_caption(self):
        shown = [
            item("other", type_="photo", description="Ảnh khác", message="Ảnh khác"),
            item("mine", type_="photo", description="Giấy chứng nhận", message="Giấy chứng nhận"),
        ]
        assert ids(shown, query("image", caption="Giấy chứng nhận")) == ["mine"]

    def test_a_caption_in_description_or_message_nfc_and_trimmed(self):
        nfd = unicodedata.normalize("NFD", "Giấy chứng nhận")
        shown = [
            item("by-description", type_="photo", description=f" {nfd} ", message=None),
            item("by-message", type_="photo", message="Giấy chứng nhận"),
        ]
        found = ids(shown, query("image", caption="Giấy chứng nhận"))
        assert found == ["by-description", "by-message"]

    def test_without_a_caption_any_photo_in_the_window_matches(self):
        assert ids([item("p", type_="photo")], query("image")) == ["p"]

    def test_a_file_ignores_the_caption(self):
        assert ids([item("f", message="")], query(caption="Quyết định")) == ["f"]

    def test_odd_values_never_raise(self):
        odd = [
            {},
            {"type": "file"},
            {"type": "file", "src": [], "to_id": {}, "time": True, "message_id": 5},
            {"type": "photo", "src": "0", "to_id": 7, "time": 1_050_000, "message_id": "s"},
        ]
        assert ids(odd, query()) == []
        assert ids(odd, query("image", caption="x")) == []
        assert ids(odd, query("image")) == ["s"], "src and to_id as strings or numbers"


def client_answering(pages: dict[int, list], offsets: list[int]) -> ZaloClient:
    def handler(request: httpx.Request) -> httpx.Response:
        offset = json.loads(request.url.params["data"])["offset"]
        offsets.append(offset)
        data = pages.get(offset, [])
        return httpx.Response(200, json={"data": data, "error": 0, "message": "Success"})

    http = httpx.AsyncClient(
        base_url="https://openapi.zalo.me", transport=httpx.MockTransport(handler)
    )
    return ZaloClient(http, StaticToken("tok"))


class TestPageWalk:
    async def test_it_pages_back_until_it_reaches_messages_older_than_the_window(self):
        newer = [item(f"t{i}", type_="text", message=f"m{i}", at=1_090) for i in range(10)]
        older = [item("mine", at=1_040), item("old", type_="text", at=900)]
        offsets: list[int] = []
        found = await client_answering({0: newer, 10: older}, offsets).find_sent_document(query())
        assert found == "mine"
        assert offsets == [0, 10]

    async def test_it_stops_at_a_short_page_and_finds_nothing(self):
        offsets: list[int] = []
        pages = {0: [item("text", type_="text")]}
        assert await client_answering(pages, offsets).find_sent_document(query()) is None
        assert offsets == [0]

    async def test_it_reads_at_most_max_pages(self):
        offsets: list[int] = []
        full = [item(f"t{i}", type_="text", at=1_090) for i in range(10)]
        pages = dict.fromkeys(range(0, 100, 10), full)
        client = client_answering(pages, offsets)
        assert await client.find_sent_document(query(), max_pages=3) is None
        assert offsets == [0, 10, 20]

    async def test_of_several_candidates_the_oldest_is_taken(self):
        """The document's first send came before any later file to the same citizen."""
        offsets: list[int] = []
        page = [item("later", at=1_080), item("first", at=1_030), item("x", at=900)]
        assert await client_answering({0: page}, offsets).find_sent_document(query()) == "first"

    async def test_the_read_asks_for_the_users_conversation(self):
        seen: list[httpx.Request] = []

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return httpx.Response(200, json={"data": [], "error": 0, "message": "Success"})

        http = httpx.AsyncClient(
            base_url="https://openapi.zalo.me", transport=httpx.MockTransport(handler)
        )
        assert await ZaloClient(http, StaticToken("tok")).find_sent_document(query()) is None
        [request] = seen
        assert request.url.path == "/v2.0/oa/conversation"
        assert json.loads(request.url.params["data"]) == {"user_id": USER, "offset": 0, "count": 10}


# For any conversation around the send (the citizen's own messages, texts, photos, other
# citizens' files, this event's other documents), the match is the document's own message when
# Zalo shows it, and nothing otherwise: never a sibling's, never one outside the window.
_NOISE = st.one_of(
    st.builds(
        lambda i, at: item(f"text{i}", type_="text", message="Kính gửi", at=at),
        st.integers(0, 99),
        st.floats(800, 1_300),
    ),
    st.builds(
        lambda i, at: item(f"theirs{i}", src=1, from_id=USER, to_id=OA, at=at),
        st.integers(0, 99),
        st.floats(800, 1_300),
    ),
    st.builds(
        lambda i, at: item(f"photo{i}", type_="photo", description="Ảnh", at=at),
        st.integers(0, 99),
        st.floats(800, 1_300),
    ),
    st.builds(
        lambda i, at: item(f"other{i}", to_id="8", at=at),
        st.integers(0, 99),
        st.floats(800, 1_300),
    ),
    st.builds(
        lambda i, at: item(f"outside{i}", at=at),
        st.integers(0, 99),
        st.floats(0, SINCE - 0.01) | st.floats(UNTIL + 0.01, 5_000),
    ),
)


@given(
    noise=st.lists(_NOISE, max_size=25),
    siblings=st.lists(st.floats(SINCE, UNTIL), max_size=3),
    mine_at=st.none() | st.floats(SINCE, UNTIL),
    order=st.randoms(use_true_random=False),
)
def test_the_match_is_the_sent_one_or_nothing_never_a_siblings(noise, siblings, mine_at, order):
    sibling_items = [item(f"sibling{i}", at=at) for i, at in enumerate(siblings)]
    taken = frozenset(f"sibling{i}" for i in range(len(siblings)))
    shown = [*noise, *sibling_items]
    if mine_at is not None:
        shown.append(item("mine", at=mine_at))
    order.shuffle(shown)
    found = ids(shown, query(taken=taken))
    assert found == ([] if mine_at is None else ["mine"])
