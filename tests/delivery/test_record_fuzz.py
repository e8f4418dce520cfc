"""Property: any record, however hostile, reaches exactly one outcome in bounded time.

Records go through the real path: the bounded decoder, the province's templates, the channel
cascade, the Deliverer with a SQLite ledger, the dossier-state recorder, the settler and the
Dispatcher with its committer. Zalo is a fake answering with a drawn script (transient errors,
lost answers, refusals, a refused token, a disabled OA, bugs), the citizen store a fake that
can be unreachable for a while and refuse some dossiers' rows. Time is a fake clock that only
the waits move, and "bounded" is counted in event-loop steps, never measured.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hostile
from bridge.citizens.dossiers import dossier_state
from bridge.citizens.state_recorder import StateRecorder
from bridge.delivery.cascade import CascadeConfig, Route
from bridge.delivery.dead_letter import MAX_DEAD_LETTER_BYTES
from bridge.delivery.deliverer import Deliverer, DeliveryPolicy
from bridge.delivery.dispatch import CLOSING, Dispatcher
from bridge.delivery.faults import Outage
from bridge.delivery.flow import CircuitBreaker
from bridge.delivery.outbox import outputs_for
from bridge.delivery.records import InboundRecord
from bridge.delivery.settling import Settler
from bridge.delivery.sqlite_ledger import SqliteLedger
from bridge.errors import (
    AccountError,
    DeliveryInDoubtError,
    InvalidEventReason,
    MessageRejectedError,
    RecipientUnreachableError,
    RetryableDeliveryError,
    StoreError,
    StoreValueError,
    TokenError,
)
from bridge.settings import load_settings
from bridge.store.migrate import upgrade_sync
from bridge.templates.renderer import template_renderer
from bridge.wording import MessageContext
from bridge.zalo import SendReceipt
from fuzz_profiles import examples

pytestmark = pytest.mark.fuzz

MAX_TRIES = 3
STEP_BUDGET = 2_000
"""Event-loop steps a whole example may take; a record retried for ever would exhaust it."""
POLICY = DeliveryPolicy(
    max_attempts=3,
    initial_backoff=0.5,
    max_backoff=4,
    budget=60,
    pause=10,
    lease=30,
    in_doubt="reconcile",
    in_doubt_settle=2,
    in_doubt_hold=100,
)
CASCADE = CascadeConfig(default=Route(template_id_uid="tpl-uid", template_id_phone="tpl-phone"))
REASONS = {reason.value for reason in InvalidEventReason}
ANSWERS = (
    "ok",
    "transient",
    "send_failed",
    "in_doubt_arrived",
    "in_doubt_lost",
    "unreachable",
    "rejected",
    "token",
    "account",
    "bug",
)
TALLY: Counter[str] = Counter()
"""Outcome classes of every record of every example, shown at the end of the module."""
MOST: Counter[str] = Counter()
"""The most steps and waits any example took."""


@cache
def renderer():
    """The province's templates, as the service loads them (built once: it is pure)."""
    settings = load_settings(
        province={"lookup_url_template": "https://dvc.example.gov.vn/tra-cuu?ma={case_code}"}
    )
    context = MessageContext(
        lookup_url_template=settings.province.lookup_url_template,
        timezone=ZoneInfo(settings.province.timezone),
        signature=settings.province.signature,
    )
    return template_renderer(settings, context)


@pytest.fixture(scope="module")
def template_ledger(tmp_path_factory):
    """A migrated ledger file; each example works on an in-memory copy of it."""
    path = tmp_path_factory.mktemp("fuzz") / "ledger.sqlite3"
    upgrade_sync(f"sqlite:///{path}")
    source = sqlite3.connect(path)
    yield source
    source.close()


@pytest.fixture(scope="module", autouse=True)
def _tally(request):
    yield
    if TALLY:
        reporter = request.config.pluginmanager.get_plugin("terminalreporter")
        total = sum(TALLY.values())
        line = ", ".join(f"{name} {count}" for name, count in sorted(TALLY.items()))
        if reporter is not None:
            reporter.write_line(
                f"\nrecord fuzz: {total} records: {line}; at most {MOST['steps']} loop steps"
                f" and {MOST['waits']} waits in one example"
            )


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class Sleeps:
    """A fake sleep: moves the clock, lets the other lanes run, counts."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.count = 0

    async def __call__(self, seconds: float) -> None:
        self.count += 1
        self.clock.now += max(0.0, seconds)
        await asyncio.sleep(0)


@dataclass
class Faults:
    """What goes wrong around the records in one example."""

    zalo: list[str] = field(default_factory=list)
    linked: dict[str, list[str]] = field(default_factory=dict)
    directory_outages: int = 0
    state_outages: int = 0
    refused_sequences: frozenset[int] = frozenset()
    cursed_user: str | None = None
    """Every send to this user raises a bug, for ever."""
    broken_sequences: frozenset[int] = frozenset()
    """Recording these dossiers' states raises a bug, for ever."""


faults = st.builds(
    Faults,
    zalo=st.lists(st.sampled_from(ANSWERS), max_size=10),
    linked=st.dictionaries(
        st.sampled_from(hostile.CASE_CODES),
        st.lists(st.sampled_from(("7001", "7002")), max_size=2, unique=True),
        max_size=2,
    ),
    directory_outages=st.integers(0, 3),
    state_outages=st.integers(0, 3),
    refused_sequences=st.frozensets(st.integers(0, 20), max_size=3),
    cursed_user=st.one_of(st.none(), st.sampled_from(hostile.USERS)),
    broken_sequences=st.frozensets(st.integers(0, 20), max_size=2),
)
no_faults = st.just(Faults())


class HostileZalo:
    """Answers each call with the next drawn answer, then with success; checks what it is sent."""

    def __init__(self, script: list[str], cursed: str | None = None) -> None:
        self.script = list(script)
        self.cursed = cursed
        self.calls = 0
        self.bugs = 0
        self.conversation: dict[tuple[str, str], str] = {}

    def _answer(  # noqa: C901, PLR0912 - one branch per scripted Zalo answer
        self, address: str, content: object, text: str | None = None
    ) -> SendReceipt:
        self.calls += 1
        for value in (address, content, text):
            rendered = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            rendered.encode("utf-8")  # what the HTTP client does: never a lone surrogate
        if text is not None:
            assert unicodedata.is_normalized("NFC", text), text
        answer = self.script.pop(0) if self.script else "ok"
        if address == self.cursed:
            answer = "bug"
        message_id = f"m{self.calls}"
        match answer:
            case "ok":
                return SendReceipt(message_id=message_id, user_id=address, sent_time=None)
            case "transient":
                raise RetryableDeliveryError("Zalo error -32: rate limit", code=-32)
            case "send_failed":
                raise RetryableDeliveryError("Zalo error -200: Send message failed", code=-200)
            case "in_doubt_arrived":
                if text is not None:
                    self.conversation[(address, text)] = message_id
                raise DeliveryInDoubtError("read timeout")
            case "in_doubt_lost":
                raise DeliveryInDoubtError("read timeout")
            case "unreachable":
                raise RecipientUnreachableError("Zalo error -213: not a follower", code=-213)
            case "rejected":
                raise MessageRejectedError("Zalo error -201: invalid parameter", code=-201)
            case "token":
                raise TokenError("Zalo error -216: access token invalid", code=-216)
            case "account":
                raise AccountError("Zalo error -209: OA disabled", code=-209)
            case _:
                self.bugs += 1
                raise RuntimeError("a bug in the client")

    async def send_text(self, user_id: str, text: str) -> SendReceipt:
        return self._answer(user_id, None, text)

    async def find_sent(self, user_id: str, text: str, *, since: float) -> str | None:  # noqa: ARG002 - the protocol
        return self.conversation.get((user_id, text))

    async def send_template(self, user_id, template_id, template_data) -> SendReceipt:
        return self._answer(user_id, {"id": template_id, **dict(template_data)})

    async def send_template_by_phone(self, phone, template_id, template_data, tracking_id):
        return self._answer(phone, {"id": template_id, "t": tracking_id, **dict(template_data)})


class Directory:
    def __init__(self, faults: Faults) -> None:
        self.linked = faults.linked
        self.outages = faults.directory_outages

    async def linked_users(self, case_code: str) -> list[str]:
        if self.outages:
            self.outages -= 1
            raise StoreError("citizen store: OperationalError")
        return list(self.linked.get(case_code, []))

    async def last_interaction_at(self, user_id: str) -> float | None:  # noqa: ARG002 - the protocol
        return None


class StateStore:
    """Refuses the rows of some sequences (their batch with them); unreachable for a while."""

    def __init__(self, faults: Faults) -> None:
        self.refused = faults.refused_sequences
        self.broken = faults.broken_sequences
        self.outages = faults.state_outages
        self.rows: list[tuple[str, int]] = []

    async def write(self, states) -> None:
        await asyncio.sleep(0)
        if self.outages:
            self.outages -= 1
            raise StoreError("citizen store: OperationalError")
        if any(state.sequence in self.refused for state in states):
            raise StoreValueError("citizen store refused a value: DataError")
        if any(state.sequence in self.broken for state in states):
            raise RuntimeError("a bug in the store")
        self.rows.extend((state.case_code, state.sequence) for state in states)


class Publisher:
    def __init__(self) -> None:
        self.outputs: list = []
        self.offsets: dict[tuple[str, int], int] = {}

    async def publish(self, outputs, offsets, _owner=None) -> None:
        self.outputs.extend(outputs)
        self.offsets.update(offsets)


class Flow:
    def __init__(self) -> None:
        self.reasons: set[str] = set()

    def hold(self, reason: str, *, on: bool) -> None:
        (self.reasons.add if on else self.reasons.discard)(reason)


@dataclass
class Run:
    records: list[InboundRecord]
    publisher: Publisher
    zalo: HostileZalo
    flow: Flow
    steps: int
    sleeps: int
    elapsed: float
    fatal: list[BaseException]


async def run(source: sqlite3.Connection, records: list[InboundRecord], faults: Faults) -> Run:
    """Put ``records`` through the whole path and run it until every one is committed."""
    memory = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    source.backup(memory)
    ledger = SqliteLedger(memory)
    clock = Clock()
    sleeps = Sleeps(clock)
    flow, publisher, zalo, fatal = (
        Flow(),
        Publisher(),
        HostileZalo(faults.zalo, faults.cursed_user),
        [],
    )
    outage = Outage(flow.hold)
    store = StateStore(faults)
    recorder = StateRecorder(store.write)

    async def record_event(event) -> None:
        await recorder.record(dossier_state(event, phone_last4_hash=None))

    def outputs(record, outcome):
        now = datetime.fromtimestamp(clock(), UTC)
        return outputs_for(record, outcome, status_topic="status", dead_letter_topic="dlq", now=now)

    breaker = CircuitBreaker(
        failure_threshold=3, open_seconds=5, max_open_seconds=60, clock=clock, sleep=sleeps
    )
    deliverer = Deliverer(
        sender=zalo,
        ledger=ledger,
        renderer=renderer(),
        policy=POLICY,
        max_event_bytes=64 * 1024,
        owner="fuzz",
        breaker=breaker,
        citizens=Directory(faults),
        cascade=CASCADE,
        clock=clock,
        sleep=sleeps,
        max_tries=MAX_TRIES,
        outage=outage,
    )
    settler = Settler(handle=deliverer.handle, record_event=record_event, outputs=outputs)
    dispatcher = Dispatcher(
        process=settler.deliver,
        publish=publisher.publish,
        flow=flow,  # type: ignore[arg-type]
        max_in_flight=1000,
        commit_interval=0.5,
        on_fatal=fatal.append,
        give_up=settler.give_up,
        max_tries=MAX_TRIES,
        max_backoff=4,
        outage=outage,
        sleep=sleeps,
    )
    for record in records:
        dispatcher.submit(record)
    steps = 0
    while dispatcher.in_flight:
        steps += 1
        assert steps <= STEP_BUDGET, "records not settled in bounded steps"
        await asyncio.sleep(0)
        await dispatcher.flush()
    await dispatcher.close(timeout=0)
    memory.close()
    return Run(
        records, publisher, zalo, flow, steps, sleeps.count, clock.now - 1_800_000_000.0, fatal
    )


def as_records(drawn) -> list[InboundRecord]:
    offsets: Counter[int] = Counter()
    records = []
    for partition, key, value, headers in drawn:
        records.append(
            InboundRecord(
                topic="in",
                partition=partition,
                offset=offsets[partition],
                key=key,
                value=value,
                headers=tuple(headers),
                timestamp_ms=1_700_000_000_000,
            )
        )
        offsets[partition] += 1
    return records


def check(result: Run, faults: Faults) -> None:
    """Exactly one status per record, committed to the end; DLQ copies intact; no escape."""
    assert result.fatal == []
    # Closing stops fetching for good; any other hold must have ended with its outage.
    assert result.flow.reasons - {CLOSING} == set(), "an outage hold outlived the outage"
    records = {(r.partition, r.offset): r for r in result.records}
    statuses = [out for out in result.publisher.outputs if out.topic == "status"]
    copies = [out for out in result.publisher.outputs if out.topic == "dlq"]
    by_source: dict[tuple[int, int], dict] = {}
    for status in statuses:
        body = json.loads(status.value)
        source = (body["source"]["partition"], body["source"]["offset"])
        assert source not in by_source, f"two status events for {source}"
        by_source[source] = body
    assert set(by_source) == set(records), "a record without a status event"
    ends = Counter()
    for partition, offset in records:
        ends[partition] = max(ends[partition], offset + 1)
    assert result.publisher.offsets == {("in", p): end for p, end in ends.items()}
    dead = {source for source, body in by_source.items() if body["status"] == "dead_lettered"}
    assert len(copies) >= len(dead)
    assert len(copies) <= len(records)
    for copy in copies:
        headers = dict(copy.headers)
        source = (int(headers["x-original-partition"]), int(headers["x-original-offset"]))
        original = records[source]
        assert copy.key == original.key
        if "x-dlq-value-omitted" in headers:
            assert len(original.value) + 1024 > MAX_DEAD_LETTER_BYTES
        else:
            assert copy.value == original.value
        assert list(copy.headers[: len(original.headers)]) == list(original.headers)
        assert headers["x-dlq-reason"].decode() in REASONS
        assert headers["x-dlq-exception"]
        body = by_source[source]
        if body["status"] != "dead_lettered":
            # Delivered (or otherwise settled) but the dossier's row was refused.
            assert headers["x-dlq-reason"] == b"processing_error"
    for source in dead:
        assert any(
            (
                int(dict(c.headers)["x-original-partition"]),
                int(dict(c.headers)["x-original-offset"]),
            )
            == source
            for c in copies
        )
    failed = [body for body in by_source.values() if body["reason"] == "processing_failed"]
    if failed:
        assert result.zalo.bugs or faults.broken_sequences, "processing_failed, yet no bug"
    if faults == Faults():
        # Nothing went wrong around the records: whatever the contract accepts is worded,
        # recorded and sent; only the records themselves can be refused.
        processing = {"processing_error", "processing_failed"}
        assert not [body for body in by_source.values() if body["reason"] in processing]
        assert not [c for c in copies if dict(c.headers)["x-dlq-reason"] == b"processing_error"]
    bound = (len(records) + len(faults.zalo) + 8) * (
        POLICY.in_doubt_hold + POLICY.pause * (MAX_TRIES + 1) + 60
    )
    assert result.elapsed <= bound, "a record waited longer than its faults explain"
    MOST["steps"] = max(MOST["steps"], result.steps)
    MOST["waits"] = max(MOST["waits"], result.sleeps)
    for body in by_source.values():
        reason = body["reason"] or ""
        TALLY[f"{body['status']}:{reason.split(':')[0]}" if reason else body["status"]] += 1


event_values = st.builds(hostile.serialise, hostile.hostile_events(), ascii_only=st.booleans())
records_drawn = st.lists(
    st.tuples(
        st.integers(0, 1),
        hostile.record_keys,
        st.one_of(event_values, event_values, hostile.record_values),
        hostile.record_headers,
    ),
    min_size=1,
    max_size=8,
)


def run_and_check(template_ledger, drawn, faults: Faults) -> None:
    result = asyncio.run(run(template_ledger, as_records(drawn), faults))
    check(result, faults)


@settings(max_examples=examples(60))
@given(
    drawn=st.lists(
        st.tuples(
            st.integers(0, 1),
            hostile.record_keys,
            st.one_of(st.binary(max_size=300), st.sampled_from(hostile.POISON)),
            hostile.record_headers,
        ),
        min_size=1,
        max_size=8,
    )
)
def test_arbitrary_bytes_each_get_one_outcome(template_ledger, drawn):
    run_and_check(template_ledger, drawn, Faults())


@settings(max_examples=examples(60))
@given(
    drawn=st.lists(
        st.tuples(
            st.integers(0, 1),
            hostile.record_keys,
            st.builds(hostile.serialise, hostile.json_values, ascii_only=st.booleans()),
            hostile.record_headers,
        ),
        min_size=1,
        max_size=8,
    )
)
def test_arbitrary_json_each_gets_one_outcome(template_ledger, drawn):
    run_and_check(template_ledger, drawn, Faults())


@settings(max_examples=examples(100))
@given(
    drawn=st.lists(
        st.tuples(
            st.integers(0, 1),
            hostile.record_keys,
            st.builds(hostile.serialise, hostile.hostile_events(), ascii_only=st.booleans()),
            hostile.record_headers,
        ),
        min_size=1,
        max_size=8,
    ),
)
def test_hostile_events_each_get_one_outcome_and_valid_ones_are_worded(template_ledger, drawn):
    run_and_check(template_ledger, drawn, Faults())


@settings(max_examples=examples(100))
@given(drawn=records_drawn, faults=faults)
def test_any_records_amid_zalo_and_store_faults_each_get_one_outcome(
    template_ledger, drawn, faults
):
    run_and_check(template_ledger, drawn, faults)
