"""The channel cascade on the real broker, against the emulator's window and templates."""

from __future__ import annotations

import json
import uuid

import pytest
from pydantic import HttpUrl

from bridge.app import create_app
from bridge.delivery.settings import CascadeSettings
from support import USER, read_all, read_topic, settled

pytestmark = pytest.mark.kafka

OLD_FOLLOWER = "3100200300400500"
STRANGER = "999000111"
PHONE = "0912345678"
PHONE_WITHOUT_ZALO = "0987654321"
PARAMS = ["ma_ho_so", "ten_thu_tuc", "trang_thai", "ngay_hen_tra", "don_vi_xu_ly", "tra_cuu"]


def template(template_id: str, *, allow_uid: bool) -> dict:
    params = [
        {"name": name, "max_length": 200, "required": name != "ngay_hen_tra"} for name in PARAMS
    ]
    return {"template_id": template_id, "params": params, "allow_uid": allow_uid}


@pytest.fixture
async def cascade_settings(bridge_settings, emulator):
    templates = [template("tpl-uid", allow_uid=True), template("tpl-phone", allow_uid=False)]
    (await emulator.http.put("/_emulator/templates", json=templates)).raise_for_status()
    zbs = {"phones_without_account": [PHONE_WITHOUT_ZALO]}
    (await emulator.http.put("/_emulator/zbs", json=zbs)).raise_for_status()
    await emulator.follow(OLD_FOLLOWER, days_ago=10)
    zalo = bridge_settings.zalo.model_copy(update={"business_base_url": HttpUrl(emulator.base_url)})
    cascade = CascadeSettings(template_id_uid="tpl-uid", template_id_phone="tpl-phone")
    return bridge_settings.model_copy(update={"zalo": zalo, "cascade": cascade})


def case_code(n: int) -> str:
    return f"000.20.31.H56-260310-{n:04d}"


class TestCascadeOnKafka:
    async def test_window_closed_then_phone_then_unreachable(
        self, cascade_settings, emulator, publish, make_event, encode, kafka_bootstrap, topics
    ):
        window_closed = make_event(
            case={"code": case_code(1)}, recipient={"zalo_user_id": OLD_FOLLOWER}
        )
        by_phone = make_event(
            case={"code": case_code(2)}, recipient={"zalo_user_id": None, "phone": PHONE}
        )
        nothing = make_event(
            case={"code": case_code(3)},
            recipient={"zalo_user_id": STRANGER, "phone": PHONE_WITHOUT_ZALO},
        )
        inside = make_event(case={"code": case_code(4)})
        events = [window_closed, by_phone, nothing, inside]
        for event in events:
            await publish(encode(event), key=event["case"]["code"])
        async with create_app(cascade_settings):
            await settled(kafka_bootstrap, topics.group, topics.input, len(events))
            statuses = await read_all(kafka_bootstrap, topics.status, committed=True)
        by_event = {json.loads(r.value)["event_id"]: json.loads(r.value) for r in statuses}
        assert len(by_event) == len(events)

        accepted = await emulator.accepted()
        assert len(accepted) == 3
        to_old = [m for m in accepted if m["user_id"] == OLD_FOLLOWER]
        assert [(m["endpoint"], m["template_id"]) for m in to_old] == [
            ("/v3.0/oa/message/template", "tpl-uid")
        ]
        assert to_old[0]["template_data"]["ma_ho_so"] == case_code(1)
        assert to_old[0]["template_data"]["trang_thai"] == "Được tiếp nhận"
        [phoned] = [m for m in accepted if m.get("phone") == "84912345678"]
        assert (phoned["endpoint"], phoned["template_id"]) == ("/message/template", "tpl-phone")
        assert phoned["tracking_id"] == uuid.UUID(by_phone["event_id"]).hex
        [text] = [m for m in accepted if m["user_id"] == USER]
        assert text["endpoint"] == "/v3.0/oa/message/cs"

        first = by_event[window_closed["event_id"]]
        assert (first["status"], first["channel"]) == ("delivered", "zalo_template_uid")
        assert [(d["channel"], d["reason"]) for d in first["deliveries"]] == [
            ("zalo_cs", "unreachable:-230"),
            ("zalo_template_uid", None),
        ]
        second = by_event[by_phone["event_id"]]
        assert (second["status"], second["channel"]) == ("delivered", "zalo_template_phone")
        assert second["zalo_message_id"] == phoned["message_id"]
        third = by_event[nothing["event_id"]]
        assert third["status"] == "failed"
        assert third["reason"].startswith("unreachable")
        assert [(d["channel"], d["reason"]) for d in third["deliveries"]] == [
            ("zalo_cs", "unreachable:-213"),
            ("zalo_template_uid", "unreachable:-213"),
            ("zalo_template_phone", "unreachable:-118"),
        ]
        fourth = by_event[inside["event_id"]]
        assert (fourth["status"], fourth["channel"], len(fourth["deliveries"])) == (
            "delivered",
            "zalo_cs",
            1,
        )
        refused = await emulator.messages(status="rejected")
        assert sorted(m["error"] for m in refused) == [-230, -213, -213, -118]
        assert await read_all(kafka_bootstrap, topics.dead_letter) == []

    async def test_a_template_send_whose_answer_was_lost_is_held_and_sent_once_more(
        self, cascade_settings, emulator, publish, make_event, encode, kafka_bootstrap, topics
    ):
        """Templates cannot be found in the conversation: in doubt, they follow the hold."""
        delivery = cascade_settings.delivery.model_copy(update={"in_doubt_hold_seconds": 0.5})
        settings = cascade_settings.model_copy(update={"delivery": delivery})
        await emulator.fault(kind="drop", endpoint="/v3.0/oa/message/template", count=1)
        event = make_event(case={"code": case_code(5)}, recipient={"zalo_user_id": OLD_FOLLOWER})
        await publish(encode(event), key=case_code(5))
        async with create_app(settings):
            [status] = await read_topic(kafka_bootstrap, topics.status, 1, timeout=30)
        calls = await emulator.messages(status="all")
        assert [(m["endpoint"], m["error"]) for m in calls] == [
            ("/v3.0/oa/message/cs", -230),
            ("/v3.0/oa/message/template", None),
            ("/v3.0/oa/message/template", 0),
        ]
        body = json.loads(status.value)
        assert (body["status"], body["channel"]) == ("delivered", "zalo_template_uid")
        assert body["deliveries"][1]["attempts"] == 2
