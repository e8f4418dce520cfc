"""Building blocks of the harnesses that run the bridge as a real process (chaos, bench)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from bridge_devkit.clock_settings import require_explicit_clock

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Coroutine, Iterable, Mapping

__all__ = [
    "BridgeProcess",
    "Processes",
    "clean_env",
    "committed_offsets",
    "cpu_seconds",
    "create_topics",
    "free_port",
    "keep_supported",
    "machine_busy_seconds",
    "peak_rss_bytes",
    "read_committed",
    "run_blocking",
    "runs_bridge",
    "start_emulator_process",
    "supported_settings",
    "write_followers",
]

_T = TypeVar("_T")

_CLOCK_TICKS: Final = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_blocking(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run `coro` to completion, in a thread of its own when an event loop already runs here."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


# ---------------------------------------------------------------------------- processes


def runs_bridge(argv: list[str]) -> bool:
    """Whether ``argv`` starts the bridge (``python -m bridge run``, ``zalo-bridge run``)."""
    for index, arg in enumerate(argv[:-1]):
        if arg == "-m" and argv[index + 1] == "bridge":
            return "run" in argv[index + 2 : index + 3]
        if Path(arg).name == "zalo-bridge":
            return argv[index + 1] == "run"
    return False


class Processes:
    """The processes a run started; stopped by their PID, newest first."""

    def __init__(self) -> None:
        self._started: list[tuple[str, subprocess.Popen[bytes]]] = []

    def spawn(
        self,
        name: str,
        argv: list[str],
        env: Mapping[str, str],
        log: Path,
        *,
        lacks: Collection[str] = (),
    ) -> subprocess.Popen[bytes]:
        """Start `argv` with `env`, its output appended to `log`, and remember it.

        Args:
            name: What it is, for the log's separator line.
            argv: The command.
            env: Its whole environment.
            log: Receives its stdout and stderr.
            lacks: `BRIDGE_…` variables the bridge that will run does not have (an older one).

        Returns:
            The started process.

        Raises:
            ValueError: ``argv`` runs the bridge and ``env`` leaves its clock-dependent settings
                (quiet hours, announcement nights) to the defaults: its behaviour would depend on
                the hour (``clock_settings``).
        """
        if runs_bridge(argv):
            require_explicit_clock(env, f"{name} ({' '.join(argv[-6:])})", lacks)
        with log.open("ab") as handle:
            handle.write(f"\n--- {time.strftime('%H:%M:%S')} starting {name}\n".encode())
            handle.flush()
            process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                argv,
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
                env=dict(env),
            )
        self._started.append((name, process))
        return process

    def stop(self, process: subprocess.Popen[bytes], timeout: float = 15) -> None:
        """SIGTERM one process started here (SIGKILL after `timeout` s) and forget it."""
        self._started = [(n, p) for n, p in self._started if p is not process]
        _terminate(process, timeout)

    def stop_all(self) -> None:
        """Stop every process started here, newest first."""
        while self._started:
            _, process = self._started.pop()
            _terminate(process, 15)


def _terminate(process: subprocess.Popen[bytes], timeout: float) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


class BridgeProcess:
    """`python -m bridge run` as a supervised process: started, killed, restarted, watched.

    A bridge that exits by itself is restarted after a second, like a pod by its kubelet. The
    run gives up when it keeps exiting without ever becoming ready while the broker is up.

    Args:
        processes: Where the bridge is started and stopped.
        env: The bridge's whole environment (its `BRIDGE_…` settings included).
        log: Receives its output.
        say: Receives one line per notable event.
        broker_down: Tells whether the broker is down on purpose (exits then are expected).
        lacks: `BRIDGE_…` variables the bridge that will run does not have (an older one).
    """

    _MAX_FAILED_STARTS = 5
    _RESTART_DELAY_S = 1.0

    def __init__(  # noqa: PLR0913 - the process, its environment and log, what to watch
        self,
        processes: Processes,
        env: Mapping[str, str],
        log: Path,
        say: Callable[[str], None],
        *,
        broker_down: Callable[[], bool] = lambda: False,
        lacks: Collection[str] = (),
    ) -> None:
        self._processes = processes
        self._env = env
        self._lacks = tuple(lacks)
        self.log = log
        self._say = say
        self._broker_down = broker_down
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.starts = 0
        self.kills = 0
        self.unexpected_exits = 0
        self.exits_while_broker_down = 0
        self._failed_starts = 0
        self._restart_at: float | None = None

    @property
    def pid(self) -> int | None:
        """The PID of the running bridge, or None."""
        process = self.process
        return process.pid if process is not None and process.poll() is None else None

    def start(self) -> None:
        """Start the bridge on a free port (its health endpoints)."""
        port = free_port()
        argv = [sys.executable, "-m", "bridge", "run", "--host", "127.0.0.1", "--port", str(port)]
        self.process = self._processes.spawn("bridge", argv, self._env, self.log, lacks=self._lacks)
        self.url = f"http://127.0.0.1:{port}"
        self.starts += 1
        self._restart_at = None

    def stop(self, timeout: float = 60) -> None:
        """Stop the bridge gracefully (SIGTERM; it settles and commits what is in flight)."""
        process, self.process = self.process, None
        if process is not None:
            self._processes.stop(process, timeout)

    def kill(self) -> int:
        """SIGKILL the running bridge (by the PID we started) and restart it at once."""
        process = self.process
        if process is None or process.poll() is not None:
            raise RuntimeError("no bridge process to kill")
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        self.kills += 1
        self.start()
        return process.pid

    async def wait_ready(self, timeout: float) -> float:
        """Wait until `GET /health/ready` answers 204; return the seconds it took."""
        began = time.monotonic()
        async with httpx.AsyncClient(timeout=2.0) as http:
            while True:
                self.tend()
                if self._restart_at is None:
                    with contextlib.suppress(httpx.HTTPError):
                        response = await http.get(f"{self.url}/health/ready")
                        if response.status_code == 204:  # noqa: PLR2004 - the readiness answer
                            self._failed_starts = 0
                            return time.monotonic() - began
                if time.monotonic() - began > timeout:
                    raise RuntimeError(
                        f"the bridge was not ready within {timeout:.0f} s; see {self.log}"
                    )
                await asyncio.sleep(0.1)

    def tend(self) -> None:
        """Notice a bridge that exited by itself (counted) and restart it a second later."""
        process = self.process
        if self._restart_at is not None:
            if time.monotonic() >= self._restart_at:
                self.start()
            return
        if process is None or process.poll() is None:
            return
        self.unexpected_exits += 1
        if self._broker_down():
            self.exits_while_broker_down += 1
        else:
            self._failed_starts += 1
        self._say(f"the bridge exited by itself with code {process.returncode}; restarting it")
        if self._failed_starts > self._MAX_FAILED_STARTS:
            raise RuntimeError(
                f"the bridge keeps exiting (code {process.returncode}); see {self.log}"
            )
        self._restart_at = time.monotonic() + self._RESTART_DELAY_S

    async def watch(self) -> None:
        """Tend the bridge every quarter of a second, forever."""
        while True:
            self.tend()
            await asyncio.sleep(0.25)


def cpu_seconds(pid: int) -> float | None:
    """Return the user + system CPU seconds process `pid` and its live children have used.

    The children count for a bridge run with `process.workers` (a supervisor and its workers);
    None if `pid` is gone.
    """
    own = _own_cpu_seconds(pid)
    if own is None:
        return None
    return own + sum(_own_cpu_seconds(child) or 0.0 for child in descendants(pid))


def _own_cpu_seconds(pid: int) -> float | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    # The command name (field 2) may hold spaces: the fields after its ")" are fixed.
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def descendants(pid: int) -> list[int]:
    """The live descendants of process `pid` (children, their children, …), or none."""
    found: list[int] = []
    pending = [pid]
    while pending:
        parent = pending.pop()
        try:
            tasks = list(Path(f"/proc/{parent}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            found += children
            pending += children
    return found


def machine_busy_seconds() -> float | None:
    """Return the CPU seconds all processes of the machine have used (all cores), or None."""
    try:
        line = Path("/proc/stat").read_text(encoding="ascii").splitlines()[0]
    except (OSError, IndexError):
        return None
    # cpu user nice system idle iowait irq softirq steal …: everything but idle and iowait.
    fields = [int(value) for value in line.split()[1:9]]
    return (sum(fields) - fields[3] - fields[4]) / _CLOCK_TICKS


def peak_rss_bytes(pid: int) -> int | None:
    """Return the peak resident set size (VmHWM) of `pid` plus its live children's, or None.

    With workers, the pod's memory is the supervisor's and every worker's together.
    """
    own = _own_peak_rss(pid)
    if own is None:
        return None
    return own + sum(_own_peak_rss(child) or 0 for child in descendants(pid))


def _own_peak_rss(pid: int) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return None


# ---------------------------------------------------------------------------- the bridge's settings


_SETTINGS_PROBE = """
import json
from bridge.settings import Settings
print(json.dumps({name: sorted(info.annotation.model_fields)
                  for name, info in Settings.model_fields.items()
                  if hasattr(info.annotation, "model_fields")}))
"""


def supported_settings(env: Mapping[str, str]) -> dict[str, set[str]]:
    """Ask the bridge that will run which settings it has (section → field names)."""
    done = subprocess.run(  # noqa: S603 - our own interpreter and a fixed script
        [sys.executable, "-c", _SETTINGS_PROBE],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"cannot read the bridge's settings: {done.stderr.strip()[-500:]}")
    sections: dict[str, list[str]] = json.loads(done.stdout.strip().splitlines()[-1])
    return {section: set(fields) for section, fields in sections.items()}


def keep_supported(
    wanted: Mapping[str, str], supported: Mapping[str, set[str]]
) -> tuple[dict[str, str], list[str]]:
    """Split `BRIDGE_…` variables into those the bridge has and the names of the others.

    Args:
        wanted: Variable name → value.
        supported: Section → setting names, as `supported_settings` answers.

    Returns:
        The variables to set, and the names of those left out.
    """
    kept: dict[str, str] = {}
    dropped: list[str] = []
    for name, value in wanted.items():
        section, _, setting = name.removeprefix("BRIDGE_").lower().partition("__")
        if setting in supported.get(section, set()):
            kept[name] = value
        else:
            dropped.append(name)
    return kept, dropped


def clean_env() -> dict[str, str]:
    """This process's environment without any bridge setting or broker address."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("BRIDGE_") and name != "KAFKA_BOOTSTRAP_SERVERS"
    }


# ---------------------------------------------------------------------------- the emulator


def write_followers(path: Path, user_ids: Iterable[str]) -> None:
    """Write the emulator's `--followers` file: each user follows and interacted just now."""
    path.write_text(
        json.dumps([{"user_id": u, "display_name": f"Công dân {u[-4:]}"} for u in user_ids]),
        encoding="utf-8",
    )


async def start_emulator_process(  # noqa: PLR0913 - the emulator's knobs, keyword-only
    processes: Processes,
    workdir: Path,
    *,
    access_token: str,
    followers: Path,
    latency_ms: float,
    rate_limit_per_minute: int,
    seed: int | None = None,
    log_name: str = "emulator.log",
) -> tuple[str, subprocess.Popen[bytes]]:
    """Start `python -m bridge_devkit.emulator` and wait until it listens.

    Args:
        processes: Where it is started (and later stopped).
        workdir: Receives its port file and log.
        access_token: The one token it accepts.
        followers: Its `--followers` file (see `write_followers`).
        latency_ms: Its response latency.
        rate_limit_per_minute: Its per-app budget; 0 turns it off.
        seed: Seeds its jitter and probabilistic faults.
        log_name: The log file's name in `workdir`.

    Returns:
        Its base URL and its process.

    Raises:
        RuntimeError: If it exits or does not listen within 30 s.
    """
    port_file = workdir / "emulator.port"
    port_file.unlink(missing_ok=True)
    argv = [
        sys.executable,
        "-m",
        "bridge_devkit.emulator",
        "--port-file",
        str(port_file),
        "--access-token",
        access_token,
        "--followers",
        str(followers),
        "--rate-limit-per-minute",
        str(rate_limit_per_minute),
        "--latency-ms",
        str(latency_ms),
        "--log-level",
        "WARNING",
    ]
    if seed is not None:
        argv += ["--seed", str(seed)]
    log = workdir / log_name
    process = processes.spawn("emulator", argv, clean_env(), log)
    deadline = time.monotonic() + 30
    while not (port_file.exists() and port_file.read_text(encoding="utf-8").strip()):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the emulator did not start; see {log}")
        await asyncio.sleep(0.05)
    return f"http://127.0.0.1:{port_file.read_text(encoding='utf-8').strip()}", process


# ---------------------------------------------------------------------------- Kafka


async def create_topics(bootstrap: str, topics: Mapping[str, int]) -> None:
    """Create each topic (name → partitions) with replication 1, unless it exists."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        for name, count in topics.items():
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [NewTopic(name, num_partitions=count, replication_factor=1)]
                )
    finally:
        await admin.close()


async def committed_offsets(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    """Return the offsets `group` committed on `topic`, by partition."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic}


async def read_committed(bootstrap: str, topic: str, timeout: float = 60.0) -> list[Any]:
    """Read every committed record of `topic` from the start (read_committed)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        isolation_level="read_committed",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[Any] = []
    try:
        partitions = None
        deadline = time.monotonic() + timeout
        while not partitions and time.monotonic() < deadline:
            await consumer._client.force_metadata_update()  # noqa: SLF001 - no public way
            partitions = consumer.partitions_for_topic(topic)
            if not partitions:
                await asyncio.sleep(0.2)
        if not partitions:
            return records
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        ends = await consumer.end_offsets(assigned)
        while time.monotonic() < deadline:
            positions = [await consumer.position(tp) for tp in assigned]
            if all(position >= ends[tp] for position, tp in zip(positions, assigned, strict=True)):
                break
            batch = await consumer.getmany(*assigned, timeout_ms=500)
            for part in batch.values():
                records.extend(part)
    finally:
        await consumer.stop()
    return records
