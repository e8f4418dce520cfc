"""Tests of the local Kafka broker runner (bridge_devkit.kafka) against a real broker."""

from __future__ import annotations

import base64
import ipaddress
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError

from bridge_devkit import kafka as kafka_module
from bridge_devkit.kafka import (
    MARKER_NAME,
    KafkaRunnerError,
    LocalKafka,
    ScramUser,
    default_cache_dir,
    ensure_jars,
    generate_cluster_id,
    main,
    render_server_properties,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

URLSAFE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


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
            # /proc prints the address as host-order 32-bit words.
            packed = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            address = ipaddress.ip_address(socket.inet_ntop(family, packed))
            if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
                address = address.ipv4_mapped
            found.add((str(address), int(port_hex, 16)))
    return found


def _gone(pid: int) -> bool:
    """Whether ``pid`` no longer runs (a zombie counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"


def _wait_gone(pid: int, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while not _gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


async def _create_topic(bootstrap: str, topic: str, partitions: int = 1) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(name=topic, num_partitions=partitions, replication_factor=1)]
        )
    finally:
        await admin.close()


async def _consume(
    bootstrap: str, topic: str, count: int, within: float = 20.0, **options: object
) -> list[tuple[bytes | None, bytes | None]]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"test-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **options,
    )
    await consumer.start()
    records: list[tuple[bytes | None, bytes | None]] = []
    try:
        deadline = time.monotonic() + within
        while len(records) < count and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for batch in batches.values():
                records.extend((record.key, record.value) for record in batch)
    finally:
        await consumer.stop()
    return records


async def _produce(bootstrap: str, topic: str, values: list[bytes], **options: object) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", **options)
    try:  # stop() also after a failed start(), or aiokafka warns "Unclosed AIOKafkaProducer"
        await producer.start()
        for index, value in enumerate(values):
            await producer.send_and_wait(topic, value, key=f"k{index}".encode())
    finally:
        await producer.stop()


# ---------------------------------------------------------------------------- no broker


def test_cluster_id_is_22_urlsafe_chars_of_16_bytes():
    ids = {generate_cluster_id() for _ in range(500)}
    assert len(ids) == 500
    for cluster_id in ids:
        assert len(cluster_id) == 22
        assert set(cluster_id) <= URLSAFE
        assert not cluster_id.startswith("-")
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16


def test_cluster_id_never_starts_with_dash(monkeypatch):
    dash_first = uuid.UUID(bytes=b"\xf8" + bytes(15))  # base64 of 0xF8... starts with '-'
    assert base64.urlsafe_b64encode(dash_first.bytes).startswith(b"-")
    plain = uuid.UUID(bytes=bytes(16))
    values = iter([dash_first, dash_first, plain])
    monkeypatch.setattr(kafka_module.uuid, "uuid4", lambda: next(values))
    assert generate_cluster_id() == "A" * 22


def test_default_cache_dir_honours_env(monkeypatch, tmp_path):
    monkeypatch.setenv("BRIDGE_KAFKA_CACHE", str(tmp_path / "override"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir("4.0.2") == tmp_path / "override" / "lib-4.0.2"
    monkeypatch.delenv("BRIDGE_KAFKA_CACHE")
    assert default_cache_dir("4.0.2") == tmp_path / "xdg" / "zalo-bridge" / "kafka" / "lib-4.0.2"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    expected = tmp_path / "home" / ".cache" / "zalo-bridge" / "kafka" / "lib-4.1.0"
    assert default_cache_dir("4.1.0") == expected


def test_server_properties_bind_loopback_only(tmp_path):
    text = render_server_properties(
        log_dir=tmp_path, port=1111, controller_port=2222, sasl_port=3333
    )
    props = dict(
        line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")
    )
    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:2222"
    assert props["listeners"] == (
        "PLAINTEXT://127.0.0.1:1111,CONTROLLER://127.0.0.1:2222,SASL_PLAINTEXT://127.0.0.1:3333"
    )
    assert "CONTROLLER" not in props["advertised.listeners"]
    assert props["log.dirs"] == str(tmp_path)
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["offsets.topic.num.partitions"] == "1"
    assert "SCRAM-SHA-512" in props["listener.name.sasl_plaintext.sasl.enabled.mechanisms"]
    plain = render_server_properties(log_dir=tmp_path, port=1111, controller_port=2222)
    assert "SASL" not in plain


def test_scram_user_rejects_unformattable_values():
    with pytest.raises(ValueError, match="SCRAM"):
        ScramUser("a,b", "pw")
    with pytest.raises(ValueError, match="SCRAM"):
        ScramUser("alice", "")
    assert ScramUser("alice", "pw").add_scram_argument() == (
        "SCRAM-SHA-512=[name=alice,password=pw]"
    )


def test_ensure_jars_without_mvn_raises(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(KafkaRunnerError, match="mvn"):
        ensure_jars(cache_dir=tmp_path / "lib")
    assert not (tmp_path / "lib").exists()


def test_ensure_jars_rejects_kafka_3(tmp_path):
    with pytest.raises(KafkaRunnerError, match=r"only 4\.x"):
        ensure_jars("3.9.1", cache_dir=tmp_path / "lib")


def test_start_without_java_raises(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    broker = LocalKafka(tmp_path / "work", lib_dir=tmp_path)
    with pytest.raises(KafkaRunnerError, match="java"):
        broker.start()
    assert not broker.is_running()


# ---------------------------------------------------------------------------- Maven


@pytest.mark.kafka
def test_ensure_jars_redoes_an_unfinished_copy_then_skips_maven(monkeypatch, tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "half-copied.jar").write_bytes(b"")  # no marker: an interrupted earlier run
    assert ensure_jars(cache_dir=lib) == lib
    jars = {path.name for path in lib.glob("*.jar")}
    assert "half-copied.jar" not in jars
    assert "kafka_2.13-4.0.2.jar" in jars
    assert "log4j-slf4j-impl-2.24.3.jar" in jars
    assert "4.0.2" in (lib / MARKER_NAME).read_text()
    assert not [p for p in tmp_path.iterdir() if p.name != "lib"], "staging dir left behind"
    # Complete now: a second call must not need Maven (or anything on PATH) at all.
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert ensure_jars(cache_dir=lib) == lib


# ---------------------------------------------------------------------------- a running broker


@pytest.fixture(scope="module")
def jars() -> Path:
    return ensure_jars()


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory, jars: Path) -> Iterator[LocalKafka]:
    local = LocalKafka(tmp_path_factory.mktemp("kafka"), lib_dir=jars)
    local.start()
    try:
        yield local
    finally:
        local.stop()


@pytest.mark.kafka
async def test_produce_and_consume(broker: LocalKafka):
    await _create_topic(broker.bootstrap_servers, "devkit.roundtrip", partitions=2)
    values = [f"hồ sơ {i}".encode() for i in range(5)]
    await _produce(broker.bootstrap_servers, "devkit.roundtrip", values)
    records = await _consume(broker.bootstrap_servers, "devkit.roundtrip", len(values))
    assert sorted(value for _, value in records if value is not None) == sorted(values)
    assert {key for key, _ in records} == {f"k{i}".encode() for i in range(5)}


@pytest.mark.kafka
def test_broker_listens_on_loopback_only(broker: LocalKafka):
    pid = broker.pid
    assert pid is not None
    sockets = _listening_sockets(pid)
    assert sockets, "no listening sockets found for the broker"
    assert {address for address, _ in sockets} == {"127.0.0.1"}
    ports = {port for _, port in sockets}
    assert broker.port in ports
    assert len(ports) == 2  # PLAINTEXT + CONTROLLER, nothing else (no JMX)
    assert broker.bootstrap_servers == f"127.0.0.1:{broker.port}"


@pytest.mark.kafka
def test_broker_files_and_quiet_log(broker: LocalKafka):
    assert broker.pid_file.read_text().strip() == str(broker.pid)
    meta = (broker.data_dir / "meta.properties").read_text()
    assert f"cluster.id={broker.cluster_id}" in meta
    log = broker.log_file.read_text()
    assert "Kafka Server started" in log
    assert " INFO " not in log.replace("INFO [KafkaRaftServer", "")  # WARN, but the start line


@pytest.mark.kafka
async def test_stop_is_idempotent_and_restart_keeps_data_and_address(tmp_path, jars):
    local = LocalKafka(tmp_path / "work", lib_dir=jars)
    with pytest.raises(KafkaRunnerError, match="not been started"):
        _ = local.bootstrap_servers
    local.stop()  # never started: nothing to do
    local.start()  # from inside a running event loop: readiness runs in a helper thread
    bootstrap, pid = local.bootstrap_servers, local.pid
    assert pid is not None
    await _create_topic(bootstrap, "devkit.restart")
    await _produce(bootstrap, "devkit.restart", [b"before restart"])

    local.stop()
    assert _gone(pid)
    assert local.pid is None
    assert not local.is_running()
    assert not local.pid_file.exists()
    local.stop()  # idempotent

    local.start()
    try:
        assert local.bootstrap_servers == bootstrap
        assert local.pid not in (None, pid)
        records = await _consume(bootstrap, "devkit.restart", 1)
        assert [value for _, value in records] == [b"before restart"]
    finally:
        local.stop()


@pytest.mark.kafka
def test_start_reports_a_broker_that_dies(tmp_path, jars):
    local = LocalKafka(tmp_path / "work", lib_dir=jars)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        local._port = squatter.getsockname()[1]  # the broker cannot bind its client port
        local._controller_port = kafka_module._free_ports(1)[0]
        started = time.monotonic()
        with pytest.raises(KafkaRunnerError, match="broker exited") as error:
            local.start(timeout=60)
    assert time.monotonic() - started < 30, "death was not noticed before the timeout"
    assert "Address already in use" in str(error.value)  # the log tail is in the message
    assert not local.is_running()
    assert not local.pid_file.exists()


@pytest.mark.kafka
async def test_sasl_scram_listener(tmp_path, jars):
    users = [ScramUser("bridge", "bridge-secret")]
    with LocalKafka(tmp_path / "work", lib_dir=jars, scram_users=users) as local:
        pid = local.pid
        assert pid is not None
        sasl = local.sasl_bootstrap_servers
        assert sasl != local.bootstrap_servers
        assert {address for address, _ in _listening_sockets(pid)} == {"127.0.0.1"}
        good = {
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_plain_username": "bridge",
            "sasl_plain_password": "bridge-secret",
        }
        await _create_topic(local.bootstrap_servers, "devkit.sasl")
        await _produce(sasl, "devkit.sasl", [b"authenticated"], **good)
        records = await _consume(sasl, "devkit.sasl", 1, **good)
        assert [value for _, value in records] == [b"authenticated"]

        bad = {**good, "sasl_plain_password": "wrong"}
        with pytest.raises(KafkaConnectionError):
            await _produce(sasl, "devkit.sasl", [b"rejected"], request_timeout_ms=5000, **bad)
        unknown = {**good, "sasl_plain_username": "nobody"}
        with pytest.raises(KafkaConnectionError):
            await _produce(sasl, "devkit.sasl", [b"rejected"], request_timeout_ms=5000, **unknown)
    assert _gone(pid)


def test_sasl_bootstrap_needs_users(tmp_path):
    with pytest.raises(KafkaRunnerError, match="scram_users"):
        _ = LocalKafka(tmp_path).sasl_bootstrap_servers


# ---------------------------------------------------------------------------- CLI


def _cli(*args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "bridge_devkit.kafka", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


@pytest.mark.kafka
@pytest.mark.usefixtures("jars")  # resolved once, outside the CLI's readiness timeout
async def test_cli_start_stop_round_trip(tmp_path):
    workdir = tmp_path / "work"
    assert main(["stop", "--workdir", str(workdir)]) == 0  # nothing running: a no-op

    started = _cli("start", "--workdir", str(workdir))
    assert started.returncode == 0, started.stderr
    bootstrap = started.stdout.strip()
    pid = int((workdir / "broker.pid").read_text())
    try:
        # The CLI has exited; the broker lives on in its own session.
        assert (workdir / "bootstrap").read_text().strip() == bootstrap
        assert bootstrap.startswith("127.0.0.1:")
        assert not _gone(pid)
        assert os.getsid(pid) == pid
        await _create_topic(bootstrap, "devkit.cli")
        await _produce(bootstrap, "devkit.cli", [b"via cli"])

        again = _cli("start", "--workdir", str(workdir))
        assert again.returncode == 0
        assert again.stdout.strip() == bootstrap
        assert "already running" in again.stderr
        assert int((workdir / "broker.pid").read_text()) == pid
    finally:
        stopped = _cli("stop", "--workdir", str(workdir))
    assert stopped.returncode == 0, stopped.stderr
    assert _wait_gone(pid, 5.0)
    assert not (workdir / "broker.pid").exists()
    assert not (workdir / "bootstrap").exists()

    twice = _cli("stop", "--workdir", str(workdir))
    assert twice.returncode == 0
    assert "no broker running" in twice.stderr


def test_cli_stop_ignores_a_stale_pid_file(tmp_path, capsys):
    # The PID was reused by an unrelated live process: it must not be signalled.
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    with subprocess.Popen(sleeper) as bystander:  # noqa: S603 - our own interpreter
        try:
            (tmp_path / "broker.pid").write_text(f"{bystander.pid}\n")
            assert main(["stop", "--workdir", str(tmp_path)]) == 0
            assert bystander.poll() is None
        finally:
            bystander.kill()
    assert "no broker running" in capsys.readouterr().err
    assert not (tmp_path / "broker.pid").exists()


def test_cli_jars_prints_the_cache_dir(monkeypatch, tmp_path, capsys):
    lib = tmp_path / "lib-4.0.2"
    lib.mkdir()
    (lib / MARKER_NAME).write_text(kafka_module._marker_text("4.0.2", kafka_module.find_pom()))
    monkeypatch.setenv("BRIDGE_KAFKA_CACHE", str(tmp_path))
    assert main(["jars"]) == 0
    assert capsys.readouterr().out.strip() == str(lib)
