"""Helpers of the citizens' tests: serve an ASGI app over real HTTP, drive the OA's users."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import uvicorn

from bridge_devkit.emulator import EmulatorConfig

EMULATOR = EmulatorConfig()
APP_ID, OA_ID, OA_SECRET = EMULATOR.app_id, EMULATOR.oa_id, EMULATOR.oa_secret_key
HMAC_KEY = "citizens-test-hmac-key"


@contextlib.asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port (lifespan off); yield its base URL."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def oa_event(http: httpx.AsyncClient, **event: Any) -> list[dict[str, Any]]:
    """Make a user act through the emulator (``POST /_emulator/events``); the delivered events."""
    response = await http.post("/_emulator/events", json=event)
    response.raise_for_status()
    events: list[dict[str, Any]] = response.json()["events"]
    return events


async def chat(http: httpx.AsyncClient, user_id: str) -> list[str]:
    """The texts the OA sent ``user_id`` (accepted by the emulator), oldest first."""
    response = await http.get("/_emulator/messages", params={"user_id": user_id})
    response.raise_for_status()
    return [m["text"] for m in response.json()["messages"]]


async def wait_for_chat(
    http: httpx.AsyncClient, user_id: str, count: int, timeout: float = 20
) -> list[str]:
    """Wait until ``user_id`` has ``count`` texts from the OA (or the timeout passes)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        texts = await chat(http, user_id)
        if len(texts) >= count or loop.time() > deadline:
            return texts
        await asyncio.sleep(0.05)
