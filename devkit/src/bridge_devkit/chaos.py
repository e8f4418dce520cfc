"""The chaos suite: proves the bridge's delivery guarantees under faults, kills and restarts."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import logging
import os
import random
import shutil
import signal
import sys
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from bridge.errors import InvalidEventError
from bridge.events import parse_event
from bridge.status import DeliveryStatusEvent
from bridge.templates import render_message
from bridge.wording import MessageContext, ProvinceSettings
from bridge_devkit.clock_settings import always_day_env
from bridge_devkit.harness import (
    BridgeProcess,
    Processes,
    clean_env,
    committed_offsets,
    create_topics,
    read_committed,
    run_blocking,
    start_emulator_process,
    supported_settings,
    write_followers,
)
from bridge_devkit.harness import keep_supported as _keep_supported
from bridge_devkit.kafka import LocalKafka

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence

__all__ = [
    "CHECKS",
    "AcceptedMessage",
    "ChaosConfig",
    "ChaosReport",
    "CheckResult",
    "DeadLetter",
    "Observations",
    "PlannedRecord",
    "PublishedRecord",
    "RecordKind",
    "Workload",
    "WorkloadSpec",
    "accepted_messages",
    "expected_statuses",
    "generate_workload",
    "main",
    "message_context",
    "run_chaos",
    "run_chaos_async",
    "verify",
    "write_report",
]

ACCESS_TOKEN: Final = "chaos-access-token"  # noqa: S105 - the emulator's local token
EMULATOR_LATENCY_MS: Final = 20.0
MAX_EVENT_BYTES: Final = 64 * 1024
_VN = timezone(timedelta(hours=7), "ICT")
_BASE_TIME = datetime(2026, 11, 30, 8, 0, tzinfo=_VN)
_CASE_AGENCY = "000.20.31.H56"
_CASE_DAY = date(2026, 11, 30)
_SERIALS = 99_999  # the national code's serial has at most five digits (per agency and day)
_MAX_CASES = 20 * _SERIALS  # more dossiers than that are filed on earlier days
_FOLLOWER_BASE = 7_100_000_000_000_000
_STRANGER_BASE = 7_900_000_000_000_000
_AGENCY: Final = {
    "code": "000.20.31.H56",
    "name": "Trung tâm Phục vụ hành chính công phường Hạc Thành",
}
_PROCEDURES: Final = (
    ("1.000894", "Đăng ký kết hôn", "Bộ phận Tư pháp - Hộ tịch"),
    ("1.001612", "Đăng ký thành lập hộ kinh doanh", "Phòng Kinh tế"),
    ("1.009972", "Cấp giấy phép xây dựng nhà ở riêng lẻ", "Phòng Quản lý đô thị"),
    ("1.004227", "Đăng ký đất đai, cấp Giấy chứng nhận lần đầu", "Văn phòng đăng ký đất đai"),
    ("2.000908", "Chứng thực bản sao từ bản chính", "Bộ phận Tư pháp - Hộ tịch"),
)
_INVALID_FORMS: Final = (
    "invalid_json",
    "unknown_state",
    "not_utf8",
    # Hostile ones: each once stalled a partition for ever (issue 11).
    "huge_integer",
    "deep_nesting",
    "sequence_past_int64",
)
_MARK: Final = 7_654_321

# ---------------------------------------------------------------------------- the checks

CHECK_RUN = "run completed"
CHECK_DELIVERED = "every deliverable event delivered"
CHECK_ONCE = "no message delivered twice"
CHECK_ORDER = "per-case order kept"
CHECK_STALE = "no stale event delivered"
CHECK_STRAY = "every message maps to a deliverable event"
CHECK_DLQ = "DLQ holds exactly the invalid records"
CHECK_STATUS_ONE = "exactly one status event per record"
CHECK_STATUS_VALUE = "status events match the outcome"
CHECK_COMMITTED = "offsets committed to the end"
CHECK_KILLS = "bridge killed (SIGKILL) as planned"
CHECK_BROKER = "broker restarted as planned"

CHECKS: Final = (
    CHECK_RUN,
    CHECK_DELIVERED,
    CHECK_ONCE,
    CHECK_ORDER,
    CHECK_STALE,
    CHECK_STRAY,
    CHECK_DLQ,
    CHECK_STATUS_ONE,
    CHECK_STATUS_VALUE,
    CHECK_COMMITTED,
    CHECK_KILLS,
    CHECK_BROKER,
)
"""Every check a report holds, in the order the table shows them."""


class RecordKind(StrEnum):
    """What one input record is, and so what must become of it."""

    DELIVERABLE = "deliverable"  # delivered exactly once, in order
    NOT_FOLLOWER = "not_follower"  # `failed` (-213), never dead-lettered
    DUPLICATE = "duplicate"  # same bytes as an earlier record: never delivered again
    STALE = "stale"  # lower sequence than a newer event already published: `suppressed`
    INVALID = "invalid"  # dead-lettered, and nowhere else


_TEXT_KINDS: Final = frozenset({RecordKind.DELIVERABLE, RecordKind.NOT_FOLLOWER, RecordKind.STALE})
_BASE_STATUS: Final[Mapping[RecordKind, frozenset[str]]] = {
    RecordKind.DELIVERABLE: frozenset({"delivered"}),
    RecordKind.NOT_FOLLOWER: frozenset({"failed"}),
    RecordKind.STALE: frozenset({"suppressed"}),
    RecordKind.INVALID: frozenset({"dead_lettered"}),
}


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One verdict of a run.

    Attributes:
        name: One of `CHECKS`.
        ok: Whether the guarantee held.
        detail: Counts and a few examples, for a person to act on.
        violations: How many times it was broken (0 when ok).
    """

    name: str
    ok: bool
    detail: str
    violations: int = 0


# ---------------------------------------------------------------------------- the workload


@dataclass(frozen=True, slots=True)
class WorkloadSpec:
    """How many records of each kind to generate.

    Attributes:
        events: Input records in all, every kind included.
        cases: Dossiers; each gets a RECEIVED, TRANSFERRED events and a RESULT_READY (one event
            per dossier: its RECEIVED only, allowed when there are no stale events).
        seed: Seed of the generator: the same spec gives the same records.
        invalid_ratio: Share of invalid records (bad JSON, unknown state, not UTF-8).
        non_follower_ratio: Share of events addressed to users who do not follow the OA.
        duplicate_ratio: Share of exact re-publications of an earlier record.
        stale_ratio: Share of events older (lower sequence) than one already published.
    """

    events: int
    cases: int
    seed: int = 20261130
    invalid_ratio: float = 0.02
    non_follower_ratio: float = 0.02
    duplicate_ratio: float = 0.01
    stale_ratio: float = 0.01


@dataclass(frozen=True, slots=True)
class PlannedRecord:
    """One input record to publish, and what it is.

    Attributes:
        index: Position in the publishing order, from 0.
        kind: What must become of it.
        key: The record key (the dossier code).
        value: The exact bytes published.
        case_code: The dossier, when the record names one.
        event_id: The event id, for a decodable event.
        user_id: The recipient's Zalo user id, for a decodable event.
        sequence: The per-case sequence, for a decodable event.
        text: The message the bridge words for it (`bridge.wording.render_message`).
        original: For a duplicate, the index of the record it repeats.
        form: For an invalid record, how it is broken.
    """

    index: int
    kind: RecordKind
    key: bytes
    value: bytes
    case_code: str | None
    event_id: str | None = None
    user_id: str | None = None
    sequence: int | None = None
    text: str | None = None
    original: int | None = None
    form: str | None = None


@dataclass(frozen=True, slots=True)
class Workload:
    """The records of one run, in publishing order, and the users the emulator knows.

    Attributes:
        records: Every input record, in publishing order.
        followers: User ids that follow the OA.
        strangers: User ids that do not (their events end `failed`).
        cases: Dossier codes.
    """

    records: tuple[PlannedRecord, ...]
    followers: tuple[str, ...]
    strangers: tuple[str, ...]
    cases: tuple[str, ...]

    def count(self, kind: RecordKind) -> int:
        """Return how many records are of `kind`."""
        return sum(record.kind is kind for record in self.records)


def message_context() -> MessageContext:
    """The wording settings of the bridge's default province (the harness sets no others)."""
    province = ProvinceSettings()
    return MessageContext(
        lookup_url_template=province.lookup_url_template,
        timezone=ZoneInfo(province.timezone),
        signature=province.signature,
    )


@dataclass(slots=True)
class _Item:
    kind: RecordKind
    document: dict[str, Any] | None
    value: bytes
    case: int
    original: _Item | None = None
    form: str | None = None


def generate_workload(spec: WorkloadSpec, context: MessageContext | None = None) -> Workload:
    """Generate the input records of a run, each deliverable text unique by construction.

    Every case gets a RECEIVED event, `TRANSFERRED` events whose `transfer.to_unit` is
    "Phòng xử lý số {n}" (n unique within the case) and a RESULT_READY, with sequences 2, 4, 6…
    A stale event is a TRANSFERRED with its own n and an odd sequence just below a newer event
    of its case, published after that event. The message of every decodable event is computed
    with `bridge.wording.render_message` and checked to be unique per (user id, text), so that
    each message the emulator records maps back to exactly one event.

    Args:
        spec: How many records of each kind.
        context: The wording settings the bridge runs with; default `message_context()`.

    Returns:
        The records in publishing order; the events of one case keep their order.

    Raises:
        ValueError: If the spec leaves fewer than two events per case, or names too many cases.
    """
    rng = random.Random(spec.seed)  # noqa: S311 - reproducible test data, not crypto
    n_invalid = round(spec.events * spec.invalid_ratio)
    n_duplicate = round(spec.events * spec.duplicate_ratio)
    n_stale = round(spec.events * spec.stale_ratio)
    n_normal = spec.events - n_invalid - n_duplicate - n_stale
    if not 1 <= spec.cases <= _MAX_CASES:
        raise ValueError(f"cases must be between 1 and {_MAX_CASES}")
    if n_stale and n_normal < 2 * spec.cases:  # a stale event needs a newer one in its case
        raise ValueError(f"{spec.events} events leave fewer than 2 per case for {spec.cases}")
    if n_normal < spec.cases:
        raise ValueError(f"{spec.events} events leave fewer than 1 per case for {spec.cases}")
    per_case = [n_normal // spec.cases] * spec.cases
    for case in rng.sample(range(spec.cases), n_normal % spec.cases):
        per_case[case] += 1
    codes = [case_code(case) for case in range(spec.cases)]

    strangers_cases = _pick_stranger_cases(
        rng, per_case, round(spec.events * spec.non_follower_ratio)
    )
    follower_cases = [case for case in range(spec.cases) if case not in strangers_cases]
    if not follower_cases:
        raise ValueError("the non-follower share leaves no case for followers")
    citizens = max(1, len(follower_cases) * 4 // 5)  # some citizens have two dossiers
    followers = tuple(str(_FOLLOWER_BASE + n) for n in range(citizens))
    user_of: dict[int, str] = {}
    for n, case in enumerate(follower_cases):
        user_of[case] = followers[n % citizens]
    strangers: list[str] = []
    for n, case in enumerate(sorted(strangers_cases)):
        strangers.append(str(_STRANGER_BASE + n))
        user_of[case] = strangers[-1]

    streams = [
        _case_stream(
            rng,
            case,
            codes[case],
            user_of[case],
            count=per_case[case],
            stranger=case in strangers_cases,
        )
        for case in range(spec.cases)
    ]
    _add_stale_events(rng, streams, follower_cases, n_stale)
    _add_duplicates(rng, streams, n_duplicate)
    ordered = _interleave(rng, streams)
    for n in range(n_invalid):
        ordered.insert(
            rng.randrange(len(ordered) + 1), _invalid_item(rng, n, rng.randrange(spec.cases))
        )

    records = _plan_records(ordered, codes, context or message_context())
    return Workload(
        records=tuple(records),
        followers=followers,
        strangers=tuple(strangers),
        cases=tuple(codes),
    )


def case_code(case: int) -> str:
    """The national code of the workload's dossier number ``case`` (from 0).

    The first 99,999 are filed on 30 November 2026 (serials 00001…99999); each further 99,999
    one day earlier, so that a workload may hold more dossiers than one day's serials.
    """
    day, serial = divmod(case, _SERIALS)
    filed = _CASE_DAY - timedelta(days=day)
    return f"{_CASE_AGENCY}-{filed:%y%m%d}-{serial + 1:05d}"


def _pick_stranger_cases(rng: random.Random, per_case: list[int], target: int) -> set[int]:
    chosen: set[int] = set()
    total = 0
    for case in rng.sample(range(len(per_case)), len(per_case)):
        if total >= target:
            break
        chosen.add(case)
        total += per_case[case]
    return chosen


def _event(  # noqa: PLR0913 - the fields that make an event of the chaos run
    rng: random.Random,
    case: int,
    code: str,
    user_id: str,
    *,
    sequence: int,
    state: str,
    previous: str | None,
    to_unit: str | None = None,
) -> dict[str, Any]:
    procedure_code, procedure_name, department = _PROCEDURES[case % len(_PROCEDURES)]
    occurred = _BASE_TIME + timedelta(minutes=sequence)
    document: dict[str, Any] = {
        "schema_version": 1,
        "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "event_type": "TRANSFERRED" if to_unit else "STATE_CHANGED",
        "occurred_at": occurred.isoformat(),
        "province": "thanh-hoa",
        "source_system": "chaos",
        "sequence": sequence,
        "case": {
            "code": code,
            "procedure_code": procedure_code,
            "procedure_name": procedure_name,
            "receiving_agency": _AGENCY,
            "handling_department": department,
            "channel": "ONLINE",
            "received_at": _BASE_TIME.isoformat(),
            "due_at": (_BASE_TIME + timedelta(days=10, hours=9)).isoformat(),
        },
        "state": state,
        "previous_state": previous,
        "recipient": {"zalo_user_id": user_id, "notify_consent": True},
    }
    if to_unit is not None:
        document["transfer"] = {"from_unit": department, "to_unit": to_unit}
    if state == "RESULT_READY":
        document["result"] = {"pickup_location": f"Quầy số {case % 9 + 1}, {_AGENCY['name']}"}
    return document


def _encode(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode()


@dataclass(slots=True)
class _CaseStream:
    case: int
    code: str
    user_id: str
    normal: list[_Item]
    after: list[list[_Item]]  # extras published after normal event j (index j)
    units: Iterator[int]


def _case_stream(  # noqa: PLR0913 - one case's identity and size
    rng: random.Random,
    case: int,
    code: str,
    user_id: str,
    *,
    count: int,
    stranger: bool,
) -> _CaseStream:
    kind = RecordKind.NOT_FOLLOWER if stranger else RecordKind.DELIVERABLE
    units = itertools.count(1)
    normal: list[_Item] = []
    for position in range(count):
        sequence = 2 * (position + 1)
        if position == 0:
            document = _event(
                rng, case, code, user_id, sequence=sequence, state="RECEIVED", previous="SUBMITTED"
            )
        elif position == count - 1:
            document = _event(
                rng,
                case,
                code,
                user_id,
                sequence=sequence,
                state="RESULT_READY",
                previous="IN_PROGRESS",
            )
        else:
            previous = "RECEIVED" if position == 1 else "IN_PROGRESS"
            unit = f"Phòng xử lý số {next(units)}"
            document = _event(
                rng,
                case,
                code,
                user_id,
                sequence=sequence,
                state="IN_PROGRESS",
                previous=previous,
                to_unit=unit,
            )
        normal.append(_Item(kind, document, _encode(document), case))
    return _CaseStream(case, code, user_id, normal, [[] for _ in range(count)], units)


def _add_stale_events(
    rng: random.Random, streams: list[_CaseStream], follower_cases: list[int], wanted: int
) -> None:
    # A stale event takes the odd sequence just below normal event k (k >= 1, 0-based), so it
    # is lower than event k, and is published after event j >= k of its case.
    slots = [(case, k) for case in follower_cases for k in range(1, len(streams[case].normal))]
    for case, k in rng.sample(slots, min(wanted, len(slots))):
        stream = streams[case]
        unit = f"Phòng xử lý số {next(stream.units)}"
        sequence = 2 * (k + 1) - 1
        document = _event(
            rng,
            case,
            stream.code,
            stream.user_id,
            sequence=sequence,
            state="IN_PROGRESS",
            previous="IN_PROGRESS",
            to_unit=unit,
        )
        j = rng.randrange(k, len(stream.normal))
        stream.after[j].append(_Item(RecordKind.STALE, document, _encode(document), case))


def _add_duplicates(rng: random.Random, streams: list[_CaseStream], wanted: int) -> None:
    originals = [(stream, position) for stream in streams for position in range(len(stream.normal))]
    for stream, position in rng.sample(originals, min(wanted, len(originals))):
        original = stream.normal[position]
        j = rng.randrange(position, len(stream.normal))
        duplicate = _Item(
            RecordKind.DUPLICATE, original.document, original.value, stream.case, original=original
        )
        stream.after[j].append(duplicate)


def _interleave(rng: random.Random, streams: list[_CaseStream]) -> list[_Item]:
    queues: list[list[_Item]] = []
    for stream in streams:
        queue: list[_Item] = []
        for position, item in enumerate(stream.normal):
            queue.append(item)
            extras = stream.after[position]
            rng.shuffle(extras)
            queue.extend(extras)
        queue.reverse()  # pop() from the end takes them in order
        queues.append(queue)
    slots = [case for case, queue in enumerate(queues) for _ in queue]
    rng.shuffle(slots)
    return [queues[case].pop() for case in slots]


def _invalid_item(rng: random.Random, n: int, case: int) -> _Item:
    form = _INVALID_FORMS[n % len(_INVALID_FORMS)]
    code = case_code(case)
    document = _event(
        rng, case, code, str(_FOLLOWER_BASE), sequence=1, state="RECEIVED", previous="SUBMITTED"
    )
    if form == "invalid_json":
        raw = _encode(document)
        value = raw[: len(raw) // 2]
    elif form == "unknown_state":
        value = _encode({**document, "state": "DA_LUU_TRU", "previous_state": "RECEIVED"})
    elif form == "huge_integer":  # 5,000 digits: Python's int() refuses it
        value = _encode({**document, "sequence": _MARK}).replace(b"%d" % _MARK, b"9" * 5_000)
    elif form == "deep_nesting":  # 1,200 levels: a recursive parser overflows
        nested = b"[" * 1_200 + b"]" * 1_200
        value = _encode({**document, "note": _MARK}).replace(b"%d" % _MARK, nested)
    elif form == "sequence_past_int64":
        value = _encode({**document, "sequence": 2**63})
    else:
        value = b"\xff\xfe chaos " + n.to_bytes(4, "big") + b"\xc3\x28"
    return _Item(RecordKind.INVALID, None, value, case, form=form)


def _plan_records(
    ordered: list[_Item], codes: list[str], context: MessageContext
) -> list[PlannedRecord]:
    records: list[PlannedRecord] = []
    index_of: dict[int, int] = {}
    texts: dict[tuple[str, str], int] = {}
    for index, item in enumerate(ordered):
        code = codes[item.case]
        if item.kind is RecordKind.INVALID:
            try:
                parse_event(item.value, max_bytes=MAX_EVENT_BYTES)
            except InvalidEventError:
                pass
            else:  # pragma: no cover - a generator bug
                raise AssertionError(f"invalid record {index} ({item.form}) parses")
            records.append(
                PlannedRecord(index, item.kind, code.encode(), item.value, code, form=item.form)
            )
            continue
        document = item.document
        assert document is not None  # noqa: S101 - every valid item has its document
        index_of[id(item)] = index
        original = None
        if item.original is not None:
            original = index_of[id(item.original)]
            text = records[original].text
        else:
            message = render_message(parse_event(item.value, max_bytes=MAX_EVENT_BYTES), context)
            if message is None:  # pragma: no cover - a generator bug
                raise AssertionError(f"record {index} is not citizen news")
            text = message.text
        user_id = str(document["recipient"]["zalo_user_id"])
        if original is None:
            assert text is not None  # noqa: S101 - set just above
            if texts.setdefault((user_id, text), index) != index:  # pragma: no cover
                raise AssertionError(f"records {texts[(user_id, text)]} and {index} share a text")
        records.append(
            PlannedRecord(
                index=index,
                kind=item.kind,
                key=code.encode(),
                value=item.value,
                case_code=code,
                event_id=str(document["event_id"]),
                user_id=user_id,
                sequence=int(document["sequence"]),
                text=text,
                original=original,
            )
        )
    return records


def expected_statuses(record: PlannedRecord, records: Sequence[PlannedRecord]) -> frozenset[str]:
    """Return the statuses acceptable for `record`.

    A duplicate may be settled like its original, or `suppressed` (it is already settled).
    """
    if record.kind is RecordKind.DUPLICATE:
        assert record.original is not None  # noqa: S101 - every duplicate names its original
        return expected_statuses(records[record.original], records) | {"suppressed"}
    return _BASE_STATUS[record.kind]


# ---------------------------------------------------------------------------- verification


@dataclass(frozen=True, slots=True)
class PublishedRecord:
    """A planned record and where the broker put it."""

    planned: PlannedRecord
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class AcceptedMessage:
    """A message the emulator accepted (sent to the citizen), in arrival order (`seq`).

    Attributes:
        seq: The emulator's arrival number.
        user_id: The recipient.
        text: The text as received.
        message_id: The id the emulator gave it.
        received_at: When it arrived (ISO), for the report.
        fault: The injected fault that applied to the call (e.g. `delay`), if any.
    """

    seq: int
    user_id: str
    text: str
    message_id: str | None = None
    received_at: str | None = None
    fault: str | None = None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A DLQ record: its value and the input coordinates its `x-original-*` headers name."""

    value: bytes
    original: tuple[str, int, int] | None


@dataclass(frozen=True, slots=True)
class Observations:
    """Everything the checks look at, gathered after the run.

    Attributes:
        topic: The input topic.
        published: Every input record with its partition and offset.
        accepted: The emulator's accepted messages, in arrival order.
        dead_letters: The DLQ records (read committed).
        statuses: The status topic's record values (read committed).
        committed: The consumer group's committed offset per input partition.
        end_offsets: The end offset per input partition.
    """

    topic: str
    published: tuple[PublishedRecord, ...]
    accepted: tuple[AcceptedMessage, ...]
    dead_letters: tuple[DeadLetter, ...]
    statuses: tuple[bytes, ...]
    committed: Mapping[int, int]
    end_offsets: Mapping[int, int]


def _examples(items: Sequence[str], limit: int = 3) -> str:
    if not items:
        return ""
    more = f", +{len(items) - limit} more" if len(items) > limit else ""
    return " (e.g. " + "; ".join(items[:limit]) + more + ")"


def _describe(record: PlannedRecord) -> str:
    return f"#{record.index} {record.case_code} seq {record.sequence}"


def verify(observations: Observations) -> list[CheckResult]:
    """Check the guarantees against what the emulator recorded and what the topics hold.

    Args:
        observations: The run's records and results.

    Returns:
        One result per delivery, DLQ, status and commit check (see `CHECKS`), in that order.
    """
    planned = [published.planned for published in observations.published]
    by_text: dict[tuple[str, str], PlannedRecord] = {
        (r.user_id, r.text): r
        for r in planned
        if r.kind in _TEXT_KINDS and r.user_id is not None and r.text is not None
    }
    arrivals: dict[tuple[str, str], list[AcceptedMessage]] = defaultdict(list)
    for message in observations.accepted:
        arrivals[(message.user_id, message.text)].append(message)
    return [
        _check_delivered(planned, arrivals),
        _check_once(arrivals, by_text),
        _check_order(observations.accepted, by_text),
        _check_stale(planned, arrivals),
        _check_stray(arrivals, by_text),
        _check_dlq(observations),
        *_check_statuses(observations, arrivals),
        _check_committed(observations),
    ]


def _check_delivered(
    planned: Sequence[PlannedRecord], arrivals: Mapping[tuple[str, str], list[AcceptedMessage]]
) -> CheckResult:
    deliverable = [r for r in planned if r.kind is RecordKind.DELIVERABLE]
    lost = [r for r in deliverable if not arrivals.get((r.user_id or "", r.text or ""))]
    detail = f"{len(deliverable) - len(lost)} of {len(deliverable)} delivered"
    if lost:
        detail += f", {len(lost)} lost" + _examples([_describe(r) for r in lost])
    return CheckResult(CHECK_DELIVERED, not lost, detail, len(lost))


def _check_once(
    arrivals: Mapping[tuple[str, str], list[AcceptedMessage]],
    by_text: Mapping[tuple[str, str], PlannedRecord],
) -> CheckResult:
    repeated = {key: len(messages) for key, messages in arrivals.items() if len(messages) > 1}
    extra = sum(count - 1 for count in repeated.values())
    examples = []
    for key, count in repeated.items():
        record = by_text.get(key)
        when = ", ".join(
            f"#{m.seq} {(m.received_at or '')[11:23]}{' ' + m.fault if m.fault else ''}".strip()
            for m in arrivals[key]
        )
        examples.append(f"{_describe(record) if record else 'unknown text'} ×{count} [{when}]")
    detail = "no duplicates"
    if extra:
        detail = f"{extra} extra copies of {len(repeated)} messages" + _examples(examples)
    return CheckResult(CHECK_ONCE, not extra, detail, extra)


def _check_order(
    accepted: Sequence[AcceptedMessage], by_text: Mapping[tuple[str, str], PlannedRecord]
) -> CheckResult:
    # The first arrival of each deliverable event, per case, must follow the case's sequence.
    last: dict[str, PlannedRecord] = {}
    seen: set[int] = set()
    inversions: list[str] = []
    cases: set[str] = set()
    for message in accepted:
        record = by_text.get((message.user_id, message.text))
        if record is None or record.kind is not RecordKind.DELIVERABLE or record.index in seen:
            continue
        seen.add(record.index)
        code = record.case_code or ""
        before = last.get(code)
        if before is not None and (record.sequence or 0) < (before.sequence or 0):
            inversions.append(f"{code}: seq {record.sequence} after seq {before.sequence}")
            cases.add(code)
            continue
        last[code] = record
    detail = f"{len(last)} cases in order"
    if inversions:
        detail = f"{len(inversions)} inversions in {len(cases)} cases" + _examples(inversions)
    return CheckResult(CHECK_ORDER, not inversions, detail, len(inversions))


def _check_stale(
    planned: Sequence[PlannedRecord], arrivals: Mapping[tuple[str, str], list[AcceptedMessage]]
) -> CheckResult:
    stale = [r for r in planned if r.kind is RecordKind.STALE]
    delivered = [r for r in stale if arrivals.get((r.user_id or "", r.text or ""))]
    detail = f"0 of {len(stale)} stale events reached a citizen"
    if delivered:
        detail = f"{len(delivered)} of {len(stale)} stale events reached a citizen" + _examples(
            [_describe(r) for r in delivered]
        )
    return CheckResult(CHECK_STALE, not delivered, detail, len(delivered))


def _check_stray(
    arrivals: Mapping[tuple[str, str], list[AcceptedMessage]],
    by_text: Mapping[tuple[str, str], PlannedRecord],
) -> CheckResult:
    unknown = [key for key in arrivals if key not in by_text]
    wrong = [
        by_text[key]
        for key in arrivals
        if key in by_text and by_text[key].kind is RecordKind.NOT_FOLLOWER
    ]
    problems = [f"unknown text to user {user}: {text[:60]!r}" for user, text in unknown]
    problems += [f"non-follower {_describe(r)}" for r in wrong]
    count = len(unknown) + len(wrong)
    detail = f"{len(arrivals)} distinct messages, all known"
    if count:
        detail = f"{count} messages match no deliverable event" + _examples(problems)
    return CheckResult(CHECK_STRAY, not count, detail, count)


def _check_dlq(observations: Observations) -> CheckResult:
    topic = observations.topic
    invalid = {
        (topic, p.partition, p.offset): p.planned
        for p in observations.published
        if p.planned.kind is RecordKind.INVALID
    }
    seen = Counter(dead.original for dead in observations.dead_letters)
    missing = [coords for coords in invalid if not seen[coords]]
    extra = [dead for dead in observations.dead_letters if dead.original not in invalid]
    doubled = sum(count - 1 for coords, count in seen.items() if coords in invalid and count > 1)
    altered = [
        dead
        for dead in observations.dead_letters
        if dead.original in invalid and dead.value != invalid[dead.original].value
    ]
    problems = [f"missing {p}/{o}" for _, p, o in missing]
    problems += [f"not invalid: {dead.original or 'no x-original headers'}" for dead in extra]
    problems += [f"bytes changed: {dead.original}" for dead in altered]
    count = len(missing) + len(extra) + doubled + len(altered)
    detail = f"{len(observations.dead_letters)} DLQ records for {len(invalid)} invalid records"
    if count:
        detail += (
            f": {len(missing)} missing, {len(extra)} not invalid, {doubled} doubled, "
            f"{len(altered)} altered" + _examples(problems)
        )
    return CheckResult(CHECK_DLQ, not count, detail, count)


def _check_statuses(
    observations: Observations, arrivals: Mapping[tuple[str, str], list[AcceptedMessage]]
) -> list[CheckResult]:
    topic = observations.topic
    record_at = {(topic, p.partition, p.offset): p.planned for p in observations.published}
    found: dict[tuple[str, int, int], list[DeliveryStatusEvent]] = defaultdict(list)
    malformed = 0
    unknown = 0
    for value in observations.statuses:
        try:
            status = DeliveryStatusEvent.model_validate_json(value)
        except ValueError:
            malformed += 1
            continue
        coords = (status.source.topic, status.source.partition, status.source.offset)
        if coords not in record_at:
            unknown += 1
            continue
        found[coords].append(status)
    missing = [coords for coords in record_at if coords not in found]
    doubled = sum(len(events) - 1 for events in found.values())
    count = len(missing) + doubled + malformed + unknown
    detail = f"{len(observations.statuses)} status events for {len(record_at)} records"
    if count:
        detail += (
            f": {len(missing)} records without one, {doubled} extra, {malformed} not valid "
            f"DeliveryStatusEvent, {unknown} for unknown records"
        )
    planned = [p.planned for p in observations.published]
    return [
        CheckResult(CHECK_STATUS_ONE, ok=not count, detail=detail, violations=count),
        _check_status_values(planned, record_at, found, arrivals),
    ]


def _check_status_values(
    planned: Sequence[PlannedRecord],
    record_at: Mapping[tuple[str, int, int], PlannedRecord],
    found: Mapping[tuple[str, int, int], list[DeliveryStatusEvent]],
    arrivals: Mapping[tuple[str, str], list[AcceptedMessage]],
) -> CheckResult:
    wrong: Counter[str] = Counter()
    for coords, events in found.items():
        record = record_at[coords]
        expected = expected_statuses(record, planned)
        worded = record if record.original is None else planned[record.original]
        sent = arrivals.get((worded.user_id or "", worded.text or ""), [])
        message_ids = {message.message_id for message in sent}
        for event in events:
            status = event.status.value
            if status not in expected:
                wrong[f"{record.kind.value} → {status}"] += 1
            elif record.event_id is not None and str(event.event_id) != record.event_id:
                wrong[f"{record.kind.value}: wrong event_id"] += 1
            elif status == "delivered" and event.zalo_message_id not in {None, *message_ids}:
                wrong[f"{record.kind.value}: zalo_message_id not the emulator's"] += 1
    checked = sum(len(events) for events in found.values())
    if not checked:
        return CheckResult(
            CHECK_STATUS_VALUE,
            ok=False,
            detail="no status event to check",
            violations=len(record_at),
        )
    bad = sum(wrong.values())
    detail = f"{checked - bad} of {checked} as expected"
    if bad:
        detail += ": " + ", ".join(f"{what} ×{n}" for what, n in wrong.most_common(4))
    return CheckResult(CHECK_STATUS_VALUE, ok=not bad, detail=detail, violations=bad)


def _check_committed(observations: Observations) -> CheckResult:
    behind = {
        partition: (observations.committed.get(partition, 0), end)
        for partition, end in sorted(observations.end_offsets.items())
        if observations.committed.get(partition, 0) != end
    }
    if not behind:
        detail = f"{len(observations.end_offsets)} partitions at their end"
        return CheckResult(CHECK_COMMITTED, ok=True, detail=detail)
    lag = sum(end - done for done, end in behind.values())
    parts = [f"p{p}: {done}/{end}" for p, (done, end) in behind.items()]
    detail = f"{lag} records behind" + _examples(parts, 6)
    return CheckResult(CHECK_COMMITTED, ok=False, detail=detail, violations=lag)


# ---------------------------------------------------------------------------- configuration


@dataclass(frozen=True, slots=True)
class ChaosConfig:
    """Everything one chaos run is made of.

    Attributes:
        workdir: Logs, the broker's data, the bridge's ledger and `report.json`.
        events: Input records in all (every kind included).
        cases: Dossiers.
        partitions: Partitions of the input and status topics.
        rate: Records published per second.
        kills: How many times the bridge gets SIGKILL (and is restarted).
        broker_restarts: How many times the broker is stopped and started.
        token_windows: Revocations of the access token, each restored 1.5-3 s later.
        latency_spikes: Raises of the emulator's latency for 1.5-3 s.
        rate_limit_bursts: Windows of 0.5-1.5 s where every call gets -32.
        seed: Seeds the workload, the emulator's faults and the schedule.
        invalid_ratio: Share of invalid records.
        non_follower_ratio: Share of events for users who do not follow the OA.
        duplicate_ratio: Share of exact duplicate publications.
        stale_ratio: Share of stale events.
        error_probability: Chance of a random HTTP 5xx on a Zalo call (503 or 500), plus a
            quarter of it as Zalo's `-200` "Send message failed".
        timeout_probability: Chance that Zalo answers after the bridge's timeout (in doubt,
            sent).
        drop_probability: Chance that the connection closes unanswered (in doubt, not sent).
        zalo_timeout_s: The bridge's `BRIDGE_ZALO__TIMEOUT_SECONDS`.
        bridge_rate_limit_per_minute: The bridge's own outbound rate limit.
        deadline_s: Upper bound on the whole run.
        drain_timeout_s: How long to wait for the group to commit everything after the chaos.
        bootstrap_servers: An existing cluster (no broker restart possible); None starts one.
        allow_no_broker_restart: Let a run on an existing cluster pass without the restart.
        bridge_pythonpath: Put first on the bridge's PYTHONPATH (to run another checkout).
        progress: Receives one line per step; None is silent.
    """

    workdir: Path
    events: int = 10_000
    cases: int = 500
    partitions: int = 6
    rate: float = 500.0
    kills: int = 5
    broker_restarts: int = 1
    token_windows: int = 2
    latency_spikes: int = 2
    rate_limit_bursts: int = 2
    seed: int = 20261130
    invalid_ratio: float = 0.02
    non_follower_ratio: float = 0.02
    duplicate_ratio: float = 0.01
    stale_ratio: float = 0.01
    error_probability: float = 0.02
    timeout_probability: float = 0.003
    drop_probability: float = 0.002
    zalo_timeout_s: float = 1.0
    bridge_rate_limit_per_minute: int = 60_000
    deadline_s: float = 900.0
    drain_timeout_s: float = 180.0
    bootstrap_servers: str | None = None
    allow_no_broker_restart: bool = False
    bridge_pythonpath: str | None = None
    progress: Callable[[str], None] | None = field(default=None, compare=False, repr=False)

    def workload_spec(self) -> WorkloadSpec:
        """The workload part of the configuration."""
        return WorkloadSpec(
            events=self.events,
            cases=self.cases,
            seed=self.seed,
            invalid_ratio=self.invalid_ratio,
            non_follower_ratio=self.non_follower_ratio,
            duplicate_ratio=self.duplicate_ratio,
            stale_ratio=self.stale_ratio,
        )


@dataclass(slots=True)
class ChaosReport:
    """The outcome of a run: the checks, the figures and anything worth a note.

    Attributes:
        checks: One result per entry of `CHECKS` (fewer if the run broke off early).
        figures: Measurements, by name, in the order they were taken.
        notes: What a reader should know (skipped steps, settings the bridge lacks…).
        error: Why the run broke off, if it did.
    """

    checks: list[CheckResult] = field(default_factory=list)
    figures: dict[str, object] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the run completed and every check passed."""
        return self.error is None and bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def failed(self) -> list[str]:
        """Names of the failed checks."""
        return [check.name for check in self.checks if not check.ok]

    def check(self, name: str) -> CheckResult:
        """Return the result of the check `name`.

        Raises:
            KeyError: If the run has no such check.
        """
        for result in self.checks:
            if result.name == name:
                return result
        raise KeyError(name)

    def table(self) -> str:
        """Render the checks, figures and notes as a plain-text table."""
        width = max((len(c.name) for c in self.checks), default=10)
        lines = [f"{'check':<{width}}  result  detail", f"{'-' * width}  ------  ------"]
        lines += [
            f"{c.name:<{width}}  {'PASS' if c.ok else 'FAIL':<6}  {c.detail}" for c in self.checks
        ]
        label = max((len(name) for name in self.figures), default=10)
        lines += ["", f"{'figure':<{label}}  value", f"{'-' * label}  -----"]
        lines += [f"{name:<{label}}  {_show(value)}" for name, value in self.figures.items()]
        if self.notes or self.error:
            lines += ["", "notes:"]
            lines += [f"  - {note}" for note in self.notes]
            if self.error:
                lines.append(f"  - run broke off: {self.error}")
        lines += ["", f"RESULT: {'PASS' if self.ok else 'FAIL'}"]
        return "\n".join(lines)

    def to_json(self) -> dict[str, object]:
        """Return the report as JSON-ready data."""
        return {
            "ok": self.ok,
            "checks": [asdict(check) for check in self.checks],
            "figures": self.figures,
            "notes": self.notes,
            "error": self.error,
        }


def _show(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.1f}"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) or "-"
    if isinstance(value, list):
        return ", ".join(_show(v) for v in value) or "-"
    return str(value)


# ---------------------------------------------------------------------------- publishing


class _Publisher:
    """Publishes the workload at a steady rate; can pause (flushed) for a broker restart."""

    def __init__(
        self, producer: AIOKafkaProducer, topic: str, records: Sequence[PlannedRecord], rate: float
    ) -> None:
        self._producer = producer
        self._topic = topic
        self._records = records
        self._rate = rate
        self._may_run = asyncio.Event()
        self._may_run.set()
        self._paused = asyncio.Event()
        self.done = asyncio.Event()
        self.sent = 0
        self._waiters: list[tuple[float, asyncio.Future[None]]] = []
        self.published: list[PublishedRecord] = []
        self.started_at = 0.0
        self.finished_at = 0.0
        self.paused_s = 0.0

    async def run(self) -> None:
        self.started_at = time.monotonic()
        pending: list[tuple[PlannedRecord, asyncio.Future[Any]]] = []
        origin, origin_index = time.monotonic(), 0
        try:
            for index, record in enumerate(self._records):
                if not self._may_run.is_set():
                    await self._settle(pending)
                    paused = time.monotonic()
                    self._paused.set()
                    await self._may_run.wait()
                    self._paused.clear()
                    self.paused_s += time.monotonic() - paused
                    origin, origin_index = time.monotonic(), index
                delay = origin + (index - origin_index) / self._rate - time.monotonic()
                if delay > 0.005:  # noqa: PLR2004 - below that, sleeping costs more than it paces
                    await asyncio.sleep(delay)
                future = await self._producer.send(self._topic, value=record.value, key=record.key)
                pending.append((record, future))
                self.sent += 1
                if self._waiters:
                    self._wake()
                if len(pending) >= 500:  # noqa: PLR2004 - bound the unacknowledged records
                    await self._settle(pending)
            await self._settle(pending)
        finally:
            self.finished_at = time.monotonic()
            self.done.set()
            self._wake()

    async def _settle(self, pending: list[tuple[PlannedRecord, asyncio.Future[Any]]]) -> None:
        for record, future in pending:
            metadata = await future
            self.published.append(PublishedRecord(record, metadata.partition, metadata.offset))
        pending.clear()

    async def pause(self) -> None:
        """Stop publishing once the records sent so far are acknowledged."""
        self._may_run.clear()
        done = asyncio.create_task(self.done.wait())
        paused = asyncio.create_task(self._paused.wait())
        await asyncio.wait({done, paused}, return_when=asyncio.FIRST_COMPLETED)
        done.cancel()
        paused.cancel()

    def resume(self) -> None:
        self._may_run.set()

    async def reached(self, count: float) -> None:
        """Return once `count` records have been sent, or the input is exhausted."""
        if self.sent >= count or self.done.is_set():
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((count, waiter))
        await waiter

    def _wake(self) -> None:
        waiting = []
        for count, waiter in self._waiters:
            if self.sent >= count or self.done.is_set():
                if not waiter.done():
                    waiter.set_result(None)
            else:
                waiting.append((count, waiter))
        self._waiters = waiting

    def end_offsets(self) -> dict[int, int]:
        ends: dict[int, int] = {}
        for published in self.published:
            ends[published.partition] = max(ends.get(published.partition, 0), published.offset + 1)
        return ends


# ---------------------------------------------------------------------------- the run


@dataclass(slots=True)
class _Run:
    """The live parts of one run, shared by its tasks."""

    config: ChaosConfig
    report: ChaosReport
    rng: random.Random
    say: Callable[[str], None]
    topics: tuple[str, str, str]
    group: str
    bootstrap: str = ""
    kafka: LocalKafka | None = None
    zalo_url: str = ""
    admin_http: httpx.AsyncClient | None = None
    bridge: BridgeProcess | None = None
    publisher: _Publisher | None = None
    broker_restarts: int = 0
    broker_down: bool = False
    max_lag: int = 0
    lag_samples: int = 0
    lag_at_kills: list[int] = field(default_factory=list)
    last_lag: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def http(self) -> httpx.AsyncClient:
        assert self.admin_http is not None  # noqa: S101 - set before any task runs
        return self.admin_http

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def remaining(self) -> float:
        return self.config.deadline_s - self.elapsed()


async def run_chaos_async(config: ChaosConfig) -> ChaosReport:
    """Run the chaos suite in the running event loop (see `run_chaos`)."""
    report = ChaosReport()
    run = _Run(
        config=config,
        report=report,
        rng=random.Random(config.seed),  # noqa: S311 - a reproducible schedule, not crypto
        say=config.progress or (lambda _line: None),
        topics=("", "", ""),
        group="",
    )
    processes = Processes()
    tasks: list[asyncio.Task[Any]] = []
    observations: Observations | None = None
    try:
        async with asyncio.timeout(config.deadline_s):
            observations = await _orchestrate(run, processes, tasks)
    except TimeoutError:
        report.error = f"the deadline of {config.deadline_s:.0f} s passed"
        run.say(f"run broke off: {report.error}")
    except Exception as exc:  # noqa: BLE001 - any failure becomes the report's error
        report.error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        run.say(f"run broke off: {report.error}")
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if run.admin_http is not None:
            await run.admin_http.aclose()
        await asyncio.to_thread(processes.stop_all)
        if run.kafka is not None:
            await asyncio.to_thread(run.kafka.stop)
    _finish_report(run, observations)
    write_report(report, config.workdir)
    return report


def accepted_messages(log: Sequence[Mapping[str, Any]]) -> tuple[AcceptedMessage, ...]:
    """The texts the emulator accepted, from its record of every call."""
    return tuple(
        AcceptedMessage(
            seq=int(m["seq"]),
            user_id=str(m["user_id"]),
            text=str(m["text"]),
            message_id=m.get("message_id"),
            received_at=m.get("received_at"),
            fault=m.get("fault"),
        )
        for m in log
        if m.get("accepted") and m.get("user_id") is not None and m.get("text") is not None
    )


def write_report(report: ChaosReport, workdir: Path) -> None:
    """Write ``report.json`` in ``workdir`` (a run that cannot write it still reports)."""
    with contextlib.suppress(OSError):
        (workdir / "report.json").write_text(
            json.dumps(report.to_json(), ensure_ascii=False, indent=2, default=str),
            encoding="utf-8",
        )


def run_chaos(config: ChaosConfig) -> ChaosReport:
    """Run the chaos suite: broker, emulator and bridge under faults, then verify.

    Starts (or uses) a broker, creates the topics, starts the Zalo OA emulator and the bridge as
    processes, publishes the workload while injecting faults, killing the bridge and restarting
    the broker, waits for the consumer group to commit everything, and checks the guarantees.
    Everything it started is stopped, by PID, before it returns.

    Args:
        config: The run's settings.

    Returns:
        The report; `report.ok` tells whether every guarantee held.
    """
    return run_blocking(run_chaos_async(config))


async def _orchestrate(
    run: _Run, processes: Processes, tasks: list[asyncio.Task[Any]]
) -> Observations:
    config = run.config
    workdir = config.workdir.resolve()
    _prepare_workdir(workdir, own_broker=config.bootstrap_servers is None)
    run_id = uuid.uuid4().hex[:8]
    workload = generate_workload(config.workload_spec())
    run.say(
        f"workload: {len(workload.records)} records over {len(workload.cases)} cases "
        f"(seed {config.seed}); run {run_id}"
    )
    await _start_broker(run, workdir)
    external = config.bootstrap_servers is not None
    suffix = f".{run_id}" if external else ""
    run.topics = (
        f"case-state-events{suffix}",
        f"case-state-events{suffix}.dlq",
        f"case-state-events{suffix}.status",
    )
    run.group = f"zalo-bridge-chaos-{run_id}"
    input_topic, dlq, status = run.topics
    await create_topics(
        run.bootstrap, {input_topic: config.partitions, dlq: 1, status: config.partitions}
    )

    run.zalo_url = await _start_emulator(run, processes, workdir, workload)
    run.admin_http = httpx.AsyncClient(base_url=run.zalo_url, timeout=30.0)
    env, lacks = _bridge_env(run, workdir, run_id)
    run.bridge = BridgeProcess(
        processes,
        env,
        workdir / "bridge.log",
        run.say,
        broker_down=lambda: run.broker_down,
        lacks=lacks,
    )
    run.bridge.start()
    ready = await run.bridge.wait_ready(min(90.0, run.remaining()))
    run.say(f"bridge ready in {ready:.1f} s")

    producer = AIOKafkaProducer(
        bootstrap_servers=run.bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    try:
        run.publisher = _Publisher(producer, run.topics[0], workload.records, config.rate)
        tasks.append(asyncio.create_task(run.bridge.watch()))
        tasks.append(asyncio.create_task(_sample_lag(run)))
        publishing = asyncio.create_task(run.publisher.run())
        tasks.append(publishing)
        await _chaos(run, publishing)
    finally:
        await producer.stop()
    return await _drain_and_observe(run)


def _prepare_workdir(workdir: Path, *, own_broker: bool) -> None:
    # Only what a previous run of this harness left: never the rest of the directory.
    workdir.mkdir(parents=True, exist_ok=True)
    if own_broker:
        shutil.rmtree(workdir / "kafka", ignore_errors=True)
    for name in (
        "ledger.sqlite3",
        "ledger.sqlite3-wal",
        "ledger.sqlite3-shm",
        "report.json",
        "bridge.log",
        "emulator.log",
        "zalo-calls.jsonl",
        "zalo-reads.jsonl",
    ):
        (workdir / name).unlink(missing_ok=True)


async def _start_broker(run: _Run, workdir: Path) -> None:
    if run.config.bootstrap_servers is not None:
        run.bootstrap = run.config.bootstrap_servers
        run.say(f"broker: existing cluster at {run.bootstrap} (it cannot be restarted)")
        run.report.notes.append(
            f"existing cluster {run.bootstrap}: no broker restart possible"
            + ("" if run.config.allow_no_broker_restart else "; the run fails for it")
        )
        return
    began = time.monotonic()
    run.kafka = LocalKafka(workdir / "kafka")
    await asyncio.to_thread(run.kafka.start)
    run.bootstrap = run.kafka.bootstrap_servers
    run.say(f"broker ready at {run.bootstrap} in {time.monotonic() - began:.1f} s")


async def _start_emulator(
    run: _Run, processes: Processes, workdir: Path, workload: Workload
) -> str:
    followers = workdir / "followers.json"
    write_followers(followers, workload.followers)
    url, _ = await start_emulator_process(
        processes,
        workdir,
        access_token=ACCESS_TOKEN,
        followers=followers,
        latency_ms=EMULATOR_LATENCY_MS,
        rate_limit_per_minute=0,
        seed=run.config.seed,
    )
    run.say(f"emulator at {url} with {len(workload.followers)} followers")
    return url


def _bridge_env(run: _Run, workdir: Path, run_id: str) -> tuple[dict[str, str], list[str]]:
    """The bridge's environment, and the variables it was meant to get but does not have."""
    config = run.config
    input_topic, dlq, status = run.topics
    timeout = config.zalo_timeout_s
    wanted = {
        "BRIDGE_KAFKA__BOOTSTRAP_SERVERS": run.bootstrap,
        "BRIDGE_KAFKA__INPUT_TOPIC": input_topic,
        "BRIDGE_KAFKA__DEAD_LETTER_TOPIC": dlq,
        "BRIDGE_KAFKA__STATUS_TOPIC": status,
        "BRIDGE_KAFKA__CONSUMER_GROUP": run.group,
        "BRIDGE_KAFKA__TRANSACTIONAL_ID": f"zalo-bridge-chaos-{run_id}",
        "BRIDGE_KAFKA__CONSUMERS": str(config.partitions),
        "BRIDGE_KAFKA__SESSION_TIMEOUT_MS": "6000",
        "BRIDGE_ZALO__BASE_URL": run.zalo_url,
        "BRIDGE_ZALO__ACCESS_TOKEN": ACCESS_TOKEN,
        "BRIDGE_ZALO__TIMEOUT_SECONDS": str(timeout),
        "BRIDGE_ZALO__CONNECT_TIMEOUT_SECONDS": str(min(timeout, 1.0)),
        "BRIDGE_STORE__URL": f"sqlite:///{workdir / 'ledger.sqlite3'}",
        "BRIDGE_DELIVERY__MAX_ATTEMPTS": "6",
        "BRIDGE_DELIVERY__INITIAL_BACKOFF_SECONDS": "0.05",
        "BRIDGE_DELIVERY__MAX_BACKOFF_SECONDS": "0.5",
        "BRIDGE_DELIVERY__ATTEMPT_BUDGET_SECONDS": "10",
        "BRIDGE_DELIVERY__REDELIVERY_PAUSE_SECONDS": "0.5",
        "BRIDGE_DELIVERY__LEASE_SECONDS": str(2 * timeout + 1),
        "BRIDGE_DELIVERY__IN_DOUBT_SETTLE_SECONDS": "0.2",
        # Every event is sent at once, day or night: no quiet hours, no announcement night.
        **always_day_env(),
        "BRIDGE_DELIVERY__RATE_LIMIT_PER_MINUTE": str(config.bridge_rate_limit_per_minute),
        "BRIDGE_DELIVERY__BREAKER_OPEN_SECONDS": "0.5",
        "BRIDGE_DELIVERY__BREAKER_MAX_OPEN_SECONDS": "2",
        "BRIDGE_LOG__FORMAT": "json",
    }
    base = clean_env()
    if config.bridge_pythonpath:
        base["PYTHONPATH"] = os.pathsep.join(
            filter(None, [config.bridge_pythonpath, base.get("PYTHONPATH")])
        )
        run.report.notes.append(f"bridge run from {config.bridge_pythonpath}")
    supported = supported_settings(base)
    kept, dropped = _keep_supported(wanted, supported)
    if dropped:
        run.report.notes.append(
            "settings this bridge does not have (not set): " + ", ".join(dropped)
        )
    run.report.figures["bridge settings"] = {
        name.removeprefix("BRIDGE_").lower(): value
        for name, value in kept.items()
        if name.startswith(("BRIDGE_DELIVERY", "BRIDGE_ZALO__TIMEOUT"))
    }
    return {**base, **kept}, dropped


# ---------------------------------------------------------------------------- chaos


@dataclass(frozen=True, slots=True)
class _Action:
    """One planned disruption, with every random choice made in advance (reproducible).

    Attributes:
        kind: kill, broker, token, latency or burst.
        at: The share of the input published when it starts (0-1).
        seconds: How long it lasts; for a kill, the pause between readiness and SIGKILL.
        latency_ms: The emulator's latency during a spike.
    """

    kind: str
    at: float
    seconds: float
    latency_ms: float = 0.0


def _plan_actions(
    config: ChaosConfig, rng: random.Random, *, broker_restarts: int
) -> tuple[list[_Action], list[_Action]]:
    """Kills and broker restarts one after another (a lane); the other faults overlap freely."""
    kinds = ["kill"] * config.kills + ["broker"] * broker_restarts
    rng.shuffle(kinds)
    moments = sorted(rng.uniform(0.1, 0.9) for _ in kinds)
    lane = [
        _Action(kind, at, rng.uniform(0.2, 1.0) if kind == "kill" else rng.uniform(0.5, 2.0))
        for kind, at in zip(kinds, moments, strict=True)
    ]
    timeout_ms = config.zalo_timeout_s * 1000
    side = [
        _Action("token", rng.uniform(0.05, 0.95), rng.uniform(1.5, 3.0))
        for _ in range(config.token_windows)
    ]
    side += [
        _Action(
            "latency",
            rng.uniform(0.05, 0.95),
            rng.uniform(1.5, 3.0),
            rng.uniform(0.2, 0.6) * timeout_ms,
        )
        for _ in range(config.latency_spikes)
    ]
    side += [
        _Action("burst", rng.uniform(0.05, 0.95), rng.uniform(0.5, 1.5))
        for _ in range(config.rate_limit_bursts)
    ]
    return lane, side


async def _chaos(run: _Run, publishing: asyncio.Task[None]) -> None:
    """Probabilistic faults for the whole input, and the planned actions as the input flows.

    Each action starts when its share of the input has been published (or at once when the
    input is exhausted); kills and broker restarts take turns, the other faults may overlap.
    """
    config, publisher = run.config, run.publisher
    assert publisher is not None  # noqa: S101 - set by the caller
    await _install_faults(run)
    own_broker = run.kafka is not None
    lane, side = _plan_actions(
        config, run.rng, broker_restarts=config.broker_restarts if own_broker else 0
    )
    run.say(
        f"publishing {config.events} records at {config.rate:.0f}/s; "
        + ", ".join(f"{a.kind}@{a.at:.0%}" for a in sorted(lane + side, key=lambda a: a.at))
    )

    async def in_turn() -> None:
        for action in lane:
            await publisher.reached(action.at * config.events)
            await _act(run, action)

    async def alone(action: _Action) -> None:
        await publisher.reached(action.at * config.events)
        await _act(run, action)

    actions = [asyncio.create_task(in_turn()), *(asyncio.create_task(alone(a)) for a in side)]
    try:
        await asyncio.gather(publishing, *actions)
    finally:
        for task in actions:
            task.cancel()
        await asyncio.gather(*actions, return_exceptions=True)
        await _calm(run)
    took = publisher.finished_at - publisher.started_at
    run.report.figures["publish time (s)"] = round(took, 1)
    run.say(f"input exhausted after {took:.1f} s and every action done; faults cleared")


async def _install_faults(run: _Run) -> None:
    config = run.config
    half = config.error_probability / 2
    faults: list[dict[str, object]] = []
    if half > 0:
        faults += [
            {"kind": "http", "status": 503, "probability": half},
            {"kind": "http", "status": 500, "probability": half},
            {"kind": "error", "error": -200, "probability": half / 2},
        ]
    if config.timeout_probability > 0:
        late_ms = (config.zalo_timeout_s + 0.5) * 1000
        faults.append({"kind": "delay", "ms": late_ms, "probability": config.timeout_probability})
    if config.drop_probability > 0:
        faults.append({"kind": "drop", "probability": config.drop_probability})
    if faults:
        response = await run.http.post("/_emulator/faults", json=faults)
        response.raise_for_status()


async def _act(run: _Run, action: _Action) -> None:
    bridge, http = run.bridge, run.http
    assert bridge is not None  # noqa: S101 - started before the chaos
    token = {"access_token": ACCESS_TOKEN}
    if action.kind == "kill":
        await bridge.wait_ready(min(90.0, run.remaining()))
        await asyncio.sleep(action.seconds)
        run.lag_at_kills.append(run.last_lag)
        pid = bridge.kill()
        run.say(f"kill -9 bridge pid {pid} ({bridge.kills}/{run.config.kills}, lag {run.last_lag})")
    elif action.kind == "broker":
        await _restart_broker(run, action.seconds)
    elif action.kind == "token":
        run.say(f"access token revoked for {action.seconds:.1f} s")
        (await http.post("/_emulator/tokens/revoke", json=token)).raise_for_status()
        await asyncio.sleep(action.seconds)
        (await http.post("/_emulator/tokens/restore", json=token)).raise_for_status()
    elif action.kind == "latency":
        run.say(f"latency {action.latency_ms:.0f} ms for {action.seconds:.1f} s")
        spike = {"latency_ms": action.latency_ms}
        (await http.put("/_emulator/config", json=spike)).raise_for_status()
        await asyncio.sleep(action.seconds)
        normal = {"latency_ms": EMULATOR_LATENCY_MS}
        (await http.put("/_emulator/config", json=normal)).raise_for_status()
    elif action.kind == "burst":
        run.say(f"-32 on every call for {action.seconds:.1f} s")
        burst = {"kind": "error", "error": -32, "probability": 1, "duration_s": action.seconds}
        (await http.post("/_emulator/faults", json=burst)).raise_for_status()


async def _restart_broker(run: _Run, down_s: float) -> None:
    kafka, publisher = run.kafka, run.publisher
    assert kafka is not None  # noqa: S101 - only planned with our own broker
    assert publisher is not None  # noqa: S101 - set before the chaos
    await publisher.pause()
    began = time.monotonic()
    run.say("broker: stopping (publishing paused)")
    run.broker_down = True
    try:
        await asyncio.to_thread(kafka.stop)
        await asyncio.sleep(down_s)
        await asyncio.to_thread(kafka.start)
    finally:
        run.broker_down = False
    run.broker_restarts += 1
    publisher.resume()
    run.say(f"broker: back after {time.monotonic() - began:.1f} s (publishing resumed)")


async def _calm(run: _Run) -> None:
    """Clear every fault: no fault rule, the token valid, the normal latency."""
    http = run.http
    await http.delete("/_emulator/faults")
    await http.post("/_emulator/tokens/restore", json={"access_token": ACCESS_TOKEN})
    await http.put("/_emulator/config", json={"latency_ms": EMULATOR_LATENCY_MS})


async def _sample_lag(run: _Run) -> None:
    """Every second: end offsets minus committed offsets of the input topic, summed."""
    admin: AIOKafkaAdminClient | None = None
    ends: AIOKafkaConsumer | None = None
    partitions = [TopicPartition(run.topics[0], p) for p in range(run.config.partitions)]
    try:
        while True:
            try:
                if admin is None or ends is None:
                    admin = AIOKafkaAdminClient(
                        bootstrap_servers=run.bootstrap, request_timeout_ms=5000
                    )
                    await admin.start()
                    ends = AIOKafkaConsumer(
                        bootstrap_servers=run.bootstrap, enable_auto_commit=False
                    )
                    await ends.start()
                async with asyncio.timeout(5):
                    committed = await admin.list_consumer_group_offsets(
                        run.group, partitions=partitions
                    )
                    end = await ends.end_offsets(partitions)
                lag = sum(
                    end[tp] - max(committed[tp].offset, 0) if tp in committed else end[tp]
                    for tp in partitions
                )
                run.last_lag = lag
                run.max_lag = max(run.max_lag, lag)
                run.lag_samples += 1
            except (KafkaError, OSError, TimeoutError):
                with contextlib.suppress(Exception):
                    if admin is not None:
                        await admin.close()
                    if ends is not None:
                        await ends.stop()
                admin, ends = None, None
            await asyncio.sleep(1.0)
    finally:
        with contextlib.suppress(Exception):
            if admin is not None:
                await admin.close()
            if ends is not None:
                await ends.stop()


# ---------------------------------------------------------------------------- after the chaos


async def _drain_and_observe(run: _Run) -> Observations:
    publisher, bridge = run.publisher, run.bridge
    assert publisher is not None  # noqa: S101 - set before
    assert bridge is not None  # noqa: S101 - set before
    ends = publisher.end_offsets()
    began = time.monotonic()
    limit = min(run.config.drain_timeout_s, max(run.remaining() - 30, 1.0))
    committed: dict[int, int] = {}
    while True:
        with contextlib.suppress(KafkaError, OSError):
            committed = await committed_offsets(run.bootstrap, run.group, run.topics[0])
        if all(committed.get(p, 0) >= end for p, end in ends.items()):
            break
        if time.monotonic() - began > limit:
            run.report.notes.append(f"the group had not committed everything after {limit:.0f} s")
            break
        await asyncio.sleep(0.5)
    drain = time.monotonic() - began
    run.report.figures["drain time (s)"] = round(drain, 1)
    run.say(f"drained in {drain:.1f} s; reading the results")
    await asyncio.sleep(0.5)  # let the last transaction markers land

    records = (await run.http.get("/_emulator/messages", params={"status": "all"})).json()
    log: list[dict[str, Any]] = records["messages"]
    reads = (await run.http.get("/_emulator/reads")).json()
    accepted = accepted_messages(log)
    _keep_for_post_mortem(run.config.workdir, log, reads["reads"])
    _fault_figures(run, log, int(reads["count"]))
    dlq_records = await read_committed(run.bootstrap, run.topics[1])
    status_records = await read_committed(run.bootstrap, run.topics[2])
    return Observations(
        topic=run.topics[0],
        published=tuple(sorted(publisher.published, key=lambda p: p.planned.index)),
        accepted=accepted,
        dead_letters=tuple(_dead_letter(record) for record in dlq_records),
        statuses=tuple(bytes(record.value or b"") for record in status_records),
        committed=committed,
        end_offsets=ends,
    )


def _keep_for_post_mortem(
    workdir: Path, log: Sequence[Mapping[str, Any]], reads: Sequence[Mapping[str, Any]]
) -> None:
    """Write the emulator's record of every call (bodies left out) next to the bridge's log."""
    with (workdir / "zalo-calls.jsonl").open("w", encoding="utf-8") as out:
        for record in log:
            slim = {key: value for key, value in record.items() if key not in {"body", "raw_body"}}
            out.write(json.dumps(slim, ensure_ascii=False) + "\n")
    with (workdir / "zalo-reads.jsonl").open("w", encoding="utf-8") as out:
        for read in reads:
            out.write(json.dumps(read, ensure_ascii=False) + "\n")


def _dead_letter(record: Any) -> DeadLetter:
    headers = {key: bytes(value) for key, value in record.headers or ()}
    try:
        original: tuple[str, int, int] | None = (
            headers["x-original-topic"].decode(),
            int(headers["x-original-partition"]),
            int(headers["x-original-offset"]),
        )
    except (KeyError, ValueError):
        original = None
    return DeadLetter(value=bytes(record.value or b""), original=original)


def _fault_figures(run: _Run, log: Sequence[Mapping[str, Any]], reads: int) -> None:
    by_fault: Counter[str] = Counter()
    by_error: Counter[int] = Counter()
    for record in log:
        if record.get("fault"):
            by_fault[str(record["fault"])] += 1
        error = record.get("error")
        if isinstance(error, int) and error != 0 and record.get("fault") is None:
            by_error[error] += 1
    figures = run.report.figures
    figures["Zalo calls"] = len(log)
    figures["faults injected"] = dict(by_fault)
    figures["Zalo refusals (not injected)"] = {str(code): n for code, n in by_error.most_common()}
    in_doubt_sent = sum(1 for r in log if r.get("fault") == "delay" and r.get("accepted"))
    figures["in-doubt sends (sent / not sent)"] = f"{in_doubt_sent} / {by_fault.get('drop', 0)}"
    figures["conversation reads"] = reads


def _finish_report(run: _Run, observations: Observations | None) -> None:
    report, config = run.report, run.config
    checks = [CheckResult(CHECK_RUN, report.error is None, report.error or "completed")]
    if observations is not None:
        checks += verify(observations)
        counts = Counter(p.planned.kind.value for p in observations.published)
        figures = {
            "records published": len(observations.published),
            "by kind": dict(counts),
            "messages accepted by Zalo": len(observations.accepted),
            "status events": len(observations.statuses),
            "DLQ records": len(observations.dead_letters),
        }
        report.figures = {**figures, **report.figures}
    bridge = run.bridge
    kills = bridge.kills if bridge is not None else 0
    checks.append(
        CheckResult(CHECK_KILLS, kills >= config.kills, f"{kills} of {config.kills} kills")
    )
    if run.kafka is None and config.bootstrap_servers is not None and config.broker_restarts:
        allowed = config.allow_no_broker_restart
        detail = "not possible on an existing cluster" + (" (allowed)" if allowed else "")
        checks.append(CheckResult(CHECK_BROKER, allowed, detail))
    else:
        done = run.broker_restarts
        checks.append(
            CheckResult(
                CHECK_BROKER,
                done >= config.broker_restarts,
                f"{done} of {config.broker_restarts} restarts",
            )
        )
    report.checks = checks
    publisher = run.publisher
    figures = report.figures
    figures["duration (s)"] = round(run.elapsed(), 1)
    if publisher is not None and publisher.finished_at > publisher.started_at:
        active = publisher.finished_at - publisher.started_at - publisher.paused_s
        figures["publish rate (/s)"] = round(len(publisher.published) / max(active, 0.001))
    figures["max consumer lag"] = run.max_lag
    figures["lag samples"] = run.lag_samples
    figures["lag at each kill"] = run.lag_at_kills
    figures["kills"] = kills
    figures["bridge starts"] = bridge.starts if bridge is not None else 0
    if bridge is not None:
        figures["bridge exits on its own (broker down)"] = (
            f"{bridge.unexpected_exits} ({bridge.exits_while_broker_down})"
        )
    figures["broker restarts"] = run.broker_restarts


# ---------------------------------------------------------------------------- CLI


def _say(line: str) -> None:
    sys.stderr.write(f"[chaos {time.strftime('%H:%M:%S')}] {line}\n")
    sys.stderr.flush()


def _build_parser() -> argparse.ArgumentParser:
    defaults = ChaosConfig(workdir=Path(".cache/chaos"))
    parser = argparse.ArgumentParser(
        prog="python -m bridge_devkit.chaos",
        description="Run the bridge under Zalo faults, kills and a broker restart, and check "
        "that every event is delivered once, in order, and reported exactly once.",
    )
    parser.add_argument("--workdir", type=Path, default=defaults.workdir)
    parser.add_argument("--events", type=int, default=defaults.events, help="input records in all")
    parser.add_argument("--cases", type=int, default=defaults.cases)
    parser.add_argument("--partitions", type=int, default=defaults.partitions)
    parser.add_argument("--rate", type=float, default=defaults.rate, help="records per second")
    parser.add_argument("--kills", type=int, default=defaults.kills)
    parser.add_argument("--broker-restarts", type=int, default=defaults.broker_restarts)
    parser.add_argument("--token-windows", type=int, default=defaults.token_windows)
    parser.add_argument("--latency-spikes", type=int, default=defaults.latency_spikes)
    parser.add_argument("--rate-limit-bursts", type=int, default=defaults.rate_limit_bursts)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--error-probability", type=float, default=defaults.error_probability)
    parser.add_argument("--timeout-probability", type=float, default=defaults.timeout_probability)
    parser.add_argument("--drop-probability", type=float, default=defaults.drop_probability)
    parser.add_argument("--zalo-timeout", type=float, default=defaults.zalo_timeout_s)
    parser.add_argument("--deadline", type=float, default=defaults.deadline_s, help="seconds")
    parser.add_argument("--drain-timeout", type=float, default=defaults.drain_timeout_s)
    parser.add_argument(
        "--allow-no-broker-restart",
        action="store_true",
        help="with KAFKA_BOOTSTRAP_SERVERS, pass without restarting the broker",
    )
    parser.add_argument(
        "--bridge-pythonpath", help="put this first on the bridge's PYTHONPATH (another checkout)"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the chaos suite from the command line; exit 0 when every check passes, else 1.

    Args:
        argv: Arguments without the program name; default `sys.argv[1:]`.

    Returns:
        The exit status.
    """
    args = _build_parser().parse_args(argv)
    # The harness's own clients see the broker go away on purpose: no tracebacks for that.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    config = ChaosConfig(
        workdir=args.workdir,
        events=args.events,
        cases=args.cases,
        partitions=args.partitions,
        rate=args.rate,
        kills=args.kills,
        broker_restarts=args.broker_restarts,
        token_windows=args.token_windows,
        latency_spikes=args.latency_spikes,
        rate_limit_bursts=args.rate_limit_bursts,
        seed=args.seed,
        error_probability=args.error_probability,
        timeout_probability=args.timeout_probability,
        drop_probability=args.drop_probability,
        zalo_timeout_s=args.zalo_timeout,
        deadline_s=args.deadline,
        drain_timeout_s=args.drain_timeout,
        bootstrap_servers=os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or None,
        allow_no_broker_restart=args.allow_no_broker_restart,
        bridge_pythonpath=args.bridge_pythonpath,
        progress=_say,
    )

    def interrupted(_signo: int, _frame: object) -> None:
        raise KeyboardInterrupt

    # SIGTERM unwinds like Ctrl-C, so that the processes and the broker this run started stop.
    signal.signal(signal.SIGTERM, interrupted)
    try:
        report = run_chaos(config)
    except KeyboardInterrupt:
        _say("interrupted; everything this run started has been stopped")
        return 130
    if args.json:
        sys.stdout.write(
            json.dumps(report.to_json(), ensure_ascii=False, indent=2, default=str) + "\n"
        )
    else:
        sys.stdout.write(report.table() + "\n")
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
