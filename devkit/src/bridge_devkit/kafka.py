"""Runs a local single-node Apache Kafka broker (KRaft, combined mode) from Maven jars."""

from __future__ import annotations

import argparse
import asyncio
import atexit
import base64
import concurrent.futures
import contextlib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self, TypeVar

from bridge_devkit.processes import pid_alive, read_pid, say, tail, wait_gone

if TYPE_CHECKING:
    from collections.abc import Coroutine, Sequence
    from types import TracebackType

__all__ = [
    "DEFAULT_JVM_FLAGS",
    "DEFAULT_KAFKA_VERSION",
    "KafkaRunnerError",
    "LocalKafka",
    "ScramUser",
    "default_cache_dir",
    "ensure_jars",
    "find_pom",
    "generate_cluster_id",
    "main",
    "render_server_properties",
    "stop_broker_in",
]

DEFAULT_KAFKA_VERSION = "4.0.2"
"""The broker version the project tests against (aiokafka 0.14 is known to work with 4.0.x)."""

DEFAULT_JVM_FLAGS: tuple[str, ...] = (
    "-Xms256m",
    "-Xmx512m",
    "-XX:+UseG1GC",
    "-XX:TieredStopAtLevel=1",
    "-Djava.awt.headless=true",
)
"""JVM flags for a small, fast-starting test broker."""

CACHE_ENV = "BRIDGE_KAFKA_CACHE"
"""Environment variable naming the jar cache root (``lib-<version>`` is created inside it)."""

DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.6.1"
"""Pinned plugin: Maven 3.8's super-POM default (2.8) is far too old."""

NODE_ID = 1
LOG_TAIL_LINES = 50
MARKER_NAME = ".complete"
PID_FILE = "broker.pid"
LOG_FILE = "broker.log"
BOOTSTRAP_FILE = "bootstrap"
SASL_BOOTSTRAP_FILE = "sasl_bootstrap"
SCRAM_MECHANISM = "SCRAM-SHA-512"
_BROKER_MAIN = "kafka.Kafka"
_STORAGE_TOOL = "kafka.tools.StorageTool"

# Kafka 4.x logs through log4j2. WARN everywhere, except the line that says the server is up.
LOG4J2_PROPERTIES = """\
status = warn
shutdownHook = disable
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.stdout.ref = STDOUT
logger.raftserver.name = kafka.server.KafkaRaftServer
logger.raftserver.level = info
"""

# Single node, test-tuned. Listeners and paths are filled in by `render_server_properties`.
# The short broker session (default 9 s) matters on restart: the combined-mode controller
# rejects the new broker incarnation (DUPLICATE_BROKER_REGISTRATION) until the old one's
# session expires, which made every restart take ~10 s.
_SERVER_PROPERTIES = """\
process.roles=broker,controller
node.id={node_id}
controller.quorum.voters={node_id}@127.0.0.1:{controller_port}
listeners={listeners}
advertised.listeners={advertised}
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map={protocol_map}
log.dirs={log_dir}
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
default.replication.factor=1
min.insync.replicas=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
offsets.topic.num.partitions=1
transaction.state.log.num.partitions=1
num.partitions=3
auto.create.topics.enable=true
num.network.threads=2
num.io.threads=4
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=3000
"""

_SASL_PROPERTIES = """\
listener.name.sasl_plaintext.sasl.enabled.mechanisms={mechanism}
listener.name.sasl_plaintext.{mechanism_lower}.sasl.jaas.config=\
org.apache.kafka.common.security.scram.ScramLoginModule required;
"""

_T = TypeVar("_T")


class KafkaRunnerError(RuntimeError):
    """The local broker could not be resolved, started or stopped."""


@dataclass(frozen=True)
class ScramUser:
    """A SCRAM-SHA-512 user created when the storage is formatted.

    Attributes:
        name: User name (no ``,``, ``=``, ``[`` or ``]``).
        password: Password (same restrictions).
    """

    name: str
    password: str

    def __post_init__(self) -> None:
        """Reject values the StorageTool's ``--add-scram`` syntax cannot carry."""
        for value in (self.name, self.password):
            if not value or any(ch in value for ch in ",=[]\"'"):
                raise ValueError(
                    "SCRAM user names and passwords must be non-empty, without ,=[]'\""
                )

    def add_scram_argument(self) -> str:
        """Return the ``--add-scram`` value for ``kafka.tools.StorageTool format``."""
        return f"{SCRAM_MECHANISM}=[name={self.name},password={self.password}]"


# ---------------------------------------------------------------------------- helpers


def generate_cluster_id() -> str:
    """Return a random KRaft cluster id like ``kafka-storage random-uuid`` does.

    Returns:
        The URL-safe base64 of 16 random bytes, without padding (22 characters), never
        starting with ``-`` (the CLI would take it for an option).
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def default_cache_dir(version: str = DEFAULT_KAFKA_VERSION) -> Path:
    """Return where the jars of ``version`` are cached, outside the git tree.

    Args:
        version: Kafka version.

    Returns:
        ``$BRIDGE_KAFKA_CACHE/lib-<version>`` if that variable is set, else
        ``$XDG_CACHE_HOME/zalo-bridge/kafka/lib-<version>`` (``~/.cache`` without XDG).
    """
    override = os.environ.get(CACHE_ENV)
    if override:
        root = Path(override).expanduser()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
        root = base / "zalo-bridge" / "kafka"
    return root / f"lib-{version}"


def find_pom() -> Path:
    """Locate ``tools/kafka/pom.xml`` of the repository this module lives in.

    Returns:
        The absolute path of the POM.

    Raises:
        KafkaRunnerError: If no parent directory of this module holds it.
    """
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "tools" / "kafka" / "pom.xml"
        if candidate.is_file():
            return candidate
    raise KafkaRunnerError(
        f"tools/kafka/pom.xml not found above {__file__}; pass pom= (installed outside the repo?)"
    )


def _require_executable(name: str, hint: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise KafkaRunnerError(f"`{name}` not found on PATH: {hint}")
    return path


def _java_executable() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = Path(java_home) / "bin" / "java"
        if os.access(candidate, os.X_OK):
            return str(candidate)
    return _require_executable(
        "java", "install a Java 17+ runtime (apt-get install openjdk-17-jre)"
    )


def _marker_text(version: str, pom: Path) -> str:
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()
    return f"kafka.version={version}\npom.sha256={digest}\n"


def ensure_jars(
    version: str = DEFAULT_KAFKA_VERSION,
    cache_dir: Path | None = None,
    *,
    pom: Path | None = None,
) -> Path:
    """Resolve the broker's runtime classpath with Maven into a cache directory.

    Idempotent: a directory holding a marker for this version and POM is reused as is. The
    jars are copied into a temporary sibling directory, the marker is written, and the
    directory is renamed into place, so an interrupted copy is never taken as complete.

    Args:
        version: Kafka version (4.x; passed to the POM as ``-Dkafka.version``).
        cache_dir: The ``lib`` directory to fill; default `default_cache_dir`.
        pom: The POM to resolve; default `find_pom`.

    Returns:
        The directory holding the jars.

    Raises:
        KafkaRunnerError: If ``mvn`` is missing or the resolution fails.
    """
    if not version.startswith("4."):
        raise KafkaRunnerError(f"Kafka {version}: only 4.x is supported (log4j2 logging stack)")
    lib = (cache_dir if cache_dir is not None else default_cache_dir(version)).expanduser()
    pom = (pom if pom is not None else find_pom()).resolve()
    marker = _marker_text(version, pom)
    with contextlib.suppress(OSError):
        if (lib / MARKER_NAME).read_text(encoding="utf-8") == marker:
            return lib
    mvn = _require_executable("mvn", "install Maven 3.8+ (apt-get install maven)")
    _require_executable("java", "Maven and the broker need a Java 17+ runtime")

    lib.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{lib.name}.", dir=lib.parent))
    try:
        command = [
            mvn,
            "-B",
            "-q",
            "-Dstyle.color=never",
            "-f",
            str(pom),
            f"-Dkafka.version={version}",
            f"{DEPENDENCY_PLUGIN}:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={staging}",
        ]
        result = subprocess.run(  # noqa: S603 - fixed argv, no shell
            command, capture_output=True, text=True, check=False
        )
        if result.returncode != 0 or not any(staging.glob("kafka_2.13-*.jar")):
            output = (result.stdout + result.stderr).strip().splitlines()[-40:]
            raise KafkaRunnerError(
                f"mvn failed to resolve Kafka {version} (exit {result.returncode}):\n"
                + "\n".join(output)
            )
        (staging / MARKER_NAME).write_text(marker, encoding="utf-8")
        if lib.exists():  # stale or half-finished copy from an older run
            shutil.rmtree(lib)
        try:
            staging.rename(lib)
        except OSError:
            # A concurrent run won the rename; use its copy if it is complete.
            if (lib / MARKER_NAME).read_text(encoding="utf-8") != marker:
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return lib


def _free_ports(count: int) -> list[int]:
    """Return ``count`` distinct free TCP ports on 127.0.0.1 (all held open while choosing)."""
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind(("127.0.0.1", 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


def _is_broker_of(pid: int, workdir: Path) -> bool:
    """Whether ``pid`` runs ``kafka.Kafka`` with ``workdir``'s properties (guards PID reuse)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except FileNotFoundError:
        return False
    except OSError:
        return True  # no procfs: trust the pid file
    properties = os.fsencode(workdir / "server.properties")
    return _BROKER_MAIN.encode() in argv and properties in argv


def _terminate_pid(pid: int, timeout: float) -> None:
    """SIGTERM ``pid``, wait up to ``timeout`` s, then SIGKILL."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if wait_gone(pid, timeout):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if not wait_gone(pid, 10.0):
        raise KafkaRunnerError(f"broker pid {pid} survived SIGKILL")


def _run_blocking(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run ``coro`` to completion, also when called from inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def render_server_properties(
    *,
    log_dir: Path,
    port: int,
    controller_port: int,
    sasl_port: int | None = None,
) -> str:
    """Return the broker's ``server.properties``.

    Args:
        log_dir: Where the broker keeps its data (``log.dirs``).
        port: The PLAINTEXT client port on 127.0.0.1.
        controller_port: The KRaft CONTROLLER port on 127.0.0.1.
        sasl_port: If given, a SASL_PLAINTEXT (SCRAM-SHA-512) client port on 127.0.0.1.

    Returns:
        The properties text.
    """
    listeners = [f"PLAINTEXT://127.0.0.1:{port}", f"CONTROLLER://127.0.0.1:{controller_port}"]
    advertised = [f"PLAINTEXT://127.0.0.1:{port}"]
    protocol_map = ["CONTROLLER:PLAINTEXT", "PLAINTEXT:PLAINTEXT"]
    if sasl_port is not None:
        listeners.append(f"SASL_PLAINTEXT://127.0.0.1:{sasl_port}")
        advertised.append(f"SASL_PLAINTEXT://127.0.0.1:{sasl_port}")
        protocol_map.append("SASL_PLAINTEXT:SASL_PLAINTEXT")
    text = _SERVER_PROPERTIES.format(
        node_id=NODE_ID,
        controller_port=controller_port,
        listeners=",".join(listeners),
        advertised=",".join(advertised),
        protocol_map=",".join(protocol_map),
        log_dir=log_dir,
    )
    if sasl_port is not None:
        text += _SASL_PROPERTIES.format(
            mechanism=SCRAM_MECHANISM, mechanism_lower=SCRAM_MECHANISM.lower()
        )
    return text


# ---------------------------------------------------------------------------- the broker


class LocalKafka:
    """A single-node KRaft broker (broker and controller in one JVM) bound to 127.0.0.1.

    Ports are chosen when it first starts and kept across `stop`/`start`, as are the data
    and the cluster id, so a restarted broker looks the same to its clients.

    Example:
        ```python
        with LocalKafka(tmp_path) as kafka:
            producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
        ```
    """

    def __init__(  # noqa: PLR0913 - keyword-only settings
        self,
        workdir: Path,
        *,
        version: str = DEFAULT_KAFKA_VERSION,
        lib_dir: Path | None = None,
        scram_users: Sequence[ScramUser] = (),
        jvm_flags: Sequence[str] = DEFAULT_JVM_FLAGS,
        detach: bool = False,
    ) -> None:
        """Describe a broker; nothing runs until `start`.

        Args:
            workdir: Directory for the configuration, data (``data/``), log and pid file.
            version: Kafka version, used when ``lib_dir`` is not given.
            lib_dir: A directory of broker jars; default: `ensure_jars` at `start`.
            scram_users: If not empty, adds a SASL_PLAINTEXT listener (SCRAM-SHA-512) and
                creates these users when the storage is formatted (a work dir formatted
                earlier keeps its users).
            jvm_flags: JVM options for the broker and the storage tool.
            detach: Start the broker in its own session so that it outlives this process
                (used by ``bridge-kafka start``); it is then not stopped at exit.
        """
        self.workdir = Path(workdir).resolve()
        self.version = version
        self.scram_users: tuple[ScramUser, ...] = tuple(scram_users)
        self.jvm_flags: tuple[str, ...] = tuple(jvm_flags)
        self.detach = detach
        self._lib_dir = lib_dir
        self._proc: subprocess.Popen[bytes] | None = None
        self._pid: int | None = None
        self._port: int | None = None
        self._controller_port: int | None = None
        self._sasl_port: int | None = None
        self._cluster_id: str | None = None

    # -- paths and addresses

    @property
    def data_dir(self) -> Path:
        """The broker's ``log.dirs``."""
        return self.workdir / "data"

    @property
    def log_file(self) -> Path:
        """The broker's stdout and stderr (appended to across restarts)."""
        return self.workdir / LOG_FILE

    @property
    def pid_file(self) -> Path:
        """Holds the broker's PID while it runs."""
        return self.workdir / PID_FILE

    @property
    def properties_file(self) -> Path:
        """The generated ``server.properties``."""
        return self.workdir / "server.properties"

    @property
    def port(self) -> int:
        """The PLAINTEXT client port.

        Raises:
            KafkaRunnerError: If the broker was never started.
        """
        if self._port is None:
            raise KafkaRunnerError("the broker has not been started")
        return self._port

    @property
    def bootstrap_servers(self) -> str:
        """``127.0.0.1:PORT`` of the PLAINTEXT listener."""
        return f"127.0.0.1:{self.port}"

    @property
    def sasl_bootstrap_servers(self) -> str:
        """``127.0.0.1:PORT`` of the SASL_PLAINTEXT (SCRAM-SHA-512) listener.

        Raises:
            KafkaRunnerError: If no SCRAM users were given or the broker was never started.
        """
        if not self.scram_users:
            raise KafkaRunnerError("no SASL listener: construct LocalKafka with scram_users")
        if self._sasl_port is None:
            raise KafkaRunnerError("the broker has not been started")
        return f"127.0.0.1:{self._sasl_port}"

    @property
    def cluster_id(self) -> str:
        """The KRaft cluster id (read from an already formatted data dir, else generated)."""
        if self._cluster_id is None:
            self._cluster_id = self._formatted_cluster_id() or generate_cluster_id()
        return self._cluster_id

    @property
    def pid(self) -> int | None:
        """The broker's PID while it runs, else None."""
        if self._proc is not None:  # our child: let Popen reap it and keep its exit code
            return self._proc.pid if self._proc.poll() is None else None
        if self._pid is not None and pid_alive(self._pid):
            return self._pid
        return None

    def is_running(self) -> bool:
        """Whether the broker process is alive."""
        return self.pid is not None

    def _formatted_cluster_id(self) -> str | None:
        with contextlib.suppress(OSError):
            for line in (
                (self.data_dir / "meta.properties").read_text(encoding="utf-8").splitlines()
            ):
                key, _, value = line.partition("=")
                if key.strip() == "cluster.id":
                    return value.strip()
        return None

    # -- lifecycle

    def start(self, timeout: float = 90.0) -> None:
        """Format the storage if needed, start the broker and wait until a client sees it.

        Args:
            timeout: Seconds to wait for readiness (the jar download is not counted).

        Raises:
            KafkaRunnerError: If java is missing, formatting fails, the process dies or the
                broker is not ready in time (the message carries the end of its log).
        """
        if self.is_running():
            return
        lib = self._lib_dir if self._lib_dir is not None else ensure_jars(self.version)
        java = _java_executable()
        self._write_config()
        classpath = ["-cp", str(lib / "*")]
        if not (self.data_dir / "meta.properties").exists():  # saves a JVM start on restart
            self._format(java, classpath)

        command = [java, *self._java_options(), *classpath, _BROKER_MAIN, str(self.properties_file)]
        with self.log_file.open("ab") as log:
            log.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting broker\n".encode())
            log.flush()
            self._proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                start_new_session=self.detach,
            )
        self._pid = self._proc.pid
        self.pid_file.write_text(f"{self._pid}\n", encoding="ascii")
        if not self.detach:
            atexit.register(self._stop_at_exit)
        try:
            _run_blocking(self._wait_ready_within(timeout))
        except BaseException:
            self.stop()
            raise
        if self.detach:
            self._release_process()

    async def wait_ready(self) -> None:
        """Wait until an aiokafka admin client connects and sees this broker in the cluster.

        Waits without limit; bound it with ``asyncio.timeout`` (`start` does).

        Raises:
            KafkaRunnerError: If the broker process exits meanwhile (with the end of its log).
        """
        watcher = asyncio.create_task(self._watch_process())
        try:
            while True:
                probe = asyncio.create_task(self._probe())
                await asyncio.wait({probe, watcher}, return_when=asyncio.FIRST_COMPLETED)
                if watcher.done():  # the broker died: no point in waiting for the probe
                    probe.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await probe
                    watcher.result()
                if probe.result():
                    return
                await asyncio.sleep(0.1)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    async def _watch_process(self) -> None:
        while True:
            self._check_alive()
            await asyncio.sleep(0.1)

    async def _wait_ready_within(self, seconds: float) -> None:
        try:
            async with asyncio.timeout(seconds):
                await self.wait_ready()
        except TimeoutError as exc:
            raise KafkaRunnerError(
                f"broker not ready after {seconds:.0f} s; end of {self.log_file}:\n"
                + tail(self.log_file, LOG_TAIL_LINES)
            ) from exc

    async def _port_open(self) -> bool:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError:
            return False
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True

    async def _probe(self) -> bool:
        from aiokafka.admin import AIOKafkaAdminClient  # noqa: PLC0415 - keeps import cheap
        from aiokafka.errors import KafkaError  # noqa: PLC0415

        if not await self._port_open():  # cheap; aiokafka would log an error per refused try
            return False
        admin = AIOKafkaAdminClient(
            bootstrap_servers=self.bootstrap_servers,
            request_timeout_ms=5000,
        )
        try:
            async with asyncio.timeout(10.0):
                await admin.start()
                cluster: dict[str, Any] = await admin.describe_cluster()
        except (KafkaError, OSError, TimeoutError):
            return False
        finally:
            await admin.close()
        if cluster.get("cluster_id") not in (None, self.cluster_id):
            raise KafkaRunnerError(
                f"{self.bootstrap_servers} answers for cluster {cluster.get('cluster_id')}, "
                f"not {self.cluster_id}: another broker holds the port"
            )
        return any(
            broker.get("node_id") == NODE_ID and broker.get("port") == self.port
            for broker in cluster.get("brokers", [])
        )

    def _check_alive(self) -> None:
        if self._proc is None and self._pid is None:
            raise KafkaRunnerError("the broker has not been started")
        if self.is_running():
            return
        code = self._proc.returncode if self._proc is not None else None
        raise KafkaRunnerError(
            f"broker exited (code {code}); end of {self.log_file}:\n"
            + tail(self.log_file, LOG_TAIL_LINES)
        )

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the broker: SIGTERM to its PID, SIGKILL after ``timeout`` s. Idempotent.

        Args:
            timeout: Seconds to wait for a clean shutdown before killing it.
        """
        proc, pid = self._proc, self._pid
        self._proc = None
        self._pid = None
        atexit.unregister(self._stop_at_exit)
        if proc is not None:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10.0)
        elif pid is not None and pid_alive(pid):
            _terminate_pid(pid, timeout)
        if pid is not None and read_pid(self.workdir / PID_FILE) == pid:
            self.pid_file.unlink(missing_ok=True)

    def _stop_at_exit(self) -> None:
        with contextlib.suppress(Exception):
            self.stop(timeout=10.0)

    def _release_process(self) -> None:
        """Forget the Popen of a detached broker; keep its PID (no 'still running' warning)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            self._proc = None

    def __enter__(self) -> Self:
        """Start the broker."""
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop the broker."""
        self.stop()

    # -- configuration

    def _java_options(self) -> list[str]:
        log4j2 = self.workdir / "log4j2.properties"
        return [*self.jvm_flags, f"-Dlog4j2.configurationFile={log4j2.as_uri()}"]

    def _write_config(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(exist_ok=True)
        if self._port is None or self._controller_port is None:
            ports = _free_ports(3 if self.scram_users else 2)
            self._port, self._controller_port = ports[0], ports[1]
            self._sasl_port = ports[2] if self.scram_users else None
        (self.workdir / "log4j2.properties").write_text(LOG4J2_PROPERTIES, encoding="utf-8")
        self.properties_file.write_text(
            render_server_properties(
                log_dir=self.data_dir,
                port=self._port,
                controller_port=self._controller_port,
                sasl_port=self._sasl_port,
            ),
            encoding="utf-8",
        )

    def _format(self, java: str, classpath: list[str]) -> None:
        command = [
            java,
            *self._java_options(),
            *classpath,
            _STORAGE_TOOL,
            "format",
            "-t",
            self.cluster_id,
            "-c",
            str(self.properties_file),
            "--ignore-formatted",
        ]
        for user in self.scram_users:
            command += ["--add-scram", user.add_scram_argument()]
        result = subprocess.run(  # noqa: S603 - fixed argv, no shell
            command, capture_output=True, text=True, check=False, cwd=self.workdir
        )
        if result.returncode != 0:
            raise KafkaRunnerError(
                f"StorageTool format failed (exit {result.returncode}):\n"
                + (result.stdout + result.stderr).strip()
            )


# ---------------------------------------------------------------------------- CLI


def _parse_scram_user(text: str) -> ScramUser:
    name, sep, password = text.partition(":")
    if not sep:
        raise argparse.ArgumentTypeError("expected NAME:PASSWORD")
    try:
        return ScramUser(name, password)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bridge-kafka",
        description="A local single-node Apache Kafka broker (KRaft) from Maven jars.",
    )
    parser.add_argument(
        "--kafka-version", default=DEFAULT_KAFKA_VERSION, help="Kafka version (4.x)"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    jars = commands.add_parser("jars", help="resolve the broker jars into the cache and exit")
    jars.add_argument("--cache-dir", type=Path, help="lib directory (default: the user cache)")

    start = commands.add_parser("start", help="start a background broker and wait until ready")
    start.add_argument("--workdir", type=Path, required=True, help="config, data, log, pid")
    start.add_argument("--timeout", type=float, default=90.0, help="readiness timeout (s)")
    start.add_argument(
        "--scram-user",
        dest="scram_users",
        type=_parse_scram_user,
        action="append",
        default=[],
        metavar="NAME:PASSWORD",
        help="add a SASL_PLAINTEXT SCRAM-SHA-512 listener with this user (repeatable)",
    )

    stop = commands.add_parser("stop", help="stop the broker started in --workdir")
    stop.add_argument("--workdir", type=Path, required=True)
    stop.add_argument("--timeout", type=float, default=30.0, help="SIGKILL after (s)")
    return parser


def _cli_start(args: argparse.Namespace) -> int:
    workdir: Path = args.workdir.resolve()
    pid = read_pid(workdir / PID_FILE)
    if pid is not None and pid_alive(pid) and _is_broker_of(pid, workdir):
        try:
            bootstrap = (workdir / BOOTSTRAP_FILE).read_text(encoding="ascii").strip()
        except OSError as exc:
            raise KafkaRunnerError(f"broker pid {pid} runs but {exc.filename} is missing") from exc
        say(f"already running (pid {pid})", err=True)
        say(bootstrap)
        return 0
    kafka = LocalKafka(
        workdir, version=args.kafka_version, scram_users=args.scram_users, detach=True
    )
    kafka.start(timeout=args.timeout)
    (workdir / BOOTSTRAP_FILE).write_text(f"{kafka.bootstrap_servers}\n", encoding="ascii")
    if kafka.scram_users:
        (workdir / SASL_BOOTSTRAP_FILE).write_text(
            f"{kafka.sasl_bootstrap_servers}\n", encoding="ascii"
        )
    say(kafka.bootstrap_servers)
    return 0


def stop_broker_in(workdir: Path, timeout: float = 30.0) -> int | None:
    """Stop the broker whose pid file is in ``workdir`` (one left by an interrupted process).

    Only a PID that still runs ``kafka.Kafka`` with that directory's properties is signalled.

    Returns:
        The stopped broker's PID, or None when none was running there.
    """
    workdir = workdir.resolve()
    pid = read_pid(workdir / PID_FILE)
    running = pid is not None and pid_alive(pid) and _is_broker_of(pid, workdir)
    if pid is not None and running:
        _terminate_pid(pid, timeout)
    for name in (PID_FILE, BOOTSTRAP_FILE, SASL_BOOTSTRAP_FILE):  # stale once stopped
        (workdir / name).unlink(missing_ok=True)
    return pid if running else None


def _cli_stop(args: argparse.Namespace) -> int:
    workdir: Path = args.workdir.resolve()
    pid = stop_broker_in(workdir, args.timeout)
    say(f"stopped broker pid {pid}" if pid else f"no broker running in {workdir}", err=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run ``bridge-kafka jars|start|stop``.

    Args:
        argv: Arguments without the program name; default ``sys.argv[1:]``.

    Returns:
        The exit status.
    """
    args = _build_parser().parse_args(argv)
    try:
        if args.command == "jars":
            say(ensure_jars(args.kafka_version, args.cache_dir))
            return 0
        if args.command == "start":
            return _cli_start(args)
        return _cli_stop(args)
    except KafkaRunnerError as exc:
        say(f"bridge-kafka: {exc}", err=True)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
