"""Shared fixtures: valid case-state event payloads, and the servers (Kafka, PostgreSQL, S3).

The tests live in one folder per wing of ``src/bridge``; the fixtures every wing shares come from
two plugins next to this file: ``use_case_fixtures`` (fake clock and sleep, a SQLite ledger) and
``service_fixtures`` (topics, the emulator, the settings of a running bridge, ledgers on both
databases).
"""

from __future__ import annotations

import copy
import json
import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from bridge_devkit.kafka import LocalKafka
from bridge_devkit.postgres import LocalPostgres
from bridge_devkit.s3 import DEFAULT_BUCKET, DEFAULT_REGION, LocalS3, S3Endpoint
from support import BASE_EVENT, structlog_test_defaults

pytest_plugins = ["use_case_fixtures", "service_fixtures"]
# Property-based tests: a bounded, reproducible run in `make test` (no clock-based deadline, no
# example database written into the checkout); `make fuzz` explores far more, at random.
settings.register_profile(
    "ci",
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "fuzz",
    max_examples=5_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_configure(config: pytest.Config) -> None:  # noqa: ARG001 - the hook's signature
    """Plain tracebacks from structlog's default renderer (rich's take seconds a line)."""
    structlog_test_defaults()


EventFactory = Callable[..., dict[str, Any]]


def deep_merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Return ``base`` with ``changes`` merged in; a None value removes the key."""
    merged = copy.deepcopy(base)
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@pytest.fixture
def make_event() -> EventFactory:
    """Build a valid event payload; keyword arguments are deep-merged into it."""

    def build(**changes: Any) -> dict[str, Any]:
        return deep_merge(BASE_EVENT, {"event_id": str(uuid.uuid4()), **changes})

    return build


@pytest.fixture
def encode() -> Callable[[dict[str, Any]], bytes]:
    """Serialise a payload the way a producer would."""
    return lambda payload: json.dumps(payload, ensure_ascii=False).encode()


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The broker every integration test uses: KAFKA_BOOTSTRAP_SERVERS, or one started here."""
    existing = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if existing:
        yield existing
        return
    broker = LocalKafka(tmp_path_factory.mktemp("kafka"))
    broker.start()
    try:
        yield broker.bootstrap_servers
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def postgres_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The PostgreSQL server of the session: BRIDGE_TEST_POSTGRES_DSN, or one started here."""
    existing = os.environ.get("BRIDGE_TEST_POSTGRES_DSN")
    if existing:
        yield existing
        return
    server = LocalPostgres(tmp_path_factory.mktemp("postgres"))
    server.start()
    try:
        yield server.dsn
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Endpoint]:
    """The S3-compatible server of the session: BRIDGE_TEST_S3_ENDPOINT, or SeaweedFS started here.

    With BRIDGE_TEST_S3_ENDPOINT, the server's credentials and an existing bucket come from
    BRIDGE_TEST_S3_ACCESS_KEY_ID, BRIDGE_TEST_S3_SECRET_ACCESS_KEY and BRIDGE_TEST_S3_BUCKET
    (BRIDGE_TEST_S3_REGION, default us-east-1). Tests keep apart by key prefix, not by bucket.
    """
    existing = os.environ.get("BRIDGE_TEST_S3_ENDPOINT")
    if existing:
        yield S3Endpoint(
            endpoint_url=existing,
            region=os.environ.get("BRIDGE_TEST_S3_REGION", DEFAULT_REGION),
            access_key_id=os.environ["BRIDGE_TEST_S3_ACCESS_KEY_ID"],
            secret_access_key=os.environ["BRIDGE_TEST_S3_SECRET_ACCESS_KEY"],
            bucket=os.environ.get("BRIDGE_TEST_S3_BUCKET", DEFAULT_BUCKET),
        )
        return
    server = LocalS3(tmp_path_factory.mktemp("s3"))
    server.start()
    try:
        yield server.endpoint
    finally:
        server.stop()
