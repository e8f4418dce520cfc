"""The chat desk on a real SQLite store with a recording sender: link, lookup, HUY, limits."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import unicodedata
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import event, given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from bridge.citizens.desk import CitizenDesk, LinkPolicy
from bridge.citizens.dossiers import DossierState
from bridge.citizens.link_guard import LockPolicy
from bridge.citizens.replies import Replies
from bridge.citizens.second_factor import phone_last4_hash, receipt_secret
from bridge.citizens.store import CitizenStore, link_attempts
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

    async def test_past_the_accounts_limit_attempts_get_no_answer(
        self, store, sender, clock, events
    ):
        desk = make_desk(store, sender, clock, attempts=3)
        for _ in range(2):
            await desk.handle(events.text(f"{CODE} AAAAAA"))
            assert "chưa đúng" in sender.last()
            assert "quá số lần" not in sender.last()
        await desk.handle(events.text(f"{CODE} AAAAAA"))
        assert "quá số lần" in sender.last()  # the last attempt answered says so
        answered = len(sender.sent)
        await desk.handle(events.text(f"{CODE} {SECRET}"))  # right, but past the limit
        await desk.handle(events.text(f"{CODE} AAAAAA"))
        assert len(sender.sent) == answered
        assert await store.linked_users(CODE) == []
        assert desk.stats.link_attempts["rate_limited"] == 2
        await desk.handle(events.text(f"{CODE} AAAAAA", user="999"))
        assert sender.sent[-1] == ("999", Replies().refused())
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

    async def test_a_zns_receipt_by_phone_stores_only_a_keyed_hash_of_it(
        self, store, sender, clock
    ):
        desk = make_desk(store, sender, clock)
        phone = "84912345678"
        holders: list[str] = []
        recorded = store.record_receipt

        async def record_receipt(message_id, kind, *, user_id, at):
            holders.append(user_id)
            await recorded(message_id, kind, user_id=user_id, at=at)

        store.record_receipt = record_receipt
        with capture_logs() as logs:
            await desk.handle(
                OaEvent(
                    "user_received_message", None, T0, "r:z", message_ids=("zns-1",), phone=phone
                )
            )
        assert await store.receipts("zns-1") == {"received": T0}
        [holder] = holders
        assert holder.startswith("phone:h:")
        assert "912345678" not in holder
        assert "912345678" not in repr(logs)
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


# ------------------------------------------------------------------ guessing across accounts

LOCK = LockPolicy(threshold=5, seconds=86_400, max_seconds=30 * 86_400)
PHONE = "5678"


def guard_desk(store, sender, clock, *, factor="phone_last4", attempts=5, lock=LOCK, budget=None):
    return CitizenDesk(
        store=store,
        sender=sender,
        replies=Replies(factor=factor),
        policy=LinkPolicy(factor=factor, hmac_key=KEY, attempts_per_hour=attempts, lock=lock),
        clock=clock,
        budget=budget,
    )


async def with_phone(store):
    await store.record_state(state(phone_last4_hash=phone_last4_hash(KEY, CODE, PHONE)), now=T0)


def wrong_guesses():
    """Every 4-digit value but the right one, in order: what a brute-forcer sends."""
    return (f"{n:04d}" for n in range(10_000) if f"{n:04d}" != PHONE)


class TestGuessingAcrossAccounts:
    async def test_the_issues_probe_16_accounts_79_guesses_no_longer_links(
        self, store, sender, clock, events
    ):
        """Measured on main: linked after 79 wrong guesses spread over 16 accounts."""
        await with_phone(store)
        desk = guard_desk(store, sender, clock)
        accounts = [f"attacker-{i}" for i in range(16)]
        guesses = wrong_guesses()
        for n in range(79):
            await desk.handle(events.text(f"{CODE} {next(guesses)}", user=accounts[n % 16]))
        await desk.handle(events.text(f"{CODE} {PHONE}", user=accounts[79 % 16]))
        assert await store.linked_users(CODE) == []
        assert desk.stats.link_attempts["refused"] == 5  # checked: the threshold, no more
        assert desk.stats.link_attempts["locked"] == 75
        assert desk.stats.dossier_locks == 1
        # Past the lock, each account heard of it once; every other attempt was not answered.
        locked_text = Replies(factor="phone_last4").dossier_locked(CODE, T0 + 86_400)
        told = [user for user, text in sender.sent if text == locked_text]
        assert sorted(told) == sorted(accounts)  # 1 whose guess locked it + 15 told once
        assert len(sender.sent) == 4 + 16

    async def test_the_right_factor_waits_for_the_lock_to_end(self, store, sender, clock, events):
        await with_phone(store)
        desk = guard_desk(store, sender, clock)
        guesses = wrong_guesses()
        for n in range(5):
            await desk.handle(events.text(f"{CODE} {next(guesses)}", user=f"a{n}"))
        await desk.handle(events.text(f"{CODE} {PHONE}"))  # the citizen, during the lock
        assert await store.linked_users(CODE) == []
        assert "đang tạm khóa" in sender.last()
        assert sender.last().endswith("liên hệ Bộ phận Một cửa để được hỗ trợ.")
        clock.now += 86_400
        await desk.handle(events.text(f"{CODE} {PHONE}"))
        assert await store.linked_users(CODE) == [USER]
        assert await store.link_guard(CODE) is None  # the right factor cleared the record

    async def test_a_month_of_hourly_guesses_checks_25_of_them(self, store, sender, clock, events):
        """Locks of 1, 2, 4, 8, 16 days: 5 guesses at days 0, 1, 3, 7 and 15, then none."""
        await with_phone(store)
        desk = guard_desk(store, sender, clock)
        guesses = wrong_guesses()
        checked_at = []
        for hour in range(30 * 24):
            clock.now = T0 + hour * 3_600
            before = desk.stats.link_attempts["refused"]
            await desk.handle(events.text(f"{CODE} {next(guesses)}", user=f"a{hour % 16}"))
            if desk.stats.link_attempts["refused"] > before:
                checked_at.append(hour)
        assert len(checked_at) == 25
        assert sorted({hour // 24 for hour in checked_at}) == [0, 1, 3, 7, 15]
        assert await store.linked_users(CODE) == []

    async def test_a_guess_on_another_dossier_does_not_count(self, store, sender, clock, events):
        await with_phone(store)
        desk = guard_desk(store, sender, clock, attempts=100)
        other = "000.20.31.H56-260310-0043"
        for n in range(4):
            await desk.handle(events.text(f"{CODE} 000{n}", user=f"a{n}"))
        for n in range(10):
            await desk.handle(events.text(f"{other} 000{n}", user=f"b{n}"))
        await desk.handle(events.text(f"{CODE} {PHONE}"))
        assert await store.linked_users(CODE) == [USER]

    async def test_each_account_is_told_of_a_lock_once_per_lock(self, store, sender, clock, events):
        await with_phone(store)
        desk = guard_desk(store, sender, clock, attempts=100)
        for n in range(5):
            await desk.handle(events.text(f"{CODE} 000{n}", user="attacker"))
        assert "đang tạm khóa" in sender.last()
        for _ in range(3):
            await desk.handle(events.text(f"{CODE} 1111", user="attacker"))
            await desk.handle(events.text(f"{CODE} {PHONE}"))
        texts = [text for user, text in sender.sent if user == USER]
        assert len(texts) == 1
        assert "đang tạm khóa" in texts[0]
        assert len([t for u, t in sender.sent if u == "attacker"]) == 5
        clock.now += 86_400  # the lock ended: 5 more guesses, a second lock of 2 days
        for n in range(5):
            await desk.handle(events.text(f"{CODE} 001{n}", user="attacker"))
        await desk.handle(events.text(f"{CODE} {PHONE}"))
        assert [t for u, t in sender.sent if u == USER][-1] == Replies(
            factor="phone_last4"
        ).dossier_locked(CODE, clock.now + 2 * 86_400)

    async def test_the_receipt_secret_is_locked_the_same_way(self, store, sender, clock, events):
        desk = guard_desk(store, sender, clock, factor="receipt_secret")
        for n in range(5):
            await desk.handle(events.text(f"{CODE} AAAAA{n + 2}", user=f"a{n}"))
        await desk.handle(events.text(f"{CODE} {SECRET}"))
        assert await store.linked_users(CODE) == []
        assert desk.stats.dossier_locks == 1


class TestNoticeOfANewLink:
    async def test_the_accounts_linked_before_hear_of_a_new_one(self, store, sender, clock, events):
        desk = make_desk(store, sender, clock)
        await desk.handle(events.text(f"{CODE} {SECRET}", user="first"))
        await desk.handle(events.text(f"{CODE} {SECRET}", user="second"))
        notice = Replies().new_link_notice(CODE, T0)
        assert ("first", notice) in sender.sent
        assert desk.stats.link_notices["sent"] == 1
        await desk.handle(events.text(f"{CODE} {SECRET}", user="third"))
        assert [u for u, t in sender.sent if t == notice] == ["first", "first", "second"]

    async def test_linking_again_tells_nobody(self, store, sender, clock, events):
        desk = make_desk(store, sender, clock)
        await desk.handle(events.text(f"{CODE} {SECRET}", user="first"))
        await desk.handle(events.text(f"{CODE} {SECRET}", user="second"))
        sent = len(sender.sent)
        await desk.handle(events.text(f"{CODE} {SECRET}", user="second"))
        assert len(sender.sent) == sent + 1  # the confirmation only
        assert sender.sent[-1][0] == "second"

    async def test_an_unlinked_account_is_not_told(self, store, sender, clock, events):
        desk = make_desk(store, sender, clock)
        await desk.handle(events.text(f"{CODE} {SECRET}", user="first"))
        await desk.handle(events.text(f"HUY {CODE}", user="first"))
        await desk.handle(events.text(f"{CODE} {SECRET}", user="second"))
        assert all(user != "first" for user, _ in sender.sent[3:])


class Budget:
    def __init__(self, slots):
        self.slots = slots

    async def take(self):
        self.slots -= 1
        return self.slots >= 0


class TestChatBudget:
    async def test_answers_beyond_the_budget_are_not_sent_and_links_still_happen(
        self, store, sender, clock, events
    ):
        desk = guard_desk(store, sender, clock, factor="receipt_secret", budget=Budget(2))
        await desk.handle(events.text("xin chào"))
        await desk.handle(events.text("xin chào"))
        await desk.handle(events.text("xin chào"))
        await desk.handle(events.text(f"{CODE} {SECRET}"))
        assert len(sender.sent) == 2
        assert await store.linked_users(CODE) == [USER]
        assert desk.stats.replies == {"sent": 2, "over_budget": 2}


# ------------------------------------------------------------------ properties

STEPS = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=4),  # which account
        st.sampled_from(["wrong", "wrong", "wrong", "other", "right", "help", "huy"]),
        st.sampled_from([0.0, 1.0, 600.0, 3_600.0, 86_400.0, 3 * 86_400.0]),
    ),
    min_size=1,
    max_size=25,
)
OTHER_CODE = "000.20.31.H56-260310-0043"
SMALL_LOCK = LockPolicy(threshold=3, seconds=86_400, max_seconds=4 * 86_400)


@pytest.fixture(scope="module")
def migrated(tmp_path_factory):
    """A migrated store file each example copies (migrating per example would be slow)."""
    path = tmp_path_factory.mktemp("desk-template") / "template.sqlite3"

    async def migrate():
        opened = await CitizenStore.open(f"sqlite:///{path}")
        await opened.close()

    asyncio.run(migrate())
    return path


async def attempts_at(store, code):
    def work(conn):
        rows = conn.execute(
            sa.select(link_attempts.c.attempted_at, link_attempts.c.outcome)
            .where(link_attempts.c.case_code == code)
            .order_by(link_attempts.c.id)
        )
        return [tuple(row) for row in rows]

    return await store.run(work)


def check_audit_trail(rows):
    """Replay a dossier's attempts against the rule: ``threshold`` checked guesses, then a
    lock of doubling length during which nothing is checked; a link starts afresh."""
    streak, locks, locked_until = 0, 0, None
    for at, outcome in rows:
        if locked_until is not None and at < locked_until:
            assert outcome == "locked", (at, outcome)
            continue
        assert outcome != "locked", "not locked, yet not checked"
        if outcome == "linked":
            streak, locks, locked_until = 0, 0, None
        elif outcome == "refused":
            streak += 1
            assert streak < SMALL_LOCK.threshold
        else:
            assert outcome == "refused_locking"
            assert streak + 1 == SMALL_LOCK.threshold
            locks += 1
            streak, locked_until = 0, at + SMALL_LOCK.duration(locks)


async def play(template, steps):
    """Run ``steps`` through a desk on a fresh copy of the store; check each answer."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "c.sqlite3"
        shutil.copyfile(template, path)
        store = await CitizenStore.open(f"sqlite:///{path}", migrate=False)
        sender, clock, events = RecordingSender(), Clock(), Events()
        desk = guard_desk(
            store, sender, clock, factor="receipt_secret", attempts=2, lock=SMALL_LOCK
        )
        told = Counter()
        try:
            for account, kind, advance in steps:
                clock.now += advance
                user = f"account-{account}"
                guard = await store.link_guard(CODE)
                locked = guard is not None and (guard["locked_until"] or 0) > clock.now
                over_limit = await store.failed_attempts(user, since=clock.now - 3_600) >= 2
                linked_before = user in await store.linked_users(CODE)
                text = {
                    "wrong": f"{CODE} AAAAA{account + 2}",
                    "other": f"{OTHER_CODE} AAAAA{account + 2}",
                    "right": f"{CODE} {SECRET}",
                    "help": "xin chào",
                    "huy": f"HUY {CODE}",
                }[kind]
                sent = len(sender.sent)
                await desk.handle(events.text(text, user=user))
                answers = [t for u, t in sender.sent[sent:] if u == user]
                for answer in answers:
                    assert unicodedata.is_normalized("NFC", answer)
                    if "đang tạm khóa" in answer:
                        told[user, answer] += 1
                linked_after = user in await store.linked_users(CODE)
                if kind in {"wrong", "other", "right"} and over_limit:
                    assert answers == [], "past the account's limit: no answer"
                if kind == "right" and (locked or over_limit):
                    assert linked_after == linked_before, "linked without a check"
                if kind == "right" and not locked and not over_limit:
                    assert linked_after
                if kind == "wrong":
                    assert linked_after == linked_before
            assert max(told.values(), default=0) <= 1, "told of one lock twice"
            check_audit_trail(await attempts_at(store, CODE))
            check_audit_trail(await attempts_at(store, OTHER_CODE))
            return desk.stats
        finally:
            await store.close()


@pytest.mark.fuzz
@settings(max_examples=settings.default.max_examples // 3)  # each example is ~25 store round trips
@given(steps=STEPS)
def test_any_sequence_of_attempts_keeps_the_limits(migrated, steps):
    """No link while locked or past an account's limit; no answer past the limit; one lock
    notice per account and lock; at most ``threshold`` guesses checked per lock or link."""
    stats = asyncio.run(play(migrated, steps))
    event(f"locks: {min(stats.dossier_locks, 3)}")
    event(f"rate limited: {min(stats.link_attempts['rate_limited'], 3)}")
