"""The Zalo client: request shape, and every kind of answer turned into the right outcome."""

from __future__ import annotations

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
from bridge.zalo import ZaloClient, classify_error

SUCCESS = {
    "data": {
        "message_id": "63ecf43f0df7dba892e6",
        "user_id": "2512523625412515",
        "sent_time": "1626926349402",
    },
    "error": 0,
    "message": "Success",
}


def client_answering(handler, token: str | None = "tok") -> ZaloClient:
    http = httpx.AsyncClient(
        base_url="https://openapi.zalo.me", transport=httpx.MockTransport(handler)
    )
    return ZaloClient(http, access_token=token)


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
