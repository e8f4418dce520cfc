"""Managed OA tokens: encryption at rest, the OAuth answers, the store, refresh and health."""

from __future__ import annotations

import asyncio
import sqlite3
from urllib.parse import parse_qs

import httpx
import pytest
from cryptography.fernet import Fernet
from structlog.testing import capture_logs

from bridge.app import Runtime
from bridge.errors import ConfigurationError, OAuthError, TokenStoreError
from bridge.settings import load_settings
from bridge.zalo.managed_token import ManagedToken, refresh_due_at
from bridge.zalo.oauth import (
    Pkce,
    TokenLifetimes,
    ZaloOAuth,
    challenge_of,
    consent_url,
    pair_from_answer,
)
from bridge.zalo.token_cipher import TokenCipher, new_key
from bridge.zalo.token_store import TokenPair, TokenStore

OA = "1646843870823903717"
T0 = 1_800_000_000.0
LIFE = 90_000.0


def pair(access="access-1", refresh="refresh-1", issued=T0, life=LIFE):
    return TokenPair(access, refresh, issued, issued + life, issued + 7_776_000)


class Clock:
    def __init__(self, now=T0):
        self.now = now

    def __call__(self):
        return self.now


class FakeZalo:
    """The token endpoint: single-use rotating refresh tokens, like the real one."""

    def __init__(self, valid=("refresh-1",)):
        self.valid = set(valid)
        self.calls: list[dict[str, str]] = []
        self.headers: list[httpx.Headers] = []
        self.answer: dict | None = None
        self.gate: asyncio.Event | None = None
        self.issued = 1

    async def handle(self, request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        self.calls.append(form)
        self.headers.append(request.headers)
        if self.gate is not None:
            await self.gate.wait()
        if self.answer is not None:
            return httpx.Response(200, json=self.answer)
        token = form.get("refresh_token")
        if token not in self.valid:
            return httpx.Response(
                200,
                json={"error": -14020, "error_name": "refresh_token_reused", "error_reason": "x"},
            )
        self.valid.discard(token)
        self.issued += 1
        self.valid.add(f"refresh-{self.issued}")
        return httpx.Response(
            200,
            json={
                "access_token": f"access-{self.issued}",
                "refresh_token": f"refresh-{self.issued}",
                "expires_in": "90000",
            },
        )


@pytest.fixture
def zalo():
    return FakeZalo()


@pytest.fixture
async def oauth(zalo):
    http = httpx.AsyncClient(
        base_url="https://oauth.example", transport=httpx.MockTransport(zalo.handle)
    )
    yield ZaloOAuth(http, app_id="app-1", app_secret="secret-1")
    await http.aclose()


@pytest.fixture
def key():
    return new_key()


@pytest.fixture
def db_url(tmp_path):
    return f"sqlite:///{tmp_path / 'bridge.sqlite3'}"


@pytest.fixture
async def store(db_url, key):
    opened = await TokenStore.open(db_url, TokenCipher(key))
    yield opened
    await opened.close()


class TestCipher:
    def test_round_trip_and_ciphertext_hides_the_token(self, key):
        cipher = TokenCipher(key)
        sealed = cipher.encrypt("secret-token")
        assert "secret-token" not in sealed
        assert cipher.decrypt(sealed) == "secret-token"

    def test_an_old_key_still_decrypts_and_rotate_moves_to_the_new_one(self, key):
        old = TokenCipher(key)
        sealed = old.encrypt("t")
        newer = new_key()
        both = TokenCipher(f"{newer}, {key}")
        assert both.decrypt(sealed) == "t"
        rotated = both.rotate(sealed)
        assert TokenCipher(newer).decrypt(rotated) == "t"
        with pytest.raises(TokenStoreError):
            old.decrypt(rotated)

    def test_a_malformed_key_is_a_configuration_error(self):
        with pytest.raises(ConfigurationError):
            TokenCipher("not-a-key")
        with pytest.raises(ConfigurationError):
            TokenCipher(" , ")

    def test_a_foreign_key_cannot_decrypt(self, key):
        with pytest.raises(TokenStoreError):
            TokenCipher(key).decrypt(Fernet(Fernet.generate_key()).encrypt(b"x").decode())


class TestOAuthAnswers:
    def test_success_casts_the_string_expires_in(self):
        got = pair_from_answer(
            {"access_token": "a", "refresh_token": "r", "expires_in": "3600"},
            now=T0,
            lifetimes=TokenLifetimes(refresh_seconds=100),
        )
        assert (got.access_token, got.refresh_token) == ("a", "r")
        assert got.access_expires_at == T0 + 3600
        assert got.refresh_expires_at == T0 + 100

    def test_missing_expiry_uses_the_configured_lifetime(self):
        got = pair_from_answer(
            {"access_token": "a", "refresh_token": "r", "refresh_token_expires_in": 50},
            now=T0,
            lifetimes=TokenLifetimes(access_seconds=77),
        )
        assert got.access_expires_at == T0 + 77
        assert got.refresh_expires_at == T0 + 50

    @pytest.mark.parametrize(
        "body",
        [
            {"error": -14020, "error_name": "refresh_token_reused"},
            {"error_name": "invalid_app_id"},
            {"error_description": "bad", "access_token": "a", "refresh_token": "r"},
            {"access_token": "a", "expires_in": "90000"},
            {"access_token": "", "refresh_token": "r"},
            {"access_token": "a", "refresh_token": "  "},
            ["not", "an", "object"],
        ],
    )
    def test_error_bodies_and_incomplete_pairs_are_errors(self, body):
        with pytest.raises(OAuthError) as caught:
            pair_from_answer(body, now=T0, lifetimes=TokenLifetimes())
        assert not caught.value.transient

    def test_the_error_code_is_kept(self):
        with pytest.raises(OAuthError) as caught:
            pair_from_answer(
                {"error": -14002, "error_name": "x"}, now=T0, lifetimes=TokenLifetimes()
            )
        assert caught.value.code == -14002

    async def test_refresh_posts_the_form_with_the_secret_header(self, oauth, zalo):
        got = await oauth.refresh("refresh-1", now=T0)
        assert got.access_token == "access-2"
        assert zalo.calls == [
            {"refresh_token": "refresh-1", "app_id": "app-1", "grant_type": "refresh_token"}
        ]
        assert zalo.headers[0]["secret_key"] == "secret-1"

    async def test_code_exchange_sends_the_verifier(self, oauth, zalo):
        zalo.answer = {"access_token": "a", "refresh_token": "r", "expires_in": "90000"}
        await oauth.exchange_code("the-code", "the-verifier", now=T0)
        assert zalo.calls[0] == {
            "code": "the-code",
            "app_id": "app-1",
            "grant_type": "authorization_code",
            "code_verifier": "the-verifier",
        }

    @pytest.mark.parametrize(
        ("response", "transient"),
        [(httpx.Response(503), True), (httpx.Response(400), False), (None, True)],
    )
    async def test_http_failures(self, response, transient):
        def handler(request):
            if response is None:
                raise httpx.ConnectError("refused", request=request)
            return response

        async with httpx.AsyncClient(
            base_url="https://o.example", transport=httpx.MockTransport(handler)
        ) as http:
            with pytest.raises(OAuthError) as caught:
                await ZaloOAuth(http, app_id="a", app_secret="s").refresh("r", now=T0)
        assert caught.value.transient is transient

    def test_pkce_and_consent_url(self):
        pkce = Pkce.create()
        assert len(pkce.verifier) == 43
        assert "=" not in pkce.challenge
        assert pkce.challenge == challenge_of(pkce.verifier)
        # RFC 7636 appendix B
        assert (
            challenge_of("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
            == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        )
        url = consent_url(
            "https://oauth.zaloapp.com/",
            app_id="1",
            redirect_uri="https://b.example/cb",
            code_challenge=pkce.challenge,
            state="s",
        )
        assert url.startswith("https://oauth.zaloapp.com/v4/oa/permission?app_id=1&")
        assert f"code_challenge={pkce.challenge}" in url
        assert "code_challenge_method" not in url


class TestStore:
    async def test_put_and_load_round_trip_encrypted(self, store, db_url):
        stored = await store.put(OA, pair(), source="import", by="me", now=T0)
        assert stored.generation == 1
        loaded = await store.load(OA)
        assert loaded == stored
        raw = sqlite3.connect(db_url.removeprefix("sqlite:///")).execute(
            "SELECT access_token, refresh_token FROM oa_tokens"
        )
        for column in raw.fetchone():
            assert "access-1" not in column
            assert "refresh-1" not in column
        assert "access-1" not in repr(loaded)

    async def test_every_write_is_a_new_generation(self, store):
        await store.put(OA, pair(), source="import", by="me", now=T0)
        second = await store.put(
            OA, pair("access-2", "refresh-2"), source="import", by="me", now=T0
        )
        assert second.generation == 2
        assert await store.load("another-oa") is None

    @pytest.mark.parametrize(
        "bad", [pair(access=""), pair(refresh=" "), TokenPair("a", "r", T0, float("nan"))]
    )
    async def test_an_empty_pair_never_overwrites_a_good_one(self, store, bad):
        await store.put(OA, pair(), source="import", by="me", now=T0)
        with pytest.raises(TokenStoreError):
            await store.put(OA, bad, source="refresh", by="me", now=T0)
        loaded = await store.load(OA)
        assert loaded.pair.access_token == "access-1"
        assert loaded.generation == 1

    async def test_a_slot_replaced_elsewhere_is_not_overwritten(self, store, key):
        await store.put(OA, pair(), source="import", by="me", now=T0)
        other = TokenStore(store._db, TokenCipher(key))
        async with store.exclusive(OA) as slot:
            # A write that bypasses this process's lock (on SQLite: a CLI import).
            async with other._db.begin() as connection:
                await connection.exec_driver_sql("UPDATE oa_tokens SET generation = 5")
            with pytest.raises(TokenStoreError):
                await slot.replace(pair("access-9", "refresh-9"), source="x", by="y", now=T0)
        assert (await store.load(OA)).generation == 5

    async def test_rekey_rewrites_under_the_newest_key(self, store, key):
        await store.put(OA, pair(), source="import", by="me", now=T0)
        newer = new_key()
        rotated = TokenStore(store._db, TokenCipher(f"{newer},{key}"))
        assert await rotated.rekey() == 1
        only_new = TokenStore(store._db, TokenCipher(newer))
        assert (await only_new.load(OA)).pair.access_token == "access-1"
        with pytest.raises(TokenStoreError):
            await store.load(OA)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def health():
    return []


@pytest.fixture
def managed(store, oauth, clock, health):
    return ManagedToken(
        store, oauth, oa_id=OA, owner="replica-1", clock=clock, on_health=health.append
    )


class TestManagedToken:
    async def test_refresh_on_refusal_saves_before_use_and_rotates(self, managed, store, zalo):
        await store.put(OA, pair(), source="import", by="me", now=T0)
        await managed.run_once()
        assert await managed.token() == "access-1"
        assert managed.healthy
        assert await managed.refresh("access-1") is True
        assert await managed.token() == "access-2"
        stored = await store.load(OA)
        assert stored.pair.access_token == "access-2"
        assert stored.pair.refresh_token == "refresh-2"
        assert (stored.generation, stored.source, stored.updated_by) == (2, "refresh", "replica-1")
        assert [c["refresh_token"] for c in zalo.calls] == ["refresh-1"]

    async def test_concurrent_refusals_spend_one_refresh_token(self, managed, store, zalo):
        await store.put(OA, pair(), source="import", by="me", now=T0)
        await managed.run_once()
        zalo.gate = asyncio.Event()
        waiting = [asyncio.create_task(managed.refresh("access-1")) for _ in range(20)]
        await asyncio.sleep(0)
        zalo.gate.set()
        assert await asyncio.gather(*waiting) == [True] * 20
        assert len(zalo.calls) == 1
        assert managed.outcomes == {"refreshed": 1}

    async def test_a_pair_refreshed_by_another_replica_is_used_without_refreshing(
        self, managed, store, zalo
    ):
        await store.put(OA, pair(), source="import", by="me", now=T0)
        await managed.run_once()
        await store.put(OA, pair("access-7", "refresh-7"), source="refresh", by="r2", now=T0 + 5)
        assert await managed.refresh("access-1") is True
        assert await managed.token() == "access-7"
        assert zalo.calls == []
        assert managed.outcomes == {"adopted": 1}

    async def test_a_failed_refresh_keeps_the_stored_pair_and_marks_unhealthy(
        self, managed, store, zalo, health
    ):
        await store.put(OA, pair(), source="import", by="me", now=T0)
        await managed.run_once()
        zalo.answer = {"error": -14020, "error_name": "refresh_token_reused"}
        assert await managed.refresh("access-1") is False
        assert not managed.healthy
        assert managed.refresh_failing
        assert health == [True, False]
        stored = await store.load(OA)
        assert (stored.generation, stored.pair.refresh_token) == (1, "refresh-1")

    async def test_an_imported_pair_heals_a_refused_token(self, managed, store, zalo, health):
        await store.put(OA, pair(), source="import", by="me", now=T0)
        await managed.run_once()
        zalo.answer = {"error": -14020}
        assert await managed.refresh("access-1") is False
        await store.put(OA, pair("access-new", "refresh-new"), source="import", by="me", now=T0)
        await managed.run_once()
        assert managed.healthy
        assert await managed.token() == "access-new"
        assert health == [True, False, True]

    async def test_a_refused_token_is_refreshed_by_the_next_round(self, managed, store, zalo):
        await store.put(OA, pair(), source="import", by="me", now=T0)
        await managed.run_once()
        zalo.answer = {"error": -14002}
        assert await managed.refresh("access-1") is False
        zalo.answer = None
        await managed.run_once()
        assert managed.healthy
        assert await managed.token() == "access-2"

    async def test_refresh_is_scheduled_at_the_fraction_of_the_lifetime(
        self, managed, store, zalo, clock
    ):
        await store.put(OA, pair(), source="import", by="me", now=T0)
        assert refresh_due_at(pair(), 0.8) == T0 + 0.8 * LIFE
        assert await managed.run_once() == 60.0  # not due: poll the store again later
        clock.now = T0 + 0.8 * LIFE - 10
        assert await managed.run_once() == 10.0
        assert zalo.calls == []
        clock.now = T0 + 0.8 * LIFE
        await managed.run_once()
        assert len(zalo.calls) == 1
        assert managed.seconds_until_expiry() == LIFE
        assert managed.seconds_until_refresh_expiry() == 7_776_000
        assert managed.generation == 2

    async def test_no_stored_tokens_is_unhealthy_until_some_are_imported(
        self, managed, store, health
    ):
        await managed.start()
        try:
            assert not managed.healthy
            assert await managed.token() is None
            assert managed.seconds_until_expiry() is None
            await store.put(OA, pair(), source="import", by="me", now=T0)
            await managed.run_once()
            assert managed.healthy
            assert health == [True]
        finally:
            await managed.stop()

    async def test_an_expired_token_is_unusable(self, managed, store, zalo, clock):
        await store.put(OA, pair(), source="import", by="me", now=T0)
        await managed.run_once()
        zalo.answer = {"error": -14020}
        clock.now = T0 + LIFE + 1
        with pytest.raises(OAuthError):
            await managed.run_once()
        assert not managed.healthy
        assert managed.seconds_until_expiry() == -1

    async def test_the_background_task_refreshes_when_due_and_retries_failures(
        self, store, oauth, zalo, clock, health
    ):
        await store.put(OA, pair(), source="import", by="me", now=T0)
        clock.now = T0 + 0.9 * LIFE
        zalo.answer = {"error": -14002, "error_name": "invalid_app_id"}
        waits = []

        async def sleep(seconds):
            waits.append(seconds)
            zalo.answer = None  # the outage ends while the task waits

        managed = ManagedToken(
            store, oauth, oa_id=OA, owner="r", clock=clock, sleep=sleep, on_health=health.append
        )
        await managed.start()
        try:
            for _ in range(500):
                if managed.generation == 2:
                    break
                await asyncio.sleep(0.01)
            assert managed.generation == 2
            assert len(waits) == 1
            assert managed.healthy
            assert not managed.refresh_failing
            assert health == [True]  # still valid for 2.5 h: delivery never paused
        finally:
            await managed.stop()

    async def test_logs_never_carry_tokens(self, managed, store, zalo):
        await store.put(OA, pair(), source="import", by="me", now=T0)
        await managed.run_once()
        with capture_logs() as logs:
            await managed.refresh("access-1")
            zalo.answer = {"error": -14020, "error_name": "refresh_token_reused"}
            await managed.refresh("access-2")
        events = [entry["event"] for entry in logs]
        assert "Zalo OA token refreshed" in events
        assert "Zalo token refresh failed" in events
        text = repr(logs)
        for secret in ("access-1", "refresh-1", "access-2", "refresh-2", "secret-1"):
            assert secret not in text


class TestSettingsAndWiring:
    def test_managed_tokens_need_the_app_and_the_oa(self, key):
        with pytest.raises(ConfigurationError) as caught:
            load_settings(zalo={"token_encryption_key": key, "app_id": "1"})
        assert "app_secret, oa_id" in str(caught.value)

    async def test_the_runtime_holds_delivery_until_a_token_is_stored(self, key, db_url):
        settings = load_settings(
            store={"url": db_url},
            zalo={"token_encryption_key": key, "app_id": "1", "app_secret": "s", "oa_id": OA},
        )
        runtime = Runtime(settings)
        try:
            tokens = await runtime._token_source()
            assert tokens is runtime.tokens
            assert runtime.flow.reasons == {"token"}
            stored = await runtime.tokens._store.put(OA, pair(), source="import", by="me", now=T0)
            assert stored.generation == 1
        finally:
            await runtime.stop()

    async def test_without_a_key_the_static_token_is_used(self):
        runtime = Runtime(load_settings(zalo={"access_token": "static"}))
        tokens = await runtime._token_source()
        assert await tokens.token() == "static"
        assert runtime.tokens is None
        assert runtime.flow.reasons == frozenset()
