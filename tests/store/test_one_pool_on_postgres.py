"""One replica on PostgreSQL: one pool for every store, counted on the server; exhaustion and a
restart of the server slow delivery down, turn the replica unready, and lose nothing."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import psycopg
import pytest
from pydantic import SecretStr

from bridge.app import create_app
from bridge_devkit.postgres import LocalPostgres
from support import USER, settled

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

DOSSIERS = 60


def _fresh_database(dsn: str) -> str:
    name = f"pool_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return dsn.rsplit("/", 1)[0] + "/" + name


def _connections(dsn: str, database: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as admin:
        row = admin.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = %s AND application_name LIKE 'zalo-bridge%%'",
            (database,),
        ).fetchone()
    assert row is not None
    return int(row[0])


def _settings(bridge_settings, url: str, pool_size: int, **store):
    return bridge_settings.model_copy(
        update={
            "store": bridge_settings.store.model_copy(
                update={"url": SecretStr(url), "pool_size": pool_size, **store}
            ),
            "quiet_hours": bridge_settings.quiet_hours.model_copy(update={"enabled": True}),
            "announcements": bridge_settings.announcements.model_copy(
                update={"enabled": True, "quiet_start": "00:00", "quiet_end": "00:00"}
            ),
        }
    )


async def _publish_dossiers(publish, make_event, encode, count: int, state="RESULT_READY"):
    codes = []
    for n in range(count):
        code = f"000.20.31.H56-261204-{n:04d}"
        codes.append(code)
        # RESULT_READY is urgent: quiet hours never hold it, whatever the hour.
        event = make_event(case={"code": code}, state=state, recipient={"zalo_user_id": USER})
        await publish(encode(event), key=code)
    return codes


async def test_one_replica_never_opens_more_connections_than_its_pool(
    postgres_dsn, bridge_settings, emulator, publish, make_event, encode
):
    url = _fresh_database(postgres_dsn)
    database = url.rsplit("/", 1)[1]
    pool_size = 4
    await _publish_dossiers(publish, make_event, encode, DOSSIERS)
    seen: list[int] = []
    async with create_app(_settings(bridge_settings, url, pool_size)):
        waiting = asyncio.create_task(emulator.wait_for_accepted(DOSSIERS, timeout=90))
        while not waiting.done():
            seen.append(await asyncio.to_thread(_connections, postgres_dsn, database))
            await asyncio.sleep(0.05)
        accepted = waiting.result()
        seen.append(await asyncio.to_thread(_connections, postgres_dsn, database))
    assert len(accepted) == DOSSIERS
    assert len({m["text"] for m in accepted}) == DOSSIERS  # each dossier once
    assert max(seen) <= pool_size
    assert max(seen) >= 1  # the count saw the replica's connections at all
    assert await asyncio.to_thread(_connections, postgres_dsn, database) == 0  # all closed


async def test_a_pool_of_one_slows_delivery_down_and_fails_nothing(
    postgres_dsn, bridge_settings, emulator, publish, make_event, encode, kafka_bootstrap
):
    url = _fresh_database(postgres_dsn)
    await _publish_dossiers(publish, make_event, encode, DOSSIERS)
    async with create_app(_settings(bridge_settings, url, 1)):
        settings = bridge_settings.kafka
        await settled(kafka_bootstrap, settings.consumer_group, settings.input_topic, DOSSIERS, 120)
        accepted = await emulator.accepted()
    assert len(accepted) == DOSSIERS
    assert len({m["text"] for m in accepted}) == DOSSIERS


async def _ready(client: httpx.AsyncClient) -> int:
    return (await client.get("/health/ready")).status_code


async def test_a_postgres_restart_turns_the_replica_unready_and_loses_nothing(
    tmp_path, bridge_settings, emulator, publish, make_event, encode
):
    server = LocalPostgres(tmp_path / "pg")
    server.start()
    try:
        settings = _settings(bridge_settings, server.dsn, 4, pool_timeout_seconds=5)
        app = create_app(settings)
        transport = httpx.ASGITransport(app=app)
        async with app, httpx.AsyncClient(transport=transport, base_url="http://bridge") as client:
            first = await _publish_dossiers(publish, make_event, encode, 10)
            await emulator.wait_for_accepted(len(first), timeout=60)
            metrics = (await client.get("/metrics")).text
            [gauge] = [
                line
                for line in metrics.splitlines()
                if line.startswith("zalo_bridge_database_connections_in_use ")
            ]
            assert 0 <= float(gauge.split()[1]) <= 4
            await asyncio.to_thread(server.stop)
            later = [
                make_event(
                    case={"code": f"000.20.31.H57-261204-{n:04d}"},
                    state="RESULT_READY",
                    recipient={"zalo_user_id": USER},
                )
                for n in range(10)
            ]
            for event in later:
                await publish(encode(event), key=event["case"]["code"])
            deadline = time.monotonic() + 60
            while await _ready(client) != 503:
                assert time.monotonic() < deadline, "stayed ready with the database down"
                await asyncio.sleep(0.2)
            assert len(await emulator.accepted()) == len(first)  # nothing more went out
            await asyncio.to_thread(server.start)
            accepted = await emulator.wait_for_accepted(len(first) + len(later), timeout=90)
            deadline = time.monotonic() + 60
            while await _ready(client) != 204:
                assert time.monotonic() < deadline, "stayed unready after the database came back"
                await asyncio.sleep(0.2)
            await asyncio.sleep(1)
            accepted = await emulator.accepted()
    finally:
        server.stop()
    assert len(accepted) == len(first) + len(later)
    assert len({m["text"] for m in accepted}) == len(accepted)
