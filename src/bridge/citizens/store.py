"""Citizens, their dossier links, webhook dedupe, receipts and dossiers' latest state, in SQL."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from bridge.citizens.dossiers import FINAL_STATES, DossierState
from bridge.citizens.link_guard import GuessGrant, LockPolicy
from bridge.errors import StoreError
from bridge.events import CaseState
from bridge.store.database import open_database
from bridge.store.errors import converted_errors, store_error
from bridge.store.sqlite_reads import SqliteReads, prepare
from bridge.webhook.inbox import InboxStatus, webhook_inbox

_T = TypeVar("_T")

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.engine import Connection

    from bridge.store.database import Database

__all__ = ["CitizenStore", "PurgeCounts", "RetentionPolicy"]

_metadata = sa.MetaData()
_TIME = sa.Float(precision=53)

citizens = sa.Table(
    "citizens",
    _metadata,
    sa.Column("user_id", sa.Text, primary_key=True),
    sa.Column("followed", sa.Boolean, nullable=False),
    sa.Column("followed_at", _TIME),
    sa.Column("unfollowed_at", _TIME),
    sa.Column("last_interaction_at", _TIME),
    sa.Column("area", sa.Text),
    sa.Column("tags", sa.Text),
    sa.Column("updated_at", _TIME, nullable=False),
)
citizen_links = sa.Table(
    "citizen_links",
    _metadata,
    sa.Column("user_id", sa.Text, primary_key=True),
    sa.Column("case_code", sa.Text, primary_key=True),
    sa.Column("linked_at", _TIME, nullable=False),
    sa.Column("factor", sa.Text, nullable=False),
    sa.Column("unlinked_at", _TIME),
)
webhook_events = sa.Table(
    "webhook_events",
    _metadata,
    sa.Column("event_key", sa.Text, primary_key=True),
    sa.Column("received_at", _TIME, nullable=False),
)
link_attempts = sa.Table(
    "link_attempts",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.Text, nullable=False),
    sa.Column("attempted_at", _TIME, nullable=False),
    sa.Column("succeeded", sa.Boolean, nullable=False),
    sa.Column("case_code", sa.Text),
    sa.Column("outcome", sa.Text),
)
dossier_link_guards = sa.Table(
    "dossier_link_guards",
    _metadata,
    sa.Column("case_code", sa.Text, primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("locks", sa.Integer, nullable=False),
    sa.Column("locked_at", _TIME),
    sa.Column("locked_until", _TIME),
    sa.Column("updated_at", _TIME, nullable=False),
)
dossier_states = sa.Table(
    "dossier_states",
    _metadata,
    sa.Column("case_code", sa.Text, primary_key=True),
    sa.Column("sequence", sa.BigInteger, nullable=False),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("procedure_code", sa.Text, nullable=False),
    sa.Column("procedure_name", sa.Text, nullable=False),
    sa.Column("agency_code", sa.Text),
    sa.Column("agency_name", sa.Text, nullable=False),
    sa.Column("handling_department", sa.Text),
    sa.Column("due_at", _TIME),
    sa.Column("occurred_at", _TIME, nullable=False),
    sa.Column("phone_last4_hash", sa.Text),
    sa.Column("updated_at", _TIME, nullable=False),
)
delivery_receipts = sa.Table(
    "delivery_receipts",
    _metadata,
    sa.Column("zalo_message_id", sa.Text, primary_key=True),
    sa.Column("kind", sa.Text, primary_key=True),
    sa.Column("user_id", sa.Text),
    sa.Column("at", _TIME, nullable=False),
)
# The ledger's tables (migration 0001), for the purge only.
_deliveries = sa.table(
    "deliveries",
    sa.column("delivery_key"),
    sa.column("case_code"),
    sa.column("status"),
    sa.column("settled_at"),
)
# The announcements' recipients (migration 0004), for a deletion request only.
_announcement_recipients = sa.table(
    "announcement_recipients", sa.column("announcement_id"), sa.column("user_id")
)
_announcements = sa.table(
    "announcements", sa.column("announcement_id"), sa.column("status"), sa.column("finished_at")
)
# The records held by quiet hours (migration 0004), for the purge only.
_held = sa.table("held_notifications", sa.column("status"), sa.column("settled_at"))
_cases = sa.table("cases", sa.column("case_code"), sa.column("updated_at"))

_LINKED_USERS = (
    sa.select(citizen_links.c.user_id)
    .where(
        citizen_links.c.case_code == sa.bindparam("case_code"),
        citizen_links.c.unlinked_at.is_(None),
    )
    .order_by(citizen_links.c.linked_at, citizen_links.c.user_id)
)
"""The users linked to a dossier: built once, it is on the path of every event."""
_LAST_INTERACTION = sa.select(citizens.c.last_interaction_at).where(
    citizens.c.user_id == sa.bindparam("user_id")
)
"""A user's last interaction: built once, it is on the path of every event."""
_LINKED_USERS_SQLITE = prepare(_LINKED_USERS)
_LAST_INTERACTION_SQLITE = prepare(_LAST_INTERACTION)
_LINKED_TO_ANY = (
    sa.select(citizen_links.c.user_id)
    .distinct()
    .where(
        citizen_links.c.case_code.in_(sa.bindparam("codes", expanding=True)),
        citizen_links.c.unlinked_at.is_(None),
    )
)
"""The users linked to any of some dossiers: built once, every batch of states reads it."""

_DAY = 86_400.0
_HOUR = 3_600.0
_FINAL = sorted(state.value for state in FINAL_STATES)


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How long each kind of record is kept, in seconds (``RetentionSettings`` in days)."""

    unlinked: float = 30 * _DAY
    unfollowed: float = 30 * _DAY
    deliveries: float = 180 * _DAY
    dossiers: float = 365 * _DAY
    webhook_dedupe: float = 24 * _HOUR
    """Also how long handled webhook inbox rows (with the citizen's text) are kept."""
    link_attempts: float = 24 * _HOUR
    link_guards: float = 365 * _DAY
    """Unlocked dossier guards untouched this long are deleted (their lock count restarts)."""
    webhook_failed: float = 7 * _DAY
    """How long webhook inbox rows that failed every attempt are kept (to investigate)."""
    held: float = 24 * _HOUR
    """Records held by quiet hours (the raw event: name, phone, ID number) once released."""


@dataclass(frozen=True, slots=True)
class PurgeCounts:
    """Rows deleted by one purge, per table."""

    links: int = 0
    citizens: int = 0
    deliveries: int = 0
    receipts: int = 0
    dossiers: int = 0
    cases: int = 0
    webhook_events: int = 0
    link_attempts: int = 0
    link_guards: int = 0
    webhook_inbox: int = 0
    held: int = 0
    announcement_recipients: int = 0


def _like(text: str) -> str:
    """``text`` as a literal inside a LIKE pattern (escape character: backslash)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class CitizenStore:
    """The citizens' side of the bridge, written once for SQLite and PostgreSQL.

    Every method is one transaction; times are epoch seconds, UTC. Dossier codes are kept in
    upper case (citizens type them in any case). On SQLite the reads of every event's path
    (``linked_users``, ``last_interaction_at``) run as plain statements (``SqliteReads``).
    """

    def __init__(self, database: Database, *, owns_database: bool = False) -> None:
        self._db = database
        self._owns_database = owns_database
        postgres = database.dialect == "postgresql"
        self._insert: Any = postgresql.insert if postgres else sqlite.insert
        self._reads = SqliteReads(database.sqlite_connection) if database.sqlite_path else None
        self._upsert_state = self._state_upsert()  # every batch of states runs it

    @classmethod
    async def open(cls, url: str, *, pool_size: int = 5, migrate: bool = True) -> CitizenStore:
        """Open the store at ``url`` on a database of its own, migrating its schema first.

        The command line's way; the running bridge passes its one ``Database`` to the
        constructor instead.
        """
        if migrate:
            from bridge.store.migrate import upgrade  # noqa: PLC0415 - alembic only when needed

            await upgrade(url)
        return cls(open_database(url, pool_size=pool_size), owns_database=True)

    async def close(self) -> None:
        """Let go of the read connection; dispose of the database if the store opened it."""
        if self._reads is not None:
            self._reads.close()
        if self._owns_database:
            await self._db.dispose()

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._db.dialect

    async def run(self, work: Callable[[Connection], _T]) -> _T:
        """Run ``work`` in one transaction of this store's database (the webhook inbox shares it).

        On SQLite ``work`` runs whole on the loop's thread once the write lock is taken, so it
        never holds the lock across an ``await``.
        """
        result: _T = await self._run(work)
        return result

    async def _run(self, work: Callable[[Connection], Any]) -> Any:
        """Run ``work`` in one transaction; database errors become bridge's."""
        try:
            return await self._db.run(work)
        except converted_errors() as exc:
            raise (store_error(exc, "citizen store") or StoreError("citizen store")) from exc

    # ---------------------------------------------------------------- recipients

    async def linked_users(self, case_code: str) -> list[str]:
        """The users with an active link to ``case_code``, oldest link first."""
        case_code = case_code.upper()
        if self._reads is not None:
            rows = await self._reads.rows(_LINKED_USERS_SQLITE, case_code=case_code)
            return [user_id for (user_id,) in rows]

        def work(conn: Connection) -> list[str]:
            rows = conn.execute(_LINKED_USERS, {"case_code": case_code})
            return [row.user_id for row in rows]

        result: list[str] = await self._run(work)
        return result

    async def last_interaction_at(self, user_id: str) -> float | None:
        """When ``user_id`` last interacted with the OA (follow, text), or None."""
        if self._reads is not None:
            rows = await self._reads.rows(_LAST_INTERACTION_SQLITE, user_id=user_id)
            value = rows[0][0] if rows else None
            return None if value is None else float(value)

        def work(conn: Connection) -> float | None:
            value = conn.scalar(_LAST_INTERACTION, {"user_id": user_id})
            return None if value is None else float(value)

        result: float | None = await self._run(work)
        return result

    # ---------------------------------------------------------------- follows, interactions

    def _touch(self, user_id: str, at: float, *, follow: bool | None) -> Any:
        values: dict[str, Any] = {
            "user_id": user_id,
            "followed": bool(follow),
            "last_interaction_at": at if follow is not False else None,
            "updated_at": at,
        }
        update: dict[str, Any] = {"updated_at": at}
        if follow is not False:
            update["last_interaction_at"] = sa.func.coalesce(
                sa.func.max(citizens.c.last_interaction_at, at)
                if self._insert is sqlite.insert
                else sa.func.greatest(citizens.c.last_interaction_at, at),
                at,
            )
        if follow is True:
            values["followed_at"] = at
            update.update(followed=True, followed_at=at, unfollowed_at=None)
        elif follow is False:
            values["unfollowed_at"] = at
            update.update(followed=False, unfollowed_at=at)
        return (
            self._insert(citizens)
            .values(**values)
            .on_conflict_do_update(index_elements=[citizens.c.user_id], set_=update)
        )

    async def interacted(self, user_id: str, at: float) -> None:
        """``user_id`` wrote to the OA (or tapped a button): the 7-day window restarts."""

        def work(conn: Connection) -> None:
            conn.execute(self._touch(user_id, at, follow=None))

        await self._run(work)

    async def followed(self, user_id: str, at: float) -> None:
        """``user_id`` followed the OA (an interaction too)."""

        def work(conn: Connection) -> None:
            conn.execute(self._touch(user_id, at, follow=True))

        await self._run(work)

    async def unfollowed(self, user_id: str, at: float) -> list[str]:
        """``user_id`` left the OA: every active link ends. Returns the dossiers unlinked."""

        def work(conn: Connection) -> list[str]:
            conn.execute(self._touch(user_id, at, follow=False))
            codes = self._active(conn, user_id)
            conn.execute(
                citizen_links.update()
                .where(citizen_links.c.user_id == user_id, citizen_links.c.unlinked_at.is_(None))
                .values(unlinked_at=at)
            )
            self._refresh_profile(conn, user_id, at)
            return codes

        result: list[str] = await self._run(work)
        return result

    async def citizen(self, user_id: str) -> dict[str, Any] | None:
        """The citizen's row (``tags`` decoded), or None."""

        def work(conn: Connection) -> dict[str, Any] | None:
            row = (conn.execute(sa.select(citizens).where(citizens.c.user_id == user_id))).first()
            if row is None:
                return None
            found = dict(row._mapping)  # noqa: SLF001 - SQLAlchemy's public row mapping
            found["tags"] = json.loads(found["tags"]) if found["tags"] else []
            return found

        result: dict[str, Any] | None = await self._run(work)
        return result

    # ---------------------------------------------------------------- links

    @staticmethod
    def _active(conn: Connection, user_id: str) -> list[str]:
        rows = conn.execute(
            sa.select(citizen_links.c.case_code)
            .where(citizen_links.c.user_id == user_id, citizen_links.c.unlinked_at.is_(None))
            .order_by(citizen_links.c.linked_at, citizen_links.c.case_code)
        )
        return [row.case_code for row in rows]

    def _refresh_profile(self, conn: Connection, user_id: str, now: float) -> None:
        """``area`` from the newest active link's dossier, ``tags`` from all active links."""
        rows = (
            conn.execute(
                sa.select(dossier_states.c.agency_code, dossier_states.c.procedure_code)
                .select_from(
                    citizen_links.join(
                        dossier_states, dossier_states.c.case_code == citizen_links.c.case_code
                    )
                )
                .where(citizen_links.c.user_id == user_id, citizen_links.c.unlinked_at.is_(None))
                .order_by(citizen_links.c.linked_at.desc(), citizen_links.c.case_code)
            )
        ).all()
        area = next((row.agency_code for row in rows if row.agency_code), None)
        tags = sorted({f"procedure:{row.procedure_code}" for row in rows})
        conn.execute(
            citizens.update()
            .where(citizens.c.user_id == user_id)
            .values(area=area, tags=json.dumps(tags) if tags else None, updated_at=now)
        )

    async def active_cases(self, user_id: str) -> list[str]:
        """The dossiers ``user_id`` is linked to now."""

        def work(conn: Connection) -> list[str]:
            return self._active(conn, user_id)

        result: list[str] = await self._run(work)
        return result

    async def link(self, user_id: str, case_code: str, *, factor: str, at: float) -> None:
        """Link ``user_id`` to ``case_code``; ``at`` is the consent timestamp."""
        case_code = case_code.upper()

        def work(conn: Connection) -> None:
            conn.execute(self._touch(user_id, at, follow=None))
            conn.execute(
                self._insert(citizen_links)
                .values(user_id=user_id, case_code=case_code, linked_at=at, factor=factor)
                .on_conflict_do_update(
                    index_elements=[citizen_links.c.user_id, citizen_links.c.case_code],
                    set_={"linked_at": at, "factor": factor, "unlinked_at": None},
                )
            )
            self._refresh_profile(conn, user_id, at)

        await self._run(work)

    async def unlink(self, user_id: str, case_code: str, *, at: float) -> bool:
        """End the active link of ``user_id`` to ``case_code``; False when there was none."""
        case_code = case_code.upper()

        def work(conn: Connection) -> bool:
            result = conn.execute(
                citizen_links.update()
                .where(
                    citizen_links.c.user_id == user_id,
                    citizen_links.c.case_code == case_code,
                    citizen_links.c.unlinked_at.is_(None),
                )
                .values(unlinked_at=at)
            )
            if result.rowcount:
                self._refresh_profile(conn, user_id, at)
            return bool(result.rowcount)

        result: bool = await self._run(work)
        return result

    # ---------------------------------------------------------------- attempts, dedupe

    async def record_attempt(
        self,
        user_id: str,
        *,
        at: float,
        succeeded: bool,
        case_code: str | None = None,
        outcome: str | None = None,
    ) -> None:
        """Remember one code + second-factor attempt (for the limits).

        ``outcome``: ``linked`` or ``refused`` (the default, by ``succeeded``),
        ``refused_locking`` (refused, and it locked the dossier) or ``locked`` (the dossier was
        locked: the factor was not checked).
        """
        values = {
            "user_id": user_id,
            "attempted_at": at,
            "succeeded": succeeded,
            "case_code": None if case_code is None else case_code.upper(),
            "outcome": outcome or ("linked" if succeeded else "refused"),
        }

        def work(conn: Connection) -> None:
            conn.execute(link_attempts.insert().values(**values))

        await self._run(work)

    async def failed_attempts(self, user_id: str, *, since: float) -> int:
        """Refused attempts of ``user_id`` at or after ``since``.

        Attempts at a locked dossier, whose factor was not checked, do not count.
        """

        def work(conn: Connection) -> int:
            count = conn.scalar(
                sa.select(sa.func.count())
                .select_from(link_attempts)
                .where(
                    link_attempts.c.user_id == user_id,
                    link_attempts.c.attempted_at >= since,
                    link_attempts.c.outcome.in_(("refused", "refused_locking")),
                )
            )
            return int(count or 0)

        result: int = await self._run(work)
        return result

    async def told_locked(self, user_id: str, case_code: str, *, since: float) -> bool:
        """Whether ``user_id`` was told of ``case_code``'s lock at or after ``since``.

        That is: the user's attempt locked it, or the user tried it while locked.
        """
        case_code = case_code.upper()

        def work(conn: Connection) -> bool:
            found = conn.scalar(
                sa.select(link_attempts.c.id)
                .where(
                    link_attempts.c.user_id == user_id,
                    link_attempts.c.case_code == case_code,
                    link_attempts.c.outcome.in_(("locked", "refused_locking")),
                    link_attempts.c.attempted_at >= since,
                )
                .limit(1)
            )
            return found is not None

        result: bool = await self._run(work)
        return result

    # ---------------------------------------------------------------- per-dossier guards

    async def spend_guess(self, case_code: str, *, now: float, policy: LockPolicy) -> GuessGrant:
        """Take one guess at ``case_code``'s second factor, counted as a failure from now on.

        One transaction (the row locked on PostgreSQL; SQLite runs it whole), so replicas and
        parallel users never spend more than ``policy.threshold`` guesses between locks: the
        guess is counted before the factor is checked, and ``guess_succeeded`` clears the
        count when it was right. While the dossier is locked nothing is counted.
        """
        case_code = case_code.upper()
        guards = dossier_link_guards

        def work(conn: Connection) -> GuessGrant:
            conn.execute(
                self._insert(guards)
                .values(case_code=case_code, failures=0, locks=0, updated_at=now)
                .on_conflict_do_nothing(index_elements=[guards.c.case_code])
            )
            row = conn.execute(
                sa.select(guards).where(guards.c.case_code == case_code).with_for_update()
            ).one()
            if row.locked_until is not None and now < row.locked_until:
                return GuessGrant(
                    allowed=False,
                    locked_at=row.locked_at,
                    locked_until=row.locked_until,
                    failures=int(row.failures),
                )
            failures, locks = int(row.failures) + 1, int(row.locks)
            values: dict[str, Any] = {"failures": failures, "updated_at": now}
            grant = GuessGrant(allowed=True, failures=failures)
            if failures >= policy.threshold:
                locks += 1
                until = now + policy.duration(locks)
                values.update(failures=0, locks=locks, locked_at=now, locked_until=until)
                grant = GuessGrant(allowed=True, locks_now=True, locked_at=now, locked_until=until)
            conn.execute(guards.update().where(guards.c.case_code == case_code).values(**values))
            return grant

        result: GuessGrant = await self._run(work)
        return result

    async def guess_succeeded(self, case_code: str) -> None:
        """The second factor was right: the dossier's failures, locks and lock are cleared."""
        case_code = case_code.upper()

        def work(conn: Connection) -> None:
            conn.execute(
                dossier_link_guards.delete().where(dossier_link_guards.c.case_code == case_code)
            )

        await self._run(work)

    async def link_guard(self, case_code: str) -> dict[str, Any] | None:
        """The dossier's guard row (failures, locks, locked_at, locked_until), or None."""
        case_code = case_code.upper()

        def work(conn: Connection) -> dict[str, Any] | None:
            row = conn.execute(
                sa.select(dossier_link_guards).where(dossier_link_guards.c.case_code == case_code)
            ).first()
            return None if row is None else dict(row._mapping)  # noqa: SLF001 - public mapping

        result: dict[str, Any] | None = await self._run(work)
        return result

    async def unlock(self, case_code: str) -> bool:
        """Lift the dossier's lock and forget its failures (an operator's act); False if none."""
        case_code = case_code.upper()

        def work(conn: Connection) -> bool:
            result = conn.execute(
                dossier_link_guards.delete().where(dossier_link_guards.c.case_code == case_code)
            )
            return bool(result.rowcount)

        result: bool = await self._run(work)
        return result

    async def first_seen(self, key: str, *, at: float) -> bool:
        """Record webhook event ``key``; False when it was seen before (a Zalo retry)."""

        def work(conn: Connection) -> bool:
            result = conn.execute(
                self._insert(webhook_events)
                .values(event_key=key, received_at=at)
                .on_conflict_do_nothing(index_elements=[webhook_events.c.event_key])
                .returning(webhook_events.c.event_key)
            )
            return result.first() is not None

        result: bool = await self._run(work)
        return result

    # ---------------------------------------------------------------- dossiers, receipts

    def _state_upsert(self) -> Any:
        """Insert a dossier's state, or replace the stored one when its sequence is older."""
        statement = self._insert(dossier_states)
        update = {
            column.name: statement.excluded[column.name]
            for column in dossier_states.columns
            if column.name != "case_code"
        }
        update["phone_last4_hash"] = sa.func.coalesce(
            statement.excluded.phone_last4_hash, dossier_states.c.phone_last4_hash
        )
        return statement.on_conflict_do_update(
            index_elements=[dossier_states.c.case_code],
            set_=update,
            where=dossier_states.c.sequence < statement.excluded.sequence,
        )

    @staticmethod
    def _state_values(state: DossierState, now: float) -> dict[str, Any]:
        return {
            "case_code": state.case_code.upper(),
            "sequence": state.sequence,
            "state": state.state.value,
            "procedure_code": state.procedure_code,
            "procedure_name": state.procedure_name,
            "agency_code": state.agency_code,
            "agency_name": state.agency_name,
            "handling_department": state.handling_department,
            "due_at": state.due_at,
            "occurred_at": state.occurred_at,
            "phone_last4_hash": state.phone_last4_hash,
            "updated_at": now,
        }

    def _refresh_linked(self, conn: Connection, codes: list[str], now: float) -> None:
        """Refresh ``area`` and ``tags`` of the users linked to ``codes``."""
        users = conn.execute(_LINKED_TO_ANY, {"codes": codes})
        for row in users.all():
            self._refresh_profile(conn, row.user_id, now)

    async def record_state(self, state: DossierState, *, now: float) -> bool:
        """Keep ``state`` unless a newer sequence of the dossier is stored; True when kept."""
        values = self._state_values(state, now)

        def work(conn: Connection) -> bool:
            result = conn.execute(
                self._upsert_state.values(**values).returning(dossier_states.c.case_code)
            )
            if result.first() is None:
                return False
            self._refresh_linked(conn, [values["case_code"]], now)
            return True

        result: bool = await self._run(work)
        return result

    async def record_states(self, states: list[DossierState], *, now: float) -> None:
        """``record_state`` for many dossiers in one transaction (the newest of each wins)."""
        newest: dict[str, DossierState] = {}
        for state in states:
            code = state.case_code.upper()
            if code not in newest or newest[code].sequence < state.sequence:
                newest[code] = state
        if not newest:
            return
        rows = [self._state_values(state, now) for state in newest.values()]

        def work(conn: Connection) -> None:
            conn.execute(self._upsert_state, rows)
            self._refresh_linked(conn, sorted(newest), now)

        await self._run(work)

    async def dossier(self, case_code: str) -> DossierState | None:
        """The latest state recorded for ``case_code``."""
        case_code = case_code.upper()

        def work(conn: Connection) -> DossierState | None:
            row = (
                conn.execute(
                    sa.select(dossier_states).where(dossier_states.c.case_code == case_code)
                )
            ).first()
            if row is None:
                return None
            return DossierState(
                case_code=row.case_code,
                sequence=int(row.sequence),
                state=CaseState(row.state),
                procedure_code=row.procedure_code,
                procedure_name=row.procedure_name,
                agency_code=row.agency_code,
                agency_name=row.agency_name,
                handling_department=row.handling_department,
                due_at=row.due_at,
                occurred_at=row.occurred_at,
                phone_last4_hash=row.phone_last4_hash,
            )

        result: DossierState | None = await self._run(work)
        return result

    async def record_receipt(
        self, message_id: str, kind: str, *, user_id: str | None, at: float
    ) -> None:
        """Zalo reported message ``message_id`` ``received`` or ``seen`` (first report kept)."""

        def work(conn: Connection) -> None:
            conn.execute(
                self._insert(delivery_receipts)
                .values(zalo_message_id=message_id, kind=kind, user_id=user_id, at=at)
                .on_conflict_do_nothing(
                    index_elements=[delivery_receipts.c.zalo_message_id, delivery_receipts.c.kind]
                )
            )

        await self._run(work)

    async def receipts(self, message_id: str) -> dict[str, float]:
        """When message ``message_id`` was received and seen, by kind."""

        def work(conn: Connection) -> dict[str, float]:
            rows = conn.execute(
                sa.select(delivery_receipts.c.kind, delivery_receipts.c.at).where(
                    delivery_receipts.c.zalo_message_id == message_id
                )
            )
            return {row.kind: float(row.at) for row in rows}

        result: dict[str, float] = await self._run(work)
        return result

    async def forget(self, user_id: str) -> int:
        """Delete every row naming ``user_id`` (a data subject's deletion request); rows deleted.

        Besides the citizens' tables: the user's announcement copies, and the settled ledger
        steps whose key names the user (``<event>/<user>/<channel>``, the cascade's steps to
        linked users and templates by user id). A step still being sent keeps its row until it
        settles; the retention purge takes it then.
        """

        def work(conn: Connection) -> int:
            statements = [
                citizen_links.delete().where(citizen_links.c.user_id == user_id),
                citizens.delete().where(citizens.c.user_id == user_id),
                delivery_receipts.delete().where(delivery_receipts.c.user_id == user_id),
                link_attempts.delete().where(link_attempts.c.user_id == user_id),
                webhook_events.delete().where(
                    webhook_events.c.event_key.like(f"%:{_like(user_id)}:%", escape="\\")
                ),
                webhook_inbox.delete().where(webhook_inbox.c.user_id == user_id),
                _announcement_recipients.delete().where(
                    _announcement_recipients.c.user_id == user_id
                ),
                _deliveries.delete().where(
                    _deliveries.c.delivery_key.like(f"%/{_like(user_id)}/%", escape="\\"),
                    _deliveries.c.settled_at.is_not(None),
                ),
            ]
            return sum(int(conn.execute(statement).rowcount or 0) for statement in statements)

        result: int = await self._run(work)
        return result

    # ---------------------------------------------------------------- retention

    async def purge(self, *, now: float, policy: RetentionPolicy) -> PurgeCounts:
        """Delete what outlived its retention period (docs/privacy.md)."""

        def work(conn: Connection) -> PurgeCounts:
            def delete(statement: Any) -> int:
                return int(conn.execute(statement).rowcount or 0)

            dossier_cutoff = now - policy.dossiers
            finished = (
                sa.select(dossier_states.c.case_code)
                .where(
                    dossier_states.c.updated_at < dossier_cutoff,
                    dossier_states.c.state.in_(_FINAL),
                )
                .scalar_subquery()
            )
            cases = delete(
                _cases.delete().where(
                    _cases.c.updated_at < dossier_cutoff, _cases.c.case_code.in_(finished)
                )
            )
            links = delete(
                citizen_links.delete().where(
                    citizen_links.c.unlinked_at.is_not(None),
                    citizen_links.c.unlinked_at < now - policy.unlinked,
                )
            )
            links += delete(citizen_links.delete().where(citizen_links.c.case_code.in_(finished)))
            dossiers = delete(
                dossier_states.delete().where(dossier_states.c.updated_at < dossier_cutoff)
            )
            active = sa.select(citizen_links.c.user_id).where(
                citizen_links.c.user_id == citizens.c.user_id
            )
            gone = delete(
                citizens.delete().where(
                    citizens.c.followed.is_(False),
                    sa.func.coalesce(citizens.c.unfollowed_at, citizens.c.updated_at)
                    < now - policy.unfollowed,
                    ~sa.exists(active),
                )
            )
            deliveries = delete(
                _deliveries.delete().where(
                    _deliveries.c.settled_at.is_not(None),
                    _deliveries.c.settled_at < now - policy.deliveries,
                )
            )
            receipts = delete(
                delivery_receipts.delete().where(delivery_receipts.c.at < now - policy.deliveries)
            )
            dedupe = delete(
                webhook_events.delete().where(
                    webhook_events.c.received_at < now - policy.webhook_dedupe
                )
            )
            attempts = delete(
                link_attempts.delete().where(
                    link_attempts.c.attempted_at < now - policy.link_attempts
                )
            )
            guards = delete(
                dossier_link_guards.delete().where(
                    dossier_link_guards.c.updated_at < now - policy.link_guards,
                    sa.or_(
                        dossier_link_guards.c.locked_until.is_(None),
                        dossier_link_guards.c.locked_until < now,
                    ),
                )
            )
            inbox = delete(
                webhook_inbox.delete().where(
                    sa.or_(
                        sa.and_(
                            webhook_inbox.c.status == InboxStatus.DONE.value,
                            webhook_inbox.c.processed_at < now - policy.webhook_dedupe,
                        ),
                        sa.and_(
                            webhook_inbox.c.status == InboxStatus.FAILED.value,
                            webhook_inbox.c.processed_at < now - policy.webhook_failed,
                        ),
                    )
                )
            )
            held = delete(
                _held.delete().where(
                    _held.c.status.in_(("released", "superseded")),
                    _held.c.settled_at < now - policy.held,
                )
            )
            # Who got an announcement (user ids) goes with the delivery records' retention; the
            # announcement itself (public text, its totals) stays.
            finished_announcements = sa.select(_announcements.c.announcement_id).where(
                _announcements.c.status.in_(("done", "expired")),
                _announcements.c.finished_at < now - policy.deliveries,
            )
            announced = delete(
                _announcement_recipients.delete().where(
                    _announcement_recipients.c.announcement_id.in_(finished_announcements)
                )
            )
            return PurgeCounts(
                links=links,
                citizens=gone,
                deliveries=deliveries,
                receipts=receipts,
                dossiers=dossiers,
                cases=cases,
                webhook_events=dedupe,
                link_attempts=attempts,
                link_guards=guards,
                webhook_inbox=inbox,
                held=held,
                announcement_recipients=announced,
            )

        result: PurgeCounts = await self._run(work)
        return result
