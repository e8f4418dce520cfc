"""Feedback events onto their Kafka topic (an idempotent producer), keyed by dossier code."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiokafka.errors import KafkaError

from bridge.errors import BridgeError

if TYPE_CHECKING:
    from bridge.feedback.contract import CitizenFeedback

__all__ = ["FeedbackPublishError", "KafkaFeedback"]


class FeedbackPublishError(BridgeError):
    """The feedback event could not be published now; the survey stays unpublished."""


class KafkaFeedback:
    """Publishes ``CitizenFeedback`` events with a started ``aiokafka.AIOKafkaProducer``.

    Args:
        producer: Started, with ``enable_idempotence`` and ``acks="all"``; the caller stops it.
        topic: ``feedback.topic``.
    """

    def __init__(self, producer: Any, topic: str) -> None:
        self._producer = producer
        self._topic = topic

    async def publish(self, event: CitizenFeedback) -> None:
        """Publish ``event`` and wait for the broker's acknowledgement."""
        try:
            await self._producer.send_and_wait(
                self._topic,
                event.model_dump_json().encode(),
                key=event.case_code.encode(),
                headers=[("x-feedback-id", str(event.feedback_id).encode())],
            )
        except KafkaError as exc:
            raise FeedbackPublishError(f"cannot publish the feedback event: {exc!r}") from exc
