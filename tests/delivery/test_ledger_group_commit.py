"""Group commit in the SQLite ledger: calls made together share a transaction, each as if alone."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.delivery import sqlite_ledger
from bridge.delivery.ledger import ClaimResult, SettledStatus, Settlement
from bridge.delivery.sqlite_ledger import SqliteLedger
from bridge.errors import StoreError, StoreValueError
from bridge.store.database import open_database
from bridge.store.migrate import upgrade_sync

LEASE = 30.0
T0 = 1_800_000_000.0
_STATUS = 5
"""The status column's place in the deliveries table."""


@pytest.fixture(scope="module")
def migrated(tmp_path_factory):
    """A migrated ledger database, copied for each test (the migrations run once)."""
    path = tmp_path_factory.mktemp("ledger") / "template.sqlite3"
    upgrade_sync(f"sqlite:///{path}")
    return path


class Traced:
    """A ledger on a connection of the process's database, with the statements it ran."""

    def __init__(self, path: Path, *, max_batch: int = 500) -> None:
        self.database = open_database(f"sqlite:///{path}", pool_size=1)
        self.connection = self.database.sqlite_connection()
        self.statements: list[str] = []
        self.connection.set_trace_callback(self.statements.append)
        self.ledger = SqliteLedger(self.connection, database=self.database, max_batch=max_batch)
        self.path = path

    @property
    def transactions(self) -> int:
        """How many transactions committed."""
        return self.statements.count("COMMIT")

    def rows(self, table: str) -> list[tuple[object, ...]]:
        """The table's rows, read through a connection of its own."""
        with contextlib.closing(sqlite3.connect(self.path)) as other:
            return other.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()  # noqa: S608 - the test's own names

    def statuses(self) -> dict[object, object]:
        """Each delivery's status."""
        return {row[0]: row[_STATUS] for row in self.rows("deliveries")}


@pytest.fixture
async def traced(migrated, tmp_path):
    path = tmp_path / "ledger.sqlite3"
    shutil.copy(migrated, path)
    store = Traced(path)
    yield store
    await store.ledger.close()


def claim(ledger, key="e1/zalo_cs", *, owner="p1", now=T0, sequence=1, case="C1"):
    return ledger.claim(
        key,
        event_id=key.split("/")[0],
        case_code=case,
        sequence=sequence,
        owner=owner,
        now=now,
        lease_seconds=LEASE,
    )


def settle(ledger, key="e1/zalo_cs", *, status=SettledStatus.DELIVERED, sequence=1, now=T0 + 1):
    settlement = Settlement(status, attempts=1, zalo_message_id="m1")
    return ledger.settle(key, settlement, case_code="C1", sequence=sequence, now=now)


async def together(*calls):
    """Start the calls in this order in one turn of the loop: they join one batch."""
    tasks = [asyncio.ensure_future(call) for call in calls]
    return await asyncio.gather(*tasks, return_exceptions=True)


class TestOneTransactionForMany:
    async def test_claims_and_settlements_of_distinct_keys_share_one_transaction(self, traced):
        keys = [f"e{i}/zalo_cs" for i in range(50)]
        claims = await together(
            *(claim(traced.ledger, k, case=f"C{i}") for i, k in enumerate(keys))
        )
        assert [c.result for c in claims] == [ClaimResult.CLAIMED] * 50
        assert traced.transactions == 1
        settled = [
            traced.ledger.settle(
                k,
                Settlement(SettledStatus.DELIVERED, attempts=1),
                case_code=f"C{i}",
                sequence=1,
                now=T0,
            )
            for i, k in enumerate(keys)
        ]
        assert await together(*settled) == [None] * 50
        assert traced.transactions == 2
        assert set(traced.statuses().values()) == {"delivered"}
        assert len(traced.rows("cases")) == 50

    async def test_a_batch_holds_at_most_max_batch_calls(self, migrated, tmp_path):
        path = tmp_path / "small.sqlite3"
        shutil.copy(migrated, path)
        store = Traced(path, max_batch=3)
        try:
            await together(*(claim(store.ledger, f"e{i}/zalo_cs") for i in range(7)))
        finally:
            await store.ledger.close()
        assert store.transactions == 3

    async def test_calls_made_while_the_write_lock_is_awaited_join_the_batch(self, traced):
        with contextlib.closing(sqlite3.connect(traced.path, isolation_level=None)) as other:
            other.execute("BEGIN IMMEDIATE")  # another store of the process is writing
            first = asyncio.ensure_future(claim(traced.ledger, "a/zalo_cs"))
            for _ in range(3):
                await asyncio.sleep(0)  # the flusher found the lock taken and sleeps
            later = [
                asyncio.ensure_future(claim(traced.ledger, k)) for k in ("b/zalo_cs", "c/zalo_cs")
            ]
            await asyncio.sleep(0)
            assert not first.done()
            other.execute("ROLLBACK")
        answers = await asyncio.gather(first, *later)
        assert [a.result for a in answers] == [ClaimResult.CLAIMED] * 3
        assert traced.transactions == 1

    async def test_a_call_after_a_committed_batch_starts_a_new_one(self, traced):
        await claim(traced.ledger, "a/zalo_cs")
        assert (await claim(traced.ledger, "b/zalo_cs")).result is ClaimResult.CLAIMED
        assert traced.transactions == 2

    async def test_a_lone_call_waits_a_turn_of_the_loop_never_a_timer(self, traced):
        lone = asyncio.ensure_future(claim(traced.ledger))
        for _ in range(4):
            await asyncio.sleep(0)
        assert lone.done()
        assert lone.result().result is ClaimResult.CLAIMED

    async def test_every_call_returns_only_once_its_transaction_committed(self, traced):
        """What a caller does next never gets ahead of the durable ledger."""
        seen = []

        async def claim_then_look(key):
            await claim(traced.ledger, key)
            seen.append((key, traced.connection.in_transaction, len(traced.rows("deliveries"))))

        await together(*(claim_then_look(f"e{i}/zalo_cs") for i in range(5)))
        assert seen == [(f"e{i}/zalo_cs", False, 5) for i in range(5)]


class TestAsIfOneByOne:
    async def test_two_claims_of_one_key_in_one_batch_the_second_is_busy(self, traced):
        first, second = await together(
            claim(traced.ledger, owner="p1"), claim(traced.ledger, owner="p2", now=T0 + 1)
        )
        assert traced.transactions == 1
        assert first.result is ClaimResult.CLAIMED
        assert second.result is ClaimResult.BUSY
        assert second.entry.lease_until == T0 + LEASE

    async def test_a_claim_after_a_settlement_of_its_key_in_one_batch_is_settled(self, traced):
        await claim(traced.ledger)
        settled, again = await together(settle(traced.ledger), claim(traced.ledger, owner="p2"))
        assert settled is None
        assert again.result is ClaimResult.SETTLED
        assert (again.entry.status, again.entry.zalo_message_id) == ("delivered", "m1")
        assert traced.transactions == 2

    async def test_a_claim_before_a_settlement_of_its_key_in_one_batch_is_claimed(self, traced):
        claimed, settled = await together(claim(traced.ledger), settle(traced.ledger))
        assert claimed.result is ClaimResult.CLAIMED
        assert claimed.entry.status == "sending"
        assert settled is None
        assert traced.transactions == 1

    async def test_a_settlement_makes_a_later_claim_of_its_case_stale_in_the_same_batch(
        self, traced
    ):
        await claim(traced.ledger, "new/zalo_cs", sequence=7)
        _, stale = await together(
            settle(traced.ledger, "new/zalo_cs", sequence=7),
            claim(traced.ledger, "old/zalo_cs", sequence=6),
        )
        assert stale.result is ClaimResult.STALE
        assert traced.transactions == 2

    async def test_two_claims_of_a_settled_key_in_one_batch_are_both_settled(self, traced):
        await claim(traced.ledger)
        await settle(traced.ledger)
        answers = await together(claim(traced.ledger, owner="p2"), claim(traced.ledger, owner="p3"))
        assert [a.result for a in answers] == [ClaimResult.SETTLED] * 2

    async def test_a_release_then_a_claim_in_one_batch_claims_again(self, traced):
        await claim(traced.ledger)
        released, again = await together(
            traced.ledger.release("e1/zalo_cs", now=T0 + 1), claim(traced.ledger, owner="p2")
        )
        assert released is None
        assert (again.result, again.entry.attempts) == (ClaimResult.CLAIMED, 2)


class TestFailures:
    async def test_a_refused_commit_fails_every_caller_with_one_error_and_writes_nothing(
        self, traced
    ):
        def no_commit(action, arg1, *_):
            if action == sqlite3.SQLITE_TRANSACTION and arg1 == "COMMIT":
                return sqlite3.SQLITE_DENY
            return sqlite3.SQLITE_OK

        traced.connection.set_authorizer(no_commit)
        answers = await together(
            claim(traced.ledger, "a/zalo_cs"),
            claim(traced.ledger, "b/zalo_cs"),
            settle(traced.ledger, "c/zalo_cs"),
        )
        assert all(isinstance(a, StoreError) for a in answers), answers
        assert answers[0] is answers[1] is answers[2]
        assert isinstance(answers[0].__cause__, sqlite3.DatabaseError)
        assert traced.rows("deliveries") == []
        assert traced.rows("cases") == []
        assert not traced.connection.in_transaction
        traced.connection.set_authorizer(None)
        # The ledger goes on: the same claims are first claims.
        again = await together(claim(traced.ledger, "a/zalo_cs"), claim(traced.ledger, "b/zalo_cs"))
        assert [a.result for a in again] == [ClaimResult.CLAIMED] * 2

    async def test_a_write_lock_never_granted_fails_every_caller(self, traced, monkeypatch):
        monkeypatch.setattr(sqlite_ledger, "LOCK_WAIT_SECONDS", 0.05)
        with contextlib.closing(sqlite3.connect(traced.path, isolation_level=None)) as other:
            other.execute("BEGIN IMMEDIATE")
            answers = await together(
                claim(traced.ledger, "a/zalo_cs"), claim(traced.ledger, "b/zalo_cs")
            )
            other.execute("ROLLBACK")
        assert isinstance(answers[0], StoreError)
        assert answers[0] is answers[1]
        assert "stayed locked" in str(answers[0])
        assert traced.rows("deliveries") == []

    async def test_a_value_refused_fails_its_caller_only_and_the_others_are_written(self, traced):
        answers = await together(
            claim(traced.ledger, "a/zalo_cs"),
            claim(traced.ledger, "bad/zalo_cs", sequence=2**63),
            claim(traced.ledger, "c/zalo_cs"),
            claim(traced.ledger, "a/zalo_cs", owner="p2"),
        )
        assert answers[0].result is ClaimResult.CLAIMED
        assert isinstance(answers[1], StoreValueError)
        assert answers[2].result is ClaimResult.CLAIMED
        assert answers[3].result is ClaimResult.BUSY  # still after the first, as sequentially
        assert [row[0] for row in traced.rows("deliveries")] == ["a/zalo_cs", "c/zalo_cs"]
        # The batch, rolled back, then each call in a transaction of its own.
        assert traced.statements.count("BEGIN IMMEDIATE") == 1 + 4
        assert traced.statements.count("ROLLBACK") == 2
        assert traced.transactions == 3
        assert not traced.connection.in_transaction

    async def test_a_bug_in_one_call_fails_that_call_only(self, traced, monkeypatch):
        real = SqliteLedger._release

        def broken(self, key, now):
            if key == "bad/zalo_cs":
                raise RuntimeError("a bug")
            real(self, key, now)

        monkeypatch.setattr(SqliteLedger, "_release", broken)
        await together(claim(traced.ledger, "a/zalo_cs"), claim(traced.ledger, "bad/zalo_cs"))
        answers = await together(
            traced.ledger.release("a/zalo_cs", now=T0 + 1),
            traced.ledger.release("bad/zalo_cs", now=T0 + 1),
        )
        assert answers[0] is None
        assert isinstance(answers[1], RuntimeError)
        assert traced.statuses() == {"a/zalo_cs": "retry", "bad/zalo_cs": "sending"}


class TestCancellation:
    async def test_a_cancelled_caller_does_not_break_its_batch(self, traced):
        tasks = [asyncio.ensure_future(claim(traced.ledger, f"e{i}/zalo_cs")) for i in range(5)]
        await asyncio.sleep(0)  # every call queued; the flusher has not run yet
        tasks[2].cancel()
        answers = await asyncio.gather(*tasks, return_exceptions=True)
        assert isinstance(answers[2], asyncio.CancelledError)
        assert [answers[i].result for i in (0, 1, 3, 4)] == [ClaimResult.CLAIMED] * 4
        assert traced.transactions == 1
        # A claim nobody waits for is not made: the delivery is free for the next claim.
        keys = [row[0] for row in traced.rows("deliveries")]
        assert keys == ["e0/zalo_cs", "e1/zalo_cs", "e3/zalo_cs", "e4/zalo_cs"]
        again = await claim(traced.ledger, "e2/zalo_cs", owner="p2")
        assert (again.result, again.entry.attempts) == (ClaimResult.CLAIMED, 1)

    async def test_a_settlement_whose_caller_left_is_still_written(self, traced):
        await claim(traced.ledger)
        settling = asyncio.ensure_future(settle(traced.ledger))
        other = asyncio.ensure_future(claim(traced.ledger, "e2/zalo_cs"))
        await asyncio.sleep(0)
        settling.cancel()
        assert (await other).result is ClaimResult.CLAIMED
        assert settling.cancelled()
        assert traced.statuses() == {"e1/zalo_cs": "delivered", "e2/zalo_cs": "sending"}

    async def test_a_claim_cancelled_while_its_batch_waits_for_the_lock_is_not_made(self, traced):
        with contextlib.closing(sqlite3.connect(traced.path, isolation_level=None)) as other:
            other.execute("BEGIN IMMEDIATE")
            kept = asyncio.ensure_future(claim(traced.ledger, "kept/zalo_cs"))
            dropped = asyncio.ensure_future(claim(traced.ledger, "dropped/zalo_cs"))
            for _ in range(3):
                await asyncio.sleep(0)  # the flusher found the lock taken and sleeps
            dropped.cancel()
            other.execute("ROLLBACK")
        assert (await kept).result is ClaimResult.CLAIMED
        assert dropped.cancelled()
        assert [row[0] for row in traced.rows("deliveries")] == ["kept/zalo_cs"]

    async def test_close_writes_what_is_queued(self, migrated, tmp_path):
        path = tmp_path / "closing.sqlite3"
        shutil.copy(migrated, path)
        store = Traced(path)
        await claim(store.ledger)
        settling = asyncio.ensure_future(settle(store.ledger))
        await asyncio.sleep(0)
        await store.ledger.close()
        assert settling.done()
        assert list(store.statuses().values()) == ["delivered"]


# ------------------------------------------------------------------ batched = sequential

_KEYS = [f"e{sequence}/zalo_cs" for sequence in range(1, 5)]
_SETTLED = [SettledStatus.DELIVERED, SettledStatus.FAILED, SettledStatus.SUPPRESSED]

_OPERATIONS = st.one_of(
    st.tuples(st.just("claim"), st.sampled_from(_KEYS), st.sampled_from(["p1", "p2"])),
    st.tuples(st.just("settle"), st.sampled_from(_KEYS), st.sampled_from(_SETTLED)),
    st.tuples(st.just("release"), st.sampled_from(_KEYS), st.none()),
    st.tuples(st.just("doubt"), st.sampled_from(_KEYS), st.none()),
    st.tuples(st.just("reclaim"), st.sampled_from(_KEYS), st.sampled_from(["p1", "p2"])),
)


def _call(ledger, index, operation):
    """The ledger call an operation stands for; its time moves on (and past leases) with index."""
    name, key, arg = operation
    sequence = int(key.split("/")[0][1:])
    now = T0 + index * 11.0  # a lease of 30 s ends three operations later
    match name:
        case "claim":
            return claim(ledger, key, owner=arg, sequence=sequence, now=now)
        case "settle":
            settlement = Settlement(arg, attempts=1, zalo_message_id=f"m{index}")
            return ledger.settle(key, settlement, case_code="C1", sequence=sequence, now=now)
        case "release":
            return ledger.release(key, now=now)
        case "doubt":
            return ledger.mark_in_doubt(key, now=now)
        case _:
            return ledger.reclaim(key, owner=arg, now=now, lease_seconds=LEASE)


def _run(template: Path, operations, *, batched: bool):
    """Make the calls on a copy of ``template``; their answers and the tables afterwards."""

    async def calls(path: Path):
        store = Traced(path)
        try:
            if batched:
                answers = await together(
                    *(_call(store.ledger, i, o) for i, o in enumerate(operations))
                )
            else:
                answers = [await _call(store.ledger, i, o) for i, o in enumerate(operations)]
        finally:
            await store.ledger.close()
        return answers, store.transactions, store.rows("deliveries"), store.rows("cases")

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "ledger.sqlite3"
        shutil.copy(template, path)
        return asyncio.run(calls(path))


@given(operations=st.lists(_OPERATIONS, min_size=1, max_size=12))
def test_calls_in_one_batch_answer_and_write_as_one_by_one(migrated, operations):
    """Whatever calls arrive together, each answers and writes as if it had been alone."""
    batched, transactions, *tables = _run(migrated, operations, batched=True)
    alone, one_each, *tables_alone = _run(migrated, operations, batched=False)
    assert batched == alone
    assert tables == tables_alone
    assert (transactions, one_each) == (1, len(operations))
