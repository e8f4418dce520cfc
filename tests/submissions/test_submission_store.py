"""The submission store on SQLite and PostgreSQL: steps once per event, conflicts, the outbox."""

from __future__ import annotations

import asyncio

import pytest

from bridge.store.database import open_database
from bridge.store.migrate import upgrade_sync
from bridge.submissions.conversation import Draft, StoredAttachment
from bridge.submissions.store import DraftConflictError, Filed, SubmissionStore

USER = "2512523625412515"


@pytest.fixture
async def store(ledger_url):
    upgrade_sync(ledger_url)
    database = open_database(ledger_url)
    try:
        yield SubmissionStore(database)
    finally:
        await database.dispose()


def filed(submission_id: str = "HS-20260310ABCD1234") -> Filed:
    return Filed(
        submission_id=submission_id,
        user_id=USER,
        procedure_code="1.001193",
        event={"submission_id": submission_id, "fields": {"child_full_name": "Nguyễn An"}},
        object_keys=("submissions/a", "submissions/b"),
        submitted_at=300.0,
    )


async def test_each_event_is_one_step_and_a_replay_changes_nothing(store):
    assert await store.draft(USER) is None
    started = Draft()
    assert await store.apply(USER, event_key="m1", draft=started, at=100.0, read=None)
    first = await store.draft(USER)
    assert first.draft == started
    assert (first.started_at, first.updated_at, first.version) == (100.0, 100.0, 1)
    chosen = Draft(form_code="1.001193")
    assert await store.apply(USER, event_key="m2", draft=chosen, at=110.0, read=first)
    assert not await store.apply(USER, event_key="m2", draft=Draft(), at=120.0, read=first)
    assert not await store.apply(USER, event_key="m1", draft=None, at=120.0, read=first)
    now = await store.draft(USER)
    assert now.draft == chosen
    assert now.version == 2
    assert await store.seen("m2")
    assert not await store.seen("m3")


async def test_a_step_computed_from_an_older_draft_is_refused_whole(store):
    await store.apply(USER, event_key="m1", draft=Draft(), at=100.0, read=None)
    read = await store.draft(USER)
    await store.apply(USER, event_key="m2", draft=Draft(form_code="1.001193"), at=100.0, read=read)
    with pytest.raises(DraftConflictError):
        await store.apply(USER, event_key="m3", draft=Draft(form_code="x"), at=100.0, read=read)
    with pytest.raises(DraftConflictError):
        await store.apply(USER, event_key="m4", draft=Draft(), at=100.0, read=None)
    assert not await store.seen("m3")  # the inbox hands it over again
    assert (await store.draft(USER)).draft.form_code == "1.001193"


async def test_concurrent_steps_of_one_citizen_leave_exactly_one_winner(store):
    await store.apply(USER, event_key="m0", draft=Draft(), at=100.0, read=None)
    read = await store.draft(USER)

    async def one(n: int) -> bool:
        try:
            draft = Draft(form_code=f"code-{n}")
            return await store.apply(USER, event_key=f"m{n}", draft=draft, at=100.0, read=read)
        except DraftConflictError:
            return False

    results = await asyncio.gather(*(one(n) for n in range(1, 6)))
    assert sum(results) == 1
    winner = results.index(True) + 1
    assert (await store.draft(USER)).draft.form_code == f"code-{winner}"


async def test_confirming_deletes_the_draft_and_fills_the_outbox_in_one_step(store):
    attachment = StoredAttachment("birth_certificate", "submissions/a", "0" * 64, "image/png", 9)
    draft = Draft(form_code="1.001193", answers={"x": 1}, attachments=(attachment,))
    await store.apply(USER, event_key="m1", draft=draft, at=100.0, read=None)
    read = await store.draft(USER)
    assert read.draft == draft
    assert await store.apply(USER, event_key="m2", draft=None, at=300.0, read=read, filed=filed())
    assert await store.draft(USER) is None
    assert await store.unpublished() == [filed()]
    await store.published("HS-20260310ABCD1234", at=301.0)
    await store.published("HS-20260310ABCD1234", at=999.0)
    assert await store.unpublished() == []
    assert (await store.filed("HS-20260310ABCD1234")).event["fields"] == {
        "child_full_name": "Nguyễn An"
    }


async def test_the_centre_opening_the_dossier_names_her_once(store):
    await store.apply(USER, event_key="m1", draft=None, at=300.0, read=None, filed=filed())
    assert await store.opened("HS-20260310ABCD1234", "000.00.00.H56-260310-0001", at=400.0) == USER
    assert await store.opened("HS-20260310ABCD1234", "000.00.00.H56-260310-0001", at=401.0) is None
    assert await store.opened("HS-20260310ZZZZ0000", "000.00.00.H56-260310-0002", at=401.0) is None


async def test_one_reminder_and_expiry_only_while_she_stays_quiet(store):
    await store.apply(USER, event_key="m1", draft=Draft(), at=100.0, read=None)
    assert await store.idle(updated_before=100.0) == []
    [idle] = await store.idle(updated_before=200.0)
    assert await store.reminded(USER, version=idle.version, at=200.0)
    assert not await store.reminded(USER, version=idle.version, at=201.0)
    assert (await store.draft(USER)).reminded_at == 200.0
    read = await store.draft(USER)
    await store.apply(USER, event_key="m2", draft=Draft(form_code="1"), at=250.0, read=read)
    assert not await store.expire(USER, version=idle.version)  # she answered since
    again = await store.draft(USER)
    assert again.reminded_at is None
    assert await store.expire(USER, version=again.version)
    assert await store.draft(USER) is None


async def test_old_event_keys_are_purged(store):
    await store.apply(USER, event_key="m1", draft=Draft(), at=100.0, read=None)
    assert await store.purge_steps(before=50.0) == 0
    assert await store.purge_steps(before=150.0) == 1
    assert not await store.seen("m1")


async def test_forgetting_her_deletes_her_rows_and_names_her_files(store):
    attachment = StoredAttachment("birth_certificate", "submissions/d-0", "0" * 64, "image/png", 9)
    other = "7700000000000001"
    await store.apply(other, event_key="o1", draft=Draft(), at=100.0, read=None)
    await store.apply(USER, event_key="m1", draft=None, at=100.0, read=None, filed=filed())
    draft = Draft(form_code="1.001193", attachments=(attachment,))
    await store.apply(USER, event_key="m2", draft=draft, at=200.0, read=None)
    deleted, keys = await store.forget(USER)
    assert deleted == 4  # the draft, two steps, the filed dossier
    assert sorted(keys) == ["submissions/a", "submissions/b", "submissions/d-0"]
    assert await store.draft(USER) is None
    assert await store.filed("HS-20260310ABCD1234") is None
    assert await store.draft(other) is not None
    assert await store.forget(USER) == (0, [])
