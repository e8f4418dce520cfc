"""The announcement intake: every record stored or dead-lettered once, in bounded time."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiokafka.errors import KafkaConnectionError
from hypothesis import given, settings
from hypothesis import strategies as st

import hostile
from bridge.announcements.intake import AnnouncementIntake
from bridge.delivery.faults import Outage
from bridge.delivery.records import InboundRecord
from bridge.errors import InvalidEventReason, StoreError, StoreValueError
from fuzz_profiles import examples

VALID = {
    "announcement_id": "9b1c2d3e-4f50-4a61-8b72-93a4b5c6d7e8",
    "province": "thanh-hoa",
    "title": "Lịch tiếp công dân",
    "body": "Ủy ban nhân dân tỉnh tiếp công dân vào thứ Năm hằng tuần.",
    "audience": {"kind": "all"},
    "published_at": "2026-03-10T09:00:00+07:00",
}


class Store:
    """Answers ``add`` with the scripted exceptions first (the last one for ever if asked)."""

    def __init__(self, *errors: BaseException, forever: bool = False) -> None:
        self.errors = list(errors)
        self.forever = forever
        self.added: list[str] = []
        self.tries = 0

    async def add(self, announcement, *, now: float) -> bool:  # noqa: ARG002 - the store's API
        self.tries += 1
        if self.errors:
            raise self.errors[0] if self.forever else self.errors.pop(0)
        self.added.append(str(announcement.announcement_id))
        return True


class Broker:
    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.published: list = []

    async def __call__(self, record) -> None:
        if self.failures:
            self.failures -= 1
            raise KafkaConnectionError("no broker")
        self.published.append(record)


class Holds:
    def __init__(self) -> None:
        self.changes: list[tuple[str, bool]] = []

    def __call__(self, reason: str, *, on: bool) -> None:
        self.changes.append((reason, on))


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def intake(store, broker, holds=None, sleeps=None, woken=None) -> AnnouncementIntake:
    return AnnouncementIntake(
        store=store,
        dead_letter=broker,
        dead_letter_topic="announcements.dlq",
        on_stored=(lambda: woken.append(True)) if woken is not None else (lambda: None),
        max_bytes=64 * 1024,
        clock=lambda: 1_800_000_000.0,
        max_tries=3,
        outage=Outage(holds or Holds()),
        initial_backoff=0.5,
        max_backoff=8,
        sleep=sleeps or Sleeps(),
    )


def record(value: bytes) -> InboundRecord:
    return InboundRecord(
        topic="announcements", partition=2, offset=9, key=b"a", value=value, headers=(("h", b"1"),)
    )


def dead_letter_reason(broker: Broker) -> tuple[str, str]:
    [copy] = broker.published
    headers = dict(copy.headers)
    return headers["x-dlq-reason"].decode(), headers["x-dlq-exception"].decode()


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b'{"title": ' + b"1" * 5000 + b"}", "number_out_of_range"),
        (b"[" * 1200 + b"]" * 1200, "too_deep"),
        (b"\xc3\x28", "not_utf8"),
        (b"x" * (64 * 1024 + 1), "oversize"),
        (json.dumps({**VALID, "body": "\ud800"}).encode(), "invalid_text"),
        (b'{"a": 1, "a": 1}', "duplicate_key"),
        (json.dumps({**VALID, "extra": 1}).encode(), "schema_violation"),
    ],
    ids=["5000-digits", "1200-deep", "not-utf8", "oversize", "surrogate", "dup-key", "schema"],
)
async def test_a_poison_record_is_dead_lettered_at_once_with_its_reason(value, reason):
    store, broker = Store(), Broker()
    await intake(store, broker).accept(record(value))
    assert dead_letter_reason(broker)[0] == reason
    [copy] = broker.published
    assert (copy.topic, copy.key, copy.value) == ("announcements.dlq", b"a", value)
    assert copy.headers[0] == ("h", b"1")
    assert store.tries == 0


async def test_a_valid_announcement_is_stored_and_wakes_the_fan_out():
    store, broker, woken = Store(), Broker(), []
    await intake(store, broker, woken=woken).accept(record(json.dumps(VALID).encode()))
    assert store.added == [VALID["announcement_id"]]
    assert woken == [True]
    assert broker.published == []


async def test_values_the_store_refuses_dead_letter_the_announcement_at_once():
    refused = StoreValueError("announcement store refused a value: DataError")
    store, broker, sleeps = Store(refused), Broker(), Sleeps()
    await intake(store, broker, sleeps=sleeps).accept(record(json.dumps(VALID).encode()))
    assert dead_letter_reason(broker)[0] == "processing_error"
    assert sleeps.waits == []


async def test_a_store_that_keeps_failing_unexpectedly_dead_letters_after_the_tries():
    store, broker, sleeps = Store(KeyError("bug"), forever=True), Broker(), Sleeps()
    await intake(store, broker, sleeps=sleeps).accept(record(json.dumps(VALID).encode()))
    assert dead_letter_reason(broker) == ("processing_failed", "KeyError")
    assert store.tries == 3
    assert len(sleeps.waits) == 2


async def test_an_outage_is_waited_out_past_the_tries_and_holds_the_consumer():
    down = [StoreError("announcement store: OperationalError") for _ in range(7)]
    store, broker, holds, sleeps = Store(*down), Broker(), Holds(), Sleeps()
    await intake(store, broker, holds, sleeps).accept(record(json.dumps(VALID).encode()))
    assert store.added == [VALID["announcement_id"]]
    assert broker.published == []
    assert holds.changes == [("store_unavailable", True), ("store_unavailable", False)]
    assert len(sleeps.waits) == 7
    assert max(sleeps.waits) == 8


async def test_a_dead_letter_topic_out_of_reach_is_waited_out_before_acknowledging():
    store, broker, holds, sleeps = Store(), Broker(failures=4), Holds(), Sleeps()
    await intake(store, broker, holds, sleeps).accept(record(b"{broken"))
    assert dead_letter_reason(broker)[0] == "invalid_json"
    assert holds.changes == [("broker_unavailable", True), ("broker_unavailable", False)]
    assert len(sleeps.waits) == 4


announcement_values = st.one_of(
    hostile.record_values,
    st.builds(
        lambda changes: json.dumps({**VALID, **changes}, allow_nan=True).encode(
            "utf-8", "surrogatepass"
        ),
        st.dictionaries(
            st.sampled_from(["title", "body", "link", "urgency", "province", "published_at"]),
            st.one_of(hostile.texts, hostile.numbers, st.none()),
            max_size=3,
        ),
    ),
)
"""Any record value, and announcements with hostile titles, bodies, links and numbers."""

faults = st.lists(
    st.sampled_from(["outage", "bug", "refused"]),
    max_size=4,
)


@pytest.mark.fuzz
@settings(max_examples=examples(150))
@given(value=announcement_values, scripted=faults, dlq_failures=st.integers(0, 3))
async def test_any_announcement_record_is_stored_or_dead_lettered_once_in_bounded_time(
    value, scripted, dlq_failures
):
    """Exactly one outcome per record: stored once, or one dead-letter copy; never both, never
    neither, whatever the store and the dead-letter topic do meanwhile; waits bounded."""
    made = {
        "outage": lambda: StoreError("announcement store: OperationalError"),
        "bug": lambda: KeyError("bug"),
        "refused": lambda: StoreValueError("announcement store refused a value: DataError"),
    }
    store = Store(*(made[kind]() for kind in scripted))
    broker, sleeps = Broker(failures=dlq_failures), Sleeps()
    await asyncio.wait_for(intake(store, broker, sleeps=sleeps).accept(record(value)), 30)
    outcomes = len(store.added) + len(broker.published)
    assert outcomes == 1
    if broker.published:
        [copy] = broker.published
        headers = dict(copy.headers)
        assert headers["x-dlq-reason"].decode() in {r.value for r in InvalidEventReason}
        assert headers["x-dlq-exception"]
        assert copy.value in (value, b"")
    # Outages and dead-letter failures are waited out; bugs at most max_tries (3) times.
    assert len(sleeps.waits) <= len(scripted) + dlq_failures
