"""The citizens' side of a running bridge: latest dossier states, the webhook desk, the purge."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from dataclasses import asdict
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bridge.citizens.desk import CitizenDesk, LinkPolicy
from bridge.citizens.dossiers import dossier_state
from bridge.citizens.link_guard import LockPolicy
from bridge.citizens.replies import Replies
from bridge.citizens.second_factor import phone_last4, phone_last4_hash
from bridge.citizens.state_recorder import StateRecorder
from bridge.citizens.store import CitizenStore, PurgeCounts, RetentionPolicy
from bridge.delivery.flow import oa_rate_limiter
from bridge.delivery.pacing import ReplyBudget
from bridge.errors import BridgeError, ConfigurationError
from bridge.observability.logs import get_logger
from bridge.webhook.endpoint import InboxPolicy, WebhookInbox
from bridge.webhook.events import SignatureKeys
from bridge.webhook.inbox import InboxStore

if TYPE_CHECKING:
    from collections.abc import Callable

    from bridge.citizens.settings import CitizensConfig, RetentionSettings
    from bridge.delivery.deliverer import MessageSender, RateLimiter
    from bridge.events import CaseStateEvent
    from bridge.store.database import Database

__all__ = ["CitizenServices", "retention_policy"]

_log = get_logger("bridge.citizens")
_DAY = 86_400.0


def retention_policy(retention: RetentionSettings) -> RetentionPolicy:
    """The settings' retention periods (days, hours) in seconds."""
    return RetentionPolicy(
        unlinked=retention.unlinked_days * _DAY,
        unfollowed=retention.unfollowed_days * _DAY,
        deliveries=retention.delivery_days * _DAY,
        dossiers=retention.dossier_days * _DAY,
        webhook_dedupe=retention.webhook_dedupe_hours * 3600,
        link_attempts=retention.link_attempt_hours * 3600,
        link_guards=retention.dossier_days * _DAY,
        webhook_failed=retention.webhook_failed_hours * 3600,
        held=retention.held_hours * 3600,
    )


def _reply_limiter(per_minute: int) -> RateLimiter:
    limiter = oa_rate_limiter(per_minute)
    assert limiter is not None  # noqa: S101 - the setting is at least 1 a minute
    return limiter


def _secret(value: object) -> str | None:
    getter = getattr(value, "get_secret_value", None)
    return None if getter is None else str(getter())


class CitizenServices:
    """Opened at start-up, closed at shutdown; ``inbox`` is None while the webhook is off.

    The webhook is on when ``webhook.oa_secret_key`` (or ``webhook.app_secret``) is set; it
    then needs ``linking.hmac_key``.
    """

    def __init__(
        self,
        settings: CitizensConfig,
        store: CitizenStore,
        *,
        inbox: WebhookInbox | None,
        owns_store: bool,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.store = store
        self.inbox = inbox
        self.desk: CitizenDesk | None = None
        """The chat desk (its ``stats`` for metrics); None while the webhook is off."""
        self._owns_store = owns_store
        self._clock = clock
        self._hmac_key = _secret(settings.linking.hmac_key)
        self._purger: asyncio.Task[None] | None = None
        self._recorder = StateRecorder(
            lambda states: store.record_states(states, now=self._clock())
        )

    @classmethod
    async def open(  # noqa: PLR0913 - the settings, then collaborators, all keyword-only
        cls,
        settings: CitizensConfig,
        *,
        sender: MessageSender,
        store: CitizenStore | None = None,
        clock: Callable[[], float] = time.time,
        owner: str | None = None,
        database: Database | None = None,
    ) -> CitizenServices:
        """Open the store (unless given), start the webhook worker and the purge loop.

        ``owner`` names this process on its webhook inbox claims (default: host, pid, random).
        ``database`` is the process's one database (migrated) the store is opened on; without
        it the store opens a database of its own.
        """
        webhook, linking = settings.webhook, settings.linking
        keys = SignatureKeys(
            app_id=webhook.app_id,
            oa_id=webhook.oa_id,
            oa_secret_key=_secret(webhook.oa_secret_key),
            app_secret=_secret(webhook.app_secret),
            variant=webhook.signature_variant,
        )
        hmac_key = _secret(linking.hmac_key)
        enabled = webhook.enabled
        if enabled and not keys.candidates():
            raise ConfigurationError(
                "webhook.signature_variant names an id or secret that is not set"
            )
        if enabled and hmac_key is None:
            raise ConfigurationError("the webhook needs linking.hmac_key (second factor)")
        owns = store is None
        if store is None and database is not None:
            store = CitizenStore(database)
        elif store is None:
            url = settings.store.url.get_secret_value()
            store = await CitizenStore.open(url, pool_size=settings.store.pool_size)
        inbox, desk = None, None
        if enabled:
            assert hmac_key is not None  # noqa: S101 - checked above, for mypy
            province = settings.province
            desk = CitizenDesk(
                store=store,
                sender=sender,
                replies=Replies(
                    factor=linking.second_factor,
                    timezone=ZoneInfo(province.timezone),
                    signature=province.signature,
                    oa_name=province.display_name,
                ),
                policy=LinkPolicy(
                    factor=linking.second_factor,
                    hmac_key=hmac_key,
                    receipt_secret_length=linking.receipt_secret_length,
                    attempts_per_hour=linking.attempts_per_hour,
                    lock=LockPolicy(
                        threshold=linking.dossier_failures_before_lock,
                        seconds=linking.dossier_lock_hours * 3600,
                    ),
                ),
                clock=clock,
                deduplicate=False,  # the inbox stores each dedupe key once
                budget=ReplyBudget(_reply_limiter(webhook.reply_rate_per_minute)),
            )
            inbox = WebhookInbox(
                keys=keys,
                handle=desk.handle,
                store=InboxStore(store),
                owner=owner or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}",
                max_age=webhook.max_age_seconds,
                policy=InboxPolicy(
                    lease_seconds=webhook.inbox_lease_seconds,
                    max_attempts=webhook.inbox_max_attempts,
                    retry_seconds=webhook.inbox_retry_seconds,
                    poll_seconds=webhook.inbox_poll_seconds,
                    batch=webhook.inbox_batch,
                    accept_timeout=webhook.accept_timeout_seconds,
                ),
                clock=clock,
            )
            inbox.start()
        services = cls(settings, store, inbox=inbox, owns_store=owns, clock=clock)
        services.desk = desk
        services._start_purger()
        return services

    async def record_event(self, event: CaseStateEvent) -> None:
        """Keep the dossier's latest state (newest sequence wins; idempotent; group-committed).

        Complaints, denunciations and land disputes leave no footprint here: no chat lookup, no
        link by code, no announcement tag (docs/complaints-and-disputes.md §9.3, R2).
        """
        if event.kind_details is not None:
            return
        phone_hash = None
        phone = event.recipient.phone
        last4 = None if phone is None else phone_last4(phone)
        if self._hmac_key is not None and last4 is not None:
            phone_hash = phone_last4_hash(self._hmac_key, event.case.code, last4)
        state = dossier_state(event, phone_last4_hash=phone_hash)
        await self._recorder.record(state)

    async def purge(self) -> PurgeCounts:
        """Delete what outlived its retention period."""
        counts = await self.store.purge(
            now=self._clock(), policy=retention_policy(self.settings.retention)
        )
        _log.info("retention purge", **asdict(counts))
        return counts

    def _start_purger(self) -> None:
        interval = self.settings.retention.purge_interval_seconds
        if interval <= 0:
            return

        async def loop() -> None:
            while True:
                await asyncio.sleep(interval)
                try:
                    await self.purge()
                except BridgeError as error:
                    _log.error("retention purge failed", error=str(error))
                except Exception as error:  # noqa: BLE001 - the loop must outlive any one failure
                    # Not BridgeError: a bug or an unconverted driver error; log its type only
                    # (driver messages may quote personal data), and try again next round.
                    _log.error("retention purge failed", error=type(error).__name__)

        self._purger = asyncio.create_task(loop(), name="retention-purge")

    async def close(self) -> None:
        """Stop the purge loop and the webhook worker; close the store if it was opened here."""
        if self._purger is not None:
            self._purger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._purger
        if self.inbox is not None:
            await self.inbox.close()
        if self._owns_store:
            await self.store.close()
