"""The benchmark's results, its arithmetic (percentiles, ratios, targets) and its report."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from pathlib import Path

__all__ = [
    "SECTIONS",
    "TARGETS",
    "BenchResults",
    "LatencyStats",
    "LoadPoint",
    "Machine",
    "MemoryPoint",
    "NaiveRun",
    "PlotUnavailableError",
    "ProcessUsage",
    "RateLimitRun",
    "RawConsume",
    "RawHttp",
    "SaturationRun",
    "TargetResult",
    "Targets",
    "evaluate_targets",
    "latency_stats",
    "max_in_window",
    "percentile",
    "ratio",
    "render_markdown",
    "render_plot",
]

SECTIONS: Final = (
    "## Targets",
    "## Machine",
    "## Throughput",
    "## Latency vs offered load",
    "## Resources and where the time goes",
    "## Rate-limit accuracy",
    "## How it was measured",
)
"""The headings every report has, in order."""


# ---------------------------------------------------------------------------- arithmetic


def percentile(values: Sequence[float], q: float) -> float:
    """Return the `q`-th percentile of `values`, interpolating linearly between ranks.

    The same definition as numpy's default (`linear`) and a spreadsheet's PERCENTILE.INC: the
    rank is `q / 100 * (n - 1)` in the sorted values.

    Args:
        values: The sample, in any order; not empty.
        q: The percentile, 0-100.

    Returns:
        The percentile.

    Raises:
        ValueError: If `values` is empty or `q` is outside 0-100.
    """
    if not values:
        raise ValueError("percentile of an empty sample")
    if not 0 <= q <= 100:  # noqa: PLR2004 - percent bounds
        raise ValueError("q must be between 0 and 100")
    ordered = sorted(values)
    rank = q / 100 * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True, slots=True)
class LatencyStats:
    """A latency distribution, in milliseconds.

    Attributes:
        count: How many latencies.
        p50: Median.
        p95: 95th percentile.
        p99: 99th percentile.
        max: The largest.
        mean: The mean.
    """

    count: int
    p50: float
    p95: float
    p99: float
    max: float
    mean: float


def latency_stats(seconds: Sequence[float]) -> LatencyStats | None:
    """Summarise latencies given in seconds (None for an empty sample)."""
    if not seconds:
        return None
    ms = sorted(value * 1000 for value in seconds)
    return LatencyStats(
        count=len(ms),
        p50=percentile(ms, 50),
        p95=percentile(ms, 95),
        p99=percentile(ms, 99),
        max=ms[-1],
        mean=sum(ms) / len(ms),
    )


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """Return `numerator / denominator`, or None when either is missing or the divisor is 0."""
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


def max_in_window(times: Iterable[float], window: float) -> int:
    """Return the largest number of `times` (seconds) that fall in any window of `window` s.

    A window is half-open, [t, t + window): a call exactly `window` later starts a new one.
    """
    ordered = sorted(times)
    best = 0
    start = 0
    for end, moment in enumerate(ordered):
        while ordered[start] <= moment - window:
            start += 1
        best = max(best, end - start + 1)
    return best


# ---------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Machine:
    """What the benchmark ran on.

    Attributes:
        cpu_model: The CPU's model name.
        logical_cpus: CPUs the OS sees.
        usable_cpus: CPUs this process may run on (affinity), and any cgroup quota.
        memory: Total memory, as text.
        os: Kernel and distribution.
        python: Interpreter and version.
        kafka: The broker's version and how it ran.
        libraries: Versions of the libraries on the hot path.
        bridge_revision: The git revision of the bridge measured (and whether it was modified).
    """

    cpu_model: str
    logical_cpus: int
    usable_cpus: str
    memory: str
    os: str
    python: str
    kafka: str
    libraries: dict[str, str]
    bridge_revision: str


@dataclass(frozen=True, slots=True)
class ProcessUsage:
    """CPU one process used during a measured interval.

    Attributes:
        name: bridge, emulator, broker, harness or naive.
        cpu_s: User + system CPU seconds over the interval.
        wall_s: The interval's length.
    """

    name: str
    cpu_s: float
    wall_s: float

    @property
    def cores(self) -> float:
        """Mean cores kept busy (CPU seconds per wall second)."""
        return self.cpu_s / self.wall_s if self.wall_s > 0 else 0.0


@dataclass(frozen=True, slots=True)
class SaturationRun:
    """The bridge draining a backlog published before it started.

    Attributes:
        events: Events in the backlog.
        cases: Dossiers they belong to.
        delivered: Messages the emulator accepted.
        first_to_last_s: From the first accepted message to the last.
        throughput: `delivered / first_to_last_s`, events per second.
        wall_s: From starting the bridge process to every record committed.
        ready_s: From starting the bridge process to `/health/ready`.
        first_delivery_s: From starting the bridge process to the first accepted message.
        publish_rate: How fast the harness published the backlog, events per second.
        peak_rss_bytes: The bridge's VmHWM at the end.
        usage: CPU per process from the first to the last accepted message.
        rejected: Calls the emulator did not accept (should be 0).
    """

    events: int
    cases: int
    delivered: int
    first_to_last_s: float
    throughput: float
    wall_s: float
    ready_s: float
    first_delivery_s: float
    publish_rate: float
    peak_rss_bytes: int | None
    usage: tuple[ProcessUsage, ...]
    rejected: int = 0

    def cpu_per_1000(self, name: str) -> float | None:
        """CPU seconds process `name` used per 1,000 delivered events."""
        for usage in self.usage:
            if usage.name == name and self.delivered:
                return usage.cpu_s / self.delivered * 1000
        return None


@dataclass(frozen=True, slots=True)
class MemoryPoint:
    """One bridge process draining a backlog spread over a given number of dossiers.

    Attributes:
        events: Events in the backlog.
        cases: Distinct dossiers they belong to.
        delivered: Messages the emulator accepted.
        peak_rss_bytes: The bridge's VmHWM once every event was delivered.
        wall_s: From starting the bridge process to every record committed.
    """

    events: int
    cases: int
    delivered: int
    peak_rss_bytes: int | None
    wall_s: float


@dataclass(frozen=True, slots=True)
class NaiveRun:
    """The naive baseline draining a backlog for a fixed window.

    Attributes:
        delivered: Messages accepted within the window.
        window_s: The window, from the first accepted message.
        throughput: `delivered / window_s`.
        max_workers: faststream's handler concurrency (1: one at a time).
        cpu_s: The naive process's CPU seconds in the window.
    """

    delivered: int
    window_s: float
    throughput: float
    max_workers: int
    cpu_s: float | None


@dataclass(frozen=True, slots=True)
class RawConsume:
    """aiokafka alone: `getmany` + `json.loads` over the saturation topic, no group.

    Attributes:
        records: Records read.
        seconds: From the first fetch to the last record.
        throughput: Records per second.
    """

    records: int
    seconds: float
    throughput: float


@dataclass(frozen=True, slots=True)
class RawHttp:
    """One HTTP client alone, posting CS messages to the emulator from one process.

    Attributes:
        label: Which client and transport.
        concurrency: Concurrent requests in flight (tasks).
        connections: The client's connection pool limit.
        requests: Requests completed in the measured window.
        seconds: The measured window.
        throughput: Requests per second.
        errors: Requests that failed or were not accepted (also after the window).
        pending: Requests still unanswered 2 s after the window (then cancelled).
        primary: Whether this is the client the bridge uses (the raw limit).
        error_kinds: The failures by kind (exception, HTTP status or Zalo error).
        client_cpu_per_1000: The client process's CPU seconds per 1,000 requests.
        emulator_cpu_per_1000: The emulator's CPU seconds per 1,000 requests.
    """

    label: str
    concurrency: int
    connections: int
    requests: int
    seconds: float
    throughput: float
    errors: int
    pending: int
    primary: bool
    error_kinds: dict[str, int] = field(default_factory=dict)
    client_cpu_per_1000: float | None = None
    emulator_cpu_per_1000: float | None = None


@dataclass(frozen=True, slots=True)
class LoadPoint:
    """The bridge under a fixed offered load.

    Attributes:
        label: e.g. `500/s`; the point at (or near) the backlog-drain throughput says so.
        offered: Events per second published.
        published: Events published.
        publish_s: How long publishing took.
        delivered: Events accepted by the emulator and matched to a published event.
        throughput: Delivered per second, from the first accepted message to the last.
        latency: Produce time → emulator receipt.
        bridge_cpu_per_1000: The bridge's CPU seconds per 1,000 delivered.
        emulator_cpu_per_1000: The emulator's CPU seconds per 1,000 delivered.
        others_cores: Mean cores used by processes this run did not start, during the point.
    """

    label: str
    offered: float
    published: int
    publish_s: float
    delivered: int
    throughput: float
    latency: LatencyStats | None
    bridge_cpu_per_1000: float | None
    emulator_cpu_per_1000: float | None
    others_cores: float | None = None


@dataclass(frozen=True, slots=True)
class RateLimitRun:
    """The bridge at its default rate limit against the emulator's, on a backlog.

    Attributes:
        limit_per_minute: The emulator's and the bridge's limit.
        backlog: Events published before the bridge started.
        warmup_s: Left out after the first accepted message (the limiter's initial burst).
        window_s: The measured window, after the warm-up.
        delivered_in_window: Messages accepted in the window.
        achieved_per_minute: `delivered_in_window / window_s * 60`.
        minus_32: `-32` answers over the whole run.
        calls: Calls the emulator saw over the whole run.
        max_in_60s: The most calls in any 60-second sliding window.
        max_in_calendar_minute: The most calls in one UTC calendar minute (the emulator's window).
    """

    limit_per_minute: int
    backlog: int
    warmup_s: float
    window_s: float
    delivered_in_window: int
    achieved_per_minute: float
    minus_32: int
    calls: int
    max_in_60s: int
    max_in_calendar_minute: int

    @property
    def deviation(self) -> float:
        """Achieved rate relative to the limit, e.g. -0.015 for 1.5 % below it."""
        return self.achieved_per_minute / self.limit_per_minute - 1


@dataclass(frozen=True, slots=True)
class Targets:
    """The figures issue 16 asks for (2-core machine, 50 ms emulator latency).

    Attributes:
        cpu_ms: The bridge's CPU milliseconds per delivered event in the backlog drain.
        throughput: Events per second delivered by one bridge process.
        of_raw_limit: Bridge throughput over the raw HTTP ceiling of the same run.
        over_naive: Bridge throughput over the naive baseline's.
        p99_ms: p99 latency at `p99_rate` events per second offered.
        p99_rate: The offered load of the p99 target.
        peak_rss_mb: Peak RSS of the bridge over `rss_events` events (MB = 10^6 bytes).
        rss_events: Events the RSS target is stated for.
        rate_accuracy: Largest allowed deviation from the rate limit.
        memory_peak_mb: Peak RSS of the memory phase's largest drain (issue 16).
        memory_growth_mb: Most the peak may grow from its fewest to its most dossiers.
        memory_cases: The numbers of dossiers the growth target is stated for.
    """

    cpu_ms: float = 0.6
    throughput: float = 1000.0
    of_raw_limit: float = 0.5
    over_naive: float = 50.0
    p99_ms: float = 150.0
    p99_rate: float = 500.0
    peak_rss_mb: float = 150.0
    rss_events: int = 100_000
    rate_accuracy: float = 0.02
    memory_peak_mb: float = 150.0
    memory_growth_mb: float = 10.0
    memory_cases: tuple[int, int] = (5_000, 100_000)


TARGETS: Final = Targets()


@dataclass(slots=True)
class BenchResults:
    """Everything one benchmark run measured.

    Attributes:
        started_at: When the run started (ISO, UTC).
        duration_s: How long it took.
        quick: Whether it ran the reduced `--quick` configuration.
        settings: The run's knobs, by name, as shown in the report.
        bridge_settings: The `BRIDGE_…` variables the bridge ran with (throughput runs).
        machine: What it ran on.
        saturation: The backlog drain.
        workers: The same drain by ``workers_count`` worker processes in one pod.
        naive: The naive baseline.
        raw_consume: aiokafka alone.
        raw_http: HTTP clients alone (the first `primary` one is the raw limit).
        points: The offered-load sweep, by offered load (the fixed rate possibly repeated).
        fixed_rate: The offered load of the latency target, as run.
        fixed_latency: The latencies of every run at `fixed_rate`, pooled.
        rate_limit: The rate-limit accuracy run.
        memory: The memory phase: one drain per number of dossiers, fewest first.
        notes: What a reader should know.
        errors: Phases that broke off, with the reason.
    """

    started_at: str
    duration_s: float = 0.0
    quick: bool = False
    settings: dict[str, str] = field(default_factory=dict)
    bridge_settings: dict[str, str] = field(default_factory=dict)
    machine: Machine | None = None
    saturation: SaturationRun | None = None
    workers: SaturationRun | None = None
    workers_count: int = 2
    naive: NaiveRun | None = None
    raw_consume: RawConsume | None = None
    raw_http: list[RawHttp] = field(default_factory=list)
    points: list[LoadPoint] = field(default_factory=list)
    fixed_rate: float | None = None
    fixed_latency: LatencyStats | None = None
    rate_limit: RateLimitRun | None = None
    memory: list[MemoryPoint] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def bridge_throughput(self) -> float | None:
        """The bridge's saturation throughput, events per second."""
        return self.saturation.throughput if self.saturation is not None else None

    @property
    def raw_http_primary(self) -> RawHttp | None:
        """The HTTP client the bridge uses, measured alone."""
        return next((raw for raw in self.raw_http if raw.primary), None)

    @property
    def raw_limit(self) -> float | None:
        """min(raw consume, raw HTTP) in events per second, None unless both were measured."""
        http = self.raw_http_primary
        if self.raw_consume is None or http is None:
            return None
        return min(self.raw_consume.throughput, http.throughput)

    def points_at(self, offered: float) -> list[LoadPoint]:
        """The sweep points at `offered` events per second (several when repeated)."""
        return [p for p in self.points if math.isclose(p.offered, offered)]

    def latency_at(self, offered: float) -> LatencyStats | None:
        """The latency at `offered` events per second: pooled over repetitions, if measured."""
        if self.fixed_rate is not None and math.isclose(self.fixed_rate, offered):
            return self.fixed_latency
        points = self.points_at(offered)
        return points[0].latency if len(points) == 1 else None

    def to_json(self) -> dict[str, Any]:
        """Return the results as JSON-ready data."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class TargetResult:
    """One target of the issue and how this run did.

    Attributes:
        name: What is measured.
        target: The target, as text.
        measured: The measurement, as text.
        ok: True (pass), False (fail) or None (not measured).
        caveat: Why the verdict is only indicative (e.g. fewer events than the target names).
    """

    name: str
    target: str
    measured: str
    ok: bool | None
    caveat: str = ""

    @property
    def verdict(self) -> str:
        """PASS, FAIL or NOT MEASURED, with a star when indicative."""
        text = {True: "PASS", False: "FAIL", None: "NOT MEASURED"}[self.ok]
        return f"{text}*" if self.caveat and self.ok is not None else text


def _n(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def evaluate_targets(results: BenchResults, targets: Targets = TARGETS) -> list[TargetResult]:
    """Hold each target against the measurements.

    Args:
        results: The run's measurements.
        targets: The targets; the issue's by default.

    Returns:
        One result per target, in the issue's order.
    """
    out: list[TargetResult] = []
    sat = results.saturation
    throughput = results.bridge_throughput
    small = (
        f"over {sat.events:,} events, not {targets.rss_events:,}"
        if sat is not None and sat.events < targets.rss_events
        else ""
    )
    cpu = sat.cpu_per_1000("bridge") if sat is not None else None
    out.append(
        TargetResult(
            "bridge CPU per delivered event (backlog drain)",
            f"≤ {targets.cpu_ms:.1f} ms",
            "—" if cpu is None else f"{cpu:.2f} ms",
            None if cpu is None else cpu <= targets.cpu_ms,
            small,
        )
    )
    out.append(
        TargetResult(
            "throughput, one bridge process",
            f"≥ {_n(targets.throughput)} events/s",
            f"{_n(throughput)} events/s" if throughput is not None else "—",
            None if throughput is None else throughput >= targets.throughput,
            small,
        )
    )
    http = results.raw_http_primary
    limit = http.throughput if http is not None else None
    of_raw = ratio(throughput, limit)
    out.append(
        TargetResult(
            "bridge / raw HTTP ceiling",
            f"≥ {targets.of_raw_limit:.0%}",
            "—" if of_raw is None else f"{of_raw:.0%} ({_n(throughput or 0)} / {_n(limit or 0)})",
            None if of_raw is None else of_raw >= targets.of_raw_limit,
        )
    )
    naive = results.naive.throughput if results.naive is not None else None
    over_naive = ratio(throughput, naive)
    out.append(
        TargetResult(
            "bridge / naive baseline",
            f"≥ {_n(targets.over_naive)}×",
            "—"
            if over_naive is None
            else f"{over_naive:,.1f}× ({_n(throughput or 0)} / {_n(naive or 0, 1)})",
            None if over_naive is None else over_naive >= targets.over_naive,
        )
    )
    latency = results.latency_at(targets.p99_rate)
    p99 = latency.p99 if latency is not None else None
    runs = [p.latency.p99 for p in results.points_at(targets.p99_rate) if p.latency]
    each = f" (pooled over {len(runs)} runs: {' / '.join(_n(r) for r in runs)} ms)"
    out.append(
        TargetResult(
            f"p99 latency at {_n(targets.p99_rate)} events/s offered",
            f"≤ {_n(targets.p99_ms)} ms",
            "—" if p99 is None else f"{_n(p99)} ms" + (each if len(runs) > 1 else ""),
            None if p99 is None else p99 <= targets.p99_ms,
        )
    )
    rss = sat.peak_rss_bytes if sat is not None else None
    out.append(
        TargetResult(
            f"peak RSS of the bridge over {targets.rss_events:,} events",
            f"≤ {_n(targets.peak_rss_mb)} MB",
            "—" if rss is None else f"{_n(rss / 1e6)} MB",
            None if rss is None else rss / 1e6 <= targets.peak_rss_mb,
            small,
        )
    )
    rate = results.rate_limit
    out.append(
        TargetResult(
            "rate limit: sustained rate within 2 % of the limit",
            f"within ±{targets.rate_accuracy:.0%} of "
            f"{_n(rate.limit_per_minute) if rate else '4,000'}/min",
            "—"
            if rate is None
            else f"{_n(rate.achieved_per_minute)}/min ({rate.deviation:+.2%}) over "
            f"{_n(rate.window_s)} s",
            None if rate is None else abs(rate.deviation) <= targets.rate_accuracy,
        )
    )
    out.append(
        TargetResult(
            "rate limit: no -32 answer",
            "0",
            "—" if rate is None else f"{rate.minus_32:,} of {rate.calls:,} calls",
            None if rate is None else rate.minus_32 == 0,
        )
    )
    out += _memory_targets(results, targets)
    return out


def _memory_targets(results: BenchResults, targets: Targets) -> list[TargetResult]:
    """Issue 16's memory: the peak of the most dossiers, and its growth from the fewest."""
    points = [p for p in results.memory if p.peak_rss_bytes is not None]
    few, many = targets.memory_cases
    last = points[-1] if points else None
    peak = last.peak_rss_bytes / 1e6 if last is not None and last.peak_rss_bytes else None
    smaller = (
        f"over {last.events:,} events and {last.cases:,} dossiers, not "
        f"{targets.rss_events:,} and {many:,}"
        if last is not None and (last.events, last.cases) != (targets.rss_events, many)
        else ""
    )
    growth = (
        (points[-1].peak_rss_bytes or 0) / 1e6 - (points[0].peak_rss_bytes or 0) / 1e6
        if len(points) > 1
        else None
    )
    span = (
        f"from {points[0].cases:,} to {points[-1].cases:,} dossiers"
        if len(points) > 1
        else f"from {few:,} to {many:,} dossiers"
    )
    other_span = len(points) > 1 and (points[0].cases, points[-1].cases) != (few, many)
    return [
        TargetResult(
            f"memory: peak RSS over {targets.rss_events:,} events, {many:,} dossiers",
            f"≤ {_n(targets.memory_peak_mb)} MB",
            "—" if peak is None or last is None else f"{_n(peak)} MB ({last.cases:,} dossiers)",
            None if peak is None else peak <= targets.memory_peak_mb,
            smaller,
        ),
        TargetResult(
            f"memory: growth of the peak RSS {span}",
            f"≤ +{_n(targets.memory_growth_mb)} MB",
            "—" if growth is None else f"{growth:+,.1f} MB",
            None if growth is None else growth <= targets.memory_growth_mb,
            f"{span}, not from {few:,} to {many:,}" if other_span else "",
        ),
    ]


# ---------------------------------------------------------------------------- the report


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _kinds(counts: dict[str, int]) -> str:
    return ", ".join(f"{kind} ×{count:,}" for kind, count in counts.items())


def _opt(value: float | None, digits: int = 0, suffix: str = "") -> str:
    return "—" if value is None else f"{_n(value, digits)}{suffix}"


_METHOD: Final = (
    (
        "**Throughput**: a backlog of N events (unique messages, many dossiers) is published "
        "first; then one bridge process starts (fresh consumer group, fresh SQLite ledger) and "
        "drains it. Throughput = messages the emulator accepted / time from the first to the "
        "last of them."
    ),
    (
        "**Offered load**: one bridge process, warmed up, gets events published at a fixed "
        "rate, point after point (each drained before the next); each event's produce time is "
        "recorded by the harness and matched to the emulator's `received_at` by (user id, text)."
    ),
    (
        "**Naive baseline**: `python -m bridge_devkit.naive`, a faststream subscriber with "
        "faststream's default acknowledgement, the same `bridge.templates.render_message` and a "
        "plain `httpx.AsyncClient`, one event at a time; it drains a backlog for a fixed window."
    ),
    (
        "**Raw consume**: one aiokafka consumer (no group) reads the throughput topic from the "
        "start with `getmany` and `json.loads` on each value."
    ),
    (
        "**Raw HTTP**: one process posts CS messages to the emulator with as many concurrent "
        "requests as the bridge's `max_in_flight`, through an `httpx.AsyncClient` built as the "
        "bridge builds its own (timeouts, connection limit, transport); the other transport is "
        "measured too, for reference."
    ),
    (
        "**Rate limit**: the emulator's limit is set to the limit shown and the bridge runs at "
        "its default rate limit; a backlog is published, the bridge drains it, and the accepted "
        "calls are counted in a window after a warm-up (the limiter's initial allowance)."
    ),
    (
        "**Memory**: one bridge process per number of distinct dossiers (by default 5,000 "
        "dossiers over 20,000 events, then 100,000 dossiers of one event each), each draining "
        "its own backlog with a fresh ledger; growth = the peak RSS of the most dossiers minus "
        "that of the fewest. State kept per dossier would show there."
    ),
    (
        "**Resources**: peak RSS is `VmHWM` of the bridge process (MB = 10⁶ bytes); CPU is "
        "`utime + stime` from `/proc/<pid>/stat` of each process (the harness: its own process "
        "time)."
    ),
    (
        "Everything shares the machine's cores: the broker, the emulator, the harness's "
        "producer and the bridge compete for CPU, as they would not in production."
    ),
)


def render_markdown(results: BenchResults, plot_name: str | None) -> str:
    """Render the report: targets, machine, figures, ratios, plot, method.

    Args:
        results: The run's measurements.
        plot_name: The plot's file name, relative to the report (None: no plot).

    Returns:
        The Markdown text.
    """
    quick = ", **`--quick`: reduced sizes, indicative only**" if results.quick else ""
    lines = [
        "# Benchmarks",
        "",
        "<!-- Generated by `make bench` (python -m bridge_devkit.bench): edits are lost. -->",
        "",
        (
            f"Run of {results.started_at} ({results.duration_s / 60:.1f} min{quick}). The "
            "bridge, the Zalo OA emulator and the Kafka broker run as real processes on this one "
            "machine, on 127.0.0.1; the emulator answers after "
            f"{results.settings.get('emulator latency', '?')}, with its rate limit off except "
            "in the rate-limit run."
        ),
        "",
    ]
    if results.errors:
        lines += ["**Phases that broke off:**", ""]
        lines += [f"- {error}" for error in results.errors]
        lines.append("")
    lines += _targets_section(results)
    lines += _machine_section(results)
    lines += _throughput_section(results)
    lines += _latency_section(results, plot_name)
    lines += _resources_section(results)
    lines += _memory_lines(results)
    lines += _rate_limit_section(results)
    lines += ["", SECTIONS[6], ""]
    lines += [f"- {item}" for item in _METHOD]
    if results.notes:
        lines += ["", "Notes:", ""]
        lines += [f"- {note}" for note in results.notes]
    return "\n".join(lines) + "\n"


def _targets_section(results: BenchResults) -> list[str]:
    lines = [SECTIONS[0], ""]
    targets = evaluate_targets(results)
    lines += _table(
        ("target", "wanted", "measured", "result"),
        ((t.name, t.target, t.measured, t.verdict) for t in targets),
    )
    caveats = [t for t in targets if t.caveat and t.ok is not None]
    if caveats:
        lines.append("")
        lines += [f"\\* indicative only: {t.name} measured {t.caveat}." for t in caveats]
    passed = sum(t.ok is True for t in targets)
    lines += ["", f"{passed} of {len(targets)} targets met."]
    lines += _baseline_section(results)
    return lines


BASELINE: Final = (
    ("saturation throughput", "445 events/s"),
    ("bridge CPU per event", "1.67 ms"),
    ("raw HTTP ceiling, same run", "1,859 requests/s"),
    ("bridge / raw HTTP", "24%"),
    ("bridge / naive baseline", "24×"),
    ("p99 at 500 events/s offered", "236 ms"),
    ("peak RSS", "176 MB"),
)
"""Issue 16's figures, measured by `make bench` on main before the issue (a 2-core machine too;
its CPU model may differ from this run's, see Machine)."""


def _baseline_section(results: BenchResults) -> list[str]:
    sat = results.saturation
    http = results.raw_http_primary
    throughput = results.bridge_throughput
    cpu = sat.cpu_per_1000("bridge") if sat is not None else None
    naive = results.naive.throughput if results.naive is not None else None
    latency = results.latency_at(TARGETS.p99_rate)
    rss = sat.peak_rss_bytes if sat is not None else None
    of_raw = ratio(throughput, http.throughput if http is not None else None)
    over_naive = ratio(throughput, naive)
    now = (
        _opt(throughput, suffix=" events/s"),
        "—" if cpu is None else f"{cpu:.2f} ms",
        "—" if http is None else f"{_n(http.throughput)} requests/s",
        "—" if of_raw is None else f"{of_raw:.0%}",
        "—" if over_naive is None else f"{over_naive:,.1f}×",
        "—" if latency is None else f"{_n(latency.p99)} ms",
        "—" if rss is None else f"{_n(rss / 1e6)} MB",
    )
    rows = [(name, before, after) for (name, before), after in zip(BASELINE, now, strict=True)]
    pod = results.workers
    if pod is not None and throughput:
        rows.append(
            (
                f"{results.workers_count} workers in one pod / one process",
                "—",
                f"{pod.throughput / throughput:.2f}× ({_n(pod.throughput)} / {_n(throughput)})",
            )
        )
    lines = ["", "Against issue 16's baseline (`make bench` on main before the issue):", ""]
    lines += _table(("figure", "before", "this run"), rows)
    return lines


def _machine_section(results: BenchResults) -> list[str]:
    lines = ["", SECTIONS[1], ""]
    machine = results.machine
    if machine is not None:
        rows = [
            ("CPU", machine.cpu_model),
            ("cores", f"{machine.logical_cpus} logical; usable: {machine.usable_cpus}"),
            ("memory", machine.memory),
            ("OS", machine.os),
            ("Python", machine.python),
            ("Kafka", machine.kafka),
            ("libraries", ", ".join(f"{k} {v}" for k, v in machine.libraries.items())),
            ("bridge", machine.bridge_revision),
        ]
        lines += _table(("", ""), rows)
    lines += ["", "Run settings:", ""]
    lines += _table(("setting", "value"), sorted(results.settings.items()))
    if results.bridge_settings:
        lines += ["", "The bridge ran with its defaults except (throughput runs):", ""]
        rows = [(f"`{k}`", f"`{v}`") for k, v in results.bridge_settings.items()]
        lines += _table(("variable", "value"), rows)
    return lines


def _throughput_section(results: BenchResults) -> list[str]:
    lines = ["", SECTIONS[2], ""]
    sat = results.saturation
    rows: list[tuple[str, str, str]] = []
    if sat is not None:
        detail = (
            f"{sat.delivered:,} of {sat.events:,} events over {sat.cases:,} cases; "
            f"first → last delivery {sat.first_to_last_s:,.1f} s"
        )
        rows.append(
            ("**bridge** (one process, backlog drain)", f"**{_n(sat.throughput)}**", detail)
        )
    pod = results.workers
    if pod is not None:
        scale = pod.throughput / sat.throughput if sat is not None and sat.throughput else None
        cpu = pod.cpu_per_1000("bridge")
        detail = (
            f"{pod.delivered:,} of {pod.events:,} events; "
            + (f"{scale:.2f}× one process; " if scale is not None else "")
            + (f"CPU {cpu:.2f} s / 1,000 events (all workers); " if cpu is not None else "")
            + "the broker, the emulator and the load share the same cores"
        )
        rows.append(
            (f"bridge, {results.workers_count} workers in one pod", _n(pod.throughput), detail)
        )
    naive = results.naive
    if naive is not None:
        detail = (
            f"{naive.delivered:,} delivered in {naive.window_s:,.0f} s; "
            f"max_workers={naive.max_workers}"
        )
        rows.append(("naive baseline (faststream, one at a time)", _n(naive.throughput, 1), detail))
    raw = results.raw_consume
    if raw is not None:
        detail = f"{raw.records:,} records in {raw.seconds:,.2f} s"
        rows.append(("raw consume (aiokafka getmany + json.loads)", _n(raw.throughput), detail))
    for http in results.raw_http:
        what = f"raw HTTP: {http.label}" + ("" if http.primary else " (for reference)")
        detail = (
            f"{http.requests:,} requests in {http.seconds:,.0f} s; {http.concurrency:,} "
            f"concurrent, pool of {http.connections:,} connections; {http.errors:,} failed"
            + (f" ({kinds})" if (kinds := _kinds(http.error_kinds)) else "")
            + f", {http.pending:,} unanswered 2 s after the window"
            + (
                f"; client CPU {http.client_cpu_per_1000:.2f} s / 1,000 requests"
                if http.client_cpu_per_1000 is not None
                else ""
            )
        )
        rows.append((what, _n(http.throughput), detail))
    lines += _table(("what", "events/s", "detail"), rows)

    throughput = results.bridge_throughput
    primary = results.raw_http_primary
    ratios = [
        ("bridge / naive", _opt(ratio(throughput, naive.throughput if naive else None), 1, "×")),
        ("bridge / min(raw consume, raw HTTP)", _opt(ratio(throughput, results.raw_limit), 2)),
        ("bridge / raw consume", _opt(ratio(throughput, raw.throughput if raw else None), 3)),
        (
            "bridge / raw HTTP (the bridge's client)",
            _opt(ratio(throughput, primary.throughput if primary else None), 2),
        ),
    ]
    ratios += [
        (f"bridge / raw HTTP ({http.label})", _opt(ratio(throughput, http.throughput), 2))
        for http in results.raw_http
        if not http.primary
    ]
    lines += ["", "Ratios:", ""]
    lines += _table(("ratio", "value"), ratios)
    if sat is not None:
        overall = sat.delivered / sat.wall_s if sat.wall_s else 0.0
        lines += [
            "",
            (
                f"The backlog was published at {_n(sat.publish_rate)} events/s before the bridge "
                f"started. From starting the bridge process: ready after {sat.ready_s:.1f} s, "
                f"first delivery after {sat.first_delivery_s:.1f} s, every record committed "
                f"after {sat.wall_s:.1f} s (start-up included: {_n(overall)} events/s)."
            ),
        ]
    return lines


def _latency_section(results: BenchResults, plot_name: str | None) -> list[str]:
    lines = ["", SECTIONS[3], ""]
    if plot_name:
        lines += [f"![Throughput and p99 latency vs offered load]({plot_name})", ""]
    header = (
        "point",
        "offered (events/s)",
        "published",
        "delivered",
        "throughput (events/s)",
        "p50 (ms)",
        "p95 (ms)",
        "p99 (ms)",
        "max (ms)",
        "bridge CPU s / 1,000",
        "other load (cores)",
    )
    rows = []
    for p in sorted(results.points, key=lambda p: p.offered):
        lat = p.latency
        rows.append(
            (
                p.label,
                _n(p.offered),
                f"{p.published:,}",
                f"{p.delivered:,}",
                _n(p.throughput),
                _opt(lat.p50 if lat else None),
                _opt(lat.p95 if lat else None),
                _opt(lat.p99 if lat else None),
                _opt(lat.max if lat else None),
                _opt(p.bridge_cpu_per_1000, 2),
                _opt(p.others_cores, 2),
            )
        )
    lines += _table(header, rows)
    pooled, rate = results.fixed_latency, results.fixed_rate
    repeats = len(results.points_at(rate)) if rate is not None else 0
    if pooled is not None and rate is not None and repeats > 1:
        lines += [
            "",
            (
                f"At {_n(rate)} events/s, the {repeats} runs pooled ({pooled.count:,} events): "
                f"p50 {_n(pooled.p50)} ms, p95 {_n(pooled.p95)} ms, p99 **{_n(pooled.p99)} ms**, "
                f"max {_n(pooled.max)} ms."
            ),
        ]
    lines += [
        "",
        (
            "Latency: from the harness handing the event to its Kafka producer to the emulator "
            "receiving the bridge's request, both read from this machine's wall clock. Above the "
            "bridge's capacity a backlog builds up for the whole point, so latency there is "
            "queueing time and grows with the point's length. Other load: CPU used meanwhile by "
            "processes this run did not start (anything else on the machine)."
        ),
    ]
    return lines


def _resources_section(results: BenchResults) -> list[str]:
    lines = ["", SECTIONS[4], ""]
    sat = results.saturation
    if sat is None:
        return [*lines, "Not measured."]
    rss = sat.peak_rss_bytes
    cores = results.machine.logical_cpus if results.machine else "?"
    lines += [
        (
            f"Bridge peak RSS (VmHWM) over the {sat.events:,}-event drain: "
            f"**{_opt(rss / 1e6 if rss else None, 0, ' MB')}**; bridge CPU: "
            f"**{_opt(sat.cpu_per_1000('bridge'), 2)} s per 1,000 delivered events**."
        ),
        "",
        (
            "CPU per process from the first to the last delivery of the drain "
            f"({sat.first_to_last_s:,.1f} s; the {cores} cores are shared by all of them):"
        ),
        "",
    ]
    lines += _table(
        ("process", "CPU s", "CPU s / 1,000 events", "cores busy (mean)"),
        (
            (u.name, f"{u.cpu_s:,.1f}", _opt(sat.cpu_per_1000(u.name), 2), f"{u.cores:.2f}")
            for u in sat.usage
        ),
    )
    bridge_cpu = sat.cpu_per_1000("bridge")
    if bridge_cpu:
        lines += [
            "",
            (
                f"At {bridge_cpu:.2f} CPU s per 1,000 events, the bridge could deliver at most "
                f"{_n(1000 / bridge_cpu)} events/s with one core to itself: it is one Python "
                "process, one event loop (plus aiokafka's and the ledger's threads)."
            ),
        ]
        http = results.raw_http_primary
        if http is not None and http.client_cpu_per_1000:
            share = http.client_cpu_per_1000 / bridge_cpu
            lines += [
                "",
                (
                    f"For comparison, the raw HTTP client (the bridge's client configuration, "
                    f"alone in one process) used {http.client_cpu_per_1000:.2f} CPU s per 1,000 "
                    f"requests, {share:.0%} of the bridge's CPU per event; the rest is Kafka, "
                    "parsing, wording, the ledger, status events and the dispatcher."
                ),
            ]
    return lines


def _memory_lines(results: BenchResults) -> list[str]:
    """The memory phase: peak RSS per number of distinct dossiers (part of the resources)."""
    if not results.memory:
        return []
    lines = [
        "",
        (
            "Memory by number of dossiers: each drain is a fresh bridge process (fresh ledger) "
            "draining its whole backlog; peak RSS is its VmHWM once every event was delivered."
        ),
        "",
    ]
    lines += _table(
        ("dossiers", "events", "delivered", "peak RSS", "drained in"),
        (
            (
                f"{p.cases:,}",
                f"{p.events:,}",
                f"{p.delivered:,}",
                _opt(p.peak_rss_bytes / 1e6 if p.peak_rss_bytes else None, 0, " MB"),
                f"{p.wall_s:,.0f} s",
            )
            for p in results.memory
        ),
    )
    return lines


def _rate_limit_section(results: BenchResults) -> list[str]:
    lines = ["", SECTIONS[5], ""]
    rate = results.rate_limit
    if rate is None:
        return [*lines, "Not measured."]
    achieved = f"{_n(rate.achieved_per_minute)}/min ({rate.deviation:+.2%} of the limit)"
    lines += _table(
        ("figure", "value"),
        (
            ("limit (emulator and bridge)", f"{rate.limit_per_minute:,}/min"),
            ("backlog", f"{rate.backlog:,} events"),
            ("window", f"{rate.window_s:,.0f} s, after a {rate.warmup_s:,.0f} s warm-up"),
            ("delivered in the window", f"{rate.delivered_in_window:,}"),
            ("achieved", achieved),
            ("-32 answers (whole run)", f"{rate.minus_32:,} of {rate.calls:,} calls"),
            ("most calls in any 60 s", f"{rate.max_in_60s:,}"),
            ("most calls in one calendar minute", f"{rate.max_in_calendar_minute:,}"),
        ),
    )
    return lines


class PlotUnavailableError(RuntimeError):
    """The plot cannot be drawn: matplotlib is not installed."""


def render_plot(results: BenchResults, path: Path) -> bool:
    """Draw throughput and p99 latency vs offered load into a PNG at `path`.

    Returns:
        False when there is no sweep point to draw (nothing is written).

    Raises:
        PlotUnavailableError: matplotlib is not installed (the dev kit's `plot` extra, which
            `make bench` installs; `make test` does without it).
    """
    series = _plot_series(results)
    if not series:
        return False
    try:
        import matplotlib as mpl  # noqa: PLC0415 - only the report needs it
    except ImportError as exc:
        raise PlotUnavailableError(
            "the benchmark's plot needs matplotlib: pip install -e './devkit[plot]' "
            "(make bench does it), or run with --no-plot"
        ) from exc

    mpl.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415 - after the backend is chosen

    offered = [rate for rate, _, _ in series]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=110)
    left.plot(offered, [tp for _, tp, _ in series], "o-", label="bridge, delivered")
    left.plot(offered, offered, ":", color="grey", label="= offered")
    if results.saturation is not None:
        drain = results.saturation.throughput
        left.axhline(drain, color="tab:orange", ls="--", label="backlog drain")
    left.axhline(TARGETS.throughput, color="tab:red", ls="-.", lw=1, label="target")
    left.set(xlabel="offered load (events/s)", ylabel="events/s", title="Throughput")
    left.legend(fontsize="small")
    left.grid(visible=True, alpha=0.3)
    right.plot(offered, [lat.p99 for _, _, lat in series], "o-", label="p99")
    right.plot(offered, [lat.p50 for _, _, lat in series], "s--", label="p50")
    right.axhline(TARGETS.p99_ms, color="tab:red", ls="-.", lw=1, label="p99 target")
    for axis in (left, right):
        axis.set_xscale("log")
        axis.set_xticks(offered, [f"{rate:,.0f}" for rate in offered])
        axis.minorticks_off()
    right.set_yscale("log")
    right.set(xlabel="offered load (events/s)", ylabel="ms (log scale)", title="Latency")
    right.legend(fontsize="small")
    right.grid(visible=True, which="both", alpha=0.3)
    latency = results.settings.get("emulator latency", "?")
    fig.suptitle(f"zalo-bridge, one process; Zalo emulator latency {latency}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return True


def _plot_series(results: BenchResults) -> list[tuple[float, float, LatencyStats]]:
    """(offered, mean throughput, latency) per offered load; repetitions pooled."""
    series = []
    for rate in sorted({p.offered for p in results.points}):
        points = results.points_at(rate)
        latency = results.latency_at(rate) or next((p.latency for p in points if p.latency), None)
        if latency is not None:
            series.append((rate, sum(p.throughput for p in points) / len(points), latency))
    return series
