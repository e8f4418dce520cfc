"""Consume case-state events with faststream, committing each record once its outcome is settled."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import TYPE_CHECKING, Any

import structlog
from faststream import AckPolicy
from faststream.kafka import KafkaMessage  # noqa: TC002 - faststream reads handler annotations at runtime

from bridge.delivery import Deliverer, InboundRecord
from bridge.errors import AccountError, DeliveryError, TokenError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from aiokafka import ConsumerRecord
    from faststream.kafka import KafkaBroker
    from faststream.message import StreamMessage

    from bridge.settings import Settings

__all__ = ["register_consumer", "to_inbound_record"]

_log = structlog.stdlib.get_logger("bridge.consumer")


def to_inbound_record(raw: ConsumerRecord[Any, Any]) -> InboundRecord:
    """Copy what bridge needs from an aiokafka record, keeping the bytes as they arrived."""
    return InboundRecord(
        topic=raw.topic,
        partition=raw.partition,
        offset=raw.offset,
        key=raw.key,
        value=raw.value or b"",
        headers=tuple(raw.headers or ()),
        timestamp_ms=raw.timestamp,
    )


async def _lenient_parser(
    record: ConsumerRecord[Any, Any],
    original: Callable[[ConsumerRecord[Any, Any]], Awaitable[StreamMessage[Any]]],
) -> StreamMessage[Any]:
    """Parse like faststream, without failing on header values that are not UTF-8.

    faststream decodes every header value as UTF-8 before the handler runs; one binary header
    would otherwise make the record vanish unprocessed. The record handed to the handler keeps
    its original bytes.
    """
    try:
        return await original(record)
    except UnicodeDecodeError:
        safe = dataclasses.replace(
            record,
            headers=[(k, v.decode("utf-8", "replace").encode()) for k, v in record.headers],
        )
        if hasattr(record, "consumer"):
            safe.consumer = record.consumer
        message = await original(safe)
        message.raw_message = record
        return message


async def _raw_body(message: StreamMessage[Any]) -> bytes:
    """Hand the record value to the handler as bytes: bridge decodes it itself."""
    return bytes(message.body)


def register_consumer(
    broker: KafkaBroker,
    settings: Settings,
    deliverer: Callable[[], Deliverer],
    *,
    pause: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Subscribe ``deliverer`` to the input topic, with at-least-once commits.

    A record's offset is committed only after its outcome is settled: delivered, failed for
    good, suppressed or dead-lettered. When delivery cannot proceed (retries exhausted, token
    or account trouble, an unexpected error), the consumer waits ``redelivery_pause_seconds``
    and seeks back, so the same record is fetched again and nothing later is committed past it.

    Args:
        broker: The faststream broker the subscriber is added to.
        settings: Topic, group and consumer settings.
        deliverer: Returns the use case; called per record, so it can be built at start-up.
        pause: Awaited before a record is handed back; tests pass a fake.
    """
    kafka = settings.kafka
    redelivery_pause = settings.delivery.redelivery_pause_seconds

    @broker.subscriber(
        kafka.input_topic,
        group_id=kafka.consumer_group,
        auto_offset_reset=kafka.auto_offset_reset,
        ack_policy=AckPolicy.MANUAL,
        max_workers=kafka.consumers,
        max_poll_interval_ms=kafka.max_poll_interval_ms,
        session_timeout_ms=kafka.session_timeout_ms,
        parser=_lenient_parser,
        decoder=_raw_body,
        title="case-state-events",
        description="Case-state events (schemas/case-state-event.v1.json), keyed by dossier code.",
    )
    async def on_case_state_event(body: bytes, message: KafkaMessage) -> None:  # noqa: ARG001 - faststream passes the body first
        record = to_inbound_record(message.raw_message)
        log = _log.bind(topic=record.topic, partition=record.partition, offset=record.offset)
        try:
            await deliverer().handle(record)
        except (TokenError, AccountError) as error:
            log.error(  # noqa: TRY400 - an operator's problem, not a traceback's
                "delivery blocked until an administrator acts",
                error=str(error),
                code=error.code,
                pause_s=redelivery_pause,
            )
        except DeliveryError as error:
            log.warning("delivery postponed", error=str(error), pause_s=redelivery_pause)
        except Exception:
            log.exception("unexpected error; the record will be fetched again")
        else:
            await message.ack()
            return
        await pause(redelivery_pause)
        await message.nack()
