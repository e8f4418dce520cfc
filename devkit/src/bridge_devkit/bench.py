"""The benchmark (`make bench`): the bridge as a real process against Kafka and the emulator."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import importlib.metadata
import json
import logging
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bridge.delivery.settings import DeliverySettings
from bridge.zalo.settings import ZaloSettings
from bridge_devkit.bench_report import (
    BenchResults,
    LoadPoint,
    Machine,
    MemoryPoint,
    NaiveRun,
    ProcessUsage,
    RateLimitRun,
    RawConsume,
    RawHttp,
    SaturationRun,
    evaluate_targets,
    latency_stats,
    max_in_window,
    render_markdown,
    render_plot,
)
from bridge_devkit.chaos import PlannedRecord, WorkloadSpec, generate_workload
from bridge_devkit.clock_settings import quiet_window_env
from bridge_devkit.harness import (
    BridgeProcess,
    Processes,
    clean_env,
    committed_offsets,
    cpu_seconds,
    create_topics,
    keep_supported,
    machine_busy_seconds,
    peak_rss_bytes,
    run_blocking,
    start_emulator_process,
    supported_settings,
    write_followers,
)
from bridge_devkit.kafka import DEFAULT_KAFKA_VERSION, LocalKafka

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable, Sequence

__all__ = ["BenchConfig", "main", "run_bench", "run_bench_async"]

ACCESS_TOKEN: Final = "bench-access-token"  # noqa: S105 - the emulator's local token
CS_MESSAGE_PATH: Final = "/v3.0/oa/message/cs"
_MAX_CASES: Final = 99_999
_PAGE: Final = 5000
OTHERS: Final = "other processes (not this run's)"
PHASES: Final = (
    "saturation",
    "workers",
    "memory",
    "raw-consume",
    "raw-http",
    "naive",
    "sweep",
    "rate-limit",
)
"""The phases, in the order a run takes them (``--phases`` chooses some)."""


@dataclass(frozen=True, slots=True)
class BenchConfig:
    """Everything one benchmark run is made of.

    Attributes:
        workdir: The broker's data, the ledgers, the logs and `results.json`.
        report: Where the Markdown report goes; None: `workdir/benchmarks.md`.
        plot: Where the PNG plot goes; None: next to the report.
        draw_plot: Whether to draw it (needs the dev kit's `plot` extra: matplotlib).
        events: The backlog of the throughput run (N).
        events_per_case: Events per dossier in every workload (cases = events / this).
        partitions: Partitions of the input and status topics.
        latency_ms: The emulator's response latency.
        fixed_rate: The offered load of the latency target (events per second).
        fixed_seconds: How long the fixed-rate point publishes.
        fixed_repeats: How many times the fixed-rate point runs (its latencies are pooled).
        rates: Further offered loads of the sweep (events per second).
        point_seconds: How long each other point publishes.
        point_max_events: At most this many events per point (bounds the overloaded points).
        warmup_events: Delivered by the sweep's bridge before the first point (not measured).
        saturation_point: Add a point at the measured backlog-drain throughput.
        naive_events: Backlog of the naive baseline.
        naive_seconds: The naive baseline's measured window.
        raw_http_seconds: How long each raw HTTP client is measured.
        rate_limit_per_minute: The emulator's limit in the rate-limit run.
        rate_limit_backlog: Backlog of the rate-limit run.
        rate_limit_warmup_s: Left out after the first delivery of the rate-limit run.
        rate_limit_window_s: The measured window of the rate-limit run.
        stall_s: A phase gives up waiting when nothing is delivered for this long.
        seed: Seeds the workloads.
        quick: Whether these are the reduced `--quick` sizes (said in the report).
        deadline_s: Upper bound on the whole run.
        bootstrap_servers: An existing cluster; None starts a broker in `workdir`.
        progress: Receives one line per step; None is silent.
    """

    workdir: Path
    report: Path | None = None
    plot: Path | None = None
    draw_plot: bool = True
    events: int = 100_000
    events_per_case: int = 10
    partitions: int = 6
    latency_ms: float = 50.0
    fixed_rate: float = 500.0
    fixed_seconds: float = 30.0
    fixed_repeats: int = 3
    rates: tuple[float, ...] = (250.0, 1000.0, 2000.0, 4000.0)
    point_seconds: float = 15.0
    point_max_events: int = 20_000
    warmup_events: int = 200
    saturation_point: bool = True
    naive_events: int = 2_000
    naive_seconds: float = 30.0
    raw_http_seconds: float = 15.0
    rate_limit_per_minute: int = 4000
    rate_limit_backlog: int = 20_000
    rate_limit_warmup_s: float = 5.0
    rate_limit_window_s: float = 240.0
    stall_s: float = 30.0
    seed: int = 20261201
    workers: int = 2
    """The worker processes of the second drain (``process.workers``; 1: not run)."""
    workers_events: int = 10_000
    memory_points: tuple[tuple[int, int], ...] = ((20_000, 5_000), (100_000, 100_000))
    """The memory phase's drains, fewest dossiers first: (events, distinct dossiers) each."""
    phases: tuple[str, ...] = ()
    """Run only these phases (``PHASES``); empty: every phase."""
    bridge_env: tuple[tuple[str, str], ...] = ()
    """Extra BRIDGE_… settings of every bridge the bench starts (A/B runs of one lever)."""
    quick: bool = False
    deadline_s: float = 3600.0
    bootstrap_servers: str | None = None
    progress: Callable[[str], None] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def quick_preset(cls, workdir: Path, **changes: Any) -> BenchConfig:
        """The reduced sizes of `--quick` (a few minutes), with `changes` applied."""
        preset: dict[str, Any] = {
            "events": 5_000,
            "workers_events": 2_000,
            "memory_points": ((2_000, 500), (5_000, 5_000)),
            "fixed_seconds": 10.0,
            "fixed_repeats": 1,
            "rates": (250.0, 1000.0),
            "point_seconds": 6.0,
            "point_max_events": 5_000,
            "naive_events": 400,
            "naive_seconds": 10.0,
            "raw_http_seconds": 5.0,
            "rate_limit_backlog": 4_000,
            "rate_limit_window_s": 45.0,
            "stall_s": 20.0,
            "quick": True,
        }
        return cls(workdir=workdir, **{**preset, **changes})

    @property
    def report_path(self) -> Path:
        """The Markdown report's path."""
        return self.report or self.workdir / "benchmarks.md"

    @property
    def plot_path(self) -> Path:
        """The plot's path."""
        return self.plot or self.report_path.with_name("benchmarks-throughput.png")


# ---------------------------------------------------------------------------- the run's state


@dataclass(frozen=True, slots=True)
class _Call:
    """One call the emulator logged."""

    seq: int
    user_id: str | None
    text: str | None
    at: float
    error: int | None

    @property
    def accepted(self) -> bool:
        return self.error == 0


@dataclass(slots=True)
class _Bench:
    config: BenchConfig
    results: BenchResults
    processes: Processes
    say: Callable[[str], None]
    run_id: str
    workdir: Path
    bootstrap: str = ""
    kafka: LocalKafka | None = None
    zalo_url: str = ""
    emulator_pid: int | None = None
    http: httpx.AsyncClient | None = None
    base_env: dict[str, str] = field(default_factory=dict)
    supported: dict[str, set[str]] = field(default_factory=dict)

    @property
    def admin(self) -> httpx.AsyncClient:
        assert self.http is not None  # noqa: S101 - set before any phase
        return self.http

    def topics(self, phase: str) -> tuple[str, str, str]:
        base = f"bench.{self.run_id}.{phase}"
        return base, f"{base}.dlq", f"{base}.status"

    async def create(self, phase: str) -> tuple[str, str, str]:
        topics = self.topics(phase)
        partitions = self.config.partitions
        await create_topics(
            self.bootstrap, {topics[0]: partitions, topics[1]: 1, topics[2]: partitions}
        )
        return topics

    def pids(self) -> dict[str, int | None]:
        return {
            "emulator": self.emulator_pid,
            "broker": self.kafka.pid if self.kafka is not None else None,
        }


class _Snapshot:
    """CPU seconds of the watched processes (and the harness) at one moment."""

    def __init__(self, pids: dict[str, int | None]) -> None:
        self.at = time.monotonic()
        self.cpu: dict[str, float] = {}
        for name, pid in pids.items():
            used = cpu_seconds(pid) if pid is not None else None
            if used is not None:
                self.cpu[name] = used
        self.cpu["harness"] = time.process_time()
        self.machine = machine_busy_seconds()

    def usage_until(self, later: _Snapshot) -> tuple[ProcessUsage, ...]:
        """CPU per process from this snapshot to `later`, then what the rest of the machine used."""
        wall = later.at - self.at
        usage = [
            ProcessUsage(name, later.cpu[name] - self.cpu[name], wall)
            for name in self.cpu
            if name in later.cpu
        ]
        if self.machine is not None and later.machine is not None:
            others = later.machine - self.machine - sum(u.cpu_s for u in usage)
            usage.append(ProcessUsage(OTHERS, max(0.0, others), wall))
        return tuple(usage)


# ---------------------------------------------------------------------------- workloads


async def _workload(
    bench: _Bench, events: int, seed: int, *, cases: int | None = None
) -> list[PlannedRecord]:
    """Deliverable events only, each message unique, their recipients made followers.

    The events are spread over ``cases`` dossiers (default: `events / events_per_case`) and
    interleaved.
    """
    if cases is None:
        per_case = bench.config.events_per_case
        cases = max(1, min(_MAX_CASES, events // max(per_case, 2)))
    spec = WorkloadSpec(
        events=events,
        cases=cases,
        seed=seed,
        invalid_ratio=0.0,
        non_follower_ratio=0.0,
        duplicate_ratio=0.0,
        stale_ratio=0.0,
    )
    workload = await asyncio.to_thread(generate_workload, spec)
    body = [
        {"user_id": user, "display_name": f"Công dân {user[-4:]}"} for user in workload.followers
    ]
    (await bench.admin.put("/_emulator/followers", json=body)).raise_for_status()
    return list(workload.records)


def _key(record: PlannedRecord) -> tuple[str, str]:
    return record.user_id or "", record.text or ""


# ---------------------------------------------------------------------------- publishing


async def _producer(bootstrap: str) -> AIOKafkaProducer:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    return producer


async def _publish_backlog(
    producer: AIOKafkaProducer, topic: str, records: Sequence[PlannedRecord]
) -> float:
    """Publish `records` as fast as the producer takes them; return the rate (events/s)."""
    began = time.monotonic()
    pending: list[asyncio.Future[Any]] = []
    for record in records:
        pending.append(await producer.send(topic, value=record.value, key=record.key))
        if len(pending) >= 2000:  # noqa: PLR2004 - bound the unacknowledged records
            await asyncio.gather(*pending)
            pending.clear()
    await asyncio.gather(*pending)
    return len(records) / max(time.monotonic() - began, 1e-6)


async def _publish_paced(
    producer: AIOKafkaProducer, topic: str, records: Sequence[PlannedRecord], rate: float
) -> tuple[dict[tuple[str, str], float], float]:
    """Publish `records` at `rate` per second; return each one's produce time and the duration.

    The produce time is this machine's wall clock (`time.time()`) just before the record is
    handed to the producer; the emulator's `received_at` comes from the same clock.
    """
    stamps: dict[tuple[str, str], float] = {}
    pending: list[asyncio.Future[Any]] = []
    began = time.monotonic()
    for index, record in enumerate(records):
        delay = began + index / rate - time.monotonic()
        if delay > 0.002:  # noqa: PLR2004 - below that, sleeping costs more than it paces
            await asyncio.sleep(delay)
        stamps[_key(record)] = time.time()
        pending.append(await producer.send(topic, value=record.value, key=record.key))
        if len(pending) >= 500:  # noqa: PLR2004 - bound the unacknowledged records
            await asyncio.gather(*pending)
            pending.clear()
    await asyncio.gather(*pending)
    return stamps, time.monotonic() - began


# ---------------------------------------------------------------------------- the emulator


async def _clear_log(bench: _Bench) -> None:
    (await bench.admin.delete("/_emulator/messages")).raise_for_status()


async def _log_size(bench: _Bench) -> int:
    response = await bench.admin.get("/_emulator/health")
    response.raise_for_status()
    return int(response.json()["messages"])


async def _fetch_log(bench: _Bench) -> list[_Call]:
    """Every call in the emulator's message log (accepted or not), page by page."""
    calls: list[_Call] = []
    after = 0
    while True:
        response = await bench.admin.get(
            "/_emulator/messages", params={"status": "all", "after_seq": after, "limit": _PAGE}
        )
        response.raise_for_status()
        page = response.json()["messages"]
        calls += [
            _Call(
                seq=int(m["seq"]),
                user_id=m.get("user_id"),
                text=m.get("text"),
                at=datetime.fromisoformat(m["received_at"]).timestamp(),
                error=m.get("error"),
            )
            for m in page
        ]
        if len(page) < _PAGE:
            return calls
        after = calls[-1].seq


async def _set_emulator_limit(bench: _Bench, per_minute: int) -> None:
    response = await bench.admin.put(
        "/_emulator/config", json={"rate_limit_per_minute": per_minute}
    )
    response.raise_for_status()


async def _wait_for_deliveries(
    bench: _Bench,
    expected: int,
    *,
    alive: Callable[[], bool],
    on_first: Callable[[], None] | None = None,
) -> int:
    """Wait until the emulator logged `expected` calls, or nothing new came for `stall_s`.

    Args:
        bench: The run.
        expected: How many calls to wait for.
        alive: Whether the process that should make them still runs.
        on_first: Called once, when the first call is seen.

    Returns:
        The calls logged.

    Raises:
        RuntimeError: If the process exits.
    """
    last, last_change = 0, time.monotonic()
    while True:
        size = await _log_size(bench)
        if size and not last and on_first is not None:
            on_first()
        if size != last:
            last, last_change = size, time.monotonic()
        if size >= expected:
            return size
        if not alive():
            raise RuntimeError(f"the process under test exited after {size} of {expected} calls")
        if time.monotonic() - last_change > bench.config.stall_s:
            bench.say(f"no progress for {bench.config.stall_s:.0f} s at {size} of {expected}")
            return size
        await asyncio.sleep(0.1)


# ---------------------------------------------------------------------------- the bridge


_VN = ZoneInfo("Asia/Ho_Chi_Minh")


def quiet_hours_away_from(now: datetime) -> dict[str, str]:
    """Settings of a one-minute quiet window twelve hours from ``now`` (Asia/Ho_Chi_Minh).

    ``now`` is the bench's own clock, the one the bridge it starts reads too; announcement nights
    are off (the bench publishes no announcements).
    """
    start = (now.astimezone(_VN) + timedelta(hours=12)).replace(second=0, microsecond=0)
    return quiet_window_env(start, timedelta(minutes=1), zone=_VN)


def _bridge_env(
    bench: _Bench, phase: str, topics: tuple[str, str, str], *, rate_limit: int | None
) -> tuple[dict[str, str], list[str]]:
    """The bridge's environment, and the variables it was meant to get but does not have."""
    input_topic, dlq, status = topics
    ledger = bench.workdir / f"ledger-{phase}.sqlite3"
    wanted = {
        "BRIDGE_KAFKA__BOOTSTRAP_SERVERS": bench.bootstrap,
        "BRIDGE_KAFKA__INPUT_TOPIC": input_topic,
        "BRIDGE_KAFKA__DEAD_LETTER_TOPIC": dlq,
        "BRIDGE_KAFKA__STATUS_TOPIC": status,
        "BRIDGE_KAFKA__CONSUMER_GROUP": f"zalo-bridge-bench-{bench.run_id}-{phase}",
        "BRIDGE_KAFKA__TRANSACTIONAL_ID": f"zalo-bridge-bench-{bench.run_id}-{phase}",
        "BRIDGE_ZALO__BASE_URL": bench.zalo_url,
        "BRIDGE_ZALO__ACCESS_TOKEN": ACCESS_TOKEN,
        "BRIDGE_STORE__URL": f"sqlite:///{ledger}",
        "BRIDGE_LOG__FORMAT": "json",
        # Quiet hours on, as in production, with a one-minute window twelve hours away: every
        # event pays the gate's cost by day and is sent at once.
        **quiet_hours_away_from(datetime.now(UTC)),
    }
    if rate_limit is not None:
        wanted["BRIDGE_DELIVERY__RATE_LIMIT_PER_MINUTE"] = str(rate_limit)
    wanted |= dict(bench.config.bridge_env)
    kept, dropped = keep_supported(wanted, bench.supported)
    if dropped:
        bench.results.notes.append(f"{phase}: settings this bridge lacks (not set): {dropped}")
    if phase == "saturation":
        # Topics, group, transactional id, Zalo URL and token are per phase and not shown.
        bench.results.bridge_settings = {
            name: value
            for name, value in kept.items()
            if name.startswith(("BRIDGE_DELIVERY", "BRIDGE_STORE", "BRIDGE_LOG", "BRIDGE_PROCESS"))
        }
    return {**bench.base_env, **kept}, dropped


async def _start_bridge(
    bench: _Bench,
    phase: str,
    topics: tuple[str, str, str],
    *,
    rate_limit: int | None = 0,
    extra: dict[str, str] | None = None,
) -> tuple[BridgeProcess, float]:
    env, lacks = _bridge_env(bench, phase, topics, rate_limit=rate_limit)
    env |= extra or {}
    log = bench.workdir / f"bridge-{phase}.log"
    bridge = BridgeProcess(bench.processes, env, log, bench.say, lacks=lacks)
    bridge.start()
    ready = await bridge.wait_ready(90.0)
    if bridge.starts != 1:
        raise RuntimeError(f"the bridge exited during start-up; see {log}")
    return bridge, ready


def _alive(bridge: BridgeProcess) -> Callable[[], bool]:
    return lambda: bridge.pid is not None


# ---------------------------------------------------------------------------- phases


async def _saturation(
    bench: _Bench, producer: AIOKafkaProducer, *, workers: int = 1
) -> tuple[str, int]:
    """Drain a backlog with one bridge process (or ``workers`` worker processes in one pod)."""
    config = bench.config
    phase = "saturation" if workers == 1 else "workers"
    size = config.events if workers == 1 else config.workers_events
    records = await _workload(bench, size, config.seed + (0 if workers == 1 else 7))
    cases = len({r.case_code for r in records})
    topics = await bench.create(phase)
    publish_rate = await _publish_backlog(producer, topics[0], records)
    bench.say(f"{phase}: {len(records):,} events published at {publish_rate:,.0f}/s")
    await _clear_log(bench)
    began = time.monotonic()
    extra = {"BRIDGE_PROCESS__WORKERS": str(workers)} if workers > 1 else None
    bridge, ready = await _start_bridge(bench, phase, topics, extra=extra)
    bench.say(f"{phase}: bridge ready in {ready:.1f} s; draining")
    pid = bridge.pid
    snapshots: list[_Snapshot] = []

    def first() -> None:
        snapshots.append(_Snapshot({"bridge": pid, **bench.pids()}))

    try:
        await _wait_for_deliveries(bench, len(records), alive=_alive(bridge), on_first=first)
        snapshots.append(_Snapshot({"bridge": pid, **bench.pids()}))
        rss = peak_rss_bytes(pid) if pid is not None else None
        wall = await _wait_committed(bench, topics[0], phase, began)
    finally:
        await asyncio.to_thread(bridge.stop)
    calls = await _fetch_log(bench)
    await _clear_log(bench)
    accepted = _accepted(bench, phase, records, calls)
    delivered = len({_call_key(c) for c in accepted})
    span = accepted[-1].at - accepted[0].at if len(accepted) > 1 else 0.0
    usage = snapshots[0].usage_until(snapshots[-1]) if len(snapshots) > 1 else ()
    run = SaturationRun(
        events=len(records),
        cases=cases,
        delivered=delivered,
        first_to_last_s=span,
        throughput=delivered / span if span > 0 else 0.0,
        wall_s=wall,
        ready_s=ready,
        first_delivery_s=snapshots[0].at - began if snapshots else 0.0,
        publish_rate=publish_rate,
        peak_rss_bytes=rss,
        usage=usage,
        rejected=sum(not c.accepted for c in calls),
    )
    if workers == 1:
        bench.results.saturation = run
    else:
        bench.results.workers = run
        bench.results.workers_count = workers
    bench.say(
        f"{phase}: {delivered:,} delivered in {span:.1f} s = {run.throughput:,.0f}/s; "
        f"peak RSS {(rss or 0) / 1e6:.0f} MB; bridge CPU "
        f"{run.cpu_per_1000('bridge') or 0:.2f} s/1000"
    )
    return topics[0], len(records)


async def _memory(bench: _Bench, producer: AIOKafkaProducer) -> None:
    """Peak RSS of one bridge process per number of distinct dossiers (issue 16's memory).

    Each point is its own backlog, topic, consumer group, ledger and bridge process, drained
    whole; its peak RSS (VmHWM) is read once every event was delivered. State kept per dossier
    shows as growth from the first point (fewest dossiers) to the last.
    """
    for n, (events, cases) in enumerate(bench.config.memory_points):
        records = await _workload(bench, events, bench.config.seed + 11 + n, cases=cases)
        phase = f"memory-{cases}"
        topics = await bench.create(phase)
        await _publish_backlog(producer, topics[0], records)
        await _clear_log(bench)
        began = time.monotonic()
        bridge, _ready = await _start_bridge(bench, phase, topics)
        bench.say(f"{phase}: {len(records):,} events over {cases:,} dossiers; draining")
        pid = bridge.pid
        try:
            await _wait_for_deliveries(bench, len(records), alive=_alive(bridge))
            rss = peak_rss_bytes(pid) if pid is not None else None
            wall = await _wait_committed(bench, topics[0], phase, began)
        finally:
            await asyncio.to_thread(bridge.stop)
        calls = await _fetch_log(bench)
        await _clear_log(bench)
        delivered = len({_call_key(c) for c in _accepted(bench, phase, records, calls)})
        bench.results.memory.append(MemoryPoint(len(records), cases, delivered, rss, wall))
        bench.say(f"{phase}: peak RSS {(rss or 0) / 1e6:.0f} MB over {delivered:,} delivered")


def _call_key(call: _Call) -> tuple[str, str]:
    return call.user_id or "", call.text or ""


def _accepted(
    bench: _Bench, phase: str, records: Sequence[PlannedRecord], calls: Sequence[_Call]
) -> list[_Call]:
    """The calls Zalo accepted for ``records``, in order; a shortfall is one of the run's errors."""
    wanted = {_key(r) for r in records}
    accepted = [c for c in calls if c.accepted and _call_key(c) in wanted]
    delivered = len({_call_key(c) for c in accepted})
    if delivered < len(records):
        bench.results.errors.append(f"{phase}: {delivered:,} of {len(records):,} events delivered")
    return accepted


async def _wait_committed(bench: _Bench, topic: str, phase: str, began: float) -> float:
    """Wait until the phase's group committed every record; return seconds since `began`."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bench.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(bench.config.partitions)]
        ends = {tp.partition: end for tp, end in (await consumer.end_offsets(partitions)).items()}
    finally:
        await consumer.stop()
    group = f"zalo-bridge-bench-{bench.run_id}-{phase}"
    deadline = time.monotonic() + bench.config.stall_s
    while time.monotonic() < deadline:
        committed = await committed_offsets(bench.bootstrap, group, topic)
        if all(committed.get(p, 0) >= end for p, end in ends.items()):
            return time.monotonic() - began
        await asyncio.sleep(0.2)
    bench.results.notes.append(f"{phase}: the group had not committed everything in time")
    return time.monotonic() - began


async def _raw_consume(bench: _Bench, topic: str, expected: int) -> None:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bench.bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        assigned = [TopicPartition(topic, p) for p in range(bench.config.partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        ends = await consumer.end_offsets(assigned)
        total = sum(ends.values())
        count = 0
        began = time.monotonic()
        deadline = began + 300
        while count < total and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for part in batch.values():
                for record in part:
                    json.loads(record.value)
                count += len(part)
        seconds = time.monotonic() - began
    finally:
        await consumer.stop()
    if count != expected:
        bench.results.notes.append(f"raw consume read {count:,} records, {expected:,} expected")
    bench.results.raw_consume = RawConsume(count, seconds, count / seconds if seconds else 0.0)
    bench.say(f"raw consume: {count:,} records in {seconds:.2f} s = {count / seconds:,.0f}/s")


def _bridge_http_defaults() -> tuple[int, int, str, float, float]:
    """The bridge's defaults: max_in_flight, max_connections, transport, timeouts."""
    delivery, zalo = DeliverySettings(), ZaloSettings()
    transport = str(getattr(zalo, "http_transport", "httpcore"))
    connections = int(getattr(zalo, "max_connections", 100))
    return (
        delivery.max_in_flight,
        connections,
        transport,
        zalo.timeout_seconds,
        zalo.connect_timeout_seconds,
    )


def _http_client(
    base_url: str, transport: str, connections: int, timeout: float, connect: float
) -> httpx.AsyncClient:
    """An httpx client built the way the bridge builds its own (see bridge.app)."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    chosen: httpx.AsyncBaseTransport | None = None
    if transport == "aiohttp":
        from httpx_aiohttp import AiohttpTransport  # noqa: PLC0415 - optional

        chosen = AiohttpTransport(limits=limits)
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(timeout, connect=connect),
        limits=limits,
        transport=chosen,
        headers={"user-agent": "zalo-bridge-bench"},
    )


async def _raw_http(bench: _Bench, bodies: Sequence[tuple[str, str]]) -> None:
    concurrency, connections, bridge_transport, timeout, connect = _bridge_http_defaults()
    transports = [bridge_transport]
    other = "httpcore" if bridge_transport == "aiohttp" else "aiohttp"
    try:
        import httpx_aiohttp  # noqa: F401, PLC0415 - is the other transport available?
    except ImportError:
        if other == "aiohttp":
            other = ""
    if other:
        transports.append(other)
    for transport in transports:
        primary = transport == bridge_transport
        label = f"httpx.AsyncClient, {transport} transport" + (
            " (the bridge's default)" if primary else ""
        )
        client = _http_client(bench.zalo_url, transport, connections, timeout, connect)
        seconds = bench.config.raw_http_seconds
        before = _Snapshot(bench.pids())
        async with client:
            done, errors, pending = await _hammer(client, bodies, concurrency, seconds)
        usage = {u.name: u.cpu_s for u in before.usage_until(_Snapshot(bench.pids()))}
        answered = await _log_size(bench)  # every request the emulator saw, warm-up included
        await _clear_log(bench)
        run = RawHttp(
            label=label,
            concurrency=concurrency,
            connections=connections,
            requests=done,
            seconds=seconds,
            throughput=done / seconds if seconds else 0.0,
            errors=errors.total(),
            error_kinds=dict(errors.most_common()),
            pending=pending,
            primary=primary,
            client_cpu_per_1000=usage["harness"] / answered * 1000 if answered else None,
            emulator_cpu_per_1000=(
                usage["emulator"] / answered * 1000 if answered and "emulator" in usage else None
            ),
        )
        bench.results.raw_http.append(run)
        bench.say(
            f"raw HTTP ({transport}): {done:,} requests = {run.throughput:,.0f}/s; "
            f"{errors.total():,} failed {dict(errors)}, {pending:,} unanswered at the end"
        )


async def _hammer(
    client: httpx.AsyncClient, bodies: Sequence[tuple[str, str]], concurrency: int, seconds: float
) -> tuple[int, Counter[str], int]:
    """Post from `concurrency` tasks for `seconds` (after a 1 s warm-up).

    Returns:
        Requests accepted within the window, failures at any time by kind (exception, HTTP
        status or Zalo error), and requests still unanswered 2 s after the window (then
        cancelled).
    """
    warmup, grace = 1.0, 2.0
    began = time.monotonic()
    start, stop = began + warmup, began + warmup + seconds
    done = 0
    errors: Counter[str] = Counter()
    headers = {"access_token": ACCESS_TOKEN}

    async def worker(offset: int) -> None:
        nonlocal done
        n = offset
        while time.monotonic() < stop:
            user_id, text = bodies[n % len(bodies)]
            n += concurrency
            body = {"recipient": {"user_id": user_id}, "message": {"text": text}}
            try:
                response = await client.post(CS_MESSAGE_PATH, json=body, headers=headers)
            except httpx.HTTPError as exc:
                errors[type(exc).__name__] += 1
                continue
            if response.status_code != 200:  # noqa: PLR2004 - Zalo answers 200 with an envelope
                errors[f"HTTP {response.status_code}"] += 1
            elif (code := response.json().get("error")) != 0:
                errors[f"error {code}"] += 1
            elif start <= time.monotonic() < stop:
                done += 1

    tasks = [asyncio.create_task(worker(n)) for n in range(concurrency)]
    _, pending = await asyncio.wait(tasks, timeout=warmup + seconds + grace)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    return done, errors, len(pending)


async def _naive(bench: _Bench, producer: AIOKafkaProducer) -> None:
    config = bench.config
    records = await _workload(bench, config.naive_events, config.seed + 1)
    topics = await bench.create("naive")
    await _publish_backlog(producer, topics[0], records)
    await _clear_log(bench)
    argv = [
        sys.executable,
        "-m",
        "bridge_devkit.naive",
        "--bootstrap-servers",
        bench.bootstrap,
        "--topic",
        topics[0],
        "--group",
        f"naive-bench-{bench.run_id}",
        "--zalo-url",
        bench.zalo_url,
        "--access-token",
        ACCESS_TOKEN,
    ]
    process = bench.processes.spawn("naive", argv, clean_env(), bench.workdir / "naive.log")
    snapshots: list[_Snapshot] = []
    try:
        began = time.monotonic()
        while not await _log_size(bench):
            if process.poll() is not None or time.monotonic() - began > 90:  # noqa: PLR2004
                raise RuntimeError(f"the naive baseline delivered nothing; see {bench.workdir}")
            await asyncio.sleep(0.05)
        snapshots.append(_Snapshot({"naive": process.pid}))
        first = (await _fetch_log(bench))[0].at
        await asyncio.sleep(max(0.0, first + config.naive_seconds - time.time()) + 0.5)
        snapshots.append(_Snapshot({"naive": process.pid}))
    finally:
        await asyncio.to_thread(bench.processes.stop, process)
    calls = await _fetch_log(bench)
    await _clear_log(bench)
    in_window = [c for c in calls if c.accepted and first <= c.at < first + config.naive_seconds]
    cpu = next((u.cpu_s for u in snapshots[0].usage_until(snapshots[1]) if u.name == "naive"), None)
    if len(in_window) >= len(records):
        bench.results.notes.append("naive: the backlog ran out inside the window")
    bench.results.naive = NaiveRun(
        delivered=len(in_window),
        window_s=config.naive_seconds,
        throughput=len(in_window) / config.naive_seconds,
        max_workers=1,
        cpu_s=cpu,
    )
    bench.say(f"naive: {len(in_window):,} in {config.naive_seconds:.0f} s")


def _sweep_plan(config: BenchConfig, saturation: float | None) -> list[tuple[str, float, int]]:
    """(label, offered rate, events) of each point, by rate; the fixed rate `fixed_repeats` times.

    The point at the measured saturation throughput is added unless another point lies within
    10 % of it; that point is then labelled as the one near saturation.
    """
    fixed = f"{config.fixed_rate:,.0f}/s (latency target)"
    plan: dict[float, tuple[str, float]] = {
        rate: (f"{rate:,.0f}/s", config.point_seconds) for rate in config.rates
    }
    plan[config.fixed_rate] = (fixed, config.fixed_seconds)
    if config.saturation_point and saturation:
        rate = float(max(10, round(saturation / 10) * 10))
        near = min(plan, key=lambda other: abs(other - rate))
        if abs(near - rate) <= 0.1 * near:
            label, seconds = plan[near]
            plan[near] = (f"{label}, ≈ saturation", seconds)
        else:
            plan[rate] = (f"{rate:,.0f}/s ≈ saturation", config.point_seconds)
    points = []
    for rate, (label, seconds) in sorted(plan.items()):
        events = max(1, min(round(rate * seconds), config.point_max_events))
        repeats = config.fixed_repeats if rate == config.fixed_rate else 1
        points += [
            (f"{label} {n}/{repeats}" if repeats > 1 else label, rate, events)
            for n in range(1, repeats + 1)
        ]
    return points


async def _sweep(bench: _Bench, producer: AIOKafkaProducer) -> None:
    config = bench.config
    plan = _sweep_plan(config, bench.results.bridge_throughput)
    total = config.warmup_events + sum(events for _, _, events in plan)
    records = await _workload(bench, total, config.seed + 2)
    topics = await bench.create("sweep")
    await _clear_log(bench)
    bridge, ready = await _start_bridge(bench, "sweep", topics)
    bench.say(f"sweep: bridge ready in {ready:.1f} s; warming up")
    pid = bridge.pid
    try:
        warm = records[: config.warmup_events]
        await _publish_backlog(producer, topics[0], warm)
        await _wait_for_deliveries(bench, len(warm), alive=_alive(bridge))
        await _clear_log(bench)
        offset = config.warmup_events
        pooled: list[float] = []
        for label, rate, events in plan:
            chunk = records[offset : offset + events]
            offset += events
            before = _Snapshot({"bridge": pid, **bench.pids()})
            stamps, publish_s = await _publish_paced(producer, topics[0], chunk, rate)
            await _wait_for_deliveries(bench, len(chunk), alive=_alive(bridge))
            after = _Snapshot({"bridge": pid, **bench.pids()})
            calls = await _fetch_log(bench)
            await _clear_log(bench)
            point, latencies = _load_point(
                label=label,
                rate=rate,
                chunk=chunk,
                stamps=stamps,
                publish_s=publish_s,
                calls=calls,
                before=before,
                after=after,
            )
            bench.results.points.append(point)
            if rate == config.fixed_rate:
                pooled += latencies
                bench.results.fixed_rate = rate
                bench.results.fixed_latency = latency_stats(pooled)
            lat = point.latency
            bench.say(
                f"sweep {label}: {point.delivered:,}/{len(chunk):,} delivered, "
                f"{point.throughput:,.0f}/s, p99 {lat.p99 if lat else float('nan'):,.0f} ms"
            )
    finally:
        await asyncio.to_thread(bridge.stop)


def _load_point(  # noqa: PLR0913 - one point's measurements
    *,
    label: str,
    rate: float,
    chunk: Sequence[PlannedRecord],
    stamps: dict[tuple[str, str], float],
    publish_s: float,
    calls: Sequence[_Call],
    before: _Snapshot,
    after: _Snapshot,
) -> tuple[LoadPoint, list[float]]:
    """Summarise one point; also return its latencies (seconds), to pool repetitions."""
    seen: set[tuple[str, str]] = set()
    latencies: list[float] = []
    times: list[float] = []
    for call in calls:
        key = (call.user_id or "", call.text or "")
        if not call.accepted or key not in stamps or key in seen:
            continue
        seen.add(key)
        latencies.append(call.at - stamps[key])
        times.append(call.at)
    span = max(times) - min(times) if len(times) > 1 else 0.0
    usages = before.usage_until(after)
    usage = {u.name: u.cpu_s for u in usages}
    others = next((u.cores for u in usages if u.name == OTHERS), None)
    delivered = len(latencies)

    def per_1000(name: str) -> float | None:
        return usage[name] / delivered * 1000 if name in usage and delivered else None

    point = LoadPoint(
        label=label,
        offered=rate,
        published=len(chunk),
        publish_s=publish_s,
        delivered=delivered,
        throughput=delivered / span if span > 0 else 0.0,
        latency=latency_stats(latencies),
        bridge_cpu_per_1000=per_1000("bridge"),
        emulator_cpu_per_1000=per_1000("emulator"),
        others_cores=others,
    )
    return point, latencies


async def _rate_limit(bench: _Bench, producer: AIOKafkaProducer) -> None:
    config = bench.config
    limit = config.rate_limit_per_minute
    bridge_default = DeliverySettings().rate_limit_per_minute
    if bridge_default != limit:
        bench.results.notes.append(
            f"rate limit: the bridge's default is {bridge_default:,}/min, the emulator's "
            f"{limit:,}/min; the bridge ran with its default"
        )
    records = await _workload(bench, config.rate_limit_backlog, config.seed + 3)
    topics = await bench.create("ratelimit")
    await _publish_backlog(producer, topics[0], records)
    await _set_emulator_limit(bench, limit)
    await _clear_log(bench)
    bridge, ready = await _start_bridge(bench, "ratelimit", topics, rate_limit=None)
    bench.say(f"rate limit: bridge ready in {ready:.1f} s; {limit:,}/min for the emulator")
    try:
        while not await _log_size(bench):
            if bridge.pid is None:
                raise RuntimeError("the bridge exited before its first delivery")
            await asyncio.sleep(0.05)
        first = (await _fetch_log(bench))[0].at
        start = first + config.rate_limit_warmup_s
        end = start + config.rate_limit_window_s
        bench.say(f"rate limit: measuring {config.rate_limit_window_s:.0f} s")
        while time.time() < end + 1.0:
            if bridge.pid is None:
                raise RuntimeError("the bridge exited during the rate-limit run")
            await asyncio.sleep(min(1.0, max(0.05, end + 1.0 - time.time())))
    finally:
        # Its in-flight records wait for the rate limiter: no point in a graceful drain.
        await asyncio.to_thread(bridge.stop, 5)
        await _set_emulator_limit(bench, 0)
    calls = await _fetch_log(bench)
    await _clear_log(bench)
    run = _rate_limit_run(
        config=config, limit=limit, backlog=len(records), calls=calls, start=start, end=end
    )
    if sum(c.accepted for c in calls) >= len(records):
        bench.results.notes.append("rate limit: the backlog ran out; the window is too long")
    bench.results.rate_limit = run
    bench.say(
        f"rate limit: {run.achieved_per_minute:,.0f}/min ({run.deviation:+.2%}), "
        f"{run.minus_32} × -32"
    )


def _rate_limit_run(  # noqa: PLR0913 - one run's measurements
    *,
    config: BenchConfig,
    limit: int,
    backlog: int,
    calls: Sequence[_Call],
    start: float,
    end: float,
) -> RateLimitRun:
    in_window = sum(1 for c in calls if c.accepted and start <= c.at < end)
    minutes = Counter(math.floor(c.at / 60) for c in calls)
    return RateLimitRun(
        limit_per_minute=limit,
        backlog=backlog,
        warmup_s=config.rate_limit_warmup_s,
        window_s=end - start,
        delivered_in_window=in_window,
        achieved_per_minute=in_window / (end - start) * 60,
        minus_32=sum(1 for c in calls if c.error == -32),  # noqa: PLR2004 - Zalo's rate limit code
        calls=len(calls),
        max_in_60s=max_in_window((c.at for c in calls), 60.0),
        max_in_calendar_minute=max(minutes.values(), default=0),
    )


# ---------------------------------------------------------------------------- the machine


def _machine(kafka: LocalKafka | None, bootstrap: str) -> Machine:
    cpu_model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    usable = str(len(os.sched_getaffinity(0))) if hasattr(os, "sched_getaffinity") else "?"
    with contextlib.suppress(OSError):
        quota = Path("/sys/fs/cgroup/cpu.max").read_text(encoding="ascii").split()
        if quota and quota[0] != "max":
            usable += f" (cgroup quota {int(quota[0]) / int(quota[1]):.2f} CPUs)"
    memory = "unknown"
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text(encoding="ascii").splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    libraries = {}
    for name in ("faststream", "aiokafka", "httpx", "httpx-aiohttp", "aiohttp", "pydantic"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            libraries[name] = importlib.metadata.version(name)
    if kafka is not None:
        kafka_text = f"Apache Kafka {kafka.version} (KRaft, single node, started by the run)"
        java = shutil.which("java")
        if java:
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                out = subprocess.run(  # noqa: S603 - the java found on PATH, fixed arguments
                    [java, "-version"], capture_output=True, text=True, timeout=30, check=False
                )
                kafka_text += f"; {(out.stderr or out.stdout).splitlines()[0].strip()}"
    else:
        kafka_text = f"existing cluster at {bootstrap} (version not read; dev kit's default is "
        kafka_text += f"{DEFAULT_KAFKA_VERSION})"
    return Machine(
        cpu_model=cpu_model,
        logical_cpus=os.cpu_count() or 0,
        usable_cpus=usable,
        memory=memory,
        os=platform.platform(),
        python=f"{platform.python_implementation()} {platform.python_version()}",
        kafka=kafka_text,
        libraries=libraries,
        bridge_revision=_bridge_revision(),
    )


def _bridge_revision() -> str:
    import bridge  # noqa: PLC0415 - only for its location

    root = Path(bridge.__file__).resolve().parents[2]
    git = shutil.which("git")
    if git is None or not (root / ".git").exists():
        return f"version {bridge.__version__}"
    try:
        head = subprocess.run(  # noqa: S603 - git with fixed arguments
            # The last commit that changed the bridge, not HEAD: docs-only commits do not count.
            [
                git,
                "-C",
                str(root),
                "log",
                "-1",
                "--format=%h",
                "--",
                "src/bridge",
                "pyproject.toml",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(  # noqa: S603 - git with fixed arguments
            [git, "-C", str(root), "status", "--porcelain", "--", "src/bridge", "pyproject.toml"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return f"version {bridge.__version__}"
    state = " with uncommitted changes in src/bridge" if dirty else ""
    return f"version {bridge.__version__}, git {head} (last commit to src/bridge){state}"


# ---------------------------------------------------------------------------- the run


def _settings_shown(config: BenchConfig) -> dict[str, str]:
    concurrency, connections, transport, _, _ = _bridge_http_defaults()
    return {
        "emulator latency": f"{config.latency_ms:g} ms",
        "throughput backlog (N)": f"{config.events:,} events, {config.events_per_case} per dossier",
        "partitions": str(config.partitions),
        "offered loads": ", ".join(
            f"{r:,.0f}/s" for r in sorted({*config.rates, config.fixed_rate})
        )
        + (" + the measured saturation throughput" if config.saturation_point else ""),
        "point length": f"{config.fixed_repeats} × {config.fixed_seconds:g} s at "
        f"{config.fixed_rate:,.0f}/s (latencies pooled), "
        f"{config.point_seconds:g} s otherwise, at most {config.point_max_events:,} events",
        "naive baseline": f"backlog {config.naive_events:,}, window {config.naive_seconds:g} s",
        "raw HTTP": f"{config.raw_http_seconds:g} s per client, {concurrency:,} concurrent "
        f"(the bridge's max_in_flight), pool {connections:,} (the bridge's), {transport}",
        "rate-limit run": f"{config.rate_limit_per_minute:,}/min, backlog "
        f"{config.rate_limit_backlog:,}, window {config.rate_limit_window_s:g} s after "
        f"{config.rate_limit_warmup_s:g} s",
    }


def _prepare_workdir(workdir: Path, *, own_broker: bool) -> None:
    # Only what a previous run of this harness left: never the rest of the directory.
    workdir.mkdir(parents=True, exist_ok=True)
    if own_broker:
        shutil.rmtree(workdir / "kafka", ignore_errors=True)
    for pattern in ("ledger-*.sqlite3*", "bridge-*.log", "emulator.log", "naive.log"):
        for path in workdir.glob(pattern):
            path.unlink(missing_ok=True)
    (workdir / "results.json").unlink(missing_ok=True)


async def _phase(bench: _Bench, name: str, step: Callable[[], Awaitable[None]]) -> None:
    began = time.monotonic()
    try:
        await step()
    except Exception as exc:  # noqa: BLE001 - a failed phase is reported, the others still run
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        bench.results.errors.append(f"{name}: {reason}")
        bench.say(f"{name} broke off: {reason}")
    else:
        bench.say(f"{name} done in {time.monotonic() - began:.0f} s")


async def _orchestrate(bench: _Bench) -> None:
    config = bench.config
    if config.bootstrap_servers is not None:
        bench.bootstrap = config.bootstrap_servers
        bench.say(f"broker: existing cluster at {bench.bootstrap}")
    else:
        began = time.monotonic()
        bench.kafka = LocalKafka(bench.workdir / "kafka")
        await asyncio.to_thread(bench.kafka.start)
        bench.bootstrap = bench.kafka.bootstrap_servers
        bench.say(f"broker ready at {bench.bootstrap} in {time.monotonic() - began:.1f} s")
    bench.results.machine = _machine(bench.kafka, bench.bootstrap)
    followers = bench.workdir / "followers.json"
    write_followers(followers, ())  # each phase makes its workload's recipients followers
    wanted = set(config.phases or PHASES)
    bench.zalo_url, emulator = await start_emulator_process(
        bench.processes,
        bench.workdir,
        access_token=ACCESS_TOKEN,
        followers=followers,
        latency_ms=config.latency_ms,
        rate_limit_per_minute=0,
        seed=config.seed,
    )
    bench.emulator_pid = emulator.pid
    bench.http = httpx.AsyncClient(base_url=bench.zalo_url, timeout=60.0)
    bench.say(f"emulator at {bench.zalo_url}, {config.latency_ms:g} ms, rate limit off")
    bench.base_env = clean_env()
    bench.supported = await asyncio.to_thread(supported_settings, bench.base_env)

    producer = await _producer(bench.bootstrap)
    try:
        saturation: list[tuple[str, int]] = []

        async def drain() -> None:
            saturation.append(await _saturation(bench, producer))

        async def consume() -> None:
            if not saturation:
                raise RuntimeError("no saturation topic to read")
            await _raw_consume(bench, *saturation[0])

        async def http() -> None:
            bodies = [_key(r) for r in await _workload(bench, 2_000, config.seed + 4)]
            await _raw_http(bench, bodies)

        async def pod() -> None:
            await _saturation(bench, producer, workers=config.workers)

        steps: dict[str, Callable[[], Awaitable[None]]] = {
            "saturation": drain,
            "workers": pod,
            "memory": lambda: _memory(bench, producer),
            "raw-consume": consume,
            "raw-http": http,
            "naive": lambda: _naive(bench, producer),
            "sweep": lambda: _sweep(bench, producer),
            "rate-limit": lambda: _rate_limit(bench, producer),
        }
        for name, step in steps.items():
            if name not in wanted or (name == "workers" and config.workers <= 1):
                continue
            if name == "memory" and not config.memory_points:
                continue
            await _phase(bench, name, step)
    finally:
        await producer.stop()


async def run_bench_async(config: BenchConfig) -> BenchResults:
    """Run the benchmark in the running event loop (see `run_bench`)."""
    say = config.progress or (lambda _line: None)
    results = BenchResults(
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        quick=config.quick,
        settings=_settings_shown(config),
    )
    workdir = config.workdir.resolve()
    _prepare_workdir(workdir, own_broker=config.bootstrap_servers is None)
    bench = _Bench(
        config=config,
        results=results,
        processes=Processes(),
        say=say,
        run_id=uuid.uuid4().hex[:8],
        workdir=workdir,
    )
    began = time.monotonic()
    try:
        async with asyncio.timeout(config.deadline_s):
            await _orchestrate(bench)
    except TimeoutError:
        results.errors.append(f"the deadline of {config.deadline_s:.0f} s passed")
    except Exception as exc:  # noqa: BLE001 - any failure becomes the report's error
        results.errors.append(f"set-up: {type(exc).__name__}: {exc}")
        say(f"run broke off: {exc}")
    finally:
        if bench.http is not None:
            await bench.http.aclose()
        await asyncio.to_thread(bench.processes.stop_all)
        if bench.kafka is not None:
            await asyncio.to_thread(bench.kafka.stop)
    results.duration_s = time.monotonic() - began
    machine = results.machine
    if machine is not None and (now := _bridge_revision()) != machine.bridge_revision:
        # Each phase starts a new bridge process, which runs the code as it is at that moment.
        results.notes.append(
            f"the bridge's code changed during the run: {machine.bridge_revision} at the start, "
            f"{now} at the end; later phases ran the newer code"
        )
    _write_outputs(config, results, workdir)
    return results


def _write_outputs(config: BenchConfig, results: BenchResults, workdir: Path) -> None:
    (workdir / "results.json").write_text(
        json.dumps(results.to_json(), ensure_ascii=False, indent=2, default=str), encoding="utf-8"
    )
    report, plot = config.report_path, config.plot_path
    drawn = config.draw_plot and render_plot(results, plot)
    plot_name = os.path.relpath(plot, report.parent) if drawn else None
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(render_markdown(results, plot_name), encoding="utf-8")


def run_bench(config: BenchConfig) -> BenchResults:
    """Run the benchmark and write its report.

    Starts (or uses) a broker, the Zalo OA emulator and, phase after phase, the bridge and the
    naive baseline as processes; measures them and the raw limits; writes `results.json` in
    the work directory, the Markdown report and the plot. Everything it started is stopped, by
    PID, before it returns.

    Args:
        config: The run's settings.

    Returns:
        The measurements; `errors` names the phases that broke off.
    """
    return run_blocking(run_bench_async(config))


# ---------------------------------------------------------------------------- CLI


def _say(line: str) -> None:
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {line}\n")
    sys.stderr.flush()


def _rates(text: str) -> tuple[float, ...]:
    return tuple(float(part) for part in text.split(",") if part.strip())


def _build_parser() -> argparse.ArgumentParser:
    defaults = BenchConfig(workdir=Path(".cache/bench"))
    parser = argparse.ArgumentParser(
        prog="python -m bridge_devkit.bench",
        description="Measure the bridge as a real process (throughput, latency vs offered load, "
        "RSS, CPU, rate-limit accuracy) beside a naive baseline and the raw limits, and write a "
        "Markdown report with a plot.",
    )
    parser.add_argument("--workdir", type=Path, default=defaults.workdir)
    parser.add_argument("--report", type=Path, help="Markdown report (default: WORKDIR/…)")
    parser.add_argument("--plot", type=Path, help="PNG plot (default: next to the report)")
    parser.add_argument("--quick", action="store_true", help="reduced sizes, a few minutes")
    parser.add_argument("--events", type=int, help=f"throughput backlog ({defaults.events:,})")
    parser.add_argument("--events-per-case", type=int)
    parser.add_argument("--partitions", type=int)
    parser.add_argument("--latency-ms", type=float, help="emulator latency (50)")
    parser.add_argument("--fixed-rate", type=float, help="offered load of the p99 target (500)")
    parser.add_argument("--fixed-seconds", type=float)
    parser.add_argument("--fixed-repeats", type=int, help="runs of the fixed-rate point (3)")
    parser.add_argument("--rates", type=_rates, help="other offered loads, e.g. 250,1000,2000")
    parser.add_argument("--point-seconds", type=float)
    parser.add_argument("--point-max-events", type=int)
    parser.add_argument("--no-saturation-point", action="store_true")
    parser.add_argument(
        "--no-plot", action="store_true", help="Write no PNG (matplotlib is not needed then)"
    )
    parser.add_argument("--naive-events", type=int)
    parser.add_argument("--naive-seconds", type=float)
    parser.add_argument("--raw-http-seconds", type=float)
    parser.add_argument("--rate-limit", type=int, dest="rate_limit_per_minute")
    parser.add_argument("--rate-limit-backlog", type=int)
    parser.add_argument("--rate-limit-window", type=float, dest="rate_limit_window_s")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--workers", type=int, help="worker processes of the second drain (2)")
    parser.add_argument("--workers-events", type=int, help="its backlog (10,000)")
    parser.add_argument(
        "--memory-points",
        type=_memory_points,
        help="the memory phase's drains, fewest dossiers first, as EVENTS:DOSSIERS,… "
        "(default 20000:5000,100000:100000: peak RSS at 5,000 and at 100,000 distinct "
        "dossiers; one event per dossier in the second)",
    )
    parser.add_argument(
        "--phases",
        type=_phases,
        help=f"run only these phases, comma-separated, of: {', '.join(PHASES)} (default: all; "
        "raw-consume reads the saturation phase's topic, so it needs saturation)",
    )
    parser.add_argument(
        "--bridge-env",
        action="append",
        type=_setting,
        default=[],
        metavar="BRIDGE_X=V",
        help="an extra setting of the bridge under test (repeatable), for A/B runs",
    )
    parser.add_argument("--deadline", type=float, dest="deadline_s", help="seconds")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    return parser


def _memory_points(text: str) -> tuple[tuple[int, int], ...]:
    points: list[tuple[int, int]] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        events, sep, cases = part.partition(":")
        if not sep or not events.isdigit() or not cases.isdigit():
            raise argparse.ArgumentTypeError(f"expected EVENTS:DOSSIERS, got {part!r}")
        if not 1 <= int(cases) <= int(events):
            raise argparse.ArgumentTypeError(f"{part}: at least one event per dossier")
        points.append((int(events), int(cases)))
    return tuple(points)


def _phases(text: str) -> tuple[str, ...]:
    names = tuple(p.strip() for p in text.split(",") if p.strip())
    unknown = [name for name in names if name not in PHASES]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown phases {unknown}; known: {', '.join(PHASES)}")
    return names


def _setting(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.startswith("BRIDGE_"):
        raise argparse.ArgumentTypeError(f"expected BRIDGE_NAME=value, got {text!r}")
    return name, value


_OVERRIDES: Final = (
    "events",
    "events_per_case",
    "partitions",
    "latency_ms",
    "fixed_rate",
    "fixed_seconds",
    "fixed_repeats",
    "rates",
    "point_seconds",
    "point_max_events",
    "naive_events",
    "naive_seconds",
    "raw_http_seconds",
    "rate_limit_per_minute",
    "rate_limit_backlog",
    "rate_limit_window_s",
    "seed",
    "deadline_s",
    "workers",
    "workers_events",
    "memory_points",
    "phases",
)


def config_from_args(args: argparse.Namespace) -> BenchConfig:
    """Build the configuration from parsed arguments (`--quick` first, then each option)."""
    changes: dict[str, Any] = {
        name: getattr(args, name) for name in _OVERRIDES if getattr(args, name) is not None
    }
    changes |= {
        "report": args.report,
        "plot": args.plot,
        "bootstrap_servers": os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or None,
        "progress": _say,
    }
    if args.bridge_env:
        changes["bridge_env"] = tuple(args.bridge_env)
    if args.no_saturation_point:
        changes["saturation_point"] = False
    if args.no_plot:
        changes["draw_plot"] = False
    if args.quick:
        return BenchConfig.quick_preset(args.workdir, **changes)
    return dataclasses.replace(BenchConfig(workdir=args.workdir), **changes)


def _summary(results: BenchResults) -> Iterable[str]:
    for target in evaluate_targets(results):
        yield f"{target.verdict:<13} {target.name}: {target.measured} (wanted {target.target})"
    for error in results.errors:
        yield f"broke off: {error}"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark from the command line.

    Returns:
        0 when every phase ran (whatever the targets say: the report tells), else 1.
    """
    args = _build_parser().parse_args(argv)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    config = config_from_args(args)

    def interrupted(_signo: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    try:
        results = run_bench(config)
    except KeyboardInterrupt:
        _say("interrupted; everything this run started has been stopped")
        return 130
    if args.json:
        sys.stdout.write(json.dumps(results.to_json(), ensure_ascii=False, indent=2) + "\n")
    else:
        sys.stdout.write("\n".join(_summary(results)) + "\n")
        sys.stdout.write(f"report: {config.report_path}\n")
    return 1 if results.errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
