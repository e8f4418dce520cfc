"""The submissions' background pass: publish the outbox, remind, expire, keep to retention."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

import structlog

from bridge.errors import BridgeError, StoreError
from bridge.submissions.contract import CitizenSubmission

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from bridge.objects.store import ObjectStore
    from bridge.submissions.service import SubmissionDesk
    from bridge.submissions.settings import SubmissionSettings
    from bridge.submissions.store import SubmissionStore

__all__ = ["SubmissionPublisher", "SubmissionWorker"]

_log = structlog.get_logger("bridge.submissions")
_HOUR = 3_600.0
_DAY = 86_400.0
_POLL_SECONDS = 2.0


class SubmissionPublisher(Protocol):
    """Puts one event on the submission topic (``KafkaSubmissions``)."""

    async def publish(self, event: Mapping[str, Any]) -> None:
        """Publish, or raise a ``BridgeError``."""
        ...


class SubmissionWorker:
    """Publishes each confirmed dossier once (the outbox), then marks it; runs the sweeps.

    Each publication is claimed first (``owner``, a lease), so workers and replicas do not
    publish the same dossier side by side. An event is published before it is marked: a crash
    between the two publishes it again, after the lease, with the same ``submission_id``
    (consumers keep the first). Pre-signed links are made at
    publication, valid for ``objects.presign_expiry_seconds``; without a signer (a local
    backend without its key) the attachments go without links (the centre reads the bucket).
    """

    def __init__(  # noqa: PLR0913 - keyword-only collaborators
        self,
        *,
        settings: SubmissionSettings,
        store: SubmissionStore,
        desk: SubmissionDesk,
        objects: ObjectStore,
        publisher: SubmissionPublisher,
        owner: str,
        lease_seconds: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._store = store
        self._desk = desk
        self._objects = objects
        self._publisher = publisher
        self._owner = owner
        self._lease = lease_seconds
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self.published = 0
        self.purged = 0

    async def publish_pending(self) -> int:
        """Publish what the outbox holds; the number published."""
        count = 0
        for filed in await self._store.unpublished():
            claimed = await self._store.claim(
                filed.submission_id, owner=self._owner, now=self._clock(), lease=self._lease
            )
            if not claimed:
                continue  # another worker or replica publishes it
            event = dict(filed.event)
            event["attachments"] = [await self._linked(item) for item in event["attachments"]]
            CitizenSubmission.model_validate(event)  # the contract, before it leaves
            await self._publisher.publish(event)
            await self._store.published(filed.submission_id, at=self._clock())
            _log.info("submission published", submission_id=filed.submission_id)
            count += 1
        self.published += count
        return count

    async def _linked(self, attachment: dict[str, Any]) -> dict[str, Any]:
        try:
            link = await self._objects.presigned_get_url(attachment["object_key"])
        except BridgeError:  # no signer (local backend without one), or the store failed
            return attachment  # the centre reads the bucket itself
        return {**attachment, "url": link.url, "url_expires_at": link.expires_at.isoformat()}

    async def keep_retention(self) -> int:
        """Delete the attachments of dossiers confirmed more than ``retention_days`` ago."""
        before = self._clock() - timedelta(days=self._settings.retention_days).total_seconds()
        count = 0
        for filed in await self._store.past_retention(submitted_before=before):
            for key in filed.object_keys:
                await self._objects.delete(key)
            await self._store.purged(filed.submission_id, at=self._clock())
            count += 1
        self.purged += count
        return count

    async def run_once(self) -> None:
        """One pass: publish, remind and expire, owed replies, retention, forget old event keys."""
        settings = self._settings
        await self.publish_pending()
        await self._desk.sweep(
            remind_after=settings.idle_reminder_minutes * 60,
            expire_after=settings.expiry_hours * _HOUR,
        )
        # Answers a crash or a failing Zalo left owed; given up with the draft's expiry.
        await self._desk.resend_owed(give_up_after=settings.expiry_hours * _HOUR)
        await self.keep_retention()
        # Event keys outlive any replay by the inbox (hours) and any draft (expiry).
        await self._store.purge_steps(before=self._clock() - settings.expiry_hours * _HOUR - _DAY)

    def start(self) -> None:
        """Run the passes in the background."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="submissions")

    async def stop(self) -> None:
        """Stop the passes."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except (StoreError, BridgeError) as error:
                _log.warning("submissions pass failed; trying again", error=type(error).__name__)
            except Exception:  # noqa: BLE001 - the loop must outlive one bad pass
                _log.exception("submissions pass failed unexpectedly; trying again")
            await asyncio.sleep(_POLL_SECONDS)
