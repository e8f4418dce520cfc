"""The chat desk on a real SQLite store with a recording sender: link, lookup, HUY, limits."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from bridge.citizens.desk import CitizenDesk, LinkPolicy
from bridge.citizens.dossiers import DossierState
from bridge.citizens.replies import Replies
from bridge.citizens.second_factor import phone_last4_hash, receipt_secret
from bridge.citizens.store import CitizenStore
from bridge.errors import RecipientUnreachableError
from bridge.events import CaseState
from bridge.webhook.events import OaEvent
from bridge.zalo import SendReceipt

KEY = "desk-key"
USER = "2512523625412515"
CODE = "000.20.31.H56-260310-0042"
T0 = 1_800_000_000.0


class RecordingSender:
    def __init__(self):
        self.sent: list[tuple[str, str]] = []
        self.fail = False

    async def send_text(self, user_id, text):
        if self.fail:
            raise RecipientUnreachableError("outside the window", code=-230)
        self.sent.append((user_id, text))
        return SendReceipt(f"m{len(self.sent)}", user_id, None)

    async def find_sent(self, user_id, text, *, since):  # noqa: ARG002 - the port's signature
        return None

    def last(self):
        return self.sent[-1][1]


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self):
        return self.now


def state(**changes):
    values = {
        "case_code": CODE,
        "sequence": 2,
        "state": CaseState.RECEIVED,
        "procedure_code": "1.004616",
        "procedure_name": "Đăng ký thành lập hộ kinh doanh",
        "agency_code": "000.20.31.H56",
        "agency_name": "Trung tâm Phục vụ hành chính công phường Hạc Thành",
        "handling_department": "Phòng Kinh tế",
        "due_at": T0 + 3 * 86400,
        "occurred_at": T0,
    }
    return DossierState(**{**values, **changes})


@pytest.fixture
async def store(tmp_path):
    opened = await CitizenStore.open(f"sqlite:///{tmp_path / 'c.sqlite3'}")
    yield opened
    await opened.close()


@pytest.fixture
def sender():
    return RecordingSender()


@pytest.fixture
def clock():
    return Clock()


def make_desk(store, sender, clock, factor="receipt_secret", attempts=3):
    return CitizenDesk(
        store=store,
        sender=sender,
        replies=Replies(factor=factor),
        policy=LinkPolicy(factor=factor, hmac_key=KEY, attempts_per_hour=attempts),
        clock=clock,
    )


class Events:
    def __init__(self):
        self.n = 0

    def text(self, text, user=USER):
        self.n += 1
        return OaEvent("user_send_text", user, T0, f"msg:{self.n}", text=text)


@pytest.fixture
def events():
    return Events()


SECRET = receipt_secret(KEY, CODE)


class TestDesk:
    async def test_follow_records_the_interaction_and_welcomes(self, store, sender, clock):
        desk = make_desk(store, sender, clock)
        await desk.handle(OaEvent("follow", USER, T0 - 5, "follow:1"))
        assert await store.last_interaction_at(USER) == T0 - 5
        assert (await store.citizen(USER))["followed"] is True
        assert "Cảm ơn Ông/Bà đã quan tâm" in sender.last()

    async def test_code_and_secret_link_the_user_and_confirm(self, store, sender, clock, events):
        await store.record_state(state(), now=T0)
        desk = make_desk(store, sender, clock)
        await desk.handle(events.text(f"{CODE.lower()} {SECRET.lower()}"))
        assert await store.linked_users(CODE) == [USER]
        assert "đã đăng ký nhận thông báo" in sender.last()
        assert "Trạng thái: Được tiếp nhận" in sender.last()
        citizen = await store.citizen(USER)
        assert citizen["area"] == "000.20.31.H56"
        assert citizen["tags"] == ["procedure:1.004616"]

    async def test_a_code_alone_asks_for_the_second_factor(self, store, sender, clock, events):
        desk = make_desk(store, sender, clock)
        await desk.handle(events.text(CODE))
        assert await store.linked_users(CODE) == []
        assert "mã bí mật" in sender.last()

    async def test_linked_user_sending_the_code_gets_the_lookup(self, store, sender, clock, events):
        await store.record_state(state(state=CaseState.IN_PROGRESS, sequence=3), now=T0)
        desk = make_desk(store, sender, clock)
        await desk.handle(events.text(f"{CODE} {SECRET}"))
        await desk.handle(events.text(CODE))
        assert sender.last().startswith(f"Thông tin hồ sơ {CODE}:")
        assert "• Trạng thái: Đang xử lý" in sender.last()
        await desk.handle(events.text("Tra cứu"))
        assert sender.last().startswith(f"Thông tin hồ sơ {CODE}:")

    async def test_lookup_of_an_unlinked_code_reveals_nothing(self, store, sender, clock, events):
        await store.record_state(state(), now=T0)
        desk = make_desk(store, sender, clock)
        await desk.handle(events.text(f"tra cứu {CODE}"))
        assert "Được tiếp nhận" not in sender.last()
        assert "mã bí mật" in sender.last()

    async def test_huy_unlinks_and_confirms(self, store, sender, clock, events):
        desk = make_desk(store, sender, clock)
        await desk.handle(events.text(f"{CODE} {SECRET}"))
        await desk.handle(events.text(f"hủy {CODE.lower()}"))
        assert await store.linked_users(CODE) == []
        assert "đã ngừng nhận thông báo" in sender.last()
        await desk.handle(events.text(f"HUY {CODE}"))
        assert "chưa đăng ký nhận thông báo" in sender.last()

    async def test_unfollow_unlinks_everything(self, store, sender, clock, events):
        desk = make_desk(store, sender, clock)
        other = "000.20.31.H56-260310-0043"
        await desk.handle(events.text(f"{CODE} {SECRET}"))
        await desk.handle(events.text(f"{other} {receipt_secret(KEY, other)}"))
        sent = len(sender.sent)
        await desk.handle(OaEvent("unfollow", USER, T0 + 1, "unfollow:1"))
        assert await store.linked_users(CODE) == []
        assert await store.linked_users(other) == []
        assert (await store.citizen(USER))["followed"] is False
        assert len(sender.sent) == sent

    async def test_wrong_factors_are_rate_limited_per_user(self, store, sender, clock, events):
        desk = make_desk(store, sender, clock, attempts=3)
        for _ in range(3):
            await desk.handle(events.text(f"{CODE} AAAAAA"))
            assert "chưa đúng" in sender.last()
        await desk.handle(events.text(f"{CODE} {SECRET}"))
        assert "quá số lần" in sender.last()
        assert await store.linked_users(CODE) == []
        await desk.handle(events.text(f"{CODE} AAAAAA", user="999"))
        assert "chưa đúng" in sender.last()
        clock.now += 3601
        await desk.handle(events.text(f"{CODE} {SECRET}"))
        assert await store.linked_users(CODE) == [USER]

    async def test_phone_digits_as_the_second_factor(self, store, sender, clock, events):
        await store.record_state(
            state(phone_last4_hash=phone_last4_hash(KEY, CODE, "5678")), now=T0
        )
        desk = make_desk(store, sender, clock, factor="phone_last4")
        await desk.handle(events.text(f"{CODE} 1234"))
        assert await store.linked_users(CODE) == []
        await desk.handle(events.text(f"{CODE} 5678"))
        assert await store.linked_users(CODE) == [USER]

    async def test_a_duplicate_event_is_handled_once(self, store, sender, clock, events):
        desk = make_desk(store, sender, clock)
        event = events.text("xin chào")
        await desk.handle(event)
        await desk.handle(event)
        assert len(sender.sent) == 1

    async def test_behind_the_durable_inbox_a_retried_attempt_is_handled(
        self, store, sender, clock, events
    ):
        desk = CitizenDesk(
            store=store,
            sender=sender,
            replies=Replies(factor="receipt_secret"),
            policy=LinkPolicy(factor="receipt_secret", hmac_key=KEY),
            clock=clock,
            deduplicate=False,
        )
        event = events.text("xin chào")
        await desk.handle(event)
        await desk.handle(event)  # the inbox hands an event over again only after an error
        assert len(sender.sent) == 2

    async def test_receipts_are_recorded_by_message_id(self, store, sender, clock):
        desk = make_desk(store, sender, clock)
        await desk.handle(OaEvent("user_received_message", USER, T0, "r:1", message_ids=("abc",)))
        await desk.handle(
            OaEvent("user_seen_message", USER, T0 + 9, "s:1", message_ids=("abc", "def"))
        )
        assert await store.receipts("abc") == {"received": T0, "seen": T0 + 9}
        assert await store.receipts("def") == {"seen": T0 + 9}
        assert sender.sent == []

    async def test_a_failed_answer_does_not_undo_the_link(self, store, sender, clock, events):
        sender.fail = True
        desk = make_desk(store, sender, clock)
        await desk.handle(events.text(f"{CODE} {SECRET}"))
        assert await store.linked_users(CODE) == [USER]

    async def test_logs_hold_no_user_id_phone_digits_or_text(self, store, sender, clock, events):
        await store.record_state(
            state(phone_last4_hash=phone_last4_hash(KEY, CODE, "5678")), now=T0
        )
        desk = make_desk(store, sender, clock, factor="phone_last4")
        with capture_logs() as logs:
            await desk.handle(events.text(f"{CODE} 1234"))
            await desk.handle(events.text(f"{CODE} 5678"))
            await desk.handle(events.text(f"HUY {CODE}"))
        assert {entry["event"] for entry in logs} >= {"citizen linked", "link refused"}
        written = repr(logs)
        for secret in (USER, "5678", "1234"):
            assert secret not in written
