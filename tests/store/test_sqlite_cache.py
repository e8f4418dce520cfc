"""SQLite's page cache is capped per connection: its memory does not follow the dossiers' count."""

from __future__ import annotations

import _sqlite3
import contextlib
import ctypes
import gc

import pytest

from bridge.delivery.ledger import ClaimResult, SettledStatus, Settlement
from bridge.delivery.sqlite_ledger import SqliteLedger
from bridge.errors import ConfigurationError
from bridge.settings import load_settings
from bridge.store.database import SQLITE_CACHE_KIB, open_database
from bridge.store.migrate import upgrade_sync

POOL = 6
DOSSIERS = 30_000
ROW = "x" * 240  # ≈ 8 MB of rows: far more than the caches of the pool together


def sqlite_memory_used() -> int:
    """Bytes SQLite holds in this process now (``sqlite3_memory_used``: every connection)."""
    library = ctypes.CDLL(_sqlite3.__file__)  # the module's libsqlite3, symbols included
    used = library.sqlite3_memory_used
    used.restype = ctypes.c_int64
    return int(used())


async def scan_on_every_connection(tmp_path, cache_kib: int) -> int:
    """SQLite's memory growth while every connection of the pool reads every dossier's row."""
    database = open_database(
        f"sqlite:///{tmp_path / f'cache-{cache_kib}.sqlite3'}",
        pool_size=POOL,
        sqlite_cache_kib=cache_kib,
    )
    try:
        async with database.begin() as connection:
            await connection.exec_driver_sql(
                "CREATE TABLE dossier (code TEXT PRIMARY KEY, state TEXT NOT NULL)"
            )
        for start in range(0, DOSSIERS, 5_000):
            async with database.begin() as connection:
                await connection.exec_driver_sql(
                    "INSERT INTO dossier VALUES (?, ?)",
                    [(f"000.20.31.H56-261130-{n:06d}", ROW) for n in range(start, start + 5_000)],
                )
        gc.collect()
        before = sqlite_memory_used()
        async with contextlib.AsyncExitStack() as stack:
            for _ in range(POOL):  # all held at once: each a connection of its own
                connection = await stack.enter_async_context(database.connect())
                result = await connection.exec_driver_sql(
                    "SELECT count(*), sum(length(state)) FROM dossier"
                )
                assert result.one() == (DOSSIERS, DOSSIERS * len(ROW))
            grown = sqlite_memory_used() - before
    finally:
        await database.dispose()
    return grown


async def test_the_pool_s_page_caches_stay_within_the_setting_however_many_dossiers(tmp_path):
    capped = await scan_on_every_connection(tmp_path, 256)
    sqlite_default = await scan_on_every_connection(tmp_path, 2_000)  # SQLite's own default

    # Each connection may hold its 256 KiB of pages, plus its statements and bookkeeping.
    assert capped <= POOL * (256 + 128) * 1024
    assert sqlite_default > POOL * 1_500 * 1024, "without the cap each connection fills 2 MB"


async def test_every_connection_of_the_process_gets_the_setting(tmp_path):
    database = open_database(f"sqlite:///{tmp_path / 'db.sqlite3'}", sqlite_cache_kib=300)
    try:
        async with database.connect() as connection:
            pooled = (await connection.exec_driver_sql("PRAGMA cache_size")).scalar_one()
        held = database.sqlite_connection()  # the ledger's and the per-event reads' kind
        assert held.execute("PRAGMA cache_size").fetchone() == (-300,)
        assert pooled == -300
    finally:
        await database.dispose()


def test_the_setting_defaults_to_512_kib_and_refuses_nonsense():
    assert load_settings().store.sqlite_cache_kib == SQLITE_CACHE_KIB == 512
    with pytest.raises(ConfigurationError, match="sqlite_cache_kib"):
        load_settings(store={"sqlite_cache_kib": 0})


async def test_a_dossier_that_left_the_small_cache_is_still_deduplicated_and_ordered(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    upgrade_sync(f"sqlite:///{path}")
    ledger = SqliteLedger.open(str(path))  # the default cap: 512 KiB
    now = 1_800_000_000.0

    async def claim(event: str, case: str, sequence: int):
        return await ledger.claim(
            f"{event}/zalo_cs",
            event_id=event,
            case_code=case,
            sequence=sequence,
            owner="p1",
            now=now,
            lease_seconds=30.0,
        )

    async def deliver(event: str, case: str, sequence: int) -> None:
        assert (await claim(event, case, sequence)).result is ClaimResult.CLAIMED
        await ledger.settle(
            f"{event}/zalo_cs",
            Settlement(SettledStatus.DELIVERED, attempts=1, zalo_message_id=f"m-{event}"),
            case_code=case,
            sequence=sequence,
            now=now,
        )

    try:
        await deliver("first", "KEEP", 4)
        for n in range(8_000):  # enough distinct dossiers to push KEEP's pages out of the cache
            await deliver(f"e{n}", f"D{n:06d}", 2)
        assert (await claim("first", "KEEP", 4)).result is ClaimResult.SETTLED, "sent once"
        assert (await claim("older", "KEEP", 2)).result is ClaimResult.STALE, "order kept"
        await deliver("newer", "KEEP", 6)
    finally:
        await ledger.close()
