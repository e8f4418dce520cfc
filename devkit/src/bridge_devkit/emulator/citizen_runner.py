"""Running a scripted citizen inside the emulator: her steps, her waits for the OA's replies.

Each script runs as an asyncio task. A step that sends something emits its webhook event(s) and
makes their first delivery attempt before the next step (retries follow Zalo's schedule, as for
any event). `expect_reply` polls the message log (real time, every 50 ms) for an accepted OA
message to her, newer than the last reply she matched (or than the script's start), that fits;
messages that do not fit are passed over. Timeouts are in real time, whatever the emulator's
clock: the bridge on the other side runs in real time.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import time
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from bridge_devkit.emulator.citizen_models import (
    ExpectReplyStep,
    FollowStep,
    ScriptIn,
    SendStep,
    SleepStep,
    SubmitInfoStep,
    TapStep,
    TextStep,
    UnfollowStep,
)
from bridge_devkit.emulator.clock import to_iso
from bridge_devkit.emulator.events import EventSpec, emit_events, tap
from bridge_devkit.emulator.message_log import RecordFilter
from bridge_devkit.emulator.template_store import TEMPLATE_UID_PATH

if TYPE_CHECKING:
    from bridge_devkit.emulator.message_log import MessageRecord
    from bridge_devkit.emulator.state import EmulatorState
    from bridge_devkit.emulator.webhook import WebhookEvent
    from bridge_devkit.emulator.webhook_delivery import WebhookDispatcher

__all__ = ["POLL_S", "ScriptRegistry", "ScriptRun", "StepResult", "run_view"]

POLL_S: Final = 0.05
"""How often (real time) `expect_reply` looks at the message log."""


class _StepFailed(Exception):  # noqa: N818 - a script outcome, not an error of the emulator
    """A step that did not do what the script says."""


@dataclass(slots=True)
class StepResult:
    """What became of one step."""

    index: int
    do: str
    status: str = "pending"  # pending, running, passed, failed, skipped
    started_at: float | None = None
    ended_at: float | None = None
    detail: str | None = None
    events: list[int] = field(default_factory=list)
    reply: dict[str, object] | None = None


@dataclass(slots=True)
class ScriptRun:
    """One run of a script."""

    id: str
    user_id: str
    steps: list[StepResult]
    status: str = "running"  # running, passed, failed, cancelled
    error: str | None = None
    started_at: float = 0.0
    ended_at: float | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)
    done: asyncio.Event = field(default_factory=asyncio.Event, repr=False)


def run_view(run: ScriptRun) -> dict[str, object]:
    """Show a run as the admin API does."""
    return {
        "id": run.id,
        "user_id": run.user_id,
        "status": run.status,
        "error": run.error,
        "started_at": to_iso(run.started_at),
        "ended_at": None if run.ended_at is None else to_iso(run.ended_at),
        "steps": [
            {
                "index": step.index,
                "do": step.do,
                "status": step.status,
                "detail": step.detail,
                "events": step.events,
                "reply": step.reply,
                "duration_ms": (
                    None
                    if step.started_at is None or step.ended_at is None
                    else round((step.ended_at - step.started_at) * 1000.0, 1)
                ),
            }
            for step in run.steps
        ],
    }


class ScriptRegistry:
    """The scripts started in one emulator, by id."""

    def __init__(self, state: EmulatorState, dispatcher: WebhookDispatcher) -> None:
        """Run scripts against `state`, delivering their events with `dispatcher`."""
        self._state = state
        self._dispatcher = dispatcher
        self._runs: dict[str, ScriptRun] = {}
        self._ids = itertools.count(1)
        self._base_url = ""

    def start(self, script: ScriptIn) -> ScriptRun:
        """Start `script` in the background and return its run."""
        run = ScriptRun(
            id=f"script-{next(self._ids)}",
            user_id=script.user_id,
            steps=[StepResult(index=i, do=step.do) for i, step in enumerate(script.steps)],
            started_at=self._state.clock(),
        )
        self._runs[run.id] = run
        run.task = asyncio.create_task(self._run(run, script), name=f"zalo-emulator-{run.id}")
        return run

    def get(self, run_id: str) -> ScriptRun | None:
        """Return the run `run_id`, if any."""
        return self._runs.get(run_id)

    def all(self) -> list[ScriptRun]:
        """Return every run, oldest first."""
        return list(self._runs.values())

    async def wait(self, run: ScriptRun, timeout_s: float) -> None:
        """Wait until `run` has ended, or `timeout_s` (real time) has passed."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(run.done.wait(), timeout_s)

    def cancel(self, run: ScriptRun) -> None:
        """Stop `run` if it is still running."""
        if run.task is not None and not run.task.done():
            run.task.cancel()

    async def close(self) -> None:
        """Cancel every running script (the emulator stops)."""
        tasks = [run.task for run in self._runs.values() if run.task and not run.task.done()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self, run: ScriptRun, script: ScriptIn) -> None:
        latest = self._state.messages.latest()
        cursor = [0 if latest is None else latest.seq]
        try:
            async with asyncio.timeout(script.timeout_s):
                for step, result in zip(script.steps, run.steps, strict=True):
                    result.status = "running"
                    result.started_at = time.monotonic()
                    try:
                        await self._step(script, step, result, cursor)
                    finally:
                        result.ended_at = time.monotonic()
                    result.status = "passed"
            run.status = "passed"
        except _StepFailed as exc:
            self._fail(run, str(exc))
        except TimeoutError:
            self._fail(run, f"the script took longer than {script.timeout_s} s")
        except asyncio.CancelledError:
            self._fail(run, "cancelled", status="cancelled")
            raise
        except ValueError as exc:  # what the OA's state does not allow (e.g. no button)
            self._fail(run, str(exc))
        finally:
            run.ended_at = self._state.clock()
            run.done.set()

    def _fail(self, run: ScriptRun, error: str, *, status: str = "failed") -> None:
        run.status = status
        run.error = error
        for result in run.steps:
            if result.status == "running":
                result.status = "failed"
                result.detail = result.detail or error
            elif result.status == "pending":
                result.status = "skipped"

    async def _step(
        self, script: ScriptIn, step: Any, result: StepResult, cursor: list[int]
    ) -> None:
        state = self._state
        user_id = script.user_id
        now = state.clock()
        if isinstance(step, ExpectReplyStep):
            await self._expect(script, step, result, cursor)
            return
        if isinstance(step, SleepStep):
            await asyncio.sleep(step.seconds)
            return
        if isinstance(step, TapStep):
            tapped = tap(
                state,
                user_id,
                now,
                message_id=step.message_id,
                index=step.index,
                title=step.title,
                payload=step.payload,
            )
            result.detail = f"tapped {tapped.button.type} {tapped.button.title!r}" + (
                "" if tapped.events else " (no webhook event for this type, part 2 §6.1)"
            )
            await self._deliver(script, tapped.events, result)
            return
        spec = self._spec(script, step, user_id)
        await self._deliver(script, emit_events(state, spec, now), result)

    def _spec(self, script: ScriptIn, step: Any, user_id: str) -> EventSpec:
        base_url = self._base_url
        name = script.display_name
        if isinstance(step, FollowStep):
            return EventSpec("follow", user_id, source=step.source, display_name=name)
        if isinstance(step, UnfollowStep):
            return EventSpec("unfollow", user_id)
        if isinstance(step, TextStep):
            return EventSpec(
                "user_send_text", user_id, text=step.resolved_text(), display_name=name
            )
        if isinstance(step, SendStep):
            return EventSpec(
                f"user_send_{step.do}",
                user_id,
                text=step.caption,
                display_name=name,
                attachment=step.attachment.to_spec(),
                base_url=base_url,
            )
        if isinstance(step, SubmitInfoStep):
            return EventSpec(
                "user_submit_info",
                user_id,
                info=step.info,
                info_shape=step.info_shape,
                force=step.force,
            )
        raise ValueError(f"unknown step {step!r}")  # pragma: no cover - the model forbids it

    def set_base_url(self, base_url: str) -> None:
        """Use `base_url` in the URLs of the files the citizens send."""
        self._base_url = base_url

    async def _deliver(
        self, script: ScriptIn, events: list[WebhookEvent], result: StepResult
    ) -> None:
        attempts = await self._dispatcher.deliver(events)
        result.events = [event.seq for event in events]
        statuses = [event.status.value for event in events]
        if attempts or statuses:
            result.detail = ((result.detail + "; ") if result.detail else "") + (
                f"events {result.events}: {', '.join(statuses)}"
            )
        if script.require_delivery and not all(attempt.ok for attempt in attempts):
            raise _StepFailed(f"the webhook did not take the events: {result.detail}")

    async def _expect(
        self, script: ScriptIn, step: ExpectReplyStep, result: StepResult, cursor: list[int]
    ) -> None:
        timeout_s = step.timeout_s or script.step_timeout_s
        pattern = None if step.matches is None else re.compile(step.matches)
        deadline = time.monotonic() + timeout_s
        seen: list[str] = []
        while True:
            for record in self._replies(script.user_id, cursor[0]):
                if _fits(record, step, pattern):
                    cursor[0] = record.seq
                    result.reply = _reply_view(record)
                    result.detail = f"reply {record.message_id}"
                    return
                seen.append(_describe(record))
            if time.monotonic() >= deadline:
                wanted = step.model_dump(exclude={"do", "timeout_s"}, exclude_none=True)
                raise _StepFailed(
                    f"no reply fitting {wanted} within {timeout_s} s; "
                    f"other replies: {seen[-5:] or 'none'}"
                )
            seen.clear()
            await asyncio.sleep(POLL_S)

    def _replies(self, user_id: str, after_seq: int) -> list[MessageRecord]:
        return [
            record
            for record in self._state.messages.query(user_id=user_id, which=RecordFilter.ACCEPTED)
            if record.seq > after_seq
        ]


def _fits(record: MessageRecord, step: ExpectReplyStep, pattern: re.Pattern[str] | None) -> bool:
    text = unicodedata.normalize("NFC", record.text or "")
    if step.contains is not None and unicodedata.normalize("NFC", step.contains) not in text:
        return False
    if pattern is not None and pattern.search(text) is None:
        return False
    if step.has_buttons is not None and bool(record.buttons) != step.has_buttons:
        return False
    if step.type is not None:
        kind = _kind(record)
        if step.type == "buttons":
            return bool(record.buttons)
        return kind == step.type
    return True


def _kind(record: MessageRecord) -> str:
    if record.endpoint == TEMPLATE_UID_PATH:
        return "template"
    return record.attachment or "text"


def _describe(record: MessageRecord) -> str:
    text = (record.text or "")[:60]
    return f"{_kind(record)}: {text!r}"


def _reply_view(record: MessageRecord) -> dict[str, object]:
    return {
        "message_id": record.message_id,
        "seq": record.seq,
        "type": _kind(record),
        "text": record.text,
        "buttons": [
            {"title": b.title, "type": b.type, "payload": b.payload} for b in record.buttons
        ],
        "asset_id": record.asset_id,
    }
