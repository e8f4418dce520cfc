"""What operators see of a running bridge: logs, masked personal data, metrics."""

from bridge.observability.logs import configure_logging, get_logger
from bridge.observability.masking import mask_text, pseudonymise
from bridge.observability.metrics import Counts, Metrics, Snapshot, flag, with_zeros
from bridge.observability.settings import LogSettings

__all__ = [
    "Counts",
    "LogSettings",
    "Metrics",
    "Snapshot",
    "configure_logging",
    "flag",
    "get_logger",
    "mask_text",
    "pseudonymise",
    "with_zeros",
]
