"""The plain SQLite reads of every event's path see every commit at once, from any writer."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from bridge.citizens.store import CitizenStore, citizen_links
from bridge.errors import StoreError
from bridge.store.database import open_database
from bridge.store.migrate import upgrade
from bridge.store.sqlite_reads import SqliteReads, prepare, sqlite_file

CODE = "000.20.31.H56-260310-0042"
A, B = "111", "222"
T0 = 1_800_000_000.0


@pytest.fixture
async def url(tmp_path):
    url = f"sqlite:///{tmp_path / 'bridge.sqlite3'}"
    await upgrade(url)
    return url


@pytest.fixture
async def stores(url):
    reader = await CitizenStore.open(url, migrate=False)
    writer = await CitizenStore.open(url, migrate=False)  # another replica's connection
    yield reader, writer
    await reader.close()
    await writer.close()


async def test_a_link_counts_for_the_very_next_read(stores):
    reader, writer = stores
    assert await reader.linked_users(CODE) == []
    await writer.link(A, CODE, factor="phone_last4", at=T0)
    assert await reader.linked_users(CODE.lower()) == [A]
    await writer.link(B, CODE, factor="phone_last4", at=T0 + 1)
    assert await reader.linked_users(CODE) == [A, B]
    assert await writer.unlink(A, CODE, at=T0 + 2)
    assert await reader.linked_users(CODE) == [B]


async def test_the_last_interaction_is_read_as_it_was_last_committed(stores):
    reader, writer = stores
    assert await reader.last_interaction_at(A) is None
    await writer.interacted(A, T0)
    assert await reader.last_interaction_at(A) == T0
    await writer.interacted(A, T0 + 60)
    assert await reader.last_interaction_at(A) == T0 + 60
    await reader.interacted(A, T0 + 120)  # the reading store's own writes, too
    assert await reader.last_interaction_at(A) == T0 + 120


async def test_reads_between_the_stores_own_transactions_hold_no_snapshot(url):
    store = await CitizenStore.open(url, migrate=False)
    try:
        for second in range(3):
            assert await store.linked_users(CODE) == [A] * bool(second)
            await store.link(A, CODE, factor="phone_last4", at=T0 + second)
            await store.record_attempt(B, at=T0 + second, succeeded=True)
    finally:
        await store.close()


async def test_a_database_without_the_tables_is_a_store_error(tmp_path):
    store = await CitizenStore.open(f"sqlite:///{tmp_path / 'empty.sqlite3'}", migrate=False)
    try:
        with pytest.raises(StoreError):
            await store.linked_users(CODE)
        with pytest.raises(StoreError):
            await store.last_interaction_at(A)
    finally:
        await store.close()


def test_a_prepared_read_binds_by_name_and_keeps_the_statements_literals():
    read = prepare(
        sa.select(citizen_links.c.user_id)
        .where(
            citizen_links.c.factor == "phone_last4",
            citizen_links.c.case_code == sa.bindparam("case_code"),
        )
        .limit(1)
    )
    assert read.sql.count("?") == len(read.names)
    assert read.parameters({"case_code": CODE}) == ("phone_last4", CODE, 1, 0)


def test_only_a_file_database_gets_plain_reads():
    assert sqlite_file("/var/lib/bridge/bridge.sqlite3") == "/var/lib/bridge/bridge.sqlite3"
    assert sqlite_file(":memory:") is None
    assert sqlite_file("") is None
    assert sqlite_file(None) is None


async def test_the_read_connection_never_writes(url):
    database = open_database(url, pool_size=1)
    reads = SqliteReads(database.sqlite_connection)
    insert = prepare(sa.select(sa.literal(1)))
    assert await reads.rows(insert) == [(1,)]
    statement = type(insert)("DELETE FROM citizen_links", (), {})
    with pytest.raises(StoreError):
        await reads.rows(statement)
    reads.close()
    reads.close()  # twice is harmless
    assert await reads.rows(insert) == [(1,)]  # and a later read takes a connection again
    reads.close()
    await database.dispose()
