"""A denunciation's whole lifecycle end to end: a bridge process, the real broker, the emulator.

It reaches the denouncer only (not the other follower linked to nothing, not her phone); no log
line, metric or status event names her, not even by her Zalo id or its keyed pseudonym. A
complaint on the same topic keeps its subject and goes on as usual.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from bridge.observability.masking import pseudonymise
from bridge_devkit.harness import Processes, create_topics, read_committed
from process_support import bridge_env as process_env
from process_support import committed_statuses, start_bridge
from support import OTHER_USER, TOKEN, USER

pytestmark = [pytest.mark.kafka]

NAME = "Hoàng Thị Tố Quyên"
CODE = "TC-2026-000117"
LIFECYCLE = [  # (state, told?)
    ("RECEIVED", True),
    ("ACCEPTED", True),
    ("VERIFYING", False),  # an internal step: not sent
    ("CONCLUDED", True),
    ("CONCLUSION_HANDLED", False),
    ("CLOSED", False),
]


def v2(kind: str, code: str, state: str, sequence: int, user: str) -> dict[str, Any]:
    return {
        "schema_version": 2,
        "event_id": str(uuid.uuid4()),
        "occurred_at": "2026-12-01T09:00:00+07:00",
        "province": "thanh-hoa",
        "sequence": sequence,
        "case": {
            "kind": kind,
            "code": code,
            # Free text a careless producer fills with the denouncer's name.
            "procedure_name": f"Đơn của bà {NAME} tố cáo cán bộ địa chính"
            if kind == "DENUNCIATION"
            else "Khiếu nại quyết định thu hồi đất",
            "receiving_agency": {"name": "Thanh tra tỉnh Thanh Hóa"},
            "handling_department": f"Tiếp công dân, hồ sơ bà {NAME}",
        },
        "state": state,
        "decision": {"number": "17/KL-TTr", "issued_at": "2026-12-20T08:00:00+07:00"},
        "recipient": {"zalo_user_id": user, "phone": "0912345678", "notify_consent": True},
    }


def bridge_env(emulator_url: str, bootstrap: str, topics, v2_topics, store: Path) -> dict:
    return process_env(
        emulator_url,
        bootstrap,
        topics,
        store,
        transactional_id=f"{topics.group}-tx",
        BRIDGE_KAFKA__V2_ENABLED="true",
        BRIDGE_KAFKA__V2_INPUT_TOPIC=v2_topics["input"],
        BRIDGE_KAFKA__V2_DEAD_LETTER_TOPIC=v2_topics["dlq"],
        BRIDGE_KAFKA__V2_STATUS_TOPIC=v2_topics["status"],
        BRIDGE_CASCADE__TEMPLATE_ID_PHONE="tpl-phone",
        BRIDGE_LOG__LEVEL="DEBUG",
    )


async def test_a_denunciation_reaches_its_denouncer_only_and_names_her_nowhere(  # noqa: PLR0915 - one story
    kafka_bootstrap, topics, tmp_path
):
    from aiokafka import AIOKafkaProducer  # noqa: PLC0415 - the test's own producer

    from bridge_devkit.emulator import EmulatorConfig, start_emulator  # noqa: PLC0415 - heavy
    from support import Emulator  # noqa: PLC0415 - next to its start

    suffix = uuid.uuid4().hex[:8]
    v2_topics = {
        "input": f"case-events-v2-{suffix}",
        "dlq": f"case-events-v2-{suffix}.dlq",
        "status": f"case-events-v2-{suffix}.status",
    }
    await create_topics(
        kafka_bootstrap, {v2_topics["input"]: 2, v2_topics["dlq"]: 1, v2_topics["status"]: 1}
    )
    running = await start_emulator(EmulatorConfig(access_tokens=(TOKEN,)))
    emulator = Emulator(running.base_url)
    await emulator.follow(USER, OTHER_USER)
    processes = Processes()
    log = tmp_path / "bridge.log"
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        env = bridge_env(
            running.base_url, kafka_bootstrap, topics, v2_topics, tmp_path / "b.sqlite3"
        )
        _bridge, url = start_bridge(processes, env, log)
        for sequence, (state, _told) in enumerate(LIFECYCLE, start=1):
            event = v2("DENUNCIATION", CODE, state, sequence, USER)
            await producer.send_and_wait(
                v2_topics["input"],
                json.dumps(event, ensure_ascii=False).encode(),
                key=CODE.encode(),
            )
        complaint = v2("COMPLAINT", "KN-2026-000042", "ACCEPTED", 1, OTHER_USER)
        await producer.send_and_wait(
            v2_topics["input"], json.dumps(complaint, ensure_ascii=False).encode(), key=b"KN"
        )
        statuses = await _statuses(kafka_bootstrap, v2_topics["status"], len(LIFECYCLE) + 1)
        await asyncio.sleep(0.5)
        accepted = await emulator.accepted()
        async with httpx.AsyncClient(timeout=5) as http:
            metrics = (await http.get(f"{url}/metrics")).text
        v1_statuses = await read_committed(kafka_bootstrap, topics.status, timeout=2)
    finally:
        await producer.stop()
        processes.stop_all()
        await emulator.http.aclose()
        await running.stop()

    about_it = [m for m in accepted if CODE in (m["text"] or "")]
    told = [state for state, is_told in LIFECYCLE if is_told]
    assert len(about_it) == len(told)
    assert {m["user_id"] for m in about_it} == {USER}, "to the denouncer only"
    assert all(m["endpoint"] == "/v3.0/oa/message/cs" for m in about_it), "never by phone"
    assert not any("/message/template" in m["endpoint"] for m in accepted)
    for message in about_it:
        assert NAME not in message["text"]
        assert "Tra cứu" not in message["text"]
    assert "Đã có kết luận nội dung tố cáo số 17/KL-TTr" in about_it[-1]["text"]
    # The complaint on the same topic: its citizen, its subject.
    [complaint_message] = [m for m in accepted if "KN-2026-000042" in (m["text"] or "")]
    assert complaint_message["user_id"] == OTHER_USER
    assert "Khiếu nại quyết định thu hồi đất" in complaint_message["text"]

    denunciation_statuses = [s for s in statuses if s["case_code"] == CODE]
    assert len(denunciation_statuses) == len(LIFECYCLE), "one status per record, on the v2 topic"
    assert v1_statuses == [], "nothing of v2 on the v1 status topic"
    texts = {
        "status events": json.dumps(denunciation_statuses, ensure_ascii=False),
        "log": log.read_text(),
        "metrics": metrics,
    }
    for where, text in texts.items():
        assert NAME not in text, where
        assert "Hoàng Thị" not in text, where
    for where in ("status events", "metrics"):
        assert USER not in texts[where], where
    assert pseudonymise(USER) not in texts["log"]
    for status in denunciation_statuses:
        assert all(d["zalo_user_id"] is None for d in status["deliveries"])


async def _statuses(bootstrap: str, topic: str, count: int) -> list[dict]:
    return await committed_statuses(bootstrap, topic, count)
