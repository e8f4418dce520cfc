"""Probabilistic and timed faults for chaos runs: probability, expiry, seed, listing, deletion."""

from __future__ import annotations

import random

import httpx
import pytest

from bridge_devkit.emulator import CS_MESSAGE_PATH, DEV_ACCESS_TOKEN
from bridge_devkit.emulator.cli import build_parser
from bridge_devkit.emulator.faults import DropFault, ErrorFault, FaultQueue

SEND_FAILED = -200


class _Fixed(random.Random):
    """A generator whose every draw is `value`, to test both sides of a probability."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


@pytest.fixture
def inject(client):
    async def _inject(*faults, status=200):
        response = await client.post("/_emulator/faults", json=list(faults))
        assert response.status_code == status, response.text
        return response.json().get("queued")

    return _inject


async def _errors(send, calls: int) -> list[int]:
    return [(await send()).json()["error"] for _ in range(calls)]


class TestProbability:
    async def test_hits_about_that_share_of_calls(self, start, config):
        emulator = await start(config, rng=random.Random(11))  # noqa: S311 - seeded chaos
        async with httpx.AsyncClient(base_url=emulator.base_url) as http:
            await http.post(
                "/_emulator/faults", json={"kind": "error", "error": -200, "probability": 0.3}
            )
            errors = []
            for _ in range(400):
                response = await http.post(
                    CS_MESSAGE_PATH,
                    json={"recipient": {"user_id": "2512523625412515"}, "message": {"text": "x"}},
                    headers={"access_token": DEV_ACCESS_TOKEN},
                )
                errors.append(response.json()["error"])

        share = errors.count(SEND_FAILED) / len(errors)
        assert 0.2 < share < 0.4
        assert set(errors) == {0, SEND_FAILED}

    async def test_same_seed_same_faults(self, start, config):
        async def pattern(seed: int) -> list[int]:
            emulator = await start(config, rng=random.Random(seed))  # noqa: S311 - seeded chaos
            async with httpx.AsyncClient(base_url=emulator.base_url) as http:
                await http.post(
                    "/_emulator/faults", json={"kind": "http", "status": 503, "probability": 0.5}
                )
                statuses = []
                for _ in range(40):
                    response = await http.post(
                        CS_MESSAGE_PATH,
                        json={
                            "recipient": {"user_id": "2512523625412515"},
                            "message": {"text": "x"},
                        },
                        headers={"access_token": DEV_ACCESS_TOKEN},
                    )
                    statuses.append(response.status_code)
            return statuses

        first, again, other = await pattern(5), await pattern(5), await pattern(6)

        assert first == again
        assert first != other
        assert set(first) == {200, 503}

    async def test_stays_until_deleted_without_a_count(self, send, inject, client):
        await inject({"kind": "error", "error": -200, "probability": 1})

        assert await _errors(send, 5) == [SEND_FAILED] * 5
        [listed] = (await client.get("/_emulator/faults")).json()["faults"]
        assert (listed["count"], listed["applied"], listed["probability"]) == (None, 5, 1.0)

        assert (await client.delete("/_emulator/faults")).json() == {"deleted": 1}
        assert await _errors(send, 2) == [0, 0]

    async def test_with_a_count_it_ends_after_that_many_hits(self, send, inject, client):
        await inject({"kind": "error", "error": -200, "probability": 1, "count": 2})

        assert await _errors(send, 3) == [SEND_FAILED, SEND_FAILED, 0]
        assert (await client.get("/_emulator/faults")).json() == {"faults": []}

    def test_a_spared_call_goes_on_to_the_next_rule(self):
        queue = FaultQueue(_Fixed(0.7))
        queue.add(ErrorFault(-200, "x"), count=None, probability=0.5)
        queue.add(DropFault())

        assert queue.take("/p", None) == DropFault()
        assert queue.take("/p", None) is None

    def test_a_draw_below_the_probability_hits(self):
        queue = FaultQueue(_Fixed(0.49))
        rule = queue.add(ErrorFault(-200, "x"), count=None, probability=0.5)

        assert queue.take("/p", None) == ErrorFault(-200, "x")
        assert rule.applied == 1
        assert rule.remaining is None

    def test_an_unlimited_rule_needs_a_probability_or_an_expiry(self):
        with pytest.raises(ValueError, match="probability or an expiry"):
            FaultQueue().add(DropFault(), count=None)

    @pytest.mark.parametrize("probability", [0, -0.1, 1.01])
    def test_probability_outside_0_1_is_refused_by_the_queue(self, probability):
        with pytest.raises(ValueError, match="probability"):
            FaultQueue().add(DropFault(), probability=probability)


class TestExpiry:
    async def test_duration_ends_the_fault(self, send, inject, clock, client):
        await inject({"kind": "error", "error": -32, "probability": 1, "duration_s": 10})

        assert await _errors(send, 2) == [-32, -32]
        clock.advance(9.9)
        assert await _errors(send, 1) == [-32]
        clock.advance(0.1)
        assert await _errors(send, 1) == [0]
        assert (await client.get("/_emulator/faults")).json() == {"faults": []}

    async def test_timed_fault_without_probability_hits_every_call(self, send, inject, clock):
        await inject({"kind": "error", "error": -32, "duration_s": 5})

        assert await _errors(send, 4) == [-32] * 4
        clock.advance(5)
        assert await _errors(send, 1) == [0]

    async def test_until_ends_the_fault(self, send, inject, clock):
        # The manual clock starts at 2026-11-30T10:00:30Z.
        [queued] = await inject({"kind": "http", "status": 503, "until": "2026-11-30T10:01:00Z"})

        assert queued["expires_at"] == "2026-11-30T10:01:00.000+00:00"
        assert (await send()).status_code == 503
        clock.advance(30)
        assert (await send()).status_code == 200

    async def test_naive_until_means_utc(self, inject):
        [queued] = await inject({"kind": "drop", "until": "2026-11-30T11:00:00"})

        assert queued["expires_at"] == "2026-11-30T11:00:00.000+00:00"

    async def test_count_and_duration_end_at_whichever_comes_first(self, send, inject, clock):
        await inject({"kind": "error", "error": -200, "count": 2, "duration_s": 60})

        assert await _errors(send, 3) == [SEND_FAILED, SEND_FAILED, 0]
        await inject({"kind": "error", "error": -200, "count": 5, "duration_s": 60})
        assert await _errors(send, 1) == [SEND_FAILED]
        clock.advance(60)
        assert await _errors(send, 1) == [0]

    async def test_expired_rule_lets_a_later_rule_apply(self, send, inject, clock):
        await inject(
            {"kind": "error", "error": -32, "duration_s": 1},
            {"kind": "error", "error": -200},
        )
        clock.advance(1)

        assert await _errors(send, 2) == [SEND_FAILED, 0]

    @pytest.mark.parametrize(
        "fault",
        [
            {"kind": "drop", "probability": 0},
            {"kind": "drop", "probability": 1.5},
            {"kind": "drop", "probability": 0.5, "count": 0},
            {"kind": "drop", "duration_s": 0},
            {"kind": "drop", "duration_s": 5, "until": "2026-11-30T11:00:00Z"},
            {"kind": "drop", "until": "2026-11-30T10:00:00Z"},
            {"kind": "drop", "until": "soon"},
        ],
        ids=[
            "probability-0",
            "probability-above-1",
            "count-0",
            "duration-0",
            "until-and-duration",
            "until-in-the-past",
            "until-not-a-time",
        ],
    )
    async def test_bad_chaos_fields_are_400_and_queue_nothing(self, client, fault):
        response = await client.post("/_emulator/faults", json=fault)

        assert response.status_code == 400
        assert (await client.get("/_emulator/faults")).json() == {"faults": []}


class TestListingAndDeletion:
    async def test_chaos_rule_is_listed_with_its_fields(self, inject, client):
        await inject(
            {"kind": "delay", "ms": 1500, "probability": 0.25, "duration_s": 90, "user_id": "u"}
        )

        [listed] = (await client.get("/_emulator/faults")).json()["faults"]

        assert listed == {
            "id": "fault-1",
            "kind": "delay",
            "ms": 1500.0,
            "count": None,
            "user_id": "u",
            "endpoint": None,
            "probability": 0.25,
            "expires_at": "2026-11-30T10:02:00.000+00:00",
            "applied": 0,
        }

    async def test_plain_rule_keeps_its_shape(self, inject, client):
        await inject({"kind": "drop"})

        [listed] = (await client.get("/_emulator/faults")).json()["faults"]

        assert set(listed) == {"id", "kind", "count", "user_id", "endpoint"}

    async def test_delete_one_rule_by_id(self, inject, client, send):
        await inject(
            {"kind": "error", "error": -32, "probability": 1},
            {"kind": "error", "error": -200, "probability": 1},
        )

        response = await client.delete("/_emulator/faults/fault-1")

        assert response.json() == {"deleted": 1}
        assert await _errors(send, 1) == [SEND_FAILED]
        assert [f["id"] for f in (await client.get("/_emulator/faults")).json()["faults"]] == [
            "fault-2"
        ]

    async def test_delete_unknown_id_is_404(self, client):
        response = await client.delete("/_emulator/faults/fault-99")

        assert response.status_code == 404
        assert "fault-99" in response.json()["error"]

    async def test_probabilistic_delay_records_the_message(self, inject, send, messages):
        await inject({"kind": "delay", "ms": 1, "probability": 1})

        await send("chậm")

        [record] = await messages()
        assert (record["text"], record["fault"]) == ("chậm", "delay")


def test_cli_takes_a_seed():
    assert build_parser().parse_args(["--seed", "42"]).seed == 42
    assert build_parser().parse_args([]).seed is None
