"""SQLite stores of one process share a file: a write waits for another's lock off the loop."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from bridge.citizens.store import CitizenStore
from bridge.delivery.ledger import ClaimResult
from bridge.delivery.sqlite_ledger import SqliteLedger
from bridge.store.database import open_database
from bridge.store.migrate import upgrade


@pytest.fixture
async def database(tmp_path):
    path = tmp_path / "bridge.sqlite3"
    url = f"sqlite:///{path}"
    await upgrade(url)
    return url, str(path)


async def hold_the_write_lock(url: str, holding: asyncio.Event, release: asyncio.Event) -> None:
    """A store's transaction that awaits something before it commits (another connection)."""
    engine = open_database(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO cases (case_code, last_delivered_sequence, updated_at)"
                    " VALUES ('OTHER-0001', 1, 0)"
                )
            )
            holding.set()
            await release.wait()
    finally:
        await engine.dispose()


async def test_a_ledger_claim_waits_for_another_stores_transaction_and_then_succeeds(database):
    url, path = database
    ledger = SqliteLedger.open(path)
    holding, release = asyncio.Event(), asyncio.Event()
    other = asyncio.create_task(hold_the_write_lock(url, holding, release))
    await holding.wait()
    claim = asyncio.create_task(
        ledger.claim(
            "event-1/zalo_cs",
            event_id="event-1",
            case_code="CASE-0001",
            sequence=1,
            owner="p1",
            now=100.0,
            lease_seconds=30,
        )
    )
    await asyncio.sleep(0.05)
    assert not claim.done()  # waiting for the lock, and the loop still runs this test
    release.set()
    await other
    assert (await claim).result is ClaimResult.CLAIMED
    await ledger.close()


async def test_a_citizen_store_write_waits_for_another_stores_transaction(database):
    url, _ = database
    store = await CitizenStore.open(url, migrate=False)
    holding, release = asyncio.Event(), asyncio.Event()
    other = asyncio.create_task(hold_the_write_lock(url, holding, release))
    await holding.wait()
    followed = asyncio.create_task(store.followed("2512523625412515", at=100.0))
    await asyncio.sleep(0.05)
    assert not followed.done()
    release.set()
    await other
    await followed
    citizen = await store.citizen("2512523625412515")
    assert citizen is not None
    assert citizen["followed"]
    await store.close()
