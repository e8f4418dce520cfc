"""The `/_emulator/` admin API: health, message log and its filters, config, unknown routes."""

from __future__ import annotations

import pytest

from bridge_devkit.emulator import CS_MESSAGE_PATH


class TestHealth:
    async def test_reports_ok_and_identity(self, client, send):
        await send()

        health = (await client.get("/_emulator/health")).json()

        assert health == {
            "status": "ok",
            "app_id": "3066521851012345678",
            "oa_id": "1646843870823903717",
            "time": "2026-11-30T10:00:30.000+00:00",
            "messages": 1,
        }


class TestMessageLog:
    async def test_filters_by_user(self, client, send, messages, follower_id):
        await client.put("/_emulator/followers", json=[{"user_id": "b"}])
        await send("to a")
        await send("to b", user_id="b")
        await send("to a again")

        mine = await messages(user_id=follower_id)
        theirs = await messages(user_id="b")

        assert [m["text"] for m in mine] == ["to a", "to a again"]
        assert [m["text"] for m in theirs] == ["to b"]
        assert await messages(user_id="nobody") == []

    async def test_status_filter(self, send, messages):
        await send("ok")
        await send("refused", user_id="stranger")

        assert [m["text"] for m in await messages()] == ["ok"]
        assert [m["text"] for m in await messages(status="accepted")] == ["ok"]
        assert [m["text"] for m in await messages(status="rejected")] == ["refused"]
        assert [m["text"] for m in await messages(status="all")] == ["ok", "refused"]

    async def test_user_and_status_filters_combine(self, send, messages, follower_id):
        await send("ok")
        await send("", user_id=follower_id)  # -201

        [record] = await messages(user_id=follower_id, status="rejected")
        assert record["error"] == -201

    async def test_bad_status_is_400(self, client):
        response = await client.get("/_emulator/messages", params={"status": "some"})

        assert response.status_code == 400

    async def test_pages_by_seq_and_limit(self, send, messages):
        for text in ("one", "two", "three", "four"):
            await send(text)

        first = await messages(limit="2")
        rest = await messages(after_seq=str(first[-1]["seq"]), limit="10")

        assert [m["text"] for m in first] == ["one", "two"]
        assert [m["text"] for m in rest] == ["three", "four"]
        assert await messages(after_seq=str(rest[-1]["seq"])) == []

    @pytest.mark.parametrize("param", ["after_seq", "limit"])
    async def test_a_bad_page_parameter_is_refused(self, client, param):
        response = await client.get("/_emulator/messages", params={param: "-1"})

        assert response.status_code == 400
        assert param in response.json()["error"]

    async def test_delete_resets_the_log(self, client, send, messages):
        await send("one")
        await send("two", user_id="stranger")

        response = await client.delete("/_emulator/messages")

        assert response.json() == {"deleted": 2}
        assert await messages(status="all") == []
        await send("three")
        [record] = await messages()
        assert record["text"] == "three"
        assert record["seq"] == 3  # arrival numbers are never reused


class TestConfig:
    async def test_get_shows_the_knobs(self, client):
        config = (await client.get("/_emulator/config")).json()

        assert config == {
            "app_id": "3066521851012345678",
            "oa_id": "1646843870823903717",
            "latency_ms": 0.0,
            "latency_jitter_ms": 0.0,
            "rate_limit_per_minute": 4000,
            "interaction_window_days": 7.0,
            "include_quota": False,
            "max_text_length": 2000,
            "oa_name": "UBND tỉnh (emulator)",
            "max_buttons": 5,
            "max_button_title_length": 35,
            "max_query_payload_length": 200,
            "max_list_elements": 5,
            "max_request_title_length": 100,
            "max_request_subtitle_length": 500,
            "button_templates": True,
            "conversation_count_over_limit": "reject",
            "error_code_overrides": {},
        }

    async def test_put_changes_only_the_given_knobs(self, client):
        response = await client.put(
            "/_emulator/config", json={"latency_ms": 5, "latency_jitter_ms": 2}
        )

        config = response.json()
        assert (config["latency_ms"], config["latency_jitter_ms"]) == (5, 2)
        assert config["rate_limit_per_minute"] == 4000
        assert (await client.get("/_emulator/config")).json() == config

    @pytest.mark.parametrize(
        "payload",
        [
            {"latency_ms": -1},
            {"rate_limit_per_minute": -5},
            {"interaction_window_days": 0},
            {"colour": "red"},
            [],
        ],
        ids=["negative-latency", "negative-limit", "zero-window", "unknown-knob", "not-object"],
    )
    async def test_bad_values_are_400_and_change_nothing(self, client, payload):
        before = (await client.get("/_emulator/config")).json()

        response = await client.put("/_emulator/config", json=payload)

        assert response.status_code == 400
        assert (await client.get("/_emulator/config")).json() == before

    async def test_non_json_admin_body_is_400(self, client):
        response = await client.put("/_emulator/config", content=b"{oops")

        assert response.status_code == 400


class TestUnknownRoutes:
    async def test_unknown_path_is_404_json(self, client):
        response = await client.post("/v2.0/oa/message", json={})

        assert response.status_code == 404
        assert response.json() == {"error": 404, "message": "Not Found", "path": "/v2.0/oa/message"}

    async def test_wrong_method_is_405_json(self, client):
        response = await client.get(CS_MESSAGE_PATH)

        assert response.status_code == 405
        assert response.json()["error"] == 405
        assert response.headers["Allow"] == "POST"
