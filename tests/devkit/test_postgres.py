"""Tests of the local PostgreSQL runner (bridge_devkit.postgres) against a real server."""

from __future__ import annotations

import ipaddress
import os
import pwd
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pytest

from bridge_devkit import postgres as postgres_module
from bridge_devkit.postgres import LocalPostgres, PostgresRunnerError, find_pg_bin, main

pytestmark = pytest.mark.postgres

if TYPE_CHECKING:
    from collections.abc import Iterator

IS_ROOT = os.geteuid() == 0
SERVER_UID = pwd.getpwnam("postgres").pw_uid if IS_ROOT else os.geteuid()


# ---------------------------------------------------------------------------- helpers


def _listening_sockets(pid: int) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket ``pid`` listens on, read from /proc."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = str(fd.readlink())
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    found = set()
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state != "0A" or inode not in inodes:  # 0A = LISTEN
                continue
            host_hex, port_hex = local.split(":")
            raw = bytes.fromhex(host_hex)
            if family == socket.AF_INET:
                address = str(ipaddress.IPv4Address(raw[::-1]))
            else:
                words = [raw[i : i + 4][::-1] for i in range(0, 16, 4)]
                address = str(ipaddress.IPv6Address(b"".join(words)))
            found.add((address, int(port_hex, 16)))
    return found


def _gone(pid: int) -> bool:
    """Whether ``pid`` no longer runs (a zombie counts as gone)."""
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat_line.rpartition(")")[2].split()[0] == "Z"


def _wait_gone(pid: int, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while not _gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _uid_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(f"no Uid line for pid {pid}")


def _children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _fake_bin(directory: Path, names: tuple[str, ...] = ("initdb", "postgres")) -> Path:
    directory.mkdir(parents=True)
    for name in names:
        tool = directory / name
        tool.write_text("#!/bin/sh\nexit 1\n")
        tool.chmod(0o755)
    return directory


# ---------------------------------------------------------------------------- no server


def test_find_pg_bin_honours_pg_bin(monkeypatch, tmp_path):
    fake = _fake_bin(tmp_path / "custom")
    monkeypatch.setenv("PG_BIN", str(fake))
    assert find_pg_bin() == fake
    monkeypatch.setenv("PG_BIN", str(tmp_path))  # no binaries there
    with pytest.raises(PostgresRunnerError, match="PG_BIN="):
        find_pg_bin()


def test_find_pg_bin_picks_the_newest_complete_version(monkeypatch, tmp_path):
    monkeypatch.delenv("PG_BIN", raising=False)
    for version in ("9.6", "13", "15"):
        _fake_bin(tmp_path / version / "bin")
    _fake_bin(tmp_path / "16" / "bin", names=("initdb",))  # half-installed: no server
    monkeypatch.setattr(postgres_module, "PG_LIB_ROOT", tmp_path)
    assert find_pg_bin() == tmp_path / "15" / "bin"


def test_find_pg_bin_falls_back_to_path_then_explains(monkeypatch, tmp_path):
    monkeypatch.delenv("PG_BIN", raising=False)
    monkeypatch.setattr(postgres_module, "PG_LIB_ROOT", tmp_path / "none")
    on_path = _fake_bin(tmp_path / "path")
    monkeypatch.setenv("PATH", str(on_path))
    assert find_pg_bin() == on_path
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(PostgresRunnerError, match="apt-get install postgresql"):
        find_pg_bin()


def test_start_without_binaries_raises(monkeypatch, tmp_path):
    monkeypatch.delenv("PG_BIN", raising=False)
    monkeypatch.setattr(postgres_module, "PG_LIB_ROOT", tmp_path / "none")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    server = LocalPostgres(tmp_path / "work")
    with pytest.raises(PostgresRunnerError, match="apt-get install postgresql"):
        server.start()
    assert not server.is_running()
    with pytest.raises(PostgresRunnerError, match="not been started"):
        _ = server.dsn


def test_server_account_is_postgres_when_root_else_the_current_user():
    account = postgres_module._account(None)
    assert account.uid == SERVER_UID
    assert account.uid != 0
    assert account.is_current is not IS_ROOT
    message = "no 'no-such-user' user" if IS_ROOT else "only root"
    with pytest.raises(PostgresRunnerError, match=message):
        postgres_module._account("no-such-user")


def test_traversable_by_reads_owner_group_and_other_bits(tmp_path):
    outsider = postgres_module._Account("x", 54321, 54321, (54321,), "/")
    inner = tmp_path / "a" / "b"
    inner.mkdir(parents=True)
    (tmp_path / "a").chmod(0o755)
    tmp_path.chmod(0o755)
    reachable = all(p.stat().st_mode & stat.S_IXOTH for p in tmp_path.parents)
    assert postgres_module._traversable_by(inner, outsider) is reachable
    (tmp_path / "a").chmod(0o750)  # outsider is neither owner nor in the group
    assert not postgres_module._traversable_by(inner, outsider)
    me = postgres_module._account(None) if not IS_ROOT else None
    if me is not None:  # the owner's own bits decide for the owner
        assert postgres_module._traversable_by(inner, me)


def _dead_pid() -> int:
    with subprocess.Popen([sys.executable, "-c", "pass"]) as child:
        child.wait()
    return child.pid


def test_stale_runtime_dirs_are_reaped(monkeypatch, tmp_path):
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(postgres_module.tempfile, "tempdir", str(temp))
    me = postgres_module._Account("me", os.geteuid(), os.getegid(), (os.getegid(),), "/")

    def runtime(name: str, *, owner: int | None, linked: bool) -> Path:
        directory = temp / f"bridge-postgres-{name}"
        (directory / "data").mkdir(parents=True)
        link = tmp_path / "work" / name / "cluster"
        link.parent.mkdir(parents=True)
        if linked:
            link.symlink_to(directory)
        if owner is not None:
            (directory / "owner").write_text(f"link={link}\npid={owner}\n")
        return directory

    dead = _dead_pid()
    killed_owner = runtime("killed", owner=dead, linked=True)
    workdir_gone = runtime("unlinked", owner=os.getpid(), linked=False)
    detached_gone = runtime("detached-unlinked", owner=0, linked=False)
    live_owner = runtime("live", owner=os.getpid(), linked=True)
    detached = runtime("detached", owner=0, linked=True)
    being_created = runtime("new", owner=None, linked=True)
    unrelated = temp / "bridge-postgres-notes.txt"
    unrelated.write_text("not a directory")

    postgres_module._reap_stale_runtime_dirs(me)
    assert not killed_owner.exists()
    assert not workdir_gone.exists()
    assert not detached_gone.exists()
    assert live_owner.is_dir()
    assert detached.is_dir()
    assert being_created.is_dir()
    assert unrelated.is_file()

    other = postgres_module._Account("other", 54321, 54321, (54321,), "/")
    (tmp_path / "work" / "live" / "cluster").unlink()  # stale now, but not other's
    postgres_module._reap_stale_runtime_dirs(other)
    assert live_owner.is_dir()


# ---------------------------------------------------------------------------- a running server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPostgres]:
    local = LocalPostgres(tmp_path_factory.mktemp("postgres"))
    local.start()
    try:
        yield local
    finally:
        local.stop()


def test_create_insert_select(server: LocalPostgres):
    with psycopg.connect(server.dsn) as conn:
        conn.execute(
            "CREATE TABLE deliveries (event_id uuid PRIMARY KEY, case_code text NOT NULL, "
            "outcome text NOT NULL, settled_at timestamptz NOT NULL DEFAULT now())"
        )
        conn.execute(
            "INSERT INTO deliveries (event_id, case_code, outcome) "
            "VALUES (%s, %s, %s), (%s, %s, %s)",
            (
                "3f0c7c56-5b0e-4a52-9d7e-0a4f3f7d2b11",
                "000.20.31.H56-260310-0042",
                "Đã gửi",
                "0b8e3c1a-8d2f-4c55-9a61-2c7e5e0d9f42",
                "000.20.31.H56-260310-0043",
                "Thất bại",
            ),
        )
        conn.commit()
    with psycopg.connect(server.dsn) as conn:
        rows = conn.execute(
            "SELECT case_code, outcome FROM deliveries ORDER BY case_code"
        ).fetchall()
        assert rows == [
            ("000.20.31.H56-260310-0042", "Đã gửi"),
            ("000.20.31.H56-260310-0043", "Thất bại"),
        ]
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(
                "INSERT INTO deliveries (event_id, case_code, outcome) VALUES (%s, 'x', 'y')",
                ("3f0c7c56-5b0e-4a52-9d7e-0a4f3f7d2b11",),
            )


def test_database_user_and_settings(server: LocalPostgres):
    assert server.dsn == (f"postgresql://bridge:{server.password}@127.0.0.1:{server.port}/bridge")
    with psycopg.connect(server.dsn) as conn:
        settings = dict(
            conn.execute(
                "SELECT name, setting FROM pg_settings WHERE name = ANY(%s)",
                (
                    [
                        "server_encoding",
                        "fsync",
                        "synchronous_commit",
                        "full_page_writes",
                        "max_connections",
                        "listen_addresses",
                        "TimeZone",
                    ],
                ),
            ).fetchall()
        )
        who = conn.execute(
            "SELECT current_user, current_database(), usesuper FROM pg_user "
            "WHERE usename = current_user"
        ).fetchone()
    assert who == ("bridge", "bridge", True)
    assert settings == {
        "server_encoding": "UTF8",
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
        "max_connections": "100",
        "listen_addresses": "127.0.0.1",
        "TimeZone": "UTC",
    }


def test_tcp_needs_the_password(server: LocalPostgres):
    base = f"postgresql://bridge@127.0.0.1:{server.port}/bridge"
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(base, password="wrong", connect_timeout=5)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(base, password="", connect_timeout=5)


def test_listens_on_loopback_only(server: LocalPostgres):
    pid = server.pid
    assert pid is not None
    assert _listening_sockets(pid) == {("127.0.0.1", server.port)}


def test_runs_as_the_service_user_with_private_files(server: LocalPostgres):
    pid = server.pid
    assert pid is not None
    assert _uid_of(pid) == SERVER_UID
    assert all(_uid_of(child) == SERVER_UID for child in _children(pid))
    data = server.data_dir.stat()
    assert data.st_uid == SERVER_UID
    assert stat.S_IMODE(data.st_mode) == 0o700
    assert stat.S_IMODE(server.cluster_dir.stat().st_mode) == 0o700
    assert server.pid_file.read_text().strip() == str(pid)
    assert postgres_module._server_runs_in(server.data_dir)
    assert "ready to accept connections" in server.log_file.read_text()


def test_cluster_location_follows_reachability(server: LocalPostgres):
    link = server.workdir / "cluster"
    if IS_ROOT:  # pytest's temporary dirs are 0700 root: postgres cannot enter them
        assert link.is_symlink()
        assert server.cluster_dir.parent == Path(postgres_module.tempfile.gettempdir())
        assert server.cluster_dir.stat().st_uid == SERVER_UID
    else:
        assert link.is_dir()
        assert not link.is_symlink()
        assert server.cluster_dir == link


def test_session_fixture_serves_a_database(postgres_dsn: str):
    with psycopg.connect(postgres_dsn) as conn:
        assert conn.execute("SELECT 1 + 1").fetchone() == (2,)


# ---------------------------------------------------------------------------- lifecycle


def test_stop_is_idempotent_and_restart_keeps_data_and_port(tmp_path):
    local = LocalPostgres(tmp_path / "work")
    with pytest.raises(PostgresRunnerError, match="not been started"):
        _ = local.dsn
    local.stop()  # never started: nothing to do
    local.start()
    dsn, pid = local.dsn, local.pid
    assert pid is not None
    children = _children(pid)
    with psycopg.connect(dsn) as conn:
        conn.execute("CREATE TABLE ledger (id int PRIMARY KEY, note text)")
        conn.execute("INSERT INTO ledger VALUES (1, 'trước khi khởi động lại')")

    local.stop()
    assert _gone(pid)
    assert all(_gone(child) for child in children)
    assert not postgres_module._server_runs_in(local.data_dir)
    assert local.pid is None
    assert not local.is_running()
    assert not local.pid_file.exists()
    local.stop()  # idempotent

    local.start()
    try:
        assert local.dsn == dsn
        assert local.pid not in (None, pid)
        with psycopg.connect(dsn) as conn:
            rows = conn.execute("SELECT id, note FROM ledger").fetchall()
        assert rows == [(1, "trước khi khởi động lại")]
    finally:
        local.stop()
    assert local.log_file.read_text().count("initdb") == 1


def test_stop_kills_a_server_that_does_not_shut_down(tmp_path):
    local = LocalPostgres(tmp_path / "work")
    local.start()
    pid = local.pid
    assert pid is not None
    children = _children(pid)
    assert children
    os.kill(pid, signal.SIGSTOP)  # the fast-shutdown request will sit unhandled
    started = time.monotonic()
    local.stop(timeout=1.0)
    assert time.monotonic() - started < 10
    assert _gone(pid)
    assert all(_wait_gone(child, 10.0) for child in children)
    assert not local.pid_file.exists()


def test_context_manager_starts_and_stops(tmp_path):
    with LocalPostgres(tmp_path / "work", dbname="ledger_test") as local:
        pid = local.pid
        assert pid is not None
        assert local.dsn.endswith("/ledger_test")
        with psycopg.connect(local.dsn) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("ledger_test",)
    assert _gone(pid)


def test_start_reports_a_server_that_dies(tmp_path):
    local = LocalPostgres(tmp_path / "work")
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        local._port = squatter.getsockname()[1]  # the server cannot bind its port
        started = time.monotonic()
        with pytest.raises(PostgresRunnerError, match="postgres exited") as error:
            local.start(timeout=60)
    assert time.monotonic() - started < 30, "death was not noticed before the timeout"
    assert "Address already in use" in str(error.value)  # the log tail is in the message
    assert not local.is_running()
    assert not local.pid_file.exists()


def test_a_server_left_running_is_stopped_at_exit(tmp_path):
    workdir = tmp_path / "work"
    script = textwrap.dedent(
        f"""
        from bridge_devkit.postgres import LocalPostgres
        server = LocalPostgres({str(workdir)!r})
        server.start()
        print(server.pid, server.cluster_dir, flush=True)
        """
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, result.stderr
    pid_text, cluster = result.stdout.split()
    assert _wait_gone(int(pid_text), 5.0)
    assert not (workdir / "postgres.pid").exists()
    if IS_ROOT:  # the cluster outside the work dir went with the process
        assert not Path(cluster).exists()
        assert not (workdir / "cluster").exists()
    else:  # a cluster inside the work dir is kept, like after stop()
        assert (Path(cluster) / "data" / "PG_VERSION").is_file()


# ---------------------------------------------------------------------------- CLI


def _cli(*args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "bridge_devkit.postgres", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


def test_cli_start_stop_round_trip(tmp_path):
    workdir = tmp_path / "work"
    assert main(["stop", "--workdir", str(workdir)]) == 0  # nothing running: a no-op

    started = _cli("start", "--workdir", str(workdir))
    assert started.returncode == 0, started.stderr
    dsn = started.stdout.strip()
    pid = int((workdir / "postgres.pid").read_text())
    cluster = (workdir / "cluster").resolve()
    try:
        # The CLI has exited; the server lives on in its own session.
        assert _uid_of(pid) == SERVER_UID
        assert (workdir / "dsn").read_text().strip() == dsn
        assert stat.S_IMODE((workdir / "dsn").stat().st_mode) == 0o600  # holds the password
        assert dsn.startswith("postgresql://bridge:")
        assert "@127.0.0.1:" in dsn
        assert not _gone(pid)
        assert os.getsid(pid) == pid
        with psycopg.connect(dsn) as conn:
            conn.execute("CREATE TABLE via_cli (id int)")

        again = _cli("start", "--workdir", str(workdir))
        assert again.returncode == 0
        assert again.stdout.strip() == dsn
        assert "already running" in again.stderr
        assert int((workdir / "postgres.pid").read_text()) == pid
    finally:
        stopped = _cli("stop", "--workdir", str(workdir))
    assert stopped.returncode == 0, stopped.stderr
    assert _wait_gone(pid, 5.0)
    assert not (workdir / "postgres.pid").exists()
    assert not (workdir / "dsn").exists()
    if IS_ROOT:  # a cluster outside the work dir is removed with the server
        assert not cluster.exists()
    else:  # a cluster inside it is kept
        assert (cluster / "data" / "PG_VERSION").is_file()

    twice = _cli("stop", "--workdir", str(workdir))
    assert twice.returncode == 0
    assert "no server running" in twice.stderr


def test_cli_stop_ignores_a_stale_pid_file(tmp_path, capsys):
    # The PID was reused by an unrelated live process: it must not be signalled.
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    with subprocess.Popen(sleeper) as bystander:  # noqa: S603 - our own interpreter
        try:
            (tmp_path / "postgres.pid").write_text(f"{bystander.pid}\n")
            assert main(["stop", "--workdir", str(tmp_path)]) == 0
            assert bystander.poll() is None
        finally:
            bystander.kill()
    assert "no server running" in capsys.readouterr().err
    assert not (tmp_path / "postgres.pid").exists()


def test_cli_start_failure_is_reported(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("PG_BIN", str(tmp_path / "nowhere"))
    assert main(["start", "--workdir", str(tmp_path / "work")]) == 1
    assert "bridge-postgres: PG_BIN=" in capsys.readouterr().err
