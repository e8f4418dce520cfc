"""The OA token store: one encrypted access/refresh pair per OA, replaced under a row lock."""

from __future__ import annotations

import asyncio
import contextlib
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from bridge.errors import TokenStoreError
from bridge.store.database import open_database

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from bridge.store.database import Database, DatabaseConnection, DatabaseTransaction
    from bridge.zalo.token_cipher import TokenCipher

__all__ = ["StoredTokens", "TokenPair", "TokenSlot", "TokenStore"]

_metadata = sa.MetaData()
oa_tokens = sa.Table(
    "oa_tokens",
    _metadata,
    sa.Column("oa_id", sa.Text(), primary_key=True),
    sa.Column("access_token", sa.Text(), nullable=False),
    sa.Column("refresh_token", sa.Text(), nullable=False),
    sa.Column("access_issued_at", sa.Float(precision=53), nullable=False),
    sa.Column("access_expires_at", sa.Float(precision=53), nullable=False),
    sa.Column("refresh_expires_at", sa.Float(precision=53)),
    sa.Column("generation", sa.BigInteger(), nullable=False),
    sa.Column("source", sa.Text(), nullable=False),
    sa.Column("updated_by", sa.Text(), nullable=False),
    sa.Column("updated_at", sa.Float(precision=53), nullable=False),
)


@dataclass(frozen=True, slots=True)
class TokenPair:
    """An access token and the refresh token that replaces it, with their times (epoch s)."""

    access_token: str
    refresh_token: str
    access_issued_at: float
    access_expires_at: float
    refresh_expires_at: float | None = None

    def __repr__(self) -> str:
        """Never show the tokens themselves."""
        return (
            f"TokenPair(access_issued_at={self.access_issued_at}, "
            f"access_expires_at={self.access_expires_at}, "
            f"refresh_expires_at={self.refresh_expires_at})"
        )


@dataclass(frozen=True, slots=True)
class StoredTokens:
    """The pair stored for one OA, and who wrote it when.

    ``generation`` grows by one on every write: a replica that took the lock compares it with
    the generation it knew to tell that another replica already refreshed.
    """

    oa_id: str
    pair: TokenPair
    generation: int
    source: str
    updated_by: str
    updated_at: float


def _check(pair: TokenPair) -> None:
    """Refuse a pair that would overwrite good tokens with nothing."""
    if not pair.access_token.strip() or not pair.refresh_token.strip():
        raise TokenStoreError("refusing to store an empty access or refresh token")
    if not math.isfinite(pair.access_expires_at) or pair.access_expires_at <= 0:
        raise TokenStoreError("refusing to store an access token without an expiry")


class TokenSlot:
    """The OA's row, locked until the ``TokenStore.exclusive`` block ends."""

    def __init__(
        self,
        store: TokenStore,
        connection: DatabaseConnection,
        transaction: DatabaseTransaction,
        oa_id: str,
        current: StoredTokens | None,
    ) -> None:
        self._store = store
        self._connection = connection
        self._transaction = transaction
        self.oa_id = oa_id
        self.current = current

    async def replace(self, pair: TokenPair, *, source: str, by: str, now: float) -> StoredTokens:
        """Write ``pair`` and commit at once (before anyone uses it); the lock is then released.

        Raises:
            TokenStoreError: The pair is empty, or the write or commit failed.
        """
        _check(pair)
        if not self._transaction.is_active:
            raise TokenStoreError("the token slot is no longer locked")
        generation = (self.current.generation if self.current else 0) + 1
        values = self._store.row_values(pair, generation=generation, source=source, by=by, now=now)
        try:
            if self.current is None:
                await self._connection.execute(
                    oa_tokens.insert().values(oa_id=self.oa_id, **values)
                )
            else:
                result = await self._connection.execute(
                    oa_tokens.update()
                    .where(
                        oa_tokens.c.oa_id == self.oa_id,
                        oa_tokens.c.generation == self.current.generation,
                    )
                    .values(**values)
                )
                if result.rowcount != 1:
                    raise TokenStoreError("the stored tokens changed while they were locked")
            await self._transaction.commit()
        except SQLAlchemyError as exc:
            raise TokenStoreError(f"cannot save the new OA tokens: {exc}") from exc
        self.current = StoredTokens(self.oa_id, pair, generation, source, by, now)
        return self.current


class TokenStore:
    """OA tokens in the bridge's database (SQLite or PostgreSQL), encrypted with ``cipher``.

    ``exclusive`` gives one refresher at a time: an asyncio lock within the process, and on
    PostgreSQL the row lock (``SELECT … FOR UPDATE``) across replicas, waited for up to
    ``lock_timeout_seconds`` (longer than the refresh call it may wait behind). On SQLite (one
    replica) the process lock is enough, and the write is a compare-and-set on ``generation``
    so that a concurrent ``zalo-bridge zalo token import`` is never lost silently.
    """

    def __init__(
        self,
        database: Database,
        cipher: TokenCipher,
        *,
        lock_timeout_seconds: float = 45.0,
        owns_database: bool = False,
    ) -> None:
        self._db = database
        self._owns_database = owns_database
        self._cipher = cipher
        self._lock_timeout_ms = max(1, int(lock_timeout_seconds * 1000))
        self._locks: dict[str, asyncio.Lock] = {}

    @classmethod
    async def open(
        cls,
        url: str,
        cipher: TokenCipher,
        *,
        lock_timeout_seconds: float = 45.0,
        migrate: bool = True,
    ) -> TokenStore:
        """Open the store at ``url`` on a database of its own (the command line's way).

        The running bridge passes its one ``Database`` to the constructor instead.
        """
        if migrate:
            from bridge.store.migrate import upgrade  # noqa: PLC0415 - alembic only when needed

            await upgrade(url)
        return cls(
            open_database(url, pool_size=2),
            cipher,
            lock_timeout_seconds=lock_timeout_seconds,
            owns_database=True,
        )

    async def close(self) -> None:
        """Dispose of the database if the store opened it itself."""
        if self._owns_database:
            await self._db.dispose()

    def row_values(
        self, pair: TokenPair, *, generation: int, source: str, by: str, now: float
    ) -> dict[str, object]:
        """The columns of ``pair`` as written (tokens encrypted)."""
        return {
            "access_token": self._cipher.encrypt(pair.access_token),
            "refresh_token": self._cipher.encrypt(pair.refresh_token),
            "access_issued_at": pair.access_issued_at,
            "access_expires_at": pair.access_expires_at,
            "refresh_expires_at": pair.refresh_expires_at,
            "generation": generation,
            "source": source,
            "updated_by": by,
            "updated_at": now,
        }

    def _decode(self, row: sa.Row[tuple[object, ...]]) -> StoredTokens:
        data = row._mapping  # noqa: SLF001 - SQLAlchemy's public row mapping
        pair = TokenPair(
            access_token=self._cipher.decrypt(str(data["access_token"])),
            refresh_token=self._cipher.decrypt(str(data["refresh_token"])),
            access_issued_at=float(data["access_issued_at"]),
            access_expires_at=float(data["access_expires_at"]),
            refresh_expires_at=(
                None if data["refresh_expires_at"] is None else float(data["refresh_expires_at"])
            ),
        )
        return StoredTokens(
            oa_id=str(data["oa_id"]),
            pair=pair,
            generation=int(data["generation"]),
            source=str(data["source"]),
            updated_by=str(data["updated_by"]),
            updated_at=float(data["updated_at"]),
        )

    async def load(self, oa_id: str) -> StoredTokens | None:
        """The stored pair of ``oa_id``, or None when there is none.

        Raises:
            TokenStoreError: The database cannot be read, or no configured key opens the tokens.
        """
        try:
            async with self._db.connect() as connection:
                row = (
                    await connection.execute(sa.select(oa_tokens).where(oa_tokens.c.oa_id == oa_id))
                ).first()
        except SQLAlchemyError as exc:
            raise TokenStoreError(f"cannot read the OA tokens: {exc}") from exc
        return None if row is None else self._decode(row)

    async def put(
        self, oa_id: str, pair: TokenPair, *, source: str, by: str, now: float
    ) -> StoredTokens:
        """Store ``pair`` for ``oa_id`` whatever was there (an import or a new consent)."""
        async with self.exclusive(oa_id) as slot:
            return await slot.replace(pair, source=source, by=by, now=now)

    @contextlib.asynccontextmanager
    async def exclusive(self, oa_id: str) -> AsyncIterator[TokenSlot]:
        """Lock the OA's tokens, read them afresh, and yield them as a ``TokenSlot``.

        Raises:
            TokenStoreError: The lock was not granted in time, or the database failed.
        """
        lock = self._locks.setdefault(oa_id, asyncio.Lock())
        async with lock:
            try:
                async with self._db.connect() as connection:
                    transaction = await connection.begin()
                    try:
                        if connection.dialect.name == "postgresql":
                            await connection.execute(
                                sa.text(f"SET LOCAL lock_timeout = {self._lock_timeout_ms}")
                            )
                        row = (
                            await connection.execute(
                                sa.select(oa_tokens)
                                .where(oa_tokens.c.oa_id == oa_id)
                                .with_for_update()
                            )
                        ).first()
                        current = None if row is None else self._decode(row)
                        yield TokenSlot(self, connection, transaction, oa_id, current)
                        if transaction.is_active:
                            await transaction.commit()
                    finally:
                        if transaction.is_active:
                            await transaction.rollback()
            except SQLAlchemyError as exc:
                raise TokenStoreError(f"cannot lock the OA tokens: {exc}") from exc

    async def rekey(self) -> int:
        """Re-encrypt every stored pair under the newest key; return how many rows."""
        count = 0
        try:
            async with self._db.begin() as connection:
                rows = (
                    await connection.execute(
                        sa.select(
                            oa_tokens.c.oa_id, oa_tokens.c.access_token, oa_tokens.c.refresh_token
                        ).with_for_update()
                    )
                ).all()
                for oa_id, access, refresh in rows:
                    await connection.execute(
                        oa_tokens.update()
                        .where(oa_tokens.c.oa_id == oa_id)
                        .values(
                            access_token=self._cipher.rotate(str(access)),
                            refresh_token=self._cipher.rotate(str(refresh)),
                        )
                    )
                    count += 1
        except SQLAlchemyError as exc:
            raise TokenStoreError(f"cannot re-encrypt the OA tokens: {exc}") from exc
        return count
