"""A producer's aborted transaction never reaches a citizen; its committed one does, once.

The one-stop-shop may write its events in Kafka transactions (an outbox relay, Kafka Streams). The
records of an aborted transaction stay in the log, marked aborted: bridge reads with
``read_committed`` and never sees them.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bridge.app import create_app

pytestmark = pytest.mark.kafka


async def _statuses(bootstrap: str, topic: str) -> list[dict]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    await consumer.start()
    try:
        found: list[dict] = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                found.extend(json.loads(r.value) for r in records)
        return found
    finally:
        await consumer.stop()


async def test_events_of_an_aborted_transaction_are_never_delivered(
    kafka_bootstrap, emulator, bridge_settings, make_event, encode
):
    suffix = uuid.uuid4().hex[:8]
    topic, group = f"txn-in-{suffix}", f"bridge-txn-{suffix}"
    status, dlq = f"{topic}.status", f"{topic}.dlq"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(name, num_partitions=1, replication_factor=1)
                for name in (topic, status, dlq)
            ]
        )
    finally:
        await admin.close()
    code = "000.20.31.H56-261205-0901"
    aborted = make_event(case={"code": code}, sequence=1, state="RESULT_READY")
    committed = make_event(case={"code": code}, sequence=1, state="RECEIVED")
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, transactional_id=f"one-stop-shop-{suffix}"
    )
    await producer.start()
    try:
        await producer.begin_transaction()
        await producer.send_and_wait(topic, encode(aborted), key=code.encode())
        await producer.abort_transaction()
        await producer.begin_transaction()
        await producer.send_and_wait(topic, encode(committed), key=code.encode())
        await producer.commit_transaction()
    finally:
        await producer.stop()
    settings = bridge_settings.model_copy(
        update={
            "kafka": bridge_settings.kafka.model_copy(
                update={
                    "input_topic": topic,
                    "dead_letter_topic": dlq,
                    "status_topic": status,
                    "consumer_group": group,
                    "transactional_id": f"{group}-tx",
                }
            )
        }
    )
    async with create_app(settings):
        await emulator.wait_for_accepted(1, timeout=60)
        await asyncio.sleep(2)  # an aborted event delivered late would show by now
    [message] = await emulator.accepted()
    assert "Đã xử lý xong" not in message["text"]  # RESULT_READY was aborted
    statuses = await _statuses(kafka_bootstrap, status)
    assert [s["event_id"] for s in statuses] == [str(committed["event_id"])]
    assert [s["status"] for s in statuses] == ["delivered"]
