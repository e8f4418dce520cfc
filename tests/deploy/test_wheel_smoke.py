"""The image's steps without Docker: wheel, fresh virtualenv, `zalo-bridge run`, ready in time."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
import yaml
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from chart_support import REPO

from bridge_devkit.clock_settings import always_day_sections

pytestmark = [pytest.mark.kafka, pytest.mark.e2e]

READY_WITHIN_SECONDS = 60
"""How long a started bridge may take to answer 204 on /health/ready (the chart's startupProbe
allows 150 s; a reachable broker and an empty SQLite ledger need far less)."""

STOP_WITHIN_SECONDS = 45
"""The chart's default terminationGracePeriodSeconds: preStop 5 + delivery.lease_seconds 30 + 10."""


def _run(*args: str | Path, cwd: Path | None = None) -> None:
    done = subprocess.run(  # noqa: S603 - our interpreter and pip, our arguments
        [str(a) for a in args],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        cwd=cwd,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(path.relative_to(root)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in root.rglob("*")
        if path.is_file()
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _create_topics(bootstrap: str, names: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(n, num_partitions=1, replication_factor=1) for n in names]
        )
    finally:
        await admin.close()


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bridge installed like the Dockerfile does: wheels first, then a venv from those alone."""
    root = tmp_path_factory.mktemp("image")
    wheels = root / "wheels"
    pip = [sys.executable, "-m", "pip", "--quiet"]
    _run(*pip, "wheel", "--wheel-dir", wheels, "--no-deps", REPO)
    (wheel,) = wheels.glob("zalo_bridge-*.whl")
    _run(*pip, "wheel", "--wheel-dir", wheels, "--constraint", REPO / "constraints.txt", wheel)
    venv = root / "opt" / "zalo-bridge"
    _run(sys.executable, "-m", "venv", venv)
    _run(
        venv / "bin" / "pip",
        "install",
        "--quiet",
        "--no-index",
        "--find-links",
        wheels,
        "zalo-bridge",
    )
    _run(venv / "bin" / "pip", "uninstall", "--quiet", "-y", "pip")
    return venv


def test_the_installed_wheel_is_ready_in_time_writes_nothing_to_its_install_and_stops_on_sigterm(
    installed, kafka_bootstrap, tmp_path
):
    suffix = uuid.uuid4().hex[:8]
    topics = [f"smoke-{suffix}", f"smoke-{suffix}.dlq", f"smoke-{suffix}.status"]
    asyncio.run(_create_topics(kafka_bootstrap, topics))
    data, scratch, home = tmp_path / "data", tmp_path / "tmp", tmp_path / "home"
    for directory in (data, scratch, home):
        directory.mkdir()
    settings = tmp_path / "settings.yaml"  # what the chart's ConfigMap holds
    settings.write_text(
        yaml.safe_dump(
            {
                "kafka": {
                    "bootstrap_servers": kafka_bootstrap,
                    "input_topic": topics[0],
                    "dead_letter_topic": topics[1],
                    "status_topic": topics[2],
                    "consumer_group": f"smoke-{suffix}",
                    "client_id": f"smoke-{suffix}",
                },
                "zalo": {"base_url": "http://127.0.0.1:9"},
                "log": {"format": "json"},
                **always_day_sections(),  # nothing is published; nothing depends on the hour
            }
        ),
        encoding="utf-8",
    )
    env = {  # what the chart's pod gets: the settings file, and secrets as BRIDGE_… variables
        "PATH": f"{installed / 'bin'}:/usr/bin:/bin",
        "HOME": str(home),
        "TMPDIR": str(scratch),
        "PYTHONDONTWRITEBYTECODE": "1",
        "BRIDGE_CONFIG_FILE": str(settings),
        "BRIDGE_STORE__URL": f"sqlite:///{data / 'ledger.sqlite3'}",
    }
    before = _tree(installed)
    port = _free_port()
    log = (tmp_path / "bridge.log").open("w", encoding="utf-8")
    process = subprocess.Popen(  # noqa: S603 - the installed console script
        [str(installed / "bin" / "zalo-bridge"), "run", "--host", "127.0.0.1", "--port", str(port)],
        cwd=data,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        ready_after = _wait_ready(f"http://127.0.0.1:{port}", process)
        assert ready_after is not None, (tmp_path / "bridge.log").read_text(encoding="utf-8")
        assert ready_after < READY_WITHIN_SECONDS
        assert httpx.get(f"http://127.0.0.1:{port}/health/live").status_code == 204
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=STOP_WITHIN_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            code = None
        log.close()
    output = (tmp_path / "bridge.log").read_text(encoding="utf-8")
    # uvicorn re-raises SIGTERM once it has shut down gracefully: the status says "terminated".
    assert code in {0, -signal.SIGTERM}, output
    assert "Application shutdown complete." in output
    assert _tree(installed) == before  # a read-only root filesystem would have refused any write
    assert (data / "ledger.sqlite3").is_file()  # the ledger is in the data volume


def _wait_ready(base_url: str, process: subprocess.Popen[bytes]) -> float | None:
    """Seconds until /health/ready answered 204, or None if it never did in time."""
    started = time.monotonic()
    with httpx.Client(base_url=base_url, timeout=2) as client:
        while time.monotonic() - started < READY_WITHIN_SECONDS:
            if process.poll() is not None:
                return None
            try:
                if client.get("/health/ready").status_code == 204:
                    return time.monotonic() - started
            except httpx.TransportError:
                pass
            time.sleep(0.25)
    return None
