"""The access-token rule of the emulated send endpoint: -216 unknown, -220 expired."""

from __future__ import annotations

import httpx

from bridge_devkit.emulator import CS_MESSAGE_PATH, DEV_ACCESS_TOKEN, EmulatorConfig, Follower

INVALID = {"error": -216, "message": "Access token is invalid"}
EXPIRED = {"error": -220, "message": "access_token is expired or removed"}


class TestAccessToken:
    async def test_missing_header_is_invalid_with_http_200(self, send):
        response = await send(token=None)

        assert response.status_code == 200
        assert response.json() == INVALID

    async def test_unknown_token_is_invalid(self, send):
        response = await send(token="not-a-token")

        assert response.json() == INVALID

    async def test_empty_token_is_invalid(self, send):
        response = await send(token="")

        assert response.json() == INVALID

    async def test_bearer_authorization_is_not_the_zalo_header(self, client, follower_id):
        body = {"recipient": {"user_id": follower_id}, "message": {"text": "x"}}
        response = await client.post(
            CS_MESSAGE_PATH, json=body, headers={"Authorization": f"Bearer {DEV_ACCESS_TOKEN}"}
        )

        assert response.json() == INVALID

    async def test_default_dev_token_is_accepted(self, send):
        response = await send(token=DEV_ACCESS_TOKEN)

        assert response.json()["error"] == 0

    async def test_token_added_through_admin_api_works_until_it_expires(self, client, send, clock):
        added = await client.post(
            "/_emulator/tokens", json={"access_token": "tok-1", "expires_in": 60}
        )
        assert added.status_code == 201
        assert added.json()["expires_at"] == "2026-11-30T10:01:30.000+00:00"

        assert (await send(token="tok-1")).json()["error"] == 0
        clock.advance(59.9)
        assert (await send(token="tok-1")).json()["error"] == 0
        clock.advance(0.1)
        assert (await send(token="tok-1")).json() == EXPIRED

    async def test_token_with_past_expiry_is_expired_not_invalid(self, client, send):
        await client.post(
            "/_emulator/tokens",
            json={"access_token": "old", "expires_at": "2026-11-30T09:00:00Z"},
        )

        assert (await send(token="old")).json() == EXPIRED

    async def test_posting_a_token_again_renews_it(self, client, send):
        await client.post("/_emulator/tokens", json={"access_token": "t", "expires_in": 0})
        assert (await send(token="t")).json() == EXPIRED

        await client.post("/_emulator/tokens", json={"access_token": "t", "expires_in": None})

        assert (await send(token="t")).json()["error"] == 0

    async def test_default_token_lifetime_is_25_hours(self, client, send, clock):
        await client.post("/_emulator/tokens", json={"access_token": "t25"})

        clock.advance(25 * 3600 - 1)
        assert (await send(token="t25")).json()["error"] == 0
        clock.advance(1)
        assert (await send(token="t25")).json() == EXPIRED

    async def test_configured_tokens_expire_after_their_ttl(self, start, clock, follower_id):
        config = EmulatorConfig(
            access_tokens=("a", "b"),
            access_token_ttl_s=10,
            followers=(Follower(follower_id, "A", clock.now),),
        )
        emulator = await start(config)
        async with httpx.AsyncClient(base_url=emulator.base_url) as client:
            body = {"recipient": {"user_id": follower_id}, "message": {"text": "x"}}

            async def post(token):
                response = await client.post(
                    CS_MESSAGE_PATH, json=body, headers={"access_token": token}
                )
                return response.json()

            assert (await post("a"))["error"] == 0
            assert (await post("b"))["error"] == 0
            assert (await post(DEV_ACCESS_TOKEN)) == INVALID
            clock.advance(10)
            assert (await post("a")) == EXPIRED

    async def test_token_is_checked_before_the_body(self, send):
        response = await send(token=None, content=b"not json")

        assert response.json() == INVALID

    async def test_rejections_are_logged_with_their_error(self, send, messages):
        await send(token="nope")

        assert await messages() == []
        [record] = await messages(status="rejected")
        assert record["error"] == -216
        assert record["accepted"] is False
        assert record["message_id"] is None

    async def test_tokens_are_listed(self, client):
        await client.post("/_emulator/tokens", json={"access_token": "x", "expires_in": None})

        tokens = (await client.get("/_emulator/tokens")).json()["tokens"]

        assert {"access_token": "x", "expires_at": None, "revoked": False} in tokens
        assert DEV_ACCESS_TOKEN in [t["access_token"] for t in tokens]

    async def test_token_admin_call_rejects_bad_input(self, client):
        response = await client.post("/_emulator/tokens", json={"access_token": ""})

        assert response.status_code == 400
        assert response.json()["error"] == "invalid request body"
