"""Guarantees on the real broker: status events, in-doubt sends, stale events, no stalls."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime

import pytest
from aiokafka import AIOKafkaConsumer

from bridge.app import create_app
from support import OTHER_USER, USER, read_all, settled

pytestmark = pytest.mark.kafka

CASE = "000.20.31.H56-260310-0042"


async def read_committed(bootstrap: str, topic: str, count: int, timeout: float = 20) -> list:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    await consumer.start()
    records: list = []
    try:
        deadline = time.monotonic() + timeout
        while len(records) < count and time.monotonic() < deadline:
            for part in (await consumer.getmany(timeout_ms=300)).values():
                records.extend(part)
    finally:
        await consumer.stop()
    return records


class TestStatusEvents:
    @pytest.mark.usefixtures("emulator")
    async def test_every_input_record_gets_exactly_one_status_event(
        self, bridge_settings, publish, make_event, encode, kafka_bootstrap, topics
    ):
        delivered = make_event(sequence=1)
        no_consent = make_event(sequence=2, recipient={"notify_consent": False})
        unreachable = make_event(sequence=3, recipient={"zalo_user_id": "999000111"})
        for event in (delivered, no_consent, unreachable):
            await publish(encode(event), key=CASE)
        await publish(b"{broken", key=CASE)
        async with create_app(bridge_settings):
            await settled(kafka_bootstrap, topics.group, topics.input, 4)
        statuses = await read_all(kafka_bootstrap, topics.status, committed=True)
        assert len(statuses) == 4
        bodies = [json.loads(record.value) for record in statuses]
        by_offset = {body["source"]["offset"]: body for body in bodies}
        assert sorted(by_offset) == [0, 1, 2, 3]
        assert [by_offset[o]["status"] for o in range(4)] == [
            "delivered",
            "suppressed",
            "failed",
            "dead_lettered",
        ]
        assert by_offset[0]["event_id"] == delivered["event_id"]
        assert by_offset[0]["zalo_message_id"]
        assert by_offset[0]["template_version"].startswith("package:states.")
        assert by_offset[1]["reason"] == "no_consent"
        assert by_offset[2]["reason"] == "unreachable:-213"
        assert by_offset[3]["reason"] == "invalid_json"
        assert by_offset[3]["event_id"] is None
        assert {record.key for record in statuses} == {CASE.encode()}

    async def test_a_restarted_bridge_sends_nothing_twice_and_publishes_nothing_twice(
        self, bridge_settings, emulator, publish, make_event, encode, kafka_bootstrap, topics
    ):
        events = [make_event(sequence=i, state="IN_PROGRESS") for i in range(1, 4)]
        for event in events:
            await publish(encode(event), key=CASE)
        async with create_app(bridge_settings):
            await emulator.wait_for_accepted(3)
        # Same group, same ledger: a second run finds nothing to do.
        async with create_app(bridge_settings):
            await asyncio.sleep(2)
        assert len(await emulator.accepted()) == 3
        statuses = await read_committed(kafka_bootstrap, topics.status, 4, timeout=3)
        assert len(statuses) == 3


class TestInDoubt:
    async def test_a_send_whose_answer_is_lost_is_reconciled_not_resent(
        self, bridge_settings, emulator, publish, make_event, encode, kafka_bootstrap, topics
    ):
        """The emulator records the message, then answers after the client gave up."""
        await emulator.fault(kind="delay", ms=3000, count=1)
        event = make_event()
        await publish(encode(event), key=CASE)
        async with create_app(bridge_settings):
            [status] = await read_committed(kafka_bootstrap, topics.status, 1)
        accepted = await emulator.accepted()
        assert len(accepted) == 1
        body = json.loads(status.value)
        assert body["status"] == "delivered"
        assert body["reason"] == "reconciled"
        assert body["zalo_message_id"] == accepted[0]["message_id"]


class TestOrderAndStaleness:
    async def test_a_stale_event_is_suppressed_and_never_sent(
        self, bridge_settings, emulator, publish, make_event, encode, kafka_bootstrap, topics
    ):
        newer = make_event(sequence=5, state="RESULT_READY")
        older = make_event(sequence=4, state="IN_PROGRESS")
        await publish(encode(newer), key=CASE)
        await publish(encode(older), key=CASE)
        async with create_app(bridge_settings):
            statuses = await read_committed(kafka_bootstrap, topics.status, 2)
        texts = [m["text"] for m in await emulator.accepted()]
        assert len(texts) == 1
        assert "đã có kết quả" in texts[0]
        assert json.loads(statuses[1].value)["reason"] == "stale"

    async def test_a_slow_citizen_does_not_hold_up_the_others(
        self, bridge_settings, emulator, publish, make_event, encode
    ):
        await emulator.fault(kind="delay", ms=3000, count=1, user_id=USER)
        slow = make_event(case={"code": "000.20.31.H56-260310-0001"})
        others = [
            make_event(
                case={"code": f"000.20.31.H56-260310-01{i:02d}"},
                recipient={"zalo_user_id": OTHER_USER},
            )
            for i in range(20)
        ]
        await publish(encode(slow), key=slow["case"]["code"])
        for event in others:
            await publish(encode(event), key=event["case"]["code"])
        async with create_app(bridge_settings):
            accepted = await emulator.wait_for_accepted(21)
        [slow_seen] = [m for m in accepted if m["user_id"] == USER]
        others_seen = [m for m in accepted if m["user_id"] == OTHER_USER]
        assert len(others_seen) == 20
        slow_at = datetime.fromisoformat(slow_seen["received_at"]).timestamp()
        last_other = max(datetime.fromisoformat(m["received_at"]).timestamp() for m in others_seen)
        # A one-at-a-time consumer would have waited the 3 s answer before the next send.
        assert last_other < slow_at + 2


class TestRejected:
    async def test_a_message_zalo_refuses_is_dead_lettered_with_its_attempts(
        self, bridge_settings, emulator, publish, make_event, encode, kafka_bootstrap, topics
    ):
        await emulator.fault(kind="http", status=503, count=1)
        await emulator.fault(kind="error", error=-201, count=1)
        event = make_event()
        await publish(encode(event), key=CASE, headers=[("trace", b"t-1")])
        async with create_app(bridge_settings):
            [parked] = await read_committed(kafka_bootstrap, topics.dead_letter, 1)
            [status] = await read_committed(kafka_bootstrap, topics.status, 1)
        headers = dict(parked.headers)
        assert parked.value == encode(event)
        assert headers["trace"] == b"t-1"
        assert headers["x-dlq-reason"] == b"zalo_rejected"
        history = json.loads(headers["x-dlq-attempts"])
        assert len(history) == 2
        assert "503" in history[0]
        assert json.loads(status.value)["status"] == "dead_lettered"
        assert len(await read_committed(kafka_bootstrap, topics.dead_letter, 2, timeout=1)) == 1
