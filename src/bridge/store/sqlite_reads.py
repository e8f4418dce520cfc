"""Plain SQLite reads on the event loop's thread, for the few statements every event runs."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.dialects import sqlite

from bridge.errors import StoreError
from bridge.store.errors import CONVERTED, store_error
from bridge.store.sqlite_locks import LOCK_WAIT_SECONDS, is_busy

if TYPE_CHECKING:
    from sqlalchemy.sql import Select

__all__ = ["PreparedRead", "SqliteReads", "prepare", "sqlite_file"]


def sqlite_file(database: str | None) -> str | None:
    """The file of a SQLAlchemy SQLite URL's ``database``; None for an in-memory database."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database


@dataclass(frozen=True, slots=True)
class PreparedRead:
    """A ``sa.select`` compiled once for SQLite: its text and how to order its parameters."""

    sql: str
    names: tuple[str, ...]
    fixed: dict[str, Any]

    def parameters(self, values: dict[str, Any]) -> tuple[Any, ...]:
        """The positional parameters: ``values`` by name, the statement's literals otherwise."""
        return tuple(values[name] if name in values else self.fixed[name] for name in self.names)


def prepare(statement: Select[Any]) -> PreparedRead:
    """Compile ``statement`` (with ``sa.bindparam`` placeholders) for SQLite, once."""
    compiled = statement.compile(dialect=sqlite.dialect())
    return PreparedRead(str(compiled), tuple(compiled.positiontup or ()), dict(compiled.params))


class SqliteReads:
    """Reads through one plain ``sqlite3`` connection of the store's file, never writing.

    SQLAlchemy's per-statement work (building, cache key, transaction, result rows) and, on the
    async engine, aiosqlite's hop to its thread and back cost many times the query itself; the
    ledger already runs its statements this way. The connection is read-only
    (``query_only``) and in autocommit mode, so it holds no snapshot between statements: each
    read sees everything committed before it, by this process or another. In WAL mode a read
    does not wait for writers; if SQLite is busy all the same (recovery), it tries again after
    an asynchronous pause, up to ``LOCK_WAIT_SECONDS``.

    Args:
        path: The database file.
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._connection: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA busy_timeout=0")
        connection.execute("PRAGMA query_only=ON")
        return connection

    async def rows(self, read: PreparedRead, **values: Any) -> list[Any]:
        """The rows of ``read`` with ``values`` bound; SQLite errors become bridge's.

        ``StoreValueError`` when a value cannot be bound, else ``StoreError``.
        """
        parameters = read.parameters(values)
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        pause = 0.001
        while True:
            try:
                if self._connection is None:
                    self._connection = self._connect()
                return self._connection.execute(read.sql, parameters).fetchall()
            except sqlite3.OperationalError as exc:
                if not is_busy(exc) or time.monotonic() > deadline:
                    raise StoreError(f"SQLite read: {type(exc).__name__}") from exc
            except CONVERTED as exc:
                raise (store_error(exc, "SQLite read") or StoreError("SQLite read")) from exc
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)

    def close(self) -> None:
        """Close the connection (a later read opens another)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
