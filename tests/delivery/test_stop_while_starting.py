"""A stop that comes while bridge starts: prompt, status 0, and no consumer left behind."""

from __future__ import annotations

import asyncio
import time

import pytest

from bridge.app import create_app
from bridge_devkit.harness import Processes, free_port
from process_support import bridge_env, start_bridge, until

pytestmark = [pytest.mark.kafka]


async def test_a_stop_while_the_consumers_start_waits_for_them_and_closes_them(bridge_settings):
    """faststream reports the app started before its consumers have: a stop right then must not
    stop them before they exist (the consumer started afterwards would be left in the group)."""
    app = create_app(bridge_settings)
    started: list[str] = []
    app.after_startup(lambda: started.append("consumers started"))
    async with app.start_lifespan_context():
        consumers_then = [s.consumer for s in app.broker.subscribers]
    # The stop began before the consumers had started ...
    assert consumers_then == [None] * len(consumers_then)
    # ... and waited for them, then stopped them: none is left running.
    assert started == ["consumers started"]
    assert [s.consumer for s in app.broker.subscribers] == [None] * len(consumers_then)
    assert all(not s.tasks for s in app.broker.subscribers)


async def test_a_replica_stopped_while_it_waits_for_the_broker_exits_0_at_once(
    topics, emulator, tmp_path
):
    """Start-up waits up to kafka.startup_timeout_seconds (120 s) for a broker; a SIGTERM then
    ends it at once with status 0, well inside any termination grace."""
    unreachable = f"127.0.0.1:{free_port()}"
    env = bridge_env(
        emulator.base_url,
        unreachable,
        topics,
        tmp_path / "ledger.sqlite3",
        transactional_id=f"{topics.group}-w",
    )
    log = tmp_path / "bridge-w.log"
    processes = Processes()
    try:
        process, _url = start_bridge(processes, env, log)

        async def waiting_for_kafka() -> bool:
            return "Kafka not reachable yet" in (log.read_text() if log.exists() else "")

        await until(waiting_for_kafka, "start-up waits for the broker", timeout=60)
        began = time.monotonic()
        process.terminate()
        status = await asyncio.to_thread(process.wait, 60)
        took = time.monotonic() - began
    finally:
        processes.stop_all()
    assert status == 0, log.read_text()[-2000:]
    assert took < 15, f"the stop took {took:.1f} s"  # the old wait was 120 s
