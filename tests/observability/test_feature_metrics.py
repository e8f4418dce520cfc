"""The wings' metrics: cascade steps, tokens, quiet hours, announcements, webhook, citizens."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from types import SimpleNamespace

import httpx
import pytest

from bridge.announcements.contract import parse_announcement
from bridge.announcements.fanout import FanOutStats
from bridge.announcements.metrics import watch_announcements
from bridge.announcements.store import AnnouncementStatus, AnnouncementStore, Progress
from bridge.citizens.desk import CitizenDesk, LinkPolicy
from bridge.citizens.metrics import watch_citizens
from bridge.citizens.replies import Replies
from bridge.citizens.second_factor import receipt_secret
from bridge.citizens.store import CitizenStore
from bridge.observability.metrics import Metrics
from bridge.quiet_hours.metrics import watch_quiet_hours
from bridge.status import Channel, ChannelDelivery, DeliveryStatus
from bridge.store.database import open_database
from bridge.store.migrate import upgrade
from bridge.webhook.endpoint import WebhookInbox, webhook_endpoint
from bridge.webhook.events import OaEvent, SignatureKeys
from bridge.webhook.inbox import InboxStore
from bridge.zalo import SendReceipt
from bridge.zalo.metrics import watch_tokens
from bridge_devkit.emulator.webhook import compact_json, signature

USER = "2512523625412515"
CODE = "000.20.31.H56-260310-0042"
KEY = "desk-key"
APP_ID, OA_SECRET = "3066521851012345678", "oa-secret"
NOW = 1_800_000_000.0


def value(metrics, name, **labels):
    return metrics.registry.get_sample_value(name, labels)


@pytest.fixture
def metrics():
    return Metrics()


class TestWatchedFamilies:
    async def test_counts_become_samples_with_only_code_labels(self, metrics):
        counts = Counter({"refused": 2, "0912345678": 1, USER: 4})
        metrics.watch_counter("things", "Things.", lambda: counts, ["result"])
        metrics.watch_gauge("level", "A level.", lambda: {(): 7})
        assert value(metrics, "zalo_bridge_things_total", result="refused") == 2
        assert value(metrics, "zalo_bridge_things_total", result="other") == 5  # merged
        assert value(metrics, "zalo_bridge_level") == 7
        counts["refused"] += 1
        assert value(metrics, "zalo_bridge_things_total", result="refused") == 3
        body, _ = await metrics.scrape()
        assert USER.encode() not in body
        assert b"0912345678" not in body

    async def test_a_feature_that_is_off_or_broken_is_left_out(self, metrics):
        def broken():
            raise RuntimeError("closed")

        async def failing():
            raise RuntimeError("database down")

        metrics.watch_counter("off", "Off.", lambda: None)
        metrics.watch_gauge("broken", "Broken.", broken)
        metrics.refresh_before_scrape("db", failing)
        metrics.watch_gauge("fine", "Fine.", lambda: {(): 1})
        body, _ = await metrics.scrape()
        assert b"zalo_bridge_off" not in body
        assert b"zalo_bridge_broken" not in body
        assert b"zalo_bridge_fine 1.0" in body

    def test_watching_again_replaces(self, metrics):
        metrics.watch_gauge("level", "A level.", lambda: {(): 1})
        metrics.watch_gauge("level", "A level.", lambda: {(): 2})
        assert value(metrics, "zalo_bridge_level") == 2


class TestCascadeSteps:
    def test_each_settled_step_is_counted_by_channel_recipient_and_status(self, metrics):
        steps = (
            ChannelDelivery(
                channel=Channel.ZALO_CS,
                recipient="event_user",
                zalo_user_id=USER,
                status=DeliveryStatus.FAILED,
                reason="unreachable:-230",
                attempts=1,
            ),
            ChannelDelivery(
                channel=Channel.ZALO_TEMPLATE_PHONE,
                recipient="phone",
                status=DeliveryStatus.DELIVERED,
                attempts=1,
            ),
        )
        metrics.settled("delivered", None, attempts=2, deliveries=steps)
        metrics.settled("suppressed", "stale", attempts=0)
        deliveries = "zalo_bridge_deliveries_total"
        assert (
            value(metrics, deliveries, channel="zalo_cs", recipient="event_user", status="failed")
            == 1
        )
        assert (
            value(
                metrics,
                deliveries,
                channel="zalo_template_phone",
                recipient="phone",
                status="delivered",
            )
            == 1
        )


def watch(metrics, **features):
    """Register every wing's families as the composition root does."""
    sources = {"tokens": None, "releaser": None, "announcements": None, "citizens": None} | features
    if sources["tokens"] is not None:
        watch_tokens(metrics, sources["tokens"])
    watch_quiet_hours(metrics, lambda: sources["releaser"])
    watch_announcements(metrics, lambda: sources["announcements"])
    watch_citizens(metrics, lambda: sources["citizens"])
    return sources


class TestTokens:
    async def test_refresh_outcomes_health_and_failing_refresh(self, metrics):
        tokens = SimpleNamespace(outcomes=Counter(), healthy=True, refresh_failing=False)
        watch(metrics, tokens=tokens)
        refreshes = "zalo_bridge_token_refreshes_total"
        assert value(metrics, refreshes, outcome="failed") == 0
        assert value(metrics, "zalo_bridge_token_healthy") == 1
        assert value(metrics, "zalo_bridge_token_refresh_failing") == 0

        tokens.outcomes.update(["refreshed", "adopted", "failed", "failed"])
        tokens.healthy, tokens.refresh_failing = False, True
        assert value(metrics, refreshes, outcome="refreshed") == 1
        assert value(metrics, refreshes, outcome="adopted") == 1
        assert value(metrics, refreshes, outcome="failed") == 2
        assert value(metrics, "zalo_bridge_token_healthy") == 0
        assert value(metrics, "zalo_bridge_token_refresh_failing") == 1

    async def test_without_managed_tokens_there_are_no_token_families(self, metrics):
        watch(metrics)
        body, _ = await metrics.scrape()
        assert b"zalo_bridge_token_healthy" not in body
        assert b"zalo_bridge_held_records" not in body
        assert b"zalo_bridge_announcement" not in body
        assert b"zalo_bridge_webhook_requests" not in body


class FakeHoldStore:
    def __init__(self):
        self.rows = {"held": 3, "released": 5}

    async def counts(self):
        return dict(self.rows)


class TestQuietHours:
    async def test_held_records_by_status_are_read_from_the_store_at_scrape(self, metrics):
        releaser = SimpleNamespace(store=FakeHoldStore(), released=5)
        watch(metrics, releaser=releaser)
        await metrics.scrape()
        held = "zalo_bridge_held_records"
        assert value(metrics, held, status="held") == 3
        assert value(metrics, held, status="released") == 5
        assert value(metrics, held, status="superseded") == 0
        assert value(metrics, "zalo_bridge_held_releases_total") == 5

        releaser.store.rows = {"held": 1, "released": 6, "superseded": 1}
        releaser.released = 6
        await metrics.scrape()
        assert value(metrics, held, status="held") == 1
        assert value(metrics, held, status="superseded") == 1
        assert value(metrics, "zalo_bridge_held_releases_total") == 6


def progress(announcement_id, *, sent, failed, pending, started, last):
    return Progress(
        announcement_id=announcement_id,
        status="sending",
        title="Lịch tiếp công dân",
        urgency="normal",
        total=sent + failed + pending,
        sent=sent,
        failed=failed,
        expired=0,
        pending=pending,
        reasons={"rejected:-201": failed} if failed else {},
        started_at=started,
        last_update_at=last,
        finished_at=None,
    )


class FakeAnnouncementStore:
    def __init__(self, found):
        self.found = found

    async def active_ids(self):
        return list(self.found)

    async def progress(self, announcement_id):
        return self.found.get(announcement_id)


class TestAnnouncements:
    async def test_progress_of_the_active_announcements_and_send_counts(self, metrics):
        store = FakeAnnouncementStore(
            {
                # 60 settled in 60 s, 120 to go: 60/min, 120 s left.
                "ann-1": progress("ann-1", sent=58, failed=2, pending=120, started=0, last=60),
                # 30 settled in 60 s, 30 to go: 30/min, 60 s left.
                "ann-2": progress("ann-2", sent=30, failed=0, pending=30, started=0, last=60),
            }
        )
        stats = FanOutStats(sent=88, failed={"rejected": 2}, retried=4, reconciled=1)
        watch(
            metrics, announcements=SimpleNamespace(store=store, fanout=SimpleNamespace(stats=stats))
        )
        body, _ = await metrics.scrape()
        recipients = "zalo_bridge_announcement_recipients"
        assert value(metrics, recipients, status="sent") == 88
        assert value(metrics, recipients, status="failed") == 2
        assert value(metrics, recipients, status="pending") == 150
        assert value(metrics, recipients, status="expired") == 0
        assert value(metrics, "zalo_bridge_announcements_active") == 2
        assert value(metrics, "zalo_bridge_announcement_fanout_per_minute") == pytest.approx(90)
        assert value(metrics, "zalo_bridge_announcement_eta_seconds") == pytest.approx(120)
        sends = "zalo_bridge_announcement_sends_total"
        assert value(metrics, sends, outcome="sent", reason="none") == 88
        assert value(metrics, sends, outcome="failed", reason="rejected") == 2
        assert value(metrics, "zalo_bridge_announcement_send_retries_total") == 4
        assert value(metrics, "zalo_bridge_announcement_reconciled_total") == 1
        assert b"ann-1" not in body  # aggregated: no announcement ids as labels

        store.found = {}  # both finished
        await metrics.scrape()
        assert value(metrics, recipients, status="pending") == 0
        assert value(metrics, "zalo_bridge_announcements_active") == 0
        assert value(metrics, "zalo_bridge_announcement_eta_seconds") == 0


def webhook_request(*, user="1", text="chào", msg_id="m-1", at=NOW, secret=OA_SECRET):
    payload = {
        "app_id": APP_ID,
        "sender": {"id": user},
        "recipient": {"id": "9"},
        "event_name": "user_send_text",
        "message": {"text": text, "msg_id": msg_id},
        "timestamp": str(int(at * 1000)),
    }
    raw = compact_json(payload)
    header = "mac=" + signature(APP_ID, raw, payload["timestamp"], secret)
    return raw.encode(), {"x-zevent-signature": header}


class Sender:
    async def send_text(self, user_id, text):  # noqa: ARG002 - the port's signature
        return SendReceipt("m", user_id, None)


@pytest.fixture
async def citizen_store(tmp_path):
    opened = await CitizenStore.open(f"sqlite:///{tmp_path / 'c.sqlite3'}")
    yield opened
    await opened.close()


class TestCitizens:
    async def test_webhook_requests_are_counted_by_result(self, metrics, citizen_store):
        async def handle(_event):
            return None

        inbox = WebhookInbox(
            keys=SignatureKeys(APP_ID, None, OA_SECRET),
            handle=handle,
            store=InboxStore(citizen_store),
            owner="r1",
            max_age=300,
            clock=lambda: NOW,
        )
        watch(metrics, citizens=SimpleNamespace(inbox=inbox, desk=None))
        await inbox.receive(*webhook_request())
        await inbox.receive(*webhook_request())  # Zalo's retry: stored once
        await inbox.receive(*webhook_request(msg_id="m-2"))
        await inbox.receive(*webhook_request(secret="forged"))
        await inbox.receive(*webhook_request(at=NOW - 3600))
        await inbox.receive(webhook_request()[0], {})  # unsigned
        await inbox.receive(b"{not json", {})
        await metrics.scrape()
        requests = "zalo_bridge_webhook_requests_total"
        assert value(metrics, requests, result="accepted") == 2
        assert value(metrics, requests, result="duplicate") == 1
        assert value(metrics, "zalo_bridge_webhook_inbox_events", status="pending") == 2
        assert value(metrics, "zalo_bridge_webhook_inbox_events", status="failed") == 0
        attempts = "zalo_bridge_webhook_inbox_attempts_total"
        assert value(metrics, attempts, outcome="failed") == 0
        assert value(metrics, requests, result="bad_signature") == 2
        assert value(metrics, requests, result="too_old") == 1
        assert value(metrics, requests, result="bad_request") == 1
        endpoint = webhook_endpoint(lambda: inbox)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=endpoint), base_url="http://bridge"
        ) as http:
            assert (await http.get("/webhook/zalo")).status_code == 405
            assert (await http.post("/webhook/zalo", content=b"x" * 300_000)).status_code == 413
        assert value(metrics, requests, result="method_not_allowed") == 1
        assert value(metrics, requests, result="too_large") == 1

    async def test_desk_counts_events_links_unlinks_lookups_and_limits(
        self, metrics, citizen_store
    ):
        desk = CitizenDesk(
            store=citizen_store,
            sender=Sender(),
            replies=Replies(factor="receipt_secret"),
            policy=LinkPolicy(factor="receipt_secret", hmac_key=KEY, attempts_per_hour=2),
            clock=lambda: NOW,
        )
        watch(metrics, citizens=SimpleNamespace(inbox=None, desk=desk))
        n = 0

        def text(body, user=USER):
            nonlocal n
            n += 1
            return OaEvent("user_send_text", user, NOW, f"msg:{n}", text=body)

        secret = receipt_secret(KEY, CODE)
        await desk.handle(OaEvent("follow", USER, NOW, "follow:1"))
        await desk.handle(OaEvent("follow", USER, NOW, "follow:1"))  # Zalo's retry
        await desk.handle(text(f"{CODE} {secret}"))  # linked
        await desk.handle(text(CODE))  # lookup: no state known yet
        await desk.handle(text(f"hủy {CODE}"))  # unlinked
        await desk.handle(text(f"{CODE} {secret}"))  # linked again
        await desk.handle(OaEvent("unfollow", USER, NOW, "unfollow:1"))  # unlinks it
        for _ in range(3):  # 2 refused (the second says so), then rate-limited: no answer
            await desk.handle(text(f"{CODE} AAAAAA", user="999"))
        for i in range(4):  # 3 more wrong guesses from other accounts lock the dossier
            await desk.handle(text(f"{CODE} AAAAA{i + 2}", user=f"x{i}"))

        events = "zalo_bridge_oa_events_total"
        assert value(metrics, events, event="follow", result="handled") == 1
        assert value(metrics, events, event="follow", result="duplicate") == 1
        assert value(metrics, events, event="user_send_text", result="handled") == 11
        assert value(metrics, events, event="unfollow", result="handled") == 1
        attempts = "zalo_bridge_citizen_link_attempts_total"
        assert value(metrics, attempts, result="linked") == 2
        assert value(metrics, attempts, result="refused") == 5
        assert value(metrics, attempts, result="rate_limited") == 1
        assert value(metrics, attempts, result="locked") == 1
        assert value(metrics, "zalo_bridge_citizen_dossier_locks_total") == 1
        replies = "zalo_bridge_citizen_chat_replies_total"
        assert value(metrics, replies, result="sent") == 11
        assert value(metrics, replies, result="over_budget") == 0
        notices = "zalo_bridge_citizen_link_notices_total"
        assert value(metrics, notices, result="sent") == 0
        assert value(metrics, "zalo_bridge_citizen_unlinks_total", via="command") == 1
        assert value(metrics, "zalo_bridge_citizen_unlinks_total", via="unfollow") == 1
        assert value(metrics, "zalo_bridge_citizen_lookups_total", result="pending") == 1
        assert value(metrics, "zalo_bridge_citizen_lookups_total", result="answered") == 0
        body, _ = await metrics.scrape()
        assert USER.encode() not in body
        assert CODE.encode() not in body


def news(announcement_id):
    document = {
        "announcement_id": announcement_id,
        "province": "thanh-hoa",
        "title": "Lịch nghỉ Tết Nguyên đán",
        "body": "Bộ phận Một cửa nghỉ từ ngày 14/02 đến hết ngày 22/02.",
        "urgency": "normal",
        "audience": {"kind": "all"},
        "published_at": "2026-03-10T08:00:00+07:00",
    }
    return parse_announcement(json.dumps(document).encode(), max_bytes=65536)


class TestAnnouncementStore:
    async def test_active_announcements_are_read_from_a_real_store(self, metrics, tmp_path):
        url = f"sqlite:///{tmp_path / 'a.sqlite3'}"
        await upgrade(url)
        engine = open_database(url)
        try:
            store = AnnouncementStore(engine)
            first, second, done = (str(uuid.UUID(int=n)) for n in (3, 2, 1))
            for number, at in ((first, NOW), (second, NOW + 1), (done, NOW + 2)):
                await store.add(news(number), now=at)
                await store.add_recipients(number, ["u1", "u2", "u3"], now=at)
            await store.finish(done, status=AnnouncementStatus.DONE, now=NOW + 3)
            assert await store.active_ids() == [first, second]
            service = SimpleNamespace(store=store, fanout=SimpleNamespace(stats=FanOutStats()))
            watch(metrics, announcements=service)
            await metrics.scrape()
        finally:
            await engine.dispose()
        assert value(metrics, "zalo_bridge_announcements_active") == 2
        assert value(metrics, "zalo_bridge_announcement_recipients", status="pending") == 6
        assert value(metrics, "zalo_bridge_announcement_fanout_per_minute") == 0
