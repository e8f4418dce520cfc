"""Bridge processes for end-to-end tests: their environment, starting them, waiting on them."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

import httpx

from bridge_devkit.clock_settings import always_day_env
from bridge_devkit.harness import Processes, clean_env, free_port, read_committed
from support import TOKEN

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

__all__ = ["bridge_env", "committed_statuses", "http_status", "start_bridge", "until"]


def bridge_env(
    emulator_url: str,
    bootstrap: str,
    topics: Any,
    store: Path,
    *,
    transactional_id: str,
    **settings: str,
) -> dict[str, str]:
    """A bridge process's environment against the emulator and the broker, any hour of the day.

    ``settings`` are more ``BRIDGE_…`` variables, by name (they win over these).
    """
    return {
        **clean_env(),
        "BRIDGE_ZALO__BASE_URL": emulator_url,
        "BRIDGE_ZALO__ACCESS_TOKEN": TOKEN,
        "BRIDGE_KAFKA__BOOTSTRAP_SERVERS": bootstrap,
        "BRIDGE_KAFKA__INPUT_TOPIC": topics.input,
        "BRIDGE_KAFKA__DEAD_LETTER_TOPIC": topics.dead_letter,
        "BRIDGE_KAFKA__STATUS_TOPIC": topics.status,
        "BRIDGE_KAFKA__CONSUMER_GROUP": topics.group,
        "BRIDGE_KAFKA__TRANSACTIONAL_ID": transactional_id,
        "BRIDGE_KAFKA__SESSION_TIMEOUT_MS": "6000",
        "BRIDGE_STORE__URL": f"sqlite:///{store}",
        "BRIDGE_LOG__FORMAT": "json",
        **always_day_env(),
        **settings,
    }


def start_bridge(
    processes: Processes, env: dict[str, str], log: Path, port: int | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``python -m bridge run`` on loopback; the process and its base URL."""
    port = port or free_port()
    argv = [sys.executable, "-m", "bridge", "run", "--host", "127.0.0.1", "--port", str(port)]
    return processes.spawn(log.stem, argv, env, log), f"http://127.0.0.1:{port}"


async def http_status(url: str) -> int | None:
    """The status ``GET url`` answers, or None when nothing answers."""
    async with httpx.AsyncClient(timeout=3) as http:
        try:
            return (await http.get(url)).status_code
        except httpx.HTTPError:
            return None


async def until(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 90) -> None:
    """Wait until ``check`` holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.2)


async def committed_statuses(
    bootstrap: str, topic: str, count: int, timeout: float = 90
) -> list[dict[str, Any]]:
    """The committed status events of ``topic`` once ``count`` are there (or time is up).

    One more read follows a short pause, so that a duplicate, if any, has time to show up.
    """
    deadline = time.monotonic() + timeout
    while True:
        records = await read_committed(bootstrap, topic, timeout=3)
        if len(records) >= count or time.monotonic() > deadline:
            await asyncio.sleep(1.0)
            records = await read_committed(bootstrap, topic, timeout=3)
            return [json.loads(record.value) for record in records]
        await asyncio.sleep(0.3)
