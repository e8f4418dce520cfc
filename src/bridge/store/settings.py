"""The store section of the settings: the database every store of a replica shares."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

__all__ = ["StoreSettings"]


class StoreSettings(BaseModel):
    """The delivery ledger: what was sent, so nothing is sent twice."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: SecretStr = Field(
        default=SecretStr("sqlite:///zalo-bridge.sqlite3"),
        description=(
            "sqlite:///relative/path, sqlite:////absolute/path (one replica), or "
            "postgresql://user:password@host:5432/db (several replicas)."
        ),
    )
    pool_size: int = Field(
        default=10,
        ge=1,
        le=200,
        description=(
            "Database connections of one replica: the one pool every store shares (the ledger, "
            "citizens, webhook inbox, holds, announcements, tokens). On PostgreSQL no replica "
            "ever opens more; size the server (or PgBouncer) for replicas x pool_size."
        ),
    )
    server_prepared_statements: bool = Field(
        default=True,
        description=(
            "Let psycopg prepare frequent statements on the PostgreSQL server. Turn off behind "
            "PgBouncer older than 1.21 (or with max_prepared_statements = 0) in transaction mode."
        ),
    )
    pool_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        le=600,
        description=(
            "How long a store waits for a free connection when all are busy: delivery slows "
            "down meanwhile; after it, the wait counts as a database outage (waited out, the pod "
            "unready), never as a failed record."
        ),
    )

    sqlite_cache_kib: int = Field(
        default=512,
        ge=64,
        le=1_048_576,
        description=(
            "SQLite only: the page cache of each connection of the pool, in KiB (PRAGMA "
            "cache_size). SQLite's own 2,000 KiB per connection fills as the tables grow with "
            "the number of dossiers (up to ~28 MB for the pool); pages not cached are read from "
            "the operating system's file cache. Ignored on PostgreSQL."
        ),
    )

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ValueError("must start with sqlite:/// or postgresql://")
        return value
