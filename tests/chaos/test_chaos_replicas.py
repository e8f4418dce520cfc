"""The multi-replica chaos, reduced for `make test`: replicas on PostgreSQL, scaled and killed,
a Zalo outage over a rebalance, broker and PostgreSQL restarts; every check must pass."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest

from bridge_devkit.chaos import CHECK_STATUS_ONE
from bridge_devkit.chaos_replicas import (
    CHECK_ANNOUNCEMENT,
    CHECK_OFFSETS,
    CHECK_RECOVERY,
    CHECK_SCALING,
    CHECK_STOPS,
    CHECK_TOKENS,
    ReplicaChaosConfig,
    main,
    run_replica_chaos,
)


@pytest.mark.kafka
@pytest.mark.postgres
@pytest.mark.e2e
def test_reduced_replica_chaos_keeps_every_guarantee(tmp_path):
    # Shorter bridge timings than the chart's (lease, breaker, Zalo timeout), so that the run
    # fits in `make test`; `make chaos` runs the full size on the chart's defaults.
    config = ReplicaChaosConfig(
        workdir=tmp_path,
        events=1_000,
        cases=100,
        partitions=6,
        replicas=3,
        scale_steps=(4, 2, 3),
        kills=3,
        outage_s=10,
        audience=200,
        token_life_s=20,
        publish_seconds=45,
        fast_timings=True,
        deadline_s=300,
        drain_limit_s=90,
        progress=lambda line: sys.stderr.write(f"[chaos] {line}\n"),
    )

    report = run_replica_chaos(config)

    assert report.error is None, report.table()
    assert report.failed == [], report.table()
    names = [check.name for check in report.checks]
    for check in (
        CHECK_STATUS_ONE,
        CHECK_OFFSETS,
        CHECK_RECOVERY,
        CHECK_SCALING,
        CHECK_ANNOUNCEMENT,
        CHECK_TOKENS,
    ):
        assert check in names
    assert report.figures["announcement messages"] == 200
    spread = report.figures["records with 0 / 1 / 2 / 3+ status events"]
    assert spread == {"0": 0, "1": 1_000, "2": 0, "3+": 0}
    assert report.figures["kills (SIGKILL)"] == 3
    stops = report.figures["SIGTERM stops (s, status)"]
    assert stops
    assert all(status == 0 for _seconds, status in stops), stops
    assert CHECK_STOPS in names
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["ok"] is True


def test_the_command_line_takes_the_runs_and_the_shape(monkeypatch, tmp_path, capsys):
    seen: list[ReplicaChaosConfig] = []

    def fake_run(config: ReplicaChaosConfig):
        seen.append(config)
        from bridge_devkit.chaos import ChaosReport, CheckResult  # noqa: PLC0415

        return ChaosReport(checks=[CheckResult("run completed", ok=len(seen) != 2, detail="")])

    monkeypatch.setattr("bridge_devkit.chaos_replicas.run_replica_chaos", fake_run)
    status = main(["--workdir", str(tmp_path), "--runs", "3", "--scale", "5,2,3", "--fast"])
    assert status == 1
    assert [c.seed for c in seen] == [seen[0].seed, seen[0].seed + 1, seen[0].seed + 2]
    assert [c.workdir.name for c in seen] == ["run-1", "run-2", "run-3"]
    assert all(c.scale_steps == (5, 2, 3) and c.fast_timings for c in seen)
    assert "2 of 3 runs passed every check" in capsys.readouterr().out


def test_a_committed_offset_that_goes_back_is_caught():
    from aiokafka import TopicPartition  # noqa: PLC0415
    from aiokafka.structs import OffsetAndMetadata  # noqa: PLC0415

    from bridge_devkit.chaos import ChaosReport  # noqa: PLC0415
    from bridge_devkit.chaos_replicas import _note_offsets, _State  # noqa: PLC0415

    schedule = random.Random(0)  # noqa: S311 - the run's reproducible schedule, not crypto
    state = _State(ReplicaChaosConfig(workdir=Path("unused")), ChaosReport(), print, schedule)
    tps = [TopicPartition("in", 0), TopicPartition("in", 1)]
    ends = dict.fromkeys(tps, 600)

    def sample(first: int, second: int) -> None:
        committed = {tps[0]: OffsetAndMetadata(first, ""), tps[1]: OffsetAndMetadata(second, "")}
        _note_offsets(state, committed, ends, tps)

    sample(528, 10)
    sample(500, 12)
    assert state.went_back == ["p0: 528 → 500"]
    assert state.last_lag == (600 - 500) + (600 - 12)
