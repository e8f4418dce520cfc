"""What delivery takes and gives: a Kafka record as it arrived, and the final word on it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bridge.status import Channel, ChannelDelivery, DeliveryStatus, DocumentDelivery

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bridge.errors import InvalidEventError
    from bridge.events import CaseStateEvent

__all__ = ["DeliveryOutcome", "InboundRecord"]


@dataclass(frozen=True, slots=True)
class InboundRecord:
    """A Kafka record exactly as it arrived: value and header bytes untouched."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: Sequence[tuple[str, bytes]] = ()
    timestamp_ms: int | None = None


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """The final word on one input record; its offset may be committed once it exists."""

    status: DeliveryStatus
    reason: str | None = None
    message_id: str | None = None
    attempts: int = 0
    template_version: str | None = None
    event: CaseStateEvent | None = field(default=None, repr=False)
    dead_letter: InvalidEventError | None = None
    history: tuple[str, ...] = ()
    channel: Channel = Channel.ZALO_CS
    deliveries: tuple[ChannelDelivery, ...] = ()
    documents: tuple[DocumentDelivery, ...] = ()
