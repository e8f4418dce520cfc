"""Generic persistence the wings' stores build on: engines, migrations, portable SQL, locks.

The stores themselves belong to their wings (the ledger to delivery, citizens to citizens, …).
The migrations (``upgrade``, ``upgrade_sync``) load alembic on first use only.
"""

from __future__ import annotations

import typing

from bridge.store.conflicts import insert_ignoring_duplicates, materialised
from bridge.store.database import Database, DatabaseConnection, open_database
from bridge.store.settings import StoreSettings
from bridge.store.sqlite_locks import LOCK_WAIT_SECONDS, is_busy
from bridge.store.sqlite_reads import SqliteReads, prepare, sqlite_file

if typing.TYPE_CHECKING:
    from bridge.store.migrate import upgrade, upgrade_sync

__all__ = [
    "LOCK_WAIT_SECONDS",
    "Database",
    "DatabaseConnection",
    "SqliteReads",
    "StoreSettings",
    "insert_ignoring_duplicates",
    "is_busy",
    "materialised",
    "open_database",
    "prepare",
    "sqlite_file",
    "upgrade",
    "upgrade_sync",
]


def __getattr__(name: str) -> typing.Any:
    """``upgrade`` and ``upgrade_sync`` on first use (PEP 562): alembic only when migrating."""
    if name in {"upgrade", "upgrade_sync"}:
        from bridge.store import migrate  # noqa: PLC0415 - alembic only when migrating

        return getattr(migrate, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
