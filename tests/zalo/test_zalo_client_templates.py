"""The Zalo client's template messages: by user id on the OA host, by phone on the ZNS host."""

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
from bridge.zalo import StaticToken, ZaloClient, classify_zns_error, normalise_phone
from bridge.zalo.codes import zns_classifier

DATA = {"ma_ho_so": "000.20.31.H56-260310-0042", "trang_thai": "Đã xử lý xong"}
UID_SUCCESS = {
    "data": {"message_id": "a1b2", "user_id": "2512523625412515", "sent_time": "1626926349402"},
    "error": 0,
    "message": "Success",
}
PHONE_SUCCESS = {
    "error": 0,
    "message": "Success",
    "data": {
        "msg_id": "a4d0243feee163bd3af2",
        "sent_time": "1626926349402",
        "sending_mode": "1",
        "quota": {"dailyQuota": "500", "remainingQuota": "499"},
    },
}


class RotatingToken:
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


def client_answering(handler, tokens=None, **options) -> tuple[ZaloClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    http = httpx.AsyncClient(
        base_url="https://openapi.zalo.me", transport=httpx.MockTransport(record)
    )
    return ZaloClient(http, tokens or StaticToken("tok"), **options), seen


def answer(body):
    return lambda _request: httpx.Response(200, json=body)


def error(code: int, message: str = "x"):
    return answer({"error": code, "message": message})


class TestTemplateByUserId:
    async def test_the_request_goes_to_the_oa_host_with_the_template_body(self):
        client, seen = client_answering(answer(UID_SUCCESS))
        receipt = await client.send_template("2512523625412515", "tpl-1", DATA)
        [request] = seen
        assert (request.method, str(request.url)) == (
            "POST",
            "https://openapi.zalo.me/v3.0/oa/message/template",
        )
        assert request.headers["access_token"] == "tok"
        assert json.loads(request.content) == {
            "user_id": "2512523625412515",
            "template_id": "tpl-1",
            "template_data": DATA,
        }
        assert receipt.message_id == "a1b2"

    async def test_the_uncertain_path_is_configurable(self):
        client, seen = client_answering(
            answer(UID_SUCCESS), template_uid_path="/v3.0/oa/message/transaction"
        )
        await client.send_template("1", "t", DATA)
        assert seen[0].url.path == "/v3.0/oa/message/transaction"

    @pytest.mark.parametrize(
        ("code", "expected"),
        [
            (-213, RecipientUnreachableError),
            (-249, RecipientUnreachableError),
            (-201, MessageRejectedError),
            (-210, MessageRejectedError),
            (-216, TokenError),
            (-204, AccountError),
            (-32, RetryableDeliveryError),
        ],
    )
    async def test_errors_follow_the_oa_table(self, code, expected):
        client, _ = client_answering(error(code))
        with pytest.raises(expected) as raised:
            await client.send_template("1", "t", DATA)
        assert raised.value.code == code

    async def test_success_without_a_message_id_is_in_doubt(self):
        client, _ = client_answering(answer({"error": 0, "message": "Success", "data": {}}))
        with pytest.raises(DeliveryInDoubtError):
            await client.send_template("1", "t", DATA)

    async def test_a_receipt_with_the_zns_id_name_is_taken(self):
        """The answer's shape is UNCERTAIN: an id under either name is a receipt, not a doubt."""
        client, _ = client_answering(answer({"error": 0, "data": {"msg_id": "z9"}}))
        assert (await client.send_template("1", "t", DATA)).message_id == "z9"


class TestTemplateByPhone:
    async def test_the_request_goes_to_the_business_host_with_the_84_form(self):
        client, seen = client_answering(answer(PHONE_SUCCESS))
        receipt = await client.send_template_by_phone("0912345678", "tpl-9", DATA, "e" * 60)
        [request] = seen
        assert (request.method, str(request.url)) == (
            "POST",
            "https://business.openapi.zalo.me/message/template",
        )
        assert request.headers["access_token"] == "tok"
        assert json.loads(request.content) == {
            "phone": "84912345678",
            "template_id": "tpl-9",
            "template_data": DATA,
            "tracking_id": "e" * 48,
        }
        assert (receipt.message_id, receipt.user_id, receipt.sent_time) == (
            "a4d0243feee163bd3af2",
            None,
            "1626926349402",
        )

    async def test_the_business_host_is_configurable(self):
        client, seen = client_answering(
            answer(PHONE_SUCCESS), business_base_url="http://127.0.0.1:8099/"
        )
        await client.send_template_by_phone("84912345678", "t", DATA, "tr")
        assert str(seen[0].url) == "http://127.0.0.1:8099/message/template"

    @pytest.mark.parametrize(
        ("code", "expected"),
        [
            (-108, RecipientUnreachableError),
            (-118, RecipientUnreachableError),
            (-114, RecipientUnreachableError),
            (-109, MessageRejectedError),
            (-111, MessageRejectedError),
            (-112, MessageRejectedError),
            (-1121, MessageRejectedError),
            (-131, MessageRejectedError),
            (-144, AccountError),
            (-115, AccountError),
            (-100, RetryableDeliveryError),
            (-999, MessageRejectedError),
        ],
    )
    async def test_errors_follow_the_zns_table(self, code, expected):
        client, _ = client_answering(error(code))
        with pytest.raises(expected) as raised:
            await client.send_template_by_phone("0912345678", "t", DATA, "tr")
        assert raised.value.code == code

    async def test_uncertain_zns_codes_can_be_reclassified(self):
        classify = zns_classifier({-144: "transient", -118: "message"})
        client, _ = client_answering(error(-144), classify_zns=classify)
        with pytest.raises(RetryableDeliveryError):
            await client.send_template_by_phone("0912345678", "t", DATA, "tr")
        assert isinstance(classify(-118, "x"), MessageRejectedError)
        assert isinstance(classify(-108, "x"), RecipientUnreachableError)
        assert zns_classifier({}) is classify_zns_error

    async def test_the_zns_token_error_is_refreshed_once_and_retried_once(self):
        tokens = RotatingToken("old", "new")

        def handler(request: httpx.Request) -> httpx.Response:
            if request.headers["access_token"] == "old":
                return httpx.Response(200, json={"error": -124, "message": "Access token invalid"})
            return httpx.Response(200, json=PHONE_SUCCESS)

        client, seen = client_answering(handler, tokens=tokens)
        receipt = await client.send_template_by_phone("0912345678", "t", DATA, "tr")
        assert receipt.message_id == "a4d0243feee163bd3af2"
        assert tokens.refreshed == ["old"]
        assert len(seen) == 2

    async def test_success_without_a_msg_id_is_in_doubt(self):
        client, _ = client_answering(answer({"error": 0, "message": "Success", "data": {}}))
        with pytest.raises(DeliveryInDoubtError):
            await client.send_template_by_phone("0912345678", "t", DATA, "tr")

    async def test_a_lost_answer_is_in_doubt(self):
        def handler(request: httpx.Request) -> httpx.Response:
            raise httpx.ReadTimeout("slow", request=request)

        client, _ = client_answering(handler)
        with pytest.raises(DeliveryInDoubtError):
            await client.send_template_by_phone("0912345678", "t", DATA, "tr")

    async def test_the_phone_does_not_appear_in_errors(self):
        client, _ = client_answering(error(-118, "No Zalo account"))
        with pytest.raises(RecipientUnreachableError) as raised:
            await client.send_template_by_phone("0912345678", "t", DATA, "tr")
        assert "912345678" not in str(raised.value)


class TestPhoneForm:
    @pytest.mark.parametrize(
        "phone", ["0912345678", "84912345678", "+84912345678", "912345678", "091 234 5678"]
    )
    def test_vietnamese_numbers_take_the_84_form(self, phone):
        assert normalise_phone(phone) == "84912345678"

    def test_ten_digit_subscriber_numbers_are_kept_whole(self):
        assert normalise_phone("02431234567") == "842431234567"

    @pytest.mark.parametrize("phone", ["", "12345", "0012345678", "abc"])
    def test_other_values_are_refused(self, phone):
        with pytest.raises(MessageRejectedError):
            normalise_phone(phone)

    def test_the_zns_table_is_separate_from_the_oa_table(self):
        # -100 is "attachment expired" for the OA API and "unknown error" for ZNS; -124 only
        # exists in the ZNS table.
        assert isinstance(classify_zns_error(-124, "x"), TokenError)
        assert "ZNS" in str(classify_zns_error(-108, "Phone number is invalid"))
