"""Publish records bridge cannot understand to the dead-letter topic, bytes and headers intact."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bridge import __version__
from bridge.observability.masking import mask_text

if TYPE_CHECKING:
    from datetime import datetime

    from bridge.delivery.records import InboundRecord
    from bridge.errors import InvalidEventError

__all__ = ["DLQ_HEADER_PREFIX", "dead_letter_headers"]

DLQ_HEADER_PREFIX = "x-dlq-"
_MAX_DETAIL = 1000


def dead_letter_headers(
    record: InboundRecord, error: InvalidEventError, *, now: datetime
) -> list[tuple[str, bytes]]:
    """Return the original headers followed by bridge's ``x-dlq-*`` and ``x-original-*`` headers.

    The detail is masked (no phone or ID numbers) and bounded, so a DLQ browser never shows
    personal data that the original value does not already hold.
    """
    added = {
        f"{DLQ_HEADER_PREFIX}reason": error.reason.value,
        f"{DLQ_HEADER_PREFIX}detail": mask_text(error.detail)[:_MAX_DETAIL],
        f"{DLQ_HEADER_PREFIX}at": now.isoformat(),
        f"{DLQ_HEADER_PREFIX}bridge-version": __version__,
        "x-original-topic": record.topic,
        "x-original-partition": str(record.partition),
        "x-original-offset": str(record.offset),
    }
    if record.timestamp_ms is not None:
        added["x-original-timestamp"] = str(record.timestamp_ms)
    return [*record.headers, *((k, v.encode()) for k, v in added.items())]
