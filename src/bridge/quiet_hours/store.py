"""Records held back by quiet hours: stored with their bytes, superseded, claimed, settled."""

from __future__ import annotations

import base64
import contextlib
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from bridge.delivery.records import InboundRecord
from bridge.errors import StoreError
from bridge.store.conflicts import insert_ignoring_duplicates
from bridge.store.conflicts import materialised as _materialised
from bridge.store.errors import converted_errors, store_error
from bridge.store.sqlite_reads import SqliteReads, prepare

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence

    from bridge.events import CaseStateEvent
    from bridge.store.database import Database, DatabaseConnection

__all__ = ["HeldRecord", "HoldStatus", "HoldStore", "held_notifications"]

_TIME = sa.Float(precision=53)
_metadata = sa.MetaData()
held_notifications = sa.Table(
    "held_notifications",
    _metadata,
    sa.Column("event_id", sa.Text(), primary_key=True),
    sa.Column("case_code", sa.Text(), nullable=False),
    sa.Column("sequence", sa.BigInteger(), nullable=False),
    sa.Column("state", sa.Text(), nullable=False),
    sa.Column("topic", sa.Text(), nullable=False),
    sa.Column("partition", sa.Integer(), nullable=False),
    sa.Column("offset", sa.BigInteger(), nullable=False),
    sa.Column("record_key", sa.LargeBinary()),
    sa.Column("value", sa.LargeBinary(), nullable=False),
    sa.Column("headers", sa.Text(), nullable=False),
    sa.Column("timestamp_ms", sa.BigInteger()),
    sa.Column("held_at", _TIME, nullable=False),
    sa.Column("release_at", _TIME, nullable=False),
    sa.Column("status", sa.Text(), nullable=False),
    sa.Column("owner", sa.Text()),
    sa.Column("lease_until", _TIME),
    sa.Column("superseded_by", sa.Text()),
    sa.Column("outcome", sa.Text()),
    sa.Column("outcome_reason", sa.Text()),
    sa.Column("settled_at", _TIME),
)
"""The table created by migration 0004."""


_RECORD_COLUMNS = tuple(
    held_notifications.c[name]
    for name in (
        "event_id",
        "case_code",
        "sequence",
        "topic",
        "partition",
        "offset",
        "record_key",
        "value",
        "headers",
        "timestamp_ms",
    )
)


class HoldStatus(StrEnum):
    """Where a held record is in its life."""

    HELD = "held"
    RELEASING = "releasing"
    RELEASED = "released"
    SUPERSEDED = "superseded"


@dataclass(frozen=True, slots=True)
class HeldRecord:
    """A held record claimed for release: the original Kafka record and its dossier."""

    event_id: str
    case_code: str
    sequence: int
    record: InboundRecord


def _encode_headers(headers: tuple[tuple[str, bytes], ...] | list[tuple[str, bytes]]) -> str:
    return json.dumps([[k, base64.b64encode(v).decode()] for k, v in headers])


def _decode_headers(text: str) -> tuple[tuple[str, bytes], ...]:
    return tuple((k, base64.b64decode(v)) for k, v in json.loads(text))


def _held(rows: Sequence[sa.Row[Any]]) -> list[HeldRecord]:
    return [
        HeldRecord(
            event_id=row.event_id,
            case_code=row.case_code,
            sequence=row.sequence,
            record=InboundRecord(
                topic=row.topic,
                partition=row.partition,
                offset=row.offset,
                key=row.record_key,
                value=row.value,
                headers=_decode_headers(row.headers),
                timestamp_ms=row.timestamp_ms,
            ),
        )
        for row in rows
    ]


def _outdated_by(case_code: Any, sequence: Any, state: Any) -> sa.ColumnElement[bool]:
    """The held records of ``case_code`` that an event of ``sequence`` and ``state`` outdates."""
    t = held_notifications
    return sa.and_(
        t.c.case_code == case_code,
        t.c.status == HoldStatus.HELD.value,
        t.c.sequence < sequence,
        t.c.state != state,
    )


def _superseded_by(case_code: Any, superseder: Any) -> sa.ColumnElement[bool]:
    """The held records of ``case_code`` that the event ``superseder`` already superseded."""
    t = held_notifications
    return sa.and_(
        t.c.case_code == case_code,
        t.c.status == HoldStatus.SUPERSEDED.value,
        t.c.superseded_by == superseder,
    )


_ANY_OUTDATED = prepare(
    sa.select(held_notifications.c.event_id)
    .where(
        sa.or_(
            _outdated_by(
                sa.bindparam("case_code"), sa.bindparam("sequence"), sa.bindparam("state")
            ),
            _superseded_by(sa.bindparam("case_code"), sa.bindparam("superseder")),
        )
    )
    .limit(1)
)
"""Whether an event outdates anything held: asked for every event, by day too (SQLite)."""


class HoldStore:
    """The ``held_notifications`` table, through SQLAlchemy Core (SQLite and PostgreSQL).

    Database errors are raised as ``StoreError``, or ``StoreValueError`` when the database
    refused one record's values (the SQLAlchemy one is the cause). On SQLite
    the read that every event makes (`supersede` finding nothing) is a plain statement on the
    loop's thread (``SqliteReads``) rather than a round trip through SQLAlchemy.

    Args:
        database: The process's database (``bridge.store.database``); the caller disposes of it.
    """

    def __init__(self, database: Database) -> None:
        self._db = database
        self._reads = SqliteReads(database.sqlite_connection) if database.sqlite_path else None

    async def close(self) -> None:
        """Forget the SQLite read connection, if any (the database is the caller's)."""
        if self._reads is not None:
            self._reads.close()

    @contextlib.asynccontextmanager
    async def _connection(self, *, write: bool) -> AsyncIterator[DatabaseConnection]:
        """A connection (in a transaction when ``write``); database errors become bridge's.

        ``StoreValueError`` when the values of one record were refused, else ``StoreError``.
        """
        try:
            opened = self._db.begin() if write else self._db.connect()
            async with opened as connection:
                yield connection
        except converted_errors() as exc:
            raise (store_error(exc, "hold store") or StoreError("hold store")) from exc

    async def hold(
        self, record: InboundRecord, event: CaseStateEvent, *, release_at: float, now: float
    ) -> None:
        """Keep ``record`` until ``release_at``; holding the same event again changes nothing."""
        row = {
            "event_id": str(event.event_id),
            "case_code": event.case.code,
            "sequence": event.sequence,
            "state": event.state.value,
            "topic": record.topic,
            "partition": record.partition,
            "offset": record.offset,
            "record_key": record.key,
            "value": record.value,
            "headers": _encode_headers(list(record.headers)),
            "timestamp_ms": record.timestamp_ms,
            "held_at": now,
            "release_at": release_at,
            "status": HoldStatus.HELD.value,
        }
        async with self._connection(write=True) as connection:
            await insert_ignoring_duplicates(connection, held_notifications, [row])

    async def supersede(self, event: CaseStateEvent, *, now: float) -> list[HeldRecord]:
        """Drop the dossier's held records that ``event`` makes outdated; return them.

        A held record is outdated by a newer event (higher ``sequence``) of the same dossier
        whose state differs from the held one's: "in progress" is no news once the result is
        ready. A newer event in the same state (a transfer, a new due date) adds news and
        supersedes nothing.

        The records ``event`` superseded earlier are returned again: when the caller fails
        before their status events are committed, the record is processed again and they
        must still be reported.
        """
        t = held_notifications
        code, sequence, state = event.case.code, event.sequence, event.state.value
        superseder = str(event.event_id)
        # A read first: most events have nothing held, and a read takes no write lock. On
        # SQLite it is a prepared statement: the SQLAlchemy expressions below are built only
        # when something is held (building them for every event cost ≈ 8 % of the loop).
        if self._reads is not None:
            hits = await self._reads.rows(
                _ANY_OUTDATED,
                case_code=code,
                sequence=sequence,
                state=state,
                superseder=superseder,
            )
            if not hits or hits[0][0] is None:
                return []
        outdated = _outdated_by(code, sequence, state)
        already = _superseded_by(code, superseder)
        if self._reads is None:
            async with self._connection(write=False) as connection:
                found = await connection.scalar(
                    sa.select(t.c.event_id).where(sa.or_(outdated, already)).limit(1)
                )
            if found is None:
                return []
        statement = (
            sa.update(t)
            .where(outdated)
            .values(
                status=HoldStatus.SUPERSEDED.value,
                superseded_by=superseder,
                settled_at=now,
            )
        )
        async with self._connection(write=True) as connection:
            await connection.execute(statement)
            query = sa.select(*_RECORD_COLUMNS).where(already).order_by(t.c.sequence)
            rows = (await connection.execute(query)).all()
        return _held(rows)

    async def claim_due(
        self, *, now: float, owner: str, lease_seconds: float, limit: int
    ) -> list[HeldRecord]:
        """Claim up to ``limit`` records due for release, by dossier and sequence.

        A record is due when its release time has come, or when the replica releasing it let
        its lease run out. Only one replica wins each row: PostgreSQL skips rows another
        claim has locked, and the status is checked again in the update itself.
        """
        t = held_notifications
        due = sa.or_(
            sa.and_(t.c.status == HoldStatus.HELD.value, t.c.release_at <= now),
            sa.and_(t.c.status == HoldStatus.RELEASING.value, t.c.lease_until < now),
        )
        candidates = (
            sa.select(t.c.event_id)
            .where(due)
            .order_by(t.c.case_code, t.c.sequence)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        statement = (
            sa.update(t)
            .where(t.c.event_id.in_(_materialised(candidates)), due)
            .values(status=HoldStatus.RELEASING.value, owner=owner, lease_until=now + lease_seconds)
            .returning(*_RECORD_COLUMNS)
        )
        async with self._connection(write=True) as connection:
            rows = (await connection.execute(statement)).all()
        claimed = _held(rows)
        return sorted(claimed, key=lambda held: (held.case_code, held.sequence))

    async def settle(
        self, event_id: str, *, owner: str, outcome: str, reason: str | None, now: float
    ) -> bool:
        """Record the release's outcome; False when another replica took the release over."""
        t = held_notifications
        statement = (
            sa.update(t)
            .where(
                t.c.event_id == event_id,
                t.c.owner == owner,
                t.c.status == HoldStatus.RELEASING.value,
            )
            .values(
                status=HoldStatus.RELEASED.value,
                outcome=outcome,
                outcome_reason=reason,
                settled_at=now,
                lease_until=None,
            )
        )
        async with self._connection(write=True) as connection:
            result = await connection.execute(statement)
        return bool(result.rowcount == 1)

    async def counts(self) -> dict[str, int]:
        """How many records are in each status (for metrics)."""
        t = held_notifications
        statement = sa.select(t.c.status, sa.func.count()).group_by(t.c.status)
        async with self._connection(write=False) as connection:
            rows = (await connection.execute(statement)).all()
        return {str(status): int(count) for status, count in rows}

    async def status_of(self, event_id: str) -> tuple[str, str | None] | None:
        """The status and outcome of one held event, or None when it was never held."""
        t = held_notifications
        statement = sa.select(t.c.status, t.c.outcome).where(t.c.event_id == event_id)
        async with self._connection(write=False) as connection:
            row = (await connection.execute(statement)).first()
        return None if row is None else (row.status, row.outcome)
