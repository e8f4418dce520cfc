"""Managed tokens against the emulator's OAuth v4: consent from the CLI, and three replicas
sharing one PostgreSQL store that spend every single-use refresh token exactly once."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import sys
import time
import uuid
from collections import Counter

import httpx
import psycopg
import pytest

from bridge.zalo.token_cipher import new_key
from bridge_devkit.clock_settings import always_day_env
from bridge_devkit.emulator import EmulatorConfig, OAuthConfig, start_emulator
from bridge_devkit.harness import Processes, clean_env, free_port
from support import USER, Emulator

APP = EmulatorConfig()


def managed_env(emulator_url: str, store_url: str, key: str) -> dict[str, str]:
    return {
        **clean_env(),
        "BRIDGE_STORE__URL": store_url,
        "BRIDGE_ZALO__BASE_URL": emulator_url,
        "BRIDGE_ZALO__OAUTH_BASE_URL": emulator_url,
        "BRIDGE_ZALO__APP_ID": APP.app_id,
        "BRIDGE_ZALO__APP_SECRET": APP.app_secret,
        "BRIDGE_ZALO__OA_ID": APP.oa_id,
        "BRIDGE_ZALO__TOKEN_ENCRYPTION_KEY": key,
        "BRIDGE_ZALO__OAUTH_TIMEOUT_SECONDS": "3",
        "BRIDGE_LOG__FORMAT": "json",
    }


async def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bridge",
        "zalo",
        *args,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(
        process.communicate(stdin.encode() if stdin is not None else None), 60
    )
    return process.returncode or 0, out.decode() + err.decode()


def summary(output: str) -> dict:
    return json.loads(output[output.index("{") : output.rindex("}") + 1])


async def refresh_log(emulator: Emulator) -> list[dict]:
    response = await emulator.http.get("/_emulator/oauth/refresh-log")
    response.raise_for_status()
    return response.json()["attempts"]


async def test_authorize_in_a_browser_then_refresh_from_the_cli(tmp_path):
    running = await start_emulator(EmulatorConfig(access_tokens=()))
    emulator = Emulator(running.base_url)
    env = managed_env(running.base_url, f"sqlite:///{tmp_path / 'b.sqlite3'}", new_key())
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "bridge", "zalo", "authorize", "--redirect-uri", "https://bridge.example/cb"),
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert process.stdout is not None
        url = (await asyncio.wait_for(process.stdout.readline(), 30)).decode().strip()
        assert url.startswith(f"{running.base_url}/v4/oa/permission?")
        # The OA admin consents in a browser; Zalo redirects to the bridge's callback.
        consent = await emulator.http.get(url, follow_redirects=False)
        assert consent.status_code == 302
        callback = consent.headers["location"]
        assert callback.startswith("https://bridge.example/cb?")
        out, err = await asyncio.wait_for(process.communicate(f"{callback}\n".encode()), 30)
        assert process.returncode == 0, err.decode()
        first = summary(out.decode())
        assert (first["generation"], first["source"], first["oa_id"]) == (1, "authorize", APP.oa_id)

        code, output = await cli(env, "token", "refresh")
        assert code == 0, output
        assert summary(output)["generation"] == 2
        attempts = await refresh_log(emulator)
        assert [a["outcome"] for a in attempts] == ["success"]
        tokens = (await emulator.http.get("/_emulator/tokens")).json()["tokens"]
        assert not any(t["access_token"] in output for t in tokens)
    finally:
        await emulator.http.aclose()
        await running.stop()


# ---------------------------------------------------------------------------- three replicas

REPLICAS = 3
EVENTS_PER_WAVE = 12
WAVES = 3


@pytest.fixture
def pg_store(postgres_dsn: str) -> str:
    name = f"tokens_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return postgres_dsn.rsplit("/", 1)[0] + "/" + name


async def wait_ready(urls: list[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2) as http:
        for url in urls:
            while True:
                try:
                    if (await http.get(f"{url}/health/ready")).status_code == 204:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(f"{url} never became ready")
                await asyncio.sleep(0.2)


def kafka_env(env: dict[str, str], bootstrap: str, topics) -> dict[str, str]:
    """The settings of a bridge that runs: fast retries, short leases, quick token retries."""
    return {
        **env,
        "BRIDGE_ZALO__TOKEN_REFRESH_AT_FRACTION": "0.5",
        "BRIDGE_ZALO__TOKEN_RETRY_MAX_SECONDS": "1",
        "BRIDGE_ZALO__TIMEOUT_SECONDS": "2",
        "BRIDGE_ZALO__CONNECT_TIMEOUT_SECONDS": "0.5",
        "BRIDGE_KAFKA__BOOTSTRAP_SERVERS": bootstrap,
        "BRIDGE_KAFKA__INPUT_TOPIC": topics.input,
        "BRIDGE_KAFKA__DEAD_LETTER_TOPIC": topics.dead_letter,
        "BRIDGE_KAFKA__STATUS_TOPIC": topics.status,
        "BRIDGE_KAFKA__CONSUMER_GROUP": topics.group,
        "BRIDGE_KAFKA__SESSION_TIMEOUT_MS": "6000",
        "BRIDGE_KAFKA__COMMIT_INTERVAL_MS": "100",
        "BRIDGE_DELIVERY__MAX_ATTEMPTS": "5",
        "BRIDGE_DELIVERY__INITIAL_BACKOFF_SECONDS": "0.05",
        "BRIDGE_DELIVERY__MAX_BACKOFF_SECONDS": "0.2",
        "BRIDGE_DELIVERY__REDELIVERY_PAUSE_SECONDS": "0.2",
        "BRIDGE_DELIVERY__LEASE_SECONDS": "3",
        "BRIDGE_DELIVERY__BREAKER_OPEN_SECONDS": "0.2",
        "BRIDGE_DELIVERY__BREAKER_MAX_OPEN_SECONDS": "0.5",
        "BRIDGE_PROVINCE__LOOKUP_URL_TEMPLATE": "https://dvc.example.gov.vn/tra-cuu?ma={case_code}",
        # Sent at once at any hour: the events are not urgent and quiet hours would hold them.
        **always_day_env(),
    }


async def authorize(emulator: Emulator, env: dict[str, str]) -> None:
    """The OA admin's consent (the emulator's admin issues the code), exchanged by the CLI."""
    verifier = "v" * 43
    issued = await emulator.http.post("/_emulator/oauth/codes", json={"code_verifier": verifier})
    issued.raise_for_status()
    code, output = await cli(
        env, "authorize", "--code", issued.json()["code"], "--code-verifier", verifier
    )
    assert code == 0, output


async def revoke_current_access_token(emulator: Emulator) -> str:
    tokens = (await emulator.http.get("/_emulator/tokens")).json()["tokens"]
    live = [t for t in tokens if not t["revoked"]]
    live.sort(key=lambda t: t["expires_at"] or "")
    current = live[-1]["access_token"]
    (
        await emulator.http.post("/_emulator/tokens/revoke", json={"access_token": current})
    ).raise_for_status()
    return current


@pytest.mark.postgres
@pytest.mark.kafka
async def test_three_replicas_spend_each_refresh_token_once_and_lose_no_message(
    pg_store, kafka_bootstrap, topics, publish, make_event, encode, tmp_path
):
    # Access tokens live 4 s and are refreshed at half-life by whichever replica gets the row
    # lock first; on top of that the test revokes the token in use twice, so that all three
    # replicas meet -220 together and ask for a refresh at the same moment.
    running = await start_emulator(
        EmulatorConfig(access_tokens=(), oauth=OAuthConfig(access_token_lifetime_s=4))
    )
    emulator = Emulator(running.base_url)
    await emulator.follow(USER)
    env = managed_env(running.base_url, pg_store, new_key())
    processes = Processes()
    try:
        await authorize(emulator, env)
        # Every refresh answers half a second late (the token is spent on arrival), so replicas
        # due at the same moment queue on the row lock behind the one refreshing.
        await emulator.fault(kind="delay", ms=500, endpoint="/v4/oa/access_token", count=1000)

        bridge_env = kafka_env(env, kafka_bootstrap, topics)
        urls = []
        for index in range(REPLICAS):
            port = free_port()
            replica_env = {
                **bridge_env,
                "BRIDGE_KAFKA__TRANSACTIONAL_ID": f"{topics.group}-{index}",
            }
            argv = [
                sys.executable,
                "-m",
                "bridge",
                "run",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ]
            processes.spawn(f"bridge-{index}", argv, replica_env, tmp_path / f"bridge-{index}.log")
            urls.append(f"http://127.0.0.1:{port}")
        await wait_ready(urls)

        codes = []
        for wave in range(WAVES):
            for index in range(EVENTS_PER_WAVE):
                case = f"000.20.31.H56-260310-{wave}{index:03d}"
                codes.append(case)
                await publish(encode(make_event(sequence=1, case={"code": case})), key=case)
                await asyncio.sleep(0.1)
            if wave < WAVES - 1:
                await revoke_current_access_token(emulator)

        accepted = await emulator.wait_for_accepted(len(codes), timeout=40)
        await asyncio.sleep(1.5)  # time for a duplicate, if any, to show up
        accepted = await emulator.accepted()
        await wait_ready(urls, timeout=20)  # every replica ends with a usable token
        attempts = await refresh_log(emulator)
    finally:
        processes.stop_all()
        await emulator.http.aclose()
        await running.stop()

    delivered = Counter(
        match.group(0)
        for message in accepted
        for match in [re.search(r"000\.20\.31\.H56-260310-\d{4}", message["text"] or "")]
        if match
    )
    assert delivered == Counter(codes), "every event delivered exactly once"

    outcomes = Counter(a["outcome"] for a in attempts)
    assert outcomes == Counter({"success": len(attempts)}), outcomes
    spent = Counter(a["refresh_token"] for a in attempts)
    assert all(count == 1 for count in spent.values()), "a refresh token was presented twice"
    assert len(attempts) >= WAVES + 1, "the revocations and expiries forced refreshes"
    # The chain is unbroken: each refresh spent the token the previous one issued.
    for before, after in itertools.pairwise(attempts):
        assert after["refresh_token"] == before["new_refresh_token"]
    logs = "".join((tmp_path / f"bridge-{i}.log").read_text() for i in range(REPLICAS))
    assert "Zalo OA token refreshed" in logs
    # Replicas that waited for the lock used the pair written meanwhile instead of refreshing.
    assert "Zalo OA token already refreshed elsewhere" in logs
    for attempt in attempts:
        assert attempt["refresh_token"] not in logs
        assert attempt["access_token"] not in logs


async def ready_status(url: str) -> int | None:
    async with httpx.AsyncClient(timeout=2) as http:
        try:
            return (await http.get(f"{url}/health/ready")).status_code
        except httpx.HTTPError:
            return None


@pytest.mark.kafka
async def test_a_failing_refresh_pauses_delivery_and_readiness_until_it_succeeds(
    kafka_bootstrap, topics, publish, make_event, encode, tmp_path
):
    running = await start_emulator(EmulatorConfig(access_tokens=()))
    emulator = Emulator(running.base_url)
    await emulator.follow(USER)
    env = managed_env(running.base_url, f"sqlite:///{tmp_path / 'b.sqlite3'}", new_key())
    processes = Processes()
    try:
        await authorize(emulator, env)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        argv = [sys.executable, "-m", "bridge", "run", "--host", "127.0.0.1", "--port", str(port)]
        bridge_env = kafka_env(env, kafka_bootstrap, topics)
        processes.spawn("bridge", argv, bridge_env, tmp_path / "bridge.log")
        await wait_ready([url])

        # Zalo's OAuth refuses every refresh (the refresh token stays unspent), then the access
        # token in use is revoked: the next send is refused with -220 and cannot be cured.
        await emulator.fault(
            kind="error",
            error=-14002,
            message="Invalid appId",
            endpoint="/v4/oa/access_token",
            count=1000,
        )
        await revoke_current_access_token(emulator)
        case = "000.20.31.H56-260310-9001"
        await publish(encode(make_event(sequence=1, case={"code": case})), key=case)
        deadline = time.monotonic() + 30
        while await ready_status(url) != 503:
            assert time.monotonic() < deadline, "the bridge stayed ready without a usable token"
            await asyncio.sleep(0.2)
        assert await emulator.accepted() == []

        await emulator.clear_faults()  # Zalo's OAuth is back: the retries succeed
        await wait_ready([url], timeout=30)
        accepted = await emulator.wait_for_accepted(1, timeout=30)
        attempts = await refresh_log(emulator)
    finally:
        processes.stop_all()
        await emulator.http.aclose()
        await running.stop()

    assert len(accepted) == 1
    assert case in accepted[0]["text"]
    outcomes = [a["outcome"] for a in attempts]
    assert outcomes[-1] == "success"
    assert set(outcomes[:-1]) == {"fault"}
    log = (tmp_path / "bridge.log").read_text()
    assert "Zalo token refresh failed" in log
    assert '"reasons": ["token"]' in log
