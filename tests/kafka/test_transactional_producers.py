"""A producer's aborted transaction never reaches a citizen; its committed one does, once.

The one-stop-shop may write its events in Kafka transactions (an outbox relay, Kafka Streams). The
records of an aborted transaction stay in the log, marked aborted: bridge reads with
``read_committed`` and never sees them.
"""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from aiokafka import AIOKafkaProducer

from bridge.app import create_app
from support import read_topic

pytestmark = pytest.mark.kafka


async def test_events_of_an_aborted_transaction_are_never_delivered(
    kafka_bootstrap, topics, emulator, bridge_settings, make_event, encode
):
    code = "000.20.31.H56-261205-0901"
    aborted = make_event(case={"code": code}, sequence=1, state="RESULT_READY")
    committed = make_event(case={"code": code}, sequence=1, state="RECEIVED")
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, transactional_id=f"one-stop-shop-{uuid.uuid4().hex}"
    )
    await producer.start()
    try:
        await producer.begin_transaction()
        await producer.send_and_wait(topics.input, encode(aborted), key=code.encode())
        await producer.abort_transaction()
        await producer.begin_transaction()
        await producer.send_and_wait(topics.input, encode(committed), key=code.encode())
        await producer.commit_transaction()
    finally:
        await producer.stop()
    async with create_app(bridge_settings):
        await emulator.wait_for_accepted(1, timeout=60)
        await asyncio.sleep(2)  # an aborted event delivered late would show by now
    [message] = await emulator.accepted()
    assert "Đã xử lý xong" not in message["text"]  # RESULT_READY was aborted
    records = await read_topic(kafka_bootstrap, topics.status, 2, 5, committed=True)
    statuses = [json.loads(r.value) for r in records]
    assert [s["event_id"] for s in statuses] == [str(committed["event_id"])]
    assert [s["status"] for s in statuses] == ["delivered"]
