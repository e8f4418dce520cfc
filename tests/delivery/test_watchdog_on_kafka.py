"""The progress watchdog in the running bridge: a hung send fails liveness, an outage does not."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from structlog.testing import capture_logs

from bridge.app import create_app
from bridge.errors import RetryableDeliveryError
from bridge.zalo import OaProfile, SendReceipt

pytestmark = pytest.mark.kafka

CASE = "000.20.31.H56-260310-0042"
STALL = 600.0  # delivery.watchdog_stall_seconds, the default


class Monotonic:
    """The dispatcher's and the watchdog's clock; only the test moves it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class HungZalo:
    """Takes the send and never answers, as a connection hung without a timeout would."""

    def __init__(self) -> None:
        self.sending = asyncio.Event()

    async def _hang(self) -> SendReceipt:
        self.sending.set()
        await asyncio.Event().wait()
        raise AssertionError

    async def send_text(self, user_id: str, text: str) -> SendReceipt:  # noqa: ARG002 - the port
        return await self._hang()

    async def find_sent(self, user_id: str, text: str, *, since: float) -> str | None:  # noqa: ARG002 - the port
        return None

    async def send_template(
        self,
        user_id: str,  # noqa: ARG002 - the port
        template_id: str,  # noqa: ARG002 - the port
        template_data: Mapping[str, str],  # noqa: ARG002 - the port
    ) -> SendReceipt:
        return await self._hang()

    async def send_template_by_phone(
        self,
        phone: str,  # noqa: ARG002 - the port
        template_id: str,  # noqa: ARG002 - the port
        template_data: Mapping[str, str],  # noqa: ARG002 - the port
        tracking_id: str,  # noqa: ARG002 - the port
    ) -> SendReceipt:
        return await self._hang()

    async def oa_profile(self) -> OaProfile:
        return OaProfile(oa_id="1", name="OA", oa_type=4)


class DownZalo(HungZalo):
    """Zalo is down: every call fails at once."""

    async def _hang(self) -> SendReceipt:
        self.sending.set()
        raise RetryableDeliveryError("Zalo answered HTTP 503")

    async def oa_profile(self) -> OaProfile:
        raise RetryableDeliveryError("Zalo answered HTTP 503")


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, frozenset], float]:
    body = (await client.get("/metrics")).text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
        if s.name.startswith(("zalo_bridge_oldest", "zalo_bridge_watchdog"))
    }


async def live(client: httpx.AsyncClient) -> int:
    return (await client.get("/health/live")).status_code


async def test_a_hung_send_fails_liveness_after_the_stall_time(
    bridge_settings, publish, make_event, encode, topics
):
    await publish(encode(make_event(case={"code": CASE})), key=CASE)
    clock, zalo = Monotonic(), HungZalo()
    app = create_app(bridge_settings, sender=zalo, monotonic=clock)
    transport = httpx.ASGITransport(app=app)
    async with app, httpx.AsyncClient(transport=transport, base_url="http://bridge") as client:
        await asyncio.wait_for(zalo.sending.wait(), 30)
        read_at = clock.now  # the record was read at this moment of the fake clock
        assert await live(client) == 204
        clock.now = read_at + STALL - 0.1
        assert await live(client) == 204
        before = await scrape(client)
        [labels] = [key[1] for key in before if key[0] == "zalo_bridge_oldest_unsettled_seconds"]
        partition = dict(labels)["partition"]
        with capture_logs() as logs:
            clock.now = read_at + STALL
            assert await live(client) == 503
        after = await scrape(client)

    oldest = ("zalo_bridge_oldest_unsettled_seconds", labels)
    assert dict(labels)["topic"] == topics.input
    assert before[oldest] == pytest.approx(STALL - 0.1)
    assert before[("zalo_bridge_watchdog_stalled", frozenset())] == 0
    assert after[oldest] == pytest.approx(STALL)
    assert after[("zalo_bridge_watchdog_stalled", frozenset())] == 1
    [line] = [e for e in logs if e["event"].startswith("delivery stalled")]
    assert (line["topic"], str(line["partition"]), line["offset"]) == (topics.input, partition, 0)


async def test_an_outage_is_never_a_stall(bridge_settings, publish, make_event, encode):
    """The breaker is open: the records wait on purpose, however long it lasts."""
    await publish(encode(make_event(case={"code": CASE})), key=CASE)
    clock, zalo = Monotonic(), DownZalo()
    app = create_app(bridge_settings, sender=zalo, monotonic=clock)
    transport = httpx.ASGITransport(app=app)
    async with app, httpx.AsyncClient(transport=transport, base_url="http://bridge") as client:
        await asyncio.wait_for(zalo.sending.wait(), 30)
        deadline = time.monotonic() + 30
        while (await client.get("/health/ready")).status_code != 503:  # the breaker opened
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        clock.now += 100 * STALL
        assert await live(client) == 204
        assert (await scrape(client))[("zalo_bridge_watchdog_stalled", frozenset())] == 0
