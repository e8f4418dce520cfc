"""The composition root: ``create_app(settings, …)`` wires broker, Zalo client and use case."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import time as clock_time
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import httpx
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from faststream.asgi import AsgiFastStream, AsgiResponse, get
from faststream.kafka import KafkaBroker
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential_jitter,
)

from bridge.announcements.consumer import register_announcement_consumer
from bridge.announcements.metrics import watch_announcements
from bridge.announcements.service import AnnouncementService
from bridge.case_kinds.contract import CaseEventReader, unconfirmed_limits
from bridge.citizens.metrics import watch_citizens
from bridge.citizens.services import CitizenServices
from bridge.delivery.breaker_probe import BreakerProber, OaProfileReader
from bridge.delivery.cascade import cascade_config
from bridge.delivery.consumer import register_consumer
from bridge.delivery.deliverer import (
    CitizenDirectory,
    Deliverer,
    DeliveryPolicy,
    DocumentSender,
    MessageSender,
    RateLimiter,
)
from bridge.delivery.dispatch import CLOSING, WINDOW_FULL, Dispatcher
from bridge.delivery.faults import INFRASTRUCTURE_HOLDS, Outage
from bridge.delivery.flow import BreakerState, CircuitBreaker, FlowControl, oa_rate_limiter
from bridge.delivery.ledger_stores import ledger_on
from bridge.delivery.outbox import OutboundRecord, TransactionalPublisher, outputs_for
from bridge.delivery.pacing import PacedButtonSender, PacedSender
from bridge.delivery.settling import Settler
from bridge.delivery.watchdog import ProgressWatchdog
from bridge.errors import ConfigurationError
from bridge.feedback.metrics import watch_feedback
from bridge.feedback.publisher import KafkaFeedback
from bridge.feedback.service import ButtonSender, SurveyService
from bridge.feedback.store import SurveyStore
from bridge.kafka.codecs import require_codecs
from bridge.kafka.group_commit import install as install_group_commit
from bridge.kafka.security import broker_security, client_options, verify_login
from bridge.objects.factory import link_signer, open_object_store
from bridge.objects.local import LocalObjectStore
from bridge.objects.metrics import watch_objects
from bridge.objects.serving import signed_link_endpoint
from bridge.observability.logs import get_logger
from bridge.observability.metrics import Metrics
from bridge.quiet_hours.holding import (
    QuietHoursGate,
    Releaser,
    SerialPublisher,
    UrgencyRule,
    stop_task,
)
from bridge.quiet_hours.metrics import watch_quiet_hours
from bridge.quiet_hours.store import HoldStore
from bridge.quiet_hours.window import QuietWindow, parse_clock_time
from bridge.result_documents.sender import ZaloDocuments
from bridge.store.database import Database, open_database
from bridge.submissions.forms import FormCatalogue, load_forms
from bridge.submissions.intake import HttpAttachmentIntake
from bridge.submissions.linking import SubmissionLinker
from bridge.submissions.metrics import watch_submissions
from bridge.submissions.outbox import SubmissionWorker
from bridge.submissions.publisher import KafkaSubmissions
from bridge.submissions.service import SubmissionDesk
from bridge.submissions.store import SubmissionStore
from bridge.templates.renderer import template_renderer
from bridge.webhook.endpoint import webhook_endpoint
from bridge.wording import MessageContext
from bridge.zalo.client import StaticToken, TokenSource, ZaloClient
from bridge.zalo.codes import zns_classifier
from bridge.zalo.http_client import zalo_http_client, zalo_http_transport
from bridge.zalo.metrics import watch_tokens
from bridge.zalo.token_setup import managed_tokens_enabled, open_managed_token
from bridge.zalo.transport_failures import transport_outcome

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from faststream.asgi.request import AsgiRequest

    from bridge.announcements.audience import Audience
    from bridge.announcements.intake import AnnouncementIntake
    from bridge.citizens.store import CitizenStore
    from bridge.delivery.ledger import Ledger
    from bridge.delivery.records import DeliveryOutcome, InboundRecord
    from bridge.events import CaseStateEvent
    from bridge.objects.store import ObjectStore
    from bridge.settings import Settings
    from bridge.zalo.managed_token import ManagedToken

__all__ = ["Runtime", "create_app", "message_context", "terminate"]

_log = get_logger("bridge.app")


def _paced(sender: MessageSender, limiter: RateLimiter | None) -> MessageSender:
    """``sender`` through the OA's rate limiter (with its buttons, when it sends them)."""
    if limiter is None:
        return sender
    if isinstance(sender, ButtonSender):
        return PacedButtonSender(sender, limiter)
    return PacedSender(sender, limiter)


def message_context(settings: Settings) -> MessageContext:
    """The wording settings of the configured province."""
    province = settings.province
    return MessageContext(
        lookup_url_template=province.lookup_url_template,
        timezone=ZoneInfo(province.timezone),
        signature=province.signature,
    )


def terminate(error: BaseException) -> None:
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
    on_fatal: Callable[[BaseException], None] = terminate
    flow: FlowControl = field(default_factory=FlowControl)
    outage: Outage | None = None
    """Holds the consumer, and readiness, while a record waits out a store or broker outage."""
    owner: str = field(
        default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    )
    breaker: CircuitBreaker | None = None
    metrics: Metrics = field(default_factory=lambda: Metrics(failure_outcome=transport_outcome))
    tokens: ManagedToken | None = None
    documents: DocumentSender | None = None
    """Sends result documents; by default built on the Zalo client (a fake sender: none)."""
    clock: Callable[[], float] = time.time
    audience: Audience | None = None
    announcements: AnnouncementService | None = None
    """The announcement intake and fan-out (``fanout.stats``, ``store.progress`` for metrics)."""
    releaser: Releaser | None = None
    """Releases held records (``released`` and ``store.counts()`` for metrics)."""
    _releaser: asyncio.Task[None] | None = None
    citizen_store: CitizenStore | None = None
    citizens: CitizenServices | None = None
    feedback: SurveyService | None = None
    """The satisfaction survey, while it runs (``feedback.enabled``)."""
    forms: FormCatalogue | None = None
    """The forms citizens file dossiers with (``submissions.enabled``), checked before start."""
    objects: ObjectStore | None = None
    """Object storage (citizens' attachments); set by ``create_app``."""
    submissions: tuple[SubmissionDesk, SubmissionWorker] | None = None
    """The submission desk and its worker, while they run (``submissions.enabled``)."""
    monotonic: Callable[[], float] = time.monotonic
    """Monotonic seconds of the dispatcher and the watchdog (tests pass a fake)."""
    prober: BreakerProber | None = None
    """Probes Zalo while the circuit breaker is open (None when the sender cannot)."""
    watchdog: ProgressWatchdog | None = None
    """Says when delivery stalls; ``/health/live`` fails while it does."""
    _guards: list[asyncio.Task[None]] = field(default_factory=list)
    _dispatcher: Dispatcher | None = None
    _closers: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)
    _case_reader: CaseEventReader | None = None
    _db: Database | None = None
    _starting: asyncio.Task[Any] | None = None
    """The task that ran ``start`` and goes on to start the consumers (faststream's)."""

    def announcement_intake(self) -> AnnouncementIntake:
        """The announcement intake; available between start-up and shutdown."""
        if self.announcements is None:
            raise RuntimeError("the bridge has not started")
        return self.announcements.intake

    def dispatcher(self) -> Dispatcher:
        """The dispatcher; available between start-up and shutdown."""
        if self._dispatcher is None:
            raise RuntimeError("the bridge has not started")
        return self._dispatcher

    @property
    def ready(self) -> bool:
        """Started, Zalo accepts calls, a token is usable, and no record waits out an outage.

        Zalo accepts calls while the circuit breaker is closed; a record waits out an outage
        while the store or the broker cannot be reached.
        """
        return (
            self._dispatcher is not None
            and (self.breaker is None or self.breaker.state is BreakerState.CLOSED)
            and (self.tokens is None or self.tokens.healthy)
            and not self.flow.reasons & INFRASTRUCTURE_HOLDS
        )

    async def start(self) -> None:
        """Open the Zalo client, the ledger and the transactional producer; build the pipeline."""
        # faststream answers uvicorn that the app has started once this returns, and starts the
        # consumers afterwards in this same task: a SIGTERM in between must not stop them while
        # they start (``drain`` waits for this task).
        self._starting = asyncio.current_task()
        require_codecs()
        settings = self.settings
        outage = self.outage = Outage(self.flow.hold)
        sender = self.sender or await self._zalo_client()
        if self.documents is None and isinstance(sender, ZaloClient):
            self.documents = self._result_documents(sender)
        ledger = self.ledger
        if ledger is None:
            ledger = await ledger_on(await self._database())
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
        limiter = oa_rate_limiter(delivery.rate_limit_per_minute)
        # The chat's answers, the survey and the filing conversation count against the OA's
        # limit like every other call.
        paced = _paced(sender, limiter)
        citizens = await CitizenServices.open(
            settings,
            sender=paced,
            store=self.citizen_store,
            database=None if self.citizen_store is not None else await self._database(),
            owner=self.owner,
            clock=self.clock,
        )
        self._closers.append(citizens.close)
        self.citizens = citizens
        deliverer = self._deliverer(sender, ledger, limiter, self.breaker, citizens.store)
        publisher = SerialPublisher((await self._publisher()).publish)
        kafka = settings.kafka

        def outputs(record: InboundRecord, outcome: DeliveryOutcome) -> list[OutboundRecord]:
            # Every final outcome passes here: delivered now, held, superseded or released later.
            self.metrics.settled(
                outcome.status,
                outcome.reason,
                attempts=outcome.attempts,
                deliveries=outcome.deliveries,
                documents=outcome.documents,
            )
            v2 = kafka.v2_enabled and record.topic == kafka.v2_input_topic
            return outputs_for(
                record,
                outcome,
                status_topic=kafka.v2_status_topic if v2 else kafka.status_topic,
                dead_letter_topic=kafka.v2_dead_letter_topic if v2 else kafka.dead_letter_topic,
            )

        record_event = citizens.record_event
        if settings.feedback.enabled:
            survey = await self._survey(paced, citizens)

            async def record_event(event: CaseStateEvent) -> None:
                await citizens.record_event(event)
                await survey.plan(event)  # a final state plans the satisfaction survey

        # With submissions, a case event naming one links its citizen before it is delivered.
        handle = await self._submissions(paced, citizens, deliverer.handle)
        settler = Settler(handle=handle, record_event=record_event, outputs=outputs)
        process: Callable[[InboundRecord], Awaitable[list[OutboundRecord]]] = settler.deliver
        if settings.quiet_hours.enabled or settings.announcements.enabled:
            database = await self._database()
            if settings.quiet_hours.enabled:
                process = self._quiet_hours(database, deliverer, outputs, publisher).guard(
                    settler.deliver, outputs, on_held=settler.record_held
                )
            if settings.announcements.enabled:
                self.announcements = AnnouncementService(
                    settings,
                    database=database,
                    sender=sender,
                    oa_limiter=limiter,
                    owner=self.owner,
                    audience=self.audience,
                    clock=self.clock,
                    outage=outage,
                )
                await self.announcements.start()

        gated = process

        async def observed(record: InboundRecord) -> list[OutboundRecord]:
            with self.metrics.processing_of(record.topic):
                return await gated(record)

        self._dispatcher = Dispatcher(
            process=observed,
            publish=publisher.publish,
            flow=self.flow,
            max_in_flight=delivery.max_in_flight,
            commit_interval=kafka.commit_interval_ms / 1000,
            on_fatal=self.on_fatal,
            give_up=settler.give_up,
            max_tries=delivery.max_processing_tries,
            max_backoff=delivery.max_backoff_seconds,
            outage=outage,
            clock=self.monotonic,
            # A hand-over does not wait for records that cannot settle now (Zalo unavailable,
            # no usable token, an outage): they are left to the next owner at once.
            can_settle=lambda: not (self.flow.reasons - {WINDOW_FULL, CLOSING}),
        )
        self._dispatcher.start()
        self._watch(self._dispatcher, self.breaker)
        self._guard(self._dispatcher, self.breaker, sender, limiter)

    def _guard(
        self,
        dispatcher: Dispatcher,
        breaker: CircuitBreaker,
        sender: MessageSender,
        limiter: RateLimiter | None,
    ) -> None:
        """Start the breaker's background prober and the progress watchdog."""
        if isinstance(sender, OaProfileReader):
            self.prober = BreakerProber(
                breaker=breaker,
                zalo=sender,
                timeout=self.settings.delivery.lease_seconds,
                limiter=limiter,
            )
            self._guards.append(asyncio.create_task(self.prober.run(), name="breaker-prober"))
        else:
            _log.info("the Zalo sender cannot read the OA profile; only records probe the breaker")
        self.watchdog = ProgressWatchdog(
            progress=dispatcher,
            held_back=self.held_back,
            stall_seconds=self.settings.delivery.watchdog_stall_seconds,
            clock=self.monotonic,
        )
        self._guards.append(asyncio.create_task(self.watchdog.run(), name="progress-watchdog"))
        self.metrics.watch_progress(self.watchdog.check)

    def held_back(self) -> str | None:
        """Why delivery is held back on purpose now, if it is (the watchdog waits meanwhile).

        The circuit breaker not closed, the token unusable, or any reason the flow is held for
        other than a full in-flight window (which a stall itself causes).
        """
        if self.breaker is not None and self.breaker.state is not BreakerState.CLOSED:
            return "circuit_breaker"
        if self.tokens is not None and not self.tokens.healthy:
            return "token"
        deliberate = sorted(self.flow.reasons - {"in_flight_window_full"})
        return deliberate[0] if deliberate else None

    async def _stop_guards(self) -> None:
        guards, self._guards = self._guards, []
        for guard in guards:
            await stop_task(guard)

    def _deliverer(
        self,
        sender: MessageSender,
        ledger: Ledger,
        limiter: RateLimiter | None,
        breaker: CircuitBreaker,
        citizens: CitizenDirectory,
    ) -> Deliverer:
        """The use case, with the settings' policy and the province's templates."""
        settings, delivery = self.settings, self.settings.delivery
        return Deliverer(
            sender=sender,
            ledger=ledger,
            renderer=template_renderer(settings, message_context(settings)),
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
            breaker=breaker,
            limiter=limiter,
            citizens=citizens,
            cascade=cascade_config(settings.cascade),
            max_tries=delivery.max_processing_tries,
            outage=self.outage,
            documents=self.documents,
            decode=self._reader(),
            delivered_sample=settings.log.delivered_sample,
        )

    def _watch(self, dispatcher: Dispatcher, breaker: CircuitBreaker) -> None:
        """Let the metrics read the pipeline's gauges at scrape time."""
        self.metrics.watch_in_flight(lambda: dispatcher.in_flight)
        self.metrics.watch_breaker(lambda: breaker.state.value, [s.value for s in BreakerState])
        self.metrics.watch_holds(lambda: self.flow.reasons)
        if self.tokens is not None:
            self.metrics.watch_token(self.tokens.seconds_until_expiry)
            refresh = self.tokens.seconds_until_refresh_expiry
            self.metrics.watch_token(refresh, token="refresh")  # noqa: S106 - a label, not a secret
        # Each wing registers its own families; each is left out while its feature is off.
        if self.tokens is not None:
            watch_tokens(self.metrics, self.tokens)
        watch_quiet_hours(self.metrics, lambda: self.releaser)
        watch_announcements(self.metrics, lambda: self.announcements)
        watch_citizens(self.metrics, lambda: self.citizens)
        watch_feedback(self.metrics, lambda: self.feedback)
        watch_submissions(self.metrics, lambda: self.submissions)

    def _quiet_hours(
        self,
        database: Database,
        deliverer: Deliverer,
        outputs: Callable[[InboundRecord, DeliveryOutcome], list[OutboundRecord]],
        publisher: SerialPublisher,
    ) -> QuietHoursGate:
        """The gate that holds non-urgent news at night, and the task that releases it."""
        quiet = self.settings.quiet_hours
        hold_store = HoldStore(database)
        self._closers.append(hold_store.close)
        window = QuietWindow(
            parse_clock_time(quiet.start), parse_clock_time(quiet.end), ZoneInfo(quiet.timezone)
        )
        releaser = Releaser(
            store=hold_store,
            deliver=deliverer.handle,
            outputs=outputs,
            publish=publisher.publish,
            window=window,
            owner=self.owner,
            lease_seconds=quiet.release_lease_seconds,
            poll=quiet.release_poll_seconds,
            concurrency=quiet.release_concurrency,
            clock=self.clock,
        )
        self.releaser = releaser
        self._releaser = asyncio.create_task(releaser.run(), name="quiet-hours-releaser")
        return QuietHoursGate(
            store=hold_store,
            window=window,
            urgent=UrgencyRule(quiet.urgent_states, quiet.urgent_event_types),
            max_event_bytes=self.settings.kafka.max_event_bytes,
            clock=self.clock,
            linked=self.citizens.store.linked_users if self.citizens else None,
            cascade=cascade_config(self.settings.cascade),
            decode=self._reader(),
        )

    async def _database(self) -> Database:
        """The process's one database (one engine, one pool), migrated and opened on first use.

        Every store that the settings open (not the fakes tests pass) shares it; it is disposed
        of last, after them.
        """
        if self._db is None:
            from bridge.store.migrate import upgrade  # noqa: PLC0415 - alembic only here

            store = self.settings.store
            await upgrade(store.url.get_secret_value())
            self._db = open_database(
                store.url.get_secret_value(),
                pool_size=store.pool_size,
                pool_timeout=store.pool_timeout_seconds,
                application_name=f"zalo-bridge {self.owner}"[:63],
                prepared_statements=store.server_prepared_statements,
                sqlite_cache_kib=store.sqlite_cache_kib,
            )
            database = self._db
            self.metrics.watch_gauge(
                "database_connections_in_use",
                "Connections of the replica's one database pool checked out now.",
                lambda: {(): float(database.checked_out())},
            )
            self._closers.append(self._db.dispose)
        return self._db

    async def _token_source(self) -> TokenSource:
        """Managed tokens (store + refresh) when configured, else the static ``access_token``."""
        zalo = self.settings.zalo
        if not managed_tokens_enabled(zalo):
            return StaticToken(zalo.access_token.get_secret_value() if zalo.access_token else None)
        self.tokens = await open_managed_token(
            self.settings,
            owner=self.owner,
            on_health=lambda usable: self.flow.hold("token", on=not usable),
            database=await self._database(),
        )
        self.flow.hold("token", on=not self.tokens.healthy)
        self._closers.append(self.tokens.stop)
        return self.tokens

    def _reader(self) -> CaseEventReader:
        """Reads both contracts with the province's statutory time limits (checked here).

        One reader for the quiet-hours gate and the deliverer, so a record is decoded once.
        """
        if self._case_reader is not None:
            return self._case_reader
        overrides = self.settings.case_kinds.deadlines
        unconfirmed = unconfirmed_limits(overrides) if self.settings.kafka.v2_enabled else []
        if unconfirmed:
            _log.warning(
                "statutory time limits at unconfirmed defaults: confirm them with the "
                "province's legal office, or set case_kinds.deadlines",
                limits=unconfirmed,
            )
        self._case_reader = CaseEventReader.from_overrides(overrides)
        return self._case_reader

    def _result_documents(self, zalo: ZaloClient) -> ZaloDocuments:
        """Result documents over the Zalo client, fetched by a client of their own."""
        documents = self.settings.documents
        http = httpx.AsyncClient(
            timeout=httpx.Timeout(documents.fetch_timeout_seconds, connect=10.0),
            follow_redirects=False,
            headers={"user-agent": "zalo-bridge (result documents)"},
        )
        self._closers.append(http.aclose)
        return ZaloDocuments(zalo, http, documents, clock=self.clock)

    async def _zalo_client(self) -> ZaloClient:
        zalo = self.settings.zalo
        tokens = await self._token_source()
        transport = zalo_http_transport(zalo, instrument=self.metrics.instrument)
        http = zalo_http_client(zalo, transport=transport)
        self._closers.append(http.aclose)
        return ZaloClient(
            http,
            tokens,
            transport=transport,
            max_concurrent=zalo.max_connections,
            business_base_url=str(zalo.business_base_url),
            template_uid_path=zalo.template_uid_path,
            classify_zns=zns_classifier(zalo.zns_error_classes),
            # The leases (delivery, announcements, webhook inbox) are checked against this.
            deadline_seconds=zalo.connect_timeout_seconds + zalo.timeout_seconds,
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
                **client_options(kafka),
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
                await verify_login(kafka)  # a refused login is not retried
                started = producer()
                try:
                    await started.start()
                except BaseException:
                    await started.stop()
                    raise
        self._closers.append(started.stop)
        return TransactionalPublisher(started, kafka.consumer_group)

    async def _survey(self, sender: MessageSender, citizens: CitizenServices) -> SurveyService:
        """The satisfaction survey: its store, its producer, its loop; the desk hands it texts."""
        settings = self.settings
        feedback, kafka, quiet = settings.feedback, settings.kafka, settings.quiet_hours
        producer = AIOKafkaProducer(
            bootstrap_servers=kafka.bootstrap_servers,
            client_id=f"{kafka.client_id}-feedback",
            enable_idempotence=True,
            acks="all",
            **client_options(kafka),
        )
        await producer.start()
        self._closers.append(producer.stop)
        zone = ZoneInfo(quiet.timezone)
        window = (
            QuietWindow(parse_clock_time(quiet.start), parse_clock_time(quiet.end), zone)
            if quiet.enabled
            else QuietWindow(clock_time(0), clock_time(0), zone)  # never quiet
        )
        key = feedback.pseudonym_key or settings.linking.hmac_key
        if key is None:  # settings_checks refuses this combination
            raise ConfigurationError("feedback.pseudonym_key or linking.hmac_key is needed")
        service = SurveyService(
            settings=feedback,
            store=SurveyStore(await self._database()),
            sender=sender,
            citizens=citizens.store,
            publisher=KafkaFeedback(producer, feedback.topic),
            window=window,
            pseudonym_key=key.get_secret_value(),
            owner=self.owner,
            interaction_window_days=settings.cascade.interaction_window_days,
            clock=self.clock,
        )
        if citizens.desk is not None:
            citizens.desk.survey = service
        service.start()
        self._closers.append(service.stop)
        self.feedback = service
        return service

    async def _submissions(
        self,
        sender: MessageSender,
        citizens: CitizenServices,
        handle: Callable[[InboundRecord], Awaitable[DeliveryOutcome]],
    ) -> Callable[[InboundRecord], Awaitable[DeliveryOutcome]]:
        """Dossiers filed in the chat: the desk (before the chat's), its worker, the linker.

        Returns ``handle`` preceded by the link of a submission's citizen (``handle`` itself
        while submissions are off).
        """
        settings = self.settings
        if not settings.submissions.enabled:
            return handle
        kafka, wing = settings.kafka, settings.submissions
        if self.forms is None or self.objects is None:
            raise ConfigurationError("submissions need their forms and object storage")
        producer = AIOKafkaProducer(
            bootstrap_servers=kafka.bootstrap_servers,
            client_id=f"{kafka.client_id}-submissions",
            enable_idempotence=True,
            acks="all",
            **client_options(kafka),
        )
        await producer.start()
        self._closers.append(producer.stop)
        http = httpx.AsyncClient(
            follow_redirects=False, timeout=httpx.Timeout(wing.download_timeout_seconds)
        )
        self._closers.append(http.aclose)
        store = SubmissionStore(await self._database())
        desk = SubmissionDesk(
            catalogue=self.forms,
            store=store,
            sender=sender,
            intake=HttpAttachmentIntake(http=http, objects=self.objects, settings=wing),
            province=settings.province.slug,
            timezone=settings.province.timezone,
            clock=self.clock,
            reply_retry_seconds=wing.reply_retry_seconds,
        )
        worker = SubmissionWorker(
            settings=wing,
            store=store,
            desk=desk,
            objects=self.objects,
            publisher=KafkaSubmissions(producer, wing.topic),
            owner=self.owner,
            clock=self.clock,
        )
        if citizens.desk is not None:
            citizens.desk.submissions = desk
        worker.start()
        self._closers.append(worker.stop)
        self.submissions = (desk, worker)
        linker = SubmissionLinker(
            store=store,
            citizens=citizens.store,
            input_topic=kafka.input_topic,
            max_event_bytes=kafka.max_event_bytes,
            clock=self.clock,
            decode=self._reader(),
        )
        return linker.before(handle)

    async def drain(self) -> None:
        """Before the consumer stops: settle and commit what is in flight.

        The announcement sends and the case records settle side by side, so the whole drain
        takes at most one ``delivery.lease_seconds``: the chart's grace period allows no more.
        """
        lease = self.settings.delivery.lease_seconds
        waited = await self._consumers_started(timeout=lease)
        lease = max(lease - waited, 0.0)  # what is left of the one lease
        await self._stop_guards()
        announcements, self.announcements = self.announcements, None
        releaser, self._releaser = self._releaser, None
        waits: list[Awaitable[None]] = [stop_task(releaser)]
        if announcements is not None:
            waits.append(announcements.stop(timeout=lease))
        if self._dispatcher is not None:
            waits.append(self._dispatcher.close(timeout=lease))
        for result in await asyncio.gather(*waits, return_exceptions=True):
            if isinstance(result, BaseException):
                raise result

    async def _consumers_started(self, timeout: float) -> float:
        """Wait (at most ``timeout``) until the consumers have started, or failed to.

        A stop that came while they were starting would otherwise stop them before they exist:
        the consumer started afterwards would never be closed (it stays in the group, and its
        tasks can keep the process from exiting). Returns the seconds waited.
        """
        starting, self._starting = self._starting, None
        if starting is None or starting.done() or starting is asyncio.current_task():
            return 0.0
        loop = asyncio.get_running_loop()
        began = loop.time()
        await asyncio.wait({starting}, timeout=timeout)
        if not starting.done():
            _log.warning("the consumers were still starting when the stop began", waited=timeout)
        return loop.time() - began

    async def stop(self) -> None:
        """Close what ``start`` opened, newest first."""
        await self._stop_guards()
        self._dispatcher = None
        self.citizens = None
        while self._closers:
            await self._closers.pop()()
        self._db = None


def create_app(  # noqa: PLR0913 - settings, then test seams, all keyword-only
    settings: Settings,
    *,
    sender: MessageSender | None = None,
    ledger: Ledger | None = None,
    on_fatal: Callable[[BaseException], None] = terminate,
    clock: Callable[[], float] = time.time,
    audience: Audience | None = None,
    citizen_store: CitizenStore | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> AsgiFastStream:
    """Build the bridge: a faststream Kafka app with health endpoints, ready for uvicorn.

    Nothing connects until the app starts. ``GET /health/live`` answers 204 while the process
    runs and 503 while the progress watchdog finds delivery stalled (``bridge.delivery.watchdog``);
    ``GET /health/ready`` answers 204 while the Kafka broker is reachable, Zalo accepts calls and
    (with managed tokens) a usable token is at hand. ``GET /metrics`` serves the Prometheus
    metrics (``bridge.observability.metrics``). ``POST <webhook.path>`` receives the OA's signed
    events (``bridge.webhook``) when ``webhook.oa_secret_key`` is set.

    Args:
        settings: The validated settings.
        sender: Replaces the Zalo client (tests pass fakes).
        ledger: Replaces the ledger opened from ``settings.store``.
        on_fatal: Called when the process must stop; by default it sends itself SIGTERM.
        clock: Wall-clock seconds for quiet hours and announcements (tests pass a fake).
        audience: Replaces the SQL audience of announcements.
        citizen_store: Replaces the citizens' store opened from ``settings.store``.
        monotonic: Monotonic seconds of the dispatcher and the watchdog (tests pass a fake).
    """
    # Offsets are committed with the consumer's generation and read stable (KIP-447): a
    # replica the group has moved past can never commit them (bridge.kafka.group_commit).
    install_group_commit()
    broker = KafkaBroker(
        settings.kafka.bootstrap_servers,
        client_id=settings.kafka.client_id,
        security=broker_security(settings.kafka),
        logger=logging.getLogger("bridge.faststream"),
        # faststream's per-message lines: bridge writes its own canonical line per event.
        log_level=logging.DEBUG,
    )
    runtime = Runtime(
        settings,
        sender=sender,
        ledger=ledger,
        on_fatal=on_fatal,
        clock=clock,
        audience=audience,
        citizen_store=citizen_store,
        monotonic=monotonic,
        # Invalid forms stop the service here, naming file, form and field (FormError).
        forms=load_forms(settings.submissions) if settings.submissions.enabled else None,
    )
    register_consumer(broker, settings, runtime.dispatcher, runtime.flow)
    runtime.metrics.watch_consumers(
        lambda: [getattr(s, "consumer", None) for s in broker.subscribers]
    )
    if settings.announcements.enabled:
        register_announcement_consumer(broker, settings, runtime.announcement_intake)
    # Object storage (citizens' attachments): built here, contacted on first use; the local
    # backend's signed links are served on this port.
    objects = open_object_store(settings.objects, clock=clock)
    runtime.objects = objects
    watch_objects(runtime.metrics, objects)
    signer = link_signer(settings.objects)
    object_routes: list[tuple[str, Any]] = []
    if isinstance(objects, LocalObjectStore) and signer is not None:
        endpoint = signed_link_endpoint(objects, signer, clock=clock)
        object_routes.append((settings.objects.local_url_path, endpoint))

    @get(include_in_schema=False)
    async def live(_request: AsgiRequest) -> AsgiResponse:
        watchdog = runtime.watchdog
        stalled = watchdog is not None and watchdog.check().stalled
        return AsgiResponse(b"", status_code=503 if stalled else 204)

    @get(include_in_schema=False)
    async def ready(_request: AsgiRequest) -> AsgiResponse:
        healthy = runtime.ready and await broker.ping(timeout=5.0)
        return AsgiResponse(b"", status_code=204 if healthy else 503)

    @get(include_in_schema=False)
    async def metrics(scope: Any) -> AsgiResponse:
        accept = dict(scope.get("headers", ())).get(b"accept", b"").decode("latin-1")
        body, content_type = await runtime.metrics.scrape(accept)
        return AsgiResponse(body, status_code=200, headers={"content-type": content_type})

    return AsgiFastStream(
        broker,
        asgi_routes=[
            ("/health/live", live),
            ("/health/ready", ready),
            ("/metrics", metrics),
            (
                settings.webhook.path,
                webhook_endpoint(
                    lambda: runtime.citizens.inbox if runtime.citizens else None,
                    enabled=settings.webhook.enabled,
                ),
            ),
            *object_routes,
        ],
        logger=logging.getLogger("bridge.app"),
        on_startup=[runtime.start],
        on_shutdown=[runtime.drain],
        after_shutdown=[runtime.stop],
    )
