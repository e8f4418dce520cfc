"""The satisfaction survey: planned at a dossier's end, asked in the chat, answered, published."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from bridge.errors import (
    DeliveryError,
    DeliveryInDoubtError,
    RecipientUnreachableError,
    RetryableDeliveryError,
    StoreError,
)
from bridge.feedback import wording
from bridge.feedback.answers import MAX_COMMENT_CHARS, Level, Rating, StopSurveys, parse_answer
from bridge.feedback.contract import Agency, CitizenFeedback, citizen_pseudonym, feedback_id_for
from bridge.feedback.publisher import FeedbackPublishError
from bridge.feedback.store import PlannedSurvey, Survey, SurveyStatus, SurveyStore
from bridge.observability.logs import get_logger
from bridge.observability.masking import mask_text, pseudonymise

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from bridge.events import CaseStateEvent
    from bridge.feedback.settings import FeedbackSettings
    from bridge.quiet_hours.window import QuietWindow

__all__ = [
    "ButtonSender",
    "Citizens",
    "FeedbackPublisher",
    "SurveySender",
    "SurveyService",
]

_log = get_logger("bridge.feedback")
_HOUR = 3_600.0
_DAY = 86_400.0
_MAX_TRIES = 5
_RETRY_S = 300.0


class SurveySender(Protocol):
    """Sends a CS text (``bridge.zalo.ZaloClient``)."""

    async def send_text(self, user_id: str, text: str) -> Any: ...  # noqa: D102 - see ZaloClient


@runtime_checkable
class ButtonSender(Protocol):
    """Sends a CS text with ``oa.query.show`` buttons (``ZaloClient.send_text_with_buttons``)."""

    async def send_text_with_buttons(  # noqa: D102 - see ZaloClient
        self, user_id: str, text: str, buttons: Sequence[tuple[str, str]]
    ) -> Any: ...


class Citizens(Protocol):
    """What the survey reads of the citizens' store."""

    async def linked_users(self, case_code: str) -> list[str]: ...  # noqa: D102 - see CitizenStore
    async def last_interaction_at(self, user_id: str) -> float | None: ...  # noqa: D102 - idem


class FeedbackPublisher(Protocol):
    """Puts one feedback event on the topic, keyed by its dossier code."""

    async def publish(self, event: CitizenFeedback) -> None: ...  # noqa: D102 - see KafkaFeedback


class SurveyService:
    """Plans, asks, takes answers and publishes them; one per process, replicas share the store.

    - ``plan``: a case event in a final state plans one survey per citizen who follows the
      dossier (the event's user with consent, the linked users), due after the delay. Planning
      twice changes nothing; a citizen who said no is never planned.
    - ``ask_due`` (the loop): a due survey is claimed (a lease, so one replica asks it), then
      postponed while quiet hours last, skipped when the citizen's last known interaction is
      older than the interaction window (a CS text would be refused; a paid template is not
      worth it), else asked. Zalo's "outside the window" answer skips it too.
    - ``answer`` (the chat, through the desk): a rating for the survey that waits for this
      citizen records the first answer only; an unhappy one asks for a reason, taken as the next
      text within ``comment_minutes``; ``HUY KHAO SAT`` stops every survey of the citizen.
    - ``publish_ready`` (the loop): each answered survey becomes one ``CitizenFeedback`` event
      once its reason is in or no longer awaited, then is marked published (an outbox: a crash
      between the two publishes it again, with the same ``feedback_id``).
    """

    def __init__(  # noqa: PLR0913 - the settings, then collaborators, all keyword-only
        self,
        *,
        settings: FeedbackSettings,
        store: SurveyStore,
        sender: SurveySender,
        citizens: Citizens,
        publisher: FeedbackPublisher,
        window: QuietWindow,
        pseudonym_key: str,
        owner: str,
        interaction_window_days: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.store = store
        self._sender = sender
        self._citizens = citizens
        self._publisher = publisher
        self._window = window
        self._key = pseudonym_key
        self._owner = owner
        self._interaction_window = interaction_window_days * _DAY
        self._clock = clock
        self._final = frozenset(settings.final_states)
        self._task: asyncio.Task[None] | None = None
        self.stats: Counter[str] = Counter()
        """Surveys by outcome: planned, asked, skipped:<reason>, answered, commented,
        published, stopped, repeated."""

    # -------------------------------------------------------------- planning

    async def plan(self, event: CaseStateEvent) -> None:
        """Plan the surveys of a dossier that reached a final state (else nothing)."""
        if event.kind_details is not None or event.state.value not in self._final:
            return
        users: list[str] = []
        recipient = event.recipient
        if recipient.zalo_user_id and recipient.notify_consent:
            users.append(recipient.zalo_user_id)
        users += [u for u in await self._citizens.linked_users(event.case.code) if u not in users]
        if not users:
            return
        declined = await self.store.opted_out(users)
        case = event.case
        planned = [
            PlannedSurvey(
                case_code=case.code,
                user_id=user,
                province=event.province,
                final_state=event.state.value,
                procedure_code=case.procedure_code,
                procedure_name=case.procedure_name,
                agency_code=case.receiving_agency.code or "",
                agency_name=case.receiving_agency.name,
                department=case.handling_department,
            )
            for user in users
            if user not in declined
        ]
        now = self._clock()
        added = await self.store.plan(planned, now=now, due_at=now + self.settings.delay_seconds)
        self.stats["planned"] += added

    # -------------------------------------------------------------- asking

    async def ask_due(self) -> int:
        """Ask (or postpone, or skip) the surveys that are due; return how many were asked."""
        now = self._clock()
        due = await self.store.claim_due(
            now=now,
            owner=self._owner,
            lease=self.settings.lease_seconds,
            limit=self.settings.batch,
        )
        asked = 0
        for survey in due:
            asked += await self._ask(survey, now)
        return asked

    async def _ask(self, survey: Survey, now: float) -> int:
        moment = datetime.fromtimestamp(now, UTC)
        if self._window.is_quiet(moment):
            release = self._window.next_release(moment).timestamp()
            await self.store.postpone(survey, until=release, tried=False)
            return 0
        last = await self._citizens.last_interaction_at(survey.user_id)
        if last is not None and now - last > self._interaction_window:
            await self._skip(survey, "outside_window", now)
            return 0
        text = wording.question(
            self.settings.question,
            case_code=survey.case_code,
            procedure_name=survey.procedure_name,
            agency_name=survey.agency_name,
        )
        try:
            if self.settings.buttons and isinstance(self._sender, ButtonSender):
                await self._sender.send_text_with_buttons(survey.user_id, text, wording.BUTTONS)
            else:
                await self._sender.send_text(survey.user_id, text)
        except DeliveryInDoubtError:
            pass  # it may have arrived: never ask twice
        except RecipientUnreachableError:
            await self._skip(survey, "outside_window", now)
            return 0
        except RetryableDeliveryError as error:
            if survey.tries + 1 >= _MAX_TRIES:
                await self._skip(survey, "send_failed", now)
            else:
                await self.store.postpone(survey, until=now + _RETRY_S, tried=True)
                _log.warning("survey not sent; tried again later", error=type(error).__name__)
            return 0
        except DeliveryError as error:
            _log.warning("survey refused by Zalo", error=type(error).__name__)
            await self._skip(survey, "refused", now)
            return 0
        await self.store.asked(survey, at=now)
        self.stats["asked"] += 1
        return 1

    async def _skip(self, survey: Survey, reason: str, now: float) -> None:
        await self.store.skip(survey, reason=reason, at=now)
        self.stats[f"skipped:{reason}"] += 1

    # -------------------------------------------------------------- answers

    async def answer(self, user_id: str, text: str, at: float) -> str | None:
        """The reply when ``text`` is an answer to a survey, else None (the chat goes on).

        Called by the chat desk for every text, before its own commands.
        """
        now = self._clock()
        window = self.settings.answer_window_hours * _HOUR
        latest = await self.store.latest_asked(user_id, asked_since=now - window)
        waiting = latest if latest is not None and latest.status == SurveyStatus.ASKED else None
        parsed = parse_answer(text, survey_waiting=waiting is not None)
        if isinstance(parsed, StopSurveys):
            await self.store.opt_out(user_id, at=now)
            self.stats["stopped"] += 1
            return wording.stopped()
        if isinstance(parsed, Rating):
            if waiting is not None:
                return await self._rate(waiting, parsed, now)
            if latest is not None:  # answered already: the first answer stands
                self.stats["repeated"] += 1
                return wording.already_answered()
            return None
        commenting = await self.store.expecting_comment(user_id, now=now)
        if commenting is not None and text.strip():
            comment = mask_text(text.strip())[:MAX_COMMENT_CHARS]
            if await self.store.comment(commenting, text=comment, now=now):
                self.stats["commented"] += 1
                return wording.comment_received()
        del at  # the event's time is the citizen's; answers are stamped on receipt
        return None

    async def _rate(self, survey: Survey, rating: Rating, now: float) -> str:
        unhappy = rating.level is Level.UNSATISFIED and self.settings.comment_minutes > 0
        comment_until = now + self.settings.comment_minutes * 60 if unhappy else None
        if not await self.store.answer(
            survey, score=rating.score, at=now, comment_until=comment_until
        ):
            self.stats["repeated"] += 1
            return wording.already_answered()
        self.stats["answered"] += 1
        _log.info(
            "survey answered",
            case_code=survey.case_code,
            citizen=pseudonymise(survey.user_id, pepper=self._key),
            level=rating.level.value,
        )
        if unhappy:
            return wording.ask_reason(self.settings.comment_minutes)
        return wording.thanks(rating.level)

    # -------------------------------------------------------------- publishing

    async def publish_ready(self) -> int:
        """Publish the answered surveys that are complete; return how many."""
        now = self._clock()
        ready = await self.store.ready_to_publish(now=now, limit=self.settings.batch)
        for survey in ready:
            await self._publisher.publish(self.event_of(survey))
            await self.store.published(survey, at=self._clock())
            self.stats["published"] += 1
        return len(ready)

    def event_of(self, survey: Survey) -> CitizenFeedback:
        """The feedback event of an answered survey."""
        assert survey.score is not None  # noqa: S101 - only answered surveys are published
        assert survey.answered_at is not None  # noqa: S101
        citizen = citizen_pseudonym(survey.user_id, self._key)
        rating = Rating(survey.score)
        return CitizenFeedback(
            feedback_id=feedback_id_for(survey.case_code, citizen),
            province=survey.province,
            case_code=survey.case_code,
            final_state=survey.final_state,
            procedure_code=survey.procedure_code,
            procedure_name=survey.procedure_name,
            receiving_agency=Agency(code=survey.agency_code, name=survey.agency_name),
            handling_department=survey.department,
            criterion=self.settings.criterion,
            score=survey.score,
            level=rating.level,
            comment=survey.comment,
            citizen=citizen,
            asked_at=datetime.fromtimestamp(survey.asked_at or survey.answered_at, UTC),
            answered_at=datetime.fromtimestamp(survey.answered_at, UTC),
        )

    # -------------------------------------------------------------- the loop

    async def purge(self) -> int:
        """Delete surveys past their retention."""
        before = self._clock() - self.settings.retention_days * _DAY
        return await self.store.purge(before=before)

    async def run_once(self) -> None:
        """One pass: ask what is due, publish what is ready."""
        await self.ask_due()
        await self.publish_ready()

    def start(self) -> None:
        """Run the loop in the background."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="feedback-surveys")

    async def stop(self) -> None:
        """Stop the loop."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        last_purge = 0.0
        while True:
            try:
                await self.run_once()
                if self._clock() - last_purge > _DAY:
                    await self.purge()
                    last_purge = self._clock()
            except (StoreError, DeliveryError, FeedbackPublishError) as error:
                _log.warning("survey pass failed; trying again", error=type(error).__name__)
            except Exception:  # noqa: BLE001 - the loop must outlive one bad pass
                _log.exception("survey pass failed unexpectedly; trying again")
            await asyncio.sleep(self.settings.poll_seconds)
