"""The per-app rate limit: -32 over budget, a fixed calendar-minute window, X-RateLimit headers."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from bridge_devkit.emulator import EmulatorConfig, Follower
from bridge_devkit.emulator.ratelimit import FixedWindowRateLimiter

LIMITED = {"error": -32, "message": "Your application reached limit call api"}


def _at(minute: int, second: float) -> float:
    return datetime(2026, 11, 30, 10, minute, 0, tzinfo=UTC).timestamp() + second


class TestFixedWindowRateLimiter:
    def test_allows_the_limit_then_refuses(self):
        limiter = FixedWindowRateLimiter(3)
        now = _at(0, 10)

        decisions = [limiter.hit(now) for _ in range(4)]

        assert [d.allowed for d in decisions] == [True, True, True, False]
        assert [d.remaining for d in decisions] == [2, 1, 0, 0]
        assert {d.limit for d in decisions} == {3}

    def test_window_is_the_calendar_minute(self):
        limiter = FixedWindowRateLimiter(2)

        assert limiter.hit(_at(0, 58.0)).allowed
        assert limiter.hit(_at(0, 59.999)).allowed
        assert not limiter.hit(_at(0, 59.999)).allowed
        # One millisecond later is a new minute: the budget is whole again.
        assert limiter.hit(_at(1, 0.0)).remaining == 1

    def test_window_does_not_slide(self):
        limiter = FixedWindowRateLimiter(1)

        assert limiter.hit(_at(0, 0.5)).allowed
        # 59 s later is still the same calendar minute, so still refused...
        assert not limiter.hit(_at(0, 59.5)).allowed
        # ...and 1 s after that the minute has rolled over, even though < 60 s passed.
        assert limiter.hit(_at(1, 0.5)).allowed

    def test_refused_calls_do_not_use_budget(self):
        limiter = FixedWindowRateLimiter(1)
        limiter.hit(_at(0, 1))
        for _ in range(5):
            limiter.hit(_at(0, 2))

        assert limiter.peek(_at(0, 3)).remaining == 0
        assert limiter.hit(_at(1, 0)).allowed

    def test_zero_switches_it_off(self):
        limiter = FixedWindowRateLimiter(0)

        decisions = [limiter.hit(_at(0, 1)) for _ in range(10_000)]

        assert all(d.allowed for d in decisions)
        assert {(d.limit, d.remaining) for d in decisions} == {(None, None)}

    def test_peek_does_not_count(self):
        limiter = FixedWindowRateLimiter(2)
        for _ in range(5):
            limiter.peek(_at(0, 1))

        assert limiter.hit(_at(0, 1)).remaining == 1

    def test_negative_limit_is_refused(self):
        with pytest.raises(ValueError, match="limit"):
            FixedWindowRateLimiter(-1)


@pytest.fixture
async def limited(start, clock, follower_id):
    config = EmulatorConfig(
        rate_limit_per_minute=3,
        followers=(Follower(follower_id, "A", clock.now),),
    )
    return await start(config)


@pytest.fixture
async def limited_client(limited):
    async with httpx.AsyncClient(base_url=limited.base_url, timeout=5.0) as client:
        yield client


@pytest.fixture
def limited_send(limited_client, follower_id):
    async def _send(token="dev-access-token", user_id=follower_id):
        return await limited_client.post(
            "/v3.0/oa/message/cs",
            json={"recipient": {"user_id": user_id}, "message": {"text": "x"}},
            headers={"access_token": token},
        )

    return _send


class TestRateLimitOverHttp:
    async def test_over_budget_is_minus_32_with_http_200(self, limited_send):
        answers = [await limited_send() for _ in range(4)]

        assert [a.json()["error"] for a in answers[:3]] == [0, 0, 0]
        assert answers[3].status_code == 200
        assert answers[3].json() == LIMITED

    async def test_headers_count_down_on_every_call(self, limited_send):
        answers = [await limited_send() for _ in range(4)]

        assert [a.headers["X-RateLimit-Limit"] for a in answers] == ["3"] * 4
        assert [a.headers["X-RateLimit-Remain"] for a in answers] == ["2", "1", "0", "0"]

    async def test_budget_comes_back_when_the_minute_rolls_over(self, limited_send, clock):
        for _ in range(3):
            await limited_send()
        assert (await limited_send()).json() == LIMITED

        clock.advance(29.5)  # 10:00:59.5, same minute
        assert (await limited_send()).json() == LIMITED
        clock.advance(0.5)  # 10:01:00.0

        answer = await limited_send()
        assert answer.json()["error"] == 0
        assert answer.headers["X-RateLimit-Remain"] == "2"

    async def test_rejected_requests_with_a_valid_token_use_budget(self, limited_send):
        await limited_send(user_id="stranger")  # -213, still a call to the API

        answer = await limited_send()

        assert answer.headers["X-RateLimit-Remain"] == "1"

    async def test_calls_with_a_bad_token_do_not_use_budget_but_get_headers(self, limited_send):
        bad = [await limited_send(token="bad") for _ in range(5)]

        assert {b.json()["error"] for b in bad} == {-216}
        assert {b.headers["X-RateLimit-Remain"] for b in bad} == {"3"}
        assert (await limited_send()).headers["X-RateLimit-Remain"] == "2"

    async def test_rate_limited_calls_are_not_recorded_as_sent(self, limited_send, limited_client):
        for _ in range(5):
            await limited_send()

        log = (await limited_client.get("/_emulator/messages", params={"status": "all"})).json()
        assert [m["error"] for m in log["messages"]] == [0, 0, 0, -32, -32]

    async def test_admin_calls_do_not_use_budget(self, limited_send, limited_client):
        for _ in range(5):
            await limited_client.get("/_emulator/health")

        assert (await limited_send()).headers["X-RateLimit-Remain"] == "2"

    async def test_changing_the_limit_restarts_the_window(self, limited_send, limited_client):
        for _ in range(4):
            await limited_send()

        response = await limited_client.put("/_emulator/config", json={"rate_limit_per_minute": 5})
        assert response.json()["rate_limit_per_minute"] == 5

        answer = await limited_send()
        assert answer.json()["error"] == 0
        assert answer.headers["X-RateLimit-Limit"] == "5"
        assert answer.headers["X-RateLimit-Remain"] == "4"

    async def test_zero_limit_switches_it_off_and_drops_the_headers(
        self, limited_send, limited_client
    ):
        await limited_client.put("/_emulator/config", json={"rate_limit_per_minute": 0})

        answers = [await limited_send() for _ in range(10)]

        assert {a.json()["error"] for a in answers} == {0}
        assert all("X-RateLimit-Limit" not in a.headers for a in answers)

    async def test_default_limit_is_4000(self, send):
        answer = await send()

        assert answer.headers["X-RateLimit-Limit"] == "4000"
        assert answer.headers["X-RateLimit-Remain"] == "3999"
