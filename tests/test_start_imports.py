"""A bridge started on SQLite with local object storage and a static token loads none of the
libraries only other configurations use (issue 16: memory), up to readiness and its first event."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest

from bridge.store.migrate import upgrade_sync
from bridge_devkit.harness import Processes, free_port
from process_support import bridge_env, http_status, until

pytestmark = [pytest.mark.kafka]

UNUSED = (
    "alembic",  # the schema is current: nothing to migrate
    "psycopg",  # PostgreSQL
    "sqlalchemy.ext.asyncio",  # PostgreSQL's async engine
    "sqlalchemy.orm",  # loaded by that extension
    "obstore",  # S3 object storage
    "PIL",  # a citizen's image being checked
    "cryptography",  # managed tokens' encryption key
    "holidays",  # a working-day calendar being built
    "segno",  # a receipt's QR code
)

# Runs `python -m bridge run` in this interpreter and, once the bridge answers ready and has
# delivered an event, writes which of UNUSED it has loaded.
_PROBE = """
import json, runpy, sys, threading, time, urllib.error, urllib.request
from pathlib import Path

def ready():
    try:
        with urllib.request.urlopen({ready!r}, timeout=2) as answer:
            return answer.status == 204
    except (OSError, urllib.error.URLError):
        return False

def watch():
    while not (ready() and Path({delivered!r}).exists()):
        time.sleep(0.2)
    loaded = sorted(name for name in {unused!r} if name in sys.modules)
    Path({out!r}).write_text(json.dumps(loaded))

threading.Thread(target=watch, daemon=True).start()
sys.argv = ["zalo-bridge", "run", "--host", "127.0.0.1", "--port", "{port}"]
runpy.run_module("bridge", run_name="__main__", alter_sys=True)
"""


async def test_a_default_sqlite_bridge_loads_none_of_them_through_start_and_an_event(
    kafka_bootstrap, topics, emulator, publish, make_event, encode, tmp_path
):
    store = tmp_path / "ledger.sqlite3"
    upgrade_sync(f"sqlite:///{store}")  # the schema a previous start left: current
    port = free_port()
    out, delivered = tmp_path / "loaded.json", tmp_path / "delivered"
    probe = tmp_path / "probe.py"
    probe.write_text(
        textwrap.dedent(_PROBE).format(
            ready=f"http://127.0.0.1:{port}/health/ready",
            delivered=str(delivered),
            unused=UNUSED,
            out=str(out),
            port=port,
        )
    )
    env = bridge_env(
        emulator.base_url,
        kafka_bootstrap,
        topics,
        store,
        transactional_id=f"{topics.group}-probe",
        BRIDGE_OBJECTS__LOCAL_DIRECTORY=str(tmp_path / "files"),
    )
    processes = Processes()
    try:
        processes.spawn("bridge", [sys.executable, str(probe)], env, tmp_path / "bridge.log")
        url = f"http://127.0.0.1:{port}/health/ready"

        async def is_ready() -> bool:
            return await http_status(url) == 204

        await until(is_ready, "the bridge became ready", timeout=120)
        code = "000.20.31.H56-261205-0001"
        await publish(encode(make_event(sequence=1, case={"code": code})), key=code)

        async def sent() -> bool:
            return len(await emulator.accepted()) == 1

        await until(sent, "the event was delivered")
        delivered.touch()

        async def written() -> bool:
            return out.exists()

        await until(written, "the probe wrote what is loaded", timeout=30)
        assert json.loads(out.read_text()) == []
    finally:
        processes.stop_all()
