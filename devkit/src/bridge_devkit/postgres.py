"""Runs a throwaway local PostgreSQL server (the distribution's binaries) on 127.0.0.1."""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Self
from urllib.parse import quote

from bridge_devkit.processes import pid_alive, read_pid, say, tail, wait_gone

if TYPE_CHECKING:
    from types import TracebackType

__all__ = [
    "DEFAULT_DATABASE",
    "DEFAULT_USER",
    "SERVER_SETTINGS",
    "LocalPostgres",
    "PostgresRunnerError",
    "find_pg_bin",
    "main",
]

PG_BIN_ENV = "PG_BIN"
"""Environment variable naming a directory holding ``initdb`` and ``postgres``."""

PG_LIB_ROOT = Path("/usr/lib/postgresql")
"""Where Debian and Ubuntu install the server binaries, one ``<major>/bin`` per version."""

SERVICE_USER = "postgres"
"""The system user the server runs as when this process is root (PostgreSQL refuses root)."""

DEFAULT_USER = "bridge"
"""The superuser created by ``initdb``."""

DEFAULT_DATABASE = "bridge"
"""The database created once the server first accepts connections."""

SERVER_SETTINGS: tuple[tuple[str, str], ...] = (
    ("max_connections", "100"),
    ("fsync", "off"),
    ("synchronous_commit", "off"),
    ("full_page_writes", "off"),
    ("jit", "off"),
    ("TimeZone", "UTC"),
    ("logging_collector", "off"),
    ("unix_socket_permissions", "0700"),
)
"""Settings for a fast, throwaway test cluster (never for data that matters)."""

PID_FILE = "postgres.pid"
LOG_FILE = "postgres.log"
DSN_FILE = "dsn"
CLUSTER_LINK = "cluster"
PASSWORD_FILE = "password"  # noqa: S105 - a file name, not a password
LOG_TAIL_LINES = 40
RUNTIME_PREFIX = "bridge-postgres-"
RUNTIME_OWNER_FILE = "owner"
_SOCKET_PATH_MAX = 107  # sun_path is 108 bytes on Linux, with the terminating NUL
_SOCKET_NAME = ".s.PGSQL.65535"  # the longest name PostgreSQL gives its socket file
_PM_STATUS_LINE = 8  # "ready" once the server accepts connections (PostgreSQL 10+)
_LOCALES = ("--locale=C.UTF-8", "--no-locale")  # the second when C.UTF-8 is unavailable


class PostgresRunnerError(RuntimeError):
    """The local server could not be found, started or stopped."""


# ---------------------------------------------------------------------------- helpers


def _has_server(directory: Path) -> bool:
    return all(os.access(directory / name, os.X_OK) for name in ("initdb", "postgres"))


def _version_key(bin_dir: Path) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in bin_dir.parent.name.split("."))
    except ValueError:
        return (-1,)


def find_pg_bin() -> Path:
    """Locate the directory of the PostgreSQL server binaries (``initdb``, ``postgres``).

    Returns:
        ``$PG_BIN`` if set; else the newest ``/usr/lib/postgresql/<major>/bin``; else the
        directory of ``initdb`` on ``PATH``.

    Raises:
        PostgresRunnerError: If ``$PG_BIN`` lacks the binaries, or none are found.
    """
    override = os.environ.get(PG_BIN_ENV)
    if override:
        directory = Path(override).expanduser()
        if not _has_server(directory):
            raise PostgresRunnerError(
                f"{PG_BIN_ENV}={override} holds no executable initdb and postgres"
            )
        return directory
    installed = [path for path in PG_LIB_ROOT.glob("*/bin") if _has_server(path)]
    if installed:
        return max(installed, key=_version_key)
    initdb = shutil.which("initdb")
    if initdb is not None:
        directory = Path(initdb).resolve().parent
        if _has_server(directory):
            return directory
    raise PostgresRunnerError(
        f"PostgreSQL server binaries (initdb, postgres) not found in {PG_LIB_ROOT}/*/bin or "
        f"on PATH: install them (Debian: apt-get install postgresql) or set {PG_BIN_ENV}"
    )


@dataclass(frozen=True)
class _Account:
    """The operating-system account the server's processes run as."""

    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]
    home: str

    @property
    def is_current(self) -> bool:
        return self.uid == os.geteuid()


def _account(run_as: str | None) -> _Account:
    """Resolve the account: ``postgres`` (or ``run_as``) when root, else the current user."""
    if os.geteuid() != 0:
        entry = pwd.getpwuid(os.geteuid())
        if run_as not in (None, entry.pw_name):
            raise PostgresRunnerError(f"only root can run the server as {run_as!r}")
    else:
        name = run_as or SERVICE_USER
        try:
            entry = pwd.getpwnam(name)
        except KeyError as exc:
            raise PostgresRunnerError(
                f"PostgreSQL refuses to run as root and there is no {name!r} user to run it as "
                "(Debian's postgresql package creates it: apt-get install postgresql)"
            ) from exc
        if entry.pw_uid == 0:
            raise PostgresRunnerError(f"{name!r} is root; PostgreSQL refuses to run as root")
    groups = tuple(os.getgrouplist(entry.pw_name, entry.pw_gid))
    return _Account(entry.pw_name, entry.pw_uid, entry.pw_gid, groups, entry.pw_dir)


def _traversable_by(directory: Path, account: _Account) -> bool:
    """Whether ``account`` may search ``directory`` and all its parents (mode bits only)."""
    for path in (directory, *directory.parents):
        info = path.stat()
        if info.st_uid == account.uid:
            bit = stat.S_IXUSR
        elif info.st_gid in account.groups:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not info.st_mode & bit:
            return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _is_postmaster_of(pid: int, data_dir: Path) -> bool:
    """Whether ``pid`` runs ``postgres -D data_dir`` (guards against PID reuse)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except FileNotFoundError:
        return False
    except OSError:
        return True  # no procfs: trust the pid file
    return bool(argv) and argv[0].endswith(b"postgres") and os.fsencode(data_dir) in argv


def _children(pid: int) -> list[int]:
    """The PIDs of ``pid``'s children (its server processes), read before it is killed."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text(encoding="ascii")
    except OSError:
        return []
    return [int(child) for child in text.split()]


def _shutdown_pid(pid: int, timeout: float) -> None:
    """Fast shutdown (SIGINT) of the postmaster ``pid``; SIGKILL it after ``timeout`` s.

    Raises:
        PostgresRunnerError: If the process survives SIGKILL.
    """
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGINT)
    if wait_gone(pid, timeout, poll=0.02):
        return
    for victim in [*_children(pid), pid]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, signal.SIGKILL)
    if not wait_gone(pid, 10.0, poll=0.02):
        raise PostgresRunnerError(f"postgres pid {pid} survived SIGKILL")


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only."""
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)


def _server_runs_in(data_dir: Path) -> bool:
    """Whether the postmaster named by ``data_dir/postmaster.pid`` still runs there."""
    try:
        first = (data_dir / "postmaster.pid").read_text(encoding="utf-8").split("\n", 1)[0]
        pid = int(first)
    except (OSError, ValueError):
        return False
    return pid_alive(pid) and _is_postmaster_of(pid, data_dir)


def _runtime_dir_is_stale(runtime: Path) -> bool:
    """Whether a cluster dir outside any work dir has lost its owner and its server.

    Its owner file names the ``workdir/cluster`` link pointing at it and the PID of the
    process that created it (0 for a detached server). It is stale when no server runs in
    it and the link no longer points at it or that process is gone (killed before its exit
    handlers ran, as a timed-out test run is).
    """
    try:
        fields = dict(
            line.split("=", 1)
            for line in (runtime / RUNTIME_OWNER_FILE).read_text(encoding="utf-8").splitlines()
            if "=" in line
        )
        link, owner = Path(fields["link"]), int(fields["pid"])
    except (OSError, KeyError, ValueError):
        return False  # being created right now, or not ours
    if _server_runs_in(runtime / "data"):
        return False
    try:
        linked = link.is_symlink() and link.resolve() == runtime.resolve()
    except OSError:
        linked = False
    return not linked or (owner != 0 and not pid_alive(owner))


def _reap_stale_runtime_dirs(account: _Account) -> None:
    """Delete the stale cluster dirs of ``account`` under the temporary directory."""
    for runtime in Path(tempfile.gettempdir()).glob(f"{RUNTIME_PREFIX}*"):
        with contextlib.suppress(OSError):
            if (
                runtime.is_dir()
                and not runtime.is_symlink()
                and runtime.stat().st_uid == account.uid
                and _runtime_dir_is_stale(runtime)
            ):
                shutil.rmtree(runtime, ignore_errors=True)


def _remove_runtime_dir(workdir: Path) -> None:
    """Delete a cluster kept outside ``workdir`` (see `LocalPostgres`) and its link."""
    link = workdir / CLUSTER_LINK
    if link.is_symlink():
        shutil.rmtree(link.resolve(), ignore_errors=True)
        link.unlink(missing_ok=True)


# ---------------------------------------------------------------------------- the server


class LocalPostgres:
    """A single PostgreSQL server listening on 127.0.0.1 only, for tests and local runs.

    The cluster is created by ``initdb`` at the first `start`, with a superuser ``user``
    whose random password is kept next to the data; TCP connections need it
    (scram-sha-256), the Unix socket (in a directory only the server's user can enter)
    does not. The port is chosen at the first `start` and kept, like the data, across
    `stop`/`start`.

    PostgreSQL refuses to run as root: when this process is root, ``initdb`` and
    ``postgres`` run as the ``postgres`` system user, and the cluster directory belongs to
    it. If that user cannot reach ``workdir`` (pytest's temporary directories are mode
    0700), the cluster lives in a private directory under the system's temporary directory
    instead, linked from ``workdir/cluster``; it is deleted when the process that created
    it exits, or by ``bridge-postgres stop`` for a detached server. One left behind by a
    killed process is deleted by the next `start` that needs such a directory.

    Example:
        ```python
        with LocalPostgres(tmp_path) as server, psycopg.connect(server.dsn) as conn:
            conn.execute("SELECT 1")
        ```
    """

    def __init__(  # noqa: PLR0913 - keyword-only settings
        self,
        workdir: Path,
        *,
        user: str = DEFAULT_USER,
        dbname: str = DEFAULT_DATABASE,
        bin_dir: Path | None = None,
        run_as: str | None = None,
        detach: bool = False,
    ) -> None:
        """Describe a server; nothing runs until `start`.

        Args:
            workdir: Directory for the cluster (``cluster/``), the log and the pid file.
            user: Name of the superuser ``initdb`` creates.
            dbname: Database created when the server first starts.
            bin_dir: Directory of ``initdb`` and ``postgres``; default `find_pg_bin`.
            run_as: System user for the server when this process is root (default
                ``postgres``); when not root, the server runs as the current user.
            detach: Start the server in its own session so that it outlives this process
                (used by ``bridge-postgres start``); it is then not stopped at exit.
        """
        self.workdir = Path(workdir).resolve()
        self.user = user
        self.dbname = dbname
        self.detach = detach
        self._bin_dir = bin_dir
        self._run_as = run_as
        self._account: _Account | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._pid: int | None = None
        self._port: int | None = None
        self._password: str | None = None
        self._runtime_dir: Path | None = None

    # -- paths and addresses

    @property
    def cluster_dir(self) -> Path:
        """The directory of the data and the socket (the target of ``workdir/cluster``)."""
        return (self.workdir / CLUSTER_LINK).resolve()

    @property
    def data_dir(self) -> Path:
        """The cluster's data directory (``PGDATA``)."""
        return self.cluster_dir / "data"

    @property
    def socket_dir(self) -> Path:
        """Where the server puts its Unix socket (none when the path would be too long)."""
        return self.cluster_dir / "sock"

    @property
    def log_file(self) -> Path:
        """The server's stderr, with a line per start and stop (appended across restarts)."""
        return self.workdir / LOG_FILE

    @property
    def pid_file(self) -> Path:
        """Holds the postmaster's PID while it runs."""
        return self.workdir / PID_FILE

    @property
    def port(self) -> int:
        """The TCP port on 127.0.0.1.

        Raises:
            PostgresRunnerError: If the server was never started.
        """
        if self._port is None:
            raise PostgresRunnerError("the server has not been started")
        return self._port

    @property
    def password(self) -> str:
        """The superuser's password.

        Raises:
            PostgresRunnerError: If the server was never started.
        """
        if self._password is None:
            raise PostgresRunnerError("the server has not been started")
        return self._password

    @property
    def dsn(self) -> str:
        """``postgresql://user:password@127.0.0.1:port/dbname``."""
        return self._url(self.dbname)

    @property
    def pid(self) -> int | None:
        """The postmaster's PID while it runs, else None."""
        if self._proc is not None:  # our child: let Popen reap it and keep its exit code
            return self._proc.pid if self._proc.poll() is None else None
        if self._pid is not None and pid_alive(self._pid):
            return self._pid
        return None

    def is_running(self) -> bool:
        """Whether the postmaster process is alive."""
        return self.pid is not None

    def _url(self, dbname: str) -> str:
        user, database = quote(self.user, safe=""), quote(dbname, safe="")
        return f"postgresql://{user}:{self.password}@127.0.0.1:{self.port}/{database}"

    # -- lifecycle

    def start(self, timeout: float = 60.0) -> None:
        """Create the cluster if needed, start the server and wait until it accepts clients.

        Args:
            timeout: Seconds to wait for the server to accept connections (``initdb`` is
                not counted).

        Raises:
            PostgresRunnerError: If the binaries or the system user are missing, ``initdb``
                fails, the server exits or is not ready in time (the message carries the
                end of its log).
        """
        if self.is_running():
            return
        bin_dir = self._bin_dir if self._bin_dir is not None else find_pg_bin()
        account = self._resolve_account()
        self.workdir.mkdir(parents=True, exist_ok=True)
        cluster = self._prepare_cluster_dir(account)
        if not (cluster / "data" / "PG_VERSION").is_file():
            self._initdb(bin_dir, account, cluster)
        self._password = self._read_password(cluster)
        if self._port is None:
            self._port = _free_port()
        command = [str(bin_dir / "postgres"), "-D", str(cluster / "data"), *self._options()]
        switch = not account.is_current
        with self.log_file.open("ab") as log:
            self._log_line(log, f"starting postgres on 127.0.0.1:{self._port}")
            began = time.monotonic()
            self._proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=cluster,
                env=self._environment(account),
                start_new_session=self.detach,
                user=account.uid if switch else None,
                group=account.gid if switch else None,
                extra_groups=list(account.groups) if switch else None,
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

    def stop(self, timeout: float = 30.0) -> None:
        """Fast shutdown (SIGINT to the postmaster), SIGKILL after ``timeout`` s. Idempotent.

        The data is kept: a later `start` brings the same cluster back on the same port.

        Args:
            timeout: Seconds to wait for the shutdown before killing the server.
        """
        proc, pid = self._proc, self._pid
        self._proc = None
        self._pid = None
        atexit.unregister(self._stop_at_exit)
        began = time.monotonic()
        stopped = False
        if proc is not None:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    for child in _children(proc.pid):
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(child, signal.SIGKILL)
                    proc.kill()
                    proc.wait(10.0)
                stopped = True
        elif pid is not None and pid_alive(pid):
            _shutdown_pid(pid, timeout)
            stopped = True
        if stopped:
            self._note(f"stopped in {time.monotonic() - began:.2f} s (pid {pid})")
        if pid is not None and read_pid(self.workdir / PID_FILE) == pid:
            self.pid_file.unlink(missing_ok=True)

    def _stop_at_exit(self) -> None:
        with contextlib.suppress(Exception):
            self.stop(timeout=10.0)

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

    # -- cluster

    def _resolve_account(self) -> _Account:
        if self._account is None:
            self._account = _account(self._run_as)
        return self._account

    def _prepare_cluster_dir(self, account: _Account) -> Path:
        """Return the cluster directory, creating it (owned by ``account``) if needed."""
        link = self.workdir / CLUSTER_LINK
        if link.is_dir():
            return link.resolve()
        link.unlink(missing_ok=True)  # a link to a runtime dir deleted meanwhile
        if _traversable_by(self.workdir, account):
            link.mkdir(mode=0o700)
            cluster = link
        else:
            _reap_stale_runtime_dirs(account)
            cluster = Path(tempfile.mkdtemp(prefix=RUNTIME_PREFIX))
            link.symlink_to(cluster, target_is_directory=True)
            owner = 0 if self.detach else os.getpid()  # written last: see the reaper
            (cluster / RUNTIME_OWNER_FILE).write_text(
                f"link={link}\npid={owner}\n", encoding="utf-8"
            )
            if not self.detach:
                self._runtime_dir = cluster
                atexit.register(self._remove_runtime_dir_at_exit)
        if not account.is_current:
            os.chown(cluster, account.uid, account.gid)
        return cluster.resolve()

    def _remove_runtime_dir_at_exit(self) -> None:
        with contextlib.suppress(Exception):
            self.stop(timeout=10.0)
        if self._runtime_dir is not None:  # also when the work dir is gone already
            shutil.rmtree(self._runtime_dir, ignore_errors=True)
            link = self.workdir / CLUSTER_LINK
            with contextlib.suppress(OSError):
                if link.is_symlink() and not link.exists():
                    link.unlink()

    def _initdb(self, bin_dir: Path, account: _Account, cluster: Path) -> None:
        staging = cluster / "data.initdb"  # renamed into place once complete
        shutil.rmtree(staging, ignore_errors=True)
        password_file = cluster / PASSWORD_FILE
        _write_private(password_file, f"{secrets.token_urlsafe(24)}\n")
        if not account.is_current:
            os.chown(password_file, account.uid, account.gid)
        switch = not account.is_current
        began = time.monotonic()
        for locale in _LOCALES:
            command = [
                str(bin_dir / "initdb"),
                "-D",
                str(staging),
                "-U",
                self.user,
                "--encoding=UTF8",
                locale,
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                f"--pwfile={password_file}",
                "--no-sync",
            ]
            result = subprocess.run(  # noqa: S603 - fixed argv, no shell
                command,
                capture_output=True,
                text=True,
                check=False,
                cwd=cluster,
                env=self._environment(account),
                user=account.uid if switch else None,
                group=account.gid if switch else None,
                extra_groups=list(account.groups) if switch else None,
            )
            output = (result.stdout + result.stderr).strip()
            if result.returncode == 0 or "locale" not in output:
                break
            shutil.rmtree(staging, ignore_errors=True)
        if result.returncode != 0:
            raise PostgresRunnerError(f"initdb failed (exit {result.returncode}):\n{output}")
        staging.rename(cluster / "data")
        self._note(f"initdb ({locale}) in {time.monotonic() - began:.2f} s as {account.name}")

    @staticmethod
    def _read_password(cluster: Path) -> str:
        try:
            return (cluster / PASSWORD_FILE).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise PostgresRunnerError(
                f"{cluster / PASSWORD_FILE} is missing: remove {cluster} to start afresh"
            ) from exc

    def _options(self) -> list[str]:
        socket_dir = self.socket_dir
        if len(os.fsencode(socket_dir / _SOCKET_NAME)) <= _SOCKET_PATH_MAX:
            socket_dir.mkdir(mode=0o700, exist_ok=True)
            account = self._resolve_account()
            if not account.is_current:
                os.chown(socket_dir, account.uid, account.gid)
            sockets = str(socket_dir)
        else:
            sockets = ""  # TCP only: PostgreSQL cannot bind a socket path this long
        settings = [
            ("listen_addresses", "127.0.0.1"),
            ("port", str(self.port)),
            ("unix_socket_directories", sockets),
            *SERVER_SETTINGS,
        ]
        return [argument for key, value in settings for argument in ("-c", f"{key}={value}")]

    @staticmethod
    def _environment(account: _Account) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
        env.update(HOME=account.home, USER=account.name, LOGNAME=account.name)
        return env

    def _note(self, text: str) -> None:
        with contextlib.suppress(OSError), self.log_file.open("ab") as log:
            self._log_line(log, text)

    @staticmethod
    def _log_line(log: IO[bytes], text: str) -> None:
        log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} {text}\n".encode())
        log.flush()

    # -- readiness

    def _wait_ready(self, timeout: float) -> None:
        import psycopg  # noqa: PLC0415 - keeps importing this module cheap

        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while True:
            self._check_alive()
            if self._postmaster_ready():  # then a real client must get in
                try:
                    self._connect_and_create_database()
                except psycopg.OperationalError as exc:
                    last_error = exc
                else:
                    return
            if time.monotonic() >= deadline:
                reason = f" ({last_error})" if last_error is not None else ""
                raise PostgresRunnerError(
                    f"postgres not ready after {timeout:.0f} s{reason}; "
                    f"end of {self.log_file}:\n{tail(self.log_file, LOG_TAIL_LINES)}"
                )
            time.sleep(0.02)

    def _connect_and_create_database(self) -> None:
        """Connect over TCP, check that the server is this one, create the database.

        Raises:
            psycopg.OperationalError: If the server does not accept the connection.
            PostgresRunnerError: If another server answers on the port.
        """
        import psycopg  # noqa: PLC0415
        from psycopg import sql  # noqa: PLC0415

        with psycopg.connect(self._url("postgres"), autocommit=True, connect_timeout=5) as conn:
            row = conn.execute("SHOW data_directory").fetchone()
            served = Path(str(row[0])) if row else None
            if served is None or served.resolve() != self.data_dir:
                raise PostgresRunnerError(
                    f"127.0.0.1:{self.port} serves {served}, not {self.data_dir}: "
                    "another server holds the port"
                )
            if self.dbname == "postgres":
                return
            query = "SELECT 1 FROM pg_database WHERE datname = %s"
            if conn.execute(query, (self.dbname,)).fetchone() is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.dbname)))

    def _postmaster_ready(self) -> bool:
        """Whether ``postmaster.pid`` says this server is ready, as ``pg_ctl start`` checks."""
        try:
            lines = (self.data_dir / "postmaster.pid").read_text(encoding="utf-8").splitlines()
        except OSError:
            return False
        return (
            len(lines) >= _PM_STATUS_LINE
            and lines[0].strip() == str(self.pid)
            and lines[_PM_STATUS_LINE - 1].strip() == "ready"
        )

    def _check_alive(self) -> None:
        if self.is_running():
            return
        code = self._proc.returncode if self._proc is not None else None
        raise PostgresRunnerError(
            f"postgres exited (code {code}); end of {self.log_file}:\n"
            + tail(self.log_file, LOG_TAIL_LINES)
        )


# ---------------------------------------------------------------------------- CLI


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bridge-postgres",
        description="A throwaway local PostgreSQL server on 127.0.0.1, for tests.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    start = commands.add_parser("start", help="start a background server and wait until ready")
    start.add_argument("--workdir", type=Path, required=True, help="cluster, log, pid, dsn")
    start.add_argument("--timeout", type=float, default=60.0, help="readiness timeout (s)")

    stop = commands.add_parser("stop", help="stop the server started in --workdir")
    stop.add_argument("--workdir", type=Path, required=True)
    stop.add_argument("--timeout", type=float, default=30.0, help="SIGKILL after (s)")
    return parser


def _cli_start(args: argparse.Namespace) -> int:
    workdir: Path = args.workdir.resolve()
    server = LocalPostgres(workdir, detach=True)
    pid = read_pid(workdir / PID_FILE)
    if pid is not None and pid_alive(pid) and _is_postmaster_of(pid, server.data_dir):
        try:
            dsn = (workdir / DSN_FILE).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise PostgresRunnerError(
                f"postgres pid {pid} runs but {exc.filename} is missing"
            ) from exc
        say(f"already running (pid {pid})", err=True)
        say(dsn)
        return 0
    server.start(timeout=args.timeout)
    _write_private(workdir / DSN_FILE, f"{server.dsn}\n")
    say(server.dsn)
    return 0


def _cli_stop(args: argparse.Namespace) -> int:
    workdir: Path = args.workdir.resolve()
    data_dir = LocalPostgres(workdir).data_dir
    pid = read_pid(workdir / PID_FILE)
    running = pid is not None and pid_alive(pid) and _is_postmaster_of(pid, data_dir)
    if pid is not None and running:
        _shutdown_pid(pid, args.timeout)
    for name in (PID_FILE, DSN_FILE):  # stale once stopped
        (workdir / name).unlink(missing_ok=True)
    _remove_runtime_dir(workdir)
    say(f"stopped postgres pid {pid}" if running else f"no server running in {workdir}", err=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run ``bridge-postgres start|stop``.

    Args:
        argv: Arguments without the program name; default ``sys.argv[1:]``.

    Returns:
        The exit status.
    """
    args = _build_parser().parse_args(argv)
    try:
        if args.command == "start":
            return _cli_start(args)
        return _cli_stop(args)
    except PostgresRunnerError as exc:
        say(f"bridge-postgres: {exc}", err=True)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
