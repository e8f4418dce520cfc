"""A tiny benchmark run end to end: broker, emulator, bridge and naive baseline as processes."""

from __future__ import annotations

import sys
import time

import pytest

from bridge_devkit.bench import BenchConfig, run_bench
from bridge_devkit.bench_report import SECTIONS, evaluate_targets


@pytest.mark.kafka
@pytest.mark.e2e
def test_a_tiny_run_measures_every_phase_and_writes_the_report(tmp_path, kafka_bootstrap):
    config = BenchConfig(
        workdir=tmp_path / "work",
        report=tmp_path / "docs" / "benchmarks.md",
        draw_plot=False,  # matplotlib belongs to `make bench` (the dev kit's plot extra)
        events=300,
        events_per_case=5,
        partitions=3,
        fixed_rate=500.0,
        fixed_seconds=0.4,
        fixed_repeats=1,
        rates=(),
        point_seconds=1.0,
        point_max_events=300,
        warmup_events=20,
        naive_events=100,
        naive_seconds=1.5,
        raw_http_seconds=0.5,
        rate_limit_backlog=600,
        rate_limit_warmup_s=1.0,
        rate_limit_window_s=2.5,
        stall_s=15.0,
        workers=2,
        workers_events=200,
        memory_points=((100, 20), (100, 100)),
        deadline_s=140.0,
        bootstrap_servers=kafka_bootstrap,
        progress=lambda line: sys.stderr.write(f"[bench] {line}\n"),
    )
    began = time.monotonic()

    results = run_bench(config)

    assert results.errors == []
    assert time.monotonic() - began < 150  # a hang, not a speed: speeds are `make bench`'s
    saturation = results.saturation
    assert saturation is not None
    assert saturation.delivered == 300
    assert results.workers is not None
    assert results.workers.delivered == 200, "two workers in one pod drained their backlog"
    assert "bridge, 2 workers in one pod" in config.report.read_text(encoding="utf-8")
    few, many = results.memory
    assert (few.cases, few.delivered, many.cases, many.delivered) == (20, 100, 100, 100)
    assert few.peak_rss_bytes is not None
    assert many.peak_rss_bytes is not None
    assert 20 < saturation.throughput < 100_000
    assert saturation.peak_rss_bytes is not None
    assert 20e6 < saturation.peak_rss_bytes < 2e9
    assert saturation.cpu_per_1000("bridge") is not None
    assert results.naive is not None
    assert 0 < results.naive.throughput < 100  # one at a time against 50 ms: ≤ 20/s
    assert results.raw_consume is not None
    assert results.raw_consume.records == 300
    assert results.raw_http
    assert results.raw_http_primary is not None
    assert results.raw_http_primary.throughput > 0
    [point] = results.points_at(500.0)
    assert point.delivered == point.published == 200
    assert point.latency is not None
    assert 0 < point.latency.p50 <= point.latency.p99 < 10_000
    rate = results.rate_limit
    assert rate is not None
    assert rate.minus_32 == 0
    assert 0 < rate.achieved_per_minute < 5000

    text = config.report_path.read_text(encoding="utf-8")
    for heading in SECTIONS:
        assert f"\n{heading}\n" in text
    assert all(target.ok is not None for target in evaluate_targets(results))
    assert not config.plot_path.exists()
    assert "(benchmarks-throughput.png)" not in text
    assert (config.workdir / "results.json").is_file()
