"""The citizens' store on SQLite and on a real PostgreSQL server: same answers from both."""

from __future__ import annotations

import asyncio
import uuid

import psycopg
import pytest
import sqlalchemy as sa
from alembic import command

from bridge.citizens.dossiers import DossierState
from bridge.citizens.link_guard import LockPolicy
from bridge.citizens.state_recorder import StateRecorder
from bridge.citizens.store import CitizenStore, RetentionPolicy
from bridge.delivery.ledger_stores import open_ledger
from bridge.errors import StoreError, StoreValueError
from bridge.events import CaseState
from bridge.store.migrate import alembic_config, upgrade_sync

T0 = 1_800_000_000.0
DAY = 86_400.0
A, B = "111", "222"
CODE = "000.20.31.H56-260310-0042"
OTHER = "000.20.31.H57-260310-0007"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'citizens.sqlite3'}"
    dsn = request.getfixturevalue("postgres_dsn")
    name = f"citizens_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return dsn.rsplit("/", 1)[0] + "/" + name


@pytest.fixture
async def store(store_url):
    opened = await CitizenStore.open(store_url)
    yield opened
    await opened.close()


def dossier(code=CODE, sequence=2, state=CaseState.RECEIVED, **changes):
    values = {
        "case_code": code,
        "sequence": sequence,
        "state": state,
        "procedure_code": "1.004616",
        "procedure_name": "Đăng ký thành lập hộ kinh doanh",
        "agency_code": code.split("-")[0],
        "agency_name": "Trung tâm Phục vụ hành chính công",
        "handling_department": None,
        "due_at": None,
        "occurred_at": T0,
        "phone_last4_hash": None,
    }
    return DossierState(**{**values, **changes})


class TestCitizenStore:
    async def test_linked_users_are_the_active_links(self, store):
        assert await store.linked_users(CODE) == []
        await store.link(A, CODE, factor="receipt_secret", at=T0)
        await store.link(B, CODE.lower(), factor="phone_last4", at=T0 + 1)
        assert await store.linked_users(CODE) == [A, B]
        assert await store.unlink(A, CODE, at=T0 + 2)
        assert not await store.unlink(A, CODE, at=T0 + 3)
        assert await store.linked_users(CODE) == [B]
        await store.link(A, CODE, factor="receipt_secret", at=T0 + 4)
        assert await store.linked_users(CODE) == [B, A]

    async def test_the_link_row_keeps_the_consent_time_and_factor(self, store, store_url):
        await store.link(A, CODE, factor="receipt_secret", at=T0)
        await store.unlink(A, CODE, at=T0 + 5)
        await store.link(A, CODE, factor="receipt_secret", at=T0 + 9)
        engine = sa.create_engine(store_url.replace("postgresql://", "postgresql+psycopg://"))
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT * FROM citizen_links")).mappings().all()
        engine.dispose()
        assert [dict(r) for r in rows] == [
            {
                "user_id": A,
                "case_code": CODE,
                "linked_at": T0 + 9,
                "factor": "receipt_secret",
                "unlinked_at": None,
            }
        ]

    async def test_last_interaction_moves_forward_only(self, store):
        assert await store.last_interaction_at(A) is None
        await store.followed(A, T0)
        await store.interacted(A, T0 + 10)
        await store.interacted(A, T0 + 5)
        assert await store.last_interaction_at(A) == T0 + 10
        citizen = await store.citizen(A)
        assert citizen["followed"] is True
        assert citizen["followed_at"] == T0

    async def test_unfollow_ends_every_link(self, store):
        await store.followed(A, T0)
        await store.link(A, CODE, factor="receipt_secret", at=T0)
        await store.link(A, OTHER, factor="receipt_secret", at=T0)
        assert sorted(await store.unfollowed(A, T0 + 1)) == sorted([CODE, OTHER])
        assert await store.active_cases(A) == []
        citizen = await store.citizen(A)
        assert (citizen["followed"], citizen["unfollowed_at"]) == (False, T0 + 1)
        assert await store.last_interaction_at(A) == T0

    async def test_area_and_tags_follow_the_active_links(self, store):
        await store.followed(A, T0)
        await store.link(A, CODE, factor="receipt_secret", at=T0)
        assert (await store.citizen(A))["tags"] == []
        await store.record_state(dossier(), now=T0)
        await store.record_state(dossier(OTHER, procedure_code="2.000001"), now=T0)
        await store.link(A, OTHER, factor="receipt_secret", at=T0 + 1)
        citizen = await store.citizen(A)
        assert citizen["area"] == "000.20.31.H57"
        assert citizen["tags"] == ["procedure:1.004616", "procedure:2.000001"]
        await store.unlink(A, OTHER, at=T0 + 2)
        citizen = await store.citizen(A)
        assert (citizen["area"], citizen["tags"]) == ("000.20.31.H56", ["procedure:1.004616"])

    async def test_the_newest_sequence_of_a_dossier_wins(self, store):
        assert await store.record_state(dossier(sequence=3, state=CaseState.IN_PROGRESS), now=T0)
        assert not await store.record_state(dossier(sequence=2), now=T0)
        assert not await store.record_state(dossier(sequence=3), now=T0)
        assert (await store.dossier(CODE.lower())).state is CaseState.IN_PROGRESS
        assert await store.record_state(
            dossier(sequence=4, state=CaseState.RESULT_READY, phone_last4_hash="h"), now=T0
        )
        assert await store.record_state(
            dossier(sequence=5, state=CaseState.RESULT_RETURNED), now=T0
        )
        kept = await store.dossier(CODE)
        assert (kept.state, kept.phone_last4_hash) == (CaseState.RESULT_RETURNED, "h")

    async def test_a_batch_keeps_the_newest_of_each_dossier(self, store):
        await store.record_state(dossier(sequence=5, state=CaseState.IN_PROGRESS), now=T0)
        await store.followed(A, T0)
        await store.link(A, OTHER, factor="receipt_secret", at=T0)
        await store.record_states(
            [
                dossier(sequence=4, state=CaseState.RECEIVED),
                dossier(OTHER, sequence=1),
                dossier(OTHER, sequence=3, state=CaseState.RESULT_READY, phone_last4_hash="h"),
                dossier(OTHER, sequence=2, state=CaseState.IN_PROGRESS),
            ],
            now=T0,
        )
        assert (await store.dossier(CODE)).state is CaseState.IN_PROGRESS
        other = await store.dossier(OTHER)
        assert (other.sequence, other.state, other.phone_last4_hash) == (
            3,
            CaseState.RESULT_READY,
            "h",
        )
        assert (await store.citizen(A))["area"] == "000.20.31.H57"
        await store.record_states([], now=T0)

    async def test_webhook_events_are_seen_once(self, store):
        assert await store.first_seen("msg:1", at=T0)
        assert not await store.first_seen("msg:1", at=T0 + 1)

    async def test_failed_attempts_are_counted_in_the_window(self, store):
        for at in (T0, T0 + 10, T0 + 20):
            await store.record_attempt(A, at=at, succeeded=False)
        await store.record_attempt(A, at=T0 + 30, succeeded=True)
        await store.record_attempt(B, at=T0 + 30, succeeded=False)
        assert await store.failed_attempts(A, since=T0 + 5) == 2
        assert await store.failed_attempts(B, since=T0) == 1

    async def test_attempts_at_a_locked_dossier_are_not_failures_but_are_remembered(self, store):
        await store.record_attempt(A, at=T0, succeeded=False, case_code=CODE, outcome="locked")
        assert await store.failed_attempts(A, since=T0) == 0
        assert await store.told_locked(A, CODE.lower(), since=T0)
        assert not await store.told_locked(A, CODE, since=T0 + 1)
        assert not await store.told_locked(B, CODE, since=T0)
        assert not await store.told_locked(A, OTHER, since=T0)

    async def test_receipts_keep_the_first_report(self, store):
        await store.record_receipt("m1", "received", user_id=A, at=T0)
        await store.record_receipt("m1", "received", user_id=A, at=T0 + 5)
        await store.record_receipt("m1", "seen", user_id=A, at=T0 + 9)
        assert await store.receipts("m1") == {"received": T0, "seen": T0 + 9}


class TestForget:
    async def test_every_row_of_the_user_goes_and_no_other(self, store):
        for user in (A, B):
            await store.followed(user, T0)
            await store.link(user, CODE, factor="receipt_secret", at=T0)
            await store.record_attempt(user, at=T0, succeeded=False)
            await store.record_receipt(f"m-{user}", "seen", user_id=user, at=T0)
            await store.first_seen(f"follow:{user}:1", at=T0)
        assert await store.forget(A) == 5
        assert await store.citizen(A) is None
        assert await store.linked_users(CODE) == [B]
        assert await store.failed_attempts(A, since=0) == 0
        assert await store.receipts(f"m-{A}") == {}
        assert await store.first_seen(f"follow:{A}:1", at=T0)
        assert not await store.first_seen(f"follow:{B}:1", at=T0)

    async def test_the_users_announcement_copies_and_settled_cascade_steps_go_too(
        self, store, store_url
    ):
        engine = sa.create_engine(_sync_url(store_url))
        with engine.begin() as conn:
            for key, settled in (
                (f"e1/{A}/zalo_cs", T0),
                (f"e1/{A}/zalo_template_uid", T0),
                (f"e2/{A}/zalo_cs", None),  # still being sent: kept until it settles
                (f"e1/{B}/zalo_cs", T0),
                ("e3/zalo_cs", T0),
            ):
                conn.execute(
                    sa.text(
                        "INSERT INTO deliveries (delivery_key, event_id, channel, case_code,"
                        " sequence, status, attempts, first_attempt_at, settled_at) VALUES"
                        " (:k, 'e', 'zalo_cs', :c, 1, 'delivered', 1, :f, :t)"
                    ),
                    {"k": key, "c": CODE, "f": T0, "t": settled},
                )
            for user in (A, B):
                conn.execute(
                    sa.text(
                        "INSERT INTO announcement_recipients (announcement_id, user_id, status,"
                        " attempts, updated_at) VALUES ('n1', :u, 'sent', 1, :t)"
                    ),
                    {"u": user, "t": T0},
                )
        try:
            assert await store.forget(A) == 3
            with engine.connect() as conn:
                recipients = conn.execute(
                    sa.text("SELECT user_id FROM announcement_recipients")
                ).scalars()
                assert list(recipients) == [B]
        finally:
            engine.dispose()
        assert ledger_rows(store_url)[0] == sorted(
            [f"e2/{A}/zalo_cs", f"e1/{B}/zalo_cs", "e3/zalo_cs"]
        )


POLICY = LockPolicy(threshold=3, seconds=DAY, max_seconds=5 * DAY)


class TestDossierGuards:
    async def test_the_threshold_th_guess_locks_and_nothing_is_counted_while_locked(self, store):
        grants = [await store.spend_guess(CODE, now=T0 + i, policy=POLICY) for i in range(3)]
        assert [(g.allowed, g.locks_now, g.failures) for g in grants] == [
            (True, False, 1),
            (True, False, 2),
            (True, True, 0),
        ]
        assert (grants[2].locked_at, grants[2].locked_until) == (T0 + 2, T0 + 2 + DAY)
        refused = await store.spend_guess(CODE.lower(), now=T0 + DAY, policy=POLICY)
        assert (refused.allowed, refused.locked_at, refused.locked_until) == (
            False,
            T0 + 2,
            T0 + 2 + DAY,
        )
        guard = await store.link_guard(CODE)
        assert (guard["failures"], guard["locks"]) == (0, 1)
        other = await store.spend_guess(OTHER, now=T0 + 3, policy=POLICY)
        assert (other.allowed, other.failures) == (True, 1)

    async def test_each_lock_lasts_twice_the_one_before_up_to_the_cap(self, store):
        now, lengths = T0, []
        for _ in range(5):
            for _ in range(3):
                grant = await store.spend_guess(CODE, now=now, policy=POLICY)
                assert grant.allowed
            lengths.append(grant.locked_until - now)
            now = grant.locked_until  # the lock has just ended
        assert lengths == [DAY, 2 * DAY, 4 * DAY, 5 * DAY, 5 * DAY]

    async def test_a_right_guess_clears_failures_and_locks(self, store):
        for i in range(3):
            await store.spend_guess(CODE, now=T0 + i, policy=POLICY)
        await store.guess_succeeded(CODE.lower())
        assert await store.link_guard(CODE) is None
        grant = await store.spend_guess(CODE, now=T0 + 10, policy=POLICY)
        assert (grant.allowed, grant.failures) == (True, 1)

    async def test_an_operator_unlocks(self, store):
        for i in range(3):
            await store.spend_guess(CODE, now=T0 + i, policy=POLICY)
        assert await store.unlock(CODE)
        assert not await store.unlock(CODE)
        assert (await store.spend_guess(CODE, now=T0 + 5, policy=POLICY)).allowed

    async def test_parallel_guesses_from_two_replicas_never_exceed_the_threshold(
        self, store, store_url
    ):
        second = await CitizenStore.open(store_url, migrate=False)
        try:
            grants = await asyncio.gather(
                *(
                    (store if i % 2 else second).spend_guess(CODE, now=T0, policy=POLICY)
                    for i in range(24)
                )
            )
        finally:
            await second.close()
        assert sum(g.allowed for g in grants) == POLICY.threshold
        assert sum(g.locks_now for g in grants) == 1

    async def test_unlocked_guards_go_with_the_dossier_retention(self, store):
        await store.spend_guess(CODE, now=T0, policy=POLICY)
        for i in range(3):
            await store.spend_guess(OTHER, now=T0 + i, policy=LockPolicy(threshold=3, seconds=1e9))
        policy = RetentionPolicy(link_guards=30 * DAY)
        counts = await store.purge(now=T0 + 31 * DAY, policy=policy)
        assert counts.link_guards == 1
        assert await store.link_guard(CODE) is None
        assert await store.link_guard(OTHER) is not None  # still locked: kept


class TestPurge:
    async def test_old_records_go_recent_ones_stay(self, store_url):
        ledger = await open_ledger(store_url)
        await ledger.close()
        store = await CitizenStore.open(store_url, migrate=False)
        now = T0 + 400 * DAY
        policy = RetentionPolicy(
            unlinked=30 * DAY, unfollowed=30 * DAY, deliveries=180 * DAY, dossiers=365 * DAY
        )
        try:
            await store.followed(A, T0)
            await store.link(A, CODE, factor="receipt_secret", at=T0)
            await store.unlink(A, CODE, at=T0 + DAY)  # unlinked long ago: purged
            await store.link(A, OTHER, factor="receipt_secret", at=now - DAY)  # active: kept
            await store.followed(B, T0)
            await store.unfollowed(B, T0 + DAY)  # gone long ago, no link: purged
            await store.record_state(dossier(state=CaseState.RESULT_RETURNED), now=T0)
            await store.record_state(dossier(OTHER), now=now - DAY)
            await store.first_seen("old", at=now - 2 * DAY)
            await store.first_seen("new", at=now - 60)
            await store.record_attempt(A, at=now - 2 * DAY, succeeded=False)
            await store.record_receipt("m-old", "seen", user_id=A, at=now - 200 * DAY)
            await store.record_receipt("m-new", "seen", user_id=A, at=now - DAY)
            await seed_ledger(store_url, now)
            await seed_holds(store_url, now)
            await seed_announcements(store_url, now)
            counts = await store.purge(now=now, policy=policy)
            assert await store.linked_users(OTHER) == [A]
            assert await store.citizen(B) is None
            assert await store.citizen(A) is not None
            assert await store.dossier(CODE) is None
            assert await store.dossier(OTHER) is not None
            assert await store.first_seen("old", at=now)
            assert not await store.first_seen("new", at=now)
            assert await store.receipts("m-old") == {}
            assert await store.receipts("m-new") != {}
        finally:
            await store.close()
        assert counts.links == 1
        assert counts.citizens == 1
        assert counts.dossiers == 1
        assert counts.webhook_events == 1
        assert counts.link_attempts == 1
        assert counts.receipts == 1
        assert (counts.deliveries, counts.cases) == (1, 1)
        assert ledger_rows(store_url) == (
            ["recent-settled", "unsettled"],
            [OTHER],
        )
        assert counts.held == 2
        assert held_rows(store_url) == ["released-now", "still-held"]
        assert counts.announcement_recipients == 2
        assert announcement_rows(store_url) == (
            ["done-long-ago", "done-recently", "sending"],
            [("done-recently", A), ("sending", A)],
        )


def _sync_url(url):
    return url.replace("postgresql://", "postgresql+psycopg://")


async def seed_ledger(url, now):
    engine = sa.create_engine(_sync_url(url))
    rows = [
        ("old-settled", CODE, "delivered", now - 200 * DAY),
        ("recent-settled", OTHER, "delivered", now - DAY),
        ("unsettled", OTHER, "pending", None),
    ]
    with engine.begin() as conn:
        for key, code, status, settled in rows:
            conn.execute(
                sa.text(
                    "INSERT INTO deliveries (delivery_key, event_id, channel, case_code, sequence,"
                    " status, attempts, first_attempt_at, settled_at) VALUES (:k, :k, 'zalo_cs',"
                    " :c, 1, :s, 1, :f, :t)"
                ),
                {"k": key, "c": code, "s": status, "f": now - 300 * DAY, "t": settled},
            )
        for code, updated in ((CODE, T0), (OTHER, T0)):
            conn.execute(
                sa.text(
                    "INSERT INTO cases (case_code, last_delivered_sequence, updated_at)"
                    " VALUES (:c, 1, :u)"
                ),
                {"c": code, "u": updated},
            )
    engine.dispose()


async def seed_holds(url, now):
    """Records held by quiet hours: the raw event (personal data) in ``value``."""
    engine = sa.create_engine(_sync_url(url))
    rows = [
        ("released-long-ago", "released", now - 2 * DAY),
        ("superseded-long-ago", "superseded", now - 2 * DAY),
        ("released-now", "released", now - 60),
        ("still-held", "held", None),
    ]
    with engine.begin() as conn:
        for n, (event_id, status, settled) in enumerate(rows):
            conn.execute(
                sa.text(
                    "INSERT INTO held_notifications (event_id, case_code, sequence, state, topic,"
                    ' partition, "offset", value, headers, held_at, release_at, status,'
                    " settled_at) VALUES (:e, :c, :n, 'IN_PROGRESS', 'in', 0, :n, :v, '[]', :h,"
                    " :h, :s, :t)"
                ),
                {
                    "e": event_id,
                    "c": CODE,
                    "n": n,
                    "v": b'{"recipient": {"phone": "0912345678"}}',
                    "h": now - 3 * DAY,
                    "s": status,
                    "t": settled,
                },
            )
    engine.dispose()


async def seed_announcements(url, now):
    """Announcements and who got them (user ids), finished long ago, recently, or not yet."""
    engine = sa.create_engine(_sync_url(url))
    rows = [
        ("done-long-ago", "done", now - 200 * DAY),
        ("done-recently", "done", now - DAY),
        ("sending", "sending", None),
    ]
    with engine.begin() as conn:
        for key, status, finished in rows:
            conn.execute(
                sa.text(
                    "INSERT INTO announcements (announcement_id, province, title, body, urgency,"
                    " audience_kind, published_at, received_at, status, enumerated, finished_at)"
                    " VALUES (:k, 'thanh-hoa', 'Thông báo', 'Nội dung', 'normal', 'all', :t, :t,"
                    " :s, true, :f)"
                ),
                {"k": key, "t": now - 300 * DAY, "s": status, "f": finished},
            )
            for user in (A, B) if key == "done-long-ago" else (A,):
                conn.execute(
                    sa.text(
                        "INSERT INTO announcement_recipients (announcement_id, user_id, status,"
                        " attempts, updated_at) VALUES (:k, :u, 'sent', 1, :t)"
                    ),
                    {"k": key, "u": user, "t": now - 300 * DAY},
                )
    engine.dispose()


def announcement_rows(url):
    engine = sa.create_engine(_sync_url(url))
    with engine.connect() as conn:
        kept = sorted(conn.execute(sa.text("SELECT announcement_id FROM announcements")).scalars())
        recipients = sorted(
            tuple(row)
            for row in conn.execute(
                sa.text("SELECT announcement_id, user_id FROM announcement_recipients")
            )
        )
    engine.dispose()
    return kept, recipients


def held_rows(url):
    engine = sa.create_engine(_sync_url(url))
    with engine.connect() as conn:
        ids = sorted(conn.execute(sa.text("SELECT event_id FROM held_notifications")).scalars())
    engine.dispose()
    return ids


def ledger_rows(url):
    engine = sa.create_engine(_sync_url(url))
    with engine.connect() as conn:
        keys = sorted(conn.execute(sa.text("SELECT delivery_key FROM deliveries")).scalars())
        cases = sorted(conn.execute(sa.text("SELECT case_code FROM cases")).scalars())
    engine.dispose()
    return keys, cases


def test_migration_0003_goes_down_to_0002_and_up_again(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    upgrade_sync(url, "0003")
    engine = sa.create_engine(url)
    tables = {"citizens", "citizen_links", "webhook_events", "link_attempts", "dossier_states"}
    assert tables | {"delivery_receipts"} <= set(sa.inspect(engine).get_table_names())
    indexes = {i["name"] for i in sa.inspect(engine).get_indexes("citizen_links")}
    assert "citizen_links_case_code" in indexes
    command.downgrade(alembic_config(url), "0002")
    assert not tables & set(sa.inspect(engine).get_table_names())
    upgrade_sync(url)
    assert tables <= set(sa.inspect(engine).get_table_names())
    engine.dispose()


class TestOneBadRow:
    """One dossier's row that the database refuses never fails another dossier's."""

    @pytest.mark.parametrize(
        "bad",
        [{"sequence": 2**63}, {"procedure_name": "nul \x00 inside"}, {"agency_name": "\udc00"}],
        ids=["sequence-2^63", "nul", "lone-surrogate"],
    )
    async def test_the_refused_row_fails_alone_and_the_batch_is_stored(self, store, bad):
        recorder = StateRecorder(lambda states: store.record_states(states, now=T0))
        states = [dossier(sequence=3), dossier(OTHER, **bad), dossier("000.20.31.H58-260310-0001")]
        results = await asyncio.gather(
            *(recorder.record(state) for state in states), return_exceptions=True
        )
        assert results[0] is None
        assert results[2] is None
        assert (await store.dossier(CODE)).sequence == 3
        assert (await store.dossier("000.20.31.H58-260310-0001")) is not None
        if isinstance(results[1], StoreValueError):
            assert await store.dossier(OTHER) is None
        else:  # SQLite stores NUL in TEXT; PostgreSQL refuses it
            assert results[1] is None
            assert bad == {"procedure_name": "nul \x00 inside"}

    @pytest.mark.parametrize(
        "url",
        ["sqlite:////nonexistent-directory/citizens.sqlite3", "postgresql://127.0.0.1:1/none"],
    )
    async def test_a_store_that_cannot_be_reached_is_an_outage(self, url):
        store = await CitizenStore.open(url, migrate=False)
        try:
            with pytest.raises(StoreError) as failed:
                await store.record_states([dossier()], now=T0)
        finally:
            await store.close()
        assert not isinstance(failed.value, StoreValueError)


def test_migration_0006_names_old_attempts_outcomes_and_goes_down_and_up(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    upgrade_sync(url, "0005")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for succeeded in (True, False):
            conn.execute(
                sa.text(
                    "INSERT INTO link_attempts (user_id, attempted_at, succeeded)"
                    " VALUES (:u, 1, :s)"
                ),
                {"u": A, "s": succeeded},
            )
    upgrade_sync(url, "0006")
    with engine.connect() as conn:
        outcomes = conn.execute(
            sa.text("SELECT succeeded, outcome FROM link_attempts ORDER BY id")
        ).all()
    assert [tuple(row) for row in outcomes] == [(1, "linked"), (0, "refused")]
    assert "dossier_link_guards" in sa.inspect(engine).get_table_names()
    command.downgrade(alembic_config(url), "0005")
    assert "dossier_link_guards" not in sa.inspect(engine).get_table_names()
    columns = {c["name"] for c in sa.inspect(engine).get_columns("link_attempts")}
    assert not {"case_code", "outcome"} & columns
    upgrade_sync(url)
    assert "dossier_link_guards" in sa.inspect(engine).get_table_names()
    engine.dispose()
