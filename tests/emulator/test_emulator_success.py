"""A successful consultation send: Zalo's envelope, string ids, unique message ids, the record."""

from __future__ import annotations

import asyncio
import re

import httpx

from bridge_devkit.emulator import EmulatorConfig, Follower
from bridge_devkit.emulator.ids import MessageIdGenerator

MESSAGE_ID = re.compile(r"^[0-9a-f]{20}$")
START_MS = "1796032830000"  # 2026-11-30T10:00:30Z


class TestSuccessEnvelope:
    async def test_has_zalo_shape_with_string_ids(self, send, follower_id):
        response = await send()

        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("application/json")
        payload = response.json()
        assert set(payload) == {"data", "error", "message"}
        assert payload["error"] == 0
        assert payload["message"] == "Success"
        data = payload["data"]
        assert set(data) == {"message_id", "user_id", "sent_time"}
        assert MESSAGE_ID.match(data["message_id"])
        assert data["user_id"] == follower_id
        assert data["sent_time"] == START_MS
        assert all(isinstance(value, str) for value in data.values())

    async def test_sent_time_follows_the_clock(self, send, clock):
        clock.advance(1.234)

        assert (await send()).json()["data"]["sent_time"] == "1796032831234"

    async def test_message_ids_are_unique(self, send):
        answers = await asyncio.gather(*(send(f"tin {i}") for i in range(300)))

        ids = [a.json()["data"]["message_id"] for a in answers]
        assert len(set(ids)) == 300
        assert all(MESSAGE_ID.match(i) for i in ids)

    async def test_no_quota_object_by_default(self, send):
        assert "quota" not in (await send()).json()["data"]

    async def test_quota_object_is_an_option(self, client, send, clock):
        await client.put("/_emulator/config", json={"include_quota": True})

        fresh = (await send()).json()["data"]["quota"]
        clock.advance(48 * 3600)  # last interaction now 49 h ago
        billed = (await send()).json()["data"]["quota"]

        assert fresh == {"quota_type": "reply", "remain": "8", "total": "8"}
        assert billed["quota_type"] == "sub_quota"

    async def test_quota_can_be_configured_at_start(self, start, clock, follower_id):
        config = EmulatorConfig(
            include_quota=True, followers=(Follower(follower_id, "A", clock.now),)
        )
        emulator = await start(config)
        async with httpx.AsyncClient(base_url=emulator.base_url) as client:
            response = await client.post(
                "/v3.0/oa/message/cs",
                json={"recipient": {"user_id": follower_id}, "message": {"text": "x"}},
                headers={"access_token": "dev-access-token"},
            )
        assert response.json()["data"]["quota"]["quota_type"] == "reply"

    async def test_text_is_recorded_unescaped_utf8(self, client, send):
        await send("Đã tiếp nhận")

        response = await client.get("/_emulator/messages")

        assert "Đã tiếp nhận".encode() in response.content


class TestSuccessRecord:
    async def test_accepted_message_is_recorded_with_its_answer(self, send, messages, follower_id):
        answer = (await send("Hồ sơ H10-0001 đã có kết quả.")).json()["data"]

        [record] = await messages()

        assert record == {
            "seq": 1,
            "message_id": answer["message_id"],
            "user_id": follower_id,
            "text": "Hồ sơ H10-0001 đã có kết quả.",
            "body": {
                "recipient": {"user_id": follower_id},
                "message": {"text": "Hồ sơ H10-0001 đã có kết quả."},
            },
            "raw_body": None,
            "received_at": "2026-11-30T10:00:30.000+00:00",
            "sent_time": answer["sent_time"],
            "endpoint": "/v3.0/oa/message/cs",
            "accepted": True,
            "error": 0,
            "http_status": 200,
            "fault": None,
        }

    async def test_records_keep_arrival_order(self, send, messages):
        for i in range(5):
            await send(f"tin {i}")

        records = await messages()

        assert [r["text"] for r in records] == [f"tin {i}" for i in range(5)]
        assert [r["seq"] for r in records] == [1, 2, 3, 4, 5]


class TestMessageIdGenerator:
    def test_ids_never_repeat(self):
        new_id = MessageIdGenerator(salt=0)

        ids = {new_id() for _ in range(50_000)}

        assert len(ids) == 50_000

    def test_salt_changes_the_sequence(self):
        assert MessageIdGenerator(salt=1)() != MessageIdGenerator(salt=2)()
