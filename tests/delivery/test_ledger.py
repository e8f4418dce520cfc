"""The ledger contract, on SQLite and on a real PostgreSQL server: same answers from both."""

from __future__ import annotations

import asyncio

import pytest

from bridge.delivery.ledger import ClaimResult, SettledStatus, Settlement
from bridge.errors import StoreError, StoreValueError
from bridge.store.migrate import upgrade_sync


@pytest.fixture
def ledger(any_ledger):
    """The ledger on each database (SQLite, PostgreSQL)."""
    return any_ledger


LEASE = 30.0
T0 = 1_800_000_000.0


async def claim(ledger, key="e1/zalo_cs", *, owner="p1", now=T0, sequence=1, case="C1"):
    return await ledger.claim(
        key,
        event_id=key.split("/")[0],
        case_code=case,
        sequence=sequence,
        owner=owner,
        now=now,
        lease_seconds=LEASE,
    )


def delivered(attempts=1, message_id="m1"):
    return Settlement(SettledStatus.DELIVERED, attempts=attempts, zalo_message_id=message_id)


class TestLedger:
    async def test_the_first_claim_wins_and_is_leased(self, ledger):
        first = await claim(ledger)
        assert first.result is ClaimResult.CLAIMED
        assert first.entry.attempts == 1
        assert first.entry.lease_until == T0 + LEASE
        assert (await claim(ledger, owner="p2", now=T0 + 1)).result is ClaimResult.BUSY

    async def test_a_settled_delivery_is_never_claimed_again(self, ledger):
        await claim(ledger)
        await ledger.settle("e1/zalo_cs", delivered(), case_code="C1", sequence=1, now=T0 + 1)
        again = await claim(ledger, owner="p2", now=T0 + 2)
        assert again.result is ClaimResult.SETTLED
        assert (again.entry.status, again.entry.zalo_message_id) == ("delivered", "m1")

    async def test_an_expired_lease_makes_the_send_in_doubt(self, ledger):
        await claim(ledger)
        late = await claim(ledger, owner="p2", now=T0 + LEASE + 1)
        assert late.result is ClaimResult.IN_DOUBT
        assert late.entry.in_doubt_since == T0 + LEASE + 1

    async def test_an_in_doubt_delivery_is_reclaimed_by_one_owner_only(self, ledger):
        await claim(ledger)
        await ledger.mark_in_doubt("e1/zalo_cs", now=T0 + 1)
        assert (await claim(ledger, owner="p2", now=T0 + 2)).result is ClaimResult.IN_DOUBT
        taken = await ledger.reclaim("e1/zalo_cs", owner="p2", now=T0 + 3, lease_seconds=LEASE)
        assert taken == 2
        assert (
            await ledger.reclaim("e1/zalo_cs", owner="p3", now=T0 + 3, lease_seconds=LEASE) is None
        )

    async def test_a_released_claim_may_be_claimed_again(self, ledger):
        await claim(ledger)
        await ledger.release("e1/zalo_cs", now=T0 + 1)
        again = await claim(ledger, owner="p2", now=T0 + 2)
        assert again.result is ClaimResult.CLAIMED
        assert again.entry.attempts == 2

    async def test_events_older_than_the_last_delivered_are_stale(self, ledger):
        await claim(ledger, "new/zalo_cs", sequence=7)
        await ledger.settle("new/zalo_cs", delivered(), case_code="C1", sequence=7, now=T0)
        stale = await claim(ledger, "old/zalo_cs", sequence=6, now=T0 + 1)
        assert stale.result is ClaimResult.STALE
        assert (await claim(ledger, "old/zalo_cs", sequence=6)).result is ClaimResult.SETTLED
        assert (await claim(ledger, "other-case/zalo_cs", sequence=1, case="C2")).result is (
            ClaimResult.CLAIMED
        )

    async def test_the_last_delivered_sequence_never_goes_back(self, ledger):
        for key, sequence in (("a/zalo_cs", 9), ("b/zalo_cs", 4)):
            await claim(ledger, key, sequence=sequence)
            await ledger.settle(key, delivered(), case_code="C1", sequence=sequence, now=T0)
        assert (await claim(ledger, "c/zalo_cs", sequence=5)).result is ClaimResult.STALE

    async def test_concurrent_claims_grant_exactly_one(self, ledger):
        results = await asyncio.gather(*(claim(ledger, owner=f"p{i}") for i in range(8)))
        assert sorted(r.result for r in results).count(ClaimResult.CLAIMED) == 1

    async def test_migrations_are_idempotent(self, ledger_url, ledger):
        upgrade_sync(ledger_url)
        upgrade_sync(ledger_url)
        assert (await claim(ledger)).result is ClaimResult.CLAIMED


class TestFaultsAreTold:
    """A value the database refuses is the record's fault; a database that fails is not."""

    async def test_a_sequence_outside_64_bits_is_refused_as_the_records_fault(self, ledger):
        with pytest.raises(StoreValueError) as refused:
            await claim(ledger, sequence=2**63)
        assert "refused a value" in str(refused.value)
        # Nothing half-done: the same delivery with a valid sequence is a first claim.
        assert (await claim(ledger, sequence=7)).result is ClaimResult.CLAIMED

    async def test_text_that_is_not_unicode_is_refused_as_the_records_fault(self, ledger):
        with pytest.raises(StoreValueError):
            await claim(ledger, case="C\ud800")

    async def test_a_missing_table_is_the_databases_fault_not_the_records(self, ledger_url):
        from bridge.delivery.ledger_stores import open_ledger  # noqa: PLC0415 - opened without its migrations

        bare = await open_ledger(ledger_url, migrate=False)
        try:
            with pytest.raises(StoreError) as failed:
                await claim(bare)
        finally:
            await bare.close()
        assert not isinstance(failed.value, StoreValueError)
