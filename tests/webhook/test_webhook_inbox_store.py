"""The durable webhook inbox on SQLite and on a real PostgreSQL server: same answers from both."""

from __future__ import annotations

import asyncio
import uuid

import psycopg
import pytest

from bridge.citizens.store import CitizenStore, RetentionPolicy
from bridge.webhook.inbox import InboxStore

T0 = 1_800_000_000.0
HOUR = 3_600.0
A, B = "111", "222"
LEASE = 60.0


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'inbox.sqlite3'}"
    dsn = request.getfixturevalue("postgres_dsn")
    name = f"inbox_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return dsn.rsplit("/", 1)[0] + "/" + name


@pytest.fixture
async def citizens(store_url):
    opened = await CitizenStore.open(store_url)
    yield opened
    await opened.close()


@pytest.fixture
def inbox(citizens):
    return InboxStore(citizens)


async def add(inbox, key, user=A, at=T0, name="user_send_text"):
    body = f'{{"msg":"{key}"}}'.encode()
    return await inbox.add(dedupe_key=key, event_name=name, user_id=user, body=body, now=at)


async def claim(inbox, owner="r1", now=T0, limit=10, max_attempts=3):
    return await inbox.claim(
        owner=owner, now=now, lease_seconds=LEASE, limit=limit, max_attempts=max_attempts
    )


class TestIntake:
    async def test_an_event_is_stored_once_with_its_raw_body(self, inbox):
        assert await add(inbox, "msg:1")
        assert not await add(inbox, "msg:1", at=T0 + 5)  # a Zalo retry
        assert await inbox.counts() == {"pending": 1}
        [row] = (await claim(inbox)).rows
        assert (row.dedupe_key, row.user_id, row.body, row.attempts) == (
            "msg:1",
            A,
            b'{"msg":"msg:1"}',
            1,
        )

    async def test_two_replicas_storing_the_same_event_keep_one_row(self, store_url, inbox):
        other = await CitizenStore.open(store_url, migrate=False)
        try:
            results = await asyncio.gather(add(inbox, "msg:9"), add(InboxStore(other), "msg:9"))
        finally:
            await other.close()
        assert sorted(results) == [False, True]
        assert await inbox.counts() == {"pending": 1}


class TestClaims:
    async def test_each_user_s_events_come_one_at_a_time_in_order(self, inbox):
        await add(inbox, "a1", A, T0)
        await add(inbox, "b1", B, T0 + 1)
        await add(inbox, "a2", A, T0 + 2)
        first = (await claim(inbox)).rows
        assert [r.dedupe_key for r in first] == ["a1", "b1"]
        assert (await claim(inbox, owner="r2")).rows == []  # a2 waits for a1
        assert await inbox.done(first[0].id, owner="r1", now=T0 + 3)
        [second] = (await claim(inbox, owner="r2", now=T0 + 3)).rows
        assert second.dedupe_key == "a2"
        assert await inbox.counts() == {"claimed": 2, "done": 1}

    async def test_the_limit_bounds_a_claim(self, inbox):
        for n in range(5):
            await add(inbox, f"k{n}", user=str(n), at=T0 + n)
        assert [r.dedupe_key for r in (await claim(inbox, limit=2)).rows] == ["k0", "k1"]

    async def test_an_expired_lease_is_claimed_again_by_another_replica(self, inbox):
        await add(inbox, "a1")
        [row] = (await claim(inbox, owner="dead")).rows
        assert (await claim(inbox, owner="r2", now=T0 + LEASE - 1)).rows == []
        [again] = (await claim(inbox, owner="r2", now=T0 + LEASE + 1)).rows
        assert (again.id, again.attempts) == (row.id, 2)
        assert not await inbox.done(row.id, owner="dead", now=T0 + LEASE + 2)
        assert await inbox.done(row.id, owner="r2", now=T0 + LEASE + 2)
        assert await inbox.status_of("a1") == ("done", 2, None)

    async def test_a_retry_waits_for_its_back_off_and_blocks_its_user_only(self, inbox):
        await add(inbox, "a1", A, T0)
        await add(inbox, "a2", A, T0 + 1)
        await add(inbox, "b1", B, T0 + 2)
        rows = (await claim(inbox)).rows
        a1 = next(r for r in rows if r.dedupe_key == "a1")
        released = await inbox.release(
            a1.id, owner="r1", now=T0 + 3, error="StoreError", retry_at=T0 + 10
        )
        assert released
        assert (await claim(inbox, now=T0 + 5)).rows == []  # a1 backs off, a2 waits behind it
        [retried] = (await claim(inbox, now=T0 + 10)).rows
        assert (retried.dedupe_key, retried.attempts) == ("a1", 2)
        assert await inbox.status_of("a1") == ("claimed", 2, "StoreError")

    async def test_a_failed_event_no_longer_blocks_its_user(self, inbox):
        await add(inbox, "a1", A, T0)
        await add(inbox, "a2", A, T0 + 1)
        [a1] = (await claim(inbox)).rows
        assert await inbox.release(a1.id, owner="r1", now=T0 + 2, error="KeyError", retry_at=None)
        assert await inbox.status_of("a1") == ("failed", 1, "KeyError")
        assert [r.dedupe_key for r in (await claim(inbox, now=T0 + 2)).rows] == ["a2"]

    async def test_an_event_whose_claims_keep_expiring_is_failed(self, inbox):
        await add(inbox, "a1", A, T0)
        await add(inbox, "a2", A, T0 + 1)
        now = T0
        for _ in range(2):
            assert len((await claim(inbox, now=now, max_attempts=2)).rows) == 1
            now += LEASE + 1
        taken = await claim(inbox, now=now, max_attempts=2)
        assert (taken.failed, taken.rows) == (1, [])
        assert await inbox.status_of("a1") == ("failed", 2, "abandoned: no attempt left")
        assert [r.dedupe_key for r in (await claim(inbox, now=now)).rows] == ["a2"]


class TestRetention:
    async def test_done_and_failed_rows_are_purged_after_their_periods(self, citizens, inbox):
        now = T0 + 30 * 24 * HOUR
        policy = RetentionPolicy(webhook_dedupe=24 * HOUR, webhook_failed=7 * 24 * HOUR)
        for key, at in (("old-done", now - 25 * HOUR), ("new-done", now - HOUR)):
            await add(inbox, key, user=key, at=at)
            [row] = (await claim(inbox, now=at)).rows
            await inbox.done(row.id, owner="r1", now=at)
        for key, at in (("old-failed", now - 8 * 24 * HOUR), ("new-failed", now - 2 * 24 * HOUR)):
            await add(inbox, key, user=key, at=at)
            [row] = (await claim(inbox, now=at)).rows
            await inbox.release(row.id, owner="r1", now=at, error="E", retry_at=None)
        await add(inbox, "old-pending", user="p", at=now - 40 * 24 * HOUR)
        counts = await citizens.purge(now=now, policy=policy)
        assert counts.webhook_inbox == 2
        assert await inbox.status_of("old-done") is None
        assert await inbox.status_of("old-failed") is None
        assert await inbox.counts() == {"done": 1, "failed": 1, "pending": 1}
        assert not await add(inbox, "new-done", at=now)  # still deduplicated

    async def test_forgetting_a_user_deletes_their_events(self, citizens, inbox):
        await add(inbox, "a1", A)
        await add(inbox, "b1", B)
        assert await citizens.forget(A) == 1
        assert await inbox.status_of("a1") is None
        assert await inbox.status_of("b1") is not None
