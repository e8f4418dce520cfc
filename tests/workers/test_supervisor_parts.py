"""The supervisor's parts: the workers' settings, and their metrics as one exposition."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from bridge.cli.event_loop import loop_factory
from bridge.settings import Settings
from bridge.workers import merged_metrics, worker_specs


def exposition(consumed: float) -> str:
    registry = CollectorRegistry()
    Counter("zalo_bridge_consumed", "Records.", ["topic"], registry=registry).labels("in").inc(
        consumed
    )
    Gauge("zalo_bridge_in_flight", "In flight.", registry=registry).set(consumed / 10)
    return generate_latest(registry).decode()


def test_each_worker_is_its_own_replica_with_its_own_transactional_id():
    settings = Settings.model_validate(
        {"process": {"workers": 3}, "kafka": {"transactional_id": "thanh-hoa-pod-7"}}
    )
    ports = iter([41001, 41002, 41003])
    specs = worker_specs(
        settings, environ={"PATH": "/bin", "BRIDGE_X": "y"}, ports=lambda: next(ports)
    )
    assert [(s.index, s.port) for s in specs] == [(0, 41001), (1, 41002), (2, 41003)]
    assert [s.env["BRIDGE_KAFKA__TRANSACTIONAL_ID"] for s in specs] == [
        "thanh-hoa-pod-7-w0",
        "thanh-hoa-pod-7-w1",
        "thanh-hoa-pod-7-w2",
    ]
    assert all(s.env["BRIDGE_PROCESS__WORKERS"] == "1" for s in specs), "no worker forks again"
    assert all(s.env["BRIDGE_X"] == "y" for s in specs)


def test_the_workers_metrics_merge_into_one_valid_exposition_with_a_worker_label():
    merged = merged_metrics({0: exposition(5), 1: exposition(7)}, workers=3).decode()
    families = {f.name: f for f in text_string_to_metric_families(merged)}
    consumed = {
        s.labels["worker"]: s.value
        for s in families["zalo_bridge_consumed"].samples
        if s.name == "zalo_bridge_consumed_total"
    }
    assert consumed == {"0": 5.0, "1": 7.0}
    up = {s.labels["worker"]: s.value for s in families["zalo_bridge_worker_up"].samples}
    assert up == {"0": 1.0, "1": 1.0, "2": 0.0}, "the worker that did not answer is down"
    assert merged.count("# TYPE zalo_bridge_consumed_total counter") == 1


def test_the_event_loop_is_a_choice():
    assert loop_factory("asyncio") is asyncio.new_event_loop
    loop = loop_factory("uvloop")()
    try:
        assert type(loop).__module__.startswith("uvloop")
    finally:
        loop.close()
    assert loop_factory("auto") is not asyncio.new_event_loop


async def test_a_body_larger_than_the_limit_is_refused_without_being_held_whole():
    from bridge.workers.supervisor import MAX_FORWARDED_BYTES, Supervisor  # noqa: PLC0415

    supervisor = Supervisor([], host="127.0.0.1", port=0, config=None, grace=1)
    chunk = b"x" * 65536
    sent_chunks = 0

    async def receive() -> dict:
        nonlocal sent_chunks
        sent_chunks += 1
        return {"type": "http.request", "body": chunk, "more_body": True}

    answers: list[dict] = []

    async def send(message: dict) -> None:
        answers.append(message)

    scope = {"type": "http", "path": "/webhook/zalo", "method": "POST", "headers": []}
    await supervisor._asgi(scope, receive, send)
    assert answers[0]["status"] == 413
    assert sent_chunks * len(chunk) <= MAX_FORWARDED_BYTES + len(chunk)


async def test_from_the_moment_it_serves_a_sigterm_stops_the_supervisor_gracefully():
    """``on_serving`` ends the stop-at-once handling: uvicorn's handler must be in place by then,
    or a SIGTERM in between would be ignored (neither handler acting on it)."""
    import os  # noqa: PLC0415 - only here
    import signal  # noqa: PLC0415 - idem

    from bridge.workers.supervisor import Supervisor  # noqa: PLC0415 - idem
    from bridge_devkit.harness import free_port  # noqa: PLC0415 - idem

    handlers: list[object] = []

    def serving() -> None:
        handlers.append(signal.getsignal(signal.SIGTERM))
        os.kill(os.getpid(), signal.SIGTERM)  # the kubelet's, right then

    # uvicorn hands the signal back to the handler it found once it stopped: a harmless one.
    previous = signal.signal(signal.SIGTERM, lambda _signo, _frame: None)
    try:
        supervisor = Supervisor(
            [], host="127.0.0.1", port=free_port(), config=None, grace=1, on_serving=serving
        )
        status = await asyncio.wait_for(supervisor.run(), timeout=30)
    finally:
        signal.signal(signal.SIGTERM, previous)
    [handler] = handlers
    assert getattr(handler, "__name__", None) == "handle_exit", "uvicorn's handler was in place"
    assert status == 0
