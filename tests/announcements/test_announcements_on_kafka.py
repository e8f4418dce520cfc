"""Announcements on the real broker, to thousands of emulator followers over HTTP, once each."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
import uuid
from collections import Counter

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bridge.announcements.settings import AnnouncementSettings
from bridge.announcements.store import AnnouncementStore
from bridge.app import create_app
from bridge.delivery.settings import DeliverySettings
from bridge.store.database import open_database
from bridge.store.migrate import upgrade_sync
from bridge_devkit.emulator import EmulatorConfig, start_emulator
from support import TOKEN, Emulator, read_topic

pytestmark = pytest.mark.kafka

FOLLOWERS = 3000

# The citizens engineer's tables (migration 0003); IF NOT EXISTS keeps this right after the merge.
CITIZENS_DDL = [
    """CREATE TABLE IF NOT EXISTS citizens (
        user_id TEXT PRIMARY KEY, followed BOOLEAN NOT NULL, followed_at FLOAT NULL,
        unfollowed_at FLOAT NULL, last_interaction_at FLOAT NULL, area TEXT NULL,
        tags TEXT NULL, updated_at FLOAT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS citizen_links (
        user_id TEXT NOT NULL, case_code TEXT NOT NULL, linked_at FLOAT NOT NULL,
        factor TEXT NOT NULL, unlinked_at FLOAT NULL, PRIMARY KEY (user_id, case_code))""",
]


@pytest.fixture
async def busy_emulator():
    """An emulator that takes far more than Zalo's 4,000 a minute, so the test stays short."""
    running = await start_emulator(
        EmulatorConfig(access_tokens=(TOKEN,), rate_limit_per_minute=1_000_000)
    )
    peer = Emulator(running.base_url)
    try:
        yield peer
    finally:
        await peer.http.aclose()
        await running.stop()


@pytest.fixture
async def news_topics(kafka_bootstrap):
    suffix = uuid.uuid4().hex[:10]
    names = (f"announcements-{suffix}", f"announcements-{suffix}.dlq")
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(name, num_partitions=1, replication_factor=1) for name in names]
        )
    finally:
        await admin.close()
    return names


@pytest.fixture
def news_settings(bridge_settings, busy_emulator, news_topics):
    topic, dlq = news_topics
    return bridge_settings.model_copy(
        update={
            "zalo": bridge_settings.zalo.model_copy(update={"base_url": busy_emulator.base_url}),
            "delivery": DeliverySettings(
                **{**bridge_settings.delivery.model_dump(), "rate_limit_per_minute": 600_000}
            ),
            "announcements": AnnouncementSettings(
                topic=topic,
                dead_letter_topic=dlq,
                rate_per_minute=600_000,
                concurrency=40,
                lease_seconds=3,
                poll_seconds=0.2,
                quiet_start="00:00",
                quiet_end="00:00",  # no night rule in this test; the unit tests cover it
            ),
        }
    )


def citizens_in_store(settings, user_ids):
    url = settings.store.url.get_secret_value()
    upgrade_sync(url)
    with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
        for ddl in CITIZENS_DDL:
            db.execute(ddl)
        now = time.time()
        db.executemany(
            "INSERT INTO citizens (user_id, followed, area, tags, updated_at) VALUES (?,1,?,?,?)",
            [(u, "38.380", '["procedure:1.004616"]', now) for u in user_ids],
        )
        db.executemany(
            "INSERT INTO citizen_links (user_id, case_code, linked_at, factor) VALUES (?,?,?,?)",
            [(u, f"000.20.31.H56-260310-{n:04d}", now, "otp") for n, u in enumerate(user_ids)],
        )


async def publish(bootstrap, topic, values):
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for key, value in values:
            await producer.send_and_wait(topic, value=value, key=key)
    finally:
        await producer.stop()


async def wait_until(predicate, timeout):
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.2)
    return True


def announcement(announcement_id):
    return {
        "announcement_id": announcement_id,
        "province": "thanh-hoa",
        "title": "Thông báo lịch tiếp công dân",
        "body": "Bộ phận Một cửa tiếp công dân cả sáng thứ Bảy trong tháng 12.",
        "link": "https://thanhhoa.gov.vn/thong-bao/lich-tiep-cong-dan",
        "urgency": "normal",
        "audience": {"kind": "all"},
        "published_at": "2026-11-29T08:00:00+07:00",
    }


async def test_an_announcement_reaches_thousands_of_followers_once_each_across_a_restart(
    news_settings, busy_emulator, news_topics, kafka_bootstrap
):
    users = [str(7_000_000_000 + n) for n in range(FOLLOWERS)]
    await busy_emulator.follow(*users)  # interacted just now: inside the 7-day window
    citizens_in_store(news_settings, users)
    announcement_id = str(uuid.uuid4())
    value = json.dumps(announcement(announcement_id), ensure_ascii=False).encode()
    topic, dlq = news_topics
    # The same announcement twice (a duplicate publish) and one broken record.
    await publish(
        kafka_bootstrap,
        topic,
        [(announcement_id.encode(), value), (b"broken", b"{not json"), (None, value)],
    )

    async def accepted_at_least(count):
        return len(await busy_emulator.accepted()) >= count

    async with create_app(news_settings):
        assert await wait_until(lambda: accepted_at_least(FOLLOWERS // 3), 40)
    # stopped mid-fan-out (graceful: the sends in flight settle), then started again
    partial = len(await busy_emulator.accepted())
    assert partial < FOLLOWERS
    async with create_app(news_settings):
        assert await wait_until(lambda: accepted_at_least(FOLLOWERS), 60)
        await asyncio.sleep(1)  # a duplicate would show up in this second
        accepted = await busy_emulator.accepted()
    per_user = Counter(m["user_id"] for m in accepted)
    assert len(accepted) == FOLLOWERS
    assert set(per_user) == set(users)
    assert set(per_user.values()) == {1}
    assert accepted[0]["text"].startswith("[THÔNG BÁO] Thông báo lịch tiếp công dân\n")

    engine = open_database(news_settings.store.url.get_secret_value())
    try:
        progress = await AnnouncementStore(engine).progress(announcement_id)
    finally:
        await engine.dispose()
    assert (progress.status, progress.total, progress.sent, progress.pending) == (
        "done",
        FOLLOWERS,
        FOLLOWERS,
        0,
    )
    [dead] = await read_topic(kafka_bootstrap, dlq, 1)
    assert dead.value == b"{not json"
    assert dict(dead.headers)["x-dlq-reason"] == b"invalid_json"


async def test_an_announcement_with_a_binary_header_is_stored_not_skipped(
    news_settings, busy_emulator, news_topics, kafka_bootstrap
):
    users = ["7100000001", "7100000002"]
    await busy_emulator.follow(*users)
    citizens_in_store(news_settings, users)
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    topic, _ = news_topics
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for announcement_id, headers in ((first, [("trace", b"\xff\x00")]), (second, [])):
            value = json.dumps(announcement(announcement_id), ensure_ascii=False).encode()
            await producer.send_and_wait(topic, value=value, headers=headers)
    finally:
        await producer.stop()

    engine = open_database(news_settings.store.url.get_secret_value())
    store = AnnouncementStore(engine)

    async def both_stored():
        return None not in (await store.progress(first), await store.progress(second))

    try:
        async with create_app(news_settings):
            assert await wait_until(both_stored, 30)
    finally:
        await engine.dispose()
