"""Announcement fan-out from the store (SQLite, PostgreSQL): once per citizen, paced, resumable."""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import psycopg
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from bridge.announcements.audience import SqlAudience, citizen_links, citizens
from bridge.announcements.contract import AudienceSpec, parse_announcement
from bridge.announcements.fanout import FanOut, FanOutPolicy
from bridge.announcements.store import AnnouncementStore, Progress
from bridge.cli.announce import describe_progress
from bridge.cli.main import cli
from bridge.errors import DeliveryInDoubtError, RecipientUnreachableError, RetryableDeliveryError
from bridge.quiet_hours.window import QuietWindow
from bridge.store.database import open_database
from bridge.store.migrate import upgrade
from bridge.zalo import SendReceipt

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
WINDOW = QuietWindow(time(22, 0), time(6, 0), HCM)
NOON = datetime(2026, 3, 10, 12, 0, tzinfo=HCM).timestamp()
NIGHT = datetime(2026, 3, 10, 23, 0, tzinfo=HCM).timestamp()

# The citizens engineer's tables (migration 0003), created here until it is merged.
CITIZENS_DDL = """
CREATE TABLE IF NOT EXISTS citizens (
    user_id TEXT PRIMARY KEY, followed BOOLEAN NOT NULL, followed_at FLOAT NULL,
    unfollowed_at FLOAT NULL, last_interaction_at FLOAT NULL, area TEXT NULL, tags TEXT NULL,
    updated_at FLOAT NOT NULL)
"""
LINKS_DDL = """
CREATE TABLE IF NOT EXISTS citizen_links (
    user_id TEXT NOT NULL, case_code TEXT NOT NULL, linked_at FLOAT NOT NULL,
    factor TEXT NOT NULL, unlinked_at FLOAT NULL, PRIMARY KEY (user_id, case_code))
"""


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite3'}"
    dsn = request.getfixturevalue("postgres_dsn")
    name = f"news_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return dsn.rsplit("/", 1)[0] + "/" + name


@pytest.fixture
async def engine(store_url):
    await upgrade(store_url)
    engine = open_database(store_url)
    async with engine.begin() as connection:
        await connection.execute(sa.text(CITIZENS_DDL))
        await connection.execute(sa.text(LINKS_DDL))
    yield engine
    await engine.dispose()


async def add_citizens(engine, user_ids, *, followed=True, area="38.380", tags=(), linked=True):
    async with engine.begin() as connection:
        await connection.execute(
            sa.insert(citizens),
            [
                {
                    "user_id": u,
                    "followed": followed,
                    "area": area,
                    "tags": json.dumps(list(tags)),
                    "updated_at": NOON,
                }
                for u in user_ids
            ],
        )
        if linked:
            await connection.execute(
                sa.insert(citizen_links),
                [
                    {"user_id": u, "case_code": f"C-{u}", "linked_at": NOON, "factor": "otp"}
                    for u in user_ids
                ],
            )


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


class FakeSender:
    def __init__(self, *, unreachable=(), in_doubt=()):
        self.sent: list[tuple[str, str]] = []
        self.unreachable = set(unreachable)
        self.in_doubt = set(in_doubt)
        self.delivered_in_doubt: set[str] = set()

    async def send_text(self, user_id, text):
        await asyncio.sleep(0)
        if user_id in self.unreachable:
            raise RecipientUnreachableError("not interacted in 7 days", code=-230)
        if user_id in self.in_doubt:
            self.in_doubt.discard(user_id)
            self.sent.append((user_id, text))
            self.delivered_in_doubt.add(user_id)
            raise DeliveryInDoubtError("read timeout")
        self.sent.append((user_id, text))
        return SendReceipt(message_id=f"m-{len(self.sent)}", user_id=user_id, sent_time=None)

    async def find_sent(self, user_id, text, *, since):  # noqa: ARG002 - the port's shape
        return "found" if user_id in self.delivered_in_doubt else None


class CountingLimiter:
    def __init__(self):
        self.acquired = 0

    async def acquire(self, amount=1):
        self.acquired += amount


def announcement(**changes):
    document = {
        "announcement_id": str(uuid.uuid4()),
        "province": "thanh-hoa",
        "title": "Lịch nghỉ Tết Nguyên đán",
        "body": "Bộ phận Một cửa nghỉ từ ngày 14/02 đến hết ngày 22/02.",
        "link": "https://thanhhoa.gov.vn/thong-bao/tet",
        "urgency": "normal",
        "audience": {"kind": "all"},
        "published_at": "2026-03-10T08:00:00+07:00",
        **changes,
    }
    return parse_announcement(json.dumps(document).encode(), max_bytes=65536)


def fanout(engine, sender, clock, *, limiters=(), owner="r1", lease=30.0):
    return FanOut(
        store=AnnouncementStore(engine),
        audience=SqlAudience(engine),
        sender=sender,
        limiters=limiters,
        window=WINDOW,
        policy=FanOutPolicy(concurrency=8, lease_seconds=lease, in_doubt_settle_seconds=1),
        owner=owner,
        clock=clock,
        sleep=lambda _s: asyncio.sleep(0),
    )


async def drain(job):
    while await job.step():
        pass


class TestAudience:
    async def test_all_tag_and_area(self, engine):
        await add_citizens(engine, ["1001", "1002"], tags=["procedure:1.004616"], area="38.380.16")
        await add_citizens(engine, ["2001"], area="01.001", linked=False)
        await add_citizens(engine, ["3001"], followed=False, tags=["procedure:1.004616"])
        audience = SqlAudience(engine)

        async def members(**spec):
            pages = audience.members(AudienceSpec(**spec), page_size=1)
            return [u async for page in pages for u in page]

        assert await members(kind="all") == ["1001", "1002"]
        assert await members(kind="tag", value="procedure:1.004616") == ["1001", "1002"]
        assert await members(kind="tag", value="procedure:1.0046") == []
        assert await members(kind="area", value="38.380") == ["1001", "1002"]
        assert await members(kind="area", value="01") == ["2001"]
        assert await members(kind="area", value="%") == []


class TestFanOut:
    async def test_each_member_gets_one_copy_and_the_unreachable_are_recorded(self, engine):
        users = [str(10_000 + n) for n in range(250)]
        await add_citizens(engine, users)
        store = AnnouncementStore(engine)
        news = announcement()
        assert await store.add(news, now=NOON)
        assert not await store.add(news, now=NOON)  # a redelivered record
        sender = FakeSender(unreachable={users[3]})
        await drain(fanout(engine, sender, Clock(NOON)))
        assert sorted(u for u, _ in sender.sent) == sorted(set(users) - {users[3]})
        text = sender.sent[0][1]
        assert text.startswith("[THÔNG BÁO] Lịch nghỉ Tết Nguyên đán\n")
        assert "Xem chi tiết: https://thanhhoa.gov.vn/thong-bao/tet" in text
        progress = await store.progress(str(news.announcement_id))
        assert (progress.status, progress.total, progress.sent, progress.failed) == (
            "done",
            250,
            249,
            1,
        )
        assert progress.pending == 0
        assert progress.reasons == {"unreachable:-230": 1}
        await drain(fanout(engine, sender, Clock(NOON + 60)))  # done stays done
        assert len(sender.sent) == 249

    async def test_two_replicas_side_by_side_send_each_copy_once(self, engine):
        users = [str(20_000 + n) for n in range(300)]
        await add_citizens(engine, users)
        store = AnnouncementStore(engine)
        await store.add(announcement(), now=NOON)
        sender = FakeSender()
        first, second = (
            fanout(engine, sender, Clock(NOON), owner="a"),
            fanout(engine, sender, Clock(NOON), owner="b"),
        )
        await first.step()  # lists the audience and sends everything it can hold
        await asyncio.gather(drain(first), drain(second))
        assert sorted(u for u, _ in sender.sent) == sorted(users)

    async def test_a_restart_mid_fan_out_resumes_without_duplicates(self, engine):
        users = [str(30_000 + n) for n in range(120)]
        await add_citizens(engine, users)
        store = AnnouncementStore(engine)
        news = announcement()
        await store.add(news, now=NOON)
        sender = FakeSender(in_doubt={users[5]})
        job = fanout(engine, sender, Clock(NOON), lease=30)
        original = sender.send_text

        async def stop_after_40(user_id, text):
            if len(sender.sent) >= 20:
                job.stop()
            return await original(user_id, text)

        sender.send_text = stop_after_40
        await job.step()
        assert 20 <= len(sender.sent) < 120
        sender.send_text = original
        # The process died: its in-doubt copy is looked up after the lease, not sent again.
        await drain(fanout(engine, sender, Clock(NOON + 31), owner="r2"))
        assert sorted(u for u, _ in sender.sent) == sorted(users)
        progress = await store.progress(str(news.announcement_id))
        assert (progress.sent, progress.pending, progress.status) == (120, 0, "done")

    async def test_every_send_passes_each_limiter(self, engine):
        await add_citizens(engine, [str(40_000 + n) for n in range(50)])
        await AnnouncementStore(engine).add(announcement(), now=NOON)
        own, oa = CountingLimiter(), CountingLimiter()
        sender = FakeSender()
        await drain(fanout(engine, sender, Clock(NOON), limiters=[own, oa]))
        assert own.acquired == oa.acquired == len(sender.sent) == 50

    async def test_at_night_only_urgent_announcements_go_out(self, engine):
        await add_citizens(engine, ["5001", "5002"])
        store = AnnouncementStore(engine)
        normal, urgent = announcement(), announcement(urgency="urgent", title="Cảnh báo bão số 3")
        await store.add(normal, now=NIGHT)
        await store.add(urgent, now=NIGHT + 1)
        sender = FakeSender()
        clock = Clock(NIGHT)
        await drain(fanout(engine, sender, clock))
        assert {t.split("\n")[0] for _, t in sender.sent} == {"[KHẨN] Cảnh báo bão số 3"}
        clock.now = NIGHT + 7 * 3600  # 06:00
        await drain(fanout(engine, sender, clock))
        assert len(sender.sent) == 4

    async def test_an_expired_announcement_is_not_sent(self, engine):
        await add_citizens(engine, ["6001"])
        store = AnnouncementStore(engine)
        news = announcement(expires_at="2026-03-10T09:00:00+07:00")
        await store.add(news, now=NOON)
        sender = FakeSender()
        await drain(fanout(engine, sender, Clock(NOON)))
        assert sender.sent == []
        progress = await store.progress(str(news.announcement_id))
        assert (progress.status, progress.expired) == ("expired", 1)


def test_progress_rate_and_eta():
    progress = Progress(
        "a",
        "sending",
        "T",
        "normal",
        1000,
        590,
        10,
        0,
        400,
        {"unreachable:-230": 10},
        started_at=0.0,
        last_update_at=60.0,
        finished_at=None,
    )
    assert progress.per_minute == 600
    assert progress.eta_seconds == 40
    text = describe_progress(progress)
    assert "sent:     590" in text
    assert "rate:     600/min" in text
    assert "eta:      40 s" in text
    assert datetime.fromtimestamp(0, UTC).isoformat(timespec="seconds") in text


class FakeClockLimiter:
    """A leaky bucket on the fake clock: each acquire waits (on the fake clock) for its slot."""

    def __init__(self, clock, per_minute):
        self.clock = clock
        self.interval = 60 / per_minute
        self.next_slot = clock.now

    async def acquire(self, amount=1):
        slot = max(self.next_slot, self.clock.now)
        self.clock.now = slot
        self.next_slot = slot + self.interval * amount


class TestPacing:
    async def test_sends_follow_the_rate_on_a_fake_clock(self, engine):
        await add_citizens(engine, [str(70_000 + n) for n in range(150)])
        await AnnouncementStore(engine).add(announcement(), now=NOON)
        clock = Clock(NOON)
        sender = FakeSender()
        times = []
        original = sender.send_text

        async def timed(user_id, text):
            times.append(clock.now)
            return await original(user_id, text)

        sender.send_text = timed
        limiter = FakeClockLimiter(clock, per_minute=60)
        await drain(fanout(engine, sender, clock, limiters=[limiter]))
        assert len(times) == 150
        assert max(b - a for a, b in itertools.pairwise(times)) <= 1.0
        windows = [sum(1 for t in times if start <= t < start + 60) for start in times]
        assert max(windows) <= 60
        assert times[-1] - times[0] == pytest.approx(149.0)

    async def test_transient_failures_end_failed_only_after_attempts_and_the_retry_window(
        self, engine
    ):
        await add_citizens(engine, ["8001", "8002"])
        store = AnnouncementStore(engine)
        news = announcement()
        await store.add(news, now=NOON)
        clock, sleeps = Clock(NOON), []

        class Flaky(FakeSender):
            async def send_text(self, user_id, text):
                if user_id == "8001":
                    raise RetryableDeliveryError("Zalo busy", code=-32)
                return await super().send_text(user_id, text)

        async def sleep(seconds):
            sleeps.append(seconds)
            clock.now += seconds

        job = FanOut(
            store=store,
            audience=SqlAudience(engine),
            sender=Flaky(),
            limiters=(),
            window=WINDOW,
            policy=FanOutPolicy(max_attempts=3, retry_window_seconds=30, pause_seconds=10),
            owner="r1",
            clock=clock,
            sleep=sleep,
        )
        await drain(job)
        progress = await store.progress(str(news.announcement_id))
        assert (progress.sent, progress.failed) == (1, 1)
        assert progress.reasons == {"transient:-32": 1}
        assert sleeps[:3] == [0.5, 1.0, 2.0]  # backing off, capped at pause_seconds
        assert max(sleeps) == 10
        assert clock.now - NOON >= 30  # three attempts were not enough: the window had to pass

    async def test_a_short_outage_fails_no_copy(self, engine):
        await add_citizens(engine, ["8101", "8102", "8103"])
        store = AnnouncementStore(engine)
        news = announcement()
        await store.add(news, now=NOON)
        clock = Clock(NOON)

        class Outage(FakeSender):
            async def send_text(self, user_id, text):
                if clock.now < NOON + 20:  # 20 s of 503s: more than max_attempts sends each
                    raise RetryableDeliveryError("HTTP 503", code=None)
                return await super().send_text(user_id, text)

        async def sleep(seconds):
            clock.now += seconds

        sender = Outage()
        job = FanOut(
            store=store,
            audience=SqlAudience(engine),
            sender=sender,
            limiters=(),
            window=WINDOW,
            policy=FanOutPolicy(max_attempts=3, retry_window_seconds=3600, pause_seconds=10),
            owner="r1",
            clock=clock,
            sleep=sleep,
        )
        await drain(job)
        progress = await store.progress(str(news.announcement_id))
        assert (progress.sent, progress.failed) == (3, 0)
        assert sorted(user for user, _ in sender.sent) == ["8101", "8102", "8103"]


class TestStatusCommand:
    async def test_prints_the_progress_of_an_announcement(self, tmp_path, monkeypatch):
        url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
        await upgrade(url)
        engine = open_database(url)
        try:
            async with engine.begin() as connection:
                await connection.execute(sa.text(CITIZENS_DDL))
                await connection.execute(sa.text(LINKS_DDL))
            await add_citizens(engine, ["9001", "9002", "9003"])
            news = announcement()
            await AnnouncementStore(engine).add(news, now=NOON)
            await drain(fanout(engine, FakeSender(unreachable={"9002"}), Clock(NOON)))
        finally:
            await engine.dispose()
        monkeypatch.setenv("BRIDGE_STORE__URL", url)
        runner = CliRunner()
        result = await asyncio.to_thread(
            runner.invoke, cli, ["announce", "status", str(news.announcement_id)]
        )
        assert result.exit_code == 0, result.output
        assert result.output.startswith(f"announcement {news.announcement_id}: done (normal)")
        assert "total:    3" in result.output
        assert "sent:     2" in result.output
        assert "unreachable:-230: 1" in result.output
        as_json = await asyncio.to_thread(
            runner.invoke, cli, ["announce", "status", str(news.announcement_id), "--json"]
        )
        assert json.loads(as_json.output)["pending"] == 0
        unknown = await asyncio.to_thread(
            runner.invoke, cli, ["announce", "status", str(uuid.uuid4())]
        )
        assert unknown.exit_code == 1
