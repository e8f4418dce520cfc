"""Consume case-state events with faststream and hand each record to the dispatcher."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiokafka import ConsumerRebalanceListener
from faststream import AckPolicy

from bridge.delivery.records import InboundRecord
from bridge.kafka.group_commit import identity_of
from bridge.observability.logs import get_logger

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from aiokafka import ConsumerRecord, TopicPartition
    from faststream.kafka import KafkaBroker
    from faststream.message import StreamMessage

    from bridge.delivery.dispatch import Dispatcher
    from bridge.delivery.flow import FlowControl
    from bridge.delivery.settings import DeliveryConfig

__all__ = ["lenient_parser", "register_consumer", "revoke_grace_seconds", "to_inbound_record"]

_log = get_logger("bridge.consumer")


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


async def lenient_parser(
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


@dataclass(frozen=True, slots=True)
class _Fetched:
    """What the handler gets: the record as it arrived, and the consumer that read it."""

    record: InboundRecord
    consumer: Any


async def _fetched(message: StreamMessage[Any]) -> _Fetched:
    """Decode a message into the record and its consumer; bridge decodes the value itself.

    Handing both over as the body keeps the handler free of injected parameters, which
    faststream's dependency injection would otherwise resolve in a worker thread per message.
    """
    return _Fetched(to_inbound_record(message.raw_message), getattr(message, "consumer", None))


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc] # aiokafka is untyped
    """Settles and commits what it can before partitions move to another replica.

    Newly assigned partitions join the flow control at once: they are paused while any reason to
    hold back stands (the circuit breaker open, the token unusable…), and resumed with the others
    when the last reason goes, even if no record was read from them yet.
    """

    def __init__(
        self,
        dispatcher: Callable[[], Dispatcher],
        flow: FlowControl,
        grace: float,
    ) -> None:
        self._dispatcher = dispatcher
        self._flow = flow
        self._grace = grace
        self._consumer: Callable[[], Any] = lambda: None

    def consumer_of(self, read: Callable[[], Any]) -> None:
        """Where to find the aiokafka consumer (the subscriber's, once it started)."""
        self._consumer = read

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        if revoked:
            await self._dispatcher().revoke(
                [(tp.topic, tp.partition) for tp in revoked], self._grace
            )

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        consumer = self._consumer()
        if consumer is not None:
            self._flow.attach(consumer)  # before the first record: pause what must wait
            coordinator = getattr(consumer, "_coordinator", None)
            _log.info(
                "partitions assigned; their offsets are committed under this generation",
                partitions=sorted((tp.topic, tp.partition) for tp in assigned),
                generation=getattr(coordinator, "generation", None),
                member_id=getattr(coordinator, "member_id", None),
            )
        self._flow.reapply()


def revoke_grace_seconds(settings: DeliveryConfig) -> float:
    """How long revoked partitions may take to settle and commit before they are handed over."""
    return min(settings.delivery.lease_seconds, settings.kafka.max_poll_interval_ms / 2000)


def register_consumer(
    broker: KafkaBroker,
    settings: DeliveryConfig,
    dispatcher: Callable[[], Dispatcher],
    flow: FlowControl,
) -> None:
    """Subscribe the dispatcher to the input topic, committing nothing itself.

    faststream only reads: the handler hands each record to the dispatcher and returns, and the
    dispatcher commits offsets (with the status events) once records are settled. One consumer
    per process; concurrency comes from the dispatcher's per-dossier lanes.

    Args:
        broker: The faststream broker the subscriber is added to.
        settings: Topic, group and consumer settings.
        dispatcher: Returns the dispatcher; called per record, so it can be built at start-up.
        flow: Pauses the partitions while the dispatcher or the breaker hold back.
    """
    kafka = settings.kafka
    grace = revoke_grace_seconds(settings)
    listener = _Rebalance(dispatcher, flow, grace)
    # One consumer reads both contracts: each record's schema_version decides how it is read,
    # and its topic where its status event and dead letter go.
    topics = (kafka.input_topic, kafka.v2_input_topic) if kafka.v2_enabled else (kafka.input_topic,)
    subscriber = broker.subscriber(
        *topics,
        group_id=kafka.consumer_group,
        auto_offset_reset=kafka.auto_offset_reset,
        # A producer's aborted transaction never happened: its events must not reach a citizen.
        isolation_level="read_committed",
        ack_policy=AckPolicy.MANUAL,
        max_poll_interval_ms=kafka.max_poll_interval_ms,
        session_timeout_ms=kafka.session_timeout_ms,
        # How long the group waits for members to rejoin: max_poll_interval_ms, as in Java's
        # client, at least twice the revoke grace. aiokafka's default is the session timeout
        # (10 s), shorter than the grace: the group would drop this member mid-drain, and its
        # commit (TxnOffsetCommit without a generation) would still be accepted afterwards.
        rebalance_timeout_ms=kafka.max_poll_interval_ms,
        listener=listener,
        parser=lenient_parser,
        decoder=_fetched,
        title="case-state-events",
        description="Case-state events (schemas/case-state-event.v1.json), keyed by dossier code.",
    )
    listener.consumer_of(lambda: getattr(subscriber, "consumer", None))

    @subscriber
    async def on_case_state_event(fetched: Any) -> None:
        flow.attach(fetched.consumer)
        record = fetched.record
        if getattr(fetched.consumer, "_coordinator", None) is None:
            dispatcher().submit(record)  # no group membership to commit under (test brokers)
            return
        owner = identity_of(fetched.consumer, record.topic, record.partition)
        if owner is None:
            # Read just before the partition moved: its next owner reads it again.
            _log.debug(
                "record of a partition no longer owned; left to its next owner",
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
            )
            return
        dispatcher().submit(record, owner)
