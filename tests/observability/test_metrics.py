"""Metrics: counters after outcomes, Zalo call timing, gauges read at scrape time, exposition."""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpx
import prometheus_client
import pytest

from bridge.delivery.flow import BreakerState
from bridge.observability.metrics import Metrics, label_value
from bridge.zalo.transport_failures import transport_outcome


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def metrics(clock):
    return Metrics(clock=clock, failure_outcome=transport_outcome)


def value(metrics, name, **labels):
    return metrics.registry.get_sample_value(name, labels)


def outcomes(metrics, status, reason):
    return value(metrics, "zalo_bridge_outcomes_total", status=status, reason=reason)


class TestOutcomes:
    def test_outcomes_are_counted_by_status_and_reason(self, metrics, clock):
        for status, reason, attempts in [
            ("delivered", None, 1),
            ("delivered", None, 3),
            ("failed", "unreachable:-230", 1),
            ("suppressed", "stale", 0),
            ("dead_lettered", "invalid_json", 0),
            ("dead_lettered", "rejected:-201", 2),
        ]:
            since = metrics.taken_up("case-state-events")
            clock.now += 0.2
            metrics.settled(status, reason, attempts=attempts, since=since)
        assert value(metrics, "zalo_bridge_events_consumed_total", topic="case-state-events") == 6
        assert outcomes(metrics, "delivered", "none") == 2
        assert outcomes(metrics, "failed", "unreachable:-230") == 1
        assert outcomes(metrics, "suppressed", "stale") == 1
        assert outcomes(metrics, "dead_lettered", "invalid_json") == 1
        assert outcomes(metrics, "dead_lettered", "rejected:-201") == 1
        assert value(metrics, "zalo_bridge_retries_total") == 3
        assert value(metrics, "zalo_bridge_event_processing_seconds_count", status="delivered") == 2
        assert value(
            metrics, "zalo_bridge_event_processing_seconds_sum", status="delivered"
        ) == pytest.approx(0.4)

    @pytest.mark.parametrize(
        "reason",
        [
            "unreachable:0912345678",
            "0912345678",
            "user 2512523625412515 blocked",
            "unreachable:2512523625412515",
            "Stale",
            "x" * 60,
        ],
    )
    def test_reasons_that_are_not_codes_never_become_labels(self, reason):
        assert label_value(reason) == "other"

    @pytest.mark.parametrize(
        "reason", ["stale", "no_consent", "unreachable:no_zalo_user_id", "rejected:-201"]
    )
    def test_reason_codes_are_kept(self, reason):
        assert label_value(reason) == reason

    def test_personal_data_in_a_reason_is_not_exposed(self, metrics):
        metrics.settled("failed", "unreachable:0912345678", attempts=1, since=0)
        assert b"0912345678" not in prometheus_client.generate_latest(metrics.registry)
        assert outcomes(metrics, "failed", "other") == 1

    def test_nothing_goes_to_the_global_registry(self, metrics):
        metrics.settled("delivered", None, attempts=1, since=0)
        assert b"zalo_bridge" not in prometheus_client.generate_latest(prometheus_client.REGISTRY)
        Metrics()  # a second instance (another app in the same process) does not collide


def zalo(handler, metrics):
    transport = metrics.instrument(httpx.MockTransport(handler))
    return httpx.AsyncClient(base_url="https://openapi.zalo.me", transport=transport)


class TestZaloCalls:
    async def test_answers_are_timed_by_endpoint_and_outcome(self, metrics, clock):
        answers = iter(
            [
                httpx.Response(200, json={"error": 0, "data": {"message_id": "m1"}}),
                httpx.Response(200, json={"error": -230, "message": "not a follower"}),
                httpx.Response(503),
                httpx.Response(200, content=b"<html>"),
            ]
        )

        def handler(_request):
            clock.now += 0.05
            return next(answers)

        async with zalo(handler, metrics) as client:
            first = await client.post("/v3.0/oa/message/cs", json={})
            for _ in range(3):
                await client.post("/v3.0/oa/message/cs", json={})
        assert first.json()["data"]["message_id"] == "m1"  # the body still reaches the client
        endpoint = "/v3.0/oa/message/cs"
        count = "zalo_bridge_zalo_request_duration_seconds_count"
        for outcome in ("ok", "zalo_error", "http_error", "bad_body"):
            assert value(metrics, count, endpoint=endpoint, outcome=outcome) == 1
        assert value(
            metrics,
            "zalo_bridge_zalo_request_duration_seconds_sum",
            endpoint=endpoint,
            outcome="ok",
        ) == pytest.approx(0.05)
        errors = "zalo_bridge_zalo_errors_total"
        assert value(metrics, errors, endpoint=endpoint, code="-230") == 1
        assert value(metrics, errors, endpoint=endpoint, code="http_503") == 1

    @pytest.mark.parametrize(
        ("error", "outcome"),
        [
            (httpx.ReadTimeout("slow"), "timeout"),
            (httpx.ConnectError("refused"), "not_sent"),
            (httpx.ConnectTimeout("no connection"), "not_sent"),
            (httpx.ReadError("connection reset"), "network_error"),
        ],
    )
    async def test_calls_without_an_answer_are_timed_too(self, metrics, error, outcome):
        def handler(_request):
            raise error

        async with zalo(handler, metrics) as client:
            with pytest.raises(type(error)):
                await client.get("/v2.0/oa/conversation", params={"data": json.dumps({})})
        assert (
            value(
                metrics,
                "zalo_bridge_zalo_request_duration_seconds_count",
                endpoint="/v2.0/oa/conversation",
                outcome=outcome,
            )
            == 1
        )

    async def test_paths_with_ids_are_not_labels(self, metrics):
        async with zalo(lambda _request: httpx.Response(200, json={"error": 0}), metrics) as client:
            await client.get("/v2.0/oa/user/2512523625412515")
        text = prometheus_client.generate_latest(metrics.registry)
        assert b"2512523625412515" not in text
        assert b'endpoint="other"' in text


@dataclass(frozen=True, order=True)
class TP:
    topic: str
    partition: int


class FakeConsumer:
    def __init__(self, high, committed, start):
        self._high, self._committed, self._start = high, committed, start

    def assignment(self):
        return set(self._high)

    def highwater(self, tp):
        return self._high[tp]

    async def committed(self, tp):
        return self._committed.get(tp)

    async def beginning_offsets(self, partitions):
        return {tp: self._start[tp] for tp in partitions}


class TestGauges:
    async def test_state_is_read_when_scraped(self, metrics):
        state = {"in_flight": 3, "breaker": "closed", "holds": frozenset(), "token": 3600.0}
        metrics.watch_in_flight(lambda: state["in_flight"])
        metrics.watch_breaker(lambda: state["breaker"], [s.value for s in BreakerState])
        metrics.watch_holds(lambda: state["holds"])
        metrics.watch_token(lambda: state["token"])
        await metrics.scrape()
        assert value(metrics, "zalo_bridge_in_flight") == 3
        assert value(metrics, "zalo_bridge_circuit_breaker_state", state="closed") == 1
        assert value(metrics, "zalo_bridge_circuit_breaker_state", state="open") == 0
        assert value(metrics, "zalo_bridge_consumer_paused") == 0
        assert value(metrics, "zalo_bridge_token_expiry_seconds", token="access") == 3600

        state.update(
            in_flight=1000,
            breaker="open",
            holds=frozenset({"circuit_breaker", "in_flight_window_full"}),
            token=None,
        )
        assert value(metrics, "zalo_bridge_in_flight") == 1000
        assert value(metrics, "zalo_bridge_circuit_breaker_state", state="open") == 1
        assert value(metrics, "zalo_bridge_circuit_breaker_state", state="closed") == 0
        assert value(metrics, "zalo_bridge_consumer_paused") == 1
        assert value(metrics, "zalo_bridge_flow_hold", reason="circuit_breaker") == 1
        assert value(metrics, "zalo_bridge_flow_hold", reason="in_flight_window_full") == 1
        assert value(metrics, "zalo_bridge_token_expiry_seconds", token="access") is None

    async def test_a_failing_probe_leaves_its_gauge_out(self, metrics):
        def broken():
            raise RuntimeError("token store closed")

        metrics.watch_token(broken)
        metrics.watch_in_flight(lambda: 2)
        body, _ = await metrics.scrape()
        assert b"zalo_bridge_in_flight 2.0" in body
        assert value(metrics, "zalo_bridge_token_expiry_seconds", token="access") is None

    async def test_lag_is_high_watermark_minus_committed_offset_per_partition(self, metrics):
        p0, p1, p2 = TP("events", 0), TP("events", 1), TP("events", 2)
        consumer = FakeConsumer(
            high={p0: 120, p1: 40, p2: None},
            committed={p0: 100},
            start={p1: 30, p2: 0},
        )
        metrics.watch_consumers(lambda: [consumer, None])
        await metrics.scrape()
        lag = "zalo_bridge_consumer_lag"
        assert value(metrics, lag, topic="events", partition="0") == 20
        assert value(metrics, lag, topic="events", partition="1") == 10  # nothing committed yet
        assert value(metrics, lag, topic="events", partition="2") is None  # nothing fetched yet

        consumer._high = {}  # partitions revoked
        await metrics.scrape()
        assert value(metrics, lag, topic="events", partition="0") is None

    async def test_exposition_follows_the_accept_header(self, metrics):
        metrics.settled("delivered", None, attempts=1, since=0)
        body, content_type = await metrics.scrape()
        assert content_type.startswith("text/plain")
        assert b'zalo_bridge_outcomes_total{reason="none",status="delivered"} 1.0' in body
        body, content_type = await metrics.scrape("application/openmetrics-text; version=1.0.0")
        assert content_type.startswith("application/openmetrics-text")
        assert body.endswith(b"# EOF\n")
