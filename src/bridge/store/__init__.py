"""Generic persistence the wings' stores build on: engines, migrations, portable SQL, locks.

The stores themselves belong to their wings (the ledger to delivery, citizens to citizens, …).
"""

from bridge.store.conflicts import insert_ignoring_duplicates, materialised
from bridge.store.database import Database, DatabaseConnection, open_database
from bridge.store.migrate import upgrade, upgrade_sync
from bridge.store.settings import StoreSettings
from bridge.store.sqlite_locks import LOCK_WAIT_SECONDS, is_busy
from bridge.store.sqlite_reads import SqliteReads, prepare, sqlite_file

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
