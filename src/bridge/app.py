"""The composition root: ``create_app(settings, …)`` wires broker, Zalo client and use case."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import httpx
from aiokafka import AIOKafkaProducer
from faststream.asgi import AsgiFastStream, AsgiResponse, get, make_ping_asgi
from faststream.kafka import KafkaBroker

from bridge.consumer import register_consumer
from bridge.dead_letter import KafkaDeadLetterSink
from bridge.delivery import DeadLetterSink, Deliverer, DeliveryPolicy, MessageSender
from bridge.mapping import MessageContext
from bridge.zalo import ZaloClient

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from faststream.asgi.request import AsgiRequest

    from bridge.settings import Settings

__all__ = ["Runtime", "create_app", "message_context"]


def message_context(settings: Settings) -> MessageContext:
    """The wording settings of the configured province."""
    province = settings.province
    return MessageContext(
        lookup_url_template=province.lookup_url_template,
        timezone=ZoneInfo(province.timezone),
        signature=province.signature,
    )


@dataclass
class Runtime:
    """What exists only while the app runs: opened at start-up, closed at shutdown.

    Fakes passed to ``create_app`` are used as they are and never closed by bridge.
    """

    settings: Settings
    sender: MessageSender | None = None
    dead_letters: DeadLetterSink | None = None
    _deliverer: Deliverer | None = None
    _closers: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)

    def deliverer(self) -> Deliverer:
        """The use case; available between start-up and shutdown."""
        if self._deliverer is None:
            raise RuntimeError("the bridge has not started")
        return self._deliverer

    async def start(self) -> None:
        """Open the Zalo client and the dead-letter producer, then build the use case."""
        settings = self.settings
        sender = self.sender
        if sender is None:
            zalo = settings.zalo
            http = httpx.AsyncClient(
                base_url=str(zalo.base_url),
                timeout=httpx.Timeout(zalo.timeout_seconds, connect=zalo.connect_timeout_seconds),
                limits=httpx.Limits(
                    max_connections=zalo.max_connections,
                    max_keepalive_connections=zalo.max_connections,
                ),
                headers={"user-agent": "zalo-bridge"},
            )
            self._closers.append(http.aclose)
            token = zalo.access_token.get_secret_value() if zalo.access_token else None
            sender = ZaloClient(http, access_token=token)
        dead_letters = self.dead_letters
        if dead_letters is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=settings.kafka.bootstrap_servers,
                client_id=f"{settings.kafka.client_id}-dlq",
                acks="all",
                enable_idempotence=True,
            )
            await producer.start()
            self._closers.append(producer.stop)
            dead_letters = KafkaDeadLetterSink(producer, settings.kafka.dead_letter_topic)
        delivery = settings.delivery
        self._deliverer = Deliverer(
            sender=sender,
            dead_letters=dead_letters,
            context=message_context(settings),
            policy=DeliveryPolicy(
                max_attempts=delivery.max_attempts,
                initial_backoff=delivery.initial_backoff_seconds,
                max_backoff=delivery.max_backoff_seconds,
                budget=delivery.attempt_budget_seconds,
            ),
            max_event_bytes=settings.kafka.max_event_bytes,
        )

    async def stop(self) -> None:
        """Close what ``start`` opened, newest first."""
        while self._closers:
            await self._closers.pop()()
        self._deliverer = None


def create_app(
    settings: Settings,
    *,
    sender: MessageSender | None = None,
    dead_letters: DeadLetterSink | None = None,
    pause: Callable[[float], Awaitable[None]] | None = None,
) -> AsgiFastStream:
    """Build the bridge: a faststream Kafka app with health endpoints, ready for uvicorn.

    Nothing connects until the app starts. ``GET /health/live`` answers while the process runs;
    ``GET /health/ready`` answers 204 while the Kafka broker is reachable.

    Args:
        settings: The validated settings.
        sender: Replaces the Zalo client (tests pass fakes).
        dead_letters: Replaces the Kafka dead-letter producer.
        pause: Replaces the wait before a postponed record is fetched again.
    """
    broker = KafkaBroker(
        settings.kafka.bootstrap_servers,
        client_id=settings.kafka.client_id,
        logger=logging.getLogger("bridge.faststream"),
    )
    runtime = Runtime(settings, sender=sender, dead_letters=dead_letters)
    register_consumer(broker, settings, runtime.deliverer, pause=pause or asyncio.sleep)

    @get(include_in_schema=False)
    async def live(_request: AsgiRequest) -> AsgiResponse:
        return AsgiResponse(b"", status_code=204)

    return AsgiFastStream(
        broker,
        asgi_routes=[
            ("/health/live", live),
            ("/health/ready", make_ping_asgi(broker, timeout=5.0, include_in_schema=False)),
        ],
        logger=logging.getLogger("bridge.app"),
        on_startup=[runtime.start],
        after_shutdown=[runtime.stop],
    )
