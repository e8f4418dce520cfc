"""`zalo-bridge dlq list/replay` on the real broker: exact copies of the selected records only."""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from typer.testing import CliRunner

from bridge.cli.main import cli
from bridge.delivery.replay import (
    InvalidSelectionError,
    ReplayCriteria,
    ReplayError,
    list_dead_letters,
    replay_dead_letters,
)
from bridge.settings import load_settings
from support import read_all

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

CASE_A = "000.20.31.H56-260310-0042"
CASE_B = "000.20.31.H56-260310-0043"
CASE_C = "000.20.31.H56-260310-0044"
PHONE = "0912345678"
runner = CliRunner()


def dlq_headers(
    reason: str,
    *,
    at: datetime,
    original: list[tuple[str, bytes | None]] | None = None,
    offset: int = 0,
) -> list[tuple[str, bytes | None]]:
    """The headers bridge's dead-letter sink writes: the original ones, then its own."""
    return [
        *(original or []),
        ("x-dlq-reason", reason.encode()),
        ("x-dlq-detail", f"{reason}: recipient.phone {PHONE} is invalid".encode()),
        ("x-dlq-at", at.isoformat().encode()),
        ("x-dlq-bridge-version", b"0.1.0"),
        ("x-original-topic", b"case-state-events"),
        ("x-original-partition", b"1"),
        ("x-original-offset", str(offset).encode()),
        ("x-original-timestamp", str(int(at.timestamp() * 1000) - 50).encode()),
    ]


def value_of(case: str, n: int) -> bytes:
    return (
        f'{{"case": {{"code": "{case}"}}, "n": {n}, "phone": "{PHONE}", "ghi_chú": "hồ sơ"}}'
    ).encode()


@pytest.fixture
async def dlq_writer(kafka_bootstrap) -> AsyncIterator[Any]:
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()

    async def write(topic, value, *, key, headers, timestamp_ms=None, partition=None):
        await producer.send_and_wait(
            topic,
            value=value,
            key=None if key is None else key.encode(),
            headers=headers,
            timestamp_ms=timestamp_ms,
            partition=partition,
        )

    try:
        yield write
    finally:
        await producer.stop()


@pytest.fixture
def kafka_settings(kafka_bootstrap, topics):
    return load_settings(
        kafka={
            "bootstrap_servers": kafka_bootstrap,
            "input_topic": topics.input,
            "dead_letter_topic": topics.dead_letter,
        }
    ).kafka


@pytest.fixture
async def seeded(dlq_writer, topics):
    """Five dead-lettered records of three dossiers, as the sink writes them, one hour ago."""
    at = datetime.now(UTC) - timedelta(hours=1)
    rows = [
        ("invalid_json", CASE_A, [("traceparent", b"00-aa-01"), ("bin", b"\xff\x00\x9f")]),
        ("schema_violation", CASE_B, [("source", b"td-dvc")]),
        ("invalid_json", CASE_B, []),
        ("oversize", CASE_A, [("dup", b"1"), ("dup", b"2"), ("empty", b"")]),
        ("not_utf8", CASE_C, [("traceparent", b"00-cc-01")]),
    ]
    written = []
    for n, (reason, case, original) in enumerate(rows):
        value = b"\xff\xfe\x00 not utf-8" if reason == "not_utf8" else value_of(case, n)
        headers = dlq_headers(reason, at=at + timedelta(seconds=n), original=original, offset=n)
        await dlq_writer(topics.dead_letter, value, key=case, headers=headers)
        written.append({"reason": reason, "case": case, "value": value, "original": original})
    return written


def replayed(records):
    """The records read from the target, in the order of the DLQ offsets they copy."""
    return sorted(records, key=lambda r: int(dict(r.headers)["x-replayed-from"].split(b"/")[-1]))


async def end_offsets(bootstrap, topic) -> int:
    """How many records ``topic`` has ever received, over all its partitions."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    partitions = [TopicPartition(topic, p["partition"]) for p in described["partitions"]]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        return sum((await consumer.end_offsets(partitions)).values())
    finally:
        await consumer.stop()


async def topic_names(bootstrap) -> set[str]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        return await consumer.topics()
    finally:
        await consumer.stop()


async def create_topic(bootstrap, name, partitions) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
    finally:
        await admin.close()


@pytest.mark.kafka
class TestReplay:
    async def test_selected_records_are_copied_byte_for_byte_with_replay_headers(
        self, kafka_settings, seeded, kafka_bootstrap, topics
    ):
        criteria = ReplayCriteria(reasons=frozenset({"invalid_json", "not_utf8"}))
        summary = await replay_dead_letters(kafka_settings, criteria)

        assert (summary.scanned, summary.selected, summary.replayed) == (5, 3, 3)
        assert summary.by_reason == {"invalid_json": 2, "not_utf8": 1}
        assert summary.skipped == {"reason": 2}
        assert summary.source_topic == topics.dead_letter
        assert summary.target_topic == topics.input
        assert not summary.dry_run
        assert not summary.limit_reached
        uuid.UUID(summary.replay_id)

        copies = replayed(await read_all(kafka_bootstrap, topics.input))
        expected = [seeded[0], seeded[2], seeded[4]]
        assert len(copies) == len(expected)
        for copy, (dlq_offset, source) in zip(
            copies, [(0, expected[0]), (2, expected[1]), (4, expected[2])], strict=True
        ):
            assert copy.value == source["value"]
            assert copy.key == source["case"].encode()
            assert list(copy.headers) == [
                *source["original"],
                ("x-replayed-from", f"{topics.dead_letter}/0/{dlq_offset}".encode()),
                ("x-replay-id", summary.replay_id.encode()),
            ]

    @pytest.mark.usefixtures("seeded")
    async def test_a_dry_run_publishes_nothing(self, kafka_settings, kafka_bootstrap, topics):
        seen = []
        summary = await replay_dead_letters(
            kafka_settings,
            ReplayCriteria(),
            dry_run=True,
            progress=lambda d, t: seen.append((d, t)),
        )
        assert (summary.scanned, summary.selected, summary.replayed) == (5, 5, 0)
        assert summary.dry_run
        assert seen[0] == (0, 5)
        assert seen[-1] == (5, 5)
        assert await end_offsets(kafka_bootstrap, topics.input) == 0

    async def test_case_and_limit_select_the_first_matching_records(
        self, kafka_settings, seeded, kafka_bootstrap, topics
    ):
        criteria = ReplayCriteria(cases=frozenset({CASE_B, CASE_C}), limit=2)
        summary = await replay_dead_letters(kafka_settings, criteria)
        assert (summary.selected, summary.replayed) == (2, 2)
        assert summary.limit_reached
        assert summary.skipped == {"case": 1}
        copies = replayed(await read_all(kafka_bootstrap, topics.input))
        assert [c.value for c in copies] == [seeded[1]["value"], seeded[2]["value"]]

    async def test_since_starts_at_the_timestamp_and_filters_on_x_dlq_at(
        self, kafka_settings, dlq_writer, kafka_bootstrap, topics
    ):
        now = datetime.now(UTC)
        for n, days in enumerate([10, 3, 1, 0]):
            at = now - timedelta(days=days, minutes=5)
            await dlq_writer(
                topics.dead_letter,
                value_of(CASE_A, n),
                key=CASE_A,
                headers=dlq_headers("schema_violation", at=at, offset=n),
                timestamp_ms=int(at.timestamp() * 1000) + 20,
            )
        # A record whose Kafka timestamp is recent but which was dead-lettered long ago.
        old = now - timedelta(days=5)
        await dlq_writer(
            topics.dead_letter,
            value_of(CASE_A, 9),
            key=CASE_A,
            headers=dlq_headers("schema_violation", at=old, offset=9),
        )
        criteria = ReplayCriteria(since=now - timedelta(days=4), until=now - timedelta(hours=12))
        summary = await replay_dead_letters(kafka_settings, criteria, dry_run=True)
        # offsets_for_times skipped the 10-day-old record: it was never read.
        assert summary.scanned == 4
        assert summary.selected == 2
        assert summary.skipped == {"time": 2}

        summary = await replay_dead_letters(kafka_settings, criteria)
        copies = replayed(await read_all(kafka_bootstrap, topics.input))
        assert [c.value for c in copies] == [value_of(CASE_A, 1), value_of(CASE_A, 2)]

        # Reading starts 15 minutes before --since, in case clocks differ.
        later = await replay_dead_letters(
            kafka_settings, ReplayCriteria(since=now + timedelta(minutes=1)), dry_run=True
        )
        assert (later.scanned, later.selected) == (2, 0)
        future = await replay_dead_letters(
            kafka_settings, ReplayCriteria(since=now + timedelta(minutes=20)), dry_run=True
        )
        assert (future.scanned, future.selected) == (0, 0)

    async def test_partitions_are_read_in_order_so_the_limit_is_deterministic(
        self, kafka_settings, dlq_writer, kafka_bootstrap, topics
    ):
        dlq = f"{topics.dead_letter}-wide"
        await create_topic(kafka_bootstrap, dlq, 3)
        at = datetime.now(UTC)
        for partition in (2, 0, 1, 0, 2):
            await dlq_writer(
                dlq,
                value_of(CASE_A, partition),
                key=CASE_A,
                headers=dlq_headers("invalid_json", at=at),
                partition=partition,
            )
        settings = kafka_settings.model_copy(update={"dead_letter_topic": dlq})
        summary = await replay_dead_letters(settings, ReplayCriteria(limit=3), dry_run=True)
        assert (summary.scanned, summary.selected, summary.limit_reached) == (3, 3, True)
        summary = await replay_dead_letters(settings, ReplayCriteria(limit=3))
        copies = await read_all(kafka_bootstrap, topics.input)
        froms = sorted(dict(c.headers)["x-replayed-from"].decode() for c in copies)
        assert froms == [f"{dlq}/0/0", f"{dlq}/0/1", f"{dlq}/1/0"]

    async def test_records_dead_lettered_during_a_run_are_left_for_the_next_run(
        self, kafka_settings, seeded, kafka_bootstrap, topics
    ):
        async def dead_letter_three_more():
            producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
            await producer.start()
            try:
                for n in range(10, 13):
                    await producer.send_and_wait(
                        topics.dead_letter,
                        value_of(CASE_A, n),
                        key=CASE_A.encode(),
                        headers=dlq_headers("invalid_json", at=datetime.now(UTC), offset=n),
                    )
            finally:
                await producer.stop()

        calls = []

        def progress(done, total):
            if not calls:  # the end offsets are captured: write before anything is read
                with ThreadPoolExecutor(1) as pool:
                    pool.submit(asyncio.run, dead_letter_three_more()).result()
            calls.append((done, total))

        summary = await replay_dead_letters(kafka_settings, ReplayCriteria(), progress=progress)
        assert (summary.scanned, summary.replayed) == (len(seeded), len(seeded))
        assert calls[-1] == (5, 5)
        assert await end_offsets(kafka_bootstrap, topics.dead_letter) == 8
        copies = replayed(await read_all(kafka_bootstrap, topics.input))
        assert [c.value for c in copies] == [row["value"] for row in seeded]

    async def test_aborted_dead_letter_writes_are_not_replayed(
        self, kafka_settings, kafka_bootstrap, topics
    ):
        """The sink may write in transactions: only committed records are replayed, and the
        transaction markers do not keep a run from ending."""
        producer = AIOKafkaProducer(
            bootstrap_servers=kafka_bootstrap, transactional_id=f"dlq-test-{uuid.uuid4().hex}"
        )
        await producer.start()
        at = datetime.now(UTC)
        try:
            async with producer.transaction():
                for n in range(2):
                    await producer.send(
                        topics.dead_letter,
                        value=value_of(CASE_A, n),
                        key=CASE_A.encode(),
                        headers=dlq_headers("invalid_json", at=at, offset=n),
                    )
            await producer.begin_transaction()
            await producer.send(
                topics.dead_letter,
                value=value_of(CASE_B, 7),
                key=CASE_B.encode(),
                headers=dlq_headers("invalid_json", at=at, offset=7),
            )
            await producer.abort_transaction()
        finally:
            await producer.stop()
        summary = await asyncio.wait_for(
            replay_dead_letters(kafka_settings, ReplayCriteria(), stall_timeout_s=10), timeout=15
        )
        assert (summary.scanned, summary.replayed) == (2, 2)
        copies = replayed(await read_all(kafka_bootstrap, topics.input))
        assert [c.key for c in copies] == [CASE_A.encode(), CASE_A.encode()]

    @pytest.mark.usefixtures("seeded")
    async def test_a_missing_target_is_an_error_and_is_not_created(
        self, kafka_settings, kafka_bootstrap
    ):
        missing = f"no-such-topic-{uuid.uuid4().hex[:8]}"
        with pytest.raises(ReplayError, match=f"topic {missing} does not exist") as caught:
            await replay_dead_letters(kafka_settings, ReplayCriteria(), target_topic=missing)
        assert caught.value.summary is not None
        assert caught.value.summary.replayed == 0
        assert missing not in await topic_names(kafka_bootstrap)

    async def test_the_dead_letter_topic_is_never_a_target(self, kafka_settings):
        with pytest.raises(InvalidSelectionError):
            await replay_dead_letters(
                kafka_settings, ReplayCriteria(), target_topic=kafka_settings.dead_letter_topic
            )

    async def test_another_target_topic(self, kafka_settings, seeded, kafka_bootstrap, topics):
        target = f"{topics.input}-replay"
        await create_topic(kafka_bootstrap, target, 1)
        criteria = ReplayCriteria(reasons=frozenset({"oversize"}))
        summary = await replay_dead_letters(kafka_settings, criteria, target_topic=target)
        assert summary.replayed == 1
        [copy] = await read_all(kafka_bootstrap, target)
        assert copy.value == seeded[3]["value"]
        assert list(copy.headers)[:3] == [("dup", b"1"), ("dup", b"2"), ("empty", b"")]
        assert await end_offsets(kafka_bootstrap, topics.input) == 0

    @pytest.mark.usefixtures("seeded")
    async def test_list_counts_by_reason_and_keeps_the_newest_without_values(self, kafka_settings):
        listing = await list_dead_letters(kafka_settings, newest=2)
        assert (listing.scanned, listing.matched) == (5, 5)
        assert listing.by_reason == {
            "invalid_json": 2,
            "schema_violation": 1,
            "oversize": 1,
            "not_utf8": 1,
        }
        assert [r.offset for r in listing.newest] == [4, 3]
        assert all(r.value is None for r in listing.newest)
        filtered = await list_dead_letters(
            kafka_settings, ReplayCriteria(cases=frozenset({CASE_A})), newest=10
        )
        assert filtered.matched == 2
        assert [r.reason for r in filtered.newest] == ["oversize", "invalid_json"]


@pytest.fixture
def cli_env(monkeypatch, kafka_bootstrap, topics):
    for name in ("KAFKA_BOOTSTRAP_SERVERS", "BRIDGE_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BRIDGE_KAFKA__BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("BRIDGE_KAFKA__INPUT_TOPIC", topics.input)
    monkeypatch.setenv("BRIDGE_KAFKA__DEAD_LETTER_TOPIC", topics.dead_letter)


async def invoke(*args: str):
    """Run the CLI in a worker thread: it calls asyncio.run() itself."""
    return await asyncio.to_thread(runner.invoke, cli, ["dlq", *args])


@pytest.mark.kafka
@pytest.mark.usefixtures("cli_env")
class TestCommandLine:
    @pytest.mark.usefixtures("seeded")
    async def test_list_shows_counts_and_newest_but_never_values(self, topics):
        result = await invoke("list", "--newest", "3")
        assert result.exit_code == 0, result.output
        out = result.stdout
        assert f"{topics.dead_letter}: 5 records read, 5 matching" in out
        assert "invalid_json" in out
        assert "2" in out.splitlines()[1]
        assert CASE_C in out
        assert "from case-state-events/1/4" in out
        assert f"dlq {topics.dead_letter}/0/4" in out
        assert "+07:00" in out  # the province's time zone
        assert PHONE not in result.output
        assert "ghi_chú" not in result.output
        assert "not utf-8" not in result.output

        only = await invoke("list", "--reason", "oversize", "--case", CASE_A)
        assert only.exit_code == 0
        assert "1 matching" in only.stdout

    async def test_replay_dry_run_then_for_real(self, seeded, kafka_bootstrap, topics):
        dry = await invoke("replay", "--reason", "invalid_json", "--since", "2h", "--dry-run")
        assert dry.exit_code == 0, dry.output
        assert "5 read, 2 selected, dry run, nothing published" in dry.stdout
        assert "selected by reason: invalid_json 2" in dry.stdout
        assert "skipped by filter: reason 3" in dry.stdout
        assert await end_offsets(kafka_bootstrap, topics.input) == 0

        real = await invoke(
            "replay", "--reason", "invalid_json", "--reason", "oversize", "--case", CASE_A
        )
        assert real.exit_code == 0, real.output
        assert "2 selected, 2 replayed" in real.stdout
        assert f"{topics.dead_letter} -> {topics.input}" in real.stdout
        replay_id = real.stdout.split()[1].rstrip(":")
        copies = replayed(await read_all(kafka_bootstrap, topics.input))
        assert [c.value for c in copies] == [seeded[0]["value"], seeded[3]["value"]]
        assert all(dict(c.headers)["x-replay-id"] == replay_id.encode() for c in copies)

        limited = await invoke("replay", "--limit", "1", "--to-topic", topics.input)
        assert limited.exit_code == 0
        assert "1 replayed" in limited.stdout
        assert "stopped at --limit" in limited.stdout
        assert await end_offsets(kafka_bootstrap, topics.input) == 3

    async def test_kafka_errors_exit_1(self, topics, monkeypatch):
        result = await invoke("replay", "--to-topic", f"{topics.input}-absent")
        assert result.exit_code == 1
        assert "does not exist" in result.stderr
        monkeypatch.setenv("BRIDGE_KAFKA__DEAD_LETTER_TOPIC", f"{topics.dead_letter}-absent")
        assert (await invoke("list")).exit_code == 1


class TestCommandLineOptions:
    """Refused before any connection, so they need no broker."""

    @pytest.fixture(autouse=True)
    def unreachable(self, monkeypatch):
        for name in ("KAFKA_BOOTSTRAP_SERVERS", "BRIDGE_CONFIG_FILE"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("BRIDGE_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:1")

    @pytest.mark.parametrize(
        "args",
        [
            ["replay", "--since", "yesterday"],
            ["replay", "--until", "2026-03-10T09:00:00"],
            ["replay", "--since", "1h", "--until", "2h"],
            ["replay", "--reason", "no_such_reason"],
            ["replay", "--limit", "0"],
            ["replay", "--to-topic", "case-state-events.dlq"],
            ["list", "--since", "3x"],
        ],
    )
    async def test_invalid_options_exit_2(self, args):
        result = await invoke(*args)
        assert result.exit_code == 2, result.output

    async def test_invalid_settings_exit_2(self, monkeypatch):
        monkeypatch.setenv("BRIDGE_KAFKA__BOOTSTRAP_SERVERS", "no-port")
        result = await invoke("list")
        assert result.exit_code == 2
        assert "BRIDGE_KAFKA__BOOTSTRAP_SERVERS" in result.output

    async def test_an_unreachable_broker_exits_1(self):
        result = await invoke("replay", "--dry-run")
        assert result.exit_code == 1
        assert "cannot connect" in result.stderr
