"""The survey end to end: the real broker, the emulator, the webhook over real HTTP.

A RESULT_RETURNED event asks each following citizen once (after the delay); a tapped button and
a typed score each give one citizen-feedback event; a repeated webhook gives none; a citizen
whose last interaction is older than the window is not asked; the report matches the events;
during quiet hours nothing is asked.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from bridge.app import create_app
from bridge.citizens.settings import LinkingSettings, RetentionSettings
from bridge.citizens.store import CitizenStore
from bridge.feedback import FeedbackSettings, SurveyStore
from bridge.feedback.report import satisfaction_report
from bridge.quiet_hours.settings import QuietHoursSettings
from bridge.store.database import open_database
from bridge.store.migrate import upgrade_sync
from bridge.webhook.settings import WebhookSettings
from citizens_support import APP_ID, HMAC_KEY, OA_SECRET, chat, oa_event, serve
from support import read_topic

pytestmark = pytest.mark.kafka

ALICE, BOB, CAROL = "7700000000000001", "7700000000000002", "7700000000000003"
CODES = {
    ALICE: "000.20.31.H56-261205-0001",
    BOB: "000.20.31.H56-261205-0002",
    CAROL: "000.20.31.H56-261205-0003",
}
QUESTION = "có hài lòng với việc giải quyết hồ sơ"


async def until(check, what: str, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while True:
        found = await check()
        if found:
            return found
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.1)


async def asked(admin, user):
    return [t for t in await chat(admin, user) if QUESTION in t]


async def test_asked_once_answered_by_button_and_by_text_published_once_reported(  # noqa: PLR0915 - one journey, told in order
    bridge_settings, emulator, publish, make_event, encode, kafka_bootstrap, topics
):
    feedback_topic = f"{topics.input}.feedback"
    settings = bridge_settings.model_copy(
        update={
            "webhook": WebhookSettings(app_id=APP_ID, oa_secret_key=OA_SECRET),
            "linking": LinkingSettings(hmac_key=HMAC_KEY),
            "retention": RetentionSettings(purge_interval_seconds=0),
            "feedback": FeedbackSettings(
                enabled=True, topic=feedback_topic, delay_seconds=1, poll_seconds=0.2
            ),
        }
    )
    admin = emulator.http
    await emulator.follow(ALICE, BOB, CAROL)
    store_url = settings.store.url.get_secret_value()
    upgrade_sync(store_url)
    # Carol last wrote to the OA eight days ago: a CS text would be refused, so she is not asked.
    citizens = await CitizenStore.open(store_url)
    try:
        await citizens.interacted(CAROL, time.time() - 8 * 86_400)
    finally:
        await citizens.close()

    async with create_app(settings) as app, serve(app) as base_url:
        url = base_url + settings.webhook.path
        (await admin.put("/_emulator/webhook", json={"url": url})).raise_for_status()
        for user, code in CODES.items():
            event = make_event(
                sequence=7,
                state="RESULT_RETURNED",
                previous_state="RESULT_READY",
                case={"code": code},
                recipient={"zalo_user_id": user, "notify_consent": True},
            )
            await publish(encode(event), key=code)

        [alice_question] = await until(lambda: asked(admin, ALICE), "Alice is asked")
        [bob_question] = await until(lambda: asked(admin, BOB), "Bob is asked")
        assert CODES[ALICE] in alice_question
        assert CODES[BOB] in bob_question
        [message] = [
            m
            for m in (await admin.get("/_emulator/messages", params={"user_id": ALICE})).json()[
                "messages"
            ]
            if QUESTION in (m["text"] or "")
        ]
        assert [b["title"] for b in message["buttons"]] == [
            "Rất hài lòng",
            "Hài lòng",
            "Chưa hài lòng",
        ]

        # Alice taps a button; Bob types his score.
        (
            await admin.post("/_emulator/taps", json={"user_id": ALICE, "title": "Rất hài lòng"})
        ).raise_for_status()
        [bob_answer] = await oa_event(admin, event_name="user_send_text", user_id=BOB, text="4")

        async def both_thanked() -> bool:
            return await _thanked(admin, ALICE) and await _thanked(admin, BOB)

        await until(both_thanked, "both are thanked")
        events = await read_topic(kafka_bootstrap, feedback_topic, 2)
        assert len(events) == 2

        # Zalo delivers Bob's answer again: nothing new is published.
        retry = {
            "content-type": "application/json",
            "X-ZEvent-Signature": bob_answer["signature"],
            "num_retry": "1",
        }
        async with httpx.AsyncClient() as http:
            again = await http.post(url, content=bob_answer["body"].encode(), headers=retry)
        assert again.status_code == 200
        await asyncio.sleep(1.5)  # a second publication, if any, has time to happen
        assert len(await read_topic(kafka_bootstrap, feedback_topic, 3, timeout=3)) == 2
        # Each was asked exactly once; Carol never.
        assert len(await asked(admin, ALICE)) == 1
        assert len(await asked(admin, BOB)) == 1
        assert await asked(admin, CAROL) == []

    documents = {json.loads(r.value)["case_code"]: json.loads(r.value) for r in events}
    assert documents[CODES[ALICE]]["score"] == 5
    assert documents[CODES[ALICE]]["level"] == "rat_hai_long"
    assert documents[CODES[BOB]]["score"] == 4
    for document in documents.values():
        assert ALICE not in json.dumps(document)
        assert BOB not in json.dumps(document)
        assert document["channel"] == "zalo_oa"
        assert document["receiving_agency"]["code"]

    database = open_database(store_url)
    try:
        surveys = await SurveyStore(database).between(0, time.time() + 1)
    finally:
        await database.dispose()
    agency = next(r for r in satisfaction_report(surveys) if r.scope == "agency")
    assert (agency.asked, agency.answered) == (2, 2)  # Carol was not asked
    assert agency.mean_score == 4.5
    assert agency.response_rate == 1.0
    assert agency.unsatisfied_share == 0.0
    assert {s.user_id: s.reason for s in surveys if s.status == "skipped"} == {
        CAROL: "outside_window"
    }


async def _thanked(admin, user) -> bool:
    return any("Cảm ơn Ông/Bà đã" in t for t in await chat(admin, user))


async def test_nothing_is_asked_during_quiet_hours(
    bridge_settings, emulator, publish, make_event, encode, topics
):
    """Quiet hours around this very moment (whatever the hour): the survey waits for their end."""
    zone = ZoneInfo("Asia/Ho_Chi_Minh")
    now = datetime.now(zone)
    start, end = (now - timedelta(hours=1)), (now + timedelta(hours=1))
    settings = bridge_settings.model_copy(
        update={
            "webhook": WebhookSettings(app_id=APP_ID, oa_secret_key=OA_SECRET),
            "linking": LinkingSettings(hmac_key=HMAC_KEY),
            "retention": RetentionSettings(purge_interval_seconds=0),
            "quiet_hours": QuietHoursSettings(
                enabled=True, start=f"{start:%H:%M}", end=f"{end:%H:%M}"
            ),
            "feedback": FeedbackSettings(
                enabled=True,
                topic=f"{topics.input}.feedback",
                delay_seconds=0,
                poll_seconds=0.2,
            ),
        }
    )
    await emulator.follow(ALICE)
    store_url = settings.store.url.get_secret_value()
    async with create_app(settings) as app, serve(app) as base_url:
        hook = {"url": base_url + settings.webhook.path}
        (await emulator.http.put("/_emulator/webhook", json=hook)).raise_for_status()
        event = make_event(
            sequence=7,
            state="RESULT_RETURNED",
            previous_state="RESULT_READY",
            case={"code": CODES[ALICE]},
            recipient={"zalo_user_id": ALICE, "notify_consent": True},
        )
        await publish(encode(event), key=CODES[ALICE])

        async def planned():
            database = open_database(store_url)
            try:
                return await SurveyStore(database).between(0, time.time() + 1)
            finally:
                await database.dispose()

        [survey] = await until(planned, "the survey is planned (from the held event)")
        await asyncio.sleep(2.0)  # ten passes of the survey loop
        assert await chat(emulator.http, ALICE) == []  # neither the news nor the survey
        [survey] = await planned()
    assert survey.status == "pending"
    assert survey.due_at >= end.replace(second=0, microsecond=0).timestamp() - 60
