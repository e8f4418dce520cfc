"""Webhooks: signed OA events (§7.3 shapes), follower effects, receipts, retries with num_retry."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from aiohttp import web

from bridge_devkit.emulator import (
    DEV_ACCESS_TOKEN,
    TEMPLATE_PHONE_PATH,
    EmulatorConfig,
    Follower,
    Template,
    TemplateParam,
    WebhookConfig,
    ZbsConfig,
    system_clock,
)

CONFIG = EmulatorConfig()
APP_ID, OA_ID = CONFIG.app_id, CONFIG.oa_id
OA_SECRET, APP_SECRET = CONFIG.oa_secret_key, CONFIG.app_secret
FOLLOWER_ID = "2512523625412515"  # the conftest's follower, who interacted an hour ago
START_MS = "1796032830000"
MSG_ID = re.compile(r"[0-9a-f]{20}")
DAY = 86_400


@dataclass
class Delivery:
    headers: dict[str, str]
    raw: bytes

    @property
    def payload(self) -> dict:
        return json.loads(self.raw)


@dataclass
class Receiver:
    """A webhook endpoint recording what it gets; answers from `statuses`, then 200."""

    url: str = ""
    deliveries: list[Delivery] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    delay_s: float = 0.0

    async def handle(self, request: web.Request) -> web.Response:
        self.deliveries.append(Delivery(dict(request.headers), await request.read()))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        status = self.statuses.pop(0) if self.statuses else 200
        return web.Response(status=status, text="ok")


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/zalo/webhook", receiver.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    receiver.url = f"http://127.0.0.1:{port}/zalo/webhook"
    yield receiver
    await runner.cleanup()


@pytest.fixture
async def hook(client, receiver) -> Receiver:
    """The emulator's webhook pointed at `receiver`."""
    response = await client.put("/_emulator/webhook", json={"url": receiver.url})
    assert response.status_code == 200, response.text
    return receiver


@pytest.fixture
def emit(client):
    async def _emit(*events, expect: int = 201) -> list[dict]:
        body = events[0] if len(events) == 1 else list(events)
        response = await client.post("/_emulator/events", json=body)
        assert response.status_code == expect, response.text
        return list(response.json()["events"])

    return _emit


async def _run_due(client) -> dict:
    response = await client.post("/_emulator/webhook/run-due")
    assert response.status_code == 200
    return dict(response.json())


def verify_zalo(raw: bytes, header: str, timestamp: str) -> str | None:
    """The reference's verifier (§7.2): which candidate formula matches, if any."""
    sig = header.strip()
    if sig.lower().startswith("mac="):
        sig = sig[4:]
    body = raw.decode("utf-8")
    for first_name, first in (("app_id", APP_ID), ("oa_id", OA_ID)):
        for secret_name, secret in (("oa_secret_key", OA_SECRET), ("app_secret", APP_SECRET)):
            expected = hashlib.sha256((first + body + timestamp + secret).encode()).hexdigest()
            if hmac.compare_digest(expected, sig.lower()):
                return f"{first_name}+{secret_name}"
    return None


class TestPayloadsAndSignature:
    async def test_user_send_text_is_signed_as_the_reference_says(self, hook, emit):
        [event] = await emit({"event_name": "user_send_text", "user_id": "55", "text": "Helo"})

        [delivery] = hook.deliveries
        assert event["status"] == "delivered"
        assert delivery.raw == event["body"].encode()
        assert b" " not in delivery.raw  # compact JSON
        payload = delivery.payload
        assert list(payload) == [
            "app_id",
            "sender",
            "recipient",
            "user_id_by_app",
            "event_name",
            "message",
            "timestamp",
        ]
        assert payload | {"user_id_by_app": "u", "message": {}} == {
            "app_id": APP_ID,
            "sender": {"id": "55"},
            "recipient": {"id": OA_ID},
            "user_id_by_app": "u",
            "event_name": "user_send_text",
            "message": {},
            "timestamp": START_MS,
        }
        assert payload["message"]["text"] == "Helo"
        assert MSG_ID.fullmatch(payload["message"]["msg_id"])
        assert re.fullmatch(r"\d{19}", payload["user_id_by_app"])
        signed = delivery.headers["X-ZEvent-Signature"]
        mac = hashlib.sha256(f"{APP_ID}{event['body']}{START_MS}{OA_SECRET}".encode()).hexdigest()
        assert signed == f"mac={mac}"
        assert verify_zalo(delivery.raw, signed, payload["timestamp"]) == "app_id+oa_secret_key"
        assert delivery.headers["Content-Type"] == "application/json"
        assert "num_retry" not in delivery.headers

    async def test_vietnamese_text_is_sent_as_utf8_and_still_verifies(self, hook, emit):
        await emit({"event_name": "user_send_text", "user_id": "55", "text": "Hồ sơ của tôi?"})

        [delivery] = hook.deliveries
        assert "Hồ sơ của tôi?".encode() in delivery.raw
        assert verify_zalo(delivery.raw, delivery.headers["X-ZEvent-Signature"], START_MS)

    async def test_message_ids_are_unique_and_app_ids_stable(self, hook, emit):
        events = await emit(
            {"event_name": "user_send_text", "user_id": "55", "text": "a"},
            {"event_name": "user_send_text", "user_id": "55", "text": "b"},
            {"event_name": "user_send_text", "user_id": "66", "text": "c"},
        )

        payloads = [e["payload"] for e in events]
        assert len({p["message"]["msg_id"] for p in payloads}) == 3
        assert payloads[0]["user_id_by_app"] == payloads[1]["user_id_by_app"]
        assert payloads[0]["user_id_by_app"] != payloads[2]["user_id_by_app"]
        assert [d.payload["message"]["text"] for d in hook.deliveries] == ["a", "b", "c"]

    @pytest.mark.parametrize("event_name", ["follow", "unfollow"])
    async def test_follow_events_have_the_follower_shape(self, hook, emit, event_name):
        [event] = await emit({"event_name": event_name, "user_id": "77"})

        payload = hook.deliveries[0].payload
        assert list(payload) == [
            "oa_id",
            "follower",
            "user_id_by_app",
            "event_name",
            "source",
            "app_id",
            "timestamp",
        ]
        assert payload == event["payload"]
        assert (payload["oa_id"], payload["follower"], payload["event_name"]) == (
            OA_ID,
            {"id": "77"},
            event_name,
        )
        assert (payload["source"], payload["app_id"], payload["timestamp"]) == (
            "oa_profile",
            APP_ID,
            START_MS,
        )

    async def test_overrides_of_timestamp_source_and_app_scoped_id(self, hook, emit):
        await emit(
            {
                "event_name": "follow",
                "user_id": "77",
                "source": "qr_code",
                "timestamp": "1700000000000",
                "user_id_by_app": "123",
            }
        )

        delivery = hook.deliveries[0]
        payload = delivery.payload
        assert (payload["source"], payload["timestamp"], payload["user_id_by_app"]) == (
            "qr_code",
            "1700000000000",
            "123",
        )
        signed = delivery.headers["X-ZEvent-Signature"]
        assert verify_zalo(delivery.raw, signed, "1700000000000") == "app_id+oa_secret_key"

    @pytest.mark.parametrize(
        ("first", "secret"),
        [
            ("app_id", "oa_secret_key"),
            ("oa_id", "oa_secret_key"),
            ("app_id", "app_secret"),
            ("oa_id", "app_secret"),
        ],
    )
    async def test_the_signature_variant_is_configurable(self, hook, emit, client, first, secret):
        await client.put(
            "/_emulator/webhook",
            json={"signature_first_term": first, "signature_secret": secret},
        )

        await emit({"event_name": "follow", "user_id": "77"})

        delivery = hook.deliveries[0]
        signed = delivery.headers["X-ZEvent-Signature"]
        assert verify_zalo(delivery.raw, signed, START_MS) == f"{first}+{secret}"

    async def test_the_mac_prefix_can_be_left_out(self, hook, emit, client):
        await client.put("/_emulator/webhook", json={"mac_prefix": False})

        await emit({"event_name": "follow", "user_id": "77"})

        signed = hook.deliveries[0].headers["X-ZEvent-Signature"]
        assert re.fullmatch(r"[0-9a-f]{64}", signed)


class TestFollowerEffects:
    @pytest.mark.usefixtures("hook")
    async def test_sending_text_opens_the_interaction_window(self, emit, client, send):
        await client.put(
            "/_emulator/followers",
            json=[{"user_id": "old", "last_interaction_at": "2026-11-01T00:00:00Z"}],
        )
        assert (await send(user_id="old")).json()["error"] == -230

        await emit({"event_name": "user_send_text", "user_id": "old", "text": "Tra cứu"})

        assert (await send(user_id="old")).json()["error"] == 0
        followers = {
            f["user_id"]: f for f in (await client.get("/_emulator/followers")).json()["followers"]
        }
        assert followers["old"]["last_interaction_at"] == "2026-11-30T10:00:30.000+00:00"

    @pytest.mark.usefixtures("hook")
    async def test_following_makes_a_follower_who_can_be_sent_to(self, emit, send, client):
        assert (await send(user_id="new")).json()["error"] == -213

        await emit({"event_name": "follow", "user_id": "new", "display_name": "Trần Thị B"})

        assert (await send(user_id="new")).json()["error"] == 0
        followers = {
            f["user_id"]: f for f in (await client.get("/_emulator/followers")).json()["followers"]
        }
        assert followers["new"]["display_name"] == "Trần Thị B"
        assert followers["new"]["is_follower"] is True

    @pytest.mark.usefixtures("hook")
    async def test_following_again_after_a_long_time_reopens_the_window(self, emit, send, client):
        await client.put(
            "/_emulator/followers",
            json=[
                {
                    "user_id": "back",
                    "is_follower": False,
                    "last_interaction_at": "2026-01-01T00:00:00Z",
                }
            ],
        )

        await emit({"event_name": "follow", "user_id": "back"})

        assert (await send(user_id="back")).json()["error"] == 0

    @pytest.mark.usefixtures("hook")
    async def test_unfollowing_stops_messages(self, emit, send, follower_id):
        await emit({"event_name": "unfollow", "user_id": follower_id})

        assert (await send()).json()["error"] == -213

    @pytest.mark.usefixtures("hook")
    async def test_a_stranger_who_writes_is_known_but_not_a_follower(self, emit, send, client):
        await emit({"event_name": "user_send_text", "user_id": "stranger", "text": "?"})

        assert (await send(user_id="stranger")).json()["error"] == -213
        users = [
            f["user_id"] for f in (await client.get("/_emulator/followers")).json()["followers"]
        ]
        assert "stranger" in users

    async def test_effects_apply_even_without_a_webhook(self, emit, send):
        [event] = await emit({"event_name": "follow", "user_id": "new"})

        assert event["status"] == "not_sent"
        assert event["attempts"] == []
        assert (await send(user_id="new")).json()["error"] == 0


class TestReceipts:
    async def test_received_and_seen_events_name_the_messages(self, hook, emit, send):
        first = (await send("một")).json()["data"]["message_id"]
        second = (await send("hai")).json()["data"]["message_id"]

        received = await emit({"event_name": "user_received_message", "user_id": FOLLOWER_ID})
        [seen] = await emit({"event_name": "user_seen_message", "msg_ids": [first, second]})

        assert received[0]["payload"]["message"] == {"msg_id": second}  # the newest by default
        payload = seen["payload"]
        assert list(payload) == [
            "app_id",
            "sender",
            "recipient",
            "user_id_by_app",
            "event_name",
            "message",
            "timestamp",
        ]
        assert (payload["sender"], payload["recipient"]) == ({"id": OA_ID}, {"id": FOLLOWER_ID})
        assert payload["message"] == {"msg_ids": [first, second]}
        assert len(hook.deliveries) == 2

    @pytest.mark.usefixtures("hook")
    async def test_one_received_event_per_message(self, emit, send):
        ids = [(await send(text)).json()["data"]["message_id"] for text in ("a", "b")]

        events = await emit({"event_name": "user_received_message", "msg_ids": ids})

        assert [e["payload"]["message"]["msg_id"] for e in events] == ids

    async def test_automatic_receipts_follow_accepted_messages(self, hook, client, send):
        await client.put("/_emulator/webhook", json={"auto_receipts": True})

        message_id = (await send()).json()["data"]["message_id"]
        await send(user_id="stranger")  # refused: no receipt
        result = await _run_due(client)

        assert (result["attempted"], result["delivered"]) == (1, 1)
        [delivery] = hook.deliveries
        assert delivery.payload["event_name"] == "user_received_message"
        assert delivery.payload["message"] == {"msg_id": message_id}
        assert delivery.payload["recipient"] == {"id": FOLLOWER_ID}

    async def test_receipt_delay_uses_the_clock(self, hook, client, send, clock):
        await client.put("/_emulator/webhook", json={"auto_receipts": True, "receipt_delay_s": 5})
        await send()

        assert (await _run_due(client))["attempted"] == 0
        clock.advance(5)
        assert (await _run_due(client))["attempted"] == 1
        assert hook.deliveries[0].payload["timestamp"] == str(int(START_MS) + 5000)

    async def test_a_phone_template_gets_a_zns_receipt(self, start, receiver):
        config = EmulatorConfig(
            zbs=ZbsConfig(templates=(Template("t", (TemplateParam("p", 9),)),)),
            webhook=WebhookConfig(url=receiver.url, auto_receipts=True),
        )
        emulator = await start(config)
        async with httpx.AsyncClient(base_url=emulator.base_url) as client:
            body = {
                "phone": "0912345678",
                "template_id": "t",
                "template_data": {"p": "x"},
                "tracking_id": "hs-1",
            }
            sent = await client.post(
                TEMPLATE_PHONE_PATH, json=body, headers={"access_token": DEV_ACCESS_TOKEN}
            )
            await _run_due(client)

        [delivery] = receiver.deliveries
        assert delivery.headers["X-ZEvent-Server"] == "ZNS"
        assert delivery.payload["message"] == {
            "msg_id": sent.json()["data"]["msg_id"],
            "delivery_time": START_MS,
            "tracking_id": "hs-1",
        }
        assert verify_zalo(delivery.raw, delivery.headers["X-ZEvent-Signature"], START_MS)


class TestRetries:
    async def test_failed_deliveries_are_retried_on_schedule_with_num_retry(
        self, hook, emit, client, clock
    ):
        hook.statuses = [500, 503, 404]
        [event] = await emit({"event_name": "follow", "user_id": "77"})
        assert (event["status"], event["next_attempt_at"]) == (
            "retrying",
            "2026-11-30T10:01:00.000+00:00",
        )

        clock.advance(29.9)
        assert (await _run_due(client))["attempted"] == 0
        clock.advance(0.1)
        assert (await _run_due(client))["attempts"][0]["num_retry"] == 1
        clock.advance(299.9)
        assert (await _run_due(client))["attempted"] == 0
        clock.advance(0.1)
        await _run_due(client)
        clock.advance(900)
        result = await _run_due(client)

        assert result["delivered"] == 1
        assert [d.headers.get("num_retry") for d in hook.deliveries] == [None, "1", "2", "3"]
        assert len({d.raw for d in hook.deliveries}) == 1  # the same bytes every time
        assert len({d.headers["X-ZEvent-Signature"] for d in hook.deliveries}) == 1
        [listed] = (await client.get("/_emulator/events")).json()["events"]
        assert listed["status"] == "delivered"
        assert [a["http_status"] for a in listed["attempts"]] == [500, 503, 404, 200]
        assert [a["at"][11:19] for a in listed["attempts"]] == [
            "10:00:30",
            "10:01:00",
            "10:06:00",
            "10:21:00",
        ]

    async def test_after_the_last_retry_the_webhook_is_switched_off(
        self, hook, emit, client, clock
    ):
        hook.statuses = [500] * 100
        [failing] = await emit({"event_name": "follow", "user_id": "77"})
        clock.advance(30)
        await _run_due(client)
        [waiting] = await emit({"event_name": "follow", "user_id": "78"})  # one retry behind
        assert waiting["status"] == "retrying"

        for delay in (300, 900, 1800, 3600):
            clock.advance(delay)
            await _run_due(client)

        events = {e["seq"]: e for e in (await client.get("/_emulator/events")).json()["events"]}
        assert events[failing["seq"]]["status"] == "failed"
        assert len(events[failing["seq"]]["attempts"]) == 6
        assert events[waiting["seq"]]["status"] == "dropped"
        webhook = (await client.get("/_emulator/webhook")).json()
        assert (webhook["enabled"], webhook["active"]) == (False, False)
        assert "failed after 6 attempts" in webhook["disabled_reason"]
        assert len(webhook["warnings"]) == 1
        count = len(hook.deliveries)
        [later] = await emit({"event_name": "follow", "user_id": "79"})
        assert later["status"] == "not_sent"
        assert len(hook.deliveries) == count

        hook.statuses = []
        webhook = (await client.put("/_emulator/webhook", json={"enabled": True})).json()
        assert (webhook["active"], webhook["disabled_reason"]) == (True, None)
        [again] = await emit({"event_name": "follow", "user_id": "80"})
        assert again["status"] == "delivered"

    async def test_a_slow_answer_is_a_failure(self, hook, emit, client):
        await client.put("/_emulator/webhook", json={"timeout_s": 0.1})
        hook.delay_s = 0.3

        [event] = await emit({"event_name": "follow", "user_id": "77"})

        assert event["status"] == "retrying"
        assert event["attempts"][0]["error"] == "timeout"
        assert event["attempts"][0]["http_status"] is None

    async def test_an_unreachable_webhook_is_a_failure(self, emit, client):
        # Port 9 on loopback: nothing listens there.
        await client.put("/_emulator/webhook", json={"url": "http://127.0.0.1:9/hook"})

        [event] = await emit({"event_name": "follow", "user_id": "77"})

        assert event["status"] == "retrying"
        assert event["attempts"][0]["error"].startswith("Client")

    async def test_the_schedule_is_configurable(self, hook, emit, client, clock):
        await client.put("/_emulator/webhook", json={"retry_delays_s": [1]})
        hook.statuses = [500, 500]

        await emit({"event_name": "follow", "user_id": "77"})
        clock.advance(1)
        await _run_due(client)

        webhook = (await client.get("/_emulator/webhook")).json()
        assert webhook["enabled"] is False

    async def test_the_emulator_delivers_by_itself_on_the_real_clock(self, start, receiver):
        emulator = await start(
            EmulatorConfig(
                followers=(Follower(FOLLOWER_ID, "A", system_clock()),),
                webhook=WebhookConfig(url=receiver.url, auto_receipts=True, retry_delays_s=(0.05,)),
            ),
            clock=system_clock,
        )
        receiver.statuses = [500]
        async with httpx.AsyncClient(base_url=emulator.base_url) as client:
            sent = await client.post(
                "/v3.0/oa/message/cs",
                json={"recipient": {"user_id": FOLLOWER_ID}, "message": {"text": "x"}},
                headers={"access_token": DEV_ACCESS_TOKEN},
            )
            for _ in range(100):
                if len(receiver.deliveries) >= 2:
                    break
                await asyncio.sleep(0.05)

        assert [d.headers.get("num_retry") for d in receiver.deliveries] == [None, "1"]
        msg_id = sent.json()["data"]["message_id"]
        assert receiver.deliveries[1].payload["message"] == {"msg_id": msg_id}


class TestEventAdmin:
    async def test_events_are_listed_filtered_and_cleared(self, hook, emit, client):
        hook.statuses = [500]
        await emit(
            {"event_name": "follow", "user_id": "1"},
            {"event_name": "user_send_text", "user_id": "1", "text": "x"},
        )

        async def listed(**params) -> list[str]:
            payload = (await client.get("/_emulator/events", params=params)).json()
            return [e["event_name"] for e in payload["events"]]

        assert await listed() == ["follow", "user_send_text"]
        assert await listed(event_name="user_send_text") == ["user_send_text"]
        assert await listed(status="retrying") == ["follow"]
        assert (await client.get("/_emulator/events", params={"status": "x"})).status_code == 400
        assert (await client.delete("/_emulator/events")).json() == {"deleted": 2}
        assert await listed() == []

    @pytest.mark.parametrize(
        "body",
        [
            {"event_name": "user_send_text", "user_id": "1"},
            {"event_name": "user_send_text", "user_id": "1", "text": ""},
            {"event_name": "follow"},
            {"event_name": "user_click_chatnow", "user_id": "1"},
            {"event_name": "follow", "user_id": "1", "timestamp": "soon"},
            {"event_name": "user_received_message", "user_id": "nobody-was-sent-anything"},
            {"event_name": "user_seen_message", "msg_ids": ["unknown-id"]},
            {"event_name": "follow", "user_id": "1", "colour": "red"},
        ],
        ids=[
            "no-text",
            "empty-text",
            "no-user",
            "unknown-event",
            "bad-timestamp",
            "no-message",
            "unknown-message-no-user",
            "unknown-field",
        ],
    )
    async def test_bad_events_are_refused(self, client, body):
        response = await client.post("/_emulator/events", json=body)

        assert response.status_code == 400

    @pytest.mark.usefixtures("hook")
    async def test_events_before_a_bad_one_stand(self, client):
        response = await client.post(
            "/_emulator/events",
            json=[{"event_name": "follow", "user_id": "1"}, {"event_name": "follow"}],
        )

        assert response.status_code == 400
        assert [e["status"] for e in response.json()["events"]] == ["delivered"]

    async def test_webhook_settings(self, client, receiver):
        default = (await client.get("/_emulator/webhook")).json()
        assert default == {
            "url": None,
            "enabled": True,
            "active": False,
            "signature_first_term": "app_id",
            "signature_secret": "oa_secret_key",
            "mac_prefix": True,
            "auto_receipts": False,
            "receipt_delay_s": 0.0,
            "timeout_s": 2.0,
            "retry_delays_s": [30.0, 300.0, 900.0, 1800.0, 3600.0],
            "auto_deliver": False,  # a manual clock: tests drive retries
            "disabled_reason": None,
            "disabled_at": None,
            "warnings": [],
        }
        for body in (
            {"url": "not a url"},
            {"url": "ftp://x/y"},
            {"signature_secret": "other"},
            {"timeout_s": 0},
            {"retry_delays_s": [-1]},
        ):
            assert (await client.put("/_emulator/webhook", json=body)).status_code == 400, body
        disabled = (
            await client.put("/_emulator/webhook", json={"url": receiver.url, "enabled": False})
        ).json()
        assert (disabled["url"], disabled["active"]) == (receiver.url, False)
