"""Two workers in one pod: one supervisor, each worker its own consumer, one port for all."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from pathlib import Path

import httpx
import pytest

from bridge_devkit.emulator import EmulatorConfig, start_emulator
from bridge_devkit.harness import Processes, free_port
from process_support import bridge_env as process_env
from process_support import committed_statuses, http_status, until
from support import TOKEN, USER, Emulator

pytestmark = [pytest.mark.kafka]

EVENTS = 12


def env_of(emulator_url: str, bootstrap: str, topics, store: Path) -> dict:
    return process_env(
        emulator_url,
        bootstrap,
        topics,
        store,
        transactional_id=f"{topics.group}-pod",
        BRIDGE_PROCESS__WORKERS="2",
    )


def children_of(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(child) for child in text]
    return found


async def test_two_workers_share_the_partitions_and_answer_on_one_port(
    kafka_bootstrap, topics, publish, make_event, encode, tmp_path
):
    running = await start_emulator(EmulatorConfig(access_tokens=(TOKEN,)))
    emulator = Emulator(running.base_url)
    await emulator.follow(USER)
    processes = Processes()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "bridge", "run", "--host", "127.0.0.1", "--port", str(port)]
    log = tmp_path / "pod.log"
    try:
        pod = processes.spawn(
            "pod", argv, env_of(running.base_url, kafka_bootstrap, topics, tmp_path / "s.db"), log
        )
        await until(lambda: _is(http_status(f"{base}/health/ready"), 204), "the pod became ready")
        assert len(children_of(pod.pid)) == 2
        codes = [f"000.20.31.H56-261205-{n:04d}" for n in range(EVENTS)]
        for code in codes:
            await publish(encode(make_event(sequence=1, case={"code": code})), key=code)
        accepted = await emulator.wait_for_accepted(EVENTS, timeout=60)
        statuses = await committed_statuses(kafka_bootstrap, topics.status, EVENTS, timeout=60)
        async with httpx.AsyncClient(timeout=5) as http:
            metrics = (await http.get(f"{base}/metrics")).text
            forwarded = await http.get(f"{base}/no-such-page")
        assert await http_status(f"{base}/health/live") == 204

        pod.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(pod.wait, 90)
    finally:
        processes.stop_all()
        await emulator.http.aclose()
        await running.stop()

    assert Counter(c for m in accepted for c in codes if c in m["text"]) == Counter(codes)
    assert len(statuses) == EVENTS, "one status per record across the two workers"
    assert 'zalo_bridge_worker_up{worker="0"} 1.0' in metrics
    assert 'zalo_bridge_worker_up{worker="1"} 1.0' in metrics
    consumed = [line for line in metrics.splitlines() if line.startswith("zalo_bridge_")]
    assert any('worker="1"' in line for line in consumed)
    assert forwarded.status_code == 404, "anything else is worker 0's to answer"
    assert code == 0, "SIGTERM stops every worker gracefully"


async def test_a_worker_that_dies_stops_the_pod_with_status_1(kafka_bootstrap, topics, tmp_path):
    running = await start_emulator(EmulatorConfig(access_tokens=(TOKEN,)))
    processes = Processes()
    port = free_port()
    argv = [sys.executable, "-m", "bridge", "run", "--host", "127.0.0.1", "--port", str(port)]
    try:
        pod = processes.spawn(
            "pod",
            argv,
            env_of(running.base_url, kafka_bootstrap, topics, tmp_path / "s.db"),
            tmp_path / "pod.log",
        )
        ready = f"http://127.0.0.1:{port}/health/ready"
        await until(lambda: _is(http_status(ready), 204), "the pod became ready")
        os.kill(children_of(pod.pid)[1], signal.SIGKILL)
        code = await asyncio.to_thread(pod.wait, 120)
    finally:
        processes.stop_all()
        await running.stop()
    assert code == 1
    assert "a worker exited" in (tmp_path / "pod.log").read_text()


async def _is(status, wanted: int) -> bool:
    return await status == wanted
