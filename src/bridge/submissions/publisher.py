"""Confirmed dossiers onto their Kafka topic (an idempotent producer), keyed by submission id."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiokafka.errors import KafkaError

from bridge.errors import BridgeError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["KafkaSubmissions", "SubmissionPublishError"]


class SubmissionPublishError(BridgeError):
    """The submission event could not be published now; it stays in the outbox."""


class KafkaSubmissions:
    """Publishes citizen-submission.v1 events with a started ``aiokafka.AIOKafkaProducer``.

    Args:
        producer: Started, with ``enable_idempotence`` and ``acks="all"``; the caller stops it.
        topic: ``submissions.topic``.
    """

    def __init__(self, producer: Any, topic: str) -> None:
        self._producer = producer
        self._topic = topic

    async def publish(self, event: Mapping[str, Any]) -> None:
        """Publish ``event`` (the JSON of a ``CitizenSubmission``) and wait for the broker."""
        submission_id = str(event["submission_id"])
        try:
            await self._producer.send_and_wait(
                self._topic,
                json.dumps(event, ensure_ascii=False).encode(),
                key=submission_id.encode(),
                headers=[("x-submission-id", submission_id.encode())],
            )
        except KafkaError as exc:
            raise SubmissionPublishError(f"cannot publish the submission: {exc!r}") from exc
