"""Surveys in the store: planned, claimed, asked, answered once, published once; opt-outs."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from bridge.store.conflicts import insert_ignoring_duplicates
from bridge.store.errors import converting

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bridge.store.database import Database

__all__ = ["PlannedSurvey", "Survey", "SurveyStatus", "SurveyStore", "survey_optouts", "surveys"]

_TIME = sa.Float(precision=53)
_metadata = sa.MetaData()
surveys = sa.Table(
    "surveys",
    _metadata,
    sa.Column("case_code", sa.Text(), primary_key=True),
    sa.Column("user_id", sa.Text(), primary_key=True),
    sa.Column("province", sa.Text(), nullable=False),
    sa.Column("final_state", sa.Text(), nullable=False),
    sa.Column("procedure_code", sa.Text(), nullable=False),
    sa.Column("procedure_name", sa.Text(), nullable=False),
    sa.Column("agency_code", sa.Text(), nullable=False),
    sa.Column("agency_name", sa.Text(), nullable=False),
    sa.Column("department", sa.Text()),
    sa.Column("planned_at", _TIME, nullable=False),
    sa.Column("due_at", _TIME, nullable=False),
    sa.Column("status", sa.Text(), nullable=False),
    sa.Column("reason", sa.Text()),
    sa.Column("tries", sa.Integer(), nullable=False),
    sa.Column("owner", sa.Text()),
    sa.Column("lease_until", _TIME),
    sa.Column("asked_at", _TIME),
    sa.Column("score", sa.Integer()),
    sa.Column("answered_at", _TIME),
    sa.Column("comment", sa.Text()),
    sa.Column("comment_until", _TIME),
    sa.Column("published_at", _TIME),
)
"""The table created by migration 0007."""
survey_optouts = sa.Table(
    "survey_optouts",
    _metadata,
    sa.Column("user_id", sa.Text(), primary_key=True),
    sa.Column("at", _TIME, nullable=False),
)


class SurveyStatus(StrEnum):
    """Where a survey is in its life."""

    PENDING = "pending"
    ASKED = "asked"
    ANSWERED = "answered"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class PlannedSurvey:
    """What a survey needs to know of its dossier, taken from the final case event."""

    case_code: str
    user_id: str
    province: str
    final_state: str
    procedure_code: str
    procedure_name: str
    agency_code: str
    agency_name: str
    department: str | None


@dataclass(frozen=True, slots=True)
class Survey(PlannedSurvey):
    """One survey row: its dossier, and where it is in its life."""

    status: str
    reason: str | None
    tries: int
    due_at: float
    asked_at: float | None
    score: int | None
    answered_at: float | None
    comment: str | None
    comment_until: float | None
    published_at: float | None


_SURVEY_FIELDS = tuple(f.name for f in dataclasses.fields(Survey))


def _survey(row: sa.Row[Any]) -> Survey:
    return Survey(**{name: getattr(row, name) for name in _SURVEY_FIELDS})


_COLUMNS = [surveys.c[name] for name in _SURVEY_FIELDS]


class SurveyStore:
    """The survey tables, through SQLAlchemy Core on the process's one database.

    Database errors leave as ``StoreError`` (``StoreValueError`` for one row's values).

    Args:
        database: The process's database (``bridge.store.database``); the caller disposes of it.
    """

    def __init__(self, database: Database) -> None:
        self._db = database

    @converting("survey store")
    async def plan(self, planned: Sequence[PlannedSurvey], *, now: float, due_at: float) -> int:
        """Plan a survey per dossier and citizen; planning one again changes nothing."""
        rows = [
            {
                "case_code": p.case_code,
                "user_id": p.user_id,
                "province": p.province,
                "final_state": p.final_state,
                "procedure_code": p.procedure_code,
                "procedure_name": p.procedure_name,
                "agency_code": p.agency_code,
                "agency_name": p.agency_name,
                "department": p.department,
                "planned_at": now,
                "due_at": due_at,
                "status": SurveyStatus.PENDING.value,
                "tries": 0,
            }
            for p in planned
        ]
        inserted = 0
        async with self._db.begin() as connection:
            for row in rows:
                inserted += await insert_ignoring_duplicates(connection, surveys, [row])
        return inserted

    @converting("survey store")
    async def claim_due(self, *, now: float, owner: str, lease: float, limit: int) -> list[Survey]:
        """Take up to ``limit`` pending surveys that are due, for ``lease`` seconds."""
        t = surveys
        free = sa.or_(t.c.lease_until.is_(None), t.c.lease_until < now)
        async with self._db.connect() as connection:
            candidates = (
                await connection.execute(
                    sa.select(t.c.case_code, t.c.user_id)
                    .where(t.c.status == SurveyStatus.PENDING.value, t.c.due_at <= now, free)
                    .order_by(t.c.due_at)
                    .limit(limit)
                )
            ).all()
        claimed: list[Survey] = []
        for case_code, user_id in candidates:
            key = sa.and_(t.c.case_code == case_code, t.c.user_id == user_id)
            async with self._db.begin() as connection:
                taken = await connection.execute(
                    sa.update(t)
                    .where(key, t.c.status == SurveyStatus.PENDING.value, free)
                    .values(owner=owner, lease_until=now + lease)
                )
                if taken.rowcount != 1:
                    continue  # another replica took it
                row = (await connection.execute(sa.select(*_COLUMNS).where(key))).one()
            claimed.append(_survey(row))
        return claimed

    async def _set(self, case_code: str, user_id: str, where: Any, **values: Any) -> bool:
        t = surveys
        key = sa.and_(t.c.case_code == case_code, t.c.user_id == user_id)
        async with self._db.begin() as connection:
            result = await connection.execute(sa.update(t).where(key, where).values(**values))
            return bool(result.rowcount == 1)

    @converting("survey store")
    async def asked(self, survey: Survey, *, at: float) -> None:
        """The question reached the citizen."""
        await self._set(
            survey.case_code,
            survey.user_id,
            surveys.c.status == SurveyStatus.PENDING.value,
            status=SurveyStatus.ASKED.value,
            asked_at=at,
            owner=None,
            lease_until=None,
            tries=survey.tries + 1,
        )

    @converting("survey store")
    async def postpone(self, survey: Survey, *, until: float, tried: bool) -> None:
        """Not now (quiet hours, a transient failure): due again at ``until``."""
        await self._set(
            survey.case_code,
            survey.user_id,
            surveys.c.status == SurveyStatus.PENDING.value,
            due_at=until,
            owner=None,
            lease_until=None,
            tries=survey.tries + (1 if tried else 0),
        )

    @converting("survey store")
    async def skip(self, survey: Survey, *, reason: str, at: float) -> None:
        """Never asked: ``reason`` says why (outside_window, opted_out, not_following, …)."""
        await self._set(
            survey.case_code,
            survey.user_id,
            surveys.c.status == SurveyStatus.PENDING.value,
            status=SurveyStatus.SKIPPED.value,
            reason=reason,
            owner=None,
            lease_until=None,
            answered_at=None,
            comment_until=None,
            published_at=at,  # nothing to publish
        )

    @converting("survey store")
    async def latest_asked(self, user_id: str, *, asked_since: float) -> Survey | None:
        """The survey asked of ``user_id`` most recently (since ``asked_since``), answered or not.

        One still waiting for its answer comes before answered ones.
        """
        t = surveys
        waiting_first = sa.case((t.c.status == SurveyStatus.ASKED.value, 0), else_=1)
        async with self._db.connect() as connection:
            row = (
                await connection.execute(
                    sa.select(*_COLUMNS)
                    .where(
                        t.c.user_id == user_id,
                        t.c.status.in_([SurveyStatus.ASKED.value, SurveyStatus.ANSWERED.value]),
                        t.c.asked_at >= asked_since,
                    )
                    .order_by(waiting_first, t.c.asked_at.desc())
                    .limit(1)
                )
            ).first()
        return None if row is None else _survey(row)

    @converting("survey store")
    async def expecting_comment(self, user_id: str, *, now: float) -> Survey | None:
        """The answered survey of ``user_id`` whose comment is still awaited, if any."""
        t = surveys
        async with self._db.connect() as connection:
            row = (
                await connection.execute(
                    sa.select(*_COLUMNS)
                    .where(
                        t.c.user_id == user_id,
                        t.c.status == SurveyStatus.ANSWERED.value,
                        t.c.comment.is_(None),
                        t.c.comment_until > now,
                    )
                    .order_by(t.c.answered_at.desc())
                    .limit(1)
                )
            ).first()
        return None if row is None else _survey(row)

    @converting("survey store")
    async def answer(
        self, survey: Survey, *, score: int, at: float, comment_until: float | None
    ) -> bool:
        """Record the first answer; False when it was already answered (the first stands)."""
        return await self._set(
            survey.case_code,
            survey.user_id,
            surveys.c.status == SurveyStatus.ASKED.value,
            status=SurveyStatus.ANSWERED.value,
            score=score,
            answered_at=at,
            comment_until=comment_until,
        )

    @converting("survey store")
    async def comment(self, survey: Survey, *, text: str, now: float) -> bool:
        """Record the comment awaited after an unhappy rating; False if no longer awaited."""
        t = surveys
        return await self._set(
            survey.case_code,
            survey.user_id,
            sa.and_(t.c.comment.is_(None), t.c.comment_until > now, t.c.published_at.is_(None)),
            comment=text,
            comment_until=now,
        )

    @converting("survey store")
    async def opt_out(self, user_id: str, *, at: float) -> None:
        """No more surveys for ``user_id``: the pending ones are skipped, new ones never planned."""
        t = surveys
        async with self._db.begin() as connection:
            await insert_ignoring_duplicates(
                connection, survey_optouts, [{"user_id": user_id, "at": at}]
            )
            await connection.execute(
                sa.update(t)
                .where(
                    t.c.user_id == user_id,
                    t.c.status.in_([SurveyStatus.PENDING.value, SurveyStatus.ASKED.value]),
                )
                .values(status=SurveyStatus.SKIPPED.value, reason="opted_out", published_at=at)
            )

    @converting("survey store")
    async def opted_out(self, user_ids: Sequence[str]) -> set[str]:
        """Which of ``user_ids`` said no to surveys."""
        if not user_ids:
            return set()
        o = survey_optouts
        async with self._db.connect() as connection:
            rows = await connection.execute(sa.select(o.c.user_id).where(o.c.user_id.in_(user_ids)))
            return {row[0] for row in rows}

    @converting("survey store")
    async def ready_to_publish(self, *, now: float, limit: int) -> list[Survey]:
        """Answered surveys whose event is not published yet and whose comment is in or too late."""
        t = surveys
        comment_settled = sa.or_(t.c.comment_until.is_(None), t.c.comment_until <= now)
        async with self._db.connect() as connection:
            rows = await connection.execute(
                sa.select(*_COLUMNS)
                .where(
                    t.c.status == SurveyStatus.ANSWERED.value,
                    t.c.published_at.is_(None),
                    comment_settled,
                )
                .order_by(t.c.answered_at)
                .limit(limit)
            )
            return [_survey(row) for row in rows]

    @converting("survey store")
    async def published(self, survey: Survey, *, at: float) -> None:
        """The survey's feedback event is on the topic."""
        await self._set(
            survey.case_code, survey.user_id, surveys.c.published_at.is_(None), published_at=at
        )

    @converting("survey store")
    async def between(self, start: float, end: float) -> list[Survey]:
        """Every survey planned in [start, end) (the report's period)."""
        t = surveys
        async with self._db.connect() as connection:
            rows = await connection.execute(
                sa.select(*_COLUMNS)
                .where(t.c.planned_at >= start, t.c.planned_at < end)
                .order_by(t.c.planned_at)
            )
            return [_survey(row) for row in rows]

    @converting("survey store")
    async def purge(self, *, before: float) -> int:
        """Delete the surveys planned before ``before`` that are settled (retention)."""
        t = surveys
        settled = t.c.published_at.is_not(None)
        async with self._db.begin() as connection:
            result = await connection.execute(sa.delete(t).where(t.c.planned_at < before, settled))
            return int(result.rowcount or 0)

    @converting("survey store")
    async def forget(self, user_id: str) -> int:
        """Delete every survey row and the opt-out of ``user_id`` (a deletion request)."""
        async with self._db.begin() as connection:
            surveyed = await connection.execute(
                sa.delete(surveys).where(surveys.c.user_id == user_id)
            )
            opted = await connection.execute(
                sa.delete(survey_optouts).where(survey_optouts.c.user_id == user_id)
            )
            return int(surveyed.rowcount or 0) + int(opted.rowcount or 0)
