"""Submissions in the store: one draft per citizen, the events it took, the outbox of dossiers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from bridge.errors import StoreError
from bridge.store.conflicts import insert_ignoring_duplicates
from bridge.store.errors import converting
from bridge.submissions.conversation import Draft

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bridge.store.database import Database

__all__ = [
    "DraftConflictError",
    "Filed",
    "OwedReplies",
    "PendingDraft",
    "SubmissionStore",
    "submission_drafts",
    "submission_steps",
    "submissions",
]

_TIME = sa.Float(precision=53)
_metadata = sa.MetaData()
submission_drafts = sa.Table(
    "submission_drafts",
    _metadata,
    sa.Column("user_id", sa.Text(), primary_key=True),
    sa.Column("draft", sa.Text(), nullable=False),
    sa.Column("started_at", _TIME, nullable=False),
    sa.Column("updated_at", _TIME, nullable=False),
    sa.Column("reminded_at", _TIME),
    sa.Column("version", sa.Integer(), nullable=False),
)
"""The tables created by migration 0008."""
submission_steps = sa.Table(
    "submission_steps",
    _metadata,
    sa.Column("event_key", sa.Text(), primary_key=True),
    sa.Column("user_id", sa.Text(), nullable=False),
    sa.Column("at", _TIME, nullable=False),
    sa.Column("replies", sa.Text()),
    sa.Column("replies_due", _TIME),
)
submissions = sa.Table(
    "submissions",
    _metadata,
    sa.Column("submission_id", sa.Text(), primary_key=True),
    sa.Column("user_id", sa.Text(), nullable=False),
    sa.Column("procedure_code", sa.Text(), nullable=False),
    sa.Column("event", sa.Text(), nullable=False),
    sa.Column("object_keys", sa.Text(), nullable=False),
    sa.Column("submitted_at", _TIME, nullable=False),
    sa.Column("published_at", _TIME),
    sa.Column("case_code", sa.Text()),
    sa.Column("linked_at", _TIME),
    sa.Column("purged_at", _TIME),
    sa.Column("owner", sa.Text()),
    sa.Column("lease_until", _TIME),
)


class DraftConflictError(StoreError):
    """Another step of the same citizen was taken meanwhile: nothing was written.

    A ``StoreError``: the webhook inbox hands the event over again, and it is then read against
    the newer draft.
    """


@dataclass(frozen=True, slots=True)
class PendingDraft:
    """A citizen's draft with its times (for reminders and expiry)."""

    user_id: str
    draft: Draft
    started_at: float
    updated_at: float
    reminded_at: float | None
    version: int


@dataclass(frozen=True, slots=True)
class Filed:
    """A confirmed dossier for the outbox: its event (JSON) and the objects it names."""

    submission_id: str
    user_id: str
    procedure_code: str
    event: dict[str, Any]
    object_keys: tuple[str, ...]
    submitted_at: float


@dataclass(frozen=True, slots=True)
class OwedReplies:
    """The answers a step still owes her, and when a sweep may send them."""

    event_key: str
    user_id: str
    at: float
    replies: tuple[str, ...]
    due: float


def _pending(row: sa.Row[Any]) -> PendingDraft:
    return PendingDraft(
        user_id=row.user_id,
        draft=Draft.from_json(json.loads(row.draft)),
        started_at=row.started_at,
        updated_at=row.updated_at,
        reminded_at=row.reminded_at,
        version=row.version,
    )


def _filed(row: sa.Row[Any]) -> Filed:
    return Filed(
        submission_id=row.submission_id,
        user_id=row.user_id,
        procedure_code=row.procedure_code,
        event=json.loads(row.event),
        object_keys=tuple(json.loads(row.object_keys)),
        submitted_at=row.submitted_at,
    )


class SubmissionStore:
    """The submission tables, through SQLAlchemy Core on the process's one database.

    Every step of a conversation is one transaction: the webhook event's key, the new draft (or
    its deletion) and, on confirmation, the outbox row. A crash before the commit leaves the old
    draft and no key (the inbox hands the event over again); after it, the key is there and a
    replay of the event changes nothing. Database errors leave as ``StoreError``.

    Args:
        database: The process's database (``bridge.store.database``); the caller disposes of it.
    """

    def __init__(self, database: Database) -> None:
        self._db = database

    @converting("submission store")
    async def draft(self, user_id: str) -> PendingDraft | None:
        """The citizen's draft in progress, if any."""
        t = submission_drafts
        async with self._db.connect() as connection:
            row = (await connection.execute(sa.select(t).where(t.c.user_id == user_id))).first()
        return None if row is None else _pending(row)

    @converting("submission store")
    async def seen(self, event_key: str) -> bool:
        """Whether a conversation already took the webhook event ``event_key``."""
        t = submission_steps
        async with self._db.connect() as connection:
            found = await connection.scalar(
                sa.select(t.c.user_id).where(t.c.event_key == event_key)
            )
        return found is not None

    @converting("submission store")
    async def apply(  # noqa: PLR0913 - one step's parts, keyword-only
        self,
        user_id: str,
        *,
        event_key: str,
        draft: Draft | None,
        at: float,
        read: PendingDraft | None,
        filed: Filed | None = None,
        replies: Sequence[str] = (),
        replies_due: float | None = None,
    ) -> bool:
        """Take one step: record ``event_key`` and store ``draft`` (None: delete it), atomically.

        ``read`` is the draft the step was computed from (None: she had none); when the stored
        one differs, ``DraftConflictError`` is raised and nothing is written. Returns False,
        changing nothing, when ``event_key`` was taken before (a replay). ``filed`` goes into
        the outbox in the same transaction (she confirmed). ``replies`` are kept with the step
        as owed until ``replied``; a sweep may send them from ``replies_due`` on.
        """
        t = submission_drafts
        async with self._db.begin() as connection:
            step: dict[str, Any] = {"event_key": event_key, "user_id": user_id, "at": at}
            if replies:
                step["replies"] = json.dumps(list(replies), ensure_ascii=False)
                step["replies_due"] = at if replies_due is None else replies_due
            if not await insert_ignoring_duplicates(connection, submission_steps, [step]):
                return False
            mine = t.c.user_id == user_id
            if read is not None:
                mine = sa.and_(mine, t.c.version == read.version)
            stored = None if draft is None else json.dumps(draft.to_json(), ensure_ascii=False)
            if read is None and stored is not None:
                row = {
                    "user_id": user_id,
                    "draft": stored,
                    "started_at": at,
                    "updated_at": at,
                    "version": 1,
                }
                if not await insert_ignoring_duplicates(connection, t, [row]):
                    raise DraftConflictError("a draft was started meanwhile")
            elif read is not None:
                changes = {
                    "draft": stored,
                    "updated_at": max(at, read.updated_at),
                    "reminded_at": None,
                    "version": read.version + 1,
                }
                statement = (
                    sa.delete(t).where(mine)
                    if stored is None
                    else sa.update(t).where(mine).values(**changes)
                )
                changed = await connection.execute(statement)
                if changed.rowcount != 1:
                    raise DraftConflictError("the draft changed meanwhile")
            if filed is not None:
                await connection.execute(
                    sa.insert(submissions).values(
                        submission_id=filed.submission_id,
                        user_id=filed.user_id,
                        procedure_code=filed.procedure_code,
                        event=json.dumps(filed.event, ensure_ascii=False, sort_keys=True),
                        object_keys=json.dumps(list(filed.object_keys)),
                        submitted_at=filed.submitted_at,
                    )
                )
        return True

    @converting("submission store")
    async def idle(self, *, updated_before: float, limit: int = 100) -> list[PendingDraft]:
        """Drafts without an answer since ``updated_before``, oldest first."""
        t = submission_drafts
        async with self._db.connect() as connection:
            rows = (
                await connection.execute(
                    sa.select(t)
                    .where(t.c.updated_at < updated_before)
                    .order_by(t.c.updated_at)
                    .limit(limit)
                )
            ).all()
        return [_pending(row) for row in rows]

    @converting("submission store")
    async def reminded(self, user_id: str, *, version: int, at: float) -> bool:
        """Mark the one reminder as sent, unless she answered meanwhile or it was sent already."""
        t = submission_drafts
        async with self._db.begin() as connection:
            result = await connection.execute(
                sa.update(t)
                .where(
                    t.c.user_id == user_id,
                    t.c.version == version,
                    t.c.reminded_at.is_(None),
                )
                .values(reminded_at=at)
            )
        return bool(result.rowcount == 1)

    @converting("submission store")
    async def expire(self, user_id: str, *, version: int) -> bool:
        """Delete a draft still at ``version`` (not if she answered since)."""
        t = submission_drafts
        async with self._db.begin() as connection:
            result = await connection.execute(
                sa.delete(t).where(t.c.user_id == user_id, t.c.version == version)
            )
        return bool(result.rowcount == 1)

    @converting("submission store")
    async def unpublished(self, *, limit: int = 50) -> list[Filed]:
        """Confirmed dossiers whose event is not yet published, oldest first (the outbox)."""
        t = submissions
        async with self._db.connect() as connection:
            rows = (
                await connection.execute(
                    sa.select(t)
                    .where(t.c.published_at.is_(None))
                    .order_by(t.c.submitted_at, t.c.submission_id)
                    .limit(limit)
                )
            ).all()
        return [_filed(row) for row in rows]

    @converting("submission store")
    async def claim(self, submission_id: str, *, owner: str, now: float, lease: float) -> bool:
        """Take the publication of ``submission_id`` for ``lease`` seconds (one worker at a time).

        False when it is published, or another worker's lease still runs.
        """
        t = submissions
        free = sa.or_(t.c.lease_until.is_(None), t.c.lease_until < now, t.c.owner == owner)
        async with self._db.begin() as connection:
            result = await connection.execute(
                sa.update(t)
                .where(t.c.submission_id == submission_id, t.c.published_at.is_(None), free)
                .values(owner=owner, lease_until=now + lease)
            )
        return bool(result.rowcount == 1)

    @converting("submission store")
    async def published(self, submission_id: str, *, at: float) -> None:
        """The event of ``submission_id`` reached the broker."""
        t = submissions
        async with self._db.begin() as connection:
            await connection.execute(
                sa.update(t)
                .where(t.c.submission_id == submission_id, t.c.published_at.is_(None))
                .values(published_at=at)
            )

    @converting("submission store")
    async def filed(self, submission_id: str) -> Filed | None:
        """One confirmed dossier."""
        t = submissions
        async with self._db.connect() as connection:
            row = (
                await connection.execute(sa.select(t).where(t.c.submission_id == submission_id))
            ).first()
        return None if row is None else _filed(row)

    @converting("submission store")
    async def opened(self, submission_id: str, case_code: str, *, at: float) -> str | None:
        """The centre opened ``case_code`` from ``submission_id``: the citizen to link, once.

        Returns her user id the first time, None when already linked or unknown.
        """
        t = submissions
        async with self._db.begin() as connection:
            result = await connection.execute(
                sa.update(t)
                .where(t.c.submission_id == submission_id, t.c.case_code.is_(None))
                .values(case_code=case_code, linked_at=at)
            )
            if result.rowcount != 1:
                return None
            user: str | None = await connection.scalar(
                sa.select(t.c.user_id).where(t.c.submission_id == submission_id)
            )
        return user

    @converting("submission store")
    async def past_retention(self, *, submitted_before: float, limit: int = 100) -> list[Filed]:
        """Published dossiers whose attachments are due for deletion (retention)."""
        t = submissions
        async with self._db.connect() as connection:
            rows = (
                await connection.execute(
                    sa.select(t)
                    .where(
                        t.c.submitted_at < submitted_before,
                        t.c.published_at.is_not(None),
                        t.c.purged_at.is_(None),
                    )
                    .order_by(t.c.submitted_at)
                    .limit(limit)
                )
            ).all()
        return [_filed(row) for row in rows]

    @converting("submission store")
    async def purged(self, submission_id: str, *, at: float) -> None:
        """The attachments of ``submission_id`` were deleted."""
        t = submissions
        async with self._db.begin() as connection:
            await connection.execute(
                sa.update(t).where(t.c.submission_id == submission_id).values(purged_at=at)
            )

    @converting("submission store")
    async def forget(self, user_id: str) -> tuple[int, list[str]]:
        """Delete every row about ``user_id`` (a deletion request).

        Returns the rows deleted, and the keys of the stored files the caller must delete (the
        draft's, and the filed dossiers' not yet purged). The one-stop-shop keeps its own copy
        of what was filed.
        """
        drafts, steps, filed = submission_drafts, submission_steps, submissions
        keys: list[str] = []
        async with self._db.begin() as connection:
            row = (
                await connection.execute(
                    sa.select(drafts.c.draft).where(drafts.c.user_id == user_id)
                )
            ).first()
            if row is not None:
                keys += [
                    item.object_key for item in Draft.from_json(json.loads(row.draft)).attachments
                ]
            for row in (
                await connection.execute(
                    sa.select(filed.c.object_keys).where(
                        filed.c.user_id == user_id, filed.c.purged_at.is_(None)
                    )
                )
            ).all():
                keys += json.loads(row.object_keys)
            deleted = 0
            for table in (drafts, steps, filed):
                result = await connection.execute(
                    sa.delete(table).where(table.c.user_id == user_id)
                )
                deleted += int(result.rowcount or 0)
        return deleted, keys

    @converting("submission store")
    async def replied(self, event_key: str, remaining: Sequence[str] = ()) -> None:
        """Record that the step's replies went out, but ``remaining`` (still owed)."""
        t = submission_steps
        values: dict[str, Any] = (
            {"replies": json.dumps(list(remaining), ensure_ascii=False)}
            if remaining
            else {"replies": None, "replies_due": None}
        )
        async with self._db.begin() as connection:
            await connection.execute(sa.update(t).where(t.c.event_key == event_key).values(values))

    @converting("submission store")
    async def owed(self, *, now: float, limit: int = 100) -> list[OwedReplies]:
        """Steps whose replies are still owed and due by ``now``, the oldest first."""
        t = submission_steps
        query = (
            sa.select(t.c.event_key, t.c.user_id, t.c.at, t.c.replies, t.c.replies_due)
            .where(t.c.replies_due.is_not(None), t.c.replies_due <= now)
            .order_by(t.c.replies_due)
            .limit(limit)
        )
        async with self._db.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [
            OwedReplies(
                event_key=row.event_key,
                user_id=row.user_id,
                at=row.at,
                replies=tuple(json.loads(row.replies or "[]")),
                due=row.replies_due,
            )
            for row in rows
        ]

    @converting("submission store")
    async def claim_owed(self, owed: OwedReplies, *, until: float) -> bool:
        """Take ``owed`` to send until ``until``; False: another sweep took it, or it was sent."""
        t = submission_steps
        async with self._db.begin() as connection:
            result = await connection.execute(
                sa.update(t)
                .where(t.c.event_key == owed.event_key, t.c.replies_due == owed.due)
                .values(replies_due=until)
            )
        return bool(result.rowcount == 1)

    @converting("submission store")
    async def purge_steps(self, *, before: float) -> int:
        """Forget the event keys taken before ``before`` (past any replay)."""
        t = submission_steps
        async with self._db.begin() as connection:
            result = await connection.execute(sa.delete(t).where(t.c.at < before))
        return int(result.rowcount or 0)
