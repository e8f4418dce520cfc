"""Fixtures of the use-case tests: a fake clock, a fake sleep that moves it, a SQLite ledger."""

from __future__ import annotations

import pytest

from bridge.delivery.sqlite_ledger import SqliteLedger
from bridge.store.migrate import upgrade_sync
from cascade_support import Clock, Sleeps


@pytest.fixture
def clock() -> Clock:
    """Modules needing another kind of clock define their own ``clock`` fixture."""
    return Clock()


@pytest.fixture
def sleeps(clock) -> Sleeps:
    return Sleeps(clock)


@pytest.fixture
async def ledger(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    upgrade_sync(f"sqlite:///{path}")
    store = SqliteLedger.open(str(path))
    yield store
    await store.close()  # its queued batches, then its own database (the pool, not one handle)
