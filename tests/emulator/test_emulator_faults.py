"""Injected faults (error, http, delay, drop), their matching, and the global latency."""

from __future__ import annotations

import random
import time

import httpx
import pytest

from bridge_devkit.emulator import EmulatorConfig, EmulatorState
from bridge_devkit.emulator.faults import DropFault, ErrorFault, FaultQueue

SEND_FAILED = {"error": -200, "message": "Send message failed"}


@pytest.fixture
def inject(client):
    async def _inject(*faults):
        response = await client.post("/_emulator/faults", json=list(faults))
        assert response.status_code == 200, response.text
        return response.json()["queued"]

    return _inject


class TestErrorFault:
    async def test_answers_the_code_with_zalo_message_and_http_200(self, send, inject):
        await inject({"kind": "error", "error": -200})

        response = await send()

        assert response.status_code == 200
        assert response.json() == SEND_FAILED

    async def test_applies_only_to_the_next_call(self, send, inject):
        await inject({"kind": "error", "error": -200})

        await send()

        assert (await send()).json()["error"] == 0

    async def test_applies_to_count_calls(self, send, inject):
        await inject({"kind": "error", "error": -32, "count": 2})

        errors = [(await send()).json()["error"] for _ in range(3)]

        assert errors == [-32, -32, 0]

    async def test_is_not_recorded_as_sent(self, send, inject, messages):
        await inject({"kind": "error", "error": -200})
        await send("lost")

        assert await messages() == []
        [record] = await messages(status="rejected")
        assert (record["error"], record["fault"], record["text"]) == (-200, "error", "lost")

    async def test_takes_precedence_over_the_rules(self, send, inject):
        await inject({"kind": "error", "error": -230})

        assert (await send(token=None)).json()["error"] == -230

    async def test_custom_message_and_unknown_code(self, send, inject, client):
        refused = await client.post("/_emulator/faults", json={"kind": "error", "error": -9999})
        assert refused.status_code == 400
        assert "-9999" in refused.json()["error"]

        await inject({"kind": "error", "error": -9999, "message": "Bí ẩn"})

        assert (await send()).json() == {"error": -9999, "message": "Bí ẩn"}

    async def test_positive_code_is_refused(self, client):
        response = await client.post("/_emulator/faults", json={"kind": "error", "error": 5})

        assert response.status_code == 400


class TestFaultMatching:
    async def test_user_filter_spares_other_users(self, send, inject, client):
        await client.put("/_emulator/followers", json=[{"user_id": "other"}])
        await inject({"kind": "error", "error": -200, "user_id": "other"})

        mine = await send()
        theirs = await send(user_id="other")

        assert mine.json()["error"] == 0
        assert theirs.json() == SEND_FAILED

    async def test_endpoint_filter_spares_other_endpoints(self, send, inject):
        await inject({"kind": "error", "error": -200, "endpoint": "/v3.0/oa/message/template"})

        assert (await send()).json()["error"] == 0

    async def test_endpoint_filter_matches_its_endpoint(self, send, inject):
        await inject({"kind": "error", "error": -200, "endpoint": "/v3.0/oa/message/cs"})

        assert (await send()).json() == SEND_FAILED

    async def test_faults_apply_in_the_order_queued(self, send, inject):
        await inject({"kind": "error", "error": -200}, {"kind": "http", "status": 502})

        first, second = await send(), await send()

        assert first.json() == SEND_FAILED
        assert second.status_code == 502

    async def test_pending_faults_are_listed_with_their_remaining_count(self, inject, client):
        await inject({"kind": "delay", "ms": 0, "count": 3, "user_id": "u"})
        await inject({"kind": "drop"})

        listed = (await client.get("/_emulator/faults")).json()["faults"]

        assert listed == [
            {
                "id": "fault-1",
                "kind": "delay",
                "ms": 0.0,
                "count": 3,
                "user_id": "u",
                "endpoint": None,
            },
            {"id": "fault-2", "kind": "drop", "count": 1, "user_id": None, "endpoint": None},
        ]

    async def test_delete_clears_pending_faults(self, send, inject, client):
        await inject({"kind": "error", "error": -200, "count": 5})

        response = await client.delete("/_emulator/faults")

        assert response.json() == {"deleted": 1}
        assert (await send()).json()["error"] == 0
        assert (await client.get("/_emulator/faults")).json() == {"faults": []}

    @pytest.mark.parametrize(
        "payload",
        [
            {"kind": "explode"},
            {"kind": "http", "status": 200},
            {"kind": "delay", "ms": -1},
            {"kind": "drop", "count": 0},
            {"kind": "drop", "colour": "red"},
        ],
        ids=["unknown-kind", "http-200", "negative-delay", "zero-count", "extra-field"],
    )
    async def test_bad_fault_is_400(self, client, payload):
        response = await client.post("/_emulator/faults", json=payload)

        assert response.status_code == 400


class TestHttpFault:
    async def test_answers_the_status_with_a_small_non_zalo_body(self, send, inject, messages):
        await inject({"kind": "http", "status": 503})

        response = await send()

        assert response.status_code == 503
        assert "503" in response.text
        assert len(response.content) < 200
        assert await messages() == []
        [record] = await messages(status="rejected")
        assert (record["http_status"], record["error"], record["fault"]) == (503, None, "http")

    async def test_custom_body(self, send, inject):
        await inject({"kind": "http", "status": 429, "body": "slow down"})

        response = await send()

        assert (response.status_code, response.text) == (429, "slow down")


class TestDelayFault:
    async def test_answer_is_late_but_the_message_is_sent(self, send, inject, messages):
        await inject({"kind": "delay", "ms": 300})

        began = time.perf_counter()
        response = await send("chậm")
        elapsed = time.perf_counter() - began

        assert elapsed >= 0.3
        assert response.json()["error"] == 0
        [record] = await messages()
        assert (record["text"], record["fault"]) == ("chậm", "delay")

    async def test_client_timeout_leaves_a_message_in_doubt(self, send, inject, messages):
        await inject({"kind": "delay", "ms": 2000})

        with pytest.raises(httpx.ReadTimeout):
            await send("in doubt", timeout=0.2)

        [record] = await messages()
        assert record["text"] == "in doubt"
        assert record["accepted"] is True
        assert record["message_id"] is not None

    async def test_delayed_answer_still_follows_the_rules(self, send, inject):
        await inject({"kind": "delay", "ms": 10})

        assert (await send(user_id="stranger")).json()["error"] == -213


class TestDropFault:
    async def test_closes_the_connection_without_an_answer(self, send, inject, messages):
        await inject({"kind": "drop"})

        with pytest.raises(httpx.RemoteProtocolError):
            await send("dropped")

        assert await messages() == []
        [record] = await messages(status="all")
        assert (record["text"], record["fault"], record["http_status"]) == ("dropped", "drop", None)

    async def test_next_call_is_answered(self, send, inject):
        await inject({"kind": "drop"})
        with pytest.raises(httpx.RemoteProtocolError):
            await send()

        assert (await send()).json()["error"] == 0


class TestLatency:
    async def test_configured_latency_delays_zalo_answers(self, send, client):
        await client.put("/_emulator/config", json={"latency_ms": 150})

        began = time.perf_counter()
        await send()
        elapsed = time.perf_counter() - began

        assert elapsed >= 0.15

    async def test_latency_adds_to_a_delay_fault(self, send, client, inject):
        await client.put("/_emulator/config", json={"latency_ms": 100})
        await inject({"kind": "delay", "ms": 100})

        began = time.perf_counter()
        await send()

        assert time.perf_counter() - began >= 0.2

    async def test_admin_calls_are_not_delayed(self, client):
        await client.put("/_emulator/config", json={"latency_ms": 5000})

        response = await client.get("/_emulator/health", timeout=1.0)

        assert response.status_code == 200

    def test_jitter_is_uniform_between_latency_and_latency_plus_jitter(self):
        state = EmulatorState(
            EmulatorConfig(latency_ms=50, latency_jitter_ms=20),
            rng=random.Random(7),  # noqa: S311 - seeded jitter, not crypto
        )

        samples = [state.latency_s() for _ in range(2000)]

        assert min(samples) >= 0.050
        assert max(samples) <= 0.070
        assert max(samples) - min(samples) > 0.018  # really spread, not constant

    def test_no_jitter_means_constant_latency(self):
        state = EmulatorState(EmulatorConfig(latency_ms=50))

        assert {state.latency_s() for _ in range(100)} == {0.05}


class TestFaultQueue:
    def test_user_specific_rule_does_not_block_a_later_general_rule(self):
        queue = FaultQueue()
        queue.add(ErrorFault(-200, "x"), user_id="a")
        queue.add(DropFault())

        assert queue.take("/p", "b") == DropFault()
        assert queue.take("/p", "a") == ErrorFault(-200, "x")
        assert queue.take("/p", "a") is None

    def test_count_must_be_positive(self):
        with pytest.raises(ValueError, match="count"):
            FaultQueue().add(DropFault(), count=0)
