"""Real parts for integration tests: a Kafka broker per session, an emulator per test, topics."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bridge.delivery.ledger_stores import open_ledger
from bridge.settings import Settings, load_settings
from bridge_devkit.emulator import EmulatorConfig, start_emulator
from support import OTHER_USER, TOKEN, USER, Emulator


@dataclass(frozen=True)
class Topics:
    """Fresh topics for one test, so tests never see each other's records."""

    input: str
    dead_letter: str
    status: str
    group: str


@pytest.fixture
async def topics(kafka_bootstrap: str) -> Topics:
    suffix = uuid.uuid4().hex[:10]
    names = Topics(
        f"case-events-{suffix}",
        f"case-events-{suffix}.dlq",
        f"case-events-{suffix}.status",
        f"bridge-{suffix}",
    )
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(names.input, num_partitions=3, replication_factor=1),
                NewTopic(names.dead_letter, num_partitions=1, replication_factor=1),
                NewTopic(names.status, num_partitions=1, replication_factor=1),
            ]
        )
    finally:
        await admin.close()
    return names


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    running = await start_emulator(EmulatorConfig(access_tokens=(TOKEN,)))
    peer = Emulator(running.base_url)
    await peer.follow(USER, OTHER_USER)
    try:
        yield peer
    finally:
        await peer.http.aclose()
        await running.stop()


@pytest.fixture
def bridge_settings(
    kafka_bootstrap: str, topics: Topics, emulator: Emulator, tmp_path: Path
) -> Settings:
    return load_settings(
        kafka={
            "bootstrap_servers": kafka_bootstrap,
            "input_topic": topics.input,
            "dead_letter_topic": topics.dead_letter,
            "status_topic": topics.status,
            "consumer_group": topics.group,
            "transactional_id": f"{topics.group}-tx",
            "session_timeout_ms": 6000,
            "commit_interval_ms": 100,
        },
        zalo={
            "base_url": emulator.base_url,
            "access_token": TOKEN,
            "timeout_seconds": 2,
            "connect_timeout_seconds": 0.5,
        },
        delivery={
            "max_attempts": 3,
            "initial_backoff_seconds": 0.05,
            "max_backoff_seconds": 0.2,
            "redelivery_pause_seconds": 0.2,
            "lease_seconds": 3,
            "in_doubt_settle_seconds": 0.2,
            "breaker_open_seconds": 0.5,
        },
        store={"url": f"sqlite:///{tmp_path / 'ledger.sqlite3'}"},
        province={"lookup_url_template": "https://dvc.example.gov.vn/tra-cuu?ma={case_code}"},
        quiet_hours={"enabled": False},  # tests that hold events turn it on with a fake clock
        announcements={"enabled": False},
    )


Publish = Callable[..., Awaitable[None]]


@pytest.fixture
async def publish(kafka_bootstrap: str, topics: Topics) -> AsyncIterator[Publish]:
    """Publish raw bytes to the input topic, keyed by dossier code, as the one-stop-shop does."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()

    async def send(
        value: bytes, *, key: str, headers: list[tuple[str, bytes]] | None = None
    ) -> None:
        await producer.send_and_wait(topics.input, value=value, key=key.encode(), headers=headers)

    try:
        yield send
    finally:
        await producer.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def ledger_url(request, tmp_path):
    """A fresh ledger database: a SQLite file, or a new database on the test PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    dsn = request.getfixturevalue("postgres_dsn")
    name = f"ledger_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return dsn.rsplit("/", 1)[0] + "/" + name


@pytest.fixture
async def any_ledger(ledger_url):
    """The ledger store at ``ledger_url``, migrated (a module's ``ledger`` may be this one)."""
    store = await open_ledger(ledger_url)
    yield store
    await store.close()
