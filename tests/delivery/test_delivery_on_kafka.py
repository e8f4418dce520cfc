"""The bridge in-process on the real broker, sending to the real emulator over HTTP."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from bridge.app import create_app
from support import OTHER_USER, USER, read_all, read_topic, settled

pytestmark = pytest.mark.kafka

CASE_A = "000.20.31.H56-260310-0042"
CASE_B = "000.20.31.H56-260310-0043"


def states_of(case_code, make_event, states):
    return [
        make_event(
            sequence=i,
            state=state,
            case={"code": case_code},
            recipient={"zalo_user_id": USER if case_code == CASE_A else OTHER_USER},
        )
        for i, state in enumerate(states, start=1)
    ]


async def committed_offsets(bootstrap, group, topic):
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        return {p: await consumer.committed(TopicPartition(topic, p)) for p in range(3)}
    finally:
        await consumer.stop()


class TestDeliveryOnKafka:
    async def test_each_event_reaches_its_citizen_once_in_order(
        self, bridge_settings, emulator, publish, make_event, encode, kafka_bootstrap, topics
    ):
        a = states_of(
            CASE_A, make_event, ["RECEIVED", "IN_PROGRESS", "RESULT_READY", "RESULT_RETURNED"]
        )
        b = states_of(CASE_B, make_event, ["SUBMITTED", "RECEIVED"])
        for event in [*a, *b]:
            await publish(encode(event), key=event["case"]["code"])
        async with create_app(bridge_settings):
            await settled(kafka_bootstrap, topics.group, topics.input, 6)
            accepted = await emulator.accepted()
        assert len(accepted) == 6
        to_a = [m["text"] for m in accepted if m["user_id"] == USER]
        to_b = [m["text"] for m in accepted if m["user_id"] == OTHER_USER]
        assert [t.split("\n")[1].split("của Ông/Bà ")[1] for t in to_a] == [
            "đã được tiếp nhận.",
            "đã được chuyển cho cán bộ chuyên môn xử lý.",
            (
                "đã có kết quả. Ông/Bà vui lòng nhận kết quả tại Trung tâm Phục vụ hành chính "
                "công phường Hạc Thành."
            ),
            "đã được trả kết quả. Cảm ơn Ông/Bà đã sử dụng dịch vụ.",
        ]
        assert "đang chờ tiếp nhận" in to_b[0]
        assert f"• Mã hồ sơ: {CASE_A}" in to_a[0]
        assert "• Ngày hẹn trả kết quả: 13/03/2026" in to_a[0]

    async def test_bad_records_go_to_the_dlq_and_the_next_good_one_is_delivered(
        self, bridge_settings, emulator, publish, make_event, encode, kafka_bootstrap, topics
    ):
        bad = [
            (b"{not json", "invalid_json"),
            (encode(make_event(state="APPROVED")), "unknown_state"),
            (b"\xff\xfe\x00", "not_utf8"),
            (encode(make_event(reason="x" * 70_000)), "oversize"),
            (encode({"event_id": "not-a-uuid"}), "schema_violation"),
        ]
        for value, _ in bad:
            await publish(value, key=CASE_A, headers=[("trace-id", b"\x9f\x00raw")])
        good = make_event(state="RESULT_READY")
        await publish(encode(good), key=CASE_A)
        async with create_app(bridge_settings):
            accepted = await emulator.wait_for_accepted(1)
            parked = await read_topic(kafka_bootstrap, topics.dead_letter, len(bad))
        assert len(accepted) == 1
        assert "đã có kết quả" in accepted[0]["text"]
        assert [r.value for r in parked] == [value for value, _ in bad]
        for record, (_, reason) in zip(parked, bad, strict=True):
            headers = dict(record.headers)
            assert headers["x-dlq-reason"] == reason.encode()
            assert headers["trace-id"] == b"\x9f\x00raw"
            assert headers["x-original-topic"] == topics.input.encode()
            assert record.key == CASE_A.encode()

    async def test_nothing_is_committed_while_zalo_refuses_the_account(
        self, bridge_settings, emulator, publish, make_event, encode, kafka_bootstrap, topics
    ):
        """A misconfigured OA stops delivery without losing or dead-lettering anything."""
        await emulator.fault(kind="error", error=-204, count=1000)
        event = make_event()
        await publish(encode(event), key=CASE_A)
        async with create_app(bridge_settings):
            await asyncio.sleep(3)
            blocked = await committed_offsets(kafka_bootstrap, topics.group, topics.input)
            assert await emulator.accepted() == []
            await emulator.clear_faults()
            await settled(kafka_bootstrap, topics.group, topics.input, 1)
            accepted = await emulator.accepted()
        assert all(offset is None for offset in blocked.values())
        assert len(accepted) == 1
        after = await committed_offsets(kafka_bootstrap, topics.group, topics.input)
        assert sum(offset or 0 for offset in after.values()) == 1
        assert await read_all(kafka_bootstrap, topics.dead_letter) == []

    async def test_transient_errors_are_retried_until_zalo_accepts(
        self, bridge_settings, emulator, publish, make_event, encode, kafka_bootstrap, topics
    ):
        await emulator.fault(kind="http", status=503, count=2)
        await emulator.fault(kind="error", error=-32, count=1)
        await publish(encode(make_event()), key=CASE_A)
        async with create_app(bridge_settings):
            await settled(kafka_bootstrap, topics.group, topics.input, 1)
            accepted = await emulator.accepted()
        assert len(accepted) == 1

    async def test_an_unreachable_citizen_does_not_block_the_next_one(
        self, bridge_settings, emulator, publish, make_event, encode
    ):
        stranger = make_event(recipient={"zalo_user_id": "999000111"})
        await publish(encode(stranger), key=CASE_A)
        await publish(encode(make_event()), key=CASE_A)
        async with create_app(bridge_settings):
            accepted = await emulator.wait_for_accepted(1)
        assert [m["user_id"] for m in accepted] == [USER]
        refused = await emulator.messages(status="rejected")
        assert [m["error"] for m in refused] == [-213]
