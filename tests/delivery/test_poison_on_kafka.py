"""Issue 11's poison records, from an independent producer, on every partition around valid events.

The producer is a plain aiokafka producer writing bytes, as another system (or kcat) would. Each
poison record is dead-lettered with its reason and the exception class; the valid events around
it are delivered; every input record has exactly one status event for a read_committed reader;
the committed offsets reach the end of every partition. The same for the announcements topic.
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

from bridge.announcements.settings import AnnouncementSettings
from bridge.announcements.store import AnnouncementStore
from bridge.app import create_app
from bridge.store.database import open_database
from support import USER

pytestmark = pytest.mark.kafka

PARTITIONS = 3
POISON = {
    # The three: ValueError, RecursionError, OverflowError in the SQLite ledger.
    "5000-digit integer": (b'{"schema_version": 1, "sequence": ' + b"7" * 5000 + b"}", None),
    "1200-deep nesting": (b'{"a": ' + b"[" * 1200 + b"]" * 1200 + b"}", None),
    "sequence 2^63": (None, 2**63),
    "invalid UTF-8": (b'{"title": "\xc3\x28"}', None),
    "oversize": (b'{"reason": "' + b"x" * 70_000 + b'"}', None),
}
EXPECTED_REASON = {
    "5000-digit integer": "number_out_of_range",
    "1200-deep nesting": "too_deep",
    "sequence 2^63": "number_out_of_range",
    "invalid UTF-8": "not_utf8",
    "oversize": "oversize",
}


async def _create(bootstrap: str, *topics: tuple[str, int]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(name, num_partitions=n, replication_factor=1) for name, n in topics]
        )
    finally:
        await admin.close()


async def _produce(bootstrap: str, topic: str, records: list[tuple[int, bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for partition, key, value in records:
            await producer.send_and_wait(topic, value=value, key=key, partition=partition)
    finally:
        await producer.stop()


async def _read_committed(bootstrap: str, topic: str, count: int, timeout: float = 30) -> list:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    await consumer.start()
    found: list = []
    deadline = time.monotonic() + timeout
    try:
        while len(found) < count and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                found.extend(records)
        # A duplicate would arrive within this extra read.
        for records in (await consumer.getmany(timeout_ms=1500)).values():
            found.extend(records)
    finally:
        await consumer.stop()
    return found


async def _ends_and_commits(bootstrap: str, group: str, topic: str, partitions: int):
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        ends = await consumer.end_offsets(tps)
        committed = {tp.partition: await consumer.committed(tp) for tp in tps}
    finally:
        await consumer.stop()
    return {tp.partition: ends[tp] for tp in tps}, committed


async def _until(check, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "not reached in time"
        await asyncio.sleep(0.2)


async def test_poison_records_on_every_partition_are_dead_lettered_and_nothing_stalls(
    kafka_bootstrap, emulator, bridge_settings, make_event, encode
):
    suffix = uuid.uuid4().hex[:8]
    topic, dlq, status = f"poison-{suffix}", f"poison-{suffix}.dlq", f"poison-{suffix}.status"
    group = f"bridge-poison-{suffix}"
    await _create(kafka_bootstrap, (topic, PARTITIONS), (dlq, 1), (status, 1))
    records: list[tuple[int, bytes, bytes]] = []
    valid: list[str] = []
    for partition in range(PARTITIONS):
        for n, (name, (raw, sequence)) in enumerate(POISON.items()):
            code = f"000.20.31.H56-261204-{partition}{n:03d}"
            before = make_event(case={"code": code}, sequence=1, state="RECEIVED")
            after = make_event(case={"code": code}, sequence=2, state="IN_PROGRESS")
            value = raw if raw is not None else encode(make_event(case={"code": code}))
            if sequence is not None:
                document = json.loads(value)
                document["sequence"] = sequence
                value = json.dumps(document).encode()
            records += [
                (partition, code.encode(), encode(before)),
                (partition, code.encode(), value),
                (partition, code.encode(), encode(after)),
            ]
            valid += [str(before["event_id"]), str(after["event_id"])]
            assert name  # one poison of each kind on every partition
    await _produce(kafka_bootstrap, topic, records)
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
        await emulator.wait_for_accepted(len(valid), timeout=60)

        async def committed_to_the_end() -> bool:
            ends, committed = await _ends_and_commits(kafka_bootstrap, group, topic, PARTITIONS)
            return committed == ends

        await _until(committed_to_the_end, 60)
    statuses = await _read_committed(kafka_bootstrap, status, len(records))
    parked = await _read_committed(kafka_bootstrap, dlq, len(POISON) * PARTITIONS)
    accepted = await emulator.accepted()

    per_record = Counter(
        (s["source"]["partition"], s["source"]["offset"])
        for s in (json.loads(r.value) for r in statuses)
    )
    assert len(per_record) == len(records)
    assert set(per_record.values()) == {1}
    assert len(accepted) == len(valid)
    assert all(m["user_id"] == USER for m in accepted)
    by_status = Counter(json.loads(r.value)["status"] for r in statuses)
    assert by_status == {"delivered": len(valid), "dead_lettered": len(POISON) * PARTITIONS}
    reasons = Counter(dict(r.headers)["x-dlq-reason"].decode() for r in parked)
    assert reasons == Counter(
        {r: n * PARTITIONS for r, n in Counter(EXPECTED_REASON.values()).items()}
    )
    for record in parked:
        headers = dict(record.headers)
        assert headers["x-dlq-exception"]
        original = int(headers["x-original-offset"])
        partition = int(headers["x-original-partition"])
        sent = [r for r in records if r[0] == partition]
        assert record.value == sent[original][2]  # the original bytes, untouched


async def test_poison_announcements_are_dead_lettered_and_the_valid_one_is_stored(
    kafka_bootstrap, bridge_settings
):
    suffix = uuid.uuid4().hex[:8]
    topic, dlq = f"news-poison-{suffix}", f"news-poison-{suffix}.dlq"
    await _create(kafka_bootstrap, (topic, 1), (dlq, 1))
    announcement_id = str(uuid.uuid4())
    valid = {
        "announcement_id": announcement_id,
        "province": "thanh-hoa",
        "title": "Thông báo lịch tiếp công dân",
        "body": "Bộ phận Một cửa tiếp công dân cả sáng thứ Bảy trong tháng 12.",
        "urgency": "normal",
        "audience": {"kind": "all"},
        "published_at": "2026-11-29T08:00:00+07:00",
    }
    poison = [
        b'{"title": ' + b"1" * 5000 + b"}",
        b"[" * 1200 + b"]" * 1200,
        b"\xc3\x28",
        json.dumps({**valid, "announcement_id": str(uuid.uuid4()), "extra": 2**63}).encode(),
    ]
    records = [(0, b"p", value) for value in poison[:2]]
    records.append((0, announcement_id.encode(), json.dumps(valid).encode()))
    records += [(0, b"p", value) for value in poison[2:]]
    await _produce(kafka_bootstrap, topic, records)
    settings = bridge_settings.model_copy(
        update={
            "announcements": AnnouncementSettings(
                topic=topic,
                dead_letter_topic=dlq,
                consumer_group=f"news-{suffix}",
                quiet_start="00:00",
                quiet_end="00:00",
            )
        }
    )
    async with create_app(settings):
        parked = await _read_committed(kafka_bootstrap, dlq, len(poison))

        async def acknowledged() -> bool:
            ends, committed = await _ends_and_commits(kafka_bootstrap, f"news-{suffix}", topic, 1)
            return committed == ends

        await _until(acknowledged, 60)
    assert [r.value for r in parked] == poison
    assert all(dict(r.headers)["x-dlq-reason"] for r in parked)
    assert all(dict(r.headers)["x-dlq-exception"] for r in parked)
    engine = open_database(settings.store.url.get_secret_value())
    try:
        assert await AnnouncementStore(engine).progress(announcement_id) is not None
    finally:
        await engine.dispose()
