"""The way in: inbound attachments (part 2 §2), buttons and taps (§6), request/submit info (§3),
read-back (§4), ZNS details (§5), older codes (§7) and the scripted citizen."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge_devkit.emulator import DEV_ACCESS_TOKEN, media
from bridge_devkit.emulator.cli import main
from bridge_devkit.emulator.validation import CsMessage, Violation, validate_cs_body

HEADERS = {"access_token": DEV_ACCESS_TOKEN}
USER = "2512523625412515"


def _buttons_message(buttons, text="Ông/Bà hài lòng chứ?"):
    return {
        "recipient": {"user_id": USER},
        "message": {
            "text": text,
            "attachment": {"type": "template", "payload": {"buttons": buttons}},
        },
    }


SURVEY = [
    {"title": "Rất hài lòng", "type": "oa.query.show", "payload": "#rate 5"},
    {"title": "Chưa hài lòng", "type": "oa.query.hide", "payload": "#rate 1"},
    {"title": "Tra cứu", "type": "oa.open.url", "payload": {"url": "https://dvc.example.vn"}},
]

REQUEST_INFO = {
    "recipient": {"user_id": USER},
    "message": {
        "attachment": {
            "type": "template",
            "payload": {
                "template_type": "request_user_info",
                "elements": [
                    {"title": "UBND tỉnh", "subtitle": "Xin thông tin", "image_url": "https://x"}
                ],
            },
        }
    },
}


async def _events(client, name):
    return (await client.get("/_emulator/events", params={"event_name": name})).json()["events"]


class TestInboundAttachments:
    async def test_an_image_event_has_url_and_thumbnail_served_until_expiry(self, client, clock):
        data = media.jpeg(32, 32)
        answer = await client.post(
            "/_emulator/events",
            json={
                "event_name": "user_send_image",
                "user_id": USER,
                "text": "CCCD mặt trước",
                "attachment": {"content_base64": base64.b64encode(data).decode()},
            },
        )

        [event] = answer.json()["events"]
        message = event["payload"]["message"]
        [attachment] = message["attachments"]
        assert attachment["type"] == "image"
        assert set(attachment["payload"]) == {"url", "thumbnail"}
        assert message["text"] == "CCCD mặt trước"
        assert (await client.get(attachment["payload"]["url"])).content == data
        clock.advance(3600)
        assert (await client.get(attachment["payload"]["url"])).status_code == 404

    async def test_a_file_event_has_name_size_checksum_type(self, client):
        answer = await client.post(
            "/_emulator/events",
            json={
                "event_name": "user_send_file",
                "user_id": USER,
                "attachment": {"generate": {"kind": "pdf", "size": 3000}, "name": "hs.pdf"},
            },
        )

        payload = answer.json()["events"][0]["payload"]["message"]["attachments"][0]["payload"]
        body = (await client.get(payload["url"])).content
        assert (payload["name"], payload["size"], payload["type"]) == ("hs.pdf", "3000", "pdf")
        assert payload["checksum"] == hashlib.md5(body, usedforsecurity=False).hexdigest()

    @pytest.mark.parametrize(
        ("event_name", "attachment", "keys"),
        [
            (
                "user_send_link",
                {"url": "https://a.vn", "description": "d"},
                {"url", "thumbnail", "description"},
            ),
            ("user_send_location", {"latitude": "21.0", "longitude": "105.8"}, {"coordinates"}),
            ("user_send_sticker", {}, {"url", "id"}),
            ("user_send_audio", {}, {"url"}),
            ("user_send_video", {}, {"url", "thumbnail", "description"}),
            ("user_send_gif", {}, {"url", "thumbnail"}),
        ],
    )
    async def test_other_events_have_the_reference_payloads(
        self, client, event_name, attachment, keys
    ):
        answer = await client.post(
            "/_emulator/events",
            json={"event_name": event_name, "user_id": USER, "attachment": attachment},
        )

        assert answer.status_code == 201
        [item] = answer.json()["events"][0]["payload"]["message"]["attachments"]
        assert set(item["payload"]) == keys

    async def test_attachments_can_be_omitted(self, client):
        answer = await client.post(
            "/_emulator/events",
            json={"event_name": "user_send_image", "user_id": USER, "attachment": {"omit": True}},
        )

        assert "attachments" not in answer.json()["events"][0]["payload"]["message"]


class TestButtonsAndTaps:
    async def test_a_buttons_message_is_accepted_and_recorded(self, send, messages):
        assert (await send(body=_buttons_message(SURVEY))).json()["error"] == 0

        [record] = await messages()
        assert [b["title"] for b in record["buttons"]] == [
            "Rất hài lòng",
            "Chưa hài lòng",
            "Tra cứu",
        ]

    @pytest.mark.parametrize(
        ("buttons", "error"),
        [
            ([SURVEY[0]] * 6, -210),
            ([{**SURVEY[0], "title": "x" * 36}], -210),
            ([{**SURVEY[0], "payload": "x" * 201}], -210),
            ([{**SURVEY[0], "type": "oa.click"}], -201),
            ([{**SURVEY[2], "payload": "https://x"}], -201),
            ([], -201),
        ],
        ids=["six", "long-title", "long-payload", "type", "url-shape", "none"],
    )
    async def test_limits_and_shapes(self, send, buttons, error):
        assert (await send(body=_buttons_message(buttons))).json()["error"] == error

    async def test_a_query_tap_sends_the_payload_as_user_send_text(self, client, send):
        await send(body=_buttons_message(SURVEY))

        tapped = await client.post(
            "/_emulator/taps", json={"user_id": USER, "title": "Chưa hài lòng"}
        )

        assert tapped.status_code == 201
        [event] = await _events(client, "user_send_text")
        assert event["payload"]["message"]["text"] == "#rate 1"

    async def test_a_url_tap_sends_nothing(self, client, send):
        await send(body=_buttons_message(SURVEY))

        tapped = await client.post("/_emulator/taps", json={"user_id": USER, "index": 2})

        assert tapped.json()["events"] == []

    async def test_a_tap_without_buttons_is_400(self, client, send):
        await send("no buttons")

        assert (await client.post("/_emulator/taps", json={"user_id": USER})).status_code == 400


class TestRequestUserInfo:
    async def test_submit_info_needs_a_request(self, client):
        answer = await client.post(
            "/_emulator/events", json={"event_name": "user_submit_info", "user_id": USER}
        )

        assert answer.status_code == 400

    @pytest.mark.parametrize(
        ("shape", "expected"),
        [
            ("flat", {"name": "Nguyễn Văn A", "phone": "84912345678", "city": "Hà Nội"}),
            (
                "full_address",
                {
                    "name": "Nguyễn Văn A",
                    "phone": "84912345678",
                    "full_address": {"user_city": "Hà Nội", "user_ward": "", "user_address": ""},
                },
            ),
        ],
    )
    async def test_submit_info_after_a_request(self, client, send, shape, expected):
        assert (await send(body=REQUEST_INFO)).json()["error"] == 0

        answer = await client.post(
            "/_emulator/events",
            json={
                "event_name": "user_submit_info",
                "user_id": USER,
                "info": {"name": "Nguyễn Văn A", "phone": "84912345678", "city": "Hà Nội"},
                "info_shape": shape,
            },
        )

        payload = answer.json()["events"][0]["payload"]
        assert "message" not in payload
        assert payload["info"] == expected

    async def test_request_fields_are_checked(self, send):
        body = json.loads(json.dumps(REQUEST_INFO))
        element = body["message"]["attachment"]["payload"]["elements"][0]
        element["subtitle"] = "x" * 501

        assert (await send(body=body)).json()["error"] == -210
        del element["image_url"]
        assert (await send(body=body)).json()["error"] == -201


class TestReadBack:
    async def _read(self, client, path, data):
        response = await client.get(path, params={"data": json.dumps(data)}, headers=HEADERS)
        return response.json()

    async def test_both_directions_in_one_conversation(self, client, send):
        await client.post(
            "/_emulator/events",
            json={"event_name": "user_send_text", "user_id": USER, "text": "Xin chào"},
        )
        await send("Chào ông")

        items = (await self._read(client, "/v2.0/oa/conversation", {"user_id": int(USER)}))["data"]

        assert [(i["src"], i["message"]) for i in items] == [(0, "Chào ông"), (1, "Xin chào")]
        assert items[1]["from_id"] == USER

    async def test_listrecentchat_has_one_row_per_user_and_string_params(self, client, send):
        await send("một")
        await send("hai")

        answer = await self._read(client, "/v2.0/oa/listrecentchat", {"offset": "0", "count": "5"})

        [row] = answer["data"]
        assert (row["message"], row["to_id"], row["from_display_name"]) == (
            "hai",
            USER,
            "UBND tỉnh (emulator)",
        )

    async def test_count_over_10_can_be_clamped(self, client):
        data = {"offset": 0, "count": 11}
        assert (await self._read(client, "/v2.0/oa/listrecentchat", data))["error"] == -210

        await client.put("/_emulator/config", json={"conversation_count_over_limit": "clamp"})

        assert (await self._read(client, "/v2.0/oa/listrecentchat", data))["error"] == 0


class TestZnsDetails:
    @pytest.fixture
    async def template(self, client):
        await client.put(
            "/_emulator/templates",
            json=[{"template_id": "7895417", "params": [{"name": "ma", "max_length": 30}]}],
        )
        hook = {"url": "http://127.0.0.1:9/never-called", "auto_receipts": True}
        await client.put("/_emulator/webhook", json=hook)

    async def _send(self, client, phone, **extra):
        body = {
            "phone": phone,
            "template_id": "7895417",
            "template_data": {"ma": "H10-1"},
            "tracking_id": "t-1",
            **extra,
        }
        return (await client.post("/message/template", json=body, headers=HEADERS)).json()

    @pytest.mark.usefixtures("template")
    async def test_receipt_recipient_is_the_phone(self, client):
        assert (await self._send(client, "+84912345678"))["error"] == 0

        [receipt] = await _events(client, "user_received_message")
        assert receipt["payload"]["recipient"] == {"id": "84912345678"}
        assert receipt["headers"] == {"X-ZEvent-Server": "ZNS"}

    @pytest.mark.usefixtures("template")
    async def test_development_mode_reaches_only_admins(self, client):
        await client.put("/_emulator/zbs", json={"admin_phones": ["0912345678"]})

        assert (await self._send(client, "84987654321", mode="development"))["error"] == -127
        assert (await self._send(client, "84912345678", mode="development"))["error"] == 0


class TestOlderCodes:
    @pytest.mark.parametrize(("code", "text"), [(-305, "after 48 hours"), (216, "invalid")])
    async def test_faults_inject_older_codes(self, client, send, code, text):
        await client.post("/_emulator/faults", json={"kind": "error", "error": code})

        answer = (await send("x")).json()

        assert answer["error"] == code
        assert text in answer["message"]

    async def test_overrides_replace_a_rule_code(self, client, send, clock):
        await client.put("/_emulator/config", json={"error_code_overrides": {"-230": -305}})
        clock.advance(8 * 86_400)

        assert (await send("x")).json() == {
            "error": -305,
            "message": "Official Account cannot response to user after 48 hours",
        }


class TestScriptedCitizen:
    async def test_a_script_follows_sends_waits_taps(self, client):
        async def oa_replies():  # stands in for the bridge: answers once she has written
            while not await _events(client, "user_send_file"):  # noqa: ASYNC110 - polls over HTTP
                await asyncio.sleep(0.02)
            body = _buttons_message(SURVEY, text="Đã nhận hồ sơ. Xác nhận?")
            await client.post("/v3.0/oa/message/cs", json=body, headers=HEADERS)

        script = {
            "user_id": "900",
            "display_name": "Trần Thị B",
            "wait": True,
            "steps": [
                {"do": "follow"},
                {"do": "text", "text": "NOP HO SO"},
                {"do": "image", "attachment": {"generate": {"kind": "jpeg", "exif_gps": True}}},
                {"do": "file", "attachment": {"generate": {"kind": "pdf"}, "name": "gcn.pdf"}},
                {"do": "expect_reply", "contains": "Đã nhận", "has_buttons": True},
                {"do": "tap", "title": "Rất hài lòng"},
                {"do": "confirm"},
            ],
        }
        replier = asyncio.create_task(oa_replies())
        script["user_id"] = USER
        run = (await client.post("/_emulator/scripts", json=script)).json()
        await replier

        assert run["status"] == "passed", run
        names = [e["event_name"] for e in (await client.get("/_emulator/events")).json()["events"]]
        assert names == [
            "follow",
            "user_send_text",
            "user_send_image",
            "user_send_file",
            "user_send_text",
            "user_send_text",
        ]
        texts = [e["payload"]["message"]["text"] for e in await _events(client, "user_send_text")]
        assert texts == ["NOP HO SO", "#rate 5", "XAC NHAN"]

    async def test_expect_reply_times_out(self, client):
        script = {
            "user_id": USER,
            "wait": True,
            "steps": [
                {"do": "expect_reply", "contains": "never", "timeout_s": 0.2},
                {"do": "confirm"},
            ],
        }

        run = (await client.post("/_emulator/scripts", json=script)).json()

        assert run["status"] == "failed"
        assert [s["status"] for s in run["steps"]] == ["failed", "skipped"]

    async def test_a_bad_script_is_400(self, client):
        response = await client.post("/_emulator/scripts", json={"user_id": USER, "steps": []})

        assert response.status_code == 400

    async def test_the_cli_runs_a_script(self, emulator, tmp_path, capsys):
        path = tmp_path / "script.json"
        path.write_text(json.dumps({"user_id": USER, "steps": [{"do": "text", "text": "HUY"}]}))

        code = await asyncio.to_thread(
            main, ["citizen", "run", str(path), "--url", emulator.base_url]
        )

        assert code == 0
        assert "passed" in capsys.readouterr().out


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=6)
        | st.dictionaries(
            st.sampled_from(
                ["title", "type", "payload", "buttons", "elements", "url", "template_type", "text"]
            ),
            children,
            max_size=6,
        )
    ),
    max_leaves=30,
)


@given(payload=_JSON)
def test_hostile_attachment_payloads_get_a_zalo_answer_never_an_exception(payload):
    body = {
        "recipient": {"user_id": USER},
        "message": {"text": "x", "attachment": {"type": "template", "payload": payload}},
    }

    result = validate_cs_body(body)

    assert isinstance(result, CsMessage | Violation)
    if isinstance(result, Violation):
        assert result.code in {-201, -210, -233}
