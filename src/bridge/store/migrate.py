"""Bring the ledger's schema to the newest version with Alembic (versions in ``migrations/``)."""

from __future__ import annotations

import asyncio
from importlib.resources import files

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from bridge.errors import ConfigurationError

__all__ = ["alembic_config", "sqlalchemy_url", "upgrade", "upgrade_sync"]

_LOCK_ID = 7_246_551_093  # a fixed advisory-lock key: one migrating replica at a time


def sqlalchemy_url(url: str) -> str:
    """The SQLAlchemy form of a ledger URL (PostgreSQL through psycopg 3)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def alembic_config(url: str) -> Config:
    """An Alembic configuration for ``url``, without an ``alembic.ini`` file."""
    config = Config()
    config.set_main_option("script_location", str(files("bridge.store") / "migrations"))
    config.set_main_option("sqlalchemy.url", sqlalchemy_url(url).replace("%", "%%"))
    return config


def upgrade_sync(url: str, revision: str = "head") -> None:
    """Migrate the schema at ``url`` to ``revision``; replicas starting together take turns."""
    try:
        engine = create_engine(sqlalchemy_url(url))
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _LOCK_ID})
            config = alembic_config(url)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
        engine.dispose()
    except SQLAlchemyError as exc:
        raise ConfigurationError(f"cannot migrate the ledger database: {exc}") from exc


async def upgrade(url: str, revision: str = "head") -> None:
    """``upgrade_sync`` in a worker thread, so the event loop keeps running."""
    await asyncio.to_thread(upgrade_sync, url, revision)
