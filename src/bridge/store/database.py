"""One SQLAlchemy async engine per store URL, for the stores written once for both databases."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bridge.errors import ConfigurationError

if TYPE_CHECKING:
    from sqlalchemy.pool import ConnectionPoolEntry

__all__ = ["async_url", "open_engine"]

_SQLITE_BUSY_TIMEOUT_MS = 10_000


def async_url(url: str) -> str:
    """The SQLAlchemy async form of a store URL: aiosqlite for SQLite, psycopg 3 for PostgreSQL."""
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url.removeprefix("sqlite:///")
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    raise ConfigurationError("store.url must start with sqlite:/// or postgresql://")


def open_engine(url: str, *, pool_size: int = 5) -> AsyncEngine:
    """Create (without connecting) the async engine of ``url``.

    SQLite connections run in WAL mode and wait up to 10 s for a lock, like the ledger's own.
    Errors never quote the statement's parameters (a held record's bytes, a citizen's user id,
    an encrypted token), so a logged exception carries no personal data or secret.
    The caller disposes of the engine (``await engine.dispose()``).
    """
    target = async_url(url)
    if target.startswith("sqlite"):
        engine = create_async_engine(target, hide_parameters=True)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        target, pool_size=pool_size, pool_pre_ping=True, hide_parameters=True
    )


def _sqlite_pragmas(connection: Any, _record: ConnectionPoolEntry) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
