"""The submission desk: a citizen's texts, photos and files move her draft on, one step each."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

import structlog

from bridge.errors import DeliveryError, RetryableDeliveryError, TokenError
from bridge.submissions import wording
from bridge.submissions.contract import CitizenSubmission, new_submission_id
from bridge.submissions.conversation import (
    Attached,
    Draft,
    Outcome,
    Refusal,
    StoredAttachment,
    Text,
    expecting,
    is_start,
    step,
)
from bridge.submissions.store import Filed

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from bridge.submissions.forms import DocumentSpec, FormCatalogue
    from bridge.submissions.store import PendingDraft, SubmissionStore
    from bridge.webhook.events import InboundAttachment, OaEvent

__all__ = ["AttachmentIntake", "ChatSender", "SubmissionDesk", "SubmissionStats"]

_log = structlog.get_logger("bridge.submissions")
_ATTACHMENT_EVENTS = frozenset({"user_send_image", "user_send_file"})


class AttachmentIntake(Protocol):
    """Downloads, checks and stores a citizen's photo or file (``bridge.submissions.intake``)."""

    async def take(
        self, attachment: InboundAttachment, *, document: DocumentSpec, object_key: str
    ) -> StoredAttachment | str:
        """The stored attachment, or why it was refused (Vietnamese, for her)."""
        ...

    async def discard(self, object_keys: Sequence[str]) -> None:
        """Delete stored objects (a cancelled or expired draft); missing ones are fine."""
        ...


class ChatSender(Protocol):
    """Sends a consultation text (``bridge.zalo.ZaloClient``)."""

    async def send_text(self, user_id: str, text: str) -> Any:
        """Send ``text`` to ``user_id``; ``DeliveryError`` when Zalo refuses."""
        ...


@dataclass(slots=True)
class SubmissionStats:
    """What the metrics watcher reads."""

    steps: int = 0
    replayed: int = 0
    started: int = 0
    confirmed: int = 0
    cancelled: int = 0
    reminded: int = 0
    expired: int = 0
    attachments: dict[str, int] = field(default_factory=dict)
    replies_failed: int = 0
    replies_resent: int = 0
    replies_dropped: int = 0


class SubmissionDesk:
    """Takes the webhook events that belong to a citizen's submission, before the chat desk.

    Each event is one step, stored with the event's key and the replies it owes her in one
    transaction (``SubmissionStore.apply``): a replay is recognised and adds nothing. Replies go
    after the commit and are then marked sent; what a crash or a failing Zalo left owed is sent
    by the sweep once ``reply_retry_seconds`` passed (at least once: a crash between a send and
    its mark repeats that answer, never loses it, so the submission id always reaches her).

    Args:
        catalogue: The forms.
        store: Drafts, steps and the outbox.
        sender: The chat's answers.
        intake: Photos and files.
        province: The province's slug, put in each event.
        timezone: The province's zone: "today" for dates not in the future.
        clock: Epoch seconds.
        reply_retry_seconds: How long a step's own sender has before the sweep sends again
            what it still owes (and between two tries of the sweep).
    """

    def __init__(  # noqa: PLR0913 - keyword-only collaborators
        self,
        *,
        catalogue: FormCatalogue,
        store: SubmissionStore,
        sender: ChatSender,
        intake: AttachmentIntake,
        province: str,
        timezone: str,
        clock: Callable[[], float] = time.time,
        reply_retry_seconds: float = 60.0,
    ) -> None:
        self.catalogue = catalogue
        self._reply_retry = reply_retry_seconds
        self._store = store
        self._sender = sender
        self._intake = intake
        self._province = province
        self._zone = ZoneInfo(timezone)
        self._clock = clock
        self.stats = SubmissionStats()

    async def take(self, event: OaEvent) -> bool:
        """Act on ``event`` when it belongs to a submission; False: the chat desk goes on."""
        user = event.user_id
        if user is None:
            return False
        is_text = event.name == "user_send_text"
        if not is_text and event.name not in _ATTACHMENT_EVENTS:
            return False
        if await self._store.seen(event.dedupe_key):
            self.stats.replayed += 1
            return True
        read = await self._store.draft(user)
        if read is None and not (is_text and is_start(event.text or "")):
            return False
        now = self._clock()
        today = datetime.fromtimestamp(now, self._zone).date()
        draft = None if read is None else read.draft
        if is_text:
            outcome = step(self.catalogue, draft, Text(event.text or ""), today=today)
        else:
            assert draft is not None  # noqa: S101 - no draft and no start returned above
            outcome = await self._attachments(event, draft, today)
        if outcome is None:
            return False
        await self._commit(user, event.dedupe_key, read, outcome, now)
        return True

    async def _attachments(self, event: OaEvent, draft: Draft, today: date) -> Outcome:
        """Each photo or file of one event, in order, against the draft as it grows."""
        replies: list[str] = []
        discard: list[str] = []
        if not event.attachments:
            unreadable = Refusal("không đọc được ảnh hay tệp này.")
            return step(self.catalogue, draft, unreadable, today=today) or Outcome(draft, ())
        for index, attachment in enumerate(event.attachments):
            document = expecting(self.catalogue, draft)
            if document is None:
                taken: Attached | Refusal = Refusal("lúc này không chờ ảnh hay tệp.")
            else:
                key = _object_key(event.dedupe_key, index)
                result = await self._intake.take(attachment, document=document, object_key=key)
                taken = Refusal(result) if isinstance(result, str) else Attached(result)
                outcome_name = "refused" if isinstance(result, str) else "stored"
                self.stats.attachments[outcome_name] = (
                    self.stats.attachments.get(outcome_name, 0) + 1
                )
            outcome = step(self.catalogue, draft, taken, today=today)
            assert outcome is not None  # noqa: S101 - a draft takes every attachment
            assert outcome.draft is not None  # noqa: S101 - and keeps the draft
            draft = outcome.draft
            replies.extend(outcome.replies)
            discard.extend(outcome.discard)
        return Outcome(draft, tuple(replies), discard=tuple(discard))

    async def _commit(
        self, user: str, key: str, read: PendingDraft | None, outcome: Outcome, now: float
    ) -> None:
        replies = list(outcome.replies)
        filed = None
        if outcome.submit is not None:
            filed = self._filed(user, read, outcome, now)
            replies.append(wording.confirmed(filed.submission_id, outcome.submit.form))
        applied = await self._store.apply(
            user,
            event_key=key,
            draft=outcome.draft,
            at=now,
            read=read,
            filed=filed,
            replies=replies,
            replies_due=now + self._reply_retry,
        )
        if not applied:  # another worker took the same event first
            self.stats.replayed += 1
            return
        self.stats.steps += 1
        if read is None:
            self.stats.started += 1
        elif outcome.draft is None and filed is None:
            self.stats.cancelled += 1
        if filed is not None:
            self.stats.confirmed += 1
            _log.info("submission confirmed", submission_id=filed.submission_id)
        if outcome.discard:
            await self._intake.discard(outcome.discard)
        if replies:
            await self._reply(user, key, replies)

    async def _reply(self, user: str, key: str, replies: Sequence[str]) -> None:
        """Send a step's replies in order, then mark them sent (or what is still owed)."""
        for index, text in enumerate(replies):
            try:
                await self._sender.send_text(user, text)
            except (RetryableDeliveryError, TokenError) as error:
                self.stats.replies_failed += 1
                _log.warning("submission reply not sent; owed", code=error.code)
                await self._store.replied(key, replies[index:])
                return
            except DeliveryError as error:
                # Zalo will not take it (she left the OA, or the window closed): not owed.
                self.stats.replies_failed += 1
                self.stats.replies_dropped += len(replies) - index
                _log.warning("submission reply refused; dropped", code=error.code)
                break
        await self._store.replied(key)

    async def resend_owed(self, *, give_up_after: float, limit: int = 100) -> None:
        """Send the replies steps still owe (a crash or a failing Zalo after their commit).

        Each is claimed first (another replica's sweep skips it), so two sweeps never send the
        same answers; what fails stays owed until the next try.
        """
        now = self._clock()
        for owed in await self._store.owed(now=now, limit=limit):
            if not await self._store.claim_owed(owed, until=now + self._reply_retry):
                continue
            if owed.at < now - give_up_after:
                self.stats.replies_dropped += len(owed.replies)
                _log.warning("submission replies owed too long; dropped", replies=len(owed.replies))
                await self._store.replied(owed.event_key)
                continue
            self.stats.replies_resent += 1
            await self._reply(owed.user_id, owed.event_key, owed.replies)

    def _filed(self, user: str, read: PendingDraft | None, outcome: Outcome, now: float) -> Filed:
        submit = outcome.submit
        assert submit is not None  # noqa: S101 - called on confirmation only
        form, draft = submit.form, submit.draft
        at = datetime.fromtimestamp(now, UTC)
        submission_id = new_submission_id(datetime.fromtimestamp(now, self._zone).date())
        labels = {spec.key: spec.label for spec in form.documents}
        event = CitizenSubmission.model_validate(
            {
                "submission_id": submission_id,
                "province": self._province,
                "procedure_code": form.code,
                "procedure_name": form.name,
                "citizen": {
                    "zalo_user_id": user,
                    "consent": {"given_at": at, "text": form.consent},
                },
                "fields": {spec.key: draft.answers.get(spec.key) for spec in form.fields},
                "attachments": [
                    {
                        "document": item.document,
                        "document_label": labels.get(item.document, item.document),
                        "object_key": item.object_key,
                        "sha256": item.sha256,
                        "content_type": item.content_type,
                        "size": item.size,
                    }
                    for item in draft.attachments
                ],
                "started_at": datetime.fromtimestamp(read.started_at if read else now, UTC),
                "submitted_at": at,
            }
        )
        return Filed(
            submission_id=submission_id,
            user_id=user,
            procedure_code=form.code,
            event=event.model_dump(mode="json"),
            object_keys=tuple(item.object_key for item in draft.attachments),
            submitted_at=now,
        )

    async def sweep(self, *, remind_after: float, expire_after: float, limit: int = 100) -> None:
        """Remind quiet citizens once; drop drafts quiet for too long and delete their files.

        Each draft is changed only if it is still at the version read (she may answer while
        the sweep runs): then the reminder is not marked and the expiry is not made.
        """
        now = self._clock()
        for pending in await self._store.idle(updated_before=now - remind_after, limit=limit):
            form = self.catalogue.by_code(pending.draft.form_code or "")
            if pending.updated_at < now - expire_after:
                if await self._store.expire(pending.user_id, version=pending.version):
                    keys = tuple(item.object_key for item in pending.draft.attachments)
                    if keys:
                        await self._intake.discard(keys)
                    self.stats.expired += 1
                    await self._say(pending.user_id, wording.expired(form))
            elif pending.reminded_at is None and await self._store.reminded(
                pending.user_id, version=pending.version, at=now
            ):
                self.stats.reminded += 1
                await self._say(pending.user_id, wording.reminder(form))

    async def _say(self, user: str, text: str) -> None:
        try:
            await self._sender.send_text(user, text)
        except DeliveryError as error:
            self.stats.replies_failed += 1
            _log.warning("submission reply not sent", code=error.code)


def _object_key(event_key: str, index: int) -> str:
    """An opaque key, the same for a replayed event (a repeat overwrites, never duplicates)."""
    digest = hashlib.sha256(event_key.encode()).hexdigest()[:32]
    return f"submissions/{digest}-{index}"
