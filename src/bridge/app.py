"""The composition root: ``create_app(settings, …)`` wires broker, Zalo client and use case."""

from __future__ import annotations

import logging
import os
import signal
import socket
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import httpx
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from faststream.asgi import AsgiFastStream, AsgiResponse, get
from faststream.kafka import KafkaBroker
from httpx_aiohttp import AiohttpTransport
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential_jitter,
)

from bridge.cascade import cascade_config
from bridge.consumer import register_consumer
from bridge.delivery import (
    Deliverer,
    DeliveryPolicy,
    EmptyDirectory,
    InboundRecord,
    MessageSender,
)
from bridge.dispatch import Dispatcher
from bridge.flow import BreakerState, CircuitBreaker, FlowControl, oa_rate_limiter
from bridge.logs import get_logger
from bridge.mapping import BuiltinRenderer, MessageContext
from bridge.outbox import OutboundRecord, TransactionalPublisher, outputs_for
from bridge.store import open_ledger
from bridge.zalo import StaticToken, ZaloClient
from bridge.zalo.codes import zns_classifier

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from faststream.asgi.request import AsgiRequest

    from bridge.ledger import Ledger
    from bridge.settings import Settings

__all__ = ["Runtime", "create_app", "message_context"]

_log = get_logger("bridge.app")


def message_context(settings: Settings) -> MessageContext:
    """The wording settings of the configured province."""
    province = settings.province
    return MessageContext(
        lookup_url_template=province.lookup_url_template,
        timezone=ZoneInfo(province.timezone),
        signature=province.signature,
    )


def _terminate(error: BaseException) -> None:
    """Stop this process gracefully (Kubernetes starts a new one)."""
    _log.critical("stopping the process", error=str(error))
    os.kill(os.getpid(), signal.SIGTERM)


@dataclass
class Runtime:
    """What exists only while the app runs: opened at start-up, closed at shutdown.

    Fakes passed to ``create_app`` are used as they are and never closed by bridge.
    """

    settings: Settings
    sender: MessageSender | None = None
    ledger: Ledger | None = None
    on_fatal: Callable[[BaseException], None] = _terminate
    flow: FlowControl = field(default_factory=FlowControl)
    owner: str = field(
        default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    )
    breaker: CircuitBreaker | None = None
    _dispatcher: Dispatcher | None = None
    _closers: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)

    def dispatcher(self) -> Dispatcher:
        """The dispatcher; available between start-up and shutdown."""
        if self._dispatcher is None:
            raise RuntimeError("the bridge has not started")
        return self._dispatcher

    @property
    def ready(self) -> bool:
        """Started, and Zalo accepts calls (the circuit breaker is closed)."""
        return self._dispatcher is not None and (
            self.breaker is None or self.breaker.state is BreakerState.CLOSED
        )

    async def start(self) -> None:
        """Open the Zalo client, the ledger and the transactional producer; build the pipeline."""
        settings = self.settings
        sender = self.sender or self._zalo_client()
        ledger = self.ledger
        if ledger is None:
            store = settings.store
            ledger = await open_ledger(store.url.get_secret_value(), pool_size=store.pool_size)
            self._closers.append(ledger.close)
        delivery = settings.delivery
        self.breaker = CircuitBreaker(
            failure_threshold=delivery.breaker_failure_threshold,
            open_seconds=delivery.breaker_open_seconds,
            max_open_seconds=delivery.breaker_max_open_seconds,
            on_change=lambda state, _reason: self.flow.hold(
                "circuit_breaker", on=state is not BreakerState.CLOSED
            ),
        )
        deliverer = Deliverer(
            sender=sender,
            ledger=ledger,
            renderer=BuiltinRenderer(message_context(settings)),
            policy=DeliveryPolicy(
                max_attempts=delivery.max_attempts,
                initial_backoff=delivery.initial_backoff_seconds,
                max_backoff=delivery.max_backoff_seconds,
                budget=delivery.attempt_budget_seconds,
                pause=delivery.redelivery_pause_seconds,
                lease=delivery.lease_seconds,
                in_doubt=delivery.in_doubt_policy,
                in_doubt_settle=delivery.in_doubt_settle_seconds,
                in_doubt_hold=delivery.in_doubt_hold_seconds,
            ),
            max_event_bytes=settings.kafka.max_event_bytes,
            owner=self.owner,
            breaker=self.breaker,
            limiter=oa_rate_limiter(delivery.rate_limit_per_minute),
            citizens=EmptyDirectory(),  # nobody linked, no interaction known: CS, then templates
            cascade=cascade_config(settings.cascade),
        )
        publisher = await self._publisher()
        kafka = settings.kafka

        async def process(record: InboundRecord) -> list[OutboundRecord]:
            outcome = await deliverer.handle(record)
            return outputs_for(
                record,
                outcome,
                status_topic=kafka.status_topic,
                dead_letter_topic=kafka.dead_letter_topic,
            )

        self._dispatcher = Dispatcher(
            process=process,
            publish=publisher.publish,
            flow=self.flow,
            max_in_flight=delivery.max_in_flight,
            commit_interval=kafka.commit_interval_ms / 1000,
            on_fatal=self.on_fatal,
        )
        self._dispatcher.start()

    def _zalo_client(self) -> ZaloClient:
        zalo = self.settings.zalo
        limits = httpx.Limits(
            max_connections=zalo.max_connections,
            max_keepalive_connections=zalo.max_connections,
        )
        http = httpx.AsyncClient(
            base_url=str(zalo.base_url),
            timeout=httpx.Timeout(zalo.timeout_seconds, connect=zalo.connect_timeout_seconds),
            limits=limits,
            transport=AiohttpTransport(limits=limits) if zalo.http_transport == "aiohttp" else None,
            headers={"user-agent": "zalo-bridge"},
        )
        self._closers.append(http.aclose)
        token = zalo.access_token.get_secret_value() if zalo.access_token else None
        return ZaloClient(
            http,
            StaticToken(token),
            max_concurrent=zalo.max_connections,
            business_base_url=str(zalo.business_base_url),
            template_uid_path=zalo.template_uid_path,
            classify_zns=zns_classifier(zalo.zns_error_classes),
        )

    async def _publisher(self) -> TransactionalPublisher:
        """Start the transactional producer, waiting for the broker if it is not up yet."""
        kafka = self.settings.kafka

        def producer() -> AIOKafkaProducer:
            return AIOKafkaProducer(
                bootstrap_servers=kafka.bootstrap_servers,
                client_id=f"{kafka.client_id}-outbox",
                transactional_id=kafka.transactional_id
                or f"{kafka.client_id}-{socket.gethostname()}",
                transaction_timeout_ms=kafka.transaction_timeout_ms,
                enable_idempotence=True,
                acks="all",
            )

        retrying = AsyncRetrying(
            stop=stop_after_delay(kafka.startup_timeout_seconds),
            wait=wait_exponential_jitter(multiplier=0.5, max=10, jitter=0.5),
            retry=retry_if_exception_type(KafkaError),
            before_sleep=lambda state: _log.warning(
                "Kafka not reachable yet; waiting", attempt=state.attempt_number
            ),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                started = producer()
                try:
                    await started.start()
                except BaseException:
                    await started.stop()
                    raise
        self._closers.append(started.stop)
        return TransactionalPublisher(started, kafka.consumer_group)

    async def drain(self) -> None:
        """Before the consumer stops: settle and commit what is in flight."""
        if self._dispatcher is not None:
            await self._dispatcher.close(timeout=self.settings.delivery.lease_seconds)

    async def stop(self) -> None:
        """Close what ``start`` opened, newest first."""
        self._dispatcher = None
        while self._closers:
            await self._closers.pop()()


def create_app(
    settings: Settings,
    *,
    sender: MessageSender | None = None,
    ledger: Ledger | None = None,
    on_fatal: Callable[[BaseException], None] = _terminate,
) -> AsgiFastStream:
    """Build the bridge: a faststream Kafka app with health endpoints, ready for uvicorn.

    Nothing connects until the app starts. ``GET /health/live`` answers while the process runs;
    ``GET /health/ready`` answers 204 while the Kafka broker is reachable and Zalo accepts calls.

    Args:
        settings: The validated settings.
        sender: Replaces the Zalo client (tests pass fakes).
        ledger: Replaces the ledger opened from ``settings.store``.
        on_fatal: Called when the process must stop; by default it sends itself SIGTERM.
    """
    broker = KafkaBroker(
        settings.kafka.bootstrap_servers,
        client_id=settings.kafka.client_id,
        logger=logging.getLogger("bridge.faststream"),
        # faststream's per-message lines: bridge writes its own canonical line per event.
        log_level=logging.DEBUG,
    )
    runtime = Runtime(settings, sender=sender, ledger=ledger, on_fatal=on_fatal)
    register_consumer(broker, settings, runtime.dispatcher, runtime.flow)

    @get(include_in_schema=False)
    async def live(_request: AsgiRequest) -> AsgiResponse:
        return AsgiResponse(b"", status_code=204)

    @get(include_in_schema=False)
    async def ready(_request: AsgiRequest) -> AsgiResponse:
        healthy = runtime.ready and await broker.ping(timeout=5.0)
        return AsgiResponse(b"", status_code=204 if healthy else 503)

    return AsgiFastStream(
        broker,
        asgi_routes=[("/health/live", live), ("/health/ready", ready)],
        logger=logging.getLogger("bridge.app"),
        on_startup=[runtime.start],
        on_shutdown=[runtime.drain],
        after_shutdown=[runtime.stop],
    )
