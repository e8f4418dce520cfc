"""Token invalidation for chaos runs: revoke (-220), restore, forget (-216), re-add."""

from __future__ import annotations

import pytest

from bridge_devkit.emulator import DEV_ACCESS_TOKEN

INVALID = {"error": -216, "message": "Access token is invalid"}
EXPIRED = {"error": -220, "message": "access_token is expired or removed"}


async def _tokens(client) -> dict[str, dict]:
    listed = (await client.get("/_emulator/tokens")).json()["tokens"]
    return {token["access_token"]: token for token in listed}


class TestRevoke:
    async def test_revoked_token_gets_220(self, client, send):
        response = await client.post(
            "/_emulator/tokens/revoke", json={"access_token": DEV_ACCESS_TOKEN}
        )

        assert response.status_code == 200
        assert response.json() == {
            "access_token": DEV_ACCESS_TOKEN,
            "expires_at": None,
            "revoked": True,
        }
        assert (await send()).json() == EXPIRED
        assert (await _tokens(client))[DEV_ACCESS_TOKEN]["revoked"] is True

    async def test_restore_makes_it_work_again_with_its_expiry(self, client, send):
        await client.post("/_emulator/tokens", json={"access_token": "t", "expires_in": 60})
        await client.post("/_emulator/tokens/revoke", json={"access_token": "t"})
        assert (await send(token="t")).json() == EXPIRED

        response = await client.post("/_emulator/tokens/restore", json={"access_token": "t"})

        assert response.json() == {
            "access_token": "t",
            "expires_at": "2026-11-30T10:01:30.000+00:00",
            "revoked": False,
        }
        assert (await send(token="t")).json()["error"] == 0

    async def test_restore_does_not_revive_an_expired_token(self, client, send, clock):
        await client.post("/_emulator/tokens", json={"access_token": "t", "expires_in": 10})
        await client.post("/_emulator/tokens/revoke", json={"access_token": "t"})
        clock.advance(10)

        await client.post("/_emulator/tokens/restore", json={"access_token": "t"})

        assert (await send(token="t")).json() == EXPIRED

    async def test_posting_the_token_again_also_re_adds_it(self, client, send):
        await client.post("/_emulator/tokens/revoke", json={"access_token": DEV_ACCESS_TOKEN})

        await client.post(
            "/_emulator/tokens", json={"access_token": DEV_ACCESS_TOKEN, "expires_in": None}
        )

        assert (await send()).json()["error"] == 0

    async def test_other_tokens_keep_working(self, client, send):
        await client.post("/_emulator/tokens", json={"access_token": "spare", "expires_in": None})

        await client.post("/_emulator/tokens/revoke", json={"access_token": DEV_ACCESS_TOKEN})

        assert (await send(token="spare")).json()["error"] == 0


class TestForget:
    async def test_forgotten_token_gets_216_until_posted_again(self, client, send):
        response = await client.post(
            "/_emulator/tokens/forget", json={"access_token": DEV_ACCESS_TOKEN}
        )

        assert response.json() == {"access_token": DEV_ACCESS_TOKEN, "forgotten": True}
        assert (await send()).json() == INVALID
        assert DEV_ACCESS_TOKEN not in await _tokens(client)

        await client.post(
            "/_emulator/tokens", json={"access_token": DEV_ACCESS_TOKEN, "expires_in": None}
        )
        assert (await send()).json()["error"] == 0

    async def test_restore_cannot_bring_back_a_forgotten_token(self, client):
        await client.post("/_emulator/tokens/forget", json={"access_token": DEV_ACCESS_TOKEN})

        response = await client.post(
            "/_emulator/tokens/restore", json={"access_token": DEV_ACCESS_TOKEN}
        )

        assert response.status_code == 404


@pytest.mark.parametrize("action", ["revoke", "restore", "forget"])
class TestBadRequests:
    async def test_unknown_token_is_404(self, client, action):
        response = await client.post(f"/_emulator/tokens/{action}", json={"access_token": "??"})

        assert response.status_code == 404
        assert response.json()["error"] == "unknown access token"

    @pytest.mark.parametrize(
        "body", [{}, {"access_token": ""}, {"access_token": "x", "extra": 1}, []]
    )
    async def test_bad_body_is_400(self, client, action, body):
        response = await client.post(f"/_emulator/tokens/{action}", json=body)

        assert response.status_code == 400
