"""Publish records bridge cannot process to the dead-letter topic, bytes and headers intact."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bridge import __version__
from bridge.observability.masking import mask_text

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    from bridge.delivery.records import InboundRecord
    from bridge.errors import InvalidEventError

__all__ = [
    "DLQ_HEADER_PREFIX",
    "MAX_DEAD_LETTER_BYTES",
    "dead_letter_copy",
    "dead_letter_headers",
]

DLQ_HEADER_PREFIX = "x-dlq-"
MAX_DEAD_LETTER_BYTES = 1_000_000
"""Largest dead-letter copy published whole: Kafka's default ``max.message.bytes`` and the
producer's default ``max_request_size`` are 1 MiB, and a copy the broker refuses would be retried
forever. A larger one goes without its value (``x-dlq-value-omitted`` gives its size); the
original stays on the input topic for its retention."""
_MAX_DETAIL = 1000
_OVERHEAD = 512
"""Bytes a record's framing may add to its key, value and headers (a generous estimate)."""


def dead_letter_headers(
    record: InboundRecord, error: InvalidEventError, *, now: datetime
) -> list[tuple[str, bytes]]:
    """Return the original headers followed by bridge's ``x-dlq-*`` and ``x-original-*`` headers.

    ``x-dlq-reason`` is the reason, ``x-dlq-exception`` the class of the exception behind it. The
    detail is masked (no phone or ID numbers) and bounded, so a DLQ browser never shows personal
    data that the original value does not already hold.
    """
    added = {
        f"{DLQ_HEADER_PREFIX}reason": error.reason.value,
        f"{DLQ_HEADER_PREFIX}exception": error.exception,
        f"{DLQ_HEADER_PREFIX}detail": mask_text(error.detail)[:_MAX_DETAIL],
        f"{DLQ_HEADER_PREFIX}at": now.isoformat(),
        f"{DLQ_HEADER_PREFIX}bridge-version": __version__,
        "x-original-topic": record.topic,
        "x-original-partition": str(record.partition),
        "x-original-offset": str(record.offset),
    }
    if record.timestamp_ms is not None:
        added["x-original-timestamp"] = str(record.timestamp_ms)
    return [*record.headers, *((k, _encoded(v)) for k, v in added.items())]


def dead_letter_copy(
    record: InboundRecord,
    error: InvalidEventError,
    *,
    now: datetime,
    extra: Iterable[tuple[str, str]] = (),
) -> tuple[bytes, list[tuple[str, bytes]]]:
    """The value and headers of ``record``'s dead-letter copy (its key is the record's).

    The value is the record's, byte for byte; ``extra`` headers (name, text) follow bridge's
    own. A copy larger than ``MAX_DEAD_LETTER_BYTES`` goes without its value (see there).
    """
    headers = dead_letter_headers(record, error, now=now)
    headers.extend((name, _encoded(text)) for name, text in extra)
    value = record.value
    size = len(value) + len(record.key or b"") + sum(len(k) + len(v) for k, v in headers)
    if size + _OVERHEAD > MAX_DEAD_LETTER_BYTES:
        headers.append((f"{DLQ_HEADER_PREFIX}value-omitted", str(len(value)).encode()))
        value = b""
    return value, headers


def _encoded(text: str) -> bytes:
    """UTF-8, with anything that is not (a lone surrogate quoted from the input) escaped."""
    return text.encode("utf-8", "backslashreplace")
