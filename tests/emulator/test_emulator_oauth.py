"""OAuth v4: PKCE code exchange, single-use rotating refresh tokens, OAuth errors with HTTP 200."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from bridge_devkit.emulator import (
    CS_MESSAGE_PATH,
    OAUTH_PERMISSION_PATH,
    OAUTH_TOKEN_PATH,
    EmulatorConfig,
    OAuthConfig,
)

APP_ID = EmulatorConfig().app_id
OA_ID = EmulatorConfig().oa_id
APP_SECRET = EmulatorConfig().app_secret
EXPIRED = {"error": -220, "message": "access_token is expired or removed"}
OAUTH_ERROR_KEYS = {"error", "error_name", "error_reason", "error_description", "ref_doc"}
DAY = 86_400.0


def _verifier() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()


def _challenge(verifier: str) -> str:
    # Computed here, independently of the emulator, per reference §6 (PKCEUtil).
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@pytest.fixture
def token_call(client):
    """POST the token endpoint as a form; `secret=None` leaves the header out."""

    async def _call(form: dict[str, str], *, secret: str | None = APP_SECRET, **kwargs):
        headers = {} if secret is None else {"secret_key": secret}
        return await client.post(OAUTH_TOKEN_PATH, data=form, headers=headers, **kwargs)

    return _call


@pytest.fixture
def refresh(token_call):
    async def _refresh(refresh_token: str, **kwargs):
        form = {"refresh_token": refresh_token, "app_id": APP_ID, "grant_type": "refresh_token"}
        return await token_call(form, **kwargs)

    return _refresh


@pytest.fixture
def mint_code(client):
    async def _mint(challenge: str, **fields) -> str:
        response = await client.post(
            "/_emulator/oauth/codes", json={"code_challenge": challenge, **fields}
        )
        assert response.status_code == 201, response.text
        return str(response.json()["code"])

    return _mint


@pytest.fixture
def exchange(token_call):
    async def _exchange(code: str, verifier: str | None, **kwargs):
        form = {"code": code, "app_id": APP_ID, "grant_type": "authorization_code"}
        if verifier is not None:
            form["code_verifier"] = verifier
        return await token_call(form, **kwargs)

    return _exchange


@pytest.fixture
def seed(client):
    """Seed a refresh token, paired with a fresh access token `<name>-at`."""

    async def _seed(name: str = "seed-rt", **fields) -> str:
        access = f"{name}-at"
        await client.post("/_emulator/tokens", json={"access_token": access})
        response = await client.post(
            "/_emulator/oauth/refresh-tokens",
            json={"refresh_token": name, "access_token": access, **fields},
        )
        assert response.status_code == 201, response.text
        return name

    return _seed


async def _send_with(send, token: str) -> dict:
    return (await send(token=token)).json()


def _pair(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "expires_in"}, body
    return body


def _oauth_error(response: httpx.Response, code: int) -> dict:
    assert response.status_code == 200  # OAuth errors come with HTTP 200
    body = response.json()
    assert set(body) == OAUTH_ERROR_KEYS, body
    assert body["error"] == code, body
    assert all(isinstance(body[k], str) and body[k] for k in OAUTH_ERROR_KEYS - {"error"})
    return body


async def _refresh_log(client, **params) -> list[dict]:
    payload = (await client.get("/_emulator/oauth/refresh-log", params=params)).json()
    assert payload["count"] == len(payload["attempts"])
    return list(payload["attempts"])


class TestCodeExchange:
    async def test_pkce_exchange_issues_a_working_pair(self, mint_code, exchange, send):
        verifier = _verifier()
        code = await mint_code(_challenge(verifier))

        pair = _pair(await exchange(code, verifier))

        assert pair["expires_in"] == "90000"  # a string, as in the reference
        assert pair["access_token"] != pair["refresh_token"]
        assert (await _send_with(send, pair["access_token"]))["error"] == 0

    async def test_admin_may_mint_a_code_from_the_verifier(self, client, exchange):
        verifier = _verifier()
        response = await client.post("/_emulator/oauth/codes", json={"code_verifier": verifier})

        minted = response.json()
        assert minted["code_challenge"] == _challenge(verifier)
        assert minted["oa_id"] == OA_ID
        assert minted["expires_at"] == "2026-11-30T10:10:30.000+00:00"
        _pair(await exchange(minted["code"], verifier))

    async def test_wrong_verifier_is_refused_and_does_not_spend_the_code(self, mint_code, exchange):
        verifier = _verifier()
        code = await mint_code(_challenge(verifier))

        _oauth_error(await exchange(code, _verifier()), -14017)
        _oauth_error(await exchange(code, None), -14017)
        _pair(await exchange(code, verifier))

    async def test_a_code_is_single_use(self, mint_code, exchange, client):
        verifier = _verifier()
        code = await mint_code(_challenge(verifier))
        _pair(await exchange(code, verifier))

        body = _oauth_error(await exchange(code, verifier), -14019)

        assert "used" in body["error_reason"]
        [listed] = (await client.get("/_emulator/oauth/codes")).json()["codes"]
        assert listed["status"] == "used"

    async def test_a_code_is_valid_ten_minutes(self, mint_code, exchange, clock):
        verifier = _verifier()
        early, late = await mint_code(_challenge(verifier)), await mint_code(_challenge(verifier))

        clock.advance(599.9)
        _pair(await exchange(early, verifier))
        clock.advance(0.1)
        _oauth_error(await exchange(late, verifier), -14019)

    async def test_unknown_or_missing_code(self, exchange):
        _oauth_error(await exchange("no-such-code", _verifier()), -14019)
        _oauth_error(await exchange("", _verifier()), -14001)

    async def test_minting_needs_exactly_one_well_formed_challenge(self, client):
        for body in (
            {},
            {"code_challenge": "short"},
            {"code_challenge": "x" * 43, "code_verifier": "v"},
        ):
            response = await client.post("/_emulator/oauth/codes", json=body)
            assert response.status_code == 400, body


class TestClientChecks:
    @pytest.mark.parametrize(
        "secret", ["wrong-secret", "", None], ids=["wrong", "empty", "missing"]
    )
    async def test_bad_secret_key_is_an_oauth_error_with_http_200(self, refresh, seed, secret):
        token = await seed()

        _oauth_error(await refresh(token, secret=secret), -14014)

    async def test_the_secret_in_the_form_instead_of_the_header_is_refused(self, token_call, seed):
        token = await seed()
        form = {
            "refresh_token": token,
            "app_id": APP_ID,
            "grant_type": "refresh_token",
            "secret_key": APP_SECRET,
        }

        _oauth_error(await token_call(form, secret=None), -14014)

    @pytest.mark.parametrize("app_id", ["123", ""])
    async def test_app_id_must_match(self, token_call, seed, app_id):
        token = await seed()
        form = {"refresh_token": token, "app_id": app_id, "grant_type": "refresh_token"}

        _oauth_error(await token_call(form), -14002)

    @pytest.mark.parametrize("grant_type", ["client_credentials", ""])
    async def test_grant_type_must_be_known(self, token_call, grant_type):
        form = {"app_id": APP_ID, "grant_type": grant_type}

        _oauth_error(await token_call(form), -14001)

    async def test_a_json_body_is_not_a_form(self, client, seed):
        token = await seed()
        body = {"refresh_token": token, "app_id": APP_ID, "grant_type": "refresh_token"}
        response = await client.post(
            OAUTH_TOKEN_PATH, json=body, headers={"secret_key": APP_SECRET}
        )

        _oauth_error(response, -14002)

    async def test_refused_client_spends_nothing(self, refresh, seed, client):
        token = await seed()
        await refresh(token, secret="wrong")

        _pair(await refresh(token))
        outcomes = [a["outcome"] for a in await _refresh_log(client, refresh_token=token)]
        assert outcomes == ["rejected", "success"]


class TestRefresh:
    async def test_refresh_rotates_both_tokens_and_retires_the_old_access_token(
        self, refresh, seed, send
    ):
        token = await seed()
        assert (await _send_with(send, "seed-rt-at"))["error"] == 0

        pair = _pair(await refresh(token))

        assert pair["refresh_token"] != token
        assert pair["expires_in"] == "90000"
        assert await _send_with(send, "seed-rt-at") == EXPIRED
        assert (await _send_with(send, pair["access_token"]))["error"] == 0

    async def test_reusing_a_spent_refresh_token_fails(self, refresh, seed, send):
        token = await seed()
        pair = _pair(await refresh(token))

        body = _oauth_error(await refresh(token), -14020)

        assert "already been used" in body["error_reason"]
        # The reuse does not take down the pair the first refresh issued.
        assert (await _send_with(send, pair["access_token"]))["error"] == 0
        _pair(await refresh(pair["refresh_token"]))

    async def test_every_refresh_token_of_a_chain_is_spent_exactly_once(
        self, refresh, seed, client
    ):
        chain = [await seed()]
        for _ in range(3):
            chain.append(_pair(await refresh(chain[-1]))["refresh_token"])
        _oauth_error(await refresh(chain[1]), -14020)

        log = await _refresh_log(client)

        successes = [a["refresh_token"] for a in log if a["outcome"] == "success"]
        assert successes == chain[:3]  # each spent once, in order
        assert [a["new_refresh_token"] for a in log[:3]] == chain[1:]
        assert log[3] | {"seq": 0} == {
            "seq": 0,
            "at": "2026-11-30T10:00:30.000+00:00",
            "refresh_token": chain[1],
            "outcome": "reused",
            "error": -14020,
            "access_token": None,
            "new_refresh_token": None,
            "fault": None,
        }
        listed = (await client.get("/_emulator/oauth/refresh-tokens")).json()["refresh_tokens"]
        status = {t["refresh_token"]: (t["status"], t["replaced_by"]) for t in listed}
        assert status == {
            chain[0]: ("spent", chain[1]),
            chain[1]: ("spent", chain[2]),
            chain[2]: ("spent", chain[3]),
            chain[3]: ("active", None),
        }

    async def test_concurrent_refreshes_with_one_token_give_exactly_one_success(
        self, refresh, seed, client
    ):
        # Latency keeps all the calls in flight together; the refresh is decided on arrival.
        await client.put("/_emulator/config", json={"latency_ms": 50})
        token = await seed()

        responses = await asyncio.gather(*(refresh(token) for _ in range(8)))

        bodies = [r.json() for r in responses]
        assert [("access_token" in b) for b in bodies].count(True) == 1
        assert sorted(b.get("error", 0) for b in bodies) == [-14020] * 7 + [0]
        outcomes = [a["outcome"] for a in await _refresh_log(client, refresh_token=token)]
        assert sorted(outcomes) == ["reused"] * 7 + ["success"]

    async def test_the_reuse_code_is_configurable(self, refresh, seed, client):
        response = await client.put(
            "/_emulator/oauth/config", json={"error_codes": {"refresh_token_reused": -14099}}
        )
        assert response.json()["error_codes"]["refresh_token_reused"] == -14099
        assert response.json()["error_codes"]["invalid_refresh_token"] == -14020
        token = await seed()
        _pair(await refresh(token))

        _oauth_error(await refresh(token), -14099)
        _oauth_error(await refresh("never-issued"), -14020)

    async def test_unknown_and_missing_refresh_tokens(self, refresh, client):
        _oauth_error(await refresh("never-issued"), -14020)
        _oauth_error(await refresh(""), -14001)

        outcomes = [(a["refresh_token"], a["outcome"]) for a in await _refresh_log(client)]
        assert outcomes == [("never-issued", "unknown"), (None, "rejected")]

    async def test_a_refresh_token_lives_three_months(self, refresh, seed, clock, client):
        short, long_ = await seed("a"), await seed("b")
        clock.advance(90 * DAY - 1)
        _pair(await refresh(short))
        clock.advance(1)

        _oauth_error(await refresh(long_), -14020)

        [attempt] = await _refresh_log(client, refresh_token=long_)
        assert attempt["outcome"] == "expired"

    async def test_the_access_token_lives_25_hours(self, refresh, seed, send, clock):
        pair = _pair(await refresh(await seed()))

        clock.advance(25 * 3600 - 1)
        assert (await _send_with(send, pair["access_token"]))["error"] == 0
        clock.advance(1)
        assert await _send_with(send, pair["access_token"]) == EXPIRED

    async def test_lifetimes_are_configurable(self, refresh, seed, send, clock, client):
        await client.put(
            "/_emulator/oauth/config",
            json={"access_token_lifetime_s": 3600, "refresh_token_lifetime_s": 7200},
        )
        pair = _pair(await refresh(await seed()))

        assert pair["expires_in"] == "3600"
        clock.advance(3600)
        assert await _send_with(send, pair["access_token"]) == EXPIRED
        clock.advance(3600)
        _oauth_error(await refresh(pair["refresh_token"]), -14020)

    async def test_keeping_the_previous_access_token_is_configurable(
        self, refresh, seed, send, client
    ):
        await client.put("/_emulator/oauth/config", json={"revoke_previous_access_token": False})
        token = await seed()

        _pair(await refresh(token))

        assert (await _send_with(send, "seed-rt-at"))["error"] == 0

    async def test_refresh_tokens_can_be_configured_at_start(self, start):
        emulator = await start(EmulatorConfig(oauth=OAuthConfig(refresh_tokens=("boot-rt",))))
        async with httpx.AsyncClient(base_url=emulator.base_url) as client:
            form = {"refresh_token": "boot-rt", "app_id": APP_ID, "grant_type": "refresh_token"}
            headers = {"secret_key": APP_SECRET}

            first = await client.post(OAUTH_TOKEN_PATH, data=form, headers=headers)
            second = await client.post(OAUTH_TOKEN_PATH, data=form, headers=headers)

        _pair(first)
        _oauth_error(second, -14020)

    async def test_seeding_validates_its_body(self, client):
        for body in ({}, {"refresh_token": ""}, {"refresh_token": "x", "other": 1}):
            response = await client.post("/_emulator/oauth/refresh-tokens", json=body)
            assert response.status_code == 400, body

    async def test_bad_oauth_config_is_refused(self, client):
        for body in (
            {"access_token_lifetime_s": 0},
            {"error_codes": {"refresh_token_reused": 5}},
            {"error_codes": {"no_such_kind": -1}},
        ):
            response = await client.put("/_emulator/oauth/config", json=body)
            assert response.status_code == 400, body

    async def test_the_refresh_log_can_be_cleared(self, refresh, seed, client):
        await refresh(await seed())

        assert (await client.delete("/_emulator/oauth/refresh-log")).json() == {"deleted": 1}
        assert await _refresh_log(client) == []


class TestFaults:
    async def test_faults_without_an_endpoint_spare_the_oauth_host(self, refresh, seed, client):
        await client.post("/_emulator/faults", json={"kind": "http", "status": 503})

        _pair(await refresh(await seed()))

        assert len((await client.get("/_emulator/faults")).json()["faults"]) == 1

    async def test_a_named_fault_answers_instead_and_spends_nothing(self, refresh, seed, client):
        await client.post(
            "/_emulator/faults",
            json={"kind": "http", "status": 503, "endpoint": OAUTH_TOKEN_PATH},
        )
        token = await seed()

        assert (await refresh(token)).status_code == 503
        _pair(await refresh(token))

        outcomes = [a["outcome"] for a in await _refresh_log(client, refresh_token=token)]
        assert outcomes == ["fault", "success"]

    async def test_an_error_fault_gives_an_oauth_error_body(self, refresh, seed, client):
        await client.post(
            "/_emulator/faults",
            json={"kind": "error", "error": -32, "endpoint": OAUTH_TOKEN_PATH},
        )

        _oauth_error(await refresh(await seed()), -32)

    async def test_a_late_answer_still_spends_the_token(self, refresh, seed, client):
        # The refresh happened but its answer was lost: the client is left with a spent token.
        await client.post(
            "/_emulator/faults", json={"kind": "delay", "ms": 400, "endpoint": OAUTH_TOKEN_PATH}
        )
        token = await seed()

        with pytest.raises(httpx.ReadTimeout):
            await refresh(token, timeout=0.1)

        _oauth_error(await refresh(token), -14020)
        outcomes = [a["outcome"] for a in await _refresh_log(client, refresh_token=token)]
        assert outcomes == ["success", "reused"]


class TestConsent:
    @pytest.fixture
    def permission(self, client):
        async def _permission(**params):
            query = {
                "app_id": APP_ID,
                "redirect_uri": "https://bridge.example.gov.vn/zalo/callback",
                "code_challenge": _challenge("v" * 43),
                **params,
            }
            return await client.get(OAUTH_PERMISSION_PATH, params=query)

        return _permission

    async def test_consent_redirects_with_code_oa_id_and_state(self, permission, exchange):
        response = await permission(state="xyz")

        assert response.status_code == 302
        location = urlsplit(response.headers["Location"])
        assert (location.scheme, location.netloc, location.path) == (
            "https",
            "bridge.example.gov.vn",
            "/zalo/callback",
        )
        query = parse_qs(location.query)
        assert query["oa_id"] == [OA_ID]
        assert query["state"] == ["xyz"]
        _pair(await exchange(query["code"][0], "v" * 43))

    async def test_consent_keeps_the_redirect_uris_own_query(self, permission):
        response = await permission(redirect_uri="http://127.0.0.1:8080/cb?tenant=h10")

        query = parse_qs(urlsplit(response.headers["Location"]).query)
        assert query["tenant"] == ["h10"]
        assert "state" not in query

    @pytest.mark.parametrize(
        ("params", "code"),
        [
            ({"app_id": "1"}, -14002),
            ({"redirect_uri": "not a url"}, -14003),
            ({"redirect_uri": "ftp://example.com/cb"}, -14003),
            ({"code_challenge": "plain"}, -14016),
        ],
        ids=["app-id", "redirect-uri", "scheme", "challenge"],
    )
    async def test_bad_consent_requests_get_an_oauth_error(self, permission, params, code):
        _oauth_error(await permission(**params), code)

    async def test_configured_redirect_uris_are_enforced(self, permission, client):
        await client.put(
            "/_emulator/oauth/config", json={"redirect_uris": ["https://ok.example/cb"]}
        )

        assert (await permission(redirect_uri="https://ok.example/cb")).status_code == 302
        _oauth_error(await permission(redirect_uri="https://other.example/cb"), -14003)


async def test_oauth_calls_do_not_use_the_message_budget(start, config):
    emulator = await start(EmulatorConfig(followers=config.followers, rate_limit_per_minute=1))
    async with httpx.AsyncClient(base_url=emulator.base_url) as client:
        await client.post("/_emulator/oauth/refresh-tokens", json={"refresh_token": "r"})
        form = {"refresh_token": "r", "app_id": APP_ID, "grant_type": "refresh_token"}
        pair = _pair(
            await client.post(OAUTH_TOKEN_PATH, data=form, headers={"secret_key": APP_SECRET})
        )
        user_id = config.followers[0].user_id
        body = {"recipient": {"user_id": user_id}, "message": {"text": "x"}}

        sent = await client.post(
            CS_MESSAGE_PATH, json=body, headers={"access_token": pair["access_token"]}
        )

    assert sent.json()["error"] == 0
