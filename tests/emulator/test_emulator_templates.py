"""ZBS template messages by UID (`/v3.0/oa/message/template`) and by phone (`/message/template`)."""

from __future__ import annotations

import re

import httpx
import pytest

from bridge_devkit.emulator import (
    CONVERSATION_PATH,
    DEV_ACCESS_TOKEN,
    TEMPLATE_PHONE_PATH,
    TEMPLATE_UID_PATH,
    EmulatorConfig,
    Template,
    TemplateParam,
    ZbsConfig,
)

FOLLOWER_ID = "2512523625412515"  # the conftest's follower, who interacted an hour ago
PHONE = "84912345678"
DATA = {"ten_cong_dan": "Nguyễn Văn A", "ma_ho_so": "H10-0001", "trang_thai": "Đã có kết quả"}
TEMPLATES = [
    {
        "template_id": "7895417",
        "params": [
            {"name": "ten_cong_dan", "max_length": 30},
            {"name": "ma_ho_so", "max_length": 20},
            {"name": "trang_thai", "max_length": 30},
            {"name": "ghi_chu", "max_length": 50, "required": False},
        ],
        "allow_uid": True,
    },
    {
        "template_id": "phone-only",
        "params": [{"name": "ma_ho_so", "max_length": 20}],
        "allow_uid": False,
    },
]
MSG_ID = re.compile(r"[0-9a-f]{20}")
DAY = 86_400


@pytest.fixture(autouse=True)
async def templates(client):
    response = await client.put("/_emulator/templates", json=TEMPLATES)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def by_uid(client):
    async def _send(body=None, *, token=DEV_ACCESS_TOKEN, **fields) -> httpx.Response:
        if body is None:
            body = {"user_id": FOLLOWER_ID, "template_id": "7895417", "template_data": DATA}
            body |= fields
        headers = {} if token is None else {"access_token": token}
        return await client.post(TEMPLATE_UID_PATH, json=body, headers=headers)

    return _send


@pytest.fixture
def by_phone(client):
    async def _send(body=None, *, token=DEV_ACCESS_TOKEN, **fields) -> httpx.Response:
        if body is None:
            body = {
                "phone": PHONE,
                "template_id": "7895417",
                "template_data": DATA,
                "tracking_id": "hs-H10-0001-ketqua",
            }
            body |= fields
        headers = {} if token is None else {"access_token": token}
        return await client.post(TEMPLATE_PHONE_PATH, json=body, headers=headers)

    return _send


def _error(response: httpx.Response) -> tuple[int, str]:
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"error", "message"}, body
    return body["error"], body["message"]


class TestByUid:
    async def test_success_shape_and_log(self, by_uid, messages):
        response = await by_uid()

        assert response.status_code == 200
        assert response.headers["X-RateLimit-Remain"] == "3999"
        body = response.json()
        assert (body["error"], body["message"]) == (0, "Success")
        data = body["data"]
        assert set(data) == {"message_id", "user_id", "sent_time"}
        assert MSG_ID.fullmatch(data["message_id"])
        assert (data["user_id"], data["sent_time"]) == (FOLLOWER_ID, "1796032830000")
        [record] = await messages()
        assert record["endpoint"] == TEMPLATE_UID_PATH
        assert (record["message_id"], record["user_id"]) == (data["message_id"], FOLLOWER_ID)
        assert (record["template_id"], record["template_data"]) == ("7895417", DATA)
        assert (record["phone"], record["tracking_id"], record["text"]) == (None, None, None)

    async def test_the_interaction_window_does_not_apply(self, by_uid, client, send):
        await client.put(
            "/_emulator/followers",
            json=[{"user_id": "old", "last_interaction_at": "2026-10-01T00:00:00Z"}],
        )

        assert (await send(user_id="old")).json()["error"] == -230
        assert (await by_uid(user_id="old")).json()["error"] == 0

    async def test_the_follower_rule_applies(self, by_uid, client):
        await client.put("/_emulator/followers", json=[{"user_id": "gone", "is_follower": False}])

        assert _error(await by_uid(user_id="gone")) == (-213, "User has not followed OA")
        assert _error(await by_uid(user_id="stranger"))[0] == -213

    async def test_a_template_not_allowed_by_uid_gives_249(self, by_uid):
        response = await by_uid(template_id="phone-only", template_data={"ma_ho_so": "H1"})

        assert _error(response) == (-249, "Template does not support send via UID")

    @pytest.mark.parametrize(
        ("token", "code"), [(None, -216), ("nope", -216)], ids=["missing", "unknown"]
    )
    async def test_access_token_rules(self, by_uid, token, code):
        assert _error(await by_uid(token=token))[0] == code

    async def test_revoked_token_gives_220(self, by_uid, client):
        await client.post("/_emulator/tokens/revoke", json={"access_token": DEV_ACCESS_TOKEN})

        assert _error(await by_uid())[0] == -220

    @pytest.mark.parametrize(
        ("fields", "message"),
        [
            ({"user_id": ""}, "user_id is invalid!"),
            ({"user_id": 2512523625412515}, "user_id is invalid!"),
            ({"template_id": "unknown"}, "template_id is invalid!"),
            ({"template_id": None}, "template_id is invalid!"),
            ({"template_data": {}}, "template_data is invalid!"),
            ({"template_data": None}, "template_data is invalid!"),
            ({"template_data": "x"}, "template_data is invalid!"),
            ({"template_data": {**DATA, "extra": "x"}}, "template_data.extra is invalid!"),
            ({"template_data": {"ten_cong_dan": "A"}}, "template_data.ma_ho_so is invalid!"),
            ({"template_data": {**DATA, "ma_ho_so": " "}}, "template_data.ma_ho_so is invalid!"),
            ({"template_data": {**DATA, "ma_ho_so": [1]}}, "template_data.ma_ho_so is invalid!"),
        ],
    )
    async def test_malformed_calls_get_201_naming_the_field(self, by_uid, fields, message):
        assert _error(await by_uid(**fields)) == (-201, message)

    async def test_a_value_over_its_length_gives_210(self, by_uid):
        response = await by_uid(template_data={**DATA, "ma_ho_so": "H" * 21})

        assert _error(response) == (-210, "Parameter exceeds allowable limit")

    async def test_numbers_and_optional_params_are_accepted(self, by_uid):
        data = {**DATA, "ma_ho_so": 1234, "ghi_chu": "Mang CCCD bản gốc"}

        assert (await by_uid(template_data=data, template_id=7895417)).json()["error"] == 0

    async def test_a_body_that_is_not_json_gives_201(self, client):
        response = await client.post(
            TEMPLATE_UID_PATH,
            content=b"{oops",
            headers={"access_token": DEV_ACCESS_TOKEN, "Content-Type": "application/json"},
        )

        assert _error(response) == (-201, "body is invalid!")

    async def test_it_uses_the_oa_api_budget(self, start, config):
        emulator = await start(
            EmulatorConfig(
                followers=config.followers,
                rate_limit_per_minute=1,
                zbs=ZbsConfig(templates=(Template("t", (TemplateParam("p", 5),)),)),
            )
        )
        async with httpx.AsyncClient(base_url=emulator.base_url) as client:
            body = {"user_id": FOLLOWER_ID, "template_id": "t", "template_data": {"p": "x"}}
            headers = {"access_token": DEV_ACCESS_TOKEN}
            first = await client.post(TEMPLATE_UID_PATH, json=body, headers=headers)
            second = await client.post(TEMPLATE_UID_PATH, json=body, headers=headers)

        assert first.json()["error"] == 0
        assert _error(second)[0] == -32
        assert second.headers["X-RateLimit-Remain"] == "0"

    async def test_it_shows_in_the_conversation_as_a_template(self, by_uid, client):
        message_id = (await by_uid()).json()["data"]["message_id"]

        response = await client.get(
            CONVERSATION_PATH,
            params={"data": f'{{"user_id": "{FOLLOWER_ID}"}}'},
            headers={"access_token": DEV_ACCESS_TOKEN},
        )

        [item] = response.json()["data"]
        assert (item["message_id"], item["type"], item["message"]) == (message_id, "template", "")

    async def test_rejections_are_logged_with_their_template_fields(self, by_uid, messages):
        await by_uid(user_id="stranger")

        [record] = await messages(status="rejected")
        assert (record["error"], record["user_id"], record["template_id"]) == (
            -213,
            "stranger",
            "7895417",
        )


class TestByPhone:
    async def test_success_shape_and_log(self, by_phone, messages):
        response = await by_phone()

        assert response.status_code == 200
        assert "X-RateLimit-Limit" not in response.headers  # outside the OA API bucket
        body = response.json()
        assert (body["error"], body["message"]) == (0, "Success")
        data = body["data"]
        assert MSG_ID.fullmatch(data["msg_id"])
        assert data | {"msg_id": "x"} == {
            "msg_id": "x",
            "sent_time": "1796032830000",
            "sending_mode": "1",
            "quota": {"dailyQuota": "500", "remainingQuota": "499"},
        }
        [record] = await messages()
        assert record["endpoint"] == TEMPLATE_PHONE_PATH
        assert (record["message_id"], record["user_id"], record["phone"]) == (
            data["msg_id"],
            None,
            PHONE,
        )
        assert (record["template_id"], record["template_data"], record["tracking_id"]) == (
            "7895417",
            DATA,
            "hs-H10-0001-ketqua",
        )

    @pytest.mark.parametrize("phone", ["0912345678", "912345678", "84912345678", "+84912345678"])
    async def test_accepted_forms_are_recorded_normalised(self, by_phone, messages, phone):
        assert (await by_phone(phone=phone)).json()["error"] == 0

        [record] = await messages(phone=PHONE)
        assert record["phone"] == PHONE
        assert record["body"]["phone"] == phone  # the body as sent

    @pytest.mark.parametrize(
        "phone",
        ["+0912345678", "8491234567", "849123456789", "0912 345 678", "", 84912345678, None],
    )
    async def test_invalid_phone_gives_108(self, by_phone, phone):
        assert _error(await by_phone(phone=phone)) == (-108, "Phone number is invalid")

    @pytest.mark.parametrize("template_id", ["unknown", "", None])
    async def test_invalid_template_id_gives_109(self, by_phone, template_id):
        assert _error(await by_phone(template_id=template_id))[0] == -109

    @pytest.mark.parametrize("data", [{}, None])
    async def test_empty_template_data_gives_111(self, by_phone, data):
        assert _error(await by_phone(template_data=data)) == (-111, "Template data is empty")

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            ({"ten_cong_dan": "A", "trang_thai": "B"}, "template_data.ma_ho_so is invalid"),
            ({**DATA, "extra": "x"}, "template_data.extra is invalid"),
            ("not an object", "template_data is invalid"),
        ],
    )
    async def test_parameters_must_match_the_template(self, by_phone, data, message):
        assert _error(await by_phone(template_data=data)) == (-112, message)

    async def test_a_value_over_its_length_gives_1121(self, by_phone):
        response = await by_phone(template_data={**DATA, "ten_cong_dan": "N" * 31})

        code, message = _error(response)
        assert code == -1121
        assert "ten_cong_dan" in message

    @pytest.mark.parametrize("tracking_id", [None, "", "t" * 49, 12])
    async def test_tracking_id_is_required_up_to_48_characters(self, by_phone, tracking_id):
        assert _error(await by_phone(tracking_id=tracking_id)) == (-112, "tracking_id is invalid")

    async def test_a_48_character_tracking_id_is_fine(self, by_phone):
        assert (await by_phone(tracking_id="t" * 48)).json()["error"] == 0

    async def test_phones_without_a_zalo_account_give_118(self, by_phone, client, messages):
        response = await client.put(
            "/_emulator/zbs", json={"phones_without_account": ["0987654321"]}
        )
        assert response.json()["phones_without_account"] == ["84987654321"]

        code, _ = _error(await by_phone(phone="84987654321"))

        assert code == -118
        assert (await by_phone()).json()["error"] == 0
        [record] = await messages(status="rejected")
        assert (record["phone"], record["error"]) == ("84987654321", -118)

    async def test_phones_without_account_can_be_configured_at_start(self, start):
        config = EmulatorConfig(
            zbs=ZbsConfig(
                templates=(Template("t", (TemplateParam("p", 5),)),),
                phones_without_account=("0987654321",),
            )
        )
        emulator = await start(config)
        async with httpx.AsyncClient(base_url=emulator.base_url) as client:
            body = {
                "phone": "84987654321",
                "template_id": "t",
                "template_data": {"p": "x"},
                "tracking_id": "t1",
            }
            response = await client.post(
                TEMPLATE_PHONE_PATH, json=body, headers={"access_token": DEV_ACCESS_TOKEN}
            )

        assert _error(response)[0] == -118

    @pytest.mark.parametrize("token", [None, "nope"])
    async def test_bad_token_gives_the_zns_code(self, by_phone, token):
        assert _error(await by_phone(token=token)) == (-124, "Access token is invalid")

    async def test_expired_token_gives_the_zns_code_too(self, by_phone, client):
        await client.post("/_emulator/tokens/revoke", json={"access_token": DEV_ACCESS_TOKEN})

        assert _error(await by_phone())[0] == -124

    async def test_the_token_code_is_configurable(self, by_phone, client):
        await client.put("/_emulator/zbs", json={"token_error": -216})

        assert _error(await by_phone(token="nope"))[0] == -216

    async def test_the_daily_quota_runs_per_vietnam_day(self, by_phone, client, clock):
        await client.put("/_emulator/zbs", json={"daily_quota": 2})

        first, second, third = [(await by_phone()).json() for _ in range(3)]

        assert first["data"]["quota"] == {"dailyQuota": "2", "remainingQuota": "1"}
        assert second["data"]["quota"] == {"dailyQuota": "2", "remainingQuota": "0"}
        assert (third["error"], third["message"]) == (-144, "OA has exceeded the daily quota")
        # START is 17:00:30 in Vietnam: the day there ends 6 h 59 min 30 s later.
        clock.advance(7 * 3600 - 31)
        assert (await by_phone()).json()["error"] == -144
        clock.advance(1)
        assert (await by_phone()).json()["data"]["quota"]["remainingQuota"] == "1"
        zbs = (await client.get("/_emulator/zbs")).json()
        assert (zbs["sent_today"], zbs["remaining_today"]) == (1, 1)

    async def test_templates_not_allowed_by_uid_still_go_by_phone(self, by_phone):
        response = await by_phone(template_id="phone-only", template_data={"ma_ho_so": "H1"})

        assert response.json()["error"] == 0

    async def test_a_phone_message_needs_no_follower(self, by_phone, client):
        await client.delete("/_emulator/followers")

        assert (await by_phone()).json()["error"] == 0

    async def test_a_fault_for_a_user_id_matches_the_normalised_phone(self, by_phone, client):
        await client.post(
            "/_emulator/faults", json={"kind": "error", "error": -115, "user_id": PHONE}
        )

        assert _error(await by_phone(phone="0912345678")) == (-115, "Out of quota or balance")
        assert (await by_phone()).json()["error"] == 0

    async def test_a_fault_needs_a_message_outside_both_tables(self, client):
        response = await client.post("/_emulator/faults", json={"kind": "error", "error": -9999})

        assert response.status_code == 400

    async def test_http_fault_on_the_phone_endpoint(self, by_phone, client, messages):
        await client.post(
            "/_emulator/faults",
            json={"kind": "http", "status": 502, "endpoint": TEMPLATE_PHONE_PATH},
        )

        assert (await by_phone()).status_code == 502
        [record] = await messages(status="rejected")
        assert (record["http_status"], record["fault"], record["phone"]) == (502, "http", PHONE)


class TestTemplateAdmin:
    async def test_templates_are_listed_replaced_and_cleared(self, client, templates):
        assert templates["upserted"] == 2
        await client.put(
            "/_emulator/templates",
            json=[{"template_id": "phone-only", "params": [], "allow_uid": True}],
        )

        listed = (await client.get("/_emulator/templates")).json()["templates"]

        assert [t["template_id"] for t in listed] == ["7895417", "phone-only"]
        assert listed[1] == {"template_id": "phone-only", "params": [], "allow_uid": True}
        assert listed[0]["params"][3] == {"name": "ghi_chu", "max_length": 50, "required": False}
        assert (await client.delete("/_emulator/templates")).json() == {"deleted": 2}

    @pytest.mark.parametrize(
        "body",
        [
            [{"template_id": ""}],
            [{"template_id": "t", "params": [{"name": "a", "max_length": 0}]}],
            [
                {
                    "template_id": "t",
                    "params": [{"name": "a", "max_length": 5}, {"name": "a", "max_length": 6}],
                }
            ],
            {"template_id": "t"},
        ],
        ids=["empty-id", "zero-length", "duplicate-param", "not-a-list"],
    )
    async def test_bad_templates_are_refused(self, client, body):
        assert (await client.put("/_emulator/templates", json=body)).status_code == 400

    async def test_zbs_knobs(self, client):
        assert (await client.get("/_emulator/zbs")).json() == {
            "daily_quota": 500,
            "sent_today": 0,
            "remaining_today": 500,
            "phones_without_account": [],
            "token_error": -124,
            "admin_phones": [],
            "dev_quota": None,
            "dev_mode_receipts": True,
        }
        for body in ({"daily_quota": -1}, {"phones_without_account": ["12"]}, {"x": 1}):
            assert (await client.put("/_emulator/zbs", json=body)).status_code == 400, body

    async def test_messages_filter_by_endpoint(self, by_uid, by_phone, send, messages):
        await send()
        await by_uid()
        await by_phone()

        assert [m["endpoint"] for m in await messages()] == [
            "/v3.0/oa/message/cs",
            TEMPLATE_UID_PATH,
            TEMPLATE_PHONE_PATH,
        ]
        [record] = await messages(endpoint=TEMPLATE_PHONE_PATH)
        assert record["phone"] == PHONE
        assert "template_id" not in (await messages(endpoint="/v3.0/oa/message/cs"))[0]
