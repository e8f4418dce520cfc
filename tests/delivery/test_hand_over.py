"""Hand-over between replicas: a stopping replica lets go at once when nothing can settle, exits 0,
and the next owner delivers what it left, each record with exactly one status event."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from bridge_devkit.emulator import EmulatorConfig, start_emulator
from bridge_devkit.harness import Processes
from process_support import bridge_env as process_env
from process_support import committed_statuses, http_status, start_bridge, until
from support import TOKEN, USER, Emulator

pytestmark = [pytest.mark.kafka]

EVENTS = 6
GRACE_S = 120
"""The grace the test gives (delivery.lease_seconds): far longer than a stop may take."""


def bridge_env(emulator_url: str, bootstrap: str, topics, store: Path, replica: str) -> dict:
    return process_env(
        emulator_url,
        bootstrap,
        topics,
        store,
        transactional_id=f"{topics.group}-{replica}",
        BRIDGE_DELIVERY__LEASE_SECONDS=str(GRACE_S),
        BRIDGE_DELIVERY__BREAKER_OPEN_SECONDS="1",
        BRIDGE_DELIVERY__INITIAL_BACKOFF_SECONDS="0.05",
        BRIDGE_DELIVERY__MAX_BACKOFF_SECONDS="0.2",
    )


def start(processes: Processes, env: dict, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    return start_bridge(processes, env, log)


async def health(url: str, path: str = "/health/ready") -> int | None:
    return await http_status(f"{url}{path}")


async def test_a_replica_stopped_while_zalo_is_down_lets_go_at_once_and_the_next_one_delivers(
    kafka_bootstrap, topics, publish, make_event, encode, tmp_path
):
    running = await start_emulator(EmulatorConfig(access_tokens=(TOKEN,)))
    emulator = Emulator(running.base_url)
    await emulator.follow(USER)
    store = tmp_path / "ledger.sqlite3"
    processes = Processes()
    try:
        first, first_url = start(
            processes,
            bridge_env(running.base_url, kafka_bootstrap, topics, store, "a"),
            tmp_path / "bridge-a.log",
        )
        await until(lambda: _is(health(first_url), 204), "the first replica became ready")
        # Zalo goes down: every send gets 503, the breaker opens, the records wait.
        await emulator.fault(kind="http", status=503, probability=1)
        codes = [f"000.20.31.H56-261205-{n:04d}" for n in range(EVENTS)]
        for code in codes:
            await publish(encode(make_event(sequence=1, case={"code": code})), key=code)
        await until(lambda: _is(health(first_url), 503), "the breaker opened")

        began = time.monotonic()
        first.terminate()
        status = await asyncio.to_thread(first.wait, GRACE_S + 30)
        took = time.monotonic() - began
        # A clean stop exits 0 (not 143), and without waiting out a grace nothing can use.
        assert status == 0
        assert took < GRACE_S / 2, f"the stop took {took:.1f} s"
        assert await emulator.accepted() == []

        await emulator.clear_faults()
        _second, second_url = start(
            processes,
            bridge_env(running.base_url, kafka_bootstrap, topics, store, "b"),
            tmp_path / "bridge-b.log",
        )
        await until(lambda: _is(health(second_url), 204), "the second replica became ready")
        accepted = await emulator.wait_for_accepted(EVENTS, timeout=60)
        statuses = await _statuses(kafka_bootstrap, topics.status, EVENTS)
    finally:
        processes.stop_all()
        await emulator.http.aclose()
        await running.stop()

    delivered = Counter(code for m in accepted for code in codes if code in (m["text"] or ""))
    assert delivered == Counter(codes), "each left record delivered once, by the next owner"
    per_record = Counter((s["source"]["partition"], s["source"]["offset"]) for s in statuses)
    assert len(per_record) == EVENTS
    assert set(per_record.values()) == {1}, "exactly one status event per input record"
    assert {s["status"] for s in statuses} == {"delivered"}
    assert len({s["status_id"] for s in statuses}) == EVENTS
    log = (tmp_path / "bridge-a.log").read_text()
    assert "partitions given back with unsettled records" in log
    # The next owner committed under its group generation (the KIP-447 path, not the v0 one).
    assigned = [
        json.loads(line)
        for line in (tmp_path / "bridge-b.log").read_text().splitlines()
        if "partitions assigned" in line and line.startswith("{")
    ]
    assert assigned
    assert all(entry["generation"] > 0 and entry["member_id"] for entry in assigned)


async def _is(status, wanted: int) -> bool:
    return await status == wanted


async def _statuses(bootstrap: str, topic: str, count: int) -> list[dict]:
    return await committed_statuses(bootstrap, topic, count, timeout=60)


async def test_a_replica_whose_transactional_id_is_taken_stops_with_status_1(
    kafka_bootstrap, topics, publish, make_event, encode, tmp_path
):
    """Two processes with one transactional id: the older is fenced, and says so by its status."""
    running = await start_emulator(EmulatorConfig(access_tokens=(TOKEN,)))
    emulator = Emulator(running.base_url)
    await emulator.follow(USER)
    processes = Processes()
    try:
        first, first_url = start(
            processes,
            bridge_env(running.base_url, kafka_bootstrap, topics, tmp_path / "a.sqlite3", "same"),
            tmp_path / "bridge-a.log",
        )
        await until(lambda: _is(health(first_url), 204), "the first replica became ready")
        _second, second_url = start(
            processes,
            bridge_env(running.base_url, kafka_bootstrap, topics, tmp_path / "b.sqlite3", "same"),
            tmp_path / "bridge-b.log",
        )
        await until(lambda: _is(health(second_url), 204), "the second replica became ready")
        for n in range(EVENTS):
            code = f"000.20.31.H56-261205-{n:04d}"
            await publish(encode(make_event(sequence=1, case={"code": code})), key=code)
        status = await asyncio.to_thread(first.wait, 120)
    finally:
        processes.stop_all()
        await emulator.http.aclose()
        await running.stop()
    assert status == 1
    assert "fenced by another process" in (tmp_path / "bridge-a.log").read_text()


@pytest.mark.parametrize("after_s", [0.5, 1.5, 4.0])
async def test_a_replica_stopped_while_it_starts_exits_0(
    kafka_bootstrap, topics, tmp_path, after_s
):
    """SIGTERM during imports, settings or connecting: nothing was taken, status 0 all the same."""
    running = await start_emulator(EmulatorConfig(access_tokens=(TOKEN,)))
    processes = Processes()
    try:
        env = bridge_env(running.base_url, kafka_bootstrap, topics, tmp_path / "l.sqlite3", "s")
        process, _url = start(processes, env, tmp_path / "bridge-s.log")
        await asyncio.sleep(after_s)
        process.terminate()
        status = await asyncio.to_thread(process.wait, 60)
    finally:
        processes.stop_all()
        await running.stop()
    assert status == 0, (tmp_path / "bridge-s.log").read_text()[-2000:]
