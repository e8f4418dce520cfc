"""A bridge process killed mid-conversation (kill -9) loses no step; a replayed webhook adds none.

Two real processes on one SQLite store, the real broker, the emulator's webhook over HTTP.
"""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from bridge_devkit.harness import Processes
from citizens_support import APP_ID, HMAC_KEY, OA_SECRET, chat, oa_event
from process_support import bridge_env, http_status, start_bridge, until

pytestmark = pytest.mark.kafka

USER = "2512523625412515"  # followed by the emulator fixture
# A birth date in the past on whatever clock the bridge process reads (it runs on the real one).
BIRTH = datetime.now(timezone(timedelta(hours=7))).date() - timedelta(days=400)


async def test_a_kill_mid_conversation_loses_no_step_and_a_replay_adds_none(
    emulator, kafka_bootstrap, topics, tmp_path
):
    admin = emulator.http
    env = bridge_env(
        emulator.base_url,
        kafka_bootstrap,
        topics,
        tmp_path / "bridge.sqlite3",
        transactional_id=f"{topics.group}-tx",
        BRIDGE_WEBHOOK__APP_ID=APP_ID,
        BRIDGE_WEBHOOK__OA_SECRET_KEY=OA_SECRET,
        BRIDGE_LINKING__HMAC_KEY=HMAC_KEY,
        BRIDGE_SUBMISSIONS__ENABLED="true",
        BRIDGE_SUBMISSIONS__TOPIC=f"{topics.input}.submissions",
        BRIDGE_SUBMISSIONS__ATTACHMENT_HOSTS='["127.0.0.1"]',  # the emulator's file host
        BRIDGE_OBJECTS__LOCAL_DIRECTORY=str(tmp_path / "objects"),
        # The killed process's claim on the event it was finishing lapses after this; her
        # later events wait for it (the inbox keeps each citizen's events in order).
        BRIDGE_WEBHOOK__INBOX_LEASE_SECONDS="15",
    )
    processes = Processes()

    async def started(log: str) -> tuple[object, str]:
        process, base = start_bridge(processes, env, tmp_path / log)
        await until(
            lambda: _is(http_status(base + "/health/live"), 204), f"{log} answers", timeout=90
        )
        url = base + "/webhook/zalo"
        (await admin.put("/_emulator/webhook", json={"url": url})).raise_for_status()
        return process, url

    async def say(text: str, expect: str) -> dict:
        before = len(await chat(admin, USER))
        [event] = await oa_event(admin, event_name="user_send_text", user_id=USER, text=text)
        await until(lambda: _more(admin, before), f"an answer to {text!r}", timeout=30)
        reply = (await chat(admin, USER))[-1]
        assert expect in reply, reply
        return event

    try:
        first, _ = await started("bridge-1.log")
        await say("NOP HO SO", "1. Đăng ký khai sinh")
        await say("1", "(1/10)")
        await say("Nguyễn Thị Minh Anh", "(2/10)")
        answered = await say(f"{BIRTH:%d/%m/%Y}", "(3/10)")
        os.kill(first.pid, signal.SIGKILL)  # kill -9: no drain, nothing closed
        await asyncio.to_thread(first.wait, 10)

        _, url = await started("bridge-2.log")
        # Zalo delivers the last answer again to the new process: no step is added.
        replies = len(await chat(admin, USER))
        retry = {
            "content-type": "application/json",
            "X-ZEvent-Signature": answered["signature"],
            "num_retry": "1",
        }
        async with httpx.AsyncClient() as http:
            again = await http.post(url, content=answered["body"].encode(), headers=retry)
        assert again.status_code == 200
        await asyncio.sleep(2)
        assert len(await chat(admin, USER)) == replies
        # Nothing was lost either: she goes on at the third question.
        # The inbox hands the answer over again once the killed claim lapses: the store knows
        # its key, so it is not taken twice, and her next answer is the third question's.
        await say("2", "(4/10)")
        await say("SUA 2", "(2/10)")
        await say(f"{BIRTH + timedelta(days=1):%d/%m/%Y}", "(4/10)")  # back where she was
    finally:
        processes.stop_all()


async def _is(status, wanted: int) -> bool:
    return await status == wanted


async def _more(admin, before: int) -> bool:
    return len(await chat(admin, USER)) > before
