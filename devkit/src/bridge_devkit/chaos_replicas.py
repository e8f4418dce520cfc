"""The multi-replica chaos run: replicas on PostgreSQL, scaled and killed, under outages.

Several bridge processes share one consumer group and one PostgreSQL store, as pods do. While the
workload flows, the run scales the group up and down (SIGTERM, with the pod's grace period, then
SIGKILL), kills replicas with SIGKILL, takes Zalo down for longer than a rebalance and rebalances
during it, restarts the broker and restarts PostgreSQL. Then it checks, from the emulator's
record and a ``read_committed`` reader: nothing lost, nothing twice, order kept per dossier,
every poison record dead-lettered, **exactly one status event per input record**, committed
offsets that **never go back**, and the time from the last fault to a lag of 0.

By default every replica runs with the settings the Helm chart ships (bridge's defaults: lease,
timeouts, breaker, grace); ``fast_timings`` shortens them for the reduced run in ``make test``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import logging
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import psycopg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from bridge.zalo.token_cipher import new_key
from bridge_devkit.chaos import (
    ChaosReport,
    CheckResult,
    Observations,
    WorkloadSpec,
    accepted_messages,
    generate_workload,
    verify,
    write_report,
)
from bridge_devkit.chaos import _calm as calm_emulator
from bridge_devkit.chaos import _dead_letter as dead_letter
from bridge_devkit.chaos import _Publisher as Publisher
from bridge_devkit.chaos import _start_emulator as start_emulator
from bridge_devkit.clock_settings import always_day_env
from bridge_devkit.emulator import EmulatorConfig
from bridge_devkit.harness import (
    BridgeProcess,
    Processes,
    clean_env,
    committed_offsets,
    create_topics,
    read_committed,
    run_blocking,
)
from bridge_devkit.kafka import LocalKafka
from bridge_devkit.postgres import LocalPostgres

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "CHECK_ANNOUNCEMENT",
    "CHECK_OFFSETS",
    "CHECK_RECOVERY",
    "CHECK_SCALING",
    "CHECK_STOPS",
    "CHECK_TOKENS",
    "ReplicaChaosConfig",
    "main",
    "run_replica_chaos",
    "run_replica_chaos_async",
]

CHECK_OFFSETS = "committed offsets never go back"
CHECK_RECOVERY = "lag 0 within 60 s of the last fault"
CHECK_SCALING = "scaled, killed and restarted as planned"
CHECK_ANNOUNCEMENT = "the announcement reached every follower once"
CHECK_TOKENS = "each refresh token spent once"
CHECK_STOPS = "replicas stopped by SIGTERM exit 0 within the grace"
ANNOUNCEMENTS = "government-announcements"
_AUDIENCE_BASE = 7_200_000_000_000_000
RECOVERY_LIMIT_S = 60.0
_FAST_TIMINGS = {
    "BRIDGE_ZALO__TIMEOUT_SECONDS": "2",
    "BRIDGE_ZALO__CONNECT_TIMEOUT_SECONDS": "1",
    "BRIDGE_KAFKA__SESSION_TIMEOUT_MS": "6000",
    "BRIDGE_DELIVERY__LEASE_SECONDS": "5",
    "BRIDGE_DELIVERY__ATTEMPT_BUDGET_SECONDS": "10",
    "BRIDGE_DELIVERY__INITIAL_BACKOFF_SECONDS": "0.05",
    "BRIDGE_DELIVERY__MAX_BACKOFF_SECONDS": "0.5",
    "BRIDGE_DELIVERY__REDELIVERY_PAUSE_SECONDS": "0.5",
    "BRIDGE_DELIVERY__BREAKER_OPEN_SECONDS": "1",
    "BRIDGE_DELIVERY__BREAKER_MAX_OPEN_SECONDS": "2",
    "BRIDGE_DELIVERY__IN_DOUBT_SETTLE_SECONDS": "0.2",
}
"""Shorter timings for the reduced run in ``make test``; the full run sets none of them."""


@dataclass(frozen=True, slots=True)
class ReplicaChaosConfig:
    """One multi-replica run.

    Attributes:
        workdir: Logs, the broker's and PostgreSQL's data, ``report.json``.
        events: Input records in all.
        cases: Dossiers.
        partitions: Partitions of the input and status topics.
        replicas: Replicas at the start.
        scale_steps: The replica counts the group is scaled to, in turn.
        kills: SIGKILLs of random replicas (each restarted in its slot, like a pod).
        outage_s: How long Zalo answers 503 to every call; a scale step (or a kill) happens
            during it, so the outage overlaps a rebalance.
        broker_restarts: Broker stops and starts.
        postgres_restarts: PostgreSQL stops and starts.
        poison_ratio: Share of invalid records (six forms, hostile ones included).
        audience: Followers an announcement is published to while replicas are being killed
            (0: none).
        token_life_s: Lifetime of the OA access tokens the emulator issues: the replicas share
            managed tokens (OAuth v4) in the store and refresh them during the run.
        publish_seconds: How long publishing the workload takes.
        fast_timings: Shorter bridge timings (lease, breaker, timeouts); False keeps the chart's.
        grace_s: The pod's termination grace: SIGKILL after that long past SIGTERM.
        bridge_pythonpath: Put first on the replicas' PYTHONPATH (to measure another checkout).
        seed: Seeds the workload and the schedule.
        deadline_s: Upper bound on the whole run.
        drain_limit_s: How long to wait for the group to commit everything at the end.
        progress: Receives one line per step.
    """

    workdir: Path
    events: int = 6_000
    cases: int = 500
    partitions: int = 12
    replicas: int = 3
    scale_steps: tuple[int, ...] = (5, 2, 3)
    kills: int = 7
    outage_s: float = 35.0
    broker_restarts: int = 1
    postgres_restarts: int = 1
    poison_ratio: float = 0.01
    audience: int = 300
    token_life_s: float = 60.0
    publish_seconds: float = 150.0
    fast_timings: bool = False
    grace_s: float = 45.0
    bridge_pythonpath: str | None = None
    seed: int = 20261205
    deadline_s: float = 1_500.0
    drain_limit_s: float = 240.0
    progress: Callable[[str], None] | None = field(default=None, compare=False, repr=False)


@dataclass(slots=True)
class _Stop:
    slot: int
    seconds: float
    status: int | None
    killed_after_grace: bool


@dataclass(slots=True)
class _Replicas:
    """The replica slots, like a Deployment's pods: each has its transactional id."""

    processes: Processes
    base_env: dict[str, str]
    workdir: Path
    say: Callable[[str], None]
    group: str
    broker_down: Callable[[], bool]
    slots: dict[int, BridgeProcess] = field(default_factory=dict)
    stops: list[_Stop] = field(default_factory=list)
    kills: int = 0
    starts: int = 0

    def start(self, slot: int) -> None:
        env = {**self.base_env, "BRIDGE_KAFKA__TRANSACTIONAL_ID": f"{self.group}-r{slot}"}
        bridge = BridgeProcess(
            self.processes,
            env,
            self.workdir / f"bridge-r{slot}.log",
            self.say,
            broker_down=self.broker_down,
        )
        bridge.start()
        self.slots[slot] = bridge
        self.starts += 1

    def running(self) -> list[int]:
        return sorted(self.slots)

    def tend(self) -> None:
        for bridge in self.slots.values():
            bridge.tend()

    async def scale_to(self, count: int, grace_s: float) -> None:
        current = self.running()
        if count > len(current):
            free = [s for s in range(count + len(current)) if s not in self.slots]
            for slot in free[: count - len(current)]:
                self.start(slot)
            self.say(f"scaled up to {count} replicas: {self.running()}")
            return
        leaving = current[count:]
        await asyncio.gather(*(self.stop(slot, grace_s) for slot in leaving))
        self.say(f"scaled down to {count} replicas: {self.running()}")

    async def stop(self, slot: int, grace_s: float) -> None:
        """SIGTERM, then SIGKILL after the grace (as the kubelet does); record how it ended."""
        bridge = self.slots.pop(slot)
        process, bridge.process = bridge.process, None
        if process is None or process.poll() is not None:
            return
        began = time.monotonic()
        process.send_signal(signal.SIGTERM)
        killed = False
        try:
            status = await asyncio.to_thread(process.wait, grace_s)
        except subprocess.TimeoutExpired:
            process.kill()
            status = await asyncio.to_thread(process.wait, 10)
            killed = True
            # What it was doing goes to the progress lines (CI shows them, not the workdir).
            tail = bridge.log.read_text(errors="replace").splitlines()[-25:]
            self.say(f"replica r{slot} outlived the grace; its log ends with:\n" + "\n".join(tail))
        took = time.monotonic() - began
        self.stops.append(_Stop(slot, round(took, 1), status, killed))
        self.say(f"replica r{slot} stopped (SIGTERM) in {took:.1f} s, status {status}")

    def kill(self, rng: random.Random) -> int | None:
        alive = [s for s, b in self.slots.items() if b.pid is not None]
        if not alive:
            return None
        slot = rng.choice(alive)
        self.slots[slot].kill()  # restarted at once in its slot
        self.kills += 1
        return slot

    async def stop_all(self, grace_s: float) -> None:
        await asyncio.gather(*(self.stop(slot, grace_s) for slot in self.running()))

    async def wait_started(self, timeout: float) -> None:
        """Until every replica answers /health/live (ready is not needed: Zalo may be down)."""
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2.0) as http:
            for bridge in list(self.slots.values()):
                while True:
                    bridge.tend()
                    with contextlib.suppress(httpx.HTTPError):
                        if (await http.get(f"{bridge.url}/health/live")).status_code == 204:  # noqa: PLR2004
                            break
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"a replica did not start; see {bridge.log}")
                    await asyncio.sleep(0.2)


@dataclass(slots=True)
class _State:
    config: ReplicaChaosConfig
    report: ChaosReport
    say: Callable[[str], None]
    rng: random.Random
    topics: tuple[str, str, str] = ("", "", "")
    group: str = ""
    kafka: LocalKafka | None = None
    postgres: LocalPostgres | None = None
    http: httpx.AsyncClient | None = None
    replicas: _Replicas | None = None
    publisher: Publisher | None = None
    last_fault_end: float = 0.0
    committed_seen: dict[int, int] = field(default_factory=dict)
    went_back: list[str] = field(default_factory=list)
    max_lag: int = 0
    last_lag: int = 0
    broker_down: bool = False
    broker_restarts: int = 0
    postgres_restarts: int = 0
    outages: list[float] = field(default_factory=list)
    rebalance_in_outage: bool = False
    stops_in_run: list[_Stop] = field(default_factory=list)
    audience: tuple[str, ...] = ()
    announcement_id: str = ""
    announced_at: float = 0.0
    announcement_counts: Counter[str] = field(default_factory=Counter)
    refreshes: list[dict[str, Any]] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)


async def run_replica_chaos_async(config: ReplicaChaosConfig) -> ChaosReport:
    """Run the multi-replica chaos in the running event loop; see the module's docstring."""
    report = ChaosReport()
    state = _State(
        config,
        report,
        config.progress or (lambda _line: None),
        random.Random(config.seed),  # noqa: S311 - a reproducible schedule, not crypto
    )
    processes = Processes()
    tasks: list[asyncio.Task[Any]] = []
    observations: Observations | None = None
    try:
        async with asyncio.timeout(config.deadline_s):
            observations = await _orchestrate(state, processes, tasks)
    except TimeoutError:
        report.error = f"the deadline of {config.deadline_s:.0f} s passed"
    except Exception as exc:  # noqa: BLE001 - any failure becomes the report's error
        report.error = f"{type(exc).__name__}: {exc}"
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if state.replicas is not None:
            with contextlib.suppress(Exception):
                await state.replicas.stop_all(config.grace_s)
        if state.http is not None:
            await state.http.aclose()
        await asyncio.to_thread(processes.stop_all)
        if state.kafka is not None:
            await asyncio.to_thread(state.kafka.stop)
        if state.postgres is not None:
            await asyncio.to_thread(state.postgres.stop)
    _finish(state, observations)
    write_report(report, config.workdir)
    return report


def run_replica_chaos(config: ReplicaChaosConfig) -> ChaosReport:
    """Run the multi-replica chaos; everything it started is stopped, by PID, before it returns."""
    return run_blocking(run_replica_chaos_async(config))


async def _orchestrate(
    state: _State, processes: Processes, tasks: list[asyncio.Task[Any]]
) -> Observations:
    config = state.config
    workdir = config.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    for stale in [*workdir.glob("bridge-r*.log"), workdir / "report.json"]:
        stale.unlink(missing_ok=True)
    run_id = uuid.uuid4().hex[:8]
    workload = generate_workload(
        WorkloadSpec(
            events=config.events,
            cases=config.cases,
            seed=config.seed,
            invalid_ratio=config.poison_ratio,
            non_follower_ratio=0.02,
            duplicate_ratio=0.01,
            stale_ratio=0.01,
        )
    )
    state.say(f"workload: {len(workload.records)} records over {len(workload.cases)} cases")
    state.kafka = LocalKafka(workdir / f"kafka-{run_id}")
    await asyncio.to_thread(state.kafka.start)
    state.postgres = LocalPostgres(workdir / f"postgres-{run_id}")
    await asyncio.to_thread(state.postgres.start)
    bootstrap = state.kafka.bootstrap_servers
    state.topics = ("case-state-events", "case-state-events.dlq", "case-state-events.status")
    state.group = f"zalo-bridge-chaos-{run_id}"
    await create_topics(
        bootstrap,
        {
            state.topics[0]: config.partitions,
            state.topics[1]: 1,
            state.topics[2]: config.partitions,
            ANNOUNCEMENTS: 1,
            f"{ANNOUNCEMENTS}.dlq": 1,
        },
    )
    # The single-process run's helpers read only http, config and say from their run.
    view: Any = _RunView(state, processes)
    zalo_url = await start_emulator(view, processes, workdir, workload)
    state.http = httpx.AsyncClient(base_url=zalo_url, timeout=30.0)
    env = {
        **clean_env(),
        "BRIDGE_KAFKA__BOOTSTRAP_SERVERS": bootstrap,
        "BRIDGE_KAFKA__INPUT_TOPIC": state.topics[0],
        "BRIDGE_KAFKA__DEAD_LETTER_TOPIC": state.topics[1],
        "BRIDGE_KAFKA__STATUS_TOPIC": state.topics[2],
        "BRIDGE_KAFKA__CONSUMER_GROUP": state.group,
        "BRIDGE_ZALO__BASE_URL": zalo_url,
        "BRIDGE_STORE__URL": state.postgres.dsn,
        "BRIDGE_ANNOUNCEMENTS__TOPIC": ANNOUNCEMENTS,
        "BRIDGE_ANNOUNCEMENTS__DEAD_LETTER_TOPIC": f"{ANNOUNCEMENTS}.dlq",
        **_managed_tokens(zalo_url),
        "BRIDGE_LOG__FORMAT": "json",
        # Every event is sent at once, day or night: no quiet hours, no announcement night.
        **always_day_env(),
        **(_FAST_TIMINGS if config.fast_timings else {}),
    }
    if config.bridge_pythonpath:
        env["PYTHONPATH"] = ":".join(
            filter(None, [config.bridge_pythonpath, env.get("PYTHONPATH")])
        )
        state.report.notes.append(f"bridge run from {config.bridge_pythonpath}")
    state.report.figures["bridge settings"] = (
        "shortened for the reduced run" if config.fast_timings else "the chart's defaults"
    )
    await _authorize(state, env)
    replicas = state.replicas = _Replicas(
        processes, env, workdir, state.say, state.group, lambda: state.broker_down
    )
    for slot in range(config.replicas):
        replicas.start(slot)
    await replicas.wait_started(120)
    for bridge in replicas.slots.values():
        await bridge.wait_ready(120)
    state.say(f"{config.replicas} replicas ready on PostgreSQL")
    await _enrol_audience(state)

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    try:
        rate = config.events / config.publish_seconds
        state.publisher = Publisher(producer, state.topics[0], workload.records, rate)
        tasks.append(asyncio.create_task(_tend(replicas)))
        tasks.append(asyncio.create_task(_watch_offsets(state, bootstrap)))
        publishing = asyncio.create_task(state.publisher.run())
        tasks.append(publishing)
        await _install_transient_faults(state)
        await asyncio.gather(publishing, _schedule(state))
        await calm_emulator(view)
    finally:
        await producer.stop()
    return await _drain_and_observe(state, bootstrap)


@dataclass(slots=True)
class _RunView:
    """What the single-process chaos helpers read from their run, taken from this one."""

    state: _State
    processes: Processes

    @property
    def http(self) -> httpx.AsyncClient:
        assert self.state.http is not None  # noqa: S101 - set before use
        return self.state.http

    @property
    def config(self) -> Any:
        return _ViewConfig(self.state.config.seed)

    @property
    def say(self) -> Callable[[str], None]:
        return self.state.say


@dataclass(frozen=True, slots=True)
class _ViewConfig:
    seed: int


async def _install_transient_faults(state: _State) -> None:
    """Zalo's random faults for the whole run: 5xx, late answers (in doubt), dropped connections.

    Unlike the single-process run, no random ``-200`` "Send message failed": with the chart's
    default retries, two of them in a row are a refusal, and bridge dead-letters the event as it
    should; that outcome is the cascade's tests' business, not a fault this run measures.
    """
    http = state.http
    assert http is not None  # noqa: S101
    late_ms = (2.0 if state.config.fast_timings else 10.0) * 1000 + 500
    faults = [
        {"kind": "http", "status": 503, "probability": 0.005},
        {"kind": "http", "status": 500, "probability": 0.005},
        {"kind": "delay", "ms": late_ms, "probability": 0.002},
        {"kind": "drop", "probability": 0.002},
    ]
    (await http.post("/_emulator/faults", json=faults)).raise_for_status()


async def _tend(replicas: _Replicas) -> None:
    while True:
        replicas.tend()
        await asyncio.sleep(0.25)


async def _schedule(state: _State) -> None:
    """The faults, one after another, spread over the publishing time."""
    config = state.config
    replicas, publisher = state.replicas, state.publisher
    assert replicas is not None  # noqa: S101 - set before
    assert publisher is not None  # noqa: S101 - set before
    steps: list[tuple[str, Any]] = [("kill", None)] * config.kills
    steps += [("scale", n) for n in config.scale_steps]
    steps += [("broker", None)] * config.broker_restarts
    steps += [("postgres", None)] * config.postgres_restarts
    state.rng.shuffle(steps)
    if config.audience > 0:
        first_kill = next((i for i, (kind, _) in enumerate(steps) if kind == "kill"), 0)
        steps.insert(first_kill, ("announce", None))
    if config.outage_s > 0:
        # The outage comes early enough to be followed by more, and it rebalances the group.
        steps.insert(max(1, len(steps) // 3), ("outage", None))
    gap = config.publish_seconds * 0.85 / (len(steps) + 1)
    state.say(
        "schedule: " + ", ".join(f"{kind}{'' if arg is None else arg}" for kind, arg in steps)
    )
    for index, (kind, arg) in enumerate(steps):
        await publisher.reached((index + 1) * config.events * 0.85 / (len(steps) + 1))
        began = time.monotonic()
        if kind == "kill":
            await asyncio.sleep(state.rng.uniform(0.2, 1.5))
            slot = replicas.kill(state.rng)
            state.say(f"kill -9 replica r{slot} (lag {state.last_lag})")
        elif kind == "scale":
            await replicas.scale_to(arg, config.grace_s)
        elif kind == "broker":
            await _restart_broker(state)
        elif kind == "postgres":
            await _restart_postgres(state)
        elif kind == "outage":
            await _outage(state)
        elif kind == "announce":
            await _announce(state)
            continue  # not a fault: the kill that follows is
        state.last_fault_end = time.monotonic()
        await asyncio.sleep(max(0.0, gap - (time.monotonic() - began)) / 4)


async def _outage(state: _State) -> None:
    """Zalo down for ``outage_s``; a rebalance (scale or kill) a few seconds into it."""
    config, http, replicas = state.config, state.http, state.replicas
    assert http is not None  # noqa: S101
    assert replicas is not None  # noqa: S101
    state.say(f"Zalo outage for {config.outage_s:.0f} s (503 on every call)")
    fault = {"kind": "http", "status": 503, "probability": 1, "duration_s": config.outage_s}
    (await http.post("/_emulator/faults", json=fault)).raise_for_status()
    began = time.monotonic()
    await asyncio.sleep(min(5.0, config.outage_s / 4))
    if len(replicas.running()) > 2:  # noqa: PLR2004 - keep two through the outage
        await replicas.scale_to(len(replicas.running()) - 1, config.grace_s)
    else:
        await replicas.scale_to(len(replicas.running()) + 1, config.grace_s)
    state.rebalance_in_outage = time.monotonic() - began < config.outage_s
    await asyncio.sleep(max(0.0, config.outage_s - (time.monotonic() - began)))
    state.outages.append(round(time.monotonic() - began, 1))
    state.say("Zalo back")


async def _restart_broker(state: _State) -> None:
    kafka, publisher = state.kafka, state.publisher
    assert kafka is not None  # noqa: S101
    assert publisher is not None  # noqa: S101
    await publisher.pause()
    state.say("broker: stopping (publishing paused)")
    state.broker_down = True
    try:
        await asyncio.to_thread(kafka.stop)
        await asyncio.sleep(state.rng.uniform(1.0, 3.0))
        await asyncio.to_thread(kafka.start)
    finally:
        state.broker_down = False
    state.broker_restarts += 1
    publisher.resume()
    state.say("broker: back")


async def _restart_postgres(state: _State) -> None:
    postgres = state.postgres
    assert postgres is not None  # noqa: S101
    state.say("PostgreSQL: stopping")
    await asyncio.to_thread(postgres.stop)
    await asyncio.sleep(state.rng.uniform(2.0, 5.0))
    await asyncio.to_thread(postgres.start)
    state.postgres_restarts += 1
    state.say("PostgreSQL: back")


@dataclass(slots=True)
class _Clients:
    admin: AIOKafkaAdminClient | None = None
    ends: AIOKafkaConsumer | None = None

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            if self.admin is not None:
                await self.admin.close()
            if self.ends is not None:
                await self.ends.stop()
        self.admin, self.ends = None, None


async def _watch_offsets(state: _State, bootstrap: str) -> None:
    """Twice a second: every partition's committed offset (never lower than seen) and the lag."""
    partitions = [TopicPartition(state.topics[0], p) for p in range(state.config.partitions)]
    clients = _Clients()
    try:
        while True:
            try:
                if clients.admin is None or clients.ends is None:
                    clients.admin = AIOKafkaAdminClient(
                        bootstrap_servers=bootstrap, request_timeout_ms=5000
                    )
                    await clients.admin.start()
                    clients.ends = AIOKafkaConsumer(
                        bootstrap_servers=bootstrap, enable_auto_commit=False
                    )
                    await clients.ends.start()
                async with asyncio.timeout(5):
                    committed = await clients.admin.list_consumer_group_offsets(
                        state.group, partitions=partitions
                    )
                    end = await clients.ends.end_offsets(partitions)
                _note_offsets(state, committed, end, partitions)
            except (KafkaError, OSError, TimeoutError):
                await clients.close()
            await asyncio.sleep(0.5)
    finally:
        await clients.close()


def _note_offsets(
    state: _State, committed: dict[Any, Any], end: dict[Any, int], partitions: list[Any]
) -> None:
    for tp, meta in committed.items():
        if meta.offset < 0:
            continue
        seen = state.committed_seen.get(tp.partition, -1)
        if meta.offset < seen:
            state.went_back.append(f"p{tp.partition}: {seen} → {meta.offset}")
        state.committed_seen[tp.partition] = max(seen, meta.offset)
    lag = sum(
        end[tp] - max(committed[tp].offset, 0) if tp in committed else end[tp] for tp in partitions
    )
    state.last_lag = lag
    state.max_lag = max(state.max_lag, lag)


async def _drain_and_observe(state: _State, bootstrap: str) -> Observations:
    publisher, http = state.publisher, state.http
    assert publisher is not None  # noqa: S101
    assert http is not None  # noqa: S101
    ends = publisher.end_offsets()
    quiet_from = max(state.last_fault_end, publisher.finished_at)
    replicas = state.replicas
    assert replicas is not None  # noqa: S101
    committed: dict[int, int] = {}
    while True:
        with contextlib.suppress(KafkaError, OSError):
            committed = await committed_offsets(bootstrap, state.group, state.topics[0])
        if all(committed.get(p, 0) >= end for p, end in ends.items()):
            break
        if time.monotonic() - quiet_from > state.config.drain_limit_s:
            state.report.notes.append("the group had not committed everything in time")
            break
        await asyncio.sleep(0.5)
    recovered = time.monotonic() - quiet_from
    state.report.figures["time from the last fault (or the last record) to lag 0 (s)"] = round(
        recovered, 1
    )
    await _wait_for_announcement(state)
    state.say(f"lag 0 {recovered:.1f} s after the last fault or record; reading the results")
    await asyncio.sleep(1.0)  # the last transaction markers, and any late duplicate
    log = (await http.get("/_emulator/messages", params={"status": "all"})).json()["messages"]
    audience = set(state.audience)
    announced = [m for m in log if m.get("accepted") and m.get("user_id") in audience]
    state.report.figures["announcement messages"] = len(announced)
    state.announcement_counts = Counter(str(m["user_id"]) for m in announced)
    state.refreshes = (await http.get("/_emulator/oauth/refresh-log")).json()["attempts"]
    log = [m for m in log if m.get("user_id") not in audience]
    accepted = accepted_messages(log)
    dlq_records = await read_committed(bootstrap, state.topics[1])
    status_records = await read_committed(bootstrap, state.topics[2])
    state.stops_in_run = list(replicas.stops)  # the teardown's stops are not the run's
    return Observations(
        topic=state.topics[0],
        published=tuple(sorted(publisher.published, key=lambda p: p.planned.index)),
        accepted=accepted,
        dead_letters=tuple(dead_letter(record) for record in dlq_records),
        statuses=tuple(bytes(record.value or b"") for record in status_records),
        committed=committed,
        end_offsets=ends,
    )


def _finish(state: _State, observations: Observations | None) -> None:
    report, config = state.report, state.config
    checks = [CheckResult("run completed", report.error is None, report.error or "completed")]
    figures: dict[str, object] = {}
    if observations is not None:
        checks += verify(observations)
        figures.update(_status_spread(observations))
        figures["records published"] = len(observations.published)
        figures["messages accepted by Zalo"] = len(observations.accepted)
        figures["DLQ records"] = len(observations.dead_letters)
    back = state.went_back
    checks.append(
        CheckResult(
            CHECK_OFFSETS,
            ok=not back,
            detail="no decrease seen" if not back else "; ".join(back[:6]),
            violations=len(back),
        )
    )
    recovered = report.figures.get("time from the last fault (or the last record) to lag 0 (s)")
    recovery_ok = isinstance(recovered, float | int) and recovered <= RECOVERY_LIMIT_S
    checks.append(CheckResult(CHECK_RECOVERY, recovery_ok, f"{recovered} s"))
    if config.audience > 0:
        checks.append(_check_announcement(state))
    checks.append(_check_tokens(state, figures))
    replicas = state.replicas
    kills = replicas.kills if replicas is not None else 0
    stops = state.stops_in_run
    planned = (
        kills >= config.kills
        and state.broker_restarts >= config.broker_restarts
        and state.postgres_restarts >= config.postgres_restarts
        and (config.outage_s <= 0 or state.rebalance_in_outage)
    )
    checks.append(
        CheckResult(
            CHECK_SCALING,
            planned,
            f"{kills} kills, {len(stops)} SIGTERM stops, {state.broker_restarts} broker and "
            f"{state.postgres_restarts} PostgreSQL restarts, outage over a rebalance: "
            f"{state.rebalance_in_outage}",
        )
    )
    unclean = [s for s in stops if s.status != 0 or s.killed_after_grace]
    checks.append(
        CheckResult(
            CHECK_STOPS,
            ok=bool(stops) and not unclean,
            detail=f"{len(stops) - len(unclean)} of {len(stops)} clean; slowest "
            f"{max((s.seconds for s in stops), default=0):.1f} s of {config.grace_s:.0f} s",
            violations=len(unclean),
        )
    )
    report.checks = checks
    figures.update(
        {
            "kills (SIGKILL)": kills,
            "replica starts": replicas.starts if replicas is not None else 0,
            "SIGTERM stops (s, status)": [(s.seconds, s.status) for s in stops],
            "SIGKILLed after the grace": sum(1 for s in stops if s.killed_after_grace),
            "Zalo outages (s)": state.outages,
            "broker restarts": state.broker_restarts,
            "PostgreSQL restarts": state.postgres_restarts,
            "max consumer lag": state.max_lag,
            "duration (s)": round(time.monotonic() - state.started, 1),
        }
    )
    report.figures = {**figures, **report.figures}


def _status_spread(observations: Observations) -> dict[str, object]:
    """How many input records got 0, 1, 2, 3+ status events."""
    topic = observations.topic
    counts = dict.fromkeys(((topic, p.partition, p.offset) for p in observations.published), 0)
    for value in observations.statuses:
        with contextlib.suppress(ValueError, KeyError, TypeError):
            source = json.loads(value)["source"]
            coords = (source["topic"], source["partition"], source["offset"])
            if coords in counts:
                counts[coords] += 1
    spread = {"0": 0, "1": 0, "2": 0, "3+": 0}
    for count in counts.values():
        spread["3+" if count >= 3 else str(count)] += 1  # noqa: PLR2004
    return {"records with 0 / 1 / 2 / 3+ status events": spread}


# ---------------------------------------------------------------------------- tokens, announcements


def _managed_tokens(zalo_url: str) -> dict[str, str]:
    """OAuth v4 tokens kept in the shared store, refreshed by whichever replica gets there first."""
    app = EmulatorConfig()
    return {
        "BRIDGE_ZALO__OAUTH_BASE_URL": zalo_url,
        "BRIDGE_ZALO__APP_ID": app.app_id,
        "BRIDGE_ZALO__APP_SECRET": app.app_secret,
        "BRIDGE_ZALO__OA_ID": app.oa_id,
        "BRIDGE_ZALO__TOKEN_ENCRYPTION_KEY": new_key(),
    }


async def _authorize(state: _State, env: dict[str, str]) -> None:
    """Short-lived access tokens, and the OA admin's consent exchanged by the CLI."""
    http = state.http
    assert http is not None  # noqa: S101
    life = {"access_token_lifetime_s": state.config.token_life_s}
    (await http.put("/_emulator/oauth/config", json=life)).raise_for_status()
    verifier = "v" * 43
    issued = await http.post("/_emulator/oauth/codes", json={"code_verifier": verifier})
    issued.raise_for_status()
    argv = [sys.executable, "-m", "bridge", "zalo", "authorize"]
    argv += ["--code", issued.json()["code"], "--code-verifier", verifier]
    process = await asyncio.create_subprocess_exec(
        *argv, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await asyncio.wait_for(process.communicate(), 120)
    if process.returncode != 0:
        raise RuntimeError(f"zalo-bridge zalo authorize failed: {output.decode()[-500:]}")
    state.say(f"OA authorized; access tokens live {state.config.token_life_s:.0f} s")


async def _enrol_audience(state: _State) -> None:
    """Followers of the OA known to the store (the announcement's audience), not in the workload."""
    count, http, postgres = state.config.audience, state.http, state.postgres
    if count <= 0:
        return
    assert http is not None  # noqa: S101
    assert postgres is not None  # noqa: S101
    users = tuple(str(_AUDIENCE_BASE + n) for n in range(count))
    body = [{"user_id": u, "display_name": f"Công dân {u[-4:]}"} for u in users]
    (await http.put("/_emulator/followers", json=body)).raise_for_status()

    def insert() -> None:
        now = time.time()
        with psycopg.connect(postgres.dsn, autocommit=True) as db:
            db.cursor().executemany(
                "INSERT INTO citizens (user_id, followed, followed_at, last_interaction_at, "
                "updated_at) VALUES (%s, true, %s, %s, %s) ON CONFLICT (user_id) DO NOTHING",
                [(u, now, now, now) for u in users],
            )
            # "all" means followers with a dossier: each follows one outside the workload.
            db.cursor().executemany(
                "INSERT INTO citizen_links (user_id, case_code, linked_at, factor) "
                "VALUES (%s, %s, %s, 'otp') ON CONFLICT DO NOTHING",
                [(u, f"000.20.31.H56-261201-{n:05d}", now) for n, u in enumerate(users)],
            )

    await asyncio.to_thread(insert)
    state.audience = users


async def _announce(state: _State) -> None:
    assert state.kafka is not None  # noqa: S101
    state.announcement_id = str(uuid.uuid4())
    document = {
        "announcement_id": state.announcement_id,
        "province": "thanh-hoa",
        "title": "Thông báo lịch tiếp công dân",
        "body": "Bộ phận Một cửa tiếp công dân cả sáng thứ Bảy trong tháng 12.",
        "urgency": "normal",
        "audience": {"kind": "all"},
        "published_at": "2026-12-05T08:00:00+07:00",
    }
    producer = AIOKafkaProducer(bootstrap_servers=state.kafka.bootstrap_servers, acks="all")
    await producer.start()
    try:
        value = json.dumps(document, ensure_ascii=False).encode()
        await producer.send_and_wait(ANNOUNCEMENTS, value, key=state.announcement_id.encode())
    finally:
        await producer.stop()
    state.announced_at = time.monotonic()
    state.say(f"announcement published to {len(state.audience)} followers")


async def _wait_for_announcement(state: _State) -> None:
    http = state.http
    if not state.announcement_id or http is None:
        return
    audience = set(state.audience)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        log = (await http.get("/_emulator/messages", params={"status": "accepted"})).json()
        reached = {m.get("user_id") for m in log["messages"]} & audience
        if len(reached) == len(audience):
            return
        await asyncio.sleep(1.0)


def _check_announcement(state: _State) -> CheckResult:
    counts = state.announcement_counts
    missing = [u for u in state.audience if counts.get(u, 0) == 0]
    twice = [u for u, n in counts.items() if n > 1]
    bad = len(missing) + len(twice)
    detail = f"{len(counts)} of {len(state.audience)} followers, {len(twice)} twice"
    return CheckResult(CHECK_ANNOUNCEMENT, ok=bad == 0, detail=detail, violations=bad)


def _check_tokens(state: _State, figures: dict[str, object]) -> CheckResult:
    """Every refresh token spent once: no reuse, no unknown token, an unbroken chain."""
    attempts = state.refreshes
    outcomes = Counter(str(a.get("outcome")) for a in attempts)
    figures["token refreshes (by outcome)"] = dict(outcomes)
    successes = [a for a in attempts if a.get("outcome") == "success"]
    spent = Counter(a["refresh_token"] for a in successes)
    reused = sum(n - 1 for n in spent.values()) + outcomes.get("reused", 0)
    refused = sum(outcomes.get(kind, 0) for kind in ("unknown", "expired", "rejected"))
    broken = sum(
        1
        for before, after in itertools.pairwise(successes)
        if after["refresh_token"] != before["new_refresh_token"]
    )
    bad = reused + refused + broken + (0 if successes else 1)
    detail = (
        f"{len(successes)} refreshes, {reused} reuses, {refused} refused, {broken} breaks in "
        "the chain"
    )
    return CheckResult(CHECK_TOKENS, ok=bad == 0, detail=detail, violations=bad)


def _say(line: str) -> None:
    sys.stderr.write(f"[chaos {time.strftime('%H:%M:%S')}] {line}\n")
    sys.stderr.flush()


def main(argv: list[str] | None = None) -> int:
    """Run the multi-replica chaos ``--runs`` times; exit 0 when every run passed every check."""
    defaults = ReplicaChaosConfig(workdir=Path(".cache/chaos-replicas"))
    parser = argparse.ArgumentParser(
        prog="python -m bridge_devkit.chaos_replicas",
        description="Replicas on PostgreSQL under kills, scaling, a Zalo outage over a "
        "rebalance, broker and PostgreSQL restarts; checks exactly one status event per record "
        "and committed offsets that never go back.",
    )
    parser.add_argument("--workdir", type=Path, default=defaults.workdir)
    parser.add_argument("--runs", type=int, default=1, help="consecutive runs (seeds differ)")
    parser.add_argument("--events", type=int, default=defaults.events)
    parser.add_argument("--cases", type=int, default=defaults.cases)
    parser.add_argument("--partitions", type=int, default=defaults.partitions)
    parser.add_argument("--replicas", type=int, default=defaults.replicas)
    parser.add_argument(
        "--scale", default=",".join(map(str, defaults.scale_steps)), help="e.g. 5,2,3"
    )
    parser.add_argument("--kills", type=int, default=defaults.kills)
    parser.add_argument("--outage", type=float, default=defaults.outage_s, help="seconds")
    parser.add_argument("--publish-seconds", type=float, default=defaults.publish_seconds)
    parser.add_argument("--fast", action="store_true", help="shorter bridge timings")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--bridge-pythonpath", help="run the replicas from another checkout's src")
    parser.add_argument("--json", action="store_true", help="print the reports as JSON")
    args = parser.parse_args(argv)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)

    def interrupted(_signo: int, _frame: object) -> None:
        raise KeyboardInterrupt

    # SIGTERM unwinds like Ctrl-C, so that the replicas, the broker and PostgreSQL this run
    # started are stopped too.
    signal.signal(signal.SIGTERM, interrupted)
    reports = []
    for run in range(args.runs):
        config = ReplicaChaosConfig(
            workdir=args.workdir / f"run-{run + 1}",
            events=args.events,
            cases=args.cases,
            partitions=args.partitions,
            replicas=args.replicas,
            scale_steps=tuple(int(n) for n in args.scale.split(",") if n),
            kills=args.kills,
            outage_s=args.outage,
            publish_seconds=args.publish_seconds,
            fast_timings=args.fast,
            bridge_pythonpath=args.bridge_pythonpath,
            seed=args.seed + run,
            progress=_say,
        )
        _say(f"run {run + 1} of {args.runs}")
        try:
            report = run_replica_chaos(config)
        except KeyboardInterrupt:
            _say("interrupted; everything this run started has been stopped")
            return 130
        reports.append(report)
        if not args.json:
            sys.stdout.write(f"\n== run {run + 1} of {args.runs}\n{report.table()}\n")
            sys.stdout.flush()
    if args.json:
        sys.stdout.write(json.dumps([r.to_json() for r in reports], default=str, indent=2) + "\n")
    passed = sum(1 for r in reports if r.ok)
    sys.stdout.write(f"\n{passed} of {len(reports)} runs passed every check\n")
    return 0 if passed == len(reports) else 1


if __name__ == "__main__":
    raise SystemExit(main())
