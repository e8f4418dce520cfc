"""Database errors of the SQLAlchemy stores never quote the statement's parameters."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from bridge.store.database import open_engine

PHONE = "0912345678"


async def test_a_failed_statement_does_not_quote_its_parameters(tmp_path):
    engine = open_engine(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    try:
        async with engine.begin() as connection:
            await connection.execute(sa.text("CREATE TABLE held (value TEXT NOT NULL UNIQUE)"))
            insert = sa.text("INSERT INTO held (value) VALUES (:value)")
            await connection.execute(insert, {"value": f'{{"phone": "{PHONE}"}}'})
            with pytest.raises(SQLAlchemyError) as raised:
                await connection.execute(insert, {"value": f'{{"phone": "{PHONE}"}}'})
    finally:
        await engine.dispose()
    assert "UNIQUE" in str(raised.value)
    assert PHONE not in str(raised.value)
