"""Insert rows unless their key exists: ``INSERT … ON CONFLICT DO NOTHING`` on both databases."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.dialects import postgresql, sqlite

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["insert_ignoring_duplicates"]


async def insert_ignoring_duplicates(
    connection: AsyncConnection, table: Table, rows: list[dict[str, Any]]
) -> int:
    """Insert ``rows`` into ``table``, skipping those whose primary key is taken.

    Returns:
        How many rows were inserted.
    """
    if not rows:
        return 0
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).on_conflict_do_nothing()
    result = await connection.execute(statement, rows)
    return max(result.rowcount, 0)
