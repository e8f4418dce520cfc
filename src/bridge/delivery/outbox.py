"""What settling a record publishes (status event, dead-letter copy), in one Kafka transaction."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError, ProducerFenced

from bridge.delivery.dead_letter import dead_letter_copy
from bridge.errors import BridgeError
from bridge.kafka.group_commit import is_fenced_commit
from bridge.observability.masking import mask_text
from bridge.status import DeliveryStatusEvent, SourceRecord, status_id_for

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from bridge.delivery.records import DeliveryOutcome, InboundRecord
    from bridge.errors import InvalidEventError

__all__ = [
    "FencedError",
    "OutboundRecord",
    "OwnershipLostError",
    "PublishError",
    "TransactionalPublisher",
    "dead_letter_of",
    "outputs_for",
]


@dataclass(frozen=True, slots=True)
class OutboundRecord:
    """A record to publish when the input record is committed."""

    topic: str
    key: bytes | None
    value: bytes
    headers: Sequence[tuple[str, bytes]] = ()


def dead_letter_of(
    record: InboundRecord,
    error: InvalidEventError,
    *,
    topic: str,
    now: datetime,
    extra: Sequence[tuple[str, str]] = (),
) -> OutboundRecord:
    """The dead-letter copy of ``record`` on ``topic`` (see ``dead_letter_copy``)."""
    value, headers = dead_letter_copy(record, error, now=now, extra=extra)
    return OutboundRecord(topic, record.key, value, headers)


def outputs_for(
    record: InboundRecord,
    outcome: DeliveryOutcome,
    *,
    status_topic: str,
    dead_letter_topic: str,
    now: datetime | None = None,
) -> list[OutboundRecord]:
    """List the records that settling ``record`` publishes.

    Always its status event; and its dead-letter copy (original value, key and headers, plus
    the reason) when it is parked.
    """
    moment = now or datetime.now(UTC)
    event = outcome.event
    source = SourceRecord(topic=record.topic, partition=record.partition, offset=record.offset)
    details = event.kind_details if event else None
    protected = details is not None and details.protects_identity
    status = DeliveryStatusEvent(
        status_id=status_id_for(source, outcome.status),
        event_id=event.event_id if event else None,
        case_code=event.case.code if event else None,
        province=event.province if event else None,
        channel=outcome.channel,
        status=outcome.status,
        reason=outcome.reason,
        zalo_message_id=outcome.message_id,
        attempts=outcome.attempts,
        template_version=outcome.template_version,
        event_occurred_at=event.occurred_at if event else None,
        settled_at=moment,
        source=source,
        # The one-stop-shop knows the Zalo user it named; who linked the dossier through the OA
        # stays with bridge (data minimisation): linked users' steps carry no user id.
        # A denouncer is named nowhere, not even to the agency's own status consumer (R6).
        deliveries=tuple(
            d.model_copy(update={"zalo_user_id": None})
            if d.recipient == "linked_user" or protected
            else d
            for d in outcome.deliveries
        ),
        documents=tuple(
            d.model_copy(update={"zalo_user_id": None})
            if d.recipient == "linked_user" or protected
            else d
            for d in outcome.documents
        ),
    )
    key = event.case.code.encode() if event else record.key
    outputs = [
        OutboundRecord(status_topic, key, status.model_dump_json().encode(), ()),
    ]
    if outcome.dead_letter is not None:
        extra = []
        if outcome.history:
            # Zalo's error texts may quote a phone or ID number: masked like x-dlq-detail.
            history = json.dumps([mask_text(line) for line in outcome.history], ensure_ascii=False)
            extra.append(("x-dlq-attempts", history))
        outputs.append(
            dead_letter_of(
                record, outcome.dead_letter, topic=dead_letter_topic, now=moment, extra=extra
            )
        )
    return outputs


class PublishError(BridgeError):
    """The outputs and offsets could not be committed now; they stay pending and are retried."""


class FencedError(BridgeError):
    """Another process took this replica's transactional id: this one must stop."""


class OwnershipLostError(PublishError):
    """The group coordinator refused the offsets: the group has moved past this member.

    The transaction was aborted, so its outputs are never visible; the partitions belong to
    another member (or to this one under a newer generation) and are read again there.
    """


class TransactionalPublisher:
    """Publishes outputs and commits consumer offsets in one Kafka transaction.

    Consumers of the status and dead-letter topics that read with
    ``isolation_level="read_committed"`` see each output exactly once, and only for records
    whose offsets are committed: a record processed again after a crash publishes again, but
    its earlier, uncommitted outputs were never visible.

    Args:
        producer: An ``aiokafka.AIOKafkaProducer`` created with a ``transactional_id``, started.
        group_id: The consumer group whose offsets are committed.
    """

    def __init__(self, producer: Any, group_id: str) -> None:
        self._producer = producer
        self._group_id = group_id

    async def publish(
        self,
        outputs: Sequence[OutboundRecord],
        offsets: Mapping[tuple[str, int], int],
        owner: str | None = None,
    ) -> None:
        """Publish ``outputs`` and commit ``offsets`` ((topic, partition) → next) atomically.

        ``owner`` is the group identity the records were fetched under
        (``bridge.kafka.group_commit.GroupIdentity``): the coordinator refuses the offsets, and
        the whole transaction is aborted, if the group has moved past it since.
        """
        producer = self._producer
        group_id = owner if owner is not None else self._group_id
        try:
            async with producer.transaction():
                for output in outputs:
                    await producer.send(
                        output.topic, output.value, key=output.key, headers=list(output.headers)
                    )
                if offsets:  # outputs of released holds commit no offsets
                    await producer.send_offsets_to_transaction(
                        {TopicPartition(t, p): o for (t, p), o in offsets.items()}, group_id
                    )
        except ProducerFenced as exc:
            raise FencedError(f"transactional id taken over by another process: {exc}") from exc
        except KafkaError as exc:
            if is_fenced_commit(exc):
                raise OwnershipLostError(f"offsets refused by the group: {exc!r}") from exc
            raise PublishError(f"cannot commit the transaction: {exc!r}") from exc
