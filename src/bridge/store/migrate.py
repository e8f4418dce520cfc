"""Bring the ledger's schema to the newest version with Alembic (versions in ``migrations/``)."""

from __future__ import annotations

import asyncio
import re
from importlib.resources import files
from typing import TYPE_CHECKING

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from bridge.errors import ConfigurationError

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Connection

__all__ = [
    "alembic_config",
    "current_revision",
    "head_revision",
    "sqlalchemy_url",
    "upgrade",
    "upgrade_sync",
]

_REVISION = re.compile(r'^(down_revision|revision)\s*=\s*(?:"([^"]*)"|None)\s*$', re.MULTILINE)

_LOCK_ID = 7_246_551_093  # a fixed advisory-lock key: one migrating replica at a time


def sqlalchemy_url(url: str) -> str:
    """The SQLAlchemy form of a ledger URL (PostgreSQL through psycopg 3)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def alembic_config(url: str) -> Config:
    """An Alembic configuration for ``url``, without an ``alembic.ini`` file."""
    from alembic.config import Config  # noqa: PLC0415 - alembic only when migrating

    config = Config()
    config.set_main_option("script_location", str(files("bridge.store") / "migrations"))
    config.set_main_option("sqlalchemy.url", sqlalchemy_url(url).replace("%", "%%"))
    return config


def head_revision() -> str:
    """The newest revision, read from the version files' ``revision``/``down_revision`` lines.

    It lets a start-up on a current schema skip Alembic (≈ 10 MB of memory) altogether; a test
    checks it against Alembic's own head.

    Raises:
        ConfigurationError: The files do not form one chain with one head.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (files("bridge.store") / "migrations" / "versions").iterdir():
        if not script.name.endswith(".py"):
            continue
        fields = {m[1]: m[2] for m in _REVISION.finditer(script.read_text(encoding="utf-8"))}
        if fields.get("revision"):
            revisions.add(fields["revision"])
        if fields.get("down_revision"):
            parents.add(fields["down_revision"])
    heads = revisions - parents
    if len(heads) != 1:
        raise ConfigurationError(
            f"the ledger's migrations have {len(heads)} heads: {sorted(heads)}"
        )
    return heads.pop()


def current_revision(connection: Connection) -> str | None:
    """The revision the database at ``connection`` is at; None before the first migration."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    return str(rows[0][0]) if len(rows) == 1 else None


def upgrade_sync(url: str, revision: str = "head") -> None:
    """Migrate the schema at ``url`` to ``revision``; replicas starting together take turns.

    A schema already at the head is left alone without loading Alembic.
    """
    try:
        engine = create_engine(sqlalchemy_url(url))
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _LOCK_ID})
            if revision != "head" or current_revision(connection) != head_revision():
                from alembic import command  # noqa: PLC0415 - alembic only when migrating

                config = alembic_config(url)
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
        engine.dispose()
    except SQLAlchemyError as exc:
        raise ConfigurationError(f"cannot migrate the ledger database: {exc}") from exc


async def upgrade(url: str, revision: str = "head") -> None:
    """``upgrade_sync`` in a worker thread, so the event loop keeps running."""
    await asyncio.to_thread(upgrade_sync, url, revision)
