"""The one database of a bridge process: one SQLAlchemy engine and one pool, shared by every store.

Every store (the ledger, the citizens, link guards, webhook inbox, holds, announcements, tokens)
reaches SQL through one ``Database``: SQLAlchemy Core over one engine whose pool is the
process's only pool, sized by ``store.pool_size``.

* **PostgreSQL**: one async engine (psycopg 3), ``pool_size`` connections and no overflow; a store
  that finds them all busy waits up to ``pool_timeout`` for one (slower, not failed), then gets a
  ``StoreError``, an infrastructure fault that the record path waits out.
* **SQLite** (one replica): one synchronous engine whose statements run on the event loop's
  thread (a statement takes microseconds: cheaper than a hop to a worker thread). Transactions
  are begun by bridge (``BEGIN IMMEDIATE`` for writes), and waiting for another connection's
  write lock never blocks the loop: the ``BEGIN`` is tried again after an asynchronous pause, up
  to ``LOCK_WAIT_SECONDS``. So no lock wait can deadlock a store whose transaction waits for the
  loop.

Stores use ``begin()`` (a write transaction), ``connect()`` (reads, each statement on its own),
or ``run(work)`` (a synchronous function run in one transaction); the SQLite ledger and the
per-event reads take plain DBAPI connections from the same pool (``sqlite_connection``), because
on SQLite SQLAlchemy's per-statement work costs several times the statement itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy import event

from bridge.errors import ConfigurationError, StoreError
from bridge.store.sqlite_locks import LOCK_WAIT_SECONDS, is_busy

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from sqlalchemy.engine import Connection, CursorResult
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = [
    "SQLITE_CACHE_KIB",
    "Database",
    "DatabaseConnection",
    "DatabaseTransaction",
    "async_url",
    "open_database",
    "sync_url",
]

_T = TypeVar("_T")
_HELD_SQLITE = 4
"""Plain SQLite connections held for a process's life: the ledger's and the stores' reads."""

SQLITE_CACHE_KIB = 512
"""SQLite's page cache per connection (KiB) unless ``store.sqlite_cache_kib`` says otherwise."""

Dialect = Literal["sqlite", "postgresql"]


def async_url(url: str) -> str:
    """The SQLAlchemy async form of a PostgreSQL store URL (psycopg 3)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    raise ConfigurationError("store.url must start with sqlite:/// or postgresql://")


def sync_url(url: str) -> str:
    """The SQLAlchemy synchronous form of a store URL (pysqlite, or psycopg 3)."""
    if url.startswith("sqlite:///"):
        return url
    return async_url(url)


class DatabaseTransaction(Protocol):
    """A transaction begun on a ``DatabaseConnection`` and ended by its holder."""

    @property
    def is_active(self) -> bool:
        """Not committed or rolled back yet."""
        ...

    async def commit(self) -> None:
        """Commit."""
        ...

    async def rollback(self) -> None:
        """Roll back."""
        ...


class DatabaseConnection(Protocol):
    """What a store does with a connection: SQLAlchemy's ``AsyncConnection`` has these.

    Results are SQLAlchemy's (``CursorResult``), already fetched: reading them does no I/O.
    """

    @property
    def dialect(self) -> sa.Dialect:
        """The dialect (``dialect.name`` is ``sqlite`` or ``postgresql``)."""
        ...

    async def execute(self, statement: Any, parameters: Any = None) -> Any:
        """Run one statement (a ``CursorResult``)."""
        ...

    async def scalar(self, statement: Any, parameters: Any = None) -> Any:
        """Run one statement and return the first column of its first row."""
        ...

    async def exec_driver_sql(self, statement: str, parameters: Any = None) -> Any:
        """Run SQL text as the driver takes it (``%s`` for psycopg, ``?`` for SQLite)."""
        ...

    async def run_sync(self, fn: Callable[..., _T], *args: Any) -> _T:
        """Call ``fn(sync_connection, *args)``."""
        ...

    def begin(self) -> Awaitable[Any]:
        """Begin a transaction (a ``DatabaseTransaction``) on a connection from ``connect``."""
        ...


class _SqliteTransaction:
    """A transaction begun on a ``_SqliteConnection`` (the token store commits it itself)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self.is_active = True

    async def commit(self) -> None:
        """Commit."""
        if self.is_active:
            self.is_active = False
            self._connection.exec_driver_sql("COMMIT")

    async def rollback(self) -> None:
        """Roll back."""
        if self.is_active:
            self.is_active = False
            self._connection.exec_driver_sql("ROLLBACK")


class _SqliteConnection:
    """``DatabaseConnection`` over a synchronous SQLite connection, run on the loop's thread.

    Awaiting one of its statements does not yield to the event loop: a statement runs to its end
    at once, so a transaction of plain statements is never interleaved with another task.
    """

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    @property
    def dialect(self) -> sa.Dialect:
        """The SQLite dialect."""
        return self._connection.dialect

    async def execute(self, statement: Any, parameters: Any = None) -> CursorResult[Any]:
        """Run one statement."""
        return self._connection.execute(statement, parameters)

    async def scalar(self, statement: Any, parameters: Any = None) -> Any:
        """Run one statement and return the first column of its first row."""
        return self._connection.scalar(statement, parameters)

    async def exec_driver_sql(self, statement: str, parameters: Any = None) -> CursorResult[Any]:
        """Run SQL text as sqlite3 takes it."""
        return self._connection.exec_driver_sql(statement, parameters)

    async def run_sync(self, fn: Callable[..., _T], *args: Any) -> _T:
        """Call ``fn(connection, *args)``."""
        return fn(self._connection, *args)

    def begin(self) -> Awaitable[_SqliteTransaction]:
        """Begin a deferred transaction: its write lock is taken at its first write."""
        self._connection.exec_driver_sql("BEGIN")
        return _ready(_SqliteTransaction(self._connection))


class Database:
    """One engine and one pool for every store of a process; see the module docstring.

    Args:
        url: ``sqlite:///path`` or ``postgresql://…`` (``store.url``).
        pool_size: Connections of the pool (``store.pool_size``); on PostgreSQL, the most this
            process ever opens.
        pool_timeout: How long a store waits for a free connection before a ``StoreError``.
        application_name: Shown in PostgreSQL's ``pg_stat_activity`` for these connections.
        prepared_statements: Let psycopg prepare frequent statements on the server (off behind
            an old PgBouncer in transaction mode).
        sqlite_cache_kib: SQLite's page cache of each connection, in KiB
            (``store.sqlite_cache_kib``; SQLite's own default is 2,000 KiB per connection, which
            a pool of fourteen fills as the tables grow).
    """

    def __init__(  # noqa: PLR0913 - the URL, then the pool's knobs, keyword-only
        self,
        url: str,
        *,
        pool_size: int = 10,
        pool_timeout: float = 30.0,
        application_name: str = "zalo-bridge",
        prepared_statements: bool = True,
        sqlite_cache_kib: int = SQLITE_CACHE_KIB,
    ) -> None:
        self.url = url
        self.pool_size = pool_size
        self._held: list[Any] = []
        self._sqlite: sa.Engine | None = None
        self._async: AsyncEngine | None = None
        if url.startswith("sqlite:///"):
            self.dialect: Dialect = "sqlite"
            path = url.removeprefix("sqlite:///")
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            # More than asked: the ledger and the per-event reads of two stores hold one each.
            self._sqlite = sa.create_engine(
                url,
                isolation_level="AUTOCOMMIT",  # bridge begins and ends every transaction itself
                pool_size=pool_size + _HELD_SQLITE,
                max_overflow=0,
                pool_timeout=pool_timeout,
                hide_parameters=True,
            )
            event.listen(
                self._sqlite, "connect", functools.partial(_sqlite_pragmas, sqlite_cache_kib)
            )
        else:
            # SQLAlchemy's asyncio extension (with the ORM it loads, ≈ 7 MB) only on PostgreSQL.
            from sqlalchemy.ext.asyncio import create_async_engine  # noqa: PLC0415 - see above

            self.dialect = "postgresql"
            self._async = create_async_engine(
                async_url(url),
                pool_size=pool_size,
                max_overflow=0,
                pool_timeout=pool_timeout,
                pool_pre_ping=True,
                hide_parameters=True,
                connect_args={
                    "application_name": application_name,
                    **({} if prepared_statements else {"prepare_threshold": None}),
                },
            )

    @property
    def sqlite_path(self) -> str | None:
        """The SQLite file, or None on PostgreSQL (or for an in-memory database)."""
        if self._sqlite is None:
            return None
        database = self._sqlite.url.database
        return None if not database or database == ":memory:" else database

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[DatabaseConnection]:
        """A write transaction: committed when the block ends, rolled back if it raises."""
        if self._async is not None:
            async with self._async.begin() as connection:
                yield connection
            return
        with self._sqlite_connection() as connection:
            await _begin_immediate(connection)
            try:
                yield _SqliteConnection(connection)
            except BaseException:
                connection.exec_driver_sql("ROLLBACK")
                raise
            connection.exec_driver_sql("COMMIT")

    @contextlib.asynccontextmanager
    async def connect(self) -> AsyncIterator[DatabaseConnection]:
        """A connection for reads (each statement on its own) or a transaction begun on it."""
        if self._async is not None:
            async with self._async.connect() as connection:
                yield connection
            return
        with self._sqlite_connection() as connection:
            try:
                yield _SqliteConnection(connection)
            finally:
                if getattr(connection.connection.driver_connection, "in_transaction", False):
                    connection.exec_driver_sql("ROLLBACK")

    async def run(self, work: Callable[[Connection], _T]) -> _T:
        """Run ``work`` in one transaction on a synchronous connection, and return its result.

        On SQLite ``work`` runs whole on the loop's thread once the write lock is taken; on
        PostgreSQL through the async engine (``run_sync``).
        """
        if self._async is not None:
            async with self._async.begin() as connection:
                return await connection.run_sync(work)
        with self._sqlite_connection() as connection:
            await _begin_immediate(connection)
            try:
                result = work(connection)
            except BaseException:
                connection.exec_driver_sql("ROLLBACK")
                raise
            connection.exec_driver_sql("COMMIT")
            return result

    def sqlite_connection(self) -> sqlite3.Connection:
        """A plain ``sqlite3`` connection of the pool, held until ``dispose`` (SQLite only).

        For the statements every event runs (the ledger, the per-event reads): in autocommit
        mode, with ``busy_timeout`` 0, so the caller begins its transactions itself and waits
        for the write lock asynchronously.
        """
        if self._sqlite is None:
            raise ConfigurationError("a plain SQLite connection needs a SQLite store")
        proxied = self._sqlite.raw_connection()
        self._held.append(proxied)
        driver = proxied.driver_connection
        if not isinstance(driver, sqlite3.Connection):  # pragma: no cover - pysqlite only
            raise ConfigurationError("the SQLite engine did not give a sqlite3 connection")
        driver.isolation_level = None  # autocommit: the holder begins its transactions itself
        return driver

    @contextlib.contextmanager
    def _sqlite_connection(self) -> Any:
        assert self._sqlite is not None  # noqa: S101 - SQLite paths only
        with self._sqlite.connect() as connection:
            yield connection

    async def dispose(self) -> None:
        """Close every connection of the pool (the held ones too)."""
        held, self._held = self._held, []
        for proxied in held:
            with contextlib.suppress(Exception):
                proxied.invalidate()  # closed, not given back: their settings were their holders'
        if self._sqlite is not None:
            self._sqlite.dispose()
        if self._async is not None:
            await self._async.dispose()

    def sync_engine(self) -> sa.Engine:
        """The synchronous engine (SQLite), or the async engine's synchronous face (PostgreSQL)."""
        if self._sqlite is not None:
            return self._sqlite
        assert self._async is not None  # noqa: S101 - one of the two exists
        return self._async.sync_engine

    def checked_out(self) -> int:
        """Connections of the pool in use now (for the metrics)."""
        pool = self.sync_engine().pool
        return int(getattr(pool, "checkedout", lambda: 0)())


async def _ready(value: _T) -> _T:
    return value


async def _begin_immediate(connection: Connection) -> None:
    """Take SQLite's write lock, waiting without blocking the loop; a ``StoreError`` after that."""
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    pause = 0.001
    while True:
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except sa.exc.OperationalError as exc:
            orig = exc.orig
            if not (isinstance(orig, sqlite3.OperationalError) and is_busy(orig)):
                raise
            if time.monotonic() > deadline:
                raise StoreError(
                    f"the SQLite store stayed locked for {LOCK_WAIT_SECONDS:.0f} s"
                ) from exc
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)
        else:
            return


def _sqlite_pragmas(cache_kib: int, connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    # Bounded explicitly: SQLite's page cache is native memory, per connection, and fills up to
    # its size as the tables grow (with the number of dossiers), whatever the load.
    cursor.execute(f"PRAGMA cache_size=-{int(cache_kib)}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=0")  # lock waits happen asynchronously, never blocking
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def open_database(  # noqa: PLR0913 - the URL, then the pool's knobs, keyword-only
    url: str,
    *,
    pool_size: int = 10,
    pool_timeout: float = 30.0,
    application_name: str = "zalo-bridge",
    prepared_statements: bool = True,
    sqlite_cache_kib: int = SQLITE_CACHE_KIB,
) -> Database:
    """Create (without connecting) the ``Database`` of ``url``; ``dispose`` it when done."""
    return Database(
        url,
        pool_size=pool_size,
        pool_timeout=pool_timeout,
        application_name=application_name,
        prepared_statements=prepared_statements,
        sqlite_cache_kib=sqlite_cache_kib,
    )
