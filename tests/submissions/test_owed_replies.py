"""The answers a step owes her survive a crash and a failing Zalo: sent later, once, in order."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime

import pytest

from bridge.errors import RecipientUnreachableError, RetryableDeliveryError
from bridge.store.database import open_database
from bridge.store.migrate import upgrade_sync
from bridge.submissions import SubmissionSettings, load_forms
from bridge.submissions.service import SubmissionDesk
from bridge.submissions.store import SubmissionStore
from bridge.webhook.events import InboundAttachment, OaEvent
from bridge.zalo.client import SendReceipt

USER = "2512523625412515"
NOON = datetime(2026, 3, 10, 5, 0, tzinfo=UTC).timestamp()  # 12:00 in Hà Nội
RETRY = 60.0
DAY = 86_400.0


class Crash(BaseException):
    """The process is killed between the step's commit and its replies."""


class Clock:
    def __init__(self) -> None:
        self.now = NOON

    def __call__(self) -> float:
        return self.now


class Zalo:
    """Takes texts; fails the way it is told, for the next sends."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.failures: list[BaseException | None] = []  # None: this one goes through

    async def send_text(self, user_id, text):
        failure = self.failures.pop(0) if self.failures else None
        if failure is not None:
            raise failure
        self.texts.append(text)
        return SendReceipt(message_id=f"m{len(self.texts)}", user_id=user_id, sent_time=None)


class Intake:
    """Never reached: no document is awaited in these conversations."""

    async def take(self, *_args, **_kwargs):
        raise AssertionError("no document is awaited")

    async def discard(self, *_args):
        return None


@pytest.fixture
async def parts(ledger_url):
    upgrade_sync(ledger_url)
    database = open_database(ledger_url)
    store = SubmissionStore(database)
    clock, zalo = Clock(), Zalo()

    def desk(sender=zalo) -> SubmissionDesk:
        return SubmissionDesk(
            catalogue=load_forms(SubmissionSettings()),
            store=store,
            sender=sender,
            intake=Intake(),
            province="da-nang",
            timezone="Asia/Ho_Chi_Minh",
            clock=clock,
            reply_retry_seconds=RETRY,
        )

    try:
        yield desk, store, clock, zalo
    finally:
        await database.dispose()


_ids = itertools.count()


def text(body: str) -> OaEvent:
    return OaEvent("user_send_text", USER, NOON, f"msg:o{next(_ids)}", text=body)


async def test_zalo_failing_on_an_answer_leaves_it_owed_until_the_sweep_sends_it_once(parts):
    make, _store, clock, zalo = parts
    desk = make()
    zalo.failures.append(RetryableDeliveryError("Zalo 503"))
    assert await desk.take(text("NOP HO SO"))
    assert zalo.texts == []
    assert desk.stats.replies_failed == 1

    await desk.resend_owed(give_up_after=DAY)  # its own sender's time is not over
    assert zalo.texts == []
    clock.now += RETRY
    await desk.resend_owed(give_up_after=DAY)
    assert len(zalo.texts) == 1
    assert "Ông/Bà muốn nộp hồ sơ thủ tục nào?" in zalo.texts[0]
    clock.now += 10 * RETRY
    await desk.resend_owed(give_up_after=DAY)
    assert len(zalo.texts) == 1  # sent, not owed any more
    assert desk.stats.replies_resent == 1


async def test_a_crash_after_the_commit_loses_no_answer_and_a_replay_adds_none(parts):
    make, _store, clock, zalo = parts
    event = text("NOP HO SO")
    zalo.failures.append(Crash())
    with pytest.raises(Crash):
        await make().take(event)
    assert zalo.texts == []

    again = make()  # the next process
    assert await again.take(event)  # the inbox hands the event over again
    assert again.stats.replayed == 1
    assert zalo.texts == []  # the replay sends nothing itself ...
    clock.now += RETRY
    await again.resend_owed(give_up_after=DAY)
    assert len(zalo.texts) == 1  # ... the sweep sends what the step owed, once
    assert "Ông/Bà muốn nộp hồ sơ thủ tục nào?" in zalo.texts[0]


async def test_of_two_answers_only_the_unsent_one_stays_owed(parts):
    make, _store, clock, zalo = parts
    desk = make()
    assert await desk.take(text("NOP HO SO"))
    assert await desk.take(text("1"))
    before = len(zalo.texts)
    # Two photos in one event while she is asked her child's name: an answer for each.
    photos = OaEvent(
        "user_send_image",
        USER,
        NOON,
        f"msg:o{next(_ids)}",
        attachments=(
            InboundAttachment("image", "https://f.zdn.vn/a.jpg"),
            InboundAttachment("image", "https://f.zdn.vn/b.jpg"),
        ),
    )
    zalo.failures.extend([None, RetryableDeliveryError("Zalo 503")])
    assert await desk.take(photos)
    [first] = zalo.texts[before:]
    clock.now += RETRY
    await desk.resend_owed(give_up_after=DAY)
    [second] = zalo.texts[before + 1 :]
    assert "lúc này không chờ ảnh hay tệp" in first
    assert "lúc này không chờ ảnh hay tệp" in second


async def test_an_answer_zalo_refuses_for_good_is_dropped_not_retried(parts):
    make, _store, clock, zalo = parts
    desk = make()
    zalo.failures.append(RecipientUnreachableError("she left the OA", code=-213))
    assert await desk.take(text("NOP HO SO"))
    clock.now += RETRY
    await desk.resend_owed(give_up_after=DAY)
    assert zalo.texts == []
    assert desk.stats.replies_dropped == 1


async def test_two_sweeps_at_once_send_an_owed_answer_once(parts):
    make, _store, clock, zalo = parts
    zalo.failures.append(RetryableDeliveryError("Zalo 503"))
    assert await make().take(text("NOP HO SO"))
    clock.now += RETRY
    await asyncio.gather(*(make().resend_owed(give_up_after=DAY) for _ in range(4)))
    assert len(zalo.texts) == 1


async def test_answers_owed_past_the_drafts_expiry_are_dropped(parts):
    make, _store, clock, zalo = parts
    desk = make()
    zalo.failures.append(RetryableDeliveryError("Zalo 503"))
    assert await desk.take(text("NOP HO SO"))
    clock.now += 2 * DAY
    await desk.resend_owed(give_up_after=DAY)
    assert zalo.texts == []
    assert desk.stats.replies_dropped == 1
    clock.now += RETRY
    await desk.resend_owed(give_up_after=DAY)
    assert zalo.texts == []  # not owed any more
