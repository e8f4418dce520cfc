"""The ledger in PostgreSQL: shared by every replica of a province's deployment."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bridge.delivery.ledger import (
    ENTRY_COLUMNS,
    IN_DOUBT,
    RETRY,
    SENDING,
    Claim,
    ClaimResult,
    SettledStatus,
    Settlement,
    decide,
    entry_from_row,
    first_claim,
    first_sight,
)
from bridge.errors import ConfigurationError
from bridge.store.errors import converting

if TYPE_CHECKING:
    from bridge.store.database import Database, DatabaseConnection

__all__ = ["PostgresLedger"]

_SELECT = f"SELECT {ENTRY_COLUMNS} FROM deliveries WHERE delivery_key = %s"  # noqa: S608 - constant


class PostgresLedger:
    """``Ledger`` on PostgreSQL, on the process's one ``Database`` (its pool is every store's).

    Every decision runs in one transaction holding the delivery's row lock (``FOR UPDATE``), so
    two replicas that see the same record during a rebalance never both send it.
    """

    def __init__(self, database: Database, *, owns_database: bool = False) -> None:
        self._db = database
        self._owns_database = owns_database

    @classmethod
    async def open(cls, database: Database, *, owns_database: bool = False) -> PostgresLedger:
        """The ledger on ``database``, once the server answers (a ``ConfigurationError`` if not)."""
        try:
            async with database.connect() as connection:
                await connection.exec_driver_sql("SELECT 1")
        except Exception as exc:
            if owns_database:
                await database.dispose()
            raise ConfigurationError(f"cannot connect to the PostgreSQL ledger: {exc!r}") from exc
        return cls(database, owns_database=owns_database)

    @converting("the PostgreSQL ledger")
    async def claim(  # noqa: PLR0913 - mirrors the Ledger protocol
        self,
        key: str,
        *,
        event_id: str,
        case_code: str,
        sequence: int,
        owner: str,
        now: float,
        lease_seconds: float,
    ) -> Claim:
        """See ``bridge.delivery.ledger.Ledger.claim``."""
        channel = key.rsplit("/", 1)[-1]
        async with self._db.begin() as db:
            last = (
                await db.exec_driver_sql(
                    "SELECT last_delivered_sequence FROM cases WHERE case_code = %s",
                    (case_code,),
                )
            ).fetchone()
            stale = last is not None and sequence < last[0]
            # The common case, a first sight, in one statement: claimed or settled as stale.
            first = first_sight(stale=stale, owner=owner, now=now, lease_seconds=lease_seconds)
            cursor = await db.exec_driver_sql(
                "INSERT INTO deliveries (delivery_key, event_id, channel, case_code, sequence,"
                " status, reason, attempts, owner, lease_until, first_attempt_at,"
                " last_attempt_at, settled_at) VALUES"
                " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (delivery_key) DO NOTHING",
                (key, event_id, channel, case_code, sequence, *first.values()),
            )
            if cursor.rowcount == 1:
                return first_claim(first)
            row = (await db.exec_driver_sql(_SELECT + " FOR UPDATE", (key,))).fetchone()
            assert row is not None  # noqa: S101 - present, and locked
            if row[0] == RETRY:
                if stale:
                    await db.exec_driver_sql(
                        "UPDATE deliveries SET status = %s, reason = 'stale', settled_at = %s,"
                        " owner = NULL, lease_until = NULL WHERE delivery_key = %s",
                        (SettledStatus.SUPPRESSED.value, now, key),
                    )
                    result = ClaimResult.STALE
                else:
                    await self._lease(db, key, owner, now, lease_seconds)
                    result = ClaimResult.CLAIMED
            else:
                result = decide(row[0], row_owner=row[5], lease_until=row[6], owner=owner, now=now)
                if result is ClaimResult.IN_DOUBT and row[0] != IN_DOUBT:
                    await db.exec_driver_sql(
                        "UPDATE deliveries SET status = %s,"
                        " in_doubt_since = COALESCE(in_doubt_since, %s)"
                        " WHERE delivery_key = %s",
                        (IN_DOUBT, now, key),
                    )
            after = (await db.exec_driver_sql(_SELECT, (key,))).fetchone()
        return Claim(result, entry_from_row(after or row))

    @staticmethod
    async def _lease(
        db: DatabaseConnection, key: str, owner: str, now: float, lease_seconds: float
    ) -> None:
        await db.exec_driver_sql(
            "UPDATE deliveries SET status = %s, attempts = attempts + 1, owner = %s,"
            " lease_until = %s, last_attempt_at = %s WHERE delivery_key = %s",
            (SENDING, owner, now + lease_seconds, now, key),
        )

    @converting("the PostgreSQL ledger")
    async def reclaim(
        self, key: str, *, owner: str, now: float, lease_seconds: float
    ) -> int | None:
        """See ``bridge.delivery.ledger.Ledger.reclaim``."""
        async with self._db.begin() as db:
            row = (
                await db.exec_driver_sql(
                    "UPDATE deliveries SET status = %s, attempts = attempts + 1, owner = %s,"
                    " lease_until = %s, last_attempt_at = %s"
                    " WHERE delivery_key = %s AND status = %s RETURNING attempts",
                    (SENDING, owner, now + lease_seconds, now, key, IN_DOUBT),
                )
            ).fetchone()
        return int(row[0]) if row else None

    @converting("the PostgreSQL ledger")
    async def _execute(self, sql: str, params: tuple[Any, ...]) -> None:
        async with self._db.begin() as db:
            await db.exec_driver_sql(sql, params)

    async def mark_in_doubt(self, key: str, *, now: float) -> None:
        """See ``bridge.delivery.ledger.Ledger.mark_in_doubt``."""
        await self._execute(
            "UPDATE deliveries SET status = %s, in_doubt_since = COALESCE(in_doubt_since, %s)"
            " WHERE delivery_key = %s",
            (IN_DOUBT, now, key),
        )

    async def release(self, key: str, *, now: float) -> None:
        """See ``bridge.delivery.ledger.Ledger.release``."""
        await self._execute(
            "UPDATE deliveries SET status = %s, owner = NULL, lease_until = NULL,"
            " last_attempt_at = %s WHERE delivery_key = %s AND status = %s",
            (RETRY, now, key, SENDING),
        )

    @converting("the PostgreSQL ledger")
    async def settle(
        self, key: str, settlement: Settlement, *, case_code: str, sequence: int, now: float
    ) -> None:
        """See ``bridge.delivery.ledger.Ledger.settle``."""
        async with self._db.begin() as db:
            await db.exec_driver_sql(
                "UPDATE deliveries SET status = %s, attempts = %s, reason = %s,"
                " zalo_message_id = %s, template_version = %s, settled_at = %s,"
                " owner = NULL, lease_until = NULL WHERE delivery_key = %s",
                (
                    settlement.status.value,
                    settlement.attempts,
                    settlement.reason,
                    settlement.zalo_message_id,
                    settlement.template_version,
                    now,
                    key,
                ),
            )
            if settlement.status is SettledStatus.DELIVERED:
                await db.exec_driver_sql(
                    "INSERT INTO cases (case_code, last_delivered_sequence, updated_at)"
                    " VALUES (%s, %s, %s) ON CONFLICT (case_code) DO UPDATE SET"
                    " last_delivered_sequence = GREATEST(cases.last_delivered_sequence,"
                    " excluded.last_delivered_sequence), updated_at = excluded.updated_at",
                    (case_code, sequence, now),
                )

    async def close(self) -> None:
        """Dispose of the database if the ledger opened it (the process's one is the app's)."""
        if self._owns_database:
            await self._db.dispose()
