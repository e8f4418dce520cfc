"""Ledger stores: SQLite for one replica, PostgreSQL for several, on the process's database."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bridge.errors import ConfigurationError

if TYPE_CHECKING:
    from bridge.delivery.ledger import Ledger
    from bridge.store.database import Database

__all__ = ["ledger_on", "open_ledger"]


async def ledger_on(database: Database) -> Ledger:
    """The ledger on the process's one ``database`` (its schema migrated; it stays the caller's).

    On SQLite the ledger runs plain statements on a connection of the database's pool (the
    per-event path: see ``SqliteLedger``); on PostgreSQL, SQL text through the pool.
    """
    if database.dialect == "sqlite":
        from bridge.delivery.sqlite_ledger import SqliteLedger  # noqa: PLC0415 - one backend per process

        return SqliteLedger.on(database)
    from bridge.delivery.postgres_ledger import PostgresLedger  # noqa: PLC0415 - one backend per process

    return await PostgresLedger.open(database)


async def open_ledger(url: str, *, pool_size: int = 10, migrate: bool = True) -> Ledger:
    """Open the ledger at ``url`` on a database of its own (the command line's and tests' way).

    Args:
        url: ``sqlite:///path`` or ``postgresql://…``.
        pool_size: Connections of its database's pool.
        migrate: Run the schema migrations before opening (they are idempotent).
    """
    from bridge.store.database import open_database  # noqa: PLC0415 - the engine only here
    from bridge.store.migrate import upgrade  # noqa: PLC0415 - alembic is only needed here

    if not url.startswith(("sqlite:///", "postgresql://", "postgres://")):
        raise ConfigurationError("store.url must start with sqlite:/// or postgresql://")
    if migrate:
        await upgrade(url)
    database = open_database(url, pool_size=pool_size)
    if database.dialect == "sqlite":
        from bridge.delivery.sqlite_ledger import SqliteLedger  # noqa: PLC0415 - one backend per process

        try:
            return SqliteLedger(database.sqlite_connection(), database=database)
        except Exception:
            await database.dispose()
            raise
    from bridge.delivery.postgres_ledger import PostgresLedger  # noqa: PLC0415 - one backend per process

    return await PostgresLedger.open(database, owns_database=True)
