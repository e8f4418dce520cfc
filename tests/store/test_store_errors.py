"""Database errors of the SQLAlchemy stores: bridge's own, never quoting the parameters."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from bridge.errors import StoreError
from bridge.quiet_hours.store import HoldStore
from bridge.store.database import open_database

PHONE = "0912345678"


async def test_a_failed_statement_does_not_quote_its_parameters(tmp_path):
    engine = open_database(f"sqlite:///{tmp_path / 'store.sqlite3'}")
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


async def test_the_hold_store_raises_its_own_error_with_the_database_error_as_cause(tmp_path):
    engine = open_database(f"sqlite:///{tmp_path / 'not-migrated.sqlite3'}")
    try:
        with pytest.raises(StoreError) as raised:
            await HoldStore(engine).counts()
    finally:
        await engine.dispose()
    assert isinstance(raised.value.__cause__, SQLAlchemyError)
