"""Quiet hours on the real broker with an injected clock: held at night, released in the morning."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bridge.app import create_app
from bridge.quiet_hours.settings import QuietHoursSettings
from support import OTHER_USER, USER, read_topic

pytestmark = pytest.mark.kafka

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
CASE_A = "000.20.31.H56-261129-0101"
CASE_B = "000.20.31.H56-261129-0102"


class Clock:
    def __init__(self, moment):
        self.now = moment.timestamp()

    def __call__(self):
        return self.now


async def test_held_at_night_released_in_the_morning_and_superseded_dropped(
    bridge_settings, emulator, publish, make_event, encode, kafka_bootstrap, topics
):
    settings = bridge_settings.model_copy(
        update={"quiet_hours": QuietHoursSettings(release_poll_seconds=0.2)}
    )
    clock = Clock(datetime(2026, 11, 29, 22, 30, tzinfo=HCM))
    a = make_event(
        sequence=1, state="IN_PROGRESS", case={"code": CASE_A}, recipient={"zalo_user_id": USER}
    )
    b_progress = make_event(
        sequence=1,
        state="IN_PROGRESS",
        case={"code": CASE_B},
        recipient={"zalo_user_id": OTHER_USER},
    )
    b_ready = make_event(
        sequence=2,
        state="RESULT_READY",
        case={"code": CASE_B},
        recipient={"zalo_user_id": OTHER_USER},
    )
    for event in (a, b_progress, b_ready):
        await publish(encode(event), key=event["case"]["code"])

    async with create_app(settings, clock=clock):
        night = await emulator.wait_for_accepted(1)
        statuses = await read_topic(kafka_bootstrap, topics.status, 4)
        await asyncio.sleep(1)  # nothing else goes out at night
        assert len(await emulator.accepted()) == 1
        assert "đã có kết quả" in night[0]["text"]  # urgent: sent at once
        by_event = {}
        for record in statuses:
            status = json.loads(record.value)
            by_event.setdefault(status["event_id"], []).append((status["status"], status["reason"]))
        assert by_event[a["event_id"]] == [("held", "quiet_hours")]
        assert by_event[b_progress["event_id"]] == [
            ("held", "quiet_hours"),
            ("suppressed", "superseded"),
        ]
        assert by_event[b_ready["event_id"]] == [("delivered", None)]

        clock.now = datetime(2026, 11, 30, 7, 0, 5, tzinfo=HCM).timestamp()
        morning = await emulator.wait_for_accepted(2)
        await asyncio.sleep(1)  # the superseded one stays dropped
        accepted = await emulator.accepted()
    assert len(morning) == 2
    assert len(accepted) == 2
    assert Counter(m["user_id"] for m in accepted) == {USER: 1, OTHER_USER: 1}
    released = [m for m in accepted if m["user_id"] == USER]
    assert "đã được chuyển cho cán bộ chuyên môn xử lý" in released[0]["text"]
    statuses = [json.loads(r.value) for r in await read_topic(kafka_bootstrap, topics.status, 5)]
    assert [(s["status"], s["reason"]) for s in statuses if s["event_id"] == a["event_id"]] == [
        ("held", "quiet_hours"),
        ("delivered", None),
    ]
