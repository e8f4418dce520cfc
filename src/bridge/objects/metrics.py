"""Object storage as metrics: operations by outcome."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bridge.objects.store import OPERATIONS, OUTCOMES

if TYPE_CHECKING:
    from bridge.objects.store import ObjectStore
    from bridge.observability.metrics import Counts, Metrics

__all__ = ["watch_objects"]


def watch_objects(metrics: Metrics, store: ObjectStore) -> None:
    """Register ``zalo_bridge_object_operations_total{backend,operation,outcome}``."""

    def read() -> Counts:
        counts = {(store.backend, op, outcome): 0.0 for op in OPERATIONS for outcome in ("ok",)}
        for (operation, outcome), value in store.stats.counts.items():
            counts[store.backend, operation, outcome] = float(value)
        return counts

    metrics.watch_counter(
        "object_operations",
        "Object storage operations of this process, by backend (local, s3), operation (put, "
        f"get, stat, delete, presign, check) and outcome ({', '.join(OUTCOMES)}).",
        read,
        ["backend", "operation", "outcome"],
    )
