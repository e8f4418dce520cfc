"""Plain SQLite reads on the event loop's thread, for the few statements every event runs."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.dialects import sqlite

from bridge.errors import StoreError
from bridge.store.errors import converted_errors, store_error
from bridge.store.sqlite_locks import LOCK_WAIT_SECONDS, is_busy

if TYPE_CHECKING:
    from sqlalchemy.sql import Select

__all__ = ["PreparedRead", "SqliteReads", "prepare", "sqlite_file"]

Connect = Callable[[], sqlite3.Connection]
"""Gives the plain connection the reads run on (``Database.sqlite_connection``)."""


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
    """Reads through one plain ``sqlite3`` connection of the store's pool, never writing.

    SQLAlchemy's per-statement work (building, cache key, transaction, result rows) costs
    several times the query itself; the ledger runs its statements this way too. The connection
    is read-only (``query_only``) and in autocommit mode, so it holds no snapshot between
    statements: each read sees everything committed before it, by this process or another. In
    WAL mode a read does not wait for writers; if SQLite is busy all the same (recovery), it
    tries again after an asynchronous pause, up to ``LOCK_WAIT_SECONDS``.

    Args:
        connect: Gives the connection, on the first read (``Database.sqlite_connection``: the
            process's one pool; the connection goes back to it when the database is disposed).
    """

    def __init__(self, connect: Connect) -> None:
        self._connect_to = connect
        self._connection: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        connection = self._connect_to()
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
            except converted_errors() as exc:
                raise (store_error(exc, "SQLite read") or StoreError("SQLite read")) from exc
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)

    def close(self) -> None:
        """Forget the connection (the database closes it when disposed)."""
        self._connection = None
