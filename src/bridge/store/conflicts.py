"""SQL written once for SQLite and PostgreSQL: insert-or-ignore, and claims picked only once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

if TYPE_CHECKING:
    from sqlalchemy import Select, Table

    from bridge.store.database import DatabaseConnection

__all__ = ["insert_ignoring_duplicates", "materialised"]


async def insert_ignoring_duplicates(
    connection: DatabaseConnection, table: Table, rows: list[dict[str, Any]]
) -> int:
    """Insert ``rows`` into ``table``, skipping those whose primary key is taken.

    Returns:
        For one row, 1 when it was inserted and 0 when its key was taken; for several, how many
        were offered.
    """
    if not rows:
        return 0
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).on_conflict_do_nothing()
    if len(rows) == 1:
        # rowcount is -1 with psycopg here; a returned key says the row went in
        returned = statement.returning(*table.primary_key.columns)
        return 0 if (await connection.execute(returned, rows[0])).first() is None else 1
    # executemany: drivers do not all add the row counts up; the callers count rows themselves
    await connection.execute(statement, rows)
    return len(rows)


def materialised(candidates: Select[Any]) -> Select[Any]:
    """The ids a claim picks, evaluated once (a CTE) before the ``UPDATE … WHERE id IN`` uses them.

    PostgreSQL may run an ``IN (SELECT … LIMIT n FOR UPDATE SKIP LOCKED)`` sub-select more
    than once and so claim more than ``n`` rows; a locking CTE is evaluated exactly once.
    """
    picked = candidates.cte()
    return sa.select(*picked.c)
