"""The benchmark's pure parts: percentiles, ratios, targets, the sweep plan and the report."""

from __future__ import annotations

import dataclasses
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bridge.quiet_hours.window import QuietWindow, parse_clock_time
from bridge_devkit import bench
from bridge_devkit.bench_report import (
    SECTIONS,
    BenchResults,
    LatencyStats,
    LoadPoint,
    Machine,
    MemoryPoint,
    NaiveRun,
    PlotUnavailableError,
    ProcessUsage,
    RateLimitRun,
    RawConsume,
    RawHttp,
    SaturationRun,
    evaluate_targets,
    latency_stats,
    max_in_window,
    percentile,
    ratio,
    render_markdown,
    render_plot,
)
from bridge_devkit.harness import cpu_seconds, machine_busy_seconds, peak_rss_bytes

# ---------------------------------------------------------------------------- arithmetic


class TestPercentile:
    def test_interpolates_between_ranks_like_numpy(self):
        values = [15, 20, 35, 40, 50]

        assert percentile(values, 0) == 15
        assert percentile(values, 50) == 35
        assert percentile(values, 100) == 50
        assert percentile(values, 40) == pytest.approx(29.0)  # rank 1.6: 20 + 0.6 × 15
        assert percentile(values, 95) == pytest.approx(48.0)

    def test_order_does_not_matter(self):
        assert percentile([3, 1, 2], 50) == percentile([1, 2, 3], 50) == 2

    def test_one_value_is_every_percentile(self):
        assert percentile([7.5], 1) == percentile([7.5], 99) == 7.5

    def test_p99_of_1_to_100(self):
        assert percentile(list(range(1, 101)), 99) == pytest.approx(99.01)

    @pytest.mark.parametrize(("values", "q"), [([], 50), ([1.0], -1), ([1.0], 101)])
    def test_refuses_what_has_no_percentile(self, values, q):
        with pytest.raises(ValueError, match=r"percentile|q must"):
            percentile(values, q)


def test_latency_stats_are_in_milliseconds():
    stats = latency_stats([0.010, 0.020, 0.030, 0.040, 1.0])

    assert stats == LatencyStats(
        count=5,
        p50=pytest.approx(30.0),
        p95=pytest.approx(808.0),
        p99=pytest.approx(961.6),
        max=pytest.approx(1000.0),
        mean=pytest.approx(220.0),
    )
    assert latency_stats([]) is None


class TestRatio:
    def test_divides(self):
        assert ratio(1000, 20) == 50

    @pytest.mark.parametrize(("a", "b"), [(None, 1.0), (1.0, None), (1.0, 0.0), (1.0, -2.0)])
    def test_is_none_without_a_meaningful_divisor(self, a, b):
        assert ratio(a, b) is None


class TestMaxInWindow:
    def test_counts_the_busiest_window(self):
        times = [0.0, 10.0, 59.9, 60.0, 61.0, 200.0]

        assert max_in_window(times, 60.0) == 4  # 10.0, 59.9, 60.0, 61.0

    def test_a_window_is_half_open(self):
        assert max_in_window([0.0, 60.0], 60.0) == 1

    def test_empty_and_unordered(self):
        assert max_in_window([], 60.0) == 0
        assert max_in_window([5.0, 1.0, 3.0], 10.0) == 3


# ---------------------------------------------------------------------------- results and targets


def _results(**changes) -> BenchResults:
    """A complete run that meets every target."""
    results = BenchResults(
        started_at="2026-11-29T10:00:00+00:00",
        duration_s=840.0,
        settings={"emulator latency": "50 ms"},
        bridge_settings={"BRIDGE_DELIVERY__RATE_LIMIT_PER_MINUTE": "0"},
        machine=Machine(
            cpu_model="Test CPU",
            logical_cpus=2,
            usable_cpus="2",
            memory="8.0 GiB",
            os="Linux",
            python="CPython 3.11.7",
            kafka="Apache Kafka 4.0.2",
            libraries={"httpx": "0.28.1"},
            bridge_revision="git abc1234",
        ),
        saturation=SaturationRun(
            events=100_000,
            cases=10_000,
            delivered=100_000,
            first_to_last_s=40.0,
            throughput=2500.0,
            wall_s=45.0,
            ready_s=1.5,
            first_delivery_s=2.0,
            publish_rate=30_000.0,
            peak_rss_bytes=150_000_000,
            usage=(
                ProcessUsage("bridge", 36.0, 40.0),
                ProcessUsage("emulator", 20.0, 40.0),
            ),
        ),
        naive=NaiveRun(delivered=600, window_s=30.0, throughput=20.0, max_workers=1, cpu_s=1.0),
        raw_consume=RawConsume(records=100_000, seconds=1.0, throughput=100_000.0),
        raw_http=[
            RawHttp(
                "aiohttp",
                1000,
                200,
                60_000,
                15.0,
                4000.0,
                0,
                0,
                primary=True,
                client_cpu_per_1000=0.18,
            ),
            RawHttp("httpcore", 1000, 200, 1500, 15.0, 100.0, 10, 900, primary=False),
        ],
        points=[
            LoadPoint(
                "250/s", 250.0, 3750, 15.0, 3750, 250.0, latency_stats([0.02] * 10), 1.0, 0.4
            ),
            LoadPoint(
                "500/s (latency target)",
                500.0,
                15_000,
                30.0,
                15_000,
                499.0,
                latency_stats([0.03] * 99 + [0.2]),
                0.9,
                0.4,
            ),
        ],
        rate_limit=RateLimitRun(
            limit_per_minute=4000,
            backlog=20_000,
            warmup_s=5.0,
            window_s=240.0,
            delivered_in_window=15_760,
            achieved_per_minute=3940.0,
            minus_32=0,
            calls=16_200,
            max_in_60s=3973,
            max_in_calendar_minute=3960,
        ),
        memory=[
            MemoryPoint(20_000, 5_000, 20_000, 118_000_000, 60.0),
            MemoryPoint(100_000, 100_000, 100_000, 125_000_000, 220.0),
        ],
    )
    return dataclasses.replace(results, **changes)


def _verdicts(results: BenchResults) -> list[str]:
    return [target.verdict for target in evaluate_targets(results)]


class TestTargets:
    def test_a_run_meeting_every_target_passes_all_ten(self):
        assert _verdicts(_results()) == ["PASS"] * 10

    def test_cpu_per_event_is_the_bridge_process_s_over_what_it_delivered(self):
        target = evaluate_targets(_results())[0]
        assert target.measured == "0.36 ms"  # 36 CPU s over 100,000 events
        busy = dataclasses.replace(
            _results().saturation, usage=(ProcessUsage("bridge", 140.0, 40.0),)
        )
        assert evaluate_targets(_results(saturation=busy))[0].verdict == "FAIL"

    def test_the_raw_ceiling_is_the_bridges_http_client_alone(self):
        results = _results()

        target = evaluate_targets(results)[2]
        assert target.measured.startswith("62% (2,500 / 4,000)")  # not the reference's 100/s

    def test_each_miss_fails_its_own_target(self):
        slow = dataclasses.replace(_results().saturation, throughput=900.0)
        results = _results(saturation=slow)

        # 900/s: under 1,000/s, 22.5 % of the raw HTTP ceiling, 45× the naive baseline.
        assert _verdicts(results) == [
            "PASS",
            "FAIL",
            "FAIL",
            "FAIL",
            "PASS",
            "PASS",
            "PASS",
            "PASS",
            "PASS",
            "PASS",
        ]

    def test_p99_and_rss_and_rate_limit(self):
        results = _results()
        point = dataclasses.replace(results.points[1], latency=latency_stats([0.16] * 10))
        heavy = dataclasses.replace(results.saturation, peak_rss_bytes=151_000_000)
        rate = dataclasses.replace(results.rate_limit, achieved_per_minute=3900.0, minus_32=3)

        verdicts = _verdicts(
            _results(points=[results.points[0], point], saturation=heavy, rate_limit=rate)
        )

        assert verdicts == ["PASS"] * 4 + ["FAIL"] * 4 + ["PASS", "PASS"]

    def test_repeated_runs_at_the_target_rate_are_pooled(self):
        results = _results()
        good = results.points[1]
        bad = dataclasses.replace(good, label="500/s 3/3", latency=latency_stats([9.0] * 10))
        pooled = latency_stats([0.03] * 9000 + [9.0] * 1000)

        target = evaluate_targets(
            _results(
                points=[results.points[0], good, good, bad], fixed_rate=500.0, fixed_latency=pooled
            )
        )[4]

        assert target.verdict == "FAIL"
        assert target.measured == "9,000 ms (pooled over 3 runs: 32 / 32 / 9,000 ms)"

    def test_what_was_not_measured_says_so(self):
        results = BenchResults(started_at="2026-11-29T10:00:00+00:00")

        assert _verdicts(results) == ["NOT MEASURED"] * 10

    def test_a_run_smaller_than_the_target_is_only_indicative(self):
        small = dataclasses.replace(_results().saturation, events=5000, delivered=5000)
        targets = evaluate_targets(_results(saturation=small))

        assert targets[1].verdict == "PASS*"
        assert targets[5].verdict == "PASS*"
        assert "over 5,000 events, not 100,000" in targets[1].caveat


class TestBaseline:
    def test_the_issue_s_figures_stand_beside_this_run_s(self):
        pod = dataclasses.replace(_results().saturation, throughput=4000.0)
        text = render_markdown(_results(workers=pod), None)

        assert "| figure | before | this run |" in text
        assert "| saturation throughput | 445 events/s | 2,500 events/s |" in text
        assert "| bridge CPU per event | 1.67 ms | 0.36 ms |" in text
        assert "| bridge / raw HTTP | 24% | 62% |" in text
        assert "| peak RSS | 176 MB | 150 MB |" in text
        assert "| 2 workers in one pod / one process | — | 1.60× (4,000 / 2,500) |" in text

    def test_what_was_not_measured_is_a_dash(self):
        text = render_markdown(BenchResults(started_at="2026-11-29T10:00:00+00:00"), None)

        assert "| bridge CPU per event | 1.67 ms | — |" in text
        assert "workers in one pod" not in text


class TestMemoryTargets:
    def test_growth_with_the_dossiers_beyond_ten_mb_fails(self):
        few, many = _results().memory
        grown = dataclasses.replace(many, peak_rss_bytes=few.peak_rss_bytes + 12_000_000)
        peak, growth = evaluate_targets(_results(memory=[few, grown]))[-2:]

        assert peak.verdict == "PASS"
        assert peak.measured == "130 MB (100,000 dossiers)"
        assert growth.verdict == "FAIL"
        assert growth.name == "memory: growth of the peak RSS from 5,000 to 100,000 dossiers"
        assert growth.measured == "+12.0 MB"

    def test_a_peak_over_150_mb_fails_and_smaller_runs_are_indicative(self):
        few = MemoryPoint(2_000, 500, 2_000, 140_000_000, 9.0)
        many = MemoryPoint(5_000, 5_000, 5_000, 160_000_000, 12.0)
        peak, growth = evaluate_targets(_results(memory=[few, many]))[-2:]

        assert peak.verdict == "FAIL*"
        assert peak.caveat == "over 5,000 events and 5,000 dossiers, not 100,000 and 100,000"
        assert growth.verdict == "FAIL*"
        assert growth.caveat == "from 500 to 5,000 dossiers, not from 5,000 to 100,000"

    def test_the_report_lists_each_drain(self):
        text = render_markdown(_results(), None)

        assert "| 100,000 | 100,000 | 100,000 | 125 MB | 220 s |" in text
        assert "| memory: growth of the peak RSS from 5,000 to 100,000 dossiers |" in text


class TestMemoryOptions:
    def test_phases_and_memory_points_from_the_command_line(self, tmp_path):
        args = bench._build_parser().parse_args(
            ["--workdir", str(tmp_path), "--phases", "memory", "--memory-points", "10:5,7:7"]
        )
        config = bench.config_from_args(args)

        assert config.phases == ("memory",)
        assert config.memory_points == ((10, 5), (7, 7))

    @pytest.mark.parametrize(
        ("option", "value"),
        [("--phases", "memory,nap"), ("--memory-points", "5:10"), ("--memory-points", "5")],
    )
    def test_nonsense_is_refused(self, tmp_path, option, value, capsys):
        with pytest.raises(SystemExit):
            bench._build_parser().parse_args(["--workdir", str(tmp_path), option, value])
        assert "error" in capsys.readouterr().err


class TestSweepPlan:
    def test_points_by_rate_capped_in_events_with_the_saturation_point(self):
        config = bench.BenchConfig(workdir=Path("w"))

        plan = bench._sweep_plan(config, saturation=731.0)

        assert [(rate, events) for _, rate, events in plan] == [
            (250.0, 3750),
            (500.0, 15_000),
            (500.0, 15_000),
            (500.0, 15_000),
            (730.0, 10_950),
            (1000.0, 15_000),
            (2000.0, 20_000),
            (4000.0, 20_000),
        ]
        assert [label for label, _, _ in plan[1:5]] == [
            "500/s (latency target) 1/3",
            "500/s (latency target) 2/3",
            "500/s (latency target) 3/3",
            "730/s ≈ saturation",
        ]

    def test_a_saturation_close_to_a_point_labels_that_point(self):
        config = bench.BenchConfig(workdir=Path("w"), rates=(250.0,), fixed_repeats=1)

        plan = bench._sweep_plan(config, saturation=520.0)

        assert [label for label, _, _ in plan] == ["250/s", "500/s (latency target), ≈ saturation"]

    def test_without_a_saturation_figure(self):
        config = bench.BenchConfig(workdir=Path("w"), rates=(), fixed_repeats=2)

        assert bench._sweep_plan(config, saturation=None) == [
            ("500/s (latency target) 1/2", 500.0, 15_000),
            ("500/s (latency target) 2/2", 500.0, 15_000),
        ]


class TestCommandLine:
    def test_the_defaults_are_the_issues(self):
        config = bench.config_from_args(bench._build_parser().parse_args([]))

        assert config.events == 100_000
        assert config.latency_ms == 50.0
        assert config.fixed_rate == 500.0
        assert config.rate_limit_per_minute == 4000
        assert config.rate_limit_backlog == 20_000
        assert 180 <= config.rate_limit_window_s <= 300
        assert not config.quick

    def test_quick_then_options(self):
        args = bench._build_parser().parse_args(["--quick", "--events", "700", "--rates", "1,2"])

        config = bench.config_from_args(args)

        assert config.quick
        assert config.events == 700
        assert config.rates == (1.0, 2.0)
        assert config.naive_seconds < 30

    def test_report_and_plot_paths(self, tmp_path):
        config = bench.BenchConfig(workdir=tmp_path)
        assert config.report_path == tmp_path / "benchmarks.md"
        assert config.plot_path == tmp_path / "benchmarks-throughput.png"

        elsewhere = bench.BenchConfig(workdir=tmp_path, report=tmp_path / "docs" / "b.md")
        assert elsewhere.plot_path == tmp_path / "docs" / "benchmarks-throughput.png"


# ---------------------------------------------------------------------------- the report


class TestReport:
    def test_has_every_section_in_order(self):
        text = render_markdown(_results(), "plot.png")

        positions = [text.index(f"\n{heading}\n") for heading in SECTIONS]
        assert positions == sorted(positions)
        assert text.startswith("# Benchmarks\n")
        assert "![Throughput and p99 latency vs offered load](plot.png)" in text

    def test_states_targets_figures_and_ratios(self):
        text = render_markdown(_results(), None)

        assert "10 of 10 targets met." in text
        assert "| bridge / naive | 125.0× |" in text
        assert "| bridge / min(raw consume, raw HTTP) | 0.62 |" in text
        assert "| **bridge** (one process, backlog drain) | **2,500** |" in text
        assert "| CPU | Test CPU |" in text
        assert "| bridge | 36.0 | 0.36 | 0.90 |" in text  # CPU s, s per 1,000, cores
        assert "**150 MB**" in text
        assert "used 0.18 CPU s per 1,000 requests, 50% of the bridge's CPU per event" in text
        assert "| achieved | 3,940/min (-1.50% of the limit) |" in text
        assert "![" not in text

    def test_every_table_row_has_its_header_s_columns(self):
        text = render_markdown(_results(), "plot.png")

        header_cells = 0
        for line in text.splitlines():
            if not line.startswith("|"):
                header_cells = 0
                continue
            cells = line.count("|") - 1
            if header_cells == 0:
                header_cells = cells
            assert cells == header_cells, line

    def test_a_failing_quick_run_says_so(self):
        slow = dataclasses.replace(_results().saturation, throughput=400.0, events=5000)
        results = _results(saturation=slow, quick=True, errors=["naive baseline: boom"])

        text = render_markdown(results, None)

        assert "`--quick`: reduced sizes, indicative only" in text
        row = "| throughput, one bridge process | ≥ 1,000 events/s | 400 events/s | FAIL* |"
        assert row in text
        assert "- naive baseline: boom" in text

    def test_an_empty_run_still_renders_every_section(self):
        text = render_markdown(BenchResults(started_at="2026-11-29T10:00:00+00:00"), None)

        assert all(heading in text for heading in SECTIONS)
        assert "0 of 10 targets met." in text

    def test_plot_without_matplotlib_says_how_to_get_it(self, tmp_path, monkeypatch):
        # `make test` installs no matplotlib (the dev kit's `plot` extra is `make bench`'s);
        # the drawing itself runs in every `make bench`.
        monkeypatch.setitem(sys.modules, "matplotlib", None)
        with pytest.raises(PlotUnavailableError, match=r"devkit\[plot\]"):
            render_plot(_results(), tmp_path / "plot.png")
        assert not (tmp_path / "plot.png").exists()

    def test_nothing_to_plot_writes_nothing(self, tmp_path):
        assert not render_plot(_results(points=[]), tmp_path / "none.png")
        assert not (tmp_path / "none.png").exists()

    def test_results_serialise(self):
        data = _results().to_json()

        assert data["saturation"]["throughput"] == 2500.0
        assert data["points"][1]["latency"]["p99"] == pytest.approx(31.7)  # 30 + 0.01 × 170


# ---------------------------------------------------------------------------- /proc figures


class TestProcessFigures:
    def test_cpu_and_peak_rss_of_this_process(self):
        pid = os.getpid()
        before = cpu_seconds(pid)
        sum(i * i for i in range(300_000))
        after = cpu_seconds(pid)

        assert before is not None
        assert after is not None
        assert after >= before
        assert (peak_rss_bytes(pid) or 0) > 10_000_000
        busy = machine_busy_seconds()
        assert busy is not None
        assert busy >= after - 1  # the whole machine used at least what this process did

    def test_a_gone_process_has_no_figures(self):
        assert cpu_seconds(2**22 + 12345) is None
        assert peak_rss_bytes(2**22 + 12345) is None

    def test_usage_adds_what_the_rest_of_the_machine_used(self):
        first = bench._Snapshot({})
        sum(i * i for i in range(200_000))
        second = bench._Snapshot({})

        usage = {u.name: u for u in first.usage_until(second)}

        assert set(usage) == {"harness", bench.OTHERS}
        assert usage["harness"].cpu_s > 0
        assert usage[bench.OTHERS].cpu_s >= 0


def test_the_bench_runs_with_quiet_hours_on_and_their_window_far_from_now():
    now = datetime(2026, 11, 29, 16, 59, 30, tzinfo=UTC)  # 23:59:30 in Hà Nội
    settings = bench.quiet_hours_away_from(now)
    assert settings["BRIDGE_QUIET_HOURS__ENABLED"] == "true"
    assert (settings["BRIDGE_QUIET_HOURS__START"], settings["BRIDGE_QUIET_HOURS__END"]) == (
        "11:59",
        "12:00",
    )
    window = QuietWindow(
        parse_clock_time(settings["BRIDGE_QUIET_HOURS__START"]),
        parse_clock_time(settings["BRIDGE_QUIET_HOURS__END"]),
        ZoneInfo("Asia/Ho_Chi_Minh"),
    )
    assert not window.is_quiet(now)
