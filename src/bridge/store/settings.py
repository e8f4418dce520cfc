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
    pool_size: int = Field(default=10, ge=1, le=200, description="PostgreSQL connections.")

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ValueError("must start with sqlite:/// or postgresql://")
        return value
