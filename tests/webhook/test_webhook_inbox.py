"""The webhook endpoint and its durable inbox: stored before 200, handled in order, retried."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from structlog.testing import capture_logs

from bridge.citizens.store import CitizenStore
from bridge.errors import StoreError
from bridge.webhook.endpoint import InboxPolicy, WebhookInbox, webhook_endpoint
from bridge.webhook.events import SignatureKeys
from bridge.webhook.inbox import InboxStore
from bridge_devkit.emulator.webhook import compact_json, signature

APP_ID, SECRET = "3066521851012345678", "oa-secret"
NOW = 1_796_032_830.0
POLICY = InboxPolicy(max_attempts=3, retry_seconds=2.0, poll_seconds=0.05)


class Clock:
    """A frozen clock, or one that moves ``step`` seconds at each reading."""

    def __init__(self):
        self.now = NOW
        self.step = 0.0

    def __call__(self):
        self.now += self.step
        return self.now


def request(user="1", text="chào", msg=None):
    payload = {
        "app_id": APP_ID,
        "sender": {"id": user},
        "recipient": {"id": "9"},
        "event_name": "user_send_text",
        "message": {"text": text, "msg_id": msg or f"m-{user}"},
        "timestamp": str(int(NOW * 1000)),
    }
    raw = compact_json(payload)
    header = "mac=" + signature(APP_ID, raw, payload["timestamp"], SECRET)
    return raw.encode(), {"X-ZEvent-Signature": header, "content-type": "application/json"}


@pytest.fixture
def store_url(tmp_path):
    return f"sqlite:///{tmp_path / 'bridge.sqlite3'}"


@pytest.fixture
async def citizens(store_url):
    opened = await CitizenStore.open(store_url)
    yield opened
    await opened.close()


@pytest.fixture
def clock():
    return Clock()


def make_inbox(store, handle, clock, owner="r1", policy=POLICY):
    return WebhookInbox(
        keys=SignatureKeys(APP_ID, None, SECRET),
        handle=handle,
        store=store,
        owner=owner,
        max_age=300,
        policy=policy,
        clock=clock,
    )


def recorder(handled):
    async def handle(event):
        handled.append((event.user_id, event.text))

    return handle


def client(app):
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bridge")


class BrokenStore:
    """An inbox store whose database is down, or hangs."""

    def __init__(self, *, hang=False):
        self.hang = hang

    async def add(self, **_row):
        if self.hang:
            await asyncio.Event().wait()
        raise StoreError("citizen store: OperationalError")


class TestEndpoint:
    async def test_a_signed_event_is_stored_answered_and_handled(self, citizens, clock):
        handled = []
        box = make_inbox(InboxStore(citizens), recorder(handled), clock)
        async with client(webhook_endpoint(lambda: box)) as http:
            body, headers = request(text="Hủy")
            answer = await http.post("/webhook/zalo", content=body, headers=headers)
            assert answer.status_code == 200
            assert await box.counts() == {"pending": 1, "claimed": 0, "done": 0, "failed": 0}
            box.start()
            await box.join()
        await box.close()
        assert handled == [("1", "Hủy")]
        assert (await box.counts())["done"] == 1

    async def test_a_retried_event_is_answered_200_and_stored_once(self, citizens, clock):
        handled = []
        box = make_inbox(InboxStore(citizens), recorder(handled), clock)
        box.start()
        async with client(webhook_endpoint(lambda: box)) as http:
            body, headers = request()
            answers = [
                (await http.post("/webhook/zalo", content=body, headers=headers)).status_code
                for _ in range(2)
            ]
        await box.join()
        await box.close()
        assert answers == [200, 200]
        assert handled == [("1", "chào")]
        assert (box.results["accepted"], box.results["duplicate"]) == (1, 1)

    @pytest.mark.parametrize("store", [BrokenStore(), BrokenStore(hang=True)])
    async def test_without_the_row_stored_the_answer_is_503(self, store, clock):
        policy = InboxPolicy(accept_timeout=0.05)
        box = make_inbox(store, recorder([]), clock, policy=policy)
        async with client(webhook_endpoint(lambda: box)) as http:
            body, headers = request()
            answer = await http.post("/webhook/zalo", content=body, headers=headers)
        assert answer.status_code == 503
        assert box.results["busy"] == 1

    async def test_before_start_up_the_endpoint_answers_503(self):
        async with client(webhook_endpoint(lambda: None)) as http:
            body, headers = request()
            answer = await http.post("/webhook/zalo", content=body, headers=headers)
        assert answer.status_code == 503

    async def test_an_oversized_body_is_refused(self):
        async with client(webhook_endpoint(lambda: None)) as http:
            answer = await http.post("/webhook/zalo", content=b"x" * (256 * 1024 + 1))
        assert answer.status_code == 413

    async def test_when_the_webhook_is_off_the_path_is_not_found(self):
        async with client(webhook_endpoint(lambda: None, enabled=False)) as http:
            body, headers = request()
            answer = await http.post("/webhook/zalo", content=body, headers=headers)
        assert answer.status_code == 404


class TestWorker:
    async def test_a_user_s_events_are_handled_in_the_order_received(self, citizens, clock):
        handled = []

        async def handle(event):
            if event.text == "1":
                await asyncio.sleep(0.05)  # the first is slow: the second must still wait
            handled.append((event.user_id, event.text))

        box = make_inbox(InboxStore(citizens), handle, clock)
        for n, user in enumerate(["A", "B", "A", "A", "B"], start=1):
            clock.now = NOW + n
            assert (await box.receive(*request(user, str(n), msg=f"m{n}")))[0] == 200
        box.start()
        await box.join()
        await box.close()
        assert [t for u, t in handled if u == "A"] == ["1", "3", "4"]
        assert [t for u, t in handled if u == "B"] == ["2", "5"]

    async def test_an_error_is_retried_after_a_back_off(self, citizens, clock):
        handled, failed = [], asyncio.Event()

        async def handle(event):
            if not failed.is_set():
                failed.set()
                raise StoreError("citizen store: OperationalError")
            handled.append(event.text)

        store = InboxStore(citizens)
        box = make_inbox(store, handle, clock)
        box.start()
        await box.receive(*request())
        await failed.wait()
        await asyncio.sleep(0.1)  # the worker looks again: the back-off has not run out
        assert handled == []
        clock.now += POLICY.retry_seconds
        await box.join()
        await box.close()
        assert handled == ["chào"]
        assert await store.status_of("msg:m-1") == ("done", 2, None)
        assert (box.outcomes["retried"], box.outcomes["handled"]) == (1, 1)

    async def test_after_the_last_attempt_the_event_fails_and_others_go_on(self, citizens, clock):
        handled = []

        async def handle(event):
            if event.user_id == "1":
                raise RuntimeError("0912345678 broke it")
            handled.append(event.user_id)

        store = InboxStore(citizens)
        box = make_inbox(store, handle, clock)
        await box.receive(*request("1"))
        await box.receive(*request("2"))
        clock.step = 10.0  # every back-off has run out by the next claim
        with capture_logs() as logs:
            box.start()
            await box.join()
            await box.close()
        assert handled == ["2"]
        assert await store.status_of("msg:m-1") == ("failed", 3, "RuntimeError")
        assert (box.outcomes["retried"], box.outcomes["failed"]) == (2, 1)
        assert any(entry["event"] == "oa event failed" for entry in logs)
        assert "0912345678" not in repr(logs)

    async def test_an_attempt_outlasting_its_lease_is_cut_short(self, citizens, clock):
        async def hang(_event):
            await asyncio.Event().wait()

        store = InboxStore(citizens)
        policy = InboxPolicy(lease_seconds=0.05, max_attempts=2, poll_seconds=0.01)
        box = make_inbox(store, hang, clock, policy=policy)
        await box.receive(*request())
        clock.step = 10.0
        box.start()
        await box.join()
        await box.close()
        assert await store.status_of("msg:m-1") == ("failed", 2, "TimeoutError")

    async def test_events_accepted_before_a_crash_are_handled_once_after_it(
        self, store_url, citizens, clock
    ):
        crashed = make_inbox(InboxStore(citizens), recorder([]), clock, owner="crashed")
        for n in range(3):
            assert (await crashed.receive(*request(str(n))))[0] == 200
        # The process dies here: its worker never ran.
        handled = []
        reopened = await CitizenStore.open(store_url, migrate=False)
        try:
            box = make_inbox(InboxStore(reopened), recorder(handled), clock, owner="next")
            box.start()
            await box.join()
            await box.close()
        finally:
            await reopened.close()
        assert sorted(handled) == [("0", "chào"), ("1", "chào"), ("2", "chào")]

    async def test_closing_leaves_what_waits_in_the_store(self, citizens, clock):
        release, both_started = asyncio.Event(), asyncio.Event()
        started, handled = [], []

        async def handle(event):
            started.append(event.user_id)
            if len(started) == 2:
                both_started.set()
            await release.wait()
            handled.append(event.user_id)

        store = InboxStore(citizens)
        box = make_inbox(store, handle, clock)
        await box.receive(*request("1"))
        await box.receive(*request("2"))
        box.start()
        await both_started.wait()
        await box.close(timeout=0)
        assert handled == []
        assert await store.counts() == {"claimed": 2}


class TestPolicy:
    def test_the_back_off_doubles_up_to_its_cap_then_gives_up(self):
        policy = InboxPolicy(max_attempts=6, retry_seconds=2, retry_max_seconds=10)
        assert [policy.retry_at(n, 100.0) for n in range(1, 7)] == [
            102.0,
            104.0,
            108.0,
            110.0,
            110.0,
            None,
        ]
