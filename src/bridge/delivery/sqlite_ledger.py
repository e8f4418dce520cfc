"""The ledger in SQLite: the embedded default, for one replica and `make run`."""

from __future__ import annotations

import asyncio
import functools
import sqlite3
import time
from typing import TYPE_CHECKING, Any, Final, TypeVar

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
from bridge.observability.logs import get_logger
from bridge.store.errors import store_error
from bridge.store.sqlite_locks import LOCK_WAIT_SECONDS, is_busy

if TYPE_CHECKING:
    from collections.abc import Callable

    from bridge.store.database import Database

__all__ = ["SqliteLedger"]

_STORE: Final = "the SQLite ledger"
_T = TypeVar("_T")
_log = get_logger("bridge.sqlite_ledger")


class _Write:
    """One call's statements, waiting for the transaction of the next batch."""

    __slots__ = ("done", "run", "skip_if_abandoned")

    def __init__(
        self, run: Callable[[], Any], done: asyncio.Future[Any], *, skip_if_abandoned: bool
    ) -> None:
        self.run = run
        self.done = done
        self.skip_if_abandoned = skip_if_abandoned


class SqliteLedger:
    """``Ledger`` on one SQLite file, in WAL mode, by group commit.

    Every call (claim, reclaim, mark in doubt, release, settle) queues its statements and
    awaits its result. A flusher task writes what is queued in one transaction (``BEGIN
    IMMEDIATE`` … ``COMMIT``), each call's statements in order of arrival and each exactly as
    if it ran alone (a claim decides under the write lock, after every call queued before it),
    and answers the callers only once that transaction has committed: nothing a caller does
    next (the send after a claim, the status event after a settlement) can get ahead of the
    durable ledger. The calls that arrive while a batch is being written, or in the same turn of
    the loop, go together in the next one; a lone call waits for one turn of the loop, never for
    a timer.

    Failures:

    - the database failing (a ``StoreError``: the write lock not granted within
      ``LOCK_WAIT_SECONDS``, I/O, a missing table, a refused ``COMMIT``) rolls the batch back and
      fails every call of it with the same error: nothing of it is written;
    - anything else (a value the database refuses, a ``StoreValueError``; a bug) rolls the batch
      back and makes its calls again one by one, each in its own transaction, so each caller
      gets the result of its own statements and no other call is lost or failed with it.

    A claim whose caller stopped waiting (cancelled: a rebalance, a shutdown) before its batch
    began is not made, as if it had never been asked; a settlement, a release or a mark in doubt
    is written anyway, since it records what happened. Once its batch has begun, a call is
    written whatever its caller does (a claim then leased to nobody becomes in doubt when its
    lease ends, as a process killed after its claim does).

    Statements are short and run on the event loop's thread: a batch is one small transaction,
    cheaper than a hop to a worker thread. Waiting for the write lock never blocks the loop
    (``busy_timeout`` is 0; ``_begin`` sleeps asynchronously and tries again), since the holder
    may be another store of this process that needs the loop to finish its transaction. WAL with
    ``synchronous=NORMAL`` survives a killed process; a power cut may lose the last moments,
    which then count as in doubt.

    Args:
        connection: A connection in autocommit mode with ``busy_timeout`` 0.
        database: The database to dispose of on ``close``, when the ledger opened it.
        max_batch: Most calls per transaction.
    """

    def __init__(
        self,
        connection: sqlite3.Connection,
        *,
        database: Database | None = None,
        max_batch: int = 500,
    ) -> None:
        self._db = connection
        self._owned = database
        self._max_batch = max_batch
        self._pending: list[_Write] = []
        self._flusher: asyncio.Task[None] | None = None

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

    # ------------------------------------------------------------------ the calls

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
        work = functools.partial(
            self._claim,
            key,
            event_id=event_id,
            case_code=case_code,
            sequence=sequence,
            owner=owner,
            now=now,
            lease_seconds=lease_seconds,
        )
        return await self._queue(work, skip_if_abandoned=True)

    async def reclaim(
        self, key: str, *, owner: str, now: float, lease_seconds: float
    ) -> int | None:
        """See ``bridge.delivery.ledger.Ledger.reclaim``."""
        return await self._queue(
            functools.partial(self._reclaim, key, owner, now, lease_seconds),
            skip_if_abandoned=True,
        )

    async def mark_in_doubt(self, key: str, *, now: float) -> None:
        """See ``bridge.delivery.ledger.Ledger.mark_in_doubt``."""
        await self._queue(functools.partial(self._mark_in_doubt, key, now))

    async def release(self, key: str, *, now: float) -> None:
        """See ``bridge.delivery.ledger.Ledger.release``."""
        await self._queue(functools.partial(self._release, key, now))

    async def settle(
        self, key: str, settlement: Settlement, *, case_code: str, sequence: int, now: float
    ) -> None:
        """See ``bridge.delivery.ledger.Ledger.settle``."""
        await self._queue(
            functools.partial(self._settle, key, settlement, case_code, sequence, now)
        )

    async def close(self) -> None:
        """Finish the batches queued, then let go of the connection (and of an owned database)."""
        flusher = self._flusher
        if flusher is not None and not flusher.done():
            await asyncio.shield(flusher)
        if self._owned is not None:
            await self._owned.dispose()

    # ------------------------------------------------------------------ group commit

    def _queue(
        self, run: Callable[[], _T], *, skip_if_abandoned: bool = False
    ) -> asyncio.Future[_T]:
        """Queue ``run`` for the next batch; the future is its result once committed."""
        done: asyncio.Future[_T] = asyncio.get_running_loop().create_future()
        self._pending.append(_Write(run, done, skip_if_abandoned=skip_if_abandoned))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="sqlite-ledger")
        return done

    async def _flush(self) -> None:
        try:
            while self._pending:
                await self._write_batch()
        finally:
            # Left only when the flusher itself is cancelled (the loop is closing): no caller
            # may wait for ever.
            left, self._pending = self._pending, []
            _cancel(left)

    def _take(self) -> list[_Write]:
        """The next batch: the oldest calls, without the claims nobody waits for any more."""
        batch = self._pending[: self._max_batch]
        del self._pending[: self._max_batch]
        return [w for w in batch if not (w.skip_if_abandoned and w.done.cancelled())]

    async def _write_batch(self) -> None:
        try:
            await self._begin()
        except Exception as error:  # noqa: BLE001 - handed to the batch's callers
            _fail(self._take(), _converted(error))
            return
        batch = self._take()
        try:
            results = [write.run() for write in batch]
            self._db.execute("COMMIT")
        except Exception as error:  # noqa: BLE001 - handed to the batch's callers
            self._rollback()
            failure = _converted(error)
            if len(batch) == 1 or isinstance(failure, StoreError):
                _fail(batch, failure)
                return
            _log.warning(
                "a ledger batch failed; making its calls one by one",
                calls=len(batch),
                error=type(failure).__name__,
            )
            try:
                await self._one_by_one(batch)
            except BaseException:
                _cancel(batch)  # the flusher itself was cancelled: nobody may wait for ever
                raise
            return
        except BaseException:
            self._rollback()
            _cancel(batch)
            raise
        for write, result in zip(batch, results, strict=True):
            _finish(write.done, result)

    async def _one_by_one(self, batch: list[_Write]) -> None:
        """Make each call of a failed batch in its own transaction; each caller gets its own."""
        for write in batch:
            if write.skip_if_abandoned and write.done.cancelled():
                continue
            try:
                await self._begin()
                try:
                    result = write.run()
                    self._db.execute("COMMIT")
                except BaseException:
                    self._rollback()
                    raise
            except Exception as error:  # noqa: BLE001 - this call's caller gets it
                _fail([write], _converted(error))
            else:
                _finish(write.done, result)

    def _rollback(self) -> None:
        """End a failed transaction; a rollback that fails too leaves SQLite to end it."""
        if self._db.in_transaction:
            try:
                self._db.execute("ROLLBACK")
            except sqlite3.Error as error:
                _log.warning("the SQLite ledger could not roll back", error=type(error).__name__)

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

    # ------------------------------------------------------------------ the statements
    # Each runs inside the batch's open transaction, under the write lock, and never awaits.

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

    def _claim(  # noqa: PLR0913 - the claim's arguments, keyword-only
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
        db = self._db
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
                self._db.execute(
                    "UPDATE deliveries SET status = ?, attempts = attempts + 1, owner = ?,"
                    " lease_until = ?, last_attempt_at = ? WHERE delivery_key = ?",
                    (SENDING, owner, now + lease_seconds, now, key),
                )
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
        return Claim(result, entry_from_row(after or row))

    def _reclaim(self, key: str, owner: str, now: float, lease_seconds: float) -> int | None:
        db = self._db
        taken = db.execute(
            "UPDATE deliveries SET status = ?, attempts = attempts + 1, owner = ?,"
            " lease_until = ?, last_attempt_at = ? WHERE delivery_key = ? AND status = ?",
            (SENDING, owner, now + lease_seconds, now, key, IN_DOUBT),
        ).rowcount
        row = db.execute(
            "SELECT attempts FROM deliveries WHERE delivery_key = ?", (key,)
        ).fetchone()
        return int(row[0]) if taken and row else None

    def _mark_in_doubt(self, key: str, now: float) -> None:
        self._db.execute(
            "UPDATE deliveries SET status = ?, in_doubt_since = COALESCE(in_doubt_since, ?)"
            " WHERE delivery_key = ?",
            (IN_DOUBT, now, key),
        )

    def _release(self, key: str, now: float) -> None:
        self._db.execute(
            "UPDATE deliveries SET status = ?, owner = NULL, lease_until = NULL,"
            " last_attempt_at = ? WHERE delivery_key = ? AND status = ?",
            (RETRY, now, key, SENDING),
        )

    def _settle(
        self, key: str, settlement: Settlement, case_code: str, sequence: int, now: float
    ) -> None:
        db = self._db
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


def _converted(error: BaseException) -> BaseException:
    """The bridge error a database error stands for (``store_error``); others as they are."""
    converted = store_error(error, _STORE)
    if converted is None:
        return error
    converted.__cause__ = error
    return converted


def _cancel(batch: list[_Write]) -> None:
    """Cancel the waits of ``batch`` that have no result yet."""
    for write in batch:
        write.done.cancel()


def _fail(batch: list[_Write], error: BaseException) -> None:
    """Hand every waiter of ``batch`` the same error (those still waiting)."""
    for write in batch:
        if not write.done.done():
            write.done.set_exception(error)


def _finish(done: asyncio.Future[Any], result: object) -> None:
    """Hand a waiter its result, unless it stopped waiting."""
    if not done.done():
        done.set_result(result)
