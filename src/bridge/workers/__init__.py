"""Several worker processes in one pod: a supervisor that starts them and answers for them."""

from bridge.workers.metrics_merge import merged_metrics
from bridge.workers.supervisor import Supervisor, WorkerSpec, worker_specs

__all__ = ["Supervisor", "WorkerSpec", "merged_metrics", "worker_specs"]
