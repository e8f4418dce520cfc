"""The survey on a real store (SQLite and PostgreSQL): planned once, asked by day and within the
window, answered once, stopped, commented, published once, reported."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bridge.errors import RecipientUnreachableError
from bridge.events import CaseStateEvent
from bridge.feedback import FeedbackSettings, SurveyService, SurveyStore
from bridge.feedback.report import satisfaction_report
from bridge.quiet_hours.window import QuietWindow, parse_clock_time
from bridge.store.database import open_database
from bridge.store.migrate import upgrade_sync
from bridge.zalo.client import SendReceipt

NOON_VN = datetime(2026, 12, 5, 5, 0, tzinfo=UTC).timestamp()  # 12:00 in Vietnam
NIGHT_VN = datetime(2026, 12, 5, 16, 0, tzinfo=UTC).timestamp()  # 23:00 in Vietnam
MORNING_VN = datetime(2026, 12, 6, 0, 0, tzinfo=UTC).timestamp()  # 07:00 the next day
DAY = 86_400.0
ALICE, BOB = "2512523625412515", "7100000000000042"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Sender:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, tuple]] = []
        self.unreachable: set[str] = set()

    async def send_text(self, user_id, text):
        return await self.send_text_with_buttons(user_id, text, ())

    async def send_text_with_buttons(self, user_id, text, buttons):
        if user_id in self.unreachable:
            raise RecipientUnreachableError("-230", code=-230)
        self.sent.append((user_id, text, tuple(buttons)))
        return SendReceipt(message_id=f"m{len(self.sent)}", user_id=user_id, sent_time=None)


class Citizens:
    def __init__(self) -> None:
        self.links: dict[str, list[str]] = {}
        self.interactions: dict[str, float] = {}

    async def linked_users(self, case_code):
        return list(self.links.get(case_code, []))

    async def last_interaction_at(self, user_id):
        return self.interactions.get(user_id)


class Publisher:
    def __init__(self) -> None:
        self.events = []

    async def publish(self, event):
        self.events.append(event)


@pytest.fixture
async def parts(ledger_url):
    upgrade_sync(ledger_url)
    database = open_database(ledger_url)
    clock = Clock(NOON_VN)
    sender, citizens, publisher = Sender(), Citizens(), Publisher()
    settings = FeedbackSettings(enabled=True, delay_seconds=600, comment_minutes=30)
    service = SurveyService(
        settings=settings,
        store=SurveyStore(database),
        sender=sender,
        citizens=citizens,
        publisher=publisher,
        window=QuietWindow(
            parse_clock_time("21:00"), parse_clock_time("07:00"), ZoneInfo("Asia/Ho_Chi_Minh")
        ),
        pseudonym_key="a-secret-pepper",
        owner="replica-1",
        interaction_window_days=7,
        clock=clock,
    )
    try:
        yield service, clock, sender, citizens, publisher
    finally:
        await database.dispose()


def final_event(make_event, code="000.20.31.H56-260310-0042", state="RESULT_RETURNED", **kw):
    return CaseStateEvent.model_validate(
        make_event(
            state=state,
            previous_state="RESULT_READY",
            sequence=9,
            case={"code": code},
            recipient={"zalo_user_id": ALICE, "notify_consent": True},
            **kw,
        )
    )


async def test_one_survey_per_citizen_after_the_delay_and_planning_twice_changes_nothing(
    parts, make_event
):
    service, clock, sender, citizens, _ = parts
    event = final_event(make_event)
    citizens.links[event.case.code] = [BOB, ALICE]
    await service.plan(event)
    await service.plan(event)  # the same event again (a redelivery)
    assert await service.ask_due() == 0  # not due yet
    clock.now += 600
    assert await service.ask_due() == 2
    assert await service.ask_due() == 0
    assert sorted(user for user, _, _ in sender.sent) == sorted([ALICE, BOB])
    _, text, buttons = sender.sent[0]
    assert event.case.code in text
    assert "HUY KHAO SAT" in text
    assert [title for title, _ in buttons] == ["Rất hài lòng", "Hài lòng", "Chưa hài lòng"]


async def test_states_other_than_the_final_ones_plan_nothing(parts, make_event):
    service, clock, sender, _, _ = parts
    await service.plan(final_event(make_event, state="RESULT_READY"))
    clock.now += DAY
    assert await service.ask_due() == 0
    assert sender.sent == []


async def test_nothing_is_asked_during_quiet_hours_and_it_is_asked_when_they_end(parts, make_event):
    service, clock, sender, _, _ = parts
    clock.now = NIGHT_VN - 600
    await service.plan(final_event(make_event))
    clock.now = NIGHT_VN
    assert await service.ask_due() == 0
    clock.now = MORNING_VN - 60
    assert await service.ask_due() == 0
    assert sender.sent == []
    clock.now = MORNING_VN
    assert await service.ask_due() == 1


async def test_nothing_is_asked_outside_the_interaction_window(parts, make_event):
    service, clock, sender, citizens, _ = parts
    citizens.interactions[ALICE] = NOON_VN - 8 * DAY
    event = final_event(make_event)
    citizens.links[event.case.code] = [BOB]
    sender.unreachable.add(BOB)  # no known interaction: Zalo says -230
    await service.plan(event)
    clock.now += 600
    assert await service.ask_due() == 0
    assert sender.sent == []
    assert service.stats["skipped:outside_window"] == 2


async def test_a_button_answer_then_a_repeat_the_first_answer_stands(parts, make_event):
    service, clock, _, _, publisher = parts
    await service.plan(final_event(make_event))
    clock.now += 600
    await service.ask_due()
    thanks = await service.answer(ALICE, "#DANHGIA 5", clock.now)
    assert thanks is not None
    assert "Cảm ơn" in thanks
    again = await service.answer(ALICE, "1", clock.now)
    assert again is not None
    assert "đánh giá đầu tiên" in again
    await service.publish_ready()
    await service.publish_ready()
    [event] = publisher.events
    assert (event.score, event.level.value, event.comment) == (5, "rat_hai_long", None)
    assert event.citizen != ALICE
    assert ALICE not in event.model_dump_json()


async def test_an_unhappy_rating_asks_a_reason_masked_and_published_with_it(parts, make_event):
    service, clock, _, _, publisher = parts
    await service.plan(final_event(make_event))
    clock.now += 600
    await service.ask_due()
    reason = await service.answer(ALICE, "chưa hài lòng", clock.now)
    assert reason is not None
    assert "lý do" in reason
    await service.publish_ready()
    assert publisher.events == []  # the reason is awaited
    done = await service.answer(ALICE, "Chờ lâu quá, gọi 0912345678 không ai nghe", clock.now)
    assert done is not None
    await service.publish_ready()
    [event] = publisher.events
    assert event.score == 2
    assert event.comment is not None
    assert "0912345678" not in event.comment


async def test_a_reason_never_given_publishes_the_rating_alone_when_its_time_is_up(
    parts, make_event
):
    service, clock, _, _, publisher = parts
    await service.plan(final_event(make_event))
    clock.now += 600
    await service.ask_due()
    await service.answer(ALICE, "1", clock.now)
    clock.now += 31 * 60
    await service.publish_ready()
    [event] = publisher.events
    assert (event.score, event.comment) == (1, None)


async def test_huy_stops_every_survey_and_keeps_them_from_being_planned(parts, make_event):
    service, clock, sender, _, _ = parts
    await service.plan(final_event(make_event))
    clock.now += 600
    await service.ask_due()
    stopped = await service.answer(ALICE, "HUY", clock.now)
    assert stopped is not None
    assert "không nhận khảo sát" in stopped
    assert await service.answer(ALICE, "5", clock.now) is None  # no survey waits any more
    await service.plan(final_event(make_event, code="000.20.31.H56-260310-0043"))
    clock.now += 600
    assert await service.ask_due() == 0
    assert len(sender.sent) == 1


async def test_texts_that_answer_nothing_are_left_to_the_chat(parts, make_event):
    service, clock, _, _, _ = parts
    assert await service.answer(ALICE, "5", clock.now) is None  # no survey asked
    assert await service.answer(ALICE, "HUY", clock.now) is None
    await service.plan(final_event(make_event))
    clock.now += 600
    await service.ask_due()
    assert await service.answer(ALICE, "tra cuu", clock.now) is None


async def test_the_report_counts_what_was_asked_and_answered(parts, make_event):
    service, clock, _, citizens, _ = parts
    event = final_event(make_event)
    citizens.links[event.case.code] = [BOB]
    await service.plan(event)
    clock.now += 600
    await service.ask_due()
    await service.answer(ALICE, "4", clock.now)
    rows = satisfaction_report(await service.store.between(0, clock.now + 1))
    agency = next(r for r in rows if r.scope == "agency")
    assert (agency.asked, agency.answered, agency.mean_score) == (2, 1, 4.0)
    assert agency.response_rate == 0.5
