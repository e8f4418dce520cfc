"""Ledger stores: SQLite for one replica, PostgreSQL for several; ``open_ledger`` picks one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bridge.errors import ConfigurationError

if TYPE_CHECKING:
    from bridge.delivery.ledger import Ledger

__all__ = ["open_ledger"]


async def open_ledger(url: str, *, pool_size: int = 10, migrate: bool = True) -> Ledger:
    """Open the ledger at ``url``, bringing its schema to the newest version first.

    Args:
        url: ``sqlite:///path`` or ``postgresql://…``.
        pool_size: PostgreSQL connections.
        migrate: Run the schema migrations before opening (they are idempotent).
    """
    from bridge.store.migrate import upgrade  # noqa: PLC0415 - alembic is only needed here

    if migrate:
        await upgrade(url)
    if url.startswith("sqlite:///"):
        from bridge.delivery.sqlite_ledger import SqliteLedger  # noqa: PLC0415 - one backend per process

        return SqliteLedger.open(url.removeprefix("sqlite:///"))
    if url.startswith(("postgresql://", "postgres://")):
        from bridge.delivery.postgres_ledger import PostgresLedger  # noqa: PLC0415 - one backend per process

        return await PostgresLedger.open(url, pool_size=pool_size)
    raise ConfigurationError("store.url must start with sqlite:/// or postgresql://")
