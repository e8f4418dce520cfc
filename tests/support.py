"""Helpers shared by the integration and end-to-end tests (imported as ``support``)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition

from bridge_devkit.harness import committed_offsets

BASE_EVENT: dict[str, Any] = {
    "schema_version": 1,
    "event_id": "3f0c7c56-5b0e-4a52-9d7e-0a4f3f7d2b11",
    "event_type": "STATE_CHANGED",
    "occurred_at": "2026-03-10T09:30:11+07:00",
    "province": "thanh-hoa",
    "source_system": "td-dvc",
    "sequence": 2,
    "case": {
        "code": "000.20.31.H56-260310-0042",
        "procedure_code": "1.004616",
        "procedure_name": "Đăng ký thành lập hộ kinh doanh",
        "receiving_agency": {
            "code": "000.20.31.H56",
            "name": "Trung tâm Phục vụ hành chính công phường Hạc Thành",
        },
        "handling_department": "Phòng Kinh tế",
        "channel": "ONLINE",
        "received_at": "2026-03-10T09:30:11+07:00",
        "due_at": "2026-03-13T17:00:00+07:00",
    },
    "state": "RECEIVED",
    "previous_state": "SUBMITTED",
    "recipient": {"zalo_user_id": "2512523625412515", "notify_consent": True},
}
"""A valid case-state event (v1); tests change what they need with ``make_event``."""


def structlog_test_defaults() -> None:
    """structlog's own defaults, but with plain tracebacks instead of rich's.

    Code that logs before any ``configure_logging`` (most in-process tests) goes through
    structlog's default console renderer, which draws every ``log.exception`` as a rich traceback
    with syntax-highlighted source and local variables: seconds per line, and most of the record
    fuzz's time. The lines and their tracebacks are the same text, only not drawn.
    """
    structlog.reset_defaults()
    processors = list(structlog.get_config()["processors"])
    processors[-1] = structlog.dev.ConsoleRenderer(
        exception_formatter=structlog.dev.plain_traceback
    )
    structlog.configure(processors=processors)


USER = "2512523625412515"
OTHER_USER = "5510185758261927916"
TOKEN = "it-access-token"


class Emulator:
    """The Zalo OA emulator, driven through its admin API as a test would drive a real peer."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = httpx.AsyncClient(base_url=base_url, timeout=5)

    async def follow(self, *user_ids: str, days_ago: float = 0) -> None:
        moment = time.time() - days_ago * 86400
        iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))
        body = [
            {"user_id": u, "display_name": f"Công dân {u[-4:]}", "last_interaction_at": iso}
            for u in user_ids
        ]
        (await self.http.put("/_emulator/followers", json=body)).raise_for_status()

    async def fault(self, **fault: Any) -> None:
        (await self.http.post("/_emulator/faults", json=fault)).raise_for_status()

    async def clear_faults(self) -> None:
        (await self.http.delete("/_emulator/faults")).raise_for_status()

    async def messages(self, **params: str) -> list[dict[str, Any]]:
        response = await self.http.get("/_emulator/messages", params=params)
        response.raise_for_status()
        body = response.json()
        return body["messages"] if isinstance(body, dict) else body

    async def accepted(self) -> list[dict[str, Any]]:
        return await self.messages(status="accepted")

    async def wait_for_accepted(self, count: int, timeout: float = 30) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            accepted = await self.accepted()
            if len(accepted) >= count or time.monotonic() > deadline:
                return accepted
            await asyncio.sleep(0.1)


async def _reader(bootstrap: str, topic: str, *, committed: bool) -> AIOKafkaConsumer:
    """A started consumer of ``topic`` from its start, outside any group."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        isolation_level="read_committed" if committed else "read_uncommitted",
    )
    await consumer.start()
    return consumer


async def read_topic(
    bootstrap: str, topic: str, count: int, timeout: float = 20, *, committed: bool = False
) -> list[Any]:
    """Read ``count`` records from the start of ``topic`` (fewer if the timeout passes).

    ``committed`` reads as the one-stop-shop does (``read_committed``): only what a committed
    transaction wrote.
    """
    consumer = await _reader(bootstrap, topic, committed=committed)
    records: list[Any] = []
    try:
        deadline = time.monotonic() + timeout
        while len(records) < count and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for part in batch.values():
                records.extend(part)
    finally:
        await consumer.stop()
    return records


async def settled(bootstrap: str, group: str, topic: str, count: int, timeout: float = 60) -> None:
    """Wait until ``group`` has committed ``count`` records of ``topic``.

    bridge commits a record's offset only once it has settled (sent and recorded, with its
    status event in the same transaction): nothing is sent for it afterwards. A test that
    waits for this proves "nothing sent twice" without waiting out a second to be sure.
    """
    deadline = time.monotonic() + timeout
    while True:
        offsets = await committed_offsets(bootstrap, group, topic)
        if sum(offsets.values()) >= count:
            return
        assert time.monotonic() < deadline, f"{group} committed {offsets} of {count} on {topic}"
        await asyncio.sleep(0.1)


async def read_all(
    bootstrap: str, topic: str, timeout: float = 20, *, committed: bool = False
) -> list[Any]:
    """Every record ``topic`` holds now, read up to its end offsets (nothing is waited for).

    For a topic whose writers have finished (a replay that returned): the test then sees all
    they wrote and nothing less, without waiting out a timeout to be sure no more comes.
    """
    consumer = await _reader(bootstrap, topic, committed=committed)
    records: list[Any] = []
    try:
        deadline = time.monotonic() + timeout
        ends: dict[TopicPartition, int] = {}
        while time.monotonic() < deadline:
            partitions = sorted(consumer.assignment())
            if partitions and not ends:
                ends = await consumer.end_offsets(partitions)
            if ends:
                positions = [await consumer.position(tp) for tp in partitions]
                if all(pos >= ends[tp] for pos, tp in zip(positions, partitions, strict=True)):
                    break
            batch = await consumer.getmany(timeout_ms=200)
            for part in batch.values():
                records.extend(part)
        else:
            raise AssertionError(f"{topic} was not read to its end within {timeout} s")
    finally:
        await consumer.stop()
    return records
