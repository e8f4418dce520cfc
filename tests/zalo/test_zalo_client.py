"""The Zalo client: request shape, and every kind of answer turned into the right outcome."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from bridge.errors import (
    AccountError,
    DeliveryInDoubtError,
    MessageRejectedError,
    RecipientUnreachableError,
    RetryableDeliveryError,
    TokenError,
)
from bridge.zalo import StaticToken, ZaloClient, classify_error

SUCCESS = {
    "data": {
        "message_id": "63ecf43f0df7dba892e6",
        "user_id": "2512523625412515",
        "sent_time": "1626926349402",
    },
    "error": 0,
    "message": "Success",
}


_DIRECT: list[bool] = [False]
"""Whether ``client_answering`` gives the client its transport to send on (the app does)."""


@pytest.fixture(autouse=True, params=["through-the-client", "on-the-transport"])
def _sending(request):
    """Every test of this module runs both ways a ``ZaloClient`` may send."""
    _DIRECT[0] = request.param == "on-the-transport"
    yield
    _DIRECT[0] = False


def client_answering(handler, token: str | None = "tok") -> ZaloClient:
    transport = httpx.MockTransport(handler)
    http = httpx.AsyncClient(base_url="https://openapi.zalo.me", transport=transport)
    return ZaloClient(http, StaticToken(token), transport=transport if _DIRECT[0] else None)


class TestSendText:
    async def test_request_has_the_bare_token_header_and_the_cs_body(self):
        seen: list[httpx.Request] = []

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return httpx.Response(200, json=SUCCESS)

        receipt = await client_answering(handler).send_text("2512523625412515", "Xin chào")
        request = seen[0]
        assert request.method == "POST"
        assert request.url.path == "/v3.0/oa/message/cs"
        assert request.headers["access_token"] == "tok"
        assert "authorization" not in request.headers
        assert json.loads(request.content) == {
            "recipient": {"user_id": "2512523625412515"},
            "message": {"text": "Xin chào"},
        }
        assert receipt.message_id == "63ecf43f0df7dba892e6"
        assert receipt.sent_time == "1626926349402"

    async def test_success_without_a_quota_object_is_success(self):
        """After 2026-03-01 Zalo no longer returns `quota`: it must not be required."""
        receipt = await client_answering(lambda _: httpx.Response(200, json=SUCCESS)).send_text(
            "1", "x"
        )
        assert receipt.message_id

    async def test_no_token_configured_is_a_token_error_without_a_request(self):
        calls = []
        client = client_answering(
            lambda r: calls.append(r) or httpx.Response(200, json=SUCCESS), token=None
        )
        with pytest.raises(TokenError):
            await client.send_text("1", "x")
        assert calls == []

    @pytest.mark.parametrize(
        ("code", "expected"),
        [
            (-32, RetryableDeliveryError),
            (-200, RetryableDeliveryError),
            (-216, TokenError),
            (-220, TokenError),
            (-213, RecipientUnreachableError),
            (-230, RecipientUnreachableError),
            (-232, RecipientUnreachableError),
            (-227, RecipientUnreachableError),
            (-244, RecipientUnreachableError),
            (-201, MessageRejectedError),
            (-210, MessageRejectedError),
            (-204, AccountError),
            (-205, AccountError),
            (-209, AccountError),
            (-212, AccountError),
            (-224, AccountError),
            (-235, AccountError),
            (-320, AccountError),
            (-321, AccountError),
            (-99999, MessageRejectedError),
            # older codes still met (zalo-oa-api-2 §7.1) and the token's other signs (§7.2)
            (-202, AccountError),
            (-207, AccountError),
            (-208, AccountError),
            (-215, AccountError),
            (-222, RecipientUnreachableError),
            (-305, RecipientUnreachableError),
            (-311, RecipientUnreachableError),
            (216, TokenError),
            (-401, TokenError),
            (401, TokenError),
        ],
    )
    async def test_errors_inside_http_200_are_classified(self, code, expected):
        body = {"error": code, "message": "from Zalo"}
        client = client_answering(lambda _: httpx.Response(200, json=body))
        with pytest.raises(expected) as caught:
            await client.send_text("1", "x")
        assert caught.value.code == code
        assert str(code) in str(caught.value)

    @pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
    async def test_server_errors_are_retryable(self, status):
        client = client_answering(lambda _: httpx.Response(status, text="busy"))
        with pytest.raises(RetryableDeliveryError) as caught:
            await client.send_text("1", "x")
        assert not isinstance(caught.value, DeliveryInDoubtError)

    @pytest.mark.parametrize(
        ("status", "expected"),
        [(401, TokenError), (404, AccountError), (400, MessageRejectedError)],
    )
    async def test_other_http_statuses_are_not_retried(self, status, expected):
        client = client_answering(lambda _: httpx.Response(status))
        with pytest.raises(expected):
            await client.send_text("1", "x")

    async def test_a_refused_connection_means_nothing_was_sent(self):
        def handler(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("refused", request=request)

        with pytest.raises(RetryableDeliveryError) as caught:
            await client_answering(handler).send_text("1", "x")
        assert not isinstance(caught.value, DeliveryInDoubtError)

    @pytest.mark.parametrize(
        "error", [httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteTimeout]
    )
    async def test_a_lost_answer_leaves_the_send_in_doubt(self, error):
        def handler(request: httpx.Request) -> httpx.Response:
            raise error("lost", request=request)

        with pytest.raises(DeliveryInDoubtError):
            await client_answering(handler).send_text("1", "x")

    @pytest.mark.parametrize(
        "response",
        [
            httpx.Response(200, text="<html>gateway</html>"),
            httpx.Response(200, json=[1, 2]),
            httpx.Response(200, json={"error": "x"}),
            httpx.Response(200, json={"error": 0, "data": {}}),
        ],
    )
    async def test_a_malformed_success_is_in_doubt_not_delivered(self, response):
        with pytest.raises(DeliveryInDoubtError):
            await client_answering(lambda _: response).send_text("1", "x")


def test_unknown_codes_are_rejections_that_keep_their_code():
    error = classify_error(-777, "new")
    assert isinstance(error, MessageRejectedError)
    assert error.code == -777


class RotatingToken:
    """A token source whose refresh hands out the next token, as the token store will."""

    def __init__(self, *tokens: str) -> None:
        self.tokens = list(tokens)
        self.refreshed: list[str] = []

    async def token(self) -> str | None:
        return self.tokens[0]

    async def refresh(self, rejected: str) -> bool:
        self.refreshed.append(rejected)
        if len(self.tokens) > 1:
            self.tokens.pop(0)
            return True
        return False


class TestTokenRefresh:
    async def test_a_refused_token_is_refreshed_once_and_the_call_retried_once(self):
        seen = []

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(request.headers["access_token"])
            if request.headers["access_token"] == "old":
                return httpx.Response(
                    200, json={"error": -216, "message": "Access token is invalid"}
                )
            return httpx.Response(200, json=SUCCESS)

        tokens = RotatingToken("old", "new")
        http = httpx.AsyncClient(base_url="https://z", transport=httpx.MockTransport(handler))
        receipt = await ZaloClient(http, tokens).send_text("1", "x")
        assert receipt.message_id
        assert seen == ["old", "new"]
        assert tokens.refreshed == ["old"]

    async def test_a_token_refused_again_after_refresh_is_a_token_error(self):
        body = {"error": -220, "message": "access_token is expired or removed"}
        tokens = RotatingToken("old", "new", "newer")
        http = httpx.AsyncClient(
            base_url="https://z",
            transport=httpx.MockTransport(lambda _: httpx.Response(200, json=body)),
        )
        with pytest.raises(TokenError):
            await ZaloClient(http, tokens).send_text("1", "x")
        assert tokens.refreshed == ["old"]


class TestFindSent:
    @staticmethod
    def answering(items, seen=None):
        def handler(request: httpx.Request) -> httpx.Response:
            if seen is not None:
                seen.append(request)
            return httpx.Response(200, json={"data": items, "error": 0, "message": "Success"})

        return client_answering(handler)

    async def test_it_reads_the_conversation_with_the_data_parameter(self):
        seen: list[httpx.Request] = []
        await self.answering([], seen).find_sent("2512523625412515", "x", since=0)
        [request] = seen
        assert request.method == "GET"
        assert request.url.path == "/v2.0/oa/conversation"
        assert json.loads(request.url.params["data"]) == {
            "user_id": "2512523625412515",
            "offset": 0,
            "count": 10,
        }

    async def test_the_same_text_to_the_same_citizen_is_found(self):
        items = [
            {"message_id": "a", "message": "khác", "to_id": "7", "time": 2_000_000},
            {"message_id": "b", "message": "Kính gửi", "to_id": "7", "time": 2_000_000},
        ]
        assert await self.answering(items).find_sent("7", "Kính gửi", since=1000) == "b"

    @pytest.mark.parametrize(
        "item",
        [
            {"message_id": "b", "message": "Kính gửi", "to_id": "8", "time": 2_000_000},
            {"message_id": "b", "message": "Kính gửi", "to_id": "7", "time": 500_000},
            {"message_id": "", "message": "Kính gửi", "to_id": "7", "time": 2_000_000},
            "not an object",
        ],
    )
    async def test_other_citizens_older_messages_and_odd_items_do_not_match(self, item):
        assert await self.answering([item]).find_sent("7", "Kính gửi", since=1000) is None


async def test_find_sent_pages_back_until_it_reaches_older_messages():
    """Other messages may have reached the citizen since: the one looked for is on page 2."""
    newer = [
        {"message_id": f"n{i}", "message": f"m{i}", "to_id": "7", "time": 3_000_000}
        for i in range(10)
    ]
    older = [
        {"message_id": "wanted", "message": "Kính gửi", "to_id": "7", "time": 2_000_000},
        {"message_id": "old", "message": "x", "to_id": "7", "time": 1},
    ]
    offsets = []

    def handler(request: httpx.Request) -> httpx.Response:
        offset = json.loads(request.url.params["data"])["offset"]
        offsets.append(offset)
        items = {0: newer, 10: older}.get(offset, [])
        return httpx.Response(200, json={"data": items, "error": 0, "message": "Success"})

    assert await client_answering(handler).find_sent("7", "Kính gửi", since=1000) == "wanted"
    assert offsets == [0, 10]
    offsets.clear()
    assert await client_answering(handler).find_sent("7", "absent", since=1000) is None
    assert offsets == [0, 10]


async def test_a_base_url_with_a_path_prefix_keeps_it():
    """Behind a gateway the OA API may live under a path: requests keep the prefix."""
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(200, json=SUCCESS)

    http = httpx.AsyncClient(
        base_url="https://gateway.example.gov.vn/zalo/", transport=httpx.MockTransport(handler)
    )
    await ZaloClient(http, StaticToken("t")).send_text("1", "x")
    assert seen == ["/zalo/v3.0/oa/message/cs"]


async def test_requests_beyond_the_connection_limit_wait_their_turn():
    """They queue before the pool, so none fails waiting for a connection it never got."""
    active = 0
    most = 0

    async def handler(_request: httpx.Request) -> httpx.Response:
        nonlocal active, most
        active += 1
        most = max(most, active)
        await asyncio.sleep(0.01)
        active -= 1
        return httpx.Response(200, json=SUCCESS)

    http = httpx.AsyncClient(base_url="https://z", transport=httpx.MockTransport(handler))
    client = ZaloClient(http, StaticToken("t"), max_concurrent=3)
    await asyncio.gather(*(client.send_text("1", "x") for _ in range(12)))
    assert most == 3


class TestOaProfile:
    async def test_reads_getoa_with_the_token_and_no_body(self):
        seen: list[httpx.Request] = []
        body = {
            "data": {"oaid": "1646843870823903717", "name": "Trung tâm PVHCC", "oa_type": 4},
            "error": 0,
            "message": "Success",
        }

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return httpx.Response(200, json=body)

        profile = await client_answering(handler).oa_profile()
        [request] = seen
        assert (request.method, request.url.path) == ("GET", "/v2.0/oa/getoa")
        assert request.headers["access_token"] == "tok"
        assert request.content == b""
        assert (profile.oa_id, profile.name, profile.oa_type) == (
            "1646843870823903717",
            "Trung tâm PVHCC",
            4,
        )

    async def test_an_odd_profile_is_still_an_answer(self):
        body = {"data": {"oaid": 16468, "oa_type": "4"}, "error": 0, "message": "Success"}
        profile = await client_answering(lambda _: httpx.Response(200, json=body)).oa_profile()
        assert (profile.oa_id, profile.name, profile.oa_type) == ("16468", None, None)

    @pytest.mark.parametrize(
        ("answer", "error"),
        [
            (httpx.Response(503), RetryableDeliveryError),
            (httpx.Response(200, json={"error": -32, "message": "limit"}), RetryableDeliveryError),
            (httpx.Response(200, json={"error": -216, "message": "bad"}), TokenError),
            (httpx.Response(200, json={"error": -223, "message": "no"}), AccountError),
        ],
    )
    async def test_errors_are_classified_as_for_sends(self, answer, error):
        with pytest.raises(error):
            await client_answering(lambda _: answer).oa_profile()


async def test_a_redirect_is_an_answer_not_followed():
    """Zalo's API never redirects; a 3xx means a wrong base URL, on either way of sending."""
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(302, headers={"location": "https://elsewhere.example/x"})

    with pytest.raises(MessageRejectedError, match="HTTP 302"):
        await client_answering(handler).send_text("1", "x")
    assert len(calls) == 1


async def test_sending_on_the_transport_sends_the_same_request():
    seen: dict[bool, httpx.Request] = {}
    for direct in (False, True):
        _DIRECT[0] = direct

        def handler(request: httpx.Request, *, direct: bool = direct) -> httpx.Response:
            seen[direct] = request
            return httpx.Response(200, json=SUCCESS)

        await client_answering(handler).send_template("1", "tpl", {"ma": "H56-1"})
    through, on = seen[False], seen[True]
    assert (on.method, on.url, on.content) == (through.method, through.url, through.content)
    assert sorted(on.headers.multi_items()) == sorted(through.headers.multi_items())
