"""The ledger in SQLite: the embedded default, for one replica and `make run`."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import exc as sa_exc

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
from bridge.errors import ConfigurationError, StoreError
from bridge.store.errors import converting
from bridge.store.sqlite_locks import LOCK_WAIT_SECONDS, is_busy

if TYPE_CHECKING:
    from bridge.store.database import Database

__all__ = ["SqliteLedger"]


class SqliteLedger:
    """``Ledger`` on one SQLite file, in WAL mode.

    Statements are short and run on the event loop's thread: a claim or a settlement is one
    small transaction (tens of microseconds), cheaper than a hop to a worker thread. Waiting for
    the write lock never blocks the loop (``busy_timeout`` is 0; ``_begin`` sleeps
    asynchronously and tries again), since the holder may be another store of this process that
    needs the loop to finish its transaction. WAL with
    ``synchronous=NORMAL`` survives a killed process; a power cut may lose the last moments, which
    then count as in doubt.
    """

    def __init__(self, connection: sqlite3.Connection, *, database: Database | None = None) -> None:
        self._db = connection
        self._owned = database

    @classmethod
    def open(cls, path: str) -> SqliteLedger:
        """Open the ledger on a database of its own (the schema must exist: ``store.migrate``).

        The running bridge gives it a connection of its one ``Database`` instead (``on``).
        """
        from bridge.store.database import open_database  # noqa: PLC0415 - only this path

        database = open_database(f"sqlite:///{path}", pool_size=1)
        try:
            return cls(database.sqlite_connection(), database=database)
        except (sqlite3.Error, OSError, sa_exc.SQLAlchemyError) as exc:
            raise ConfigurationError(f"cannot open the SQLite ledger {path}: {exc}") from exc

    @classmethod
    def on(cls, database: Database) -> SqliteLedger:
        """The ledger on a plain connection of the process's database (it stays the caller's)."""
        try:
            return cls(database.sqlite_connection())
        except (sqlite3.Error, OSError, sa_exc.SQLAlchemyError) as exc:
            raise ConfigurationError(f"cannot open the SQLite ledger: {exc}") from exc

    async def _begin(self) -> None:
        """Take the write lock, waiting up to ``LOCK_WAIT_SECONDS`` without blocking the loop."""
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        pause = 0.001
        while True:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if not is_busy(exc):
                    raise
                if time.monotonic() > deadline:
                    raise StoreError(
                        f"the SQLite ledger stayed locked for {LOCK_WAIT_SECONDS:.0f} s"
                    ) from exc
                await asyncio.sleep(pause)
                pause = min(pause * 2, 0.05)
            else:
                return

    def _row(self, key: str) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = self._db.execute(
            f"SELECT {ENTRY_COLUMNS} FROM deliveries WHERE delivery_key = ?",  # noqa: S608 - constant
            (key,),
        ).fetchone()
        return row

    def _is_stale(self, case_code: str, sequence: int) -> bool:
        row = self._db.execute(
            "SELECT last_delivered_sequence FROM cases WHERE case_code = ?", (case_code,)
        ).fetchone()
        return row is not None and sequence < row[0]

    @converting("the SQLite ledger")
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
        db = self._db
        await self._begin()
        try:
            stale = self._is_stale(case_code, sequence)
            # The common case, a first sight, in one statement: claimed (or settled as stale).
            first = first_sight(stale=stale, owner=owner, now=now, lease_seconds=lease_seconds)
            inserted = db.execute(
                "INSERT INTO deliveries (delivery_key, event_id, channel, case_code, sequence,"
                " status, reason, attempts, owner, lease_until, first_attempt_at,"
                " last_attempt_at, settled_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (delivery_key) DO NOTHING",
                (key, event_id, key.rsplit("/", 1)[-1], case_code, sequence, *first.values()),
            ).rowcount
            if inserted:
                db.execute("COMMIT")
                return first_claim(first)
            row = self._row(key)
            assert row is not None  # noqa: S101 - inserted or present, under the write lock
            if row[0] == RETRY:
                if stale:
                    db.execute(
                        "UPDATE deliveries SET status = ?, reason = 'stale', settled_at = ?,"
                        " owner = NULL, lease_until = NULL WHERE delivery_key = ?",
                        (SettledStatus.SUPPRESSED.value, now, key),
                    )
                    result = ClaimResult.STALE
                else:
                    self._lease(key, owner, now, lease_seconds)
                    result = ClaimResult.CLAIMED
            else:
                result = decide(row[0], row_owner=row[5], lease_until=row[6], owner=owner, now=now)
                if result is ClaimResult.IN_DOUBT and row[0] != IN_DOUBT:
                    db.execute(
                        "UPDATE deliveries SET status = ?,"
                        " in_doubt_since = COALESCE(in_doubt_since, ?) WHERE delivery_key = ?",
                        (IN_DOUBT, now, key),
                    )
            after = self._row(key)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return Claim(result, entry_from_row(after or row))

    def _lease(self, key: str, owner: str, now: float, lease_seconds: float) -> None:
        self._db.execute(
            "UPDATE deliveries SET status = ?, attempts = attempts + 1, owner = ?,"
            " lease_until = ?, last_attempt_at = ? WHERE delivery_key = ?",
            (SENDING, owner, now + lease_seconds, now, key),
        )

    @converting("the SQLite ledger")
    async def reclaim(
        self, key: str, *, owner: str, now: float, lease_seconds: float
    ) -> int | None:
        """See ``bridge.delivery.ledger.Ledger.reclaim``."""
        db = self._db
        await self._begin()
        try:
            taken = db.execute(
                "UPDATE deliveries SET status = ?, attempts = attempts + 1, owner = ?,"
                " lease_until = ?, last_attempt_at = ? WHERE delivery_key = ? AND status = ?",
                (SENDING, owner, now + lease_seconds, now, key, IN_DOUBT),
            ).rowcount
            row = db.execute(
                "SELECT attempts FROM deliveries WHERE delivery_key = ?", (key,)
            ).fetchone()
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return int(row[0]) if taken and row else None

    @converting("the SQLite ledger")
    async def mark_in_doubt(self, key: str, *, now: float) -> None:
        """See ``bridge.delivery.ledger.Ledger.mark_in_doubt``."""
        await self._begin()
        try:
            self._db.execute(
                "UPDATE deliveries SET status = ?, in_doubt_since = COALESCE(in_doubt_since, ?)"
                " WHERE delivery_key = ?",
                (IN_DOUBT, now, key),
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    @converting("the SQLite ledger")
    async def release(self, key: str, *, now: float) -> None:
        """See ``bridge.delivery.ledger.Ledger.release``."""
        await self._begin()
        try:
            self._db.execute(
                "UPDATE deliveries SET status = ?, owner = NULL, lease_until = NULL,"
                " last_attempt_at = ? WHERE delivery_key = ? AND status = ?",
                (RETRY, now, key, SENDING),
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    @converting("the SQLite ledger")
    async def settle(
        self, key: str, settlement: Settlement, *, case_code: str, sequence: int, now: float
    ) -> None:
        """See ``bridge.delivery.ledger.Ledger.settle``."""
        db = self._db
        await self._begin()
        try:
            db.execute(
                "UPDATE deliveries SET status = ?, attempts = ?, reason = ?, zalo_message_id = ?,"
                " template_version = ?, settled_at = ?, owner = NULL, lease_until = NULL"
                " WHERE delivery_key = ?",
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
                db.execute(
                    "INSERT INTO cases (case_code, last_delivered_sequence, updated_at)"
                    " VALUES (?, ?, ?) ON CONFLICT (case_code) DO UPDATE SET"
                    " last_delivered_sequence = MAX(last_delivered_sequence,"
                    " excluded.last_delivered_sequence), updated_at = excluded.updated_at",
                    (case_code, sequence, now),
                )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    async def close(self) -> None:
        """Let go of the connection (dispose of the database if the ledger opened it)."""
        if self._owned is not None:
            await self._owned.dispose()
