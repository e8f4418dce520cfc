"""Subscribe to the announcements topic: its own consumer group, acknowledged once stored."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from faststream import AckPolicy

from bridge.delivery.consumer import lenient_parser, to_inbound_record

if TYPE_CHECKING:
    from collections.abc import Callable

    from faststream.kafka import KafkaBroker
    from faststream.message import StreamMessage

    from bridge.announcements.intake import AnnouncementIntake
    from bridge.announcements.settings import AnnouncementsConfig
    from bridge.delivery.records import InboundRecord

__all__ = ["announcement_group", "register_announcement_consumer"]


def announcement_group(settings: AnnouncementsConfig) -> str:
    """The consumer group of the announcements topic."""
    return settings.announcements.consumer_group or f"{settings.kafka.consumer_group}-announcements"


@dataclass(frozen=True, slots=True)
class _Fetched:
    record: InboundRecord
    message: StreamMessage[Any]


async def _fetched(message: StreamMessage[Any]) -> _Fetched:
    return _Fetched(to_inbound_record(message.raw_message), message)


def register_announcement_consumer(
    broker: KafkaBroker, settings: AnnouncementsConfig, intake: Callable[[], AnnouncementIntake]
) -> None:
    """Subscribe ``intake`` to the announcements topic with manual acknowledgement.

    A record is acknowledged only after it is stored (or dead-lettered): the fan-out runs from
    the store, so the record is never held for the hours an audience may take.
    """
    kafka = settings.kafka

    @broker.subscriber(
        settings.announcements.topic,
        group_id=announcement_group(settings),
        auto_offset_reset=kafka.auto_offset_reset,
        # An announcement in a producer's aborted transaction was never made.
        isolation_level="read_committed",
        ack_policy=AckPolicy.MANUAL,
        session_timeout_ms=kafka.session_timeout_ms,
        # faststream drops a record whose header is not UTF-8 unacknowledged; the next
        # record's acknowledgement would then commit past it.
        parser=lenient_parser,
        decoder=_fetched,
        title="government-announcements",
        description="Government announcements (schemas/announcement.v1.json).",
    )
    async def on_announcement(fetched: Any) -> None:
        await intake().accept(fetched.record)
        await fetched.message.ack()
