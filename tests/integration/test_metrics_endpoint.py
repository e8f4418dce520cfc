"""GET /metrics of the running bridge: outcomes, Zalo calls, lag, breaker, in flight."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bridge.app import create_app
from support import USER

pytestmark = pytest.mark.kafka

CASE = "000.20.31.H56-260310-0042"


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
