"""Prometheus metrics of one bridge process, on a registry of its own, for ``GET /metrics``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

import httpx
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from bridge.observability.logs import get_logger

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence

    from prometheus_client.metrics_core import Metric

__all__ = [
    "PREFIX",
    "Counts",
    "Metrics",
    "ProgressLook",
    "Snapshot",
    "failure_by_type",
    "flag",
    "label_value",
    "with_zeros",
]

PREFIX = "zalo_bridge_"
"""Every metric name starts with it."""

OTHER = "other"
"""The label value of anything that does not look like a low-cardinality code."""

_log = get_logger("bridge.metrics")
_TAKEN_UP_AT: ContextVar[float | None] = ContextVar("zalo_bridge_taken_up_at", default=None)

_CODE = re.compile(r"^[a-z][a-z0-9_]{0,39}(?::(?:-?\d{1,4}|[a-z][a-z0-9_]{0,39}))?$")
_PATH = re.compile(r"^(?:/[A-Za-z][A-Za-z0-9._-]{0,39}|/v\d+(?:\.\d+)?){1,8}$")
_ZALO_CODE = re.compile(r"^-?\d{1,4}$")
_PROCESSING_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900)
_ZALO_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_LAG_TIMEOUT = 5.0
_STORE_TIMEOUT = 5.0

Counts: TypeAlias = Mapping[Any, float]
"""Values by label value (one label, a ``str``) or label values (a tuple; ``()`` for none)."""


def label_value(text: str | None, *, none: str = "none") -> str:
    """``text`` if it is a low-cardinality code (``stale``, ``rejected:-201``), else ``other``.

    Reasons travel into labels; anything else (a phone number, a user id, free text) would leak
    personal data and multiply series, so it is collapsed into ``other``.
    """
    if text is None:
        return none
    return text if _CODE.match(text) else OTHER


def with_zeros(counts: Counts, known: tuple[str, ...]) -> dict[Any, float]:
    """``counts`` with every ``known`` key present (a series exists before its first event)."""
    return {**dict.fromkeys(known, 0.0), **counts}


def flag(on: bool) -> Counts:  # noqa: FBT001 - a gauge of one boolean
    """A gauge's counts for one boolean: 1 or 0, no labels."""
    return {(): 1.0 if on else 0.0}


@dataclass
class Snapshot:
    """Counts read from a store before a scrape; None until read, or when the read failed."""

    values: dict[str, Counts] | None = None

    def get(self, key: str) -> Counts | None:
        """The counts read for ``key``, or None."""
        return None if self.values is None else self.values.get(key)


class ProgressLook(Protocol):
    """What the progress watchdog saw (``ProgressWatchdog.check``), as the metrics read it."""

    @property
    def oldest(self) -> Mapping[tuple[str, int], float]:
        """Age of the oldest unsettled record, by (topic, partition)."""
        ...

    @property
    def stalled(self) -> bool:
        """Whether delivery stopped making progress."""
        ...


def failure_by_type(exc: BaseException) -> str:
    """A failed call's outcome label by httpx's exception type: ``timeout`` or ``network_error``.

    The default of ``Metrics``; the composition root gives Zalo's classification by cause.
    """
    return "timeout" if isinstance(exc, httpx.TimeoutException) else "network_error"


def _endpoint(path: str) -> str:
    """The URL path of a Zalo call if it is a fixed path (no ids in it), else ``other``."""
    return path if _PATH.match(path) and not re.search(r"\d{5}", path) else OTHER


class Metrics:
    """The metrics of one bridge process, on its own ``CollectorRegistry`` (never the global one).

    Counters and histograms are updated as records settle and Zalo answers; gauges are read at
    scrape time from the callables given to the ``watch_…`` methods, so nothing goes stale.

    Args:
        clock: Monotonic seconds, for durations; tests pass a fake.
        failure_outcome: The outcome label of a Zalo call that raised (``not_sent``,
            ``timeout``, ``network_error``); by default from httpx's exception type.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.perf_counter,
        failure_outcome: Callable[[BaseException], str] = failure_by_type,
    ) -> None:
        self.registry = CollectorRegistry()
        self._clock = clock
        self._failure_outcome = failure_outcome
        self.consumed = Counter(
            f"{PREFIX}events_consumed",
            "Input records taken up for processing, by topic.",
            ["topic"],
            registry=self.registry,
        )
        self.outcomes = Counter(
            f"{PREFIX}outcomes",
            "Final outcomes of input records, by status (delivered, failed, suppressed, "
            "dead_lettered) and reason code.",
            ["status", "reason"],
            registry=self.registry,
        )
        self.processing = Histogram(
            f"{PREFIX}event_processing_seconds",
            "From taking a record up to its final outcome, retries and pauses included.",
            ["status"],
            buckets=_PROCESSING_BUCKETS,
            registry=self.registry,
        )
        self.retries = Counter(
            f"{PREFIX}retries",
            "Sends to Zalo beyond the first one of each record.",
            registry=self.registry,
        )
        self.zalo_latency = Histogram(
            f"{PREFIX}zalo_request_duration_seconds",
            "Zalo API calls, answer body included, by endpoint and outcome (ok, zalo_error, "
            "http_error, bad_body, not_sent, timeout, network_error, cancelled).",
            ["endpoint", "outcome"],
            buckets=_ZALO_BUCKETS,
            registry=self.registry,
        )
        self.zalo_errors = Counter(
            f"{PREFIX}zalo_errors",
            "Zalo API answers that were not a success, by endpoint and Zalo error code "
            "(or http_<status>).",
            ["endpoint", "code"],
            registry=self.registry,
        )
        self.deliveries = Counter(
            f"{PREFIX}deliveries",
            "Settled steps of the channel cascade, by channel (zalo_cs, zalo_template_uid, "
            "zalo_template_phone), recipient (event_user, linked_user, phone) and status.",
            ["channel", "recipient", "status"],
            registry=self.registry,
        )
        self.documents = Counter(
            f"{PREFIX}result_documents",
            "Result documents settled per recipient, by channel (zalo_file, zalo_image), "
            "outcome (sent, link, refused) and reason (link:window, link:too_large, …).",
            ["channel", "outcome", "reason"],
            registry=self.registry,
        )
        self._gauges = _Gauges()
        self.registry.register(self._gauges)
        self._watched = _Watched()
        self.registry.register(self._watched)
        self._consumers: Callable[[], Iterable[Any]] | None = None
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}

    def child(self, metric: Counter | Histogram, *values: str) -> Any:
        """``metric.labels(*values)``, looked up once per label set (several per event).

        The values have passed through `label_value`, so the cache is bounded like the series
        themselves; children are never removed from these metrics.
        """
        key = (id(metric), values)  # the metrics live as long as this object
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*values)
        return found

    # -- events

    def taken_up(self, topic: str) -> float:
        """Count a record taken up; return the moment, for `settled`."""
        self.child(self.consumed, topic).inc()
        return self._clock()

    @contextmanager
    def processing_of(self, topic: str) -> Iterator[None]:
        """Count a record taken up; outcomes settled inside the block are timed from now."""
        token = _TAKEN_UP_AT.set(self.taken_up(topic))
        try:
            yield
        finally:
            _TAKEN_UP_AT.reset(token)

    def settled(  # noqa: PLR0913 - the outcome and its parts, keyword-only
        self,
        status: str,
        reason: str | None,
        *,
        attempts: int,
        since: float | None = None,
        deliveries: Iterable[Any] = (),
        documents: Iterable[Any] = (),
    ) -> None:
        """Count a record's final outcome, its retries, its cascade steps and its documents.

        Args:
            status: The ``DeliveryStatus`` value.
            reason: Its reason code, or None.
            attempts: Sends to Zalo for this record.
            since: What `taken_up` returned; by default the start of the enclosing
                `processing_of` block, if any (a held record released later is not timed).
            deliveries: The outcome's ``ChannelDelivery`` steps (``channel``, ``recipient``,
                ``status``), counted in ``zalo_bridge_deliveries_total``.
            documents: The outcome's ``DocumentDelivery`` entries (``channel``, ``outcome``,
                ``reason``), counted in ``zalo_bridge_result_documents_total``.
        """
        status_label = label_value(str(status))
        self.child(self.outcomes, status_label, label_value(reason)).inc()
        started = since if since is not None else _TAKEN_UP_AT.get()
        if started is not None:
            self.child(self.processing, status_label).observe(max(0.0, self._clock() - started))
        if attempts > 1:
            self.retries.inc(attempts - 1)
        for step in deliveries:
            self.child(
                self.deliveries,
                label_value(str(step.channel)),
                label_value(str(step.recipient)),
                label_value(str(step.status)),
            ).inc()
        for document in documents:
            self.child(
                self.documents,
                label_value(str(document.channel)),
                label_value(str(document.outcome)),
                label_value(document.reason),
            ).inc()

    def instrument(self, transport: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        """Wrap the Zalo client's transport so that every call is timed and its outcome counted."""
        return _TimedTransport(transport, self)

    # -- state read at scrape time

    def watch_in_flight(self, read: Callable[[], int | None]) -> None:
        """Report ``read()`` as ``zalo_bridge_in_flight`` (records read, not yet committed)."""
        self._gauges.in_flight = read

    def watch_breaker(self, read: Callable[[], str | None], states: Iterable[str]) -> None:
        """Report the circuit breaker's state returned by ``read``, one of ``states``.

        Args:
            read: The current state (a ``BreakerState`` value).
            states: Every state the breaker has, each a series (1 for the current one, else 0).
        """
        self._gauges.breaker = read
        self._gauges.breaker_states = tuple(states)

    def watch_holds(self, read: Callable[[], Iterable[str]]) -> None:
        """Report the reasons the consumer's partitions are paused for (``FlowControl.reasons``)."""
        self._gauges.holds = read

    def watch_progress(self, read: Callable[[], ProgressLook | None]) -> None:
        """Report the watchdog's look (``ProgressWatchdog.check``), taken at scrape time.

        As ``zalo_bridge_oldest_unsettled_seconds{topic,partition}`` and
        ``zalo_bridge_watchdog_stalled``.
        """
        self._gauges.progress = read

    def watch_token(self, read: Callable[[], float | None], *, token: str = "access") -> None:  # noqa: S107 - a label, not a secret
        """Report ``read()``, the seconds until a Zalo token expires (None: unknown, not shown).

        Args:
            read: E.g. the token store's ``seconds_until_expiry``.
            token: The ``token`` label: ``access`` or ``refresh``.
        """
        self._gauges.tokens[label_value(token)] = read

    def watch_consumers(self, read: Callable[[], Iterable[Any]]) -> None:
        """Report the lag of each partition assigned to the aiokafka consumers ``read()`` gives.

        The lag is the partition's high watermark minus the group's committed offset (minus the
        log start while nothing is committed), read when ``/metrics`` is scraped.
        """
        self._consumers = read

    def watch_counter(
        self,
        name: str,
        documentation: str,
        read: Callable[[], Counts | None],
        labels: Sequence[str] = (),
    ) -> None:
        """Report ``read()``, counts kept by a feature (``collections.Counter``…), as a counter.

        Args:
            name: Without the ``zalo_bridge_`` prefix and the ``_total`` suffix.
            documentation: The HELP text.
            read: Values by label value(s); None (the feature is off) leaves the family out.
            labels: The label names; values pass through `label_value`.
        """
        self._watched.watches[name] = _Watch(
            "counter", PREFIX + name, documentation, tuple(labels), read
        )

    def watch_gauge(
        self,
        name: str,
        documentation: str,
        read: Callable[[], Counts | None],
        labels: Sequence[str] = (),
    ) -> None:
        """Report ``read()`` as a gauge, read at scrape time (see `watch_counter`)."""
        self._watched.watches[name] = _Watch(
            "gauge", PREFIX + name, documentation, tuple(labels), read
        )

    def refresh_before_scrape(self, key: str, refresh: Callable[[], Awaitable[None]]) -> None:
        """Await ``refresh()`` before each scrape (bounded to 5 s, errors swallowed).

        For counts that live in a database (held records, announcement progress): ``refresh``
        stores them where a `watch_gauge` reader finds them. A second call with the same
        ``key`` replaces the first (as a second `watch_gauge` of the same name does).
        """
        self._watched.refreshers[key] = refresh

    # -- exposition

    async def scrape(self, accept: str | None = None) -> tuple[bytes, str]:
        """Refresh the consumer lag, then render the registry for ``GET /metrics``.

        Args:
            accept: The request's ``Accept`` header (OpenMetrics when Prometheus asks for it).

        Returns:
            The body and its content type.
        """
        await self._refresh_lag()
        await self._watched.refresh()
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type

    async def _refresh_lag(self) -> None:
        lag: dict[tuple[str, int], int] = {}
        if self._consumers is not None:
            with contextlib.suppress(Exception):  # a broken scrape must not hurt the consumer
                consumers = [c for c in self._consumers() if c is not None]
                async with asyncio.timeout(_LAG_TIMEOUT):
                    for consumer in consumers:
                        lag.update(await _lag_of(consumer))
        self._gauges.lag = lag


async def _lag_of(consumer: Any) -> dict[tuple[str, int], int]:
    """High watermark minus committed offset of every partition assigned to ``consumer``."""
    lag: dict[tuple[str, int], int] = {}
    for tp in sorted(consumer.assignment(), key=lambda tp: (tp.topic, tp.partition)):
        high = consumer.highwater(tp)
        if high is None:  # nothing fetched yet
            continue
        done = await consumer.committed(tp)
        if done is None:  # nothing committed yet: the whole log is behind
            done = (await consumer.beginning_offsets([tp]))[tp]
        lag[tp.topic, tp.partition] = max(0, high - done)
    return lag


def _read(read: Callable[[], Any] | None) -> Any:
    """``read()``, or None when it is missing or fails (a scrape never raises)."""
    if read is None:
        return None
    try:
        return read()
    except Exception:  # noqa: BLE001 - a watched object failing must not fail the scrape
        _log.debug("metrics probe failed", exc_info=True)
        return None


class _Gauges(Collector):
    """The gauges whose values are read at scrape time."""

    def __init__(self) -> None:
        self.in_flight: Callable[[], int | None] | None = None
        self.breaker: Callable[[], str | None] | None = None
        self.breaker_states: tuple[str, ...] = ()
        self.holds: Callable[[], Iterable[str]] | None = None
        self.progress: Callable[[], ProgressLook | None] | None = None
        self.tokens: dict[str, Callable[[], float | None]] = {}
        self.lag: dict[tuple[str, int], int] = {}

    def describe(self) -> list[Metric]:
        """Nothing to describe ahead of time (the values exist only at scrape time)."""
        return []

    def collect(self) -> Iterator[Metric]:
        """Yield the current values."""
        in_flight = _read(self.in_flight)
        if in_flight is not None:
            yield GaugeMetricFamily(
                f"{PREFIX}in_flight", "Records read and not yet committed.", value=in_flight
            )
        state = _read(self.breaker)
        if state is not None:
            breaker = GaugeMetricFamily(
                f"{PREFIX}circuit_breaker_state",
                "1 for the circuit breaker's current state (closed, open, half_open), else 0.",
                labels=["state"],
            )
            for known in self.breaker_states:
                breaker.add_metric([known], 1.0 if known == str(state) else 0.0)
            yield breaker
        if self.holds is not None:
            reasons = sorted({label_value(r) for r in _read(self.holds) or ()})
            yield GaugeMetricFamily(
                f"{PREFIX}consumer_paused",
                "1 while the consumer's partitions are paused, else 0.",
                value=1.0 if reasons else 0.0,
            )
            holds = GaugeMetricFamily(
                f"{PREFIX}flow_hold",
                "1 for each reason the partitions are paused for (in_flight_window_full, "
                "circuit_breaker, …).",
                labels=["reason"],
            )
            for reason in reasons:
                holds.add_metric([reason], 1.0)
            yield holds
        yield from _progress_families(_read(self.progress))
        if self.tokens:
            expiry = GaugeMetricFamily(
                f"{PREFIX}token_expiry_seconds",
                "Seconds until the Zalo token expires (negative: expired).",
                labels=["token"],
            )
            for token, read in sorted(self.tokens.items()):
                seconds = _read(read)
                if seconds is not None:
                    expiry.add_metric([token], float(seconds))
            yield expiry
        lag = GaugeMetricFamily(
            f"{PREFIX}consumer_lag",
            "Records of the input topic not yet committed by bridge's group, by partition.",
            labels=["topic", "partition"],
        )
        for (topic, partition), value in sorted(self.lag.items()):
            lag.add_metric([topic, str(partition)], float(value))
        yield lag


def _progress_families(progress: ProgressLook | None) -> Iterator[Metric]:
    """The watchdog's gauges: the oldest unsettled record per partition, and the verdict."""
    if progress is None:
        return
    oldest = GaugeMetricFamily(
        f"{PREFIX}oldest_unsettled_seconds",
        "Age of the oldest record read and not settled yet, by partition (0 when none is).",
        labels=["topic", "partition"],
    )
    for (topic, partition), age in sorted(progress.oldest.items()):
        oldest.add_metric([topic, str(partition)], age)
    yield oldest
    yield GaugeMetricFamily(
        f"{PREFIX}watchdog_stalled",
        "1 while records are in flight and none has settled for delivery.watchdog_stall_seconds "
        "with Zalo and the token healthy (/health/live then answers 503), else 0.",
        value=1.0 if progress.stalled else 0.0,
    )


@dataclass(frozen=True, slots=True)
class _Watch:
    """One family read at scrape time."""

    kind: str
    name: str
    documentation: str
    labels: tuple[str, ...]
    read: Callable[[], Counts | None]

    def family(self, values: Counts | None) -> Metric | None:
        """The family of ``values`` (label values collapsed by `label_value`), or None."""
        if values is None:
            return None
        kind = CounterMetricFamily if self.kind == "counter" else GaugeMetricFamily
        family = kind(self.name, self.documentation, labels=self.labels)
        merged: dict[tuple[str, ...], float] = {}
        for key, value in values.items():
            raw = (key,) if isinstance(key, str) else key
            labelled = tuple(label_value(str(v)) for v in raw)
            merged[labelled] = merged.get(labelled, 0.0) + float(value)
        for labelled, value in sorted(merged.items()):
            if len(labelled) == len(self.labels):
                family.add_metric(list(labelled), value)
        return family


class _Watched(Collector):
    """Families of the features' counts, read at scrape time."""

    def __init__(self) -> None:
        self.watches: dict[str, _Watch] = {}
        self.refreshers: dict[str, Callable[[], Awaitable[None]]] = {}

    async def refresh(self) -> None:
        """Await every refresher (each bounded, none raising)."""
        for refresh in list(self.refreshers.values()):
            try:
                async with asyncio.timeout(_STORE_TIMEOUT):
                    await refresh()
            except Exception:  # noqa: BLE001 - a failing store must not fail the scrape
                _log.debug("metrics refresh failed", exc_info=True)

    def describe(self) -> list[Metric]:
        """Nothing to describe ahead of time (the values exist only at scrape time)."""
        return []

    def collect(self) -> Iterator[Metric]:
        """Yield the current values."""
        for watch in list(self.watches.values()):
            family = watch.family(_read(watch.read))
            if family is not None:
                yield family


class _TimedTransport(httpx.AsyncBaseTransport):
    """Times each Zalo call and reads Zalo's ``error`` code from the answer."""

    def __init__(self, inner: httpx.AsyncBaseTransport, metrics: Metrics) -> None:
        self._inner = inner
        self._metrics = metrics

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Forward ``request``; observe how long it took and how it ended."""
        endpoint = _endpoint(request.url.path)
        clock = self._metrics._clock  # noqa: SLF001 - the transport is part of Metrics
        started = clock()
        outcome, code = "network_error", None
        try:
            response = await self._inner.handle_async_request(request)
            if response.status_code != 200:  # noqa: PLR2004 - HTTP OK
                outcome, code = "http_error", f"http_{response.status_code}"
                return response
            # Read here, so the time covers the body; the client then reads the buffered copy.
            await response.aread()
            outcome, code = _zalo_outcome(response.content)
        except Exception as exc:
            # By cause, not by httpx's type (the aiohttp transport calls a refusal a timeout).
            outcome = self._metrics._failure_outcome(exc)  # noqa: SLF001 - part of Metrics
            raise
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        finally:
            metrics = self._metrics
            metrics.child(metrics.zalo_latency, endpoint, outcome).observe(
                max(0.0, clock() - started)
            )
            if code is not None:
                metrics.child(metrics.zalo_errors, endpoint, code).inc()
        return response

    async def aclose(self) -> None:
        """Close the wrapped transport."""
        await self._inner.aclose()


def _zalo_outcome(body: bytes) -> tuple[str, str | None]:
    """``ok`` for ``"error": 0``; else the outcome and the Zalo error code."""
    try:
        envelope = json.loads(body)
    except ValueError:
        return "bad_body", None
    code = envelope.get("error", 0) if isinstance(envelope, dict) else None
    if not isinstance(code, int):
        return "bad_body", None
    if code == 0:
        return "ok", None
    text = str(code)
    return "zalo_error", text if _ZALO_CODE.match(text) else OTHER
