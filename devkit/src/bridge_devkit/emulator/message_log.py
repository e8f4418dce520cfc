"""The record of every call made to the emulated Zalo endpoints, in arrival order.

One log holds the calls to the send endpoints, accepted and rejected alike: each record carries
the Zalo error code that was answered (0 for an accepted message), the HTTP status, and the
injected fault if any. A message counts as *accepted* (sent to the user) when Zalo answered
`error: 0`, which includes calls whose answer was delayed by a fault (the client may never have
seen that answer). Reads (the conversation endpoint) go to a separate, smaller log, so that the
message log stays the list of what citizens were sent.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bridge_devkit.emulator.validation import Button

__all__ = ["MessageLog", "MessageRecord", "ReadLog", "ReadRecord", "RecordFilter"]


@dataclass(frozen=True, slots=True)
class MessageRecord:
    """One call to a send endpoint and what the emulator did with it.

    Attributes:
        seq: Arrival order, from 1, never reused (not even after the log is cleared).
        endpoint: The request path, e.g. `/v3.0/oa/message/cs`.
        received_at: Arrival time in epoch seconds.
        body: The request body parsed as JSON, or None if it was not JSON.
        raw_body: The request body text when it was not JSON (else None).
        user_id: `recipient.user_id` if the body had one.
        text: `message.text` if the body had one.
        error: The Zalo error code answered (0 = accepted); None if no Zalo envelope was sent.
        http_status: The HTTP status answered; None when the connection was dropped.
        fault: The kind of injected fault that applied, if any.
        message_id: The id given to an accepted message.
        sent_time: The accepted message's `sent_time` (epoch ms string).
        template_id: The template of a template message (as a string), if the body had one.
        template_data: The `template_data` of a template message, if it was a JSON object.
        phone: The recipient of a template message by phone (normalised to `84…` when valid).
        tracking_id: The `tracking_id` of a template message by phone, if a string.
        attachment: The kind of an accepted CS message's attachment (`image`, `gif`, `sticker`,
            `file`, `request_user_info`, `list`, `buttons`), if it had one.
        asset_id: The uploaded asset (attachment id or file token) an accepted message used.
        buttons: The buttons of an accepted CS message, in order.
        mode: The `mode` of a template message by phone (`development`), if given.
    """

    seq: int
    endpoint: str
    received_at: float
    body: object
    raw_body: str | None
    user_id: str | None
    text: str | None
    error: int | None
    http_status: int | None
    fault: str | None = None
    message_id: str | None = None
    sent_time: str | None = None
    template_id: str | None = None
    template_data: object = None
    phone: str | None = None
    tracking_id: str | None = None
    attachment: str | None = None
    asset_id: str | None = None
    buttons: tuple[Button, ...] = ()
    mode: str | None = None

    @property
    def accepted(self) -> bool:
        """Whether Zalo accepted (and would deliver) the message."""
        return self.error == 0


class RecordFilter(Enum):
    """Which records a query returns."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    ALL = "all"


class MessageLog:
    """An append-only, optionally bounded, list of `MessageRecord` in arrival order."""

    __slots__ = ("_records", "_seq")

    def __init__(self, max_entries: int | None = None) -> None:
        """Create an empty log keeping at most `max_entries` records (None = unbounded)."""
        self._records: deque[MessageRecord] = deque(maxlen=max_entries)
        self._seq = itertools.count(1)

    def next_seq(self) -> int:
        """Reserve the next arrival number."""
        return next(self._seq)

    def append(self, record: MessageRecord) -> None:
        """Add `record` at the end (dropping the oldest one if the log is full)."""
        self._records.append(record)

    def query(
        self,
        *,
        user_id: str | None = None,
        which: RecordFilter = RecordFilter.ACCEPTED,
        phone: str | None = None,
        endpoint: str | None = None,
    ) -> list[MessageRecord]:
        """Return the records of the kind `which`, in order, for the given filters (None = any).

        Args:
            user_id: Only records for this user.
            which: Accepted, rejected or all records.
            phone: Only template messages to this (normalised) phone number.
            endpoint: Only calls to this path.
        """
        return [
            record
            for record in self._records
            if (user_id is None or record.user_id == user_id)
            and (phone is None or record.phone == phone)
            and (endpoint is None or record.endpoint == endpoint)
            and (which is RecordFilter.ALL or (record.accepted is (which is RecordFilter.ACCEPTED)))
        ]

    def latest(self) -> MessageRecord | None:
        """Return the newest record, if any."""
        return self._records[-1] if self._records else None

    def find(self, message_id: str) -> MessageRecord | None:
        """Return the accepted record with `message_id`, if it is still held."""
        for record in reversed(self._records):
            if record.message_id == message_id:
                return record
        return None

    def clear(self) -> int:
        """Forget every record and return how many there were."""
        count = len(self._records)
        self._records.clear()
        return count

    def __len__(self) -> int:
        """Return the number of records held."""
        return len(self._records)


@dataclass(frozen=True, slots=True)
class ReadRecord:
    """One call to a read endpoint (the conversation) and what the emulator answered.

    Attributes:
        seq: Arrival order among reads, from 1, never reused.
        endpoint: The request path, e.g. `/v2.0/oa/conversation`.
        received_at: Arrival time in epoch seconds.
        user_id: The `user_id` asked for, if the query had one.
        offset: The `offset` asked for, if valid.
        count: The `count` asked for, if valid.
        returned: How many messages the answer listed (0 unless `error` is 0).
        error: The Zalo error code answered (0 = success); None if no Zalo envelope was sent.
        http_status: The HTTP status answered; None when the connection was dropped.
        fault: The kind of injected fault that applied, if any.
    """

    seq: int
    endpoint: str
    received_at: float
    user_id: str | None
    offset: int | None
    count: int | None
    returned: int
    error: int | None
    http_status: int | None
    fault: str | None = None


class ReadLog:
    """An append-only, optionally bounded, list of `ReadRecord` in arrival order."""

    __slots__ = ("_records", "_seq")

    def __init__(self, max_entries: int | None = None) -> None:
        """Create an empty log keeping at most `max_entries` records (None = unbounded)."""
        self._records: deque[ReadRecord] = deque(maxlen=max_entries)
        self._seq = itertools.count(1)

    def next_seq(self) -> int:
        """Reserve the next arrival number."""
        return next(self._seq)

    def append(self, record: ReadRecord) -> None:
        """Add `record` at the end (dropping the oldest one if the log is full)."""
        self._records.append(record)

    def query(self, *, user_id: str | None = None) -> list[ReadRecord]:
        """Return the reads for `user_id` (any user if None), in arrival order."""
        return [r for r in self._records if user_id is None or r.user_id == user_id]

    def clear(self) -> int:
        """Forget every record and return how many there were."""
        count = len(self._records)
        self._records.clear()
        return count

    def __len__(self) -> int:
        """Return the number of records held."""
        return len(self._records)
