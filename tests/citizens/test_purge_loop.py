"""The running bridge's retention purge outlives a failing round."""

from __future__ import annotations

import asyncio

from bridge.citizens.services import CitizenServices
from bridge.citizens.store import PurgeCounts
from bridge.settings import load_settings


class FlakyStore:
    """A store whose first purge fails with an unexpected (non-bridge) error."""

    def __init__(self) -> None:
        self.rounds = 0
        self.second_round = asyncio.Event()

    async def purge(self, *, now, policy):  # noqa: ARG002 - the store's signature
        self.rounds += 1
        if self.rounds == 1:
            raise RuntimeError("driver exploded with a quoted phone 0912345678")
        self.second_round.set()
        return PurgeCounts()

    async def close(self) -> None:
        pass


class NoSender:
    async def send_text(self, user_id, text):
        raise AssertionError((user_id, text))

    async def find_sent(self, user_id, text, *, since):
        raise AssertionError((user_id, text, since))


async def test_a_failed_purge_round_is_logged_and_the_next_round_runs(capsys):
    settings = load_settings(retention={"purge_interval_seconds": 0.01})
    store = FlakyStore()
    services = await CitizenServices.open(settings, sender=NoSender(), store=store)
    try:
        await asyncio.wait_for(store.second_round.wait(), timeout=10)
    finally:
        await services.close()
    assert store.rounds >= 2
    logged = capsys.readouterr()
    assert "retention purge failed" in logged.out + logged.err
    assert "0912345678" not in logged.out + logged.err
