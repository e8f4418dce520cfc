"""SQLite's write lock: how long a store waits for another connection's, and how to tell it."""

from __future__ import annotations

import sqlite3

__all__ = ["LOCK_WAIT_SECONDS", "is_busy"]

LOCK_WAIT_SECONDS = 10.0
"""How long a write waits for another connection's write lock before it fails."""


def is_busy(error: sqlite3.OperationalError) -> bool:
    """Whether ``error`` says another connection holds the lock (worth waiting for)."""
    return error.sqlite_errorcode in {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
