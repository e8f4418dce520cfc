"""Records compressed by another producer (gzip, snappy, lz4, zstd) are read and delivered.

The one-stop-shop's producers are not ours: a Java producer with ``compression.type=lz4`` (or
snappy, zstd) is common. Each codec's batches, several records each, on their own partition of
one topic: every event delivered once, one status per record, offsets committed to the end.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bridge.app import create_app

pytestmark = pytest.mark.kafka

CODECS = ("gzip", "snappy", "lz4", "zstd")
PER_CODEC = 6


async def _produce(bootstrap: str, topic: str, partition: int, codec: str, values) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", compression_type=codec, linger_ms=50
    )
    await producer.start()
    try:
        sent = [
            await producer.send(topic, value=value, key=key, partition=partition)
            for key, value in values
        ]
        await asyncio.gather(*sent)  # one or a few compressed batches
    finally:
        await producer.stop()


async def _committed_to_the_end(bootstrap: str, group: str, topic: str) -> bool:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(len(CODECS))]
        ends = await consumer.end_offsets(tps)
        return all([await consumer.committed(tp) == ends[tp] for tp in tps])
    finally:
        await consumer.stop()


async def _statuses(bootstrap: str, topic: str, count: int) -> list[dict]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    await consumer.start()
    found: list[dict] = []
    deadline = time.monotonic() + 30
    try:
        while len(found) < count and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                found.extend(json.loads(r.value) for r in records)
        for records in (await consumer.getmany(timeout_ms=1000)).values():
            found.extend(json.loads(r.value) for r in records)  # a duplicate would show here
    finally:
        await consumer.stop()
    return found


async def test_every_codec_a_producer_may_use_is_read_and_delivered(
    kafka_bootstrap, emulator, bridge_settings, make_event, encode
):
    suffix = uuid.uuid4().hex[:8]
    topic, group = f"compressed-{suffix}", f"bridge-compressed-{suffix}"
    status, dlq = f"{topic}.status", f"{topic}.dlq"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(topic, num_partitions=len(CODECS), replication_factor=1),
                NewTopic(status, num_partitions=1, replication_factor=1),
                NewTopic(dlq, num_partitions=1, replication_factor=1),
            ]
        )
    finally:
        await admin.close()
    for partition, codec in enumerate(CODECS):
        values = []
        for n in range(PER_CODEC):
            code = f"000.20.31.H56-261205-{partition}{n:03d}"
            # Vietnamese text compresses like a real dossier's does.
            event = make_event(case={"code": code, "procedure_name": "Đăng ký khai sinh " * 5})
            values.append((code.encode(), encode(event)))
        await _produce(kafka_bootstrap, topic, partition, codec, values)
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
    total = len(CODECS) * PER_CODEC
    async with create_app(settings):
        await emulator.wait_for_accepted(total, timeout=60)
        deadline = time.monotonic() + 60
        while not await _committed_to_the_end(kafka_bootstrap, group, topic):
            assert time.monotonic() < deadline, "offsets not committed to the end"
            await asyncio.sleep(0.2)
    statuses = await _statuses(kafka_bootstrap, status, total)
    per_record = Counter((s["source"]["partition"], s["source"]["offset"]) for s in statuses)
    assert len(per_record) == total
    assert set(per_record.values()) == {1}
    assert Counter(s["status"] for s in statuses) == {"delivered": total}
    assert len(await emulator.accepted()) == total
