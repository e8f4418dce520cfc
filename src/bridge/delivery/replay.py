"""Inspect the dead-letter topic and re-publish selected records to the input topic unchanged."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import re
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from bridge.delivery.dead_letter import DLQ_HEADER_PREFIX
from bridge.errors import BridgeError, ConfigurationError
from bridge.kafka.security import client_options, verify_login
from bridge.observability.masking import mask_text

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Sequence

    from bridge.kafka.settings import KafkaSettings

__all__ = [
    "NO_REASON",
    "ORIGINAL_HEADER_PREFIX",
    "REPLAYED_FROM_HEADER",
    "REPLAY_ID_HEADER",
    "DeadLetterListing",
    "DeadLetterRecord",
    "InvalidSelectionError",
    "ReplayCriteria",
    "ReplayError",
    "ReplaySummary",
    "Selection",
    "decide",
    "list_dead_letters",
    "parse_time",
    "replay_dead_letters",
    "replay_headers",
    "replayable_headers",
]

ORIGINAL_HEADER_PREFIX = "x-original-"
"""Headers the dead-letter sink adds to say where a record came from."""
REPLAYED_FROM_HEADER = "x-replayed-from"
"""``<dlq-topic>/<partition>/<offset>`` of the dead-letter record a replayed record copies."""
REPLAY_ID_HEADER = "x-replay-id"
"""The UUID of the replay run that re-published the record."""
NO_REASON = "(none)"
"""How a record without an ``x-dlq-reason`` header is counted."""

Header = tuple[str, bytes | None]

_BRIDGE_PREFIXES = (DLQ_HEADER_PREFIX, ORIGINAL_HEADER_PREFIX)
_REPLAY_HEADERS = frozenset({REPLAYED_FROM_HEADER, REPLAY_ID_HEADER})
_RELATIVE = re.compile(r"^(\d{1,6})\s*([smhdw])$", re.IGNORECASE)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
# offsets_for_times() looks at the Kafka timestamp of the dead-letter record, the filter at
# x-dlq-at; start this much earlier so a clock difference never hides a record in the range.
_SINCE_MARGIN = timedelta(minutes=15)
_FETCH_TIMEOUT_MS = 500
_MAX_RECORDS = 500
_MAX_DETAIL = 300


class InvalidSelectionError(BridgeError):
    """The replay options are malformed or contradict each other."""


class ReplayError(BridgeError):
    """Kafka failed while reading the dead-letter topic or re-publishing to the target.

    Args:
        message: What went wrong, without record contents.
        summary: What had been done when it failed (records acknowledged before the failure
            stay replayed), or None when nothing had started.
    """

    def __init__(self, message: str, *, summary: ReplaySummary | None = None) -> None:
        super().__init__(message)
        self.summary = summary


@dataclass(frozen=True)
class DeadLetterRecord:
    """One record of the dead-letter topic, with accessors for what bridge's DLQ sink added.

    Attributes:
        topic: The dead-letter topic.
        partition: Its partition.
        offset: Its offset.
        timestamp_ms: The Kafka timestamp, or None when the record has none.
        key: The key bytes: the dossier code.
        value: The value bytes, left out of ``repr`` because they may hold personal data.
        headers: Every header in order: the original ones, then those bridge added.
    """

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None
    key: bytes | None
    value: bytes | None = field(repr=False)
    headers: tuple[Header, ...] = field(repr=False)

    @classmethod
    def from_consumer_record(cls, record: Any) -> DeadLetterRecord:
        """Copy an ``aiokafka`` ``ConsumerRecord`` (bytes key and value, no deserialiser)."""
        timestamp = record.timestamp
        return cls(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            timestamp_ms=timestamp if isinstance(timestamp, int) and timestamp >= 0 else None,
            key=record.key,
            value=record.value,
            headers=tuple((str(k), v) for k, v in record.headers),
        )

    def header(self, name: str) -> str | None:
        """Return the last header called ``name``, decoded as UTF-8, or None."""
        for key, value in reversed(self.headers):
            if key == name:
                return None if value is None else value.decode("utf-8", errors="replace")
        return None

    @property
    def coordinates(self) -> str:
        """``<topic>/<partition>/<offset>`` of this dead-letter record."""
        return f"{self.topic}/{self.partition}/{self.offset}"

    @property
    def reason(self) -> str | None:
        """The ``x-dlq-reason`` header."""
        return self.header(f"{DLQ_HEADER_PREFIX}reason")

    @property
    def detail(self) -> str | None:
        """The ``x-dlq-detail`` header, masked again and shortened: safe to print."""
        detail = self.header(f"{DLQ_HEADER_PREFIX}detail")
        return None if detail is None else mask_text(detail)[:_MAX_DETAIL]

    @property
    def case_code(self) -> str | None:
        """The dossier code: the record key."""
        return None if self.key is None else self.key.decode("utf-8", errors="replace")

    @property
    def dead_lettered_at(self) -> datetime | None:
        """The ``x-dlq-at`` header, or the Kafka timestamp when it is missing or unreadable."""
        text = self.header(f"{DLQ_HEADER_PREFIX}at")
        if text is not None:
            with contextlib.suppress(ValueError):
                parsed = datetime.fromisoformat(text)
                if parsed.tzinfo is not None:
                    return parsed
        if self.timestamp_ms is None:
            return None
        return datetime.fromtimestamp(self.timestamp_ms / 1000, tz=UTC)

    @property
    def original(self) -> str | None:
        """``<topic>/<partition>/<offset>`` of the input record (``x-original-*`` headers)."""
        topic = self.header(f"{ORIGINAL_HEADER_PREFIX}topic")
        if topic is None:
            return None
        partition = self.header(f"{ORIGINAL_HEADER_PREFIX}partition") or "?"
        offset = self.header(f"{ORIGINAL_HEADER_PREFIX}offset") or "?"
        return f"{topic}/{partition}/{offset}"


class Selection(StrEnum):
    """What ``decide`` made of one record: selected, or the filter that skipped it."""

    SELECTED = "selected"
    REASON = "reason"
    TIME = "time"
    CASE = "case"
    LIMIT = "limit"


@dataclass(frozen=True)
class ReplayCriteria:
    """Which dead-letter records to select; every filter given must match (empty means any).

    Args:
        reasons: ``x-dlq-reason`` values, any of which matches.
        cases: Dossier codes (record keys), any of which matches.
        since: Dead-lettered at or after this time (timezone-aware).
        until: Dead-lettered before this time (timezone-aware).
        limit: Select at most this many records, the first ones in partition and offset order.

    Raises:
        InvalidSelectionError: When a time is naive, ``since`` is not before ``until`` or the
            limit is below 1.
    """

    reasons: frozenset[str] = frozenset()
    cases: frozenset[str] = frozenset()
    since: datetime | None = None
    until: datetime | None = None
    limit: int | None = None

    def __post_init__(self) -> None:
        """Refuse contradictory or ambiguous criteria."""
        for name, moment in (("since", self.since), ("until", self.until)):
            if moment is not None and moment.utcoffset() is None:
                raise InvalidSelectionError(f"{name} needs a UTC offset")
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise InvalidSelectionError("since must be before until")
        if self.limit is not None and self.limit < 1:
            raise InvalidSelectionError("limit must be at least 1")

    def exhausted(self, selected: int) -> bool:
        """Tell whether ``selected`` records already reach the limit."""
        return self.limit is not None and selected >= self.limit


def decide(record: DeadLetterRecord, criteria: ReplayCriteria, *, selected: int) -> Selection:
    """Decide whether one dead-letter record is selected (pure: no I/O, no clock).

    Args:
        record: The dead-letter record.
        criteria: The filters and the limit.
        selected: How many records were selected before this one.

    Returns:
        ``Selection.SELECTED``, or the first filter that skips the record (reason, time, case),
        or ``Selection.LIMIT`` when it matches but the limit is already reached.
    """
    if criteria.reasons and (record.reason or NO_REASON) not in criteria.reasons:
        return Selection.REASON
    if not _in_time_range(record, criteria):
        return Selection.TIME
    if criteria.cases and record.case_code not in criteria.cases:
        return Selection.CASE
    if criteria.exhausted(selected):
        return Selection.LIMIT
    return Selection.SELECTED


def _in_time_range(record: DeadLetterRecord, criteria: ReplayCriteria) -> bool:
    if criteria.since is None and criteria.until is None:
        return True
    moment = record.dead_lettered_at
    if moment is None:
        return False
    if criteria.since is not None and moment < criteria.since:
        return False
    return criteria.until is None or moment < criteria.until


def replayable_headers(headers: Iterable[Header]) -> list[Header]:
    """Return the headers of the original input record, in order.

    Drops the ``x-dlq-*`` and ``x-original-*`` headers the dead-letter sink added, and the
    ``x-replayed-from`` and ``x-replay-id`` of an earlier replay (the new run sets its own).
    Values are kept as they are, binary ones included.
    """
    return [
        (key, value)
        for key, value in headers
        if not key.startswith(_BRIDGE_PREFIXES) and key not in _REPLAY_HEADERS
    ]


def replay_headers(record: DeadLetterRecord, *, replay_id: str) -> list[Header]:
    """Return the headers a replayed copy of ``record`` carries.

    Args:
        record: The dead-letter record.
        replay_id: The UUID of this replay run.

    Returns:
        The original headers, then ``x-replayed-from: <dlq-topic>/<partition>/<offset>`` and
        ``x-replay-id``.
    """
    return [
        *replayable_headers(record.headers),
        (REPLAYED_FROM_HEADER, record.coordinates.encode()),
        (REPLAY_ID_HEADER, replay_id.encode()),
    ]


def parse_time(text: str, *, now: datetime) -> datetime:
    """Read an ISO 8601 time with a UTC offset, or a time relative to ``now`` such as ``2h``.

    Args:
        text: ``2026-03-10T09:00:00+07:00`` (``Z`` allowed), or a count and a unit among
            ``s``, ``m``, ``h``, ``d``, ``w`` meaning that long before ``now``.
        now: The current time, timezone-aware.

    Returns:
        A timezone-aware datetime.

    Raises:
        InvalidSelectionError: When the text is neither, or the time has no UTC offset.
    """
    value = text.strip()
    relative = _RELATIVE.match(value)
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2).lower()
        return now - timedelta(**{_UNITS[unit]: amount})
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidSelectionError(
            f"{text!r} is neither an ISO 8601 time nor a duration like 30m, 2h, 3d"
        ) from exc
    if parsed.utcoffset() is None:
        raise InvalidSelectionError(
            f"{text!r} has no UTC offset; write e.g. 2026-03-10T09:00:00+07:00"
        )
    return parsed


@dataclass
class ReplaySummary:
    """What one replay run did.

    Attributes:
        replay_id: The run's UUID, also in every replayed record's ``x-replay-id``.
        source_topic: The dead-letter topic read.
        target_topic: The topic written to.
        dry_run: True when nothing was published.
        scanned: Dead-letter records read.
        selected: Records that matched every filter (within the limit).
        replayed: Records the broker acknowledged on the target topic.
        skipped: Records skipped, by filter (``reason``, ``time``, ``case``).
        by_reason: Selected records by ``x-dlq-reason``.
        limit_reached: True when reading stopped because the limit was reached.
    """

    replay_id: str
    source_topic: str
    target_topic: str
    dry_run: bool
    scanned: int = 0
    selected: int = 0
    replayed: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    by_reason: Counter[str] = field(default_factory=Counter)
    limit_reached: bool = False


@dataclass
class DeadLetterListing:
    """What the dead-letter topic holds (the records matching the filters).

    Attributes:
        topic: The dead-letter topic.
        scanned: Records read.
        matched: Records that matched the filters.
        by_reason: Matching records by ``x-dlq-reason``.
        newest: The newest matching records, newest first (value never included).
    """

    topic: str
    scanned: int = 0
    matched: int = 0
    by_reason: Counter[str] = field(default_factory=Counter)
    newest: list[DeadLetterRecord] = field(default_factory=list)


@dataclass
class _Scan:
    consumer: Any
    ranges: dict[TopicPartition, tuple[int, int]]
    stall_timeout_s: float
    done: int = 0

    @property
    def total(self) -> int:
        return sum(end - start for start, end in self.ranges.values())

    async def batches(self) -> AsyncGenerator[list[DeadLetterRecord]]:
        """Yield the records in partition then offset order, up to the end offsets captured."""
        consumer = self.consumer
        for tp, (start, end) in sorted(self.ranges.items()):
            if start >= end:
                continue
            consumer.resume(tp)
            reached = start
            last_move = time.monotonic()
            while reached < end:
                fetched = await consumer.getmany(
                    tp, timeout_ms=_FETCH_TIMEOUT_MS, max_records=_MAX_RECORDS
                )
                batch = [
                    DeadLetterRecord.from_consumer_record(r)
                    for r in fetched.get(tp, ())
                    if r.offset < end
                ]
                position = min(await consumer.position(tp), end)
                if position > reached:
                    self.done += position - reached
                    reached = position
                    last_move = time.monotonic()
                elif time.monotonic() - last_move > self.stall_timeout_s:
                    raise ReplayError(
                        f"no progress reading {tp.topic}/{tp.partition} at offset {reached} "
                        f"(end {end}) for {self.stall_timeout_s:.0f} s"
                    )
                if batch:
                    yield batch
            consumer.pause(tp)


async def _partitions(kafka: KafkaSettings, topic: str, must_exist: Sequence[str]) -> list[int]:
    """Return the partitions of ``topic`` after checking that it and ``must_exist`` exist.

    Asks for the metadata of every topic: a request naming a missing topic would create it on a
    broker with ``auto.create.topics.enable``.
    """
    try:
        await verify_login(kafka)
        options = client_options(kafka)
    except ConfigurationError as exc:
        raise ReplayError(str(exc)) from exc
    admin = AIOKafkaAdminClient(
        bootstrap_servers=kafka.bootstrap_servers, client_id=f"{kafka.client_id}-dlq", **options
    )
    try:
        await admin.start()
        described = await admin.describe_topics()
    except KafkaError as exc:
        raise ReplayError(f"cannot connect to {kafka.bootstrap_servers}: {exc!r}") from exc
    finally:
        await admin.close()
    found = {t["topic"]: sorted(p["partition"] for p in t["partitions"]) for t in described}
    for name in (topic, *must_exist):
        if not found.get(name):
            raise ReplayError(f"topic {name} does not exist")
    return found[topic]


@contextlib.asynccontextmanager
async def _scan(
    kafka: KafkaSettings,
    topic: str,
    *,
    since: datetime | None,
    must_exist: Sequence[str] = (),
    stall_timeout_s: float,
) -> AsyncIterator[_Scan]:
    numbers = await _partitions(kafka, topic, must_exist)
    partitions = [TopicPartition(topic, p) for p in numbers]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka.bootstrap_servers,
        client_id=f"{kafka.client_id}-dlq",
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        # Never replay a dead-letter write whose transaction was aborted.
        isolation_level="read_committed",
        **client_options(kafka),
    )
    try:
        await consumer.start()
    except KafkaError as exc:
        await consumer.stop()
        raise ReplayError(f"cannot connect to {kafka.bootstrap_servers}: {exc!r}") from exc
    try:
        consumer.assign(partitions)
        consumer.pause(*partitions)
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.beginning_offsets(partitions)
        if since is not None:
            moment = int((since - _SINCE_MARGIN).timestamp() * 1000)
            found = await consumer.offsets_for_times(dict.fromkeys(partitions, max(moment, 0)))
            starts = {
                tp: ends[tp] if found.get(tp) is None else max(found[tp].offset, starts[tp])
                for tp in partitions
            }
        for tp in partitions:
            consumer.seek(tp, starts[tp])
        yield _Scan(consumer, {tp: (starts[tp], ends[tp]) for tp in partitions}, stall_timeout_s)
    except KafkaError as exc:
        raise ReplayError(f"cannot read {topic}: {exc!r}") from exc
    finally:
        await consumer.stop()


async def list_dead_letters(
    kafka: KafkaSettings,
    criteria: ReplayCriteria | None = None,
    *,
    newest: int = 20,
    topic: str | None = None,
    stall_timeout_s: float = 30.0,
) -> DeadLetterListing:
    """Count the dead-letter records by reason and keep the newest ones (values are not kept).

    Args:
        kafka: Where the broker is; ``dead_letter_topic`` is read unless ``topic`` is given.
        criteria: Filters (the limit is ignored); None lists everything.
        newest: How many of the newest matching records to return.
        topic: The dead-letter topic to read instead of the configured one.
        stall_timeout_s: Give up when a partition makes no progress for this long.

    Returns:
        The counts and the newest records, newest first.

    Raises:
        ReplayError: When the broker cannot be reached or the topic does not exist.
    """
    criteria = ReplayCriteria() if criteria is None else criteria
    unlimited = replace(criteria, limit=None)
    listing = DeadLetterListing(topic=topic or kafka.dead_letter_topic)
    heap: list[tuple[float, int, int, DeadLetterRecord]] = []
    async with (
        _scan(kafka, listing.topic, since=criteria.since, stall_timeout_s=stall_timeout_s) as scan,
        contextlib.aclosing(scan.batches()) as batches,
    ):
        async for batch in batches:
            for record in batch:
                listing.scanned += 1
                if decide(record, unlimited, selected=0) is not Selection.SELECTED:
                    continue
                listing.matched += 1
                listing.by_reason[record.reason or NO_REASON] += 1
                if newest > 0:
                    _keep_newest(heap, record, newest)
    listing.newest = [entry[3] for entry in sorted(heap, reverse=True)]
    return listing


async def replay_dead_letters(  # noqa: PLR0913 - the options are keyword-only
    kafka: KafkaSettings,
    criteria: ReplayCriteria,
    *,
    target_topic: str | None = None,
    dry_run: bool = False,
    replay_id: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    stall_timeout_s: float = 30.0,
) -> ReplaySummary:
    """Re-publish the selected dead-letter records to the target topic, unchanged.

    Each copy has the same value bytes and key as the dead-letter record, its original headers
    and ``x-replayed-from``/``x-replay-id``; it is partitioned by key like the original. The
    producer is idempotent with ``acks="all"``, and a record counts as replayed only once the
    broker has acknowledged it. Reading stops at the end offsets found when the run starts, so
    records dead-lettered again during the run are not read twice.

    Args:
        kafka: Where the broker is; reads ``dead_letter_topic``.
        criteria: Which records to replay.
        target_topic: Where to publish; default ``kafka.input_topic``.
        dry_run: Select and count only; no producer is even started.
        replay_id: The run's id; default a new UUID4.
        progress: Called with (offsets read, offsets to read) as reading advances.
        stall_timeout_s: Give up when a partition makes no progress for this long.

    Returns:
        What was selected, replayed and skipped.

    Raises:
        InvalidSelectionError: When the target is the dead-letter topic itself.
        ReplayError: When Kafka fails; its ``summary`` tells what was replayed before.
    """
    target = target_topic or kafka.input_topic
    if target == kafka.dead_letter_topic:
        raise InvalidSelectionError("the target topic cannot be the dead-letter topic")
    summary = ReplaySummary(
        replay_id=replay_id or str(uuid.uuid4()),
        source_topic=kafka.dead_letter_topic,
        target_topic=target,
        dry_run=dry_run,
    )
    try:
        async with (
            _scan(
                kafka,
                summary.source_topic,
                since=criteria.since,
                must_exist=(target,),
                stall_timeout_s=stall_timeout_s,
            ) as scan,
            _producer(kafka, dry_run=dry_run) as producer,
            contextlib.aclosing(scan.batches()) as batches,
        ):
            if progress is not None:
                progress(0, scan.total)
            async for batch in batches:
                chosen = _select(batch, criteria, summary)
                if producer is not None and chosen:
                    await _publish(producer, chosen, summary)
                if progress is not None:
                    progress(scan.done, scan.total)
                if summary.limit_reached:
                    break
            if progress is not None and not summary.limit_reached:
                progress(scan.total, scan.total)
    except ReplayError as exc:
        exc.summary = summary
        raise
    return summary


def _keep_newest(
    heap: list[tuple[float, int, int, DeadLetterRecord]], record: DeadLetterRecord, size: int
) -> None:
    at = record.dead_lettered_at
    # The value is dropped: a listing never holds personal data it does not need.
    entry = (
        at.timestamp() if at else float("-inf"),
        record.partition,
        record.offset,
        replace(record, value=None),
    )
    if len(heap) < size:
        heapq.heappush(heap, entry)
    else:
        heapq.heappushpop(heap, entry)


def _select(
    batch: list[DeadLetterRecord], criteria: ReplayCriteria, summary: ReplaySummary
) -> list[DeadLetterRecord]:
    chosen: list[DeadLetterRecord] = []
    for record in batch:
        outcome = decide(record, criteria, selected=summary.selected)
        if outcome is Selection.LIMIT:
            summary.limit_reached = True
            break
        summary.scanned += 1
        if outcome is Selection.SELECTED:
            summary.selected += 1
            summary.by_reason[record.reason or NO_REASON] += 1
            chosen.append(record)
            if criteria.exhausted(summary.selected):
                summary.limit_reached = True
                break
        else:
            summary.skipped[outcome.value] += 1
    return chosen


@contextlib.asynccontextmanager
async def _producer(kafka: KafkaSettings, *, dry_run: bool) -> AsyncIterator[Any]:
    if dry_run:
        yield None
        return
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka.bootstrap_servers,
        client_id=f"{kafka.client_id}-dlq-replay",
        acks="all",
        enable_idempotence=True,
        **client_options(kafka),
    )
    try:
        await producer.start()
    except KafkaError as exc:
        await producer.stop()
        raise ReplayError(f"cannot connect to {kafka.bootstrap_servers}: {exc!r}") from exc
    try:
        yield producer
    finally:
        await producer.stop()


async def _publish(producer: Any, records: list[DeadLetterRecord], summary: ReplaySummary) -> None:
    """Send ``records`` in order and wait until the broker has acknowledged each of them."""
    pending: list[asyncio.Future[Any]] = []
    failure: BaseException | None = None
    try:
        for record in records:
            sent = await producer.send(
                summary.target_topic,
                value=record.value,
                key=record.key,
                headers=replay_headers(record, replay_id=summary.replay_id),
            )
            pending.append(sent)
    except KafkaError as exc:
        failure = exc
    outcomes = await asyncio.gather(*pending, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            failure = failure or outcome
        else:
            summary.replayed += 1
    if failure is not None:
        raise ReplayError(
            f"cannot publish to {summary.target_topic}: {failure!r}", summary=summary
        ) from failure
