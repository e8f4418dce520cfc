"""The durable webhook inbox in SQL: verified OA events stored once, claimed per user, settled."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.engine import Connection

__all__ = [
    "InboxClaim",
    "InboxRow",
    "InboxStatus",
    "InboxStore",
    "Transactions",
    "webhook_inbox",
]

_T = TypeVar("_T")
_TIME = sa.Float(precision=53)
_metadata = sa.MetaData()
webhook_inbox = sa.Table(
    "webhook_inbox",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("dedupe_key", sa.Text, nullable=False, unique=True),
    sa.Column("received_at", _TIME, nullable=False),
    sa.Column("event_name", sa.Text, nullable=False),
    sa.Column("user_id", sa.Text),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("owner", sa.Text),
    sa.Column("lease_until", _TIME),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text),
    sa.Column("processed_at", _TIME),
)
"""The table created by migration 0005.

``lease_until`` is the end of a claim; on a pending row that failed before, the earliest time
it is tried again (its back-off).
"""


class InboxStatus(StrEnum):
    """Where a stored event is in its life."""

    PENDING = "pending"
    CLAIMED = "claimed"
    DONE = "done"
    FAILED = "failed"


_WAITING = (InboxStatus.PENDING.value, InboxStatus.CLAIMED.value)


class Transactions(Protocol):
    """Runs one transaction on the bridge's database (``bridge.citizens.store.CitizenStore``)."""

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        ...

    async def run(self, work: Callable[[Connection], _T]) -> _T:
        """Run ``work`` in one transaction, waiting for SQLite's lock without blocking the loop."""
        ...


@dataclass(frozen=True, slots=True)
class InboxRow:
    """A claimed event: its raw signed body and how many times it was claimed so far."""

    id: int
    dedupe_key: str
    event_name: str
    user_id: str | None
    body: bytes
    attempts: int


@dataclass(frozen=True, slots=True)
class InboxClaim:
    """What one claim took, and the abandoned rows it marked failed (no attempts left)."""

    rows: list[InboxRow] = field(default_factory=list)
    failed: int = 0


class InboxStore:
    """The ``webhook_inbox`` table, written once for SQLite and PostgreSQL.

    A citizen's events are handled in the order they were received: a row is claimed only
    when no earlier row of the same user is still pending or claimed (a failing row blocks its
    user's later rows until it is done or failed; other users go on). Claims are safe across
    replicas: PostgreSQL skips rows another claim has locked, and every update checks the status
    (and the owner) again.

    Args:
        transactions: The citizens' store, whose engine (and SQLite lock handling) is shared.
    """

    def __init__(self, transactions: Transactions) -> None:
        self._tx = transactions
        self._insert: Any = (
            postgresql.insert if transactions.dialect == "postgresql" else sqlite.insert
        )

    async def add(
        self, *, dedupe_key: str, event_name: str, user_id: str | None, body: bytes, now: float
    ) -> bool:
        """Store one verified event as pending; False when its key was stored before."""
        statement = (
            self._insert(webhook_inbox)
            .values(
                dedupe_key=dedupe_key,
                received_at=now,
                event_name=event_name,
                user_id=user_id,
                body=body,
                status=InboxStatus.PENDING.value,
                attempts=0,
            )
            .on_conflict_do_nothing(index_elements=[webhook_inbox.c.dedupe_key])
            .returning(webhook_inbox.c.id)
        )

        def work(conn: Connection) -> bool:
            return conn.execute(statement).first() is not None

        return await self._tx.run(work)

    async def claim(
        self, *, owner: str, now: float, lease_seconds: float, limit: int, max_attempts: int
    ) -> InboxClaim:
        """Claim up to ``limit`` events, each the oldest waiting one of its user.

        Due are pending rows past their back-off and claimed rows whose lease ran out (their
        replica stopped). A due row claimed ``max_attempts`` times already is marked failed
        instead (an event that keeps killing its handler must not block its user for ever).
        """
        t = webhook_inbox
        earlier = t.alias("earlier")
        due = sa.or_(
            sa.and_(
                t.c.status == InboxStatus.PENDING.value,
                sa.or_(t.c.lease_until.is_(None), t.c.lease_until <= now),
            ),
            sa.and_(t.c.status == InboxStatus.CLAIMED.value, t.c.lease_until < now),
        )
        blocked = sa.exists().where(
            earlier.c.user_id == t.c.user_id,
            earlier.c.status.in_(_WAITING),
            sa.or_(
                earlier.c.received_at < t.c.received_at,
                sa.and_(earlier.c.received_at == t.c.received_at, earlier.c.id < t.c.id),
            ),
        )
        candidates = (
            sa.select(t.c.id, t.c.attempts)
            .where(due, ~blocked)
            .order_by(t.c.received_at, t.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=t)
        )

        def work(conn: Connection) -> InboxClaim:
            # A read first: mostly nothing is due, and a read takes no write lock on SQLite.
            found = conn.execute(candidates).all()
            if not found:
                return InboxClaim()
            spent = [row.id for row in found if row.attempts >= max_attempts]
            fresh = [row.id for row in found if row.attempts < max_attempts]
            failed = 0
            if spent:
                failed = len(
                    conn.execute(
                        sa.update(t)
                        .where(t.c.id.in_(spent), due)
                        .values(
                            status=InboxStatus.FAILED.value,
                            owner=None,
                            lease_until=None,
                            last_error="abandoned: no attempt left",
                            processed_at=now,
                        )
                        .returning(t.c.id)
                    ).all()
                )
            rows: list[InboxRow] = []
            if fresh:
                taken = conn.execute(
                    sa.update(t)
                    .where(t.c.id.in_(fresh), due)
                    .values(
                        status=InboxStatus.CLAIMED.value,
                        owner=owner,
                        lease_until=now + lease_seconds,
                        attempts=t.c.attempts + 1,
                    )
                    .returning(
                        t.c.id,
                        t.c.dedupe_key,
                        t.c.event_name,
                        t.c.user_id,
                        t.c.body,
                        t.c.attempts,
                        t.c.received_at,
                    )
                ).all()
                taken = sorted(taken, key=lambda row: (row.received_at, row.id))
                rows = [
                    InboxRow(
                        id=int(row.id),
                        dedupe_key=row.dedupe_key,
                        event_name=row.event_name,
                        user_id=row.user_id,
                        body=bytes(row.body),
                        attempts=int(row.attempts),
                    )
                    for row in taken
                ]
            return InboxClaim(rows=rows, failed=failed)

        return await self._tx.run(work)

    async def done(self, row_id: int, *, owner: str, now: float) -> bool:
        """Mark a claimed event handled; False when the claim was lost (lease ran out)."""
        t = webhook_inbox
        statement = (
            sa.update(t)
            .where(t.c.id == row_id, t.c.owner == owner, t.c.status == InboxStatus.CLAIMED.value)
            .values(
                status=InboxStatus.DONE.value,
                owner=None,
                lease_until=None,
                last_error=None,
                processed_at=now,
            )
            .returning(t.c.id)
        )

        def work(conn: Connection) -> bool:
            return conn.execute(statement).first() is not None

        return await self._tx.run(work)

    async def release(
        self, row_id: int, *, owner: str, now: float, error: str, retry_at: float | None
    ) -> bool:
        """After a handling error: pending again from ``retry_at``, or failed when it is None.

        ``error`` names the error's class only (no personal data). False when the claim was lost.
        """
        t = webhook_inbox
        values: dict[str, Any] = {"owner": None, "last_error": error[:200]}
        if retry_at is None:
            values.update(status=InboxStatus.FAILED.value, lease_until=None, processed_at=now)
        else:
            values.update(status=InboxStatus.PENDING.value, lease_until=retry_at)
        statement = (
            sa.update(t)
            .where(t.c.id == row_id, t.c.owner == owner, t.c.status == InboxStatus.CLAIMED.value)
            .values(**values)
            .returning(t.c.id)
        )

        def work(conn: Connection) -> bool:
            return conn.execute(statement).first() is not None

        return await self._tx.run(work)

    async def counts(self) -> dict[str, int]:
        """How many events are in each status (for metrics and ``join``)."""
        t = webhook_inbox
        statement = sa.select(t.c.status, sa.func.count()).group_by(t.c.status)

        def work(conn: Connection) -> dict[str, int]:
            return {str(status): int(count) for status, count in conn.execute(statement).all()}

        return await self._tx.run(work)

    async def status_of(self, dedupe_key: str) -> tuple[str, int, str | None] | None:
        """The status, attempts and last error of one stored event, or None."""
        t = webhook_inbox
        statement = sa.select(t.c.status, t.c.attempts, t.c.last_error).where(
            t.c.dedupe_key == dedupe_key
        )

        def work(conn: Connection) -> tuple[str, int, str | None] | None:
            row = conn.execute(statement).first()
            return None if row is None else (row.status, int(row.attempts), row.last_error)

        return await self._tx.run(work)
