"""Result documents end to end: a bridge process, the real broker, the emulator over HTTP.

A RESULT_READY event with a 2 MB PDF and a JPG reaches a citizen as a text, a file message and
an image message, each exactly once across a kill -9 in the middle and a replay of the event; a
10 MB PDF, and a citizen outside the CS window, keep the link instead.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from bridge_devkit.document_host import JPEG, DocumentHost, document, jpeg_bytes, pdf_bytes
from bridge_devkit.harness import Processes
from process_support import bridge_env as process_env
from process_support import committed_statuses, start_bridge, until
from support import TOKEN, USER, settled

pytestmark = [pytest.mark.kafka]

OLD_FOLLOWER = "3100200300400500"
PARAMS = ["ma_ho_so", "ten_thu_tuc", "trang_thai", "ngay_hen_tra", "don_vi_xu_ly", "tra_cuu"]
PDF_2MB = pdf_bytes(2 * 1_048_576, seed=7)
PHOTO = jpeg_bytes(400_000, seed=3)
PDF_10MB = pdf_bytes(10 * 1_048_576, seed=9)
CONTENT = "/_emulator/uploads/content"


def bridge_env(emulator_url: str, bootstrap: str, topics, store: Path) -> dict:
    return process_env(
        emulator_url,
        bootstrap,
        topics,
        store,
        transactional_id=f"{topics.group}-tx",
        # A killed owner's claim lapses after 15 s (longer than a call), then 1 s in doubt.
        BRIDGE_DELIVERY__LEASE_SECONDS="15",
        BRIDGE_DELIVERY__IN_DOUBT_HOLD_SECONDS="1",
        BRIDGE_DELIVERY__INITIAL_BACKOFF_SECONDS="0.05",
        BRIDGE_DELIVERY__MAX_BACKOFF_SECONDS="0.2",
        BRIDGE_DELIVERY__REDELIVERY_PAUSE_SECONDS="0.5",
        BRIDGE_CASCADE__TEMPLATE_ID_UID="tpl-uid",
        BRIDGE_DOCUMENTS__ALLOW_HTTP="true",  # the test's document host is loopback HTTP
    )


def start(processes: Processes, env: dict, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    return start_bridge(processes, env, log)


def result_event(make_event, code: str, documents: list[dict], user: str = USER) -> dict:
    return make_event(
        case={"code": code},
        state="RESULT_READY",
        previous_state="IN_PROGRESS",
        sequence=9,
        result={"pickup_location": "Quầy số 3", "documents": documents},
        recipient={"zalo_user_id": user, "notify_consent": True},
    )


async def test_documents_reach_the_chat_once_across_a_kill_and_a_replay(  # noqa: PLR0915 - one story
    kafka_bootstrap, topics, publish, make_event, encode, tmp_path
):
    from bridge_devkit.emulator import EmulatorConfig, start_emulator  # noqa: PLC0415 - heavy
    from support import Emulator  # noqa: PLC0415 - next to its start

    running = await start_emulator(EmulatorConfig(access_tokens=(TOKEN,)))
    emulator = Emulator(running.base_url)
    admin = emulator.http
    await emulator.follow(USER)
    await emulator.follow(OLD_FOLLOWER, days_ago=10)
    template = {
        "template_id": "tpl-uid",
        "params": [{"name": p, "max_length": 300, "required": False} for p in PARAMS],
        "allow_uid": True,
    }
    (await admin.put("/_emulator/templates", json=[template])).raise_for_status()
    processes = Processes()
    codes = ["000.20.31.H56-261205-0001", "000.20.31.H56-261205-0002", "000.20.31.H56-261205-0003"]
    with DocumentHost() as host:
        pdf = document(host.put("kq-0001.pdf", PDF_2MB), PDF_2MB)
        photo = document(host.put("kq-0001.jpg", PHOTO, JPEG), PHOTO, JPEG, title="Ảnh giấy phép")
        big = document(host.put("kq-0002.pdf", PDF_10MB), PDF_10MB)
        old = document(host.put("kq-0003.pdf", PDF_2MB), PDF_2MB)
        first_event = result_event(make_event, codes[0], [pdf, photo])
        env = bridge_env(running.base_url, kafka_bootstrap, topics, tmp_path / "bridge.sqlite3")
        try:
            # The image upload hangs for long: the bridge is killed while it waits.
            await emulator.fault(kind="delay", ms=20_000, count=1, endpoint="/v2.0/oa/upload/image")
            first, _ = start(processes, env, tmp_path / "bridge-1.log")
            await publish(encode(first_event), key=codes[0])

            async def text_and_file_sent() -> bool:
                kinds = [m.get("attachment") for m in await emulator.accepted()]
                return kinds == [None, "file"]

            await until(text_and_file_sent, "the text and the file went before the kill")
            os.kill(first.pid, signal.SIGKILL)  # kill -9: no drain, nothing settled
            await asyncio.to_thread(first.wait, 10)

            start(processes, env, tmp_path / "bridge-2.log")
            accepted = await emulator.wait_for_accepted(3, timeout=90)
            # The replay: the one-stop-shop publishes the same event again.
            await publish(encode(first_event), key=codes[0])
            await publish(encode(result_event(make_event, codes[1], [big])), key=codes[1])
            await publish(
                encode(result_event(make_event, codes[2], [old], user=OLD_FOLLOWER)),
                key=codes[2],
            )
            statuses = await _statuses(kafka_bootstrap, topics.status, 4)
            await settled(kafka_bootstrap, topics.group, topics.input, 4)
            accepted = await emulator.accepted()
            uploads = (await admin.get("/_emulator/uploads")).json()["uploads"]
            contents = {
                u["asset_id"]: (
                    await admin.get(CONTENT, params={"asset_id": u["asset_id"]})
                ).content
                for u in uploads
            }
        finally:
            processes.stop_all()
            await admin.aclose()
            await running.stop()

    to_user = [m for m in accepted if m["user_id"] == USER]
    texts = [m for m in to_user if m.get("attachment") is None]
    # First dossier: one text, one file, one image, across the kill and the replay.
    first_texts = [m for m in texts if codes[0] in (m["text"] or "")]
    assert len(first_texts) == 1
    kinds = Counter(m.get("attachment") for m in to_user)
    assert kinds == Counter({None: 2, "file": 1, "image": 1})
    [file_message] = [m for m in to_user if m.get("attachment") == "file"]
    [image_message] = [m for m in to_user if m.get("attachment") == "image"]
    assert contents[file_message["asset_id"]] == PDF_2MB, "the stored bytes are the event's"
    assert contents[image_message["asset_id"]] == PHOTO
    assert first_texts[0]["seq"] < file_message["seq"] < image_message["seq"]
    # Second dossier: 10 MB is above Zalo's file limit: the text with the link, no file.
    [big_text] = [m for m in texts if codes[1] in (m["text"] or "")]
    assert big["url"] in big_text["text"]
    # Third dossier: outside the window the template goes (its button opens the lookup page).
    to_old = [m for m in accepted if m["user_id"] == OLD_FOLLOWER]
    assert [(m["endpoint"], m.get("attachment")) for m in to_old] == [
        ("/v3.0/oa/message/template", None)
    ]

    by_code = {}
    for status in statuses:
        by_code.setdefault(status["case_code"], []).append(status)
    first_statuses = by_code[codes[0]]
    assert len(first_statuses) == 2, "the event and its replay: one status each"
    for status in first_statuses:
        assert [(d["channel"], d["outcome"]) for d in status["documents"]] == [
            ("zalo_file", "sent"),
            ("zalo_image", "sent"),
        ]
        assert status["documents"][0]["zalo_message_id"] == file_message["message_id"]
    [big_status] = by_code[codes[1]]
    assert [(d["outcome"], d["reason"]) for d in big_status["documents"]] == [
        ("link", "link:too_large")
    ]
    [old_status] = by_code[codes[2]]
    assert old_status["channel"] == "zalo_template_uid"
    assert [(d["outcome"], d["reason"]) for d in old_status["documents"]] == [
        ("link", "link:window")
    ]
    assert len({(s["source"]["partition"], s["source"]["offset"]) for s in statuses}) == 4
    # The next owner took over the image the killed one was uploading, after its lease.
    assert "in doubt, waiting before deciding" in (tmp_path / "bridge-2.log").read_text()


async def _statuses(bootstrap: str, topic: str, count: int) -> list[dict]:
    return await committed_statuses(bootstrap, topic, count, timeout=120)
