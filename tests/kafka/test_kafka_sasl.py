"""The bridge on a broker that requires SASL/SCRAM-SHA-512: delivers, and refuses a bad password."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bridge.app import create_app
from bridge.delivery.replay import ReplayCriteria, ReplayError, list_dead_letters
from bridge.kafka.security import KafkaAuthenticationError
from bridge.settings import Settings, load_settings
from bridge_devkit.clock_settings import always_day_sections
from bridge_devkit.kafka import LocalKafka, ScramUser
from support import TOKEN, USER

pytestmark = pytest.mark.kafka

USER_NAME = "bridge"
PASSWORD = "sasl-it-secret"
CASE = "000.20.31.H56-260310-0042"


@pytest.fixture(scope="module")
def sasl_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    """A broker of its own with a SASL_PLAINTEXT (SCRAM-SHA-512) listener next to PLAINTEXT."""
    broker = LocalKafka(
        tmp_path_factory.mktemp("kafka-sasl"), scram_users=[ScramUser(USER_NAME, PASSWORD)]
    )
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
async def topic(sasl_kafka: LocalKafka) -> str:
    name = f"sasl-events-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=sasl_kafka.bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(name, num_partitions=1, replication_factor=1),
                NewTopic(f"{name}.dlq", num_partitions=1, replication_factor=1),
                NewTopic(f"{name}.status", num_partitions=1, replication_factor=1),
            ]
        )
    finally:
        await admin.close()
    return name


def sasl_settings(
    sasl_kafka: LocalKafka, topic: str, base_url: str, tmp_path: Path, *, password: str
) -> Settings:
    return load_settings(
        kafka={
            "bootstrap_servers": sasl_kafka.sasl_bootstrap_servers,
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_username": USER_NAME,
            "sasl_password": password,
            "input_topic": topic,
            "dead_letter_topic": f"{topic}.dlq",
            "status_topic": f"{topic}.status",
            "consumer_group": f"{topic}-group",
            "transactional_id": f"{topic}-tx",
            "session_timeout_ms": 6000,
            "commit_interval_ms": 100,
            "startup_timeout_seconds": 60,
        },
        zalo={
            "base_url": base_url,
            "access_token": TOKEN,
            "timeout_seconds": 2,
            "connect_timeout_seconds": 0.5,
        },
        delivery={"lease_seconds": 3, "redelivery_pause_seconds": 0.2},
        store={"url": f"sqlite:///{tmp_path / 'ledger.sqlite3'}"},
        province={"lookup_url_template": "https://dvc.example.gov.vn/tra-cuu?ma={case_code}"},
        **always_day_sections(),  # sent at once at any hour, not held for the morning
    )


async def publish(bootstrap: str, topic: str, *values: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value=value, key=CASE.encode())
    finally:
        await producer.stop()


async def test_events_flow_through_an_authenticated_listener(
    sasl_kafka, topic, emulator, make_event, encode, tmp_path
):
    good = make_event(case={"code": CASE})
    await publish(sasl_kafka.bootstrap_servers, topic, encode(good), b"{not json")
    settings = sasl_settings(sasl_kafka, topic, emulator.base_url, tmp_path, password=PASSWORD)
    async with create_app(settings):
        accepted = await emulator.wait_for_accepted(1)
        listing = await list_dead_letters(settings.kafka, ReplayCriteria(), newest=5)
        deadline = time.monotonic() + 20
        while listing.matched < 1 and time.monotonic() < deadline:
            listing = await list_dead_letters(settings.kafka, ReplayCriteria(), newest=5)
    assert [m["user_id"] for m in accepted] == [USER]
    assert CASE in accepted[0]["text"]
    assert dict(listing.by_reason) == {"invalid_json": 1}  # the DLQ tools log in too


async def test_a_wrong_password_stops_start_up_with_a_clear_error(
    sasl_kafka, topic, emulator, make_event, encode, tmp_path
):
    await publish(sasl_kafka.bootstrap_servers, topic, encode(make_event(case={"code": CASE})))
    settings = sasl_settings(sasl_kafka, topic, emulator.base_url, tmp_path, password="wrong")
    started = time.monotonic()
    with pytest.raises(KafkaAuthenticationError, match="refused the SCRAM-SHA-512 login"):
        async with create_app(settings):
            pytest.fail("the bridge started with a wrong password")
    assert time.monotonic() - started < 30, "a refused login was retried like an outage"
    assert "wrong" not in str(settings)
    with pytest.raises(ReplayError, match="refused the SCRAM-SHA-512 login"):
        await list_dead_letters(settings.kafka, ReplayCriteria())
    assert await emulator.accepted() == []
