"""The webhook over real HTTP: the emulator's signed deliveries, refusals, dedupe, answers."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from bridge.citizens.services import CitizenServices
from bridge.settings import load_settings
from bridge.webhook.endpoint import webhook_endpoint
from bridge.zalo import StaticToken, ZaloClient
from bridge_devkit.emulator import EmulatorConfig, start_emulator
from bridge_devkit.emulator.webhook import compact_json, signature
from citizens_support import APP_ID, HMAC_KEY, OA_SECRET, chat, oa_event, serve, wait_for_chat
from support import TOKEN

USER = "2512523625412515"
CODE = "000.20.31.H56-260310-0042"


@pytest.fixture
async def emulator():
    running = await start_emulator(EmulatorConfig(access_tokens=(TOKEN,)))
    http = httpx.AsyncClient(base_url=running.base_url, timeout=5)
    try:
        yield http
    finally:
        await http.aclose()
        await running.stop()


@pytest.fixture
async def webhook(emulator, tmp_path):
    """The bridge's citizens side behind ``POST /webhook/zalo``, registered with the emulator."""
    settings = load_settings(
        store={"url": f"sqlite:///{tmp_path / 'bridge.sqlite3'}"},
        webhook={"app_id": APP_ID, "oa_secret_key": OA_SECRET},
        linking={"hmac_key": HMAC_KEY},
        retention={"purge_interval_seconds": 0},
    )
    zalo = httpx.AsyncClient(base_url=str(emulator.base_url), timeout=5)
    services = await CitizenServices.open(settings, sender=ZaloClient(zalo, StaticToken(TOKEN)))
    app = webhook_endpoint(lambda: services.inbox)
    try:
        async with serve(app) as base_url:
            url = base_url + settings.webhook.path
            (await emulator.put("/_emulator/webhook", json={"url": url})).raise_for_status()
            yield url, services
    finally:
        await services.close()
        await zalo.aclose()


class TestWebhookOverHttp:
    async def test_a_follow_is_answered_200_in_time_and_welcomed(self, emulator, webhook):
        _, services = webhook
        [event] = await oa_event(emulator, event_name="follow", user_id=USER)
        assert event["status"] == "delivered"
        [attempt] = event["attempts"]
        assert (attempt["http_status"], attempt["ok"]) == (200, True)
        [welcome] = await wait_for_chat(emulator, USER, 1)
        assert "Cảm ơn Ông/Bà đã quan tâm" in welcome
        assert await services.store.last_interaction_at(USER) is not None

    async def test_a_retried_event_is_handled_once(self, emulator, webhook):
        url, services = webhook
        await oa_event(emulator, event_name="follow", user_id=USER)
        [event] = await oa_event(emulator, event_name="user_send_text", user_id=USER, text="chào")
        await wait_for_chat(emulator, USER, 2)
        retry = {
            "content-type": "application/json",
            "X-ZEvent-Signature": event["signature"],
            "num_retry": "1",
        }
        async with httpx.AsyncClient() as http:
            again = await http.post(url, content=event["body"].encode(), headers=retry)
        assert again.status_code == 200
        await services.inbox.join()
        assert len(await chat(emulator, USER)) == 2

    async def test_a_bad_signature_is_refused(self, webhook):
        url, _ = webhook
        body = compact_json(
            {
                "app_id": APP_ID,
                "event_name": "follow",
                "follower": {"id": USER},
                "timestamp": str(int(time.time() * 1000)),
            }
        )
        async with httpx.AsyncClient() as http:
            unsigned = await http.post(url, content=body.encode())
            wrong = await http.post(
                url, content=body.encode(), headers={"X-ZEvent-Signature": "mac=" + "0" * 64}
            )
        assert (unsigned.status_code, wrong.status_code) == (401, 401)

    async def test_an_old_timestamp_is_refused(self, emulator, webhook):
        _, services = webhook
        old = str(int((time.time() - 301) * 1000))
        [event] = await oa_event(emulator, event_name="follow", user_id=USER, timestamp=old)
        assert event["attempts"][0]["http_status"] == 403
        assert await services.store.last_interaction_at(USER) is None

    @pytest.mark.usefixtures("webhook")
    async def test_the_oa_id_variant_is_a_setting(self, emulator):
        await emulator.put("/_emulator/webhook", json={"signature_first_term": "oa_id"})
        [event] = await oa_event(emulator, event_name="follow", user_id=USER)
        assert event["attempts"][0]["http_status"] == 401

    async def test_delivery_receipts_are_recorded(self, emulator, webhook):
        _, services = webhook
        await oa_event(emulator, event_name="follow", user_id=USER)
        await wait_for_chat(emulator, USER, 1)
        [message] = (await emulator.get("/_emulator/messages", params={"user_id": USER})).json()[
            "messages"
        ]
        await oa_event(emulator, event_name="user_received_message", user_id=USER)
        await oa_event(emulator, event_name="user_seen_message", user_id=USER)
        await services.inbox.join()
        receipts = await services.store.receipts(message["message_id"])
        assert set(receipts) == {"received", "seen"}

    async def test_crafted_requests_over_http_get_counted_4xx_and_store_nothing(self, webhook):
        url, services = webhook
        now = str(int(time.time() * 1000))
        event = compact_json(
            {"app_id": APP_ID, "event_name": "follow", "follower": {"id": USER}, "timestamp": now}
        ).encode()
        zero = "mac=" + "0" * 64
        crafted = [
            (event, [("X-ZEvent-Signature", "mac=é".encode())]),
            (b'{"timestamp": ' + b"1" * 5_000 + b"}", [("X-ZEvent-Signature", zero)]),
            (b'{"a": ' + b"[" * 5_000 + b"]" * 5_000 + b"}", [("X-ZEvent-Signature", zero)]),
            (b"\xff\xfe", [("X-ZEvent-Signature", zero)]),
            (event, [("X-ZEvent-Signature", zero), ("X-ZEvent-Signature", zero)]),
            (event, [("Content-Type", "multipart/form-data; boundary=x")]),
            (b"x" * 300_000, [("X-ZEvent-Signature", zero)]),
        ]
        async with httpx.AsyncClient() as http:
            answers = [
                (await http.post(url, content=body, headers=headers)).status_code
                for body, headers in crafted
            ]
        assert answers == [401, 400, 400, 400, 400, 401, 413]
        assert sum(services.inbox.results.values()) == len(crafted)
        assert await services.inbox.counts() == {"pending": 0, "claimed": 0, "done": 0, "failed": 0}

    async def test_a_huge_signed_text_is_answered_with_the_instructions(self, emulator, webhook):
        url, _ = webhook
        await oa_event(emulator, event_name="follow", user_id=USER)
        await wait_for_chat(emulator, USER, 1)
        payload = {
            "app_id": APP_ID,
            "sender": {"id": USER},
            "recipient": {"id": "9"},
            "event_name": "user_send_text",
            "message": {"text": "1-" * 100_000, "msg_id": "huge-1"},
            "timestamp": str(int(time.time() * 1000)),
        }
        body = compact_json(payload)
        header = "mac=" + signature(APP_ID, body, payload["timestamp"], OA_SECRET)
        async with httpx.AsyncClient() as http:
            answer = await http.post(
                url, content=body.encode(), headers={"X-ZEvent-Signature": header}
            )
        assert answer.status_code == 200
        [_, reply] = await wait_for_chat(emulator, USER, 2)
        assert reply.startswith("Để nhận thông báo về hồ sơ")

    async def test_not_a_post(self, webhook):
        url, _ = webhook
        async with httpx.AsyncClient() as http:
            assert (await http.get(url)).status_code == 405

    @pytest.mark.usefixtures("webhook")
    async def test_signature_helper_matches_the_header(self, emulator):
        [event] = await oa_event(emulator, event_name="follow", user_id=USER)
        payload = json.loads(event["body"])
        expected = signature(APP_ID, event["body"], payload["timestamp"], OA_SECRET)
        assert event["signature"].removeprefix("mac=") == expected
