"""`GET /v2.0/oa/getoa`: token, budget, the OA's profile, faults, read log."""

from __future__ import annotations

import httpx
import pytest

from bridge_devkit.emulator import CS_MESSAGE_PATH, DEV_ACCESS_TOKEN, OA_INFO_PATH, EmulatorConfig

INVALID_TOKEN = {"error": -216, "message": "Access token is invalid"}
EXPIRED_TOKEN = {"error": -220, "message": "access_token is expired or removed"}


@pytest.fixture
def get_oa(client):
    async def _get(token: str | None = DEV_ACCESS_TOKEN) -> httpx.Response:
        headers = {} if token is None else {"access_token": token}
        return await client.get(OA_INFO_PATH, headers=headers)

    return _get


async def test_a_valid_token_reads_the_oa_profile(get_oa):
    response = await get_oa()

    assert response.status_code == 200
    body = response.json()
    assert (body["error"], body["message"]) == (0, "Success")
    profile = body["data"]
    assert profile["oaid"] == EmulatorConfig().oa_id
    assert profile["oa_type"] == 4  # a Government OA
    assert profile["num_follower"] == 1
    assert {"name", "is_verified", "package_name", "package_valid_through_date"} <= set(profile)


class TestToken:
    async def test_missing_or_unknown_token_is_invalid(self, get_oa):
        assert (await get_oa(token=None)).json() == INVALID_TOKEN
        assert (await get_oa(token="nope")).json() == INVALID_TOKEN

    async def test_revoked_token_is_expired(self, get_oa, client):
        await client.post("/_emulator/tokens/revoke", json={"access_token": DEV_ACCESS_TOKEN})

        assert (await get_oa()).json() == EXPIRED_TOKEN


async def test_the_read_uses_the_send_budget(start, config):
    emulator = await start(EmulatorConfig(followers=config.followers, rate_limit_per_minute=1))
    async with httpx.AsyncClient(base_url=emulator.base_url) as client:
        headers = {"access_token": DEV_ACCESS_TOKEN}
        first = await client.get(OA_INFO_PATH, headers=headers)
        second = await client.get(OA_INFO_PATH, headers=headers)

    assert first.json()["error"] == 0
    assert first.headers["X-RateLimit-Remain"] == "0"
    assert second.json() == {"error": -32, "message": "Your application reached limit call api"}


class TestFaults:
    async def test_a_fault_naming_no_endpoint_applies(self, get_oa, client):
        await client.post("/_emulator/faults", json={"kind": "http", "status": 503, "count": 2})

        assert (await get_oa()).status_code == 503
        assert (await get_oa()).status_code == 503
        assert (await get_oa()).json()["error"] == 0

    async def test_error_and_drop_faults(self, get_oa, client):
        await client.post("/_emulator/faults", json={"kind": "error", "error": -32})
        await client.post("/_emulator/faults", json={"kind": "drop"})

        assert (await get_oa()).json()["error"] == -32
        with pytest.raises(httpx.RemoteProtocolError):
            await get_oa()

    async def test_a_fault_for_another_endpoint_or_a_user_spares_it(self, get_oa, client, send):
        await client.post(
            "/_emulator/faults",
            json={"kind": "error", "error": -200, "endpoint": CS_MESSAGE_PATH},
        )
        await client.post(
            "/_emulator/faults", json={"kind": "error", "error": -200, "user_id": "someone"}
        )

        assert (await get_oa()).json()["error"] == 0
        assert (await send()).json()["error"] == -200

    async def test_a_timed_outage_covers_it_until_it_expires(self, get_oa, client, clock):
        await client.post(
            "/_emulator/faults",
            json={"kind": "http", "status": 503, "duration_s": 10},
        )

        assert (await get_oa()).status_code == 503
        clock.advance(11)
        assert (await get_oa()).json()["error"] == 0


async def test_reads_are_logged_without_a_user(get_oa, client, messages):
    await get_oa()
    await client.post("/_emulator/faults", json={"kind": "http", "status": 502})
    await get_oa()

    reads = (await client.get("/_emulator/reads")).json()["reads"]
    assert [
        (r["endpoint"], r["user_id"], r["error"], r["http_status"], r["fault"]) for r in reads
    ] == [
        (OA_INFO_PATH, None, 0, 200, None),
        (OA_INFO_PATH, None, None, 502, "http"),
    ]
    assert await messages() == []
