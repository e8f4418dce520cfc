"""`GET /v2.0/oa/conversation`: token, budget, `data` checks, answer shape, faults, read log."""

from __future__ import annotations

import json

import httpx
import pytest

from bridge_devkit.emulator import CONVERSATION_PATH, DEV_ACCESS_TOKEN, EmulatorConfig, Follower
from bridge_devkit.emulator.conversation import format_sent_time

INVALID_TOKEN = {"error": -216, "message": "Access token is invalid"}
EXPIRED_TOKEN = {"error": -220, "message": "access_token is expired or removed"}
OA_ID = EmulatorConfig().oa_id
FOLLOWER_ID = "2512523625412515"  # the conftest's follower, who interacted an hour ago


@pytest.fixture
def read(client):
    """GET the conversation; `data` is sent as JSON unless it is a str (sent as is) or None."""

    async def _read(
        data: object = None, *, token: str | None = DEV_ACCESS_TOKEN, **fields
    ) -> httpx.Response:
        if data is None:
            data = {"user_id": FOLLOWER_ID, "offset": 0, "count": 10, **fields}
        headers = {} if token is None else {"access_token": token}
        params = (
            {} if data is ... else {"data": data if isinstance(data, str) else json.dumps(data)}
        )
        return await client.get(CONVERSATION_PATH, params=params, headers=headers)

    return _read


async def _items(response: httpx.Response) -> list[dict]:
    assert response.status_code == 200
    body = response.json()
    assert (body["error"], body["message"]) == (0, "Success"), body
    return list(body["data"])


class TestToken:
    async def test_missing_header_is_invalid_with_http_200(self, read):
        response = await read(token=None)

        assert response.status_code == 200
        assert response.json() == INVALID_TOKEN

    async def test_unknown_token_is_invalid(self, read):
        assert (await read(token="nope")).json() == INVALID_TOKEN

    async def test_expired_token_is_expired(self, read, client):
        await client.post("/_emulator/tokens", json={"access_token": "old", "expires_in": 0})

        assert (await read(token="old")).json() == EXPIRED_TOKEN

    async def test_revoked_token_is_expired(self, read, client):
        await client.post("/_emulator/tokens/revoke", json={"access_token": DEV_ACCESS_TOKEN})

        assert (await read()).json() == EXPIRED_TOKEN

    async def test_token_is_checked_before_data(self, read):
        assert (await read("not json", token=None)).json() == INVALID_TOKEN


class TestRateLimit:
    async def test_reads_use_the_send_budget(self, start, config, follower_id):
        emulator = await start(EmulatorConfig(followers=config.followers, rate_limit_per_minute=2))
        async with httpx.AsyncClient(base_url=emulator.base_url) as client:
            headers = {"access_token": DEV_ACCESS_TOKEN}
            params = {"data": json.dumps({"user_id": follower_id})}
            send = await client.post(
                "/v3.0/oa/message/cs",
                json={"recipient": {"user_id": follower_id}, "message": {"text": "x"}},
                headers=headers,
            )
            first = await client.get(CONVERSATION_PATH, params=params, headers=headers)
            second = await client.get(CONVERSATION_PATH, params=params, headers=headers)

        assert send.json()["error"] == 0
        assert first.json()["error"] == 0
        assert first.headers["X-RateLimit-Remain"] == "0"
        assert second.json() == {"error": -32, "message": "Your application reached limit call api"}

    async def test_no_rate_headers_when_the_limiter_is_off(self, start, config):
        emulator = await start(EmulatorConfig(followers=config.followers, rate_limit_per_minute=0))
        async with httpx.AsyncClient(base_url=emulator.base_url) as client:
            response = await client.get(
                CONVERSATION_PATH,
                params={"data": json.dumps({"user_id": FOLLOWER_ID})},
                headers={"access_token": DEV_ACCESS_TOKEN},
            )

        assert response.json()["error"] == 0
        assert "X-RateLimit-Limit" not in response.headers


class TestDataParameter:
    @pytest.mark.parametrize(
        "data",
        [..., "", "not json", "[1, 2]", '"text"', "null"],
        ids=["missing", "empty", "not-json", "list", "string", "null"],
    )
    async def test_data_that_is_not_an_object_is_201(self, read, data):
        response = await read(data)

        assert response.status_code == 200
        assert response.json() == {"error": -201, "message": "data is invalid!"}

    @pytest.mark.parametrize(
        "user_id", [None, "", -1, ["x"], 1.5], ids=["absent", "empty", "negative", "list", "float"]
    )
    async def test_bad_user_id_is_201(self, read, user_id):
        data = {"offset": 0, "count": 1} if user_id is None else {"user_id": user_id}

        assert (await read(data)).json() == {"error": -201, "message": "user_id is invalid!"}

    @pytest.mark.parametrize(
        "offset",
        [-1, "-1", "x", 1.5, True],
        ids=["negative", "negative-str", "str", "float", "bool"],
    )
    async def test_bad_offset_is_201(self, read, offset):
        response = await read({"user_id": FOLLOWER_ID, "offset": offset, "count": 1})

        assert response.json() == {"error": -201, "message": "offset is invalid!"}

    @pytest.mark.parametrize(
        "count", [0, -3, "five", "0", None], ids=["zero", "negative", "str", "zero-str", "null"]
    )
    async def test_bad_count_is_201(self, read, count):
        response = await read({"user_id": FOLLOWER_ID, "offset": 0, "count": count})

        assert response.json() == {"error": -201, "message": "count is invalid!"}

    async def test_count_above_10_is_210(self, read):
        response = await read(count=11)

        assert response.json() == {"error": -210, "message": "Parameter exceeds allowable limit"}

    async def test_count_10_is_allowed(self, read):
        assert await _items(await read(count=10)) == []

    async def test_offset_and_count_default_to_0_and_10(self, read, send):
        for n in range(12):
            await send(f"tin {n}")

        items = await _items(await read({"user_id": FOLLOWER_ID}))

        assert [item["message"] for item in items] == [f"tin {n}" for n in range(11, 1, -1)]

    async def test_offset_is_checked_before_count(self, read):
        response = await read(offset=-1, count=50)

        assert response.json()["error"] == -201


class TestAnswer:
    async def test_item_shape(self, read, send, clock):
        sent = (await send("Hồ sơ đã được tiếp nhận.")).json()["data"]

        [item] = await _items(await read())

        assert item == {
            "src": 0,
            "time": int(clock.now * 1000),
            "sent_time": "17:00:30 30/11/2026",
            "from_id": OA_ID,
            "from_display_name": "UBND tỉnh (emulator)",
            "from_avatar": "",
            "to_id": FOLLOWER_ID,
            "to_display_name": "Nguyễn Văn A",
            "to_avatar": "",
            "message_id": sent["message_id"],
            "type": "text",
            "message": "Hồ sơ đã được tiếp nhận.",
        }
        assert isinstance(item["time"], int)
        assert str(item["time"]) == sent["sent_time"]

    def test_sent_time_is_vietnam_time(self):
        assert format_sent_time(0) == "07:00:00 01/01/1970"

    async def test_newest_first(self, read, send, clock):
        for n in range(3):
            await send(f"tin {n}")
            clock.advance(1)

        items = await _items(await read())

        assert [item["message"] for item in items] == ["tin 2", "tin 1", "tin 0"]
        assert items[0]["time"] - items[2]["time"] == 2000

    async def test_offset_and_count_page_through(self, read, send):
        for n in range(7):
            await send(f"tin {n}")

        first = await _items(await read(offset=0, count=3))
        second = await _items(await read(offset=3, count=3))
        third = await _items(await read(offset=6, count=3))
        beyond = await _items(await read(offset=7, count=3))

        pages = [[item["message"] for item in page] for page in (first, second, third, beyond)]
        assert pages == [["tin 6", "tin 5", "tin 4"], ["tin 3", "tin 2", "tin 1"], ["tin 0"], []]

    async def test_only_accepted_messages_are_listed(self, read, send, client):
        await client.post("/_emulator/faults", json={"kind": "error", "error": -200})
        await send("lost")
        await send("x" * 2001)
        await send("kept")

        items = await _items(await read())

        assert [item["message"] for item in items] == ["kept"]

    async def test_a_message_in_doubt_is_listed(self, read, send, client):
        await client.post("/_emulator/faults", json={"kind": "delay", "ms": 1000})
        with pytest.raises(httpx.ReadTimeout):
            await send("in doubt", timeout=0.1)

        [item] = await _items(await read())

        assert item["message"] == "in doubt"

    async def test_only_that_users_messages(self, read, send, client):
        await client.put("/_emulator/followers", json=[{"user_id": "other"}])
        await send("mine")
        await send("theirs", user_id="other")

        mine = await _items(await read())
        theirs = await _items(await read({"user_id": "other"}))

        assert [item["message"] for item in mine] == ["mine"]
        assert [(item["to_id"], item["message"]) for item in theirs] == [("other", "theirs")]

    async def test_unknown_user_gets_an_empty_list(self, read):
        assert await _items(await read({"user_id": "nobody"})) == []

    async def test_attachment_shows_its_type_and_caption(self, read, send):
        body = {
            "recipient": {"user_id": FOLLOWER_ID},
            "message": {
                "text": "ảnh",
                "attachment": {
                    "type": "template",
                    "payload": {
                        "template_type": "media",
                        "elements": [{"media_type": "image", "url": "https://x.vn/a.png"}],
                    },
                },
            },
        }
        await send(body=body)

        [item] = await _items(await read())

        assert (item["type"], item["message"]) == ("photo", "ảnh")
        assert (item["url"], item["thumb"], item["description"]) == ("https://x.vn/a.png",) * 2 + (
            "ảnh",
        )

    async def test_post_is_405(self, client):
        response = await client.post(CONVERSATION_PATH, json={})

        assert response.status_code == 405


class TestFaults:
    async def test_error_fault_answers_the_code(self, read, client):
        await client.post("/_emulator/faults", json={"kind": "error", "error": -200})

        assert (await read()).json() == {"error": -200, "message": "Send message failed"}

    async def test_http_fault_answers_the_status(self, read, client):
        await client.post("/_emulator/faults", json={"kind": "http", "status": 502})

        assert (await read()).status_code == 502

    async def test_drop_fault_closes_the_connection(self, read, client):
        await client.post("/_emulator/faults", json={"kind": "drop"})

        with pytest.raises(httpx.RemoteProtocolError):
            await read()

    async def test_user_fault_matches_the_read_user(self, read, client):
        await client.post(
            "/_emulator/faults", json={"kind": "error", "error": -200, "user_id": "other"}
        )

        assert (await read()).json()["error"] == 0
        assert (await read({"user_id": "other"})).json()["error"] == -200

    async def test_endpoint_filter_spares_reads(self, read, client, send):
        await client.post(
            "/_emulator/faults",
            json={"kind": "error", "error": -200, "endpoint": "/v3.0/oa/message/cs"},
        )

        assert (await read()).json()["error"] == 0
        assert (await send()).json()["error"] == -200


class TestReadLog:
    async def test_reads_are_logged_apart_from_messages(self, read, send, client, messages):
        await send("one")
        await read(offset=0, count=5)
        await read(token=None)

        reads = (await client.get("/_emulator/reads")).json()
        assert reads["count"] == 2
        ok, refused = reads["reads"]
        assert ok == {
            "seq": 1,
            "endpoint": CONVERSATION_PATH,
            "user_id": FOLLOWER_ID,
            "offset": 0,
            "count": 5,
            "returned": 1,
            "received_at": "2026-11-30T10:00:30.000+00:00",
            "error": 0,
            "http_status": 200,
            "fault": None,
        }
        assert (refused["error"], refused["returned"], refused["user_id"]) == (-216, 0, FOLLOWER_ID)
        assert [m["text"] for m in await messages(status="all")] == ["one"]

    async def test_faulted_reads_are_logged_with_the_fault(self, read, client):
        await client.post("/_emulator/faults", json={"kind": "http", "status": 503})
        await read()

        [record] = (await client.get("/_emulator/reads")).json()["reads"]

        assert (record["fault"], record["http_status"], record["error"]) == ("http", 503, None)

    async def test_filter_by_user_and_clear(self, read, client):
        await read()
        await read({"user_id": "other"})

        mine = (await client.get("/_emulator/reads", params={"user_id": FOLLOWER_ID})).json()
        cleared = (await client.delete("/_emulator/reads")).json()

        assert [r["user_id"] for r in mine["reads"]] == [FOLLOWER_ID]
        assert cleared == {"deleted": 2}
        assert (await client.get("/_emulator/reads")).json() == {"count": 0, "reads": []}

    async def test_log_is_bounded_like_the_message_log(self, start, clock):
        config = EmulatorConfig(
            followers=(Follower(FOLLOWER_ID, "A", clock.now),), max_log_entries=2
        )
        emulator = await start(config)
        async with httpx.AsyncClient(base_url=emulator.base_url) as client:
            for _ in range(3):
                await client.get(
                    CONVERSATION_PATH,
                    params={"data": json.dumps({"user_id": FOLLOWER_ID})},
                    headers={"access_token": DEV_ACCESS_TOKEN},
                )
            reads = (await client.get("/_emulator/reads")).json()["reads"]

        assert [r["seq"] for r in reads] == [2, 3]
