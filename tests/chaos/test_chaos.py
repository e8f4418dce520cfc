"""The chaos suite: its workload, its verdicts on hand-made results, and a reduced real run."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
from collections import Counter
from datetime import UTC, datetime

import pytest

from bridge.errors import InvalidEventError
from bridge.events import parse_event
from bridge.status import DeliveryStatusEvent, SourceRecord
from bridge.templates import render_message
from bridge_devkit import chaos
from bridge_devkit.chaos import (
    CHECKS,
    AcceptedMessage,
    ChaosConfig,
    ChaosReport,
    CheckResult,
    DeadLetter,
    Observations,
    PublishedRecord,
    RecordKind,
    WorkloadSpec,
    expected_statuses,
    generate_workload,
    message_context,
    run_chaos,
    verify,
)

TOPIC = "case-state-events"
PARTITIONS = 3
SMALL = WorkloadSpec(events=400, cases=20, seed=7)


@pytest.fixture(scope="module")
def workload():
    return generate_workload(SMALL)


# ---------------------------------------------------------------------------- the workload


class TestWorkload:
    def test_counts_follow_the_ratios(self):
        workload = generate_workload(WorkloadSpec(events=10_000, cases=500))
        counts = Counter(record.kind for record in workload.records)

        assert len(workload.records) == 10_000
        assert counts[RecordKind.INVALID] == 200
        assert counts[RecordKind.DUPLICATE] == 100
        assert counts[RecordKind.STALE] == 100
        assert 200 <= counts[RecordKind.NOT_FOLLOWER] <= 260
        assert len(workload.cases) == 500

    def test_every_message_is_unique_and_is_what_the_bridge_words(self, workload):
        context = message_context()
        seen = set()
        for record in workload.records:
            if record.kind in {RecordKind.INVALID, RecordKind.DUPLICATE}:
                continue
            message = render_message(parse_event(record.value, max_bytes=65536), context)
            assert message is not None
            assert message.text == record.text
            assert (record.user_id, record.text) not in seen
            seen.add((record.user_id, record.text))
        assert len(seen) == sum(
            r.kind not in {RecordKind.INVALID, RecordKind.DUPLICATE} for r in workload.records
        )

    def test_event_ids_are_unique_except_for_exact_duplicates(self, workload):
        records = workload.records
        ids = Counter(r.event_id for r in records if r.kind is not RecordKind.INVALID)
        for record in records:
            if record.kind is RecordKind.DUPLICATE:
                original = records[record.original]
                assert original.index < record.index
                assert (record.value, record.key, record.event_id) == (
                    original.value,
                    original.key,
                    original.event_id,
                )
        repeated = {event_id for event_id, n in ids.items() if n > 1}
        duplicated = {r.event_id for r in records if r.kind is RecordKind.DUPLICATE}
        assert repeated == duplicated

    def test_sequences_increase_per_case_and_stale_events_come_after_a_newer_one(self, workload):
        newest: dict[str, int] = {}
        stale = 0
        for record in workload.records:
            if record.kind in {RecordKind.INVALID, RecordKind.DUPLICATE}:
                continue
            before = newest.get(record.case_code, -1)
            if record.kind is RecordKind.STALE:
                stale += 1
                assert record.sequence < before
                assert record.text is not None
                assert "Phòng xử lý số" in record.text
            else:
                assert record.sequence > before
                newest[record.case_code] = record.sequence
            assert record.key == record.case_code.encode()
        assert stale == 4

    def test_each_case_reads_received_transfers_result(self, workload):
        case = workload.cases[0]
        states = [
            json.loads(r.value)["state"]
            for r in workload.records
            if r.case_code == case and r.kind in {RecordKind.DELIVERABLE, RecordKind.NOT_FOLLOWER}
        ]
        assert states[0] == "RECEIVED"
        assert states[-1] == "RESULT_READY"
        assert set(states[1:-1]) == {"IN_PROGRESS"}

    def test_invalid_records_fail_to_parse_in_six_ways(self, workload):
        invalid = [r for r in workload.records if r.kind is RecordKind.INVALID]
        for record in invalid:
            with pytest.raises(InvalidEventError):
                parse_event(record.value, max_bytes=65536)
        assert {r.form for r in invalid} == {
            "invalid_json",
            "unknown_state",
            "not_utf8",
            "huge_integer",
            "deep_nesting",
            "sequence_past_int64",
        }

    def test_strangers_are_not_followers(self, workload):
        followers, strangers = set(workload.followers), set(workload.strangers)

        assert not followers & strangers
        for record in workload.records:
            if record.kind is RecordKind.NOT_FOLLOWER:
                assert record.user_id in strangers
            elif record.kind in {RecordKind.DELIVERABLE, RecordKind.STALE}:
                assert record.user_id in followers

    def test_same_seed_same_records(self):
        first = generate_workload(WorkloadSpec(events=200, cases=10, seed=3))
        again = generate_workload(WorkloadSpec(events=200, cases=10, seed=3))
        other = generate_workload(WorkloadSpec(events=200, cases=10, seed=4))

        assert first == again
        assert first.records != other.records

    def test_one_event_per_dossier(self):
        spec = WorkloadSpec(
            events=300,
            cases=300,
            invalid_ratio=0.0,
            non_follower_ratio=0.0,
            duplicate_ratio=0.0,
            stale_ratio=0.0,
        )
        workload = generate_workload(spec)

        assert [r.case_code for r in workload.records].count(workload.cases[0]) == 1
        assert len({r.case_code for r in workload.records}) == 300

    def test_more_dossiers_than_one_day_s_serials_are_filed_on_earlier_days(self):
        codes = [chaos.case_code(n) for n in (0, 99_998, 99_999, 199_997, 199_998)]

        assert codes == [
            "000.20.31.H56-261130-00001",
            "000.20.31.H56-261130-99999",
            "000.20.31.H56-261129-00001",
            "000.20.31.H56-261129-99999",
            "000.20.31.H56-261128-00001",
        ]
        assert len({chaos.case_code(n) for n in range(0, 300_000, 7)}) == len(range(0, 300_000, 7))

    def test_too_few_events_for_the_cases_is_refused(self):
        with pytest.raises(ValueError, match="fewer than 2 per case"):
            generate_workload(WorkloadSpec(events=100, cases=60))
        with pytest.raises(ValueError, match="fewer than 1 per case"):
            generate_workload(WorkloadSpec(events=50, cases=60, stale_ratio=0.0))

    def test_duplicates_may_also_be_suppressed(self, workload):
        records = workload.records
        duplicate = next(r for r in records if r.kind is RecordKind.DUPLICATE)

        assert "suppressed" in expected_statuses(duplicate, records)
        assert expected_statuses(records[duplicate.original], records) <= expected_statuses(
            duplicate, records
        )


# ---------------------------------------------------------------------------- verification


def _status(record, published, status, message_id=None, event_id=None):
    return DeliveryStatusEvent(
        event_id=event_id or record.event_id,
        case_code=record.case_code,
        status=status,
        zalo_message_id=message_id,
        attempts=1,
        settled_at=datetime.now(UTC),
        source=SourceRecord(topic=TOPIC, partition=published.partition, offset=published.offset),
    ).model_dump_json()


def _perfect(workload) -> Observations:
    """What a correct bridge leaves behind for `workload`."""
    offsets = Counter()
    published = []
    for record in workload.records:
        partition = int(record.key[-1:]) % PARTITIONS
        published.append(PublishedRecord(record, partition, offsets[partition]))
        offsets[partition] += 1
    accepted, statuses, dead = [], [], []
    message_of = {}
    for p in published:
        record = p.planned
        if record.kind is RecordKind.DELIVERABLE:
            message_id = f"m{record.index:019d}"
            message_of[record.index] = message_id
            accepted.append(
                AcceptedMessage(len(accepted) + 1, record.user_id, record.text, message_id)
            )
            statuses.append(_status(record, p, "delivered", message_id))
        elif record.kind is RecordKind.INVALID:
            dead.append(DeadLetter(record.value, (TOPIC, p.partition, p.offset)))
            statuses.append(_status(record, p, "dead_lettered", event_id=None))
        elif record.kind is RecordKind.NOT_FOLLOWER:
            statuses.append(_status(record, p, "failed"))
        elif record.kind is RecordKind.STALE:
            statuses.append(_status(record, p, "suppressed"))
        else:  # a duplicate: settled like its original, with the same message
            original = workload.records[record.original]
            status = {"deliverable": "delivered", "not_follower": "failed"}[original.kind.value]
            statuses.append(_status(record, p, status, message_of.get(original.index)))
    return Observations(
        topic=TOPIC,
        published=tuple(published),
        accepted=tuple(accepted),
        dead_letters=tuple(dead),
        statuses=tuple(s.encode() for s in statuses),
        committed=dict(offsets),
        end_offsets=dict(offsets),
    )


def _failed(observations: Observations) -> dict[str, CheckResult]:
    return {check.name: check for check in verify(observations) if not check.ok}


def _first(observations, kind):
    return next(p for p in observations.published if p.planned.kind is kind)


@pytest.fixture
def perfect(workload) -> Observations:
    return _perfect(workload)


class TestVerify:
    def test_a_correct_run_passes_every_check(self, perfect):
        checks = verify(perfect)

        assert [c.name for c in checks] == list(CHECKS[1:10])
        assert all(c.ok for c in checks), [c for c in checks if not c.ok]

    def test_a_duplicate_is_detected(self, perfect):
        copy = dataclasses.replace(perfect.accepted[5], seq=10_000)

        failed = _failed(dataclasses.replace(perfect, accepted=(*perfect.accepted, copy)))

        assert set(failed) == {chaos.CHECK_ONCE}
        assert failed[chaos.CHECK_ONCE].violations == 1

    def test_a_reorder_within_a_case_is_detected(self, perfect):
        accepted = list(perfect.accepted)
        by_case = {}
        for n, message in enumerate(accepted):
            by_case.setdefault(message.text.split("Mã hồ sơ: ")[1][:26], []).append(n)
        first, second = next(ns for ns in by_case.values() if len(ns) > 2)[:2]
        accepted[first], accepted[second] = accepted[second], accepted[first]

        failed = _failed(dataclasses.replace(perfect, accepted=tuple(accepted)))

        assert set(failed) == {chaos.CHECK_ORDER}

    def test_an_interleaving_of_different_cases_is_not_a_reorder(self, perfect):
        accepted = list(perfect.accepted)
        # Two adjacent messages of different cases may arrive either way round.
        n = next(
            i
            for i in range(len(accepted) - 1)
            if accepted[i].text.split("Mã hồ sơ: ")[1][:26]
            != accepted[i + 1].text.split("Mã hồ sơ: ")[1][:26]
        )
        accepted[n], accepted[n + 1] = accepted[n + 1], accepted[n]

        assert not _failed(dataclasses.replace(perfect, accepted=tuple(accepted)))

    def test_a_stale_delivery_is_detected(self, perfect):
        stale = _first(perfect, RecordKind.STALE).planned
        delivered = AcceptedMessage(99_999, stale.user_id, stale.text, "stale-id")

        failed = _failed(dataclasses.replace(perfect, accepted=(*perfect.accepted, delivered)))

        assert set(failed) == {chaos.CHECK_STALE}

    def test_a_lost_event_is_detected(self, perfect):
        failed = _failed(dataclasses.replace(perfect, accepted=perfect.accepted[1:]))

        assert chaos.CHECK_DELIVERED in failed
        assert failed[chaos.CHECK_DELIVERED].violations == 1

    def test_an_unknown_message_is_detected(self, perfect):
        stray = AcceptedMessage(99_999, perfect.accepted[0].user_id, "Xin chào", "x")

        failed = _failed(dataclasses.replace(perfect, accepted=(*perfect.accepted, stray)))

        assert set(failed) == {chaos.CHECK_STRAY}

    def test_a_missing_status_is_detected(self, perfect):
        failed = _failed(dataclasses.replace(perfect, statuses=perfect.statuses[:-1]))

        assert set(failed) == {chaos.CHECK_STATUS_ONE}
        assert "1 records without one" in failed[chaos.CHECK_STATUS_ONE].detail

    def test_a_double_status_is_detected(self, perfect):
        doubled = (*perfect.statuses, perfect.statuses[3])

        failed = _failed(dataclasses.replace(perfect, statuses=doubled))

        assert set(failed) == {chaos.CHECK_STATUS_ONE}
        assert "1 extra" in failed[chaos.CHECK_STATUS_ONE].detail

    def test_no_status_at_all_fails_both_status_checks(self, perfect):
        failed = _failed(dataclasses.replace(perfect, statuses=()))

        assert set(failed) == {chaos.CHECK_STATUS_ONE, chaos.CHECK_STATUS_VALUE}

    def test_a_malformed_status_is_detected(self, perfect):
        statuses = (*perfect.statuses[1:], b'{"status": "delivered"}')

        failed = _failed(dataclasses.replace(perfect, statuses=statuses))

        assert "1 not valid DeliveryStatusEvent" in failed[chaos.CHECK_STATUS_ONE].detail

    def test_a_wrong_status_is_detected(self, perfect):
        stranger = _first(perfect, RecordKind.NOT_FOLLOWER)
        statuses = [
            s
            for s in perfect.statuses
            if json.loads(s)["source"]["offset"] != stranger.offset
            or json.loads(s)["source"]["partition"] != stranger.partition
        ]
        statuses.append(_status(stranger.planned, stranger, "dead_lettered").encode())

        failed = _failed(dataclasses.replace(perfect, statuses=tuple(statuses)))

        assert set(failed) == {chaos.CHECK_STATUS_VALUE}
        assert "not_follower → dead_lettered" in failed[chaos.CHECK_STATUS_VALUE].detail

    def test_a_status_naming_another_message_is_detected(self, perfect):
        delivered = None
        statuses = []
        for value in perfect.statuses:
            document = json.loads(value)
            if delivered is None and document["status"] == "delivered":
                delivered = document
                document["zalo_message_id"] = "not-the-emulators"
            statuses.append(json.dumps(document).encode())

        failed = _failed(dataclasses.replace(perfect, statuses=tuple(statuses)))

        assert "zalo_message_id not the emulator's" in failed[chaos.CHECK_STATUS_VALUE].detail

    def test_a_suppressed_duplicate_is_fine(self, perfect):
        duplicate = _first(perfect, RecordKind.DUPLICATE)
        statuses = [
            s
            for s in perfect.statuses
            if (json.loads(s)["source"]["partition"], json.loads(s)["source"]["offset"])
            != (duplicate.partition, duplicate.offset)
        ]
        statuses.append(_status(duplicate.planned, duplicate, "suppressed").encode())

        assert not _failed(dataclasses.replace(perfect, statuses=tuple(statuses)))

    @pytest.mark.parametrize("flaw", ["missing", "not-invalid", "altered", "doubled", "anonymous"])
    def test_a_wrong_dlq_is_detected(self, perfect, flaw):
        dead = list(perfect.dead_letters)
        valid = _first(perfect, RecordKind.DELIVERABLE)
        if flaw == "missing":
            dead.pop()
        elif flaw == "not-invalid":
            dead.append(DeadLetter(valid.planned.value, (TOPIC, valid.partition, valid.offset)))
        elif flaw == "altered":
            dead[0] = dataclasses.replace(dead[0], value=dead[0].value + b" ")
        elif flaw == "doubled":
            dead.append(dead[0])
        else:
            dead.append(DeadLetter(b"?", None))

        failed = _failed(dataclasses.replace(perfect, dead_letters=tuple(dead)))

        assert set(failed) == {chaos.CHECK_DLQ}
        assert failed[chaos.CHECK_DLQ].violations == 1

    def test_uncommitted_offsets_are_detected(self, perfect):
        committed = dict(perfect.committed)
        committed[0] -= 3

        failed = _failed(dataclasses.replace(perfect, committed=committed))

        assert set(failed) == {chaos.CHECK_COMMITTED}
        assert failed[chaos.CHECK_COMMITTED].violations == 3


class TestReport:
    def test_ok_only_when_every_check_passes(self):
        report = ChaosReport(checks=[CheckResult("a", ok=True, detail="fine")])
        assert report.ok

        report.checks.append(CheckResult("b", ok=False, detail="broken", violations=2))
        assert not report.ok
        assert report.failed == ["b"]
        assert report.check("b").violations == 2

    def test_an_error_fails_the_report(self):
        report = ChaosReport(checks=[CheckResult("a", ok=True, detail="")], error="boom")

        assert not report.ok

    def test_table_and_json(self):
        report = ChaosReport(
            checks=[
                CheckResult("delivered", ok=True, detail="9 of 9"),
                CheckResult("x", ok=False, detail="1"),
            ],
            figures={"duration (s)": 12.34, "faults": {"http": 3}, "lags": [1, 2]},
            notes=["a note"],
        )

        table = report.table()

        assert "delivered  PASS    9 of 9" in table
        assert "x          FAIL    1" in table
        assert "duration (s)  12.3" in table
        assert "http: 3" in table
        assert "  - a note" in table
        assert table.endswith("RESULT: FAIL")
        assert json.loads(json.dumps(report.to_json()))["ok"] is False


def test_settings_the_bridge_lacks_are_left_out():
    kept, dropped = chaos._keep_supported(
        {"BRIDGE_KAFKA__STATUS_TOPIC": "s", "BRIDGE_ZALO__TIMEOUT_SECONDS": "1"},
        {"kafka": {"input_topic"}, "zalo": {"timeout_seconds"}},
    )

    assert kept == {"BRIDGE_ZALO__TIMEOUT_SECONDS": "1"}
    assert dropped == ["BRIDGE_KAFKA__STATUS_TOPIC"]


def test_the_cli_defaults_are_the_full_suite():
    args = chaos._build_parser().parse_args([])

    assert (args.events, args.cases, args.kills, args.broker_restarts) == (10_000, 500, 5, 1)
    assert args.partitions == 6


# ---------------------------------------------------------------------------- a real run


@pytest.mark.kafka
@pytest.mark.e2e
def test_reduced_chaos_run_keeps_every_guarantee(tmp_path):
    # The session broker cannot be restarted by this test, so the run starts its own; only
    # without Java does it fall back to KAFKA_BOOTSTRAP_SERVERS, without the broker restart.
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS") if shutil.which("java") is None else None
    config = ChaosConfig(
        workdir=tmp_path,
        events=1000,
        cases=100,
        rate=100,
        kills=2,
        broker_restarts=0 if external else 1,
        token_windows=1,
        latency_spikes=1,
        rate_limit_bursts=1,
        deadline_s=110,
        drain_timeout_s=45,
        bootstrap_servers=external,
        allow_no_broker_restart=bool(external),
        progress=lambda line: sys.stderr.write(f"[chaos] {line}\n"),
    )

    report = run_chaos(config)

    assert report.error is None, report.table()
    assert report.failed == [], report.table()
    assert [check.name for check in report.checks] == list(CHECKS)
    assert report.figures["kills"] == 2
    assert report.figures["records published"] == 1000
    assert report.figures["duration (s)"] < 110
    assert (tmp_path / "report.json").is_file()
