"""GET /metrics of the running bridge: outcomes, Zalo calls, lag, breaker, in flight."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bridge.app import create_app
from bridge.quiet_hours.settings import QuietHoursSettings
from support import USER

pytestmark = pytest.mark.kafka

CASE = "000.20.31.H56-260310-0042"
HCM = ZoneInfo("Asia/Ho_Chi_Minh")


def samples(body: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


def sample(found, name, **labels):
    return found.get((name, frozenset(labels.items())))


async def scrape(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def test_metrics_tell_what_happened(
    bridge_settings, emulator, publish, make_event, encode, topics
):
    await emulator.fault(kind="http", status=503, count=1)
    await publish(encode(make_event(case={"code": CASE})), key=CASE)
    await publish(b"{not json", key=CASE)
    app = create_app(bridge_settings)
    async with (
        app,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bridge"
        ) as client,
    ):
        assert len(await emulator.wait_for_accepted(1)) == 1
        deadline = time.monotonic() + 20
        while True:  # until both records are settled and committed
            found = samples(await scrape(client))
            lag = [
                value
                for (name, labels), value in found.items()
                if name == "zalo_bridge_consumer_lag" and ("topic", topics.input) in labels
            ]
            settled = sum(v for (n, _), v in found.items() if n == "zalo_bridge_outcomes_total")
            in_flight = sample(found, "zalo_bridge_in_flight")
            done = settled == 2 and in_flight == 0 and lag and sum(lag) == 0
            if done or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        body = await scrape(client)
    found = samples(body)
    assert sample(found, "zalo_bridge_events_consumed_total", topic=topics.input) == 2
    assert sample(found, "zalo_bridge_outcomes_total", status="delivered", reason="none") == 1
    assert (
        sample(found, "zalo_bridge_outcomes_total", status="dead_lettered", reason="invalid_json")
        == 1
    )
    assert sample(found, "zalo_bridge_retries_total") == 1
    step = {"channel": "zalo_cs", "recipient": "event_user", "status": "delivered"}
    assert sample(found, "zalo_bridge_deliveries_total", **step) == 1
    duration = "zalo_bridge_zalo_request_duration_seconds_count"
    assert sample(found, duration, endpoint="/v3.0/oa/message/cs", outcome="ok") == 1
    assert sample(found, duration, endpoint="/v3.0/oa/message/cs", outcome="http_error") == 1
    assert (
        sample(
            found, "zalo_bridge_zalo_errors_total", endpoint="/v3.0/oa/message/cs", code="http_503"
        )
        == 1
    )
    assert sample(found, "zalo_bridge_circuit_breaker_state", state="closed") == 1
    assert sample(found, "zalo_bridge_in_flight") == 0
    assert sample(found, "zalo_bridge_consumer_paused") == 0
    assert lag
    assert sum(lag) == 0
    assert USER not in body
    assert CASE not in body


async def scrape_until(client, ready, *, seconds=20):
    """Scrape until ``ready(samples)`` holds (bounded); return the last samples."""
    deadline = time.monotonic() + seconds
    while True:
        found = samples(await scrape(client))
        if ready(found) or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.2)


async def test_held_records_and_releases_are_read_from_the_hold_store(
    bridge_settings, emulator, publish, make_event, encode
):
    settings = bridge_settings.model_copy(
        update={"quiet_hours": QuietHoursSettings(release_poll_seconds=0.2)}
    )
    now = {"t": datetime(2026, 11, 29, 22, 30, tzinfo=HCM).timestamp()}
    event = make_event(state="IN_PROGRESS", case={"code": CASE})  # not urgent: held at night
    await publish(encode(event), key=CASE)
    app = create_app(settings, clock=lambda: now["t"])
    async with (
        app,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bridge"
        ) as client,
    ):
        held = "zalo_bridge_held_records"
        found = await scrape_until(client, lambda f: sample(f, held, status="held") == 1)
        assert sample(found, held, status="held") == 1
        assert sample(found, "zalo_bridge_held_releases_total") == 0

        now["t"] = datetime(2026, 11, 30, 7, 0, 5, tzinfo=HCM).timestamp()
        found = await scrape_until(
            client, lambda f: sample(f, "zalo_bridge_held_releases_total") == 1
        )
        await emulator.wait_for_accepted(1)
    assert sample(found, "zalo_bridge_held_releases_total") == 1
    assert sample(found, held, status="released") == 1
    assert sample(found, held, status="held") == 0
    step = {"channel": "zalo_cs", "recipient": "event_user", "status": "delivered"}
    assert sample(found, "zalo_bridge_deliveries_total", **step) == 1
