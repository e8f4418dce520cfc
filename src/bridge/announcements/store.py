"""Announcements and their recipients: stored first, then claimed and settled one user at a time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from bridge.announcements.contract import Announcement
from bridge.store.conflicts import insert_ignoring_duplicates
from bridge.store.conflicts import materialised as _materialised
from bridge.store.errors import converting

if TYPE_CHECKING:
    from bridge.store.database import Database

__all__ = [
    "AnnouncementStatus",
    "AnnouncementStore",
    "ClaimedRecipient",
    "Progress",
    "RecipientStatus",
    "StoredAnnouncement",
    "announcement_recipients",
    "announcements",
]

_TIME = sa.Float(precision=53)
_metadata = sa.MetaData()
announcements = sa.Table(
    "announcements",
    _metadata,
    sa.Column("announcement_id", sa.Text(), primary_key=True),
    sa.Column("province", sa.Text(), nullable=False),
    sa.Column("title", sa.Text(), nullable=False),
    sa.Column("body", sa.Text(), nullable=False),
    sa.Column("link", sa.Text()),
    sa.Column("urgency", sa.Text(), nullable=False),
    sa.Column("audience_kind", sa.Text(), nullable=False),
    sa.Column("audience_value", sa.Text()),
    sa.Column("published_at", _TIME, nullable=False),
    sa.Column("expires_at", _TIME),
    sa.Column("received_at", _TIME, nullable=False),
    sa.Column("status", sa.Text(), nullable=False),
    sa.Column("enumerated", sa.Boolean(), nullable=False),
    sa.Column("total", sa.Integer()),
    sa.Column("owner", sa.Text()),
    sa.Column("lease_until", _TIME),
    sa.Column("started_at", _TIME),
    sa.Column("finished_at", _TIME),
)
announcement_recipients = sa.Table(
    "announcement_recipients",
    _metadata,
    sa.Column("announcement_id", sa.Text(), primary_key=True),
    sa.Column("user_id", sa.Text(), primary_key=True),
    sa.Column("status", sa.Text(), nullable=False),
    sa.Column("reason", sa.Text()),
    sa.Column("zalo_message_id", sa.Text()),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("owner", sa.Text()),
    sa.Column("lease_until", _TIME),
    sa.Column("first_attempt_at", _TIME),
    sa.Column("updated_at", _TIME, nullable=False),
)


class AnnouncementStatus(StrEnum):
    """An announcement's fan-out: waiting, going out, finished, or past its expiry."""

    PENDING = "pending"
    SENDING = "sending"
    DONE = "done"
    EXPIRED = "expired"


class RecipientStatus(StrEnum):
    """One citizen's copy: to send, being sent (or in doubt), sent, failed, expired."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    EXPIRED = "expired"


_OPEN = (RecipientStatus.PENDING.value, RecipientStatus.SENDING.value)


@dataclass(frozen=True, slots=True)
class StoredAnnouncement:
    """An announcement claimed for fan-out."""

    announcement: Announcement
    status: AnnouncementStatus
    enumerated: bool


@dataclass(frozen=True, slots=True)
class ClaimedRecipient:
    """A recipient claimed for a send; ``in_doubt`` when an earlier send got no answer."""

    user_id: str
    attempts: int
    first_attempt_at: float | None
    in_doubt: bool


@dataclass(frozen=True, slots=True)
class Progress:
    """How far an announcement's fan-out is (``zalo-bridge announce status`` and metrics)."""

    announcement_id: str
    status: str
    title: str
    urgency: str
    total: int | None
    sent: int
    failed: int
    expired: int
    pending: int
    reasons: dict[str, int]
    started_at: float | None
    last_update_at: float | None
    finished_at: float | None

    @property
    def per_minute(self) -> float | None:
        """Settled recipients per minute since the fan-out started."""
        if self.started_at is None or self.last_update_at is None:
            return None
        elapsed = self.last_update_at - self.started_at
        settled = self.sent + self.failed
        return settled / elapsed * 60 if elapsed > 0 and settled else None

    @property
    def eta_seconds(self) -> float | None:
        """Seconds left at the rate so far (None when unknown or finished)."""
        rate = self.per_minute
        if self.pending == 0 or rate is None:
            return None
        return self.pending / rate * 60


def _from_row(row: sa.Row[Any]) -> Announcement:
    audience: dict[str, Any] = {"kind": row.audience_kind}
    if row.audience_value is not None:
        audience["value"] = row.audience_value
    return Announcement.model_validate(
        {
            "announcement_id": row.announcement_id,
            "province": row.province,
            "title": row.title,
            "body": row.body,
            "link": row.link,
            "urgency": row.urgency,
            "audience": audience,
            "published_at": datetime.fromtimestamp(row.published_at, UTC),
            "expires_at": (
                datetime.fromtimestamp(row.expires_at, UTC) if row.expires_at is not None else None
            ),
        }
    )


class AnnouncementStore:
    """The ``announcements`` and ``announcement_recipients`` tables (SQLite and PostgreSQL).

    Every claim is a row-level conditional update (PostgreSQL also skips rows another claim
    has locked), so replicas share the work without sending a copy twice.

    Args:
        database: The process's database (``bridge.store.database``); the caller disposes of it.
    """

    def __init__(self, database: Database) -> None:
        self._db = database

    @converting("announcement store")
    async def add(self, announcement: Announcement, *, now: float) -> bool:
        """Store a new announcement; False when its id is known (a redelivered record).

        Raises:
            StoreError: The database failed (wait it out).
            StoreValueError: It refused the announcement's values (dead-letter it).
        """
        row = {
            "announcement_id": str(announcement.announcement_id),
            "province": announcement.province,
            "title": announcement.title,
            "body": announcement.body,
            "link": str(announcement.link) if announcement.link else None,
            "urgency": announcement.urgency.value,
            "audience_kind": announcement.audience.kind.value,
            "audience_value": announcement.audience.value,
            "published_at": announcement.published_at.timestamp(),
            "expires_at": announcement.expires_at.timestamp() if announcement.expires_at else None,
            "received_at": now,
            "status": AnnouncementStatus.PENDING.value,
            "enumerated": False,
        }
        async with self._db.begin() as connection:
            return await insert_ignoring_duplicates(connection, announcements, [row]) > 0

    async def claim_announcement(
        self, *, owner: str, now: float, lease_seconds: float, urgent_only: bool
    ) -> StoredAnnouncement | None:
        """Take the oldest unfinished announcement nobody else holds; None when there is none."""
        t = announcements
        free = sa.and_(
            t.c.status.in_([AnnouncementStatus.PENDING.value, AnnouncementStatus.SENDING.value]),
            sa.or_(t.c.owner.is_(None), t.c.owner == owner, t.c.lease_until < now),
        )
        if urgent_only:
            free = sa.and_(free, t.c.urgency == "urgent")
        candidate = (
            sa.select(t.c.announcement_id)
            .where(free)
            .order_by(t.c.received_at, t.c.announcement_id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        statement = (
            sa.update(t)
            .where(t.c.announcement_id.in_(_materialised(candidate)), free)
            .values(
                owner=owner,
                lease_until=now + lease_seconds,
                status=AnnouncementStatus.SENDING.value,
                started_at=sa.func.coalesce(t.c.started_at, now),
            )
            .returning(*t.c)
        )
        async with self._db.begin() as connection:
            row = (await connection.execute(statement)).first()
        if row is None:
            return None
        return StoredAnnouncement(_from_row(row), AnnouncementStatus(row.status), row.enumerated)

    async def renew(
        self, announcement_id: str, *, owner: str, now: float, lease_seconds: float
    ) -> bool:
        """Extend this replica's hold on the fan-out; False when it was lost."""
        t = announcements
        statement = (
            sa.update(t)
            .where(t.c.announcement_id == announcement_id, t.c.owner == owner)
            .values(lease_until=now + lease_seconds)
        )
        async with self._db.begin() as connection:
            return bool((await connection.execute(statement)).rowcount == 1)

    async def let_go(self, announcement_id: str, *, owner: str) -> None:
        """Give the fan-out back (quiet hours, shutdown) so any replica can resume it."""
        t = announcements
        statement = (
            sa.update(t)
            .where(t.c.announcement_id == announcement_id, t.c.owner == owner)
            .values(owner=None, lease_until=None)
        )
        async with self._db.begin() as connection:
            await connection.execute(statement)

    async def add_recipients(
        self, announcement_id: str, user_ids: list[str], *, now: float
    ) -> None:
        """Add pending recipients; those already there are left as they are."""
        rows = [
            {
                "announcement_id": announcement_id,
                "user_id": user_id,
                "status": RecipientStatus.PENDING.value,
                "attempts": 0,
                "updated_at": now,
            }
            for user_id in user_ids
        ]
        async with self._db.begin() as connection:
            await insert_ignoring_duplicates(connection, announcement_recipients, rows)

    async def mark_enumerated(self, announcement_id: str) -> int:
        """Record that every recipient is listed; return how many there are."""
        r = announcement_recipients
        count = (
            sa.select(sa.func.count())
            .where(r.c.announcement_id == announcement_id)
            .scalar_subquery()
        )
        t = announcements
        async with self._db.begin() as connection:
            await connection.execute(
                sa.update(t)
                .where(t.c.announcement_id == announcement_id)
                .values(enumerated=True, total=count)
            )
            total = await connection.scalar(
                sa.select(t.c.total).where(t.c.announcement_id == announcement_id)
            )
        return int(total or 0)

    async def claim_recipients(  # noqa: PLR0913 - the claim and its scope
        self,
        announcement_id: str,
        *,
        owner: str,
        now: float,
        lease_seconds: float,
        limit: int,
        in_doubt: bool,
    ) -> list[ClaimedRecipient]:
        """Claim up to ``limit`` recipients to send to.

        With ``in_doubt``, those whose send got no answer and whose lease ran out (the caller
        looks them up in the conversation before sending again); otherwise pending ones.
        """
        r = announcement_recipients
        if in_doubt:
            wanted = sa.and_(r.c.status == RecipientStatus.SENDING.value, r.c.lease_until < now)
        else:
            wanted = r.c.status == RecipientStatus.PENDING.value
        wanted = sa.and_(r.c.announcement_id == announcement_id, wanted)
        candidates = (
            sa.select(r.c.user_id)
            .where(wanted)
            .order_by(r.c.user_id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        statement = (
            sa.update(r)
            .where(r.c.user_id.in_(_materialised(candidates)), wanted)
            .values(
                status=RecipientStatus.SENDING.value,
                owner=owner,
                lease_until=now + lease_seconds,
                first_attempt_at=sa.func.coalesce(r.c.first_attempt_at, now),
                updated_at=now,
            )
            .returning(r.c.user_id, r.c.attempts, r.c.first_attempt_at)
        )
        async with self._db.begin() as connection:
            rows = (await connection.execute(statement)).all()
        return [
            ClaimedRecipient(row.user_id, row.attempts, row.first_attempt_at, in_doubt)
            for row in rows
        ]

    async def settle_recipient(  # noqa: PLR0913 - the outcome of one copy
        self,
        announcement_id: str,
        user_id: str,
        *,
        owner: str,
        status: RecipientStatus,
        reason: str | None = None,
        message_id: str | None = None,
        attempts: int,
        now: float,
    ) -> bool:
        """Record one copy's outcome (or put it back as pending); False if the claim was lost."""
        r = announcement_recipients
        statement = (
            sa.update(r)
            .where(
                r.c.announcement_id == announcement_id,
                r.c.user_id == user_id,
                r.c.owner == owner,
                r.c.status == RecipientStatus.SENDING.value,
            )
            .values(
                status=status.value,
                reason=reason,
                zalo_message_id=message_id,
                attempts=attempts,
                lease_until=None,
                updated_at=now,
            )
        )
        async with self._db.begin() as connection:
            return bool((await connection.execute(statement)).rowcount == 1)

    async def keep_in_doubt(
        self, announcement_id: str, user_id: str, *, owner: str, until: float, attempts: int
    ) -> None:
        """Leave a send without an answer as ``sending`` until ``until``, then look it up."""
        r = announcement_recipients
        statement = (
            sa.update(r)
            .where(
                r.c.announcement_id == announcement_id,
                r.c.user_id == user_id,
                r.c.owner == owner,
            )
            .values(lease_until=until, attempts=attempts)
        )
        async with self._db.begin() as connection:
            await connection.execute(statement)

    async def open_count(self, announcement_id: str) -> int:
        """Recipients still pending or being sent."""
        r = announcement_recipients
        statement = sa.select(sa.func.count()).where(
            r.c.announcement_id == announcement_id, r.c.status.in_(_OPEN)
        )
        async with self._db.connect() as connection:
            return int(await connection.scalar(statement) or 0)

    async def finish(self, announcement_id: str, *, status: AnnouncementStatus, now: float) -> None:
        """Close the fan-out; when it expired, the pending recipients are marked expired."""
        t, r = announcements, announcement_recipients
        async with self._db.begin() as connection:
            if status is AnnouncementStatus.EXPIRED:
                await connection.execute(
                    sa.update(r)
                    .where(
                        r.c.announcement_id == announcement_id,
                        r.c.status == RecipientStatus.PENDING.value,
                    )
                    .values(status=RecipientStatus.EXPIRED.value, updated_at=now)
                )
            await connection.execute(
                sa.update(t)
                .where(t.c.announcement_id == announcement_id)
                .values(status=status.value, finished_at=now, owner=None, lease_until=None)
            )

    async def active_ids(self) -> list[str]:
        """The announcements still waiting or going out (for metrics), oldest first."""
        t = announcements
        statement = (
            sa.select(t.c.announcement_id)
            .where(
                t.c.status.in_([AnnouncementStatus.PENDING.value, AnnouncementStatus.SENDING.value])
            )
            .order_by(t.c.received_at)
        )
        async with self._db.connect() as connection:
            return [str(i) for i in (await connection.execute(statement)).scalars()]

    async def progress(self, announcement_id: str) -> Progress | None:
        """Counts and times of one announcement's fan-out; None when the id is unknown."""
        t, r = announcements, announcement_recipients
        async with self._db.connect() as connection:
            head = (
                await connection.execute(sa.select(t).where(t.c.announcement_id == announcement_id))
            ).first()
            if head is None:
                return None
            rows = (
                await connection.execute(
                    sa.select(r.c.status, r.c.reason, sa.func.count(), sa.func.max(r.c.updated_at))
                    .where(r.c.announcement_id == announcement_id)
                    .group_by(r.c.status, r.c.reason)
                )
            ).all()
        counts: dict[str, int] = {}
        reasons: dict[str, int] = {}
        last: float | None = None
        for status, reason, count, updated in rows:
            counts[status] = counts.get(status, 0) + int(count)
            if reason:
                reasons[reason] = reasons.get(reason, 0) + int(count)
            if status in (RecipientStatus.SENT.value, RecipientStatus.FAILED.value) and updated:
                last = max(last or updated, updated)
        return Progress(
            announcement_id=announcement_id,
            status=head.status,
            title=head.title,
            urgency=head.urgency,
            total=head.total,
            sent=counts.get(RecipientStatus.SENT.value, 0),
            failed=counts.get(RecipientStatus.FAILED.value, 0),
            expired=counts.get(RecipientStatus.EXPIRED.value, 0),
            pending=sum(counts.get(s, 0) for s in _OPEN),
            reasons=reasons,
            started_at=head.started_at,
            last_update_at=last,
            finished_at=head.finished_at,
        )
