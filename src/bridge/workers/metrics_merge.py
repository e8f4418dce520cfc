"""The workers' Prometheus expositions as one, each sample labelled with its worker."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping

__all__ = ["WORKER_LABEL", "merged_metrics"]

WORKER_LABEL = "worker"
"""The label that tells the workers' series apart (``0``, ``1``, …)."""


class _Merged:
    """A collector over already-scraped expositions (prometheus_client's custom-collector API)."""

    def __init__(self, expositions: Mapping[int, str]) -> None:
        self._expositions = expositions

    def collect(self) -> Iterator[Metric]:
        families: dict[str, Metric] = {}
        for worker, text in sorted(self._expositions.items()):
            for family in text_string_to_metric_families(text):
                merged = families.get(family.name)
                if merged is None:
                    merged = families[family.name] = Metric(
                        family.name, family.documentation, family.type, family.unit
                    )
                for sample in family.samples:
                    labels = {**sample.labels, WORKER_LABEL: str(worker)}
                    merged.add_sample(sample.name, labels, sample.value, sample.timestamp)
        yield from families.values()


def merged_metrics(expositions: Mapping[int, str], workers: int) -> bytes:
    """One exposition of every worker's metrics (worker index → its ``/metrics`` text).

    A worker that did not answer is left out; ``zalo_bridge_worker_up`` says which answered.
    """
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Merged(expositions))
    return generate_latest(registry) + _up(expositions, workers)


def _up(expositions: Mapping[int, str], workers: int) -> bytes:
    lines: Iterable[str] = (
        "# HELP zalo_bridge_worker_up Whether the worker answered the supervisor's scrape.",
        "# TYPE zalo_bridge_worker_up gauge",
        *(
            f'zalo_bridge_worker_up{{{WORKER_LABEL}="{w}"}} {1.0 if w in expositions else 0.0}'
            for w in range(workers)
        ),
    )
    return ("\n".join(lines) + "\n").encode()
