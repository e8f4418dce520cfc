"""Quiet hours on SQLite and PostgreSQL: hold, supersede, claim once, release in the morning."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, time
from zoneinfo import ZoneInfo

import psycopg
import pytest

from bridge.delivery.cascade import CascadeConfig, Route
from bridge.delivery.outbox import OutboundRecord
from bridge.delivery.records import DeliveryOutcome, InboundRecord
from bridge.errors import InvalidEventError
from bridge.events import parse_event
from bridge.quiet_hours.holding import QuietHoursGate, Releaser, SerialPublisher, UrgencyRule
from bridge.quiet_hours.store import HoldStatus, HoldStore
from bridge.quiet_hours.window import QuietWindow
from bridge.status import DeliveryStatus
from bridge.store.database import open_database
from bridge.store.migrate import upgrade

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
WINDOW = QuietWindow(time(21, 0), time(7, 0), HCM)
EVENING = datetime(2026, 3, 10, 22, 0, tzinfo=HCM).timestamp()
MORNING = datetime(2026, 3, 11, 7, 0, 30, tzinfo=HCM).timestamp()
CASE = "000.20.31.H56-260310-0042"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite3'}"
    dsn = request.getfixturevalue("postgres_dsn")
    name = f"holds_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return dsn.rsplit("/", 1)[0] + "/" + name


@pytest.fixture
async def engine(store_url):
    await upgrade(store_url)
    engine = open_database(store_url)
    yield engine
    await engine.dispose()


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


def outputs(record, outcome):
    status = {"status": outcome.status.value, "reason": outcome.reason, "offset": record.offset}
    return [OutboundRecord("status", record.key, json.dumps(status).encode())]


class Pipeline:
    """The gate in front of a fake Deliverer, as Runtime.start wires them."""

    def __init__(self, engine, clock):
        self.store = HoldStore(engine)
        self.delivered: list[InboundRecord] = []
        self.published: list[dict] = []
        self.clock = clock
        self.gate = QuietHoursGate(
            store=self.store,
            window=WINDOW,
            urgent=UrgencyRule(("RESULT_READY",), ()),
            max_event_bytes=65536,
            clock=clock,
        )
        self.process = self.gate.guard(self.deliver_outputs, outputs)
        self.offset = 0

    async def handle(self, record):
        self.delivered.append(record)
        try:
            event = parse_event(record.value, max_bytes=65536)
        except InvalidEventError:
            return DeliveryOutcome(DeliveryStatus.DEAD_LETTERED, reason="invalid_json")
        return DeliveryOutcome(DeliveryStatus.DELIVERED, message_id="m", event=event)

    async def deliver_outputs(self, record):
        return outputs(record, await self.handle(record))

    async def publish(self, records, offsets, _owner=None):
        assert offsets == {}
        self.published.extend(json.loads(r.value) for r in records)

    def releaser(self, owner="replica-1"):
        return Releaser(
            store=self.store,
            deliver=self.handle,
            outputs=outputs,
            publish=SerialPublisher(self.publish).publish,
            window=WINDOW,
            owner=owner,
            lease_seconds=60,
            poll=0.01,
            concurrency=4,
            clock=self.clock,
        )

    async def feed(self, event, encode):
        self.offset += 1
        record = InboundRecord(
            "case-events",
            0,
            self.offset,
            event["case"]["code"].encode(),
            encode(event),
            (("trace", b"\xff\x00"),),
        )
        return record, [json.loads(r.value) for r in await self.process(record)]


def case_event(make_event, sequence, state, code=CASE):
    return make_event(sequence=sequence, state=state, case={"code": code})


class TestHolding:
    async def test_at_night_non_urgent_news_is_held_and_urgent_news_goes_at_once(
        self, engine, make_event, encode
    ):
        pipeline = Pipeline(engine, Clock(EVENING))
        _, held = await pipeline.feed(case_event(make_event, 1, "IN_PROGRESS"), encode)
        assert held == [{"status": "held", "reason": "quiet_hours", "offset": 1}]
        assert pipeline.delivered == []
        other = case_event(make_event, 1, "RESULT_READY", code="000.20.31.H56-260310-0043")
        _, sent = await pipeline.feed(other, encode)
        assert sent == [{"status": "delivered", "reason": None, "offset": 2}]

    async def test_by_day_nothing_is_held(self, engine, make_event, encode):
        pipeline = Pipeline(engine, Clock(MORNING))
        _, sent = await pipeline.feed(case_event(make_event, 1, "IN_PROGRESS"), encode)
        assert sent[0]["status"] == "delivered"
        assert await pipeline.store.counts() == {}

    async def test_events_decided_without_a_send_are_not_held(self, engine, make_event, encode):
        pipeline = Pipeline(engine, Clock(EVENING))
        no_consent = make_event(state="IN_PROGRESS", recipient={"notify_consent": False})
        _, out = await pipeline.feed(no_consent, encode)
        assert out[0]["status"] == "delivered"  # the fake Deliverer: it decides, not the gate
        bad = await pipeline.process(InboundRecord("case-events", 0, 9, None, b"{"))
        assert json.loads(bad[0].value)["status"] == "dead_lettered"
        assert await pipeline.store.counts() == {}

    async def test_a_phone_only_recipient_is_held_only_when_the_cascade_can_text_the_phone(
        self, engine, make_event, encode
    ):
        phone_only = {"zalo_user_id": None, "phone": "0912345678"}
        pipeline = Pipeline(engine, Clock(EVENING))  # the default cascade: CS only
        _, out = await pipeline.feed(make_event(state="IN_PROGRESS", recipient=phone_only), encode)
        assert out[0]["status"] == "delivered"  # the fake Deliverer: it decides, not the gate
        by_phone = QuietHoursGate(
            store=pipeline.store,
            window=WINDOW,
            urgent=UrgencyRule((), ()),
            max_event_bytes=65536,
            clock=pipeline.clock,
            cascade=CascadeConfig(default=Route(template_id_phone="tpl-phone")),
        )
        pipeline.process = by_phone.guard(pipeline.deliver_outputs, outputs)
        _, out = await pipeline.feed(make_event(state="IN_PROGRESS", recipient=phone_only), encode)
        assert out[0]["status"] == "held"

    async def test_a_newer_state_supersedes_the_held_one_and_says_so(
        self, engine, make_event, encode
    ):
        pipeline = Pipeline(engine, Clock(EVENING))
        in_progress = case_event(make_event, 4, "IN_PROGRESS")
        await pipeline.feed(in_progress, encode)
        _, out = await pipeline.feed(case_event(make_event, 5, "RESULT_READY"), encode)
        assert out == [
            {"status": "delivered", "reason": None, "offset": 2},
            {"status": "suppressed", "reason": "superseded", "offset": 1},
        ]
        assert await pipeline.store.status_of(in_progress["event_id"]) == ("superseded", None)

    async def test_a_record_processed_again_reports_what_it_superseded_again(
        self, engine, make_event, encode
    ):
        pipeline = Pipeline(engine, Clock(EVENING))
        in_progress = case_event(make_event, 4, "IN_PROGRESS")
        await pipeline.feed(in_progress, encode)
        failures = [RuntimeError("the ledger is down")]

        async def deliver_once_failing(record):
            if failures:
                raise failures.pop()
            return await pipeline.deliver_outputs(record)

        process = pipeline.gate.guard(deliver_once_failing, outputs)
        result = InboundRecord(
            "case-events", 0, 2, CASE.encode(), encode(case_event(make_event, 5, "RESULT_READY"))
        )
        with pytest.raises(RuntimeError):
            await process(result)  # the dispatcher keeps the record and processes it again
        out = [json.loads(r.value) for r in await process(result)]
        assert out == [
            {"status": "delivered", "reason": None, "offset": 2},
            {"status": "suppressed", "reason": "superseded", "offset": 1},
        ]

    async def test_a_newer_event_in_the_same_state_supersedes_nothing(
        self, engine, make_event, encode
    ):
        pipeline = Pipeline(engine, Clock(EVENING))
        await pipeline.feed(case_event(make_event, 4, "IN_PROGRESS"), encode)
        transfer = make_event(
            sequence=5,
            state="IN_PROGRESS",
            event_type="TRANSFERRED",
            transfer={"to_unit": "Phòng Tài nguyên"},
        )
        _, out = await pipeline.feed(transfer, encode)
        assert [o["status"] for o in out] == ["held"]
        assert await pipeline.store.counts() == {"held": 2}

    async def test_an_older_event_supersedes_nothing(self, engine, make_event, encode):
        pipeline = Pipeline(engine, Clock(EVENING))
        await pipeline.feed(case_event(make_event, 6, "IN_PROGRESS"), encode)
        await pipeline.feed(case_event(make_event, 3, "RECEIVED"), encode)
        assert await pipeline.store.counts() == {"held": 2}

    async def test_holding_the_same_event_twice_keeps_one(self, engine, make_event, encode):
        pipeline = Pipeline(engine, Clock(EVENING))
        event = case_event(make_event, 1, "IN_PROGRESS")
        await pipeline.feed(event, encode)
        await pipeline.feed(event, encode)
        assert await pipeline.store.counts() == {"held": 1}


class TestRelease:
    async def test_nothing_is_released_during_quiet_hours(self, engine, make_event, encode):
        clock = Clock(EVENING)
        pipeline = Pipeline(engine, clock)
        await pipeline.feed(case_event(make_event, 1, "IN_PROGRESS"), encode)
        clock.now = EVENING + 3 * 3600  # 01:00
        assert await pipeline.releaser().release_due() == 0
        assert pipeline.delivered == []

    async def test_in_the_morning_held_records_go_through_the_deliverer_in_order(
        self, engine, make_event, encode
    ):
        clock = Clock(EVENING)
        pipeline = Pipeline(engine, clock)
        first, _ = await pipeline.feed(case_event(make_event, 4, "IN_PROGRESS"), encode)
        transfer = make_event(
            sequence=5,
            state="IN_PROGRESS",
            event_type="TRANSFERRED",
            transfer={"to_unit": "Phòng Tài nguyên"},
        )
        second, _ = await pipeline.feed(transfer, encode)
        superseded = case_event(make_event, 1, "RECEIVED", code="000.20.31.H56-260310-0077")
        await pipeline.feed(superseded, encode)
        await pipeline.feed(
            case_event(make_event, 2, "RESULT_READY", code="000.20.31.H56-260310-0077"), encode
        )
        pipeline.delivered.clear()
        clock.now = MORNING
        releaser = pipeline.releaser()
        assert await releaser.release_due() == 2
        assert pipeline.delivered == [first, second]  # bytes, key and headers as they arrived
        assert [p["status"] for p in pipeline.published] == ["delivered", "delivered"]
        assert await pipeline.store.counts() == {"released": 2, "superseded": 1}
        assert await releaser.release_due() == 0

    async def test_two_replicas_never_release_the_same_record(self, engine, make_event, encode):
        clock = Clock(EVENING)
        pipeline = Pipeline(engine, clock)
        for n in range(30):
            code = f"000.20.31.H56-260310-{n:04d}"
            await pipeline.feed(case_event(make_event, 1, "IN_PROGRESS", code=code), encode)
        clock.now = MORNING
        claims = await asyncio.gather(
            *(
                pipeline.store.claim_due(now=MORNING, owner=f"r{i}", lease_seconds=60, limit=10)
                for i in range(6)
            )
        )
        ids = [held.event_id for claim in claims for held in claim]
        assert len(ids) == 30
        assert len(set(ids)) == 30

    async def test_a_release_whose_replica_died_is_taken_over_after_its_lease(
        self, engine, make_event, encode
    ):
        clock = Clock(EVENING)
        pipeline = Pipeline(engine, clock)
        await pipeline.feed(case_event(make_event, 1, "IN_PROGRESS"), encode)
        claimed = await pipeline.store.claim_due(
            now=MORNING, owner="dead", lease_seconds=60, limit=10
        )
        assert len(claimed) == 1
        clock.now = MORNING + 30
        assert await pipeline.releaser().release_due() == 0
        clock.now = MORNING + 61
        assert await pipeline.releaser().release_due() == 1
        assert (
            await pipeline.store.settle(
                claimed[0].event_id,
                owner="dead",
                outcome="delivered",
                reason=None,
                now=MORNING + 62,
            )
            is False
        )
        assert await pipeline.store.counts() == {HoldStatus.RELEASED.value: 1}

    async def test_the_run_loop_releases_overdue_holds_at_start(self, engine, make_event, encode):
        clock = Clock(EVENING)
        pipeline = Pipeline(engine, clock)
        await pipeline.feed(case_event(make_event, 1, "IN_PROGRESS"), encode)
        clock.now = MORNING + 86400  # the bridge was down all night and the next day
        task = asyncio.create_task(pipeline.releaser().run())
        try:
            for _ in range(200):
                if pipeline.published:
                    break
                await asyncio.sleep(0.01)
        finally:
            task.cancel()
        assert [p["status"] for p in pipeline.published] == ["delivered"]
