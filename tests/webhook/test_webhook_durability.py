"""A crash after the 200 answer loses no OA event: the next instance handles each exactly once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys

import httpx
import pytest

from bridge.citizens.services import CitizenServices
from bridge.settings import load_settings
from bridge.webhook.endpoint import webhook_endpoint
from bridge.zalo import StaticToken, ZaloClient
from bridge_devkit.emulator import EmulatorConfig, start_emulator
from citizens_support import APP_ID, HMAC_KEY, OA_SECRET, chat, oa_event, serve
from support import TOKEN

ANH, BINH = "2512523625412515", "7700112233445566"


class HangingSender:
    """A Zalo client whose calls never return: the process dies in the middle of handling."""

    def __init__(self):
        self.called = asyncio.Event()

    async def send_text(self, user_id, text):  # noqa: ARG002 - the port's signature
        self.called.set()
        await asyncio.Event().wait()

    async def find_sent(self, user_id, text, *, since):  # noqa: ARG002 - the port's signature
        return None


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
def sections(tmp_path):
    return {
        "store": {"url": f"sqlite:///{tmp_path / 'bridge.sqlite3'}"},
        "webhook": {"app_id": APP_ID, "oa_secret_key": OA_SECRET, "inbox_lease_seconds": 1},
        # A Zalo call must fit in the inbox lease (a settings check): short timeouts here.
        "zalo": {"timeout_seconds": 0.6, "connect_timeout_seconds": 0.3},
        "linking": {"hmac_key": HMAC_KEY},
        "retention": {"purge_interval_seconds": 0},
    }


@pytest.fixture
def settings(sections):
    return load_settings(**sections)


# The webhook of a bridge process whose Zalo calls hang: it prints its port, then serves.
KILLED_PROCESS = """
import asyncio, json, sys
import uvicorn
from bridge.citizens.services import CitizenServices
from bridge.settings import load_settings
from bridge.webhook.endpoint import webhook_endpoint

class Hanging:
    async def send_text(self, user_id, text):
        await asyncio.Event().wait()

async def main():
    settings = load_settings(**json.loads(sys.argv[1]))
    services = await CitizenServices.open(settings, sender=Hanging(), owner="killed")
    server = uvicorn.Server(uvicorn.Config(
        webhook_endpoint(lambda: services.inbox), host="127.0.0.1", port=0, lifespan="off",
        log_level="warning",
    ))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    print(server.servers[0].sockets[0].getsockname()[1], flush=True)
    await task

asyncio.run(main())
"""


async def handle_what_was_left(emulator, settings):
    """A new instance on the same store, until nothing waits; its inbox's counts."""
    zalo = httpx.AsyncClient(base_url=str(emulator.base_url), timeout=5)
    services = await CitizenServices.open(
        settings, sender=ZaloClient(zalo, StaticToken(TOKEN)), owner="next"
    )
    try:
        await services.inbox.join()
        return await services.inbox.counts()
    finally:
        await services.close()
        await zalo.aclose()


async def test_events_accepted_by_a_killed_process_are_answered_once_by_the_next(
    emulator, sections, settings
):
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", KILLED_PROCESS, json.dumps(sections), stdout=asyncio.subprocess.PIPE
    )
    try:
        port = int(await asyncio.wait_for(process.stdout.readline(), 60))
        url = f"http://127.0.0.1:{port}{settings.webhook.path}"
        (await emulator.put("/_emulator/webhook", json={"url": url})).raise_for_status()
        delivered = [
            *await oa_event(emulator, event_name="follow", user_id=ANH),
            *await oa_event(emulator, event_name="user_send_text", user_id=ANH, text="HUY"),
            *await oa_event(emulator, event_name="follow", user_id=BINH),
        ]
    finally:
        os.kill(process.pid, signal.SIGKILL)  # kill -9: no drain, no clean-up
        await process.wait()
    assert [e["attempts"][0]["http_status"] for e in delivered] == [200, 200, 200]
    assert await chat(emulator, ANH) == []
    counts = await handle_what_was_left(emulator, settings)
    assert counts == {"pending": 0, "claimed": 0, "done": 3, "failed": 0}
    anh, binh = await chat(emulator, ANH), await chat(emulator, BINH)
    assert len(anh) == 2  # the welcome, then the answer to HUY
    assert "Cảm ơn Ông/Bà đã quan tâm" in anh[0]
    assert len(binh) == 1


async def test_events_accepted_before_a_crash_are_answered_once_by_the_next_instance(
    emulator, settings
):
    hanging = HangingSender()
    first = await CitizenServices.open(settings, sender=hanging, owner="crashed")
    async with serve(webhook_endpoint(lambda: first.inbox)) as base_url:
        url = base_url + settings.webhook.path
        (await emulator.put("/_emulator/webhook", json={"url": url})).raise_for_status()
        delivered = [
            *await oa_event(emulator, event_name="follow", user_id=ANH),
            *await oa_event(emulator, event_name="user_send_text", user_id=ANH, text="Tra cứu"),
            *await oa_event(emulator, event_name="follow", user_id=BINH),
        ]
        await hanging.called.wait()
    # Every event was answered 200, so Zalo will not send them again.
    assert [e["attempts"][0]["http_status"] for e in delivered] == [200, 200, 200]
    # The process dies in the middle of handling: no drain, the claims stay taken.
    await first.inbox.close(timeout=0)
    await first.close()
    assert await chat(emulator, ANH) == []

    zalo = httpx.AsyncClient(base_url=str(emulator.base_url), timeout=5)
    second = await CitizenServices.open(
        settings, sender=ZaloClient(zalo, StaticToken(TOKEN)), owner="next"
    )
    try:
        async with serve(webhook_endpoint(lambda: second.inbox)) as base_url:
            url = base_url + settings.webhook.path
            await second.inbox.join()
            # Zalo retrying an event the crashed instance had stored changes nothing.
            retry = {
                "content-type": "application/json",
                "X-ZEvent-Signature": delivered[0]["signature"],
                "num_retry": "1",
            }
            async with httpx.AsyncClient() as http:
                again = await http.post(url, content=delivered[0]["body"].encode(), headers=retry)
            assert again.status_code == 200
            await second.inbox.join()
        anh, binh = await chat(emulator, ANH), await chat(emulator, BINH)
        assert len(anh) == 2
        assert "Cảm ơn Ông/Bà đã quan tâm" in anh[0]  # the welcome, then the lookup's answer
        assert len(binh) == 1
        assert await second.inbox.counts() == {"pending": 0, "claimed": 0, "done": 3, "failed": 0}
        assert second.inbox.results["duplicate"] == 1
    finally:
        await second.close()
        await zalo.aclose()
