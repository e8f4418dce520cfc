"""The chart's dashboard and alert rules name only metrics a running bridge serves on /metrics.

A bridge with every feature that has metrics switched on (managed tokens, the webhook, quiet
hours, announcements, object storage) handles a record, a poison record and a webhook event;
then every ``zalo_bridge_…`` name in the Grafana dashboard and in the PrometheusRule template
must be a sample name of its ``/metrics``.
"""

from __future__ import annotations

import asyncio
import re
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from cryptography.fernet import Fernet
from prometheus_client.parser import text_string_to_metric_families

from bridge.app import create_app
from bridge.settings import load_settings
from bridge.zalo.token_setup import open_token_store
from bridge.zalo.token_store import TokenPair
from bridge_devkit.emulator import EmulatorConfig
from bridge_devkit.emulator.webhook import compact_json, signature
from support import TOKEN, USER

pytestmark = pytest.mark.kafka

CHART = Path(__file__).resolve().parents[2] / "deploy" / "helm" / "bridge"
DASHBOARD = CHART / "dashboards" / "zalo-bridge.json"
RULES = CHART / "templates" / "prometheusrule.yaml"
NAME = re.compile(r"\bzalo_bridge_[a-z0-9_]+")
EMULATOR = EmulatorConfig()
DAYTIME = datetime(2026, 11, 30, 10, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh")).timestamp()
CASE = "000.20.31.H56-260310-0042"


def names_in(path: Path) -> set[str]:
    return set(NAME.findall(path.read_text(encoding="utf-8")))


SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def served_names(body: str) -> set[str]:
    """Every sample name, and the names each declared family has (with or without samples yet).

    A family without samples is still served (its HELP and TYPE lines): e.g. the flow's hold
    reasons while nothing is held. A panel over it shows "no data" until the first sample.
    """
    families = list(text_string_to_metric_families(body))
    names = {s.name for family in families for s in family.samples}
    for family in families:
        names |= {family.name + suffix for suffix in SUFFIXES.get(family.type, ("",))}
    return names


def test_the_files_name_metrics_at_all():
    assert len(names_in(DASHBOARD)) >= 15
    assert len(names_in(RULES)) >= 10


def _signed_event(now: float) -> tuple[bytes, dict[str, str]]:
    payload = {
        "app_id": EMULATOR.app_id,
        "sender": {"id": USER},
        "recipient": {"id": EMULATOR.oa_id},
        "event_name": "user_send_text",
        "message": {"text": "chào", "msg_id": "m-monitoring-1"},
        "timestamp": str(int(now * 1000)),
    }
    raw = compact_json(payload)
    mac = signature(EMULATOR.app_id, raw, payload["timestamp"], EMULATOR.oa_secret_key)
    return raw.encode(), {"x-zevent-signature": f"mac={mac}", "content-type": "application/json"}


async def test_every_metric_of_the_dashboard_and_the_rules_is_served(
    bridge_settings, emulator, publish, make_event, encode, tmp_path
):
    sections = ("kafka", "zalo", "delivery", "store", "province")
    given = {name: getattr(bridge_settings, name).model_dump() for name in sections}
    given["zalo"].update(
        token_encryption_key=Fernet.generate_key().decode(),
        app_id=EMULATOR.app_id,
        app_secret=EMULATOR.app_secret,
        oa_id=EMULATOR.oa_id,
    )
    settings = load_settings(
        **given,
        webhook={"app_id": EMULATOR.app_id, "oa_secret_key": EMULATOR.oa_secret_key},
        linking={"hmac_key": "monitoring-test-hmac-key"},
        quiet_hours={"enabled": True},
        announcements={"enabled": True},
        objects={"local_directory": str(tmp_path / "objects")},
    )
    store = await open_token_store(settings)
    try:
        now = time.time()
        pair = TokenPair(TOKEN, "refresh-token", now, now + 90_000, now + 7_776_000)
        await store.put(EMULATOR.oa_id, pair, source="import", by="test", now=now)
    finally:
        await store.close()
    await emulator.fault(kind="http", status=503, count=1)  # a Zalo error, then a retry
    await publish(encode(make_event(case={"code": CASE})), key=CASE)
    await publish(b"{not json", key=CASE)

    app = create_app(settings, clock=lambda: DAYTIME)
    transport = httpx.ASGITransport(app=app)
    async with app, httpx.AsyncClient(transport=transport, base_url="http://bridge") as client:
        body, headers = _signed_event(DAYTIME)
        answer = await client.post(settings.webhook.path, content=body, headers=headers)
        assert answer.status_code == 200
        assert len(await emulator.wait_for_accepted(1)) >= 1  # the record, maybe the chat reply
        deadline = time.monotonic() + 20
        while True:  # until both records are settled
            served = (await client.get("/metrics")).text
            outcomes = [
                s.value
                for family in text_string_to_metric_families(served)
                for s in family.samples
                if s.name == "zalo_bridge_outcomes_total"
            ]
            if sum(outcomes) >= 2 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
    available = served_names(served)
    wanted = names_in(DASHBOARD) | names_in(RULES)
    assert wanted - available == set()
    samples = {s.name for f in text_string_to_metric_families(served) for s in f.samples}
    for name in (  # the ones this run produces: their samples are there, not just declared
        "zalo_bridge_outcomes_total",
        "zalo_bridge_zalo_errors_total",
        "zalo_bridge_zalo_request_duration_seconds_bucket",
        "zalo_bridge_token_expiry_seconds",
        "zalo_bridge_token_refresh_failing",
        "zalo_bridge_webhook_inbox_events",
        "zalo_bridge_held_records",
        "zalo_bridge_consumer_lag",
        "zalo_bridge_object_operations_total",
    ):
        assert name in samples, name
