"""The webhook endpoint as an ASGI app: answers at once, queues, refuses when full or not ready."""

from __future__ import annotations

import httpx

from bridge.webhook import WebhookInbox, webhook_endpoint
from bridge.webhook_events import SignatureKeys
from bridge_devkit.emulator.webhook import compact_json, signature

APP_ID, SECRET = "3066521851012345678", "oa-secret"
NOW = 1_796_032_830.0


def request(user="1", text="chào"):
    payload = {
        "app_id": APP_ID,
        "sender": {"id": user},
        "recipient": {"id": "9"},
        "event_name": "user_send_text",
        "message": {"text": text, "msg_id": f"m-{user}"},
        "timestamp": str(int(NOW * 1000)),
    }
    raw = compact_json(payload)
    header = "mac=" + signature(APP_ID, raw, payload["timestamp"], SECRET)
    return raw.encode(), {"X-ZEvent-Signature": header, "content-type": "application/json"}


def inbox(handled, queue_size=10):
    async def handle(event):
        handled.append(event)

    return WebhookInbox(
        keys=SignatureKeys(APP_ID, None, SECRET),
        handle=handle,
        max_age=300,
        queue_size=queue_size,
        clock=lambda: NOW,
    )


def client(app):
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bridge")


async def test_a_signed_event_is_queued_and_handled():
    handled = []
    box = inbox(handled)
    box.start()
    async with client(webhook_endpoint(lambda: box)) as http:
        body, headers = request(text="Hủy")
        answer = await http.post("/webhook/zalo", content=body, headers=headers)
    assert answer.status_code == 200
    await box.join()
    await box.close()
    assert [(e.name, e.user_id, e.text) for e in handled] == [("user_send_text", "1", "Hủy")]


async def test_a_full_queue_answers_503_so_zalo_retries():
    handled = []
    box = inbox(handled, queue_size=1)
    async with client(webhook_endpoint(lambda: box)) as http:
        first = await http.post("/webhook/zalo", content=request("1")[0], headers=request("1")[1])
        second = await http.post("/webhook/zalo", content=request("2")[0], headers=request("2")[1])
    assert (first.status_code, second.status_code) == (200, 503)
    assert handled == []


async def test_before_start_up_the_endpoint_answers_503():
    async with client(webhook_endpoint(lambda: None)) as http:
        body, headers = request()
        assert (await http.post("/webhook/zalo", content=body, headers=headers)).status_code == 503


async def test_a_handler_error_does_not_stop_the_worker():
    handled = []

    async def handle(event):
        if event.user_id == "1":
            raise RuntimeError("0912345678 broke it")
        handled.append(event)

    box = WebhookInbox(
        keys=SignatureKeys(APP_ID, None, SECRET),
        handle=handle,
        max_age=300,
        queue_size=10,
        clock=lambda: NOW,
    )
    box.start()
    assert box.receive(*request("1"))[0] == 200
    assert box.receive(*request("2"))[0] == 200
    await box.join()
    await box.close()
    assert [e.user_id for e in handled] == ["2"]


async def test_an_oversized_body_is_refused():
    async with client(webhook_endpoint(lambda: None)) as http:
        answer = await http.post("/webhook/zalo", content=b"x" * (256 * 1024 + 1))
    assert answer.status_code == 413


async def test_when_the_webhook_is_off_the_path_is_not_found():
    async with client(webhook_endpoint(lambda: None, enabled=False)) as http:
        body, headers = request()
        assert (await http.post("/webhook/zalo", content=body, headers=headers)).status_code == 404
