"""Records compressed by another producer (gzip, snappy, lz4, zstd) are read and delivered.

The one-stop-shop's producers are not ours: a Java producer with ``compression.type=lz4`` (or
snappy, zstd) is common. Each codec's batches, several records each, on the input topic's
partitions: every event delivered once, one status per record, offsets committed to the end.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bridge.app import create_app
from support import read_topic

pytestmark = pytest.mark.kafka

CODECS = ("gzip", "snappy", "lz4", "zstd")
PER_CODEC = 6
PARTITIONS = 3  # the `topics` fixture's input topic


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
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        ends = await consumer.end_offsets(tps)
        return all([await consumer.committed(tp) == ends[tp] for tp in tps])
    finally:
        await consumer.stop()


async def test_every_codec_a_producer_may_use_is_read_and_delivered(
    kafka_bootstrap, topics, emulator, bridge_settings, make_event, encode
):
    for n, codec in enumerate(CODECS):
        values = []
        for k in range(PER_CODEC):
            code = f"000.20.31.H56-261205-{n}{k:03d}"
            # Vietnamese text compresses like a real dossier's does.
            event = make_event(case={"code": code, "procedure_name": "Đăng ký khai sinh " * 5})
            values.append((code.encode(), encode(event)))
        await _produce(kafka_bootstrap, topics.input, n % PARTITIONS, codec, values)
    total = len(CODECS) * PER_CODEC
    async with create_app(bridge_settings):
        await emulator.wait_for_accepted(total, timeout=60)
        deadline = time.monotonic() + 60
        while not await _committed_to_the_end(kafka_bootstrap, topics.group, topics.input):
            assert time.monotonic() < deadline, "offsets not committed to the end"
            await asyncio.sleep(0.2)
    records = await read_topic(kafka_bootstrap, topics.status, total + 1, 5, committed=True)
    statuses = [json.loads(r.value) for r in records]  # a duplicate would be the extra one
    per_record = Counter((s["source"]["partition"], s["source"]["offset"]) for s in statuses)
    assert len(per_record) == total
    assert set(per_record.values()) == {1}
    assert Counter(s["status"] for s in statuses) == {"delivered": total}
    assert len(await emulator.accepted()) == total
