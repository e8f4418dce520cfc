"""Fixtures for the Zalo OA emulator tests: an in-process emulator on a manual clock, a client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from bridge_devkit.emulator import (
    CS_MESSAGE_PATH,
    DEV_ACCESS_TOKEN,
    EmulatorConfig,
    Follower,
    ManualClock,
    RunningEmulator,
    start_emulator,
)

START = datetime(2026, 11, 30, 10, 0, 30, tzinfo=UTC)
"""The manual clock's start: 30 s into a calendar minute."""

FOLLOWER_ID = "2512523625412515"
"""A follower who interacted with the OA one hour before START."""

Send = Callable[..., Awaitable[httpx.Response]]
StartEmulator = Callable[..., Awaitable[RunningEmulator]]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def follower_id() -> str:
    return FOLLOWER_ID


@pytest.fixture
def config() -> EmulatorConfig:
    """The default test configuration; tests needing another one use `start`."""
    return EmulatorConfig(
        followers=(
            Follower(
                user_id=FOLLOWER_ID,
                display_name="Nguyễn Văn A",
                last_interaction_at=START.timestamp() - 3600,
            ),
        ),
    )


@pytest.fixture
async def start(clock: ManualClock) -> AsyncIterator[StartEmulator]:
    """Start emulators on 127.0.0.1 with the manual clock; all are stopped at teardown."""
    running: list[RunningEmulator] = []

    async def _start(config: EmulatorConfig, **kwargs: Any) -> RunningEmulator:
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("shutdown_timeout", 0.1)
        emulator = await start_emulator(config, "127.0.0.1", 0, **kwargs)
        running.append(emulator)
        return emulator

    yield _start
    for emulator in running:
        await emulator.stop()


@pytest.fixture
async def emulator(start: StartEmulator, config: EmulatorConfig) -> RunningEmulator:
    return await start(config)


@pytest.fixture
async def client(emulator: RunningEmulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=emulator.base_url, timeout=5.0) as client:
        yield client


@pytest.fixture
def send(client: httpx.AsyncClient) -> Send:
    """POST a consultation message; `body` replaces the whole JSON body, `content` sends bytes."""

    async def _send(
        text: str = "Hồ sơ 000.00.12.H10-240101-0001 đã được tiếp nhận.",
        *,
        user_id: str = FOLLOWER_ID,
        token: str | None = DEV_ACCESS_TOKEN,
        body: object = None,
        content: bytes | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        headers = {} if token is None else {"access_token": token}
        extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        if content is not None:
            headers["Content-Type"] = "application/json"
            return await client.post(CS_MESSAGE_PATH, content=content, headers=headers, **extra)
        if body is None:
            body = {"recipient": {"user_id": user_id}, "message": {"text": text}}
        return await client.post(CS_MESSAGE_PATH, json=body, headers=headers, **extra)

    return _send


@pytest.fixture
def messages(client: httpx.AsyncClient) -> Callable[..., Awaitable[list[dict[str, Any]]]]:
    """Read `/_emulator/messages` with the given query parameters."""

    async def _messages(**params: str) -> list[dict[str, Any]]:
        response = await client.get("/_emulator/messages", params=params)
        assert response.status_code == 200
        payload = response.json()
        assert payload["count"] == len(payload["messages"])
        return list(payload["messages"])

    return _messages
