"""Who hears an announcement: the port, and its SQL form over the citizens tables (0003)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Protocol

import sqlalchemy as sa

from bridge.announcements.contract import AudienceKind

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from bridge.announcements.contract import AudienceSpec
    from bridge.store.database import Database

__all__ = ["Audience", "SqlAudience", "citizen_links", "citizens"]

_metadata = sa.MetaData()
citizens = sa.Table(
    "citizens",
    _metadata,
    sa.Column("user_id", sa.Text(), primary_key=True),
    sa.Column("followed", sa.Boolean(), nullable=False),
    sa.Column("followed_at", sa.Float(precision=53)),
    sa.Column("unfollowed_at", sa.Float(precision=53)),
    sa.Column("last_interaction_at", sa.Float(precision=53)),
    sa.Column("area", sa.Text()),
    sa.Column("tags", sa.Text()),
    sa.Column("updated_at", sa.Float(precision=53), nullable=False),
)
"""The citizens table of migration 0003, as far as the audience query reads it."""
citizen_links = sa.Table(
    "citizen_links",
    _metadata,
    sa.Column("user_id", sa.Text(), primary_key=True),
    sa.Column("case_code", sa.Text(), primary_key=True),
    sa.Column("linked_at", sa.Float(precision=53)),
    sa.Column("factor", sa.Text()),
    sa.Column("unlinked_at", sa.Float(precision=53)),
)


class Audience(Protocol):
    """Lists the Zalo user ids an audience covers, page by page, in a stable order."""

    def members(self, audience: AudienceSpec, *, page_size: int) -> AsyncIterator[list[str]]:
        """Yield pages of user ids (at most ``page_size`` each) until every member is listed."""
        ...


def _like_escaped(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class SqlAudience:
    """The audience read from the citizens engineer's tables.

    - all: citizens who follow the OA and have at least one active dossier link;
    - tag: followers whose ``tags`` (a JSON array of strings) contains the value;
    - area: followers whose ``area`` starts with the value.

    Args:
        database: The process's database (``bridge.store.database``); the caller disposes of it.
    """

    def __init__(self, database: Database) -> None:
        self._db = database

    async def members(self, audience: AudienceSpec, *, page_size: int) -> AsyncIterator[list[str]]:
        """Yield pages of user ids, keyset-paginated by user id."""
        c, links = citizens, citizen_links
        condition: sa.ColumnElement[bool] = c.c.followed.is_(True)
        match audience.kind:
            case AudienceKind.ALL:
                active = sa.exists().where(
                    links.c.user_id == c.c.user_id, links.c.unlinked_at.is_(None)
                )
                condition = sa.and_(condition, active)
            case AudienceKind.TAG:
                quoted = json.dumps(audience.value, ensure_ascii=False)
                condition = sa.and_(
                    condition, c.c.tags.like(f"%{_like_escaped(quoted)}%", escape="\\")
                )
            case AudienceKind.AREA:
                prefix = _like_escaped(audience.value or "")
                condition = sa.and_(condition, c.c.area.like(f"{prefix}%", escape="\\"))
        after = ""
        while True:
            statement = (
                sa.select(c.c.user_id)
                .where(condition, c.c.user_id > after)
                .order_by(c.c.user_id)
                .limit(page_size)
            )
            async with self._db.connect() as connection:
                page = list((await connection.execute(statement)).scalars())
            if not page:
                return
            yield page
            if len(page) < page_size:
                return
            after = page[-1]
