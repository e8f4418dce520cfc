"""The guided conversation: one citizen's draft and one input in, the next draft and replies out.

Pure: no clock, no store, no network. The caller persists ``Draft`` (JSON) and the webhook
event's key in one transaction, so a crash repeats nothing and a replayed event adds no step.
Where she stands is derived from the draft (first unanswered field, then first unfinished
document, then the summary), never counted, so an edit or a repeat cannot lose the place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from bridge.citizens.text import fold
from bridge.submissions import wording
from bridge.submissions.answers import Accepted, read_answer

if TYPE_CHECKING:
    from datetime import date

    from bridge.submissions.forms import DocumentSpec, FieldSpec, Form, FormCatalogue

__all__ = [
    "Attached",
    "Draft",
    "Outcome",
    "Refusal",
    "StoredAttachment",
    "Submit",
    "Text",
    "expecting",
    "is_start",
    "step",
]

_START = re.compile(r"^#?(?:NOP HO SO|NOPHOSO|NOP HS)$")
_EDIT = re.compile(r"^SUA\s*(?P<n>\d{1,3})?$")
_BARE_CANCEL = "HUY"
_CANCEL = {_BARE_CANCEL, "HUY HO SO", "HUY BO"}
_FREE_TEXT = {"text", "address"}
"""Field kinds whose answer may be the word "Huy" itself (a given name, a street)."""
_CONFIRM = {"XAC NHAN", "XACNHAN", "DONG Y"}
_SKIP = {"BO QUA", "BOQUA", "KHONG CO"}
_DONE = {"XONG", "DA XONG", "HET"}


def is_start(text: str) -> bool:
    """``NOP HO SO``, ``Nộp hồ sơ`` or the button's payload."""
    return bool(_START.match(fold(text)))


@dataclass(frozen=True, slots=True)
class StoredAttachment:
    """A photo or file already checked and stored, kept in the draft until confirmation."""

    document: str
    object_key: str
    sha256: str
    content_type: str
    size: int


@dataclass(frozen=True, slots=True)
class Draft:
    """One citizen's submission in progress, as stored (``to_json``/``from_json``)."""

    form_code: str | None = None
    answers: dict[str, str | int | None] = field(default_factory=dict)
    attachments: tuple[StoredAttachment, ...] = ()
    finished_documents: tuple[str, ...] = ()
    editing: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The draft as a JSON object."""
        return {
            "form_code": self.form_code,
            "answers": dict(self.answers),
            "attachments": [
                {
                    "document": item.document,
                    "object_key": item.object_key,
                    "sha256": item.sha256,
                    "content_type": item.content_type,
                    "size": item.size,
                }
                for item in self.attachments
            ],
            "finished_documents": list(self.finished_documents),
            "editing": self.editing,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Draft:
        """The draft ``to_json`` wrote."""
        return cls(
            form_code=data.get("form_code"),
            answers=dict(data.get("answers", {})),
            attachments=tuple(StoredAttachment(**item) for item in data.get("attachments", ())),
            finished_documents=tuple(data.get("finished_documents", ())),
            editing=data.get("editing"),
        )

    def count(self, document: str) -> int:
        """Photos and files kept for ``document``."""
        return sum(1 for item in self.attachments if item.document == document)


@dataclass(frozen=True, slots=True)
class Text:
    """She typed (or tapped a button that typed) something."""

    text: str


@dataclass(frozen=True, slots=True)
class Attached:
    """A photo or file, downloaded, checked and stored by the caller for the expected document."""

    stored: StoredAttachment


@dataclass(frozen=True, slots=True)
class Refusal:
    """A photo or file the caller refused (too large, a lying name, a bomb…), and why."""

    reason: str


@dataclass(frozen=True, slots=True)
class Submit:
    """She confirmed: publish this draft (complete) with her consent."""

    form: Form
    draft: Draft


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the caller does with one input.

    Store ``draft`` (None: delete it), send the replies, delete the ``discard`` objects, and
    publish ``submit`` when she confirmed.
    """

    draft: Draft | None
    replies: tuple[str, ...]
    submit: Submit | None = None
    discard: tuple[str, ...] = ()


def _next_field(form: Form, draft: Draft) -> FieldSpec | None:
    if draft.editing is not None:
        return form.field(draft.editing)
    return next((spec for spec in form.fields if spec.key not in draft.answers), None)


def _next_document(form: Form, draft: Draft) -> DocumentSpec | None:
    return next(
        (
            spec
            for spec in form.documents
            if spec.key not in draft.finished_documents and draft.count(spec.key) < spec.max_count
        ),
        None,
    )


def expecting(catalogue: FormCatalogue, draft: Draft) -> DocumentSpec | None:
    """The document a photo or file would go to now (None: no attachment is expected)."""
    form = catalogue.by_code(draft.form_code or "")
    if form is None or _next_field(form, draft) is not None:
        return None
    return _next_document(form, draft)


def _prompt(form: Form, draft: Draft) -> str:
    """The question to ask now: a field, a document, or the summary."""
    spec = _next_field(form, draft)
    if spec is not None:
        return wording.ask_field(form, spec)
    document = _next_document(form, draft)
    if document is not None:
        return wording.ask_document(document, draft.count(document.key))
    counts = {spec.key: draft.count(spec.key) for spec in form.documents}
    return wording.summary(form, draft.answers, counts)


def step(  # noqa: PLR0911 - one return per kind of input, in the order they are tried
    catalogue: FormCatalogue, draft: Draft | None, event: Text | Attached | Refusal, *, today: date
) -> Outcome | None:
    """Move the conversation on by one input; None: the input is not for the conversation.

    Without a draft only a start (``NOP HO SO``) is taken: every other text goes on to the
    desk (dossier codes, HUY <mã>, lookups), and an attachment is refused as unexpected.
    """
    if draft is None:
        if isinstance(event, Text) and is_start(event.text):
            return Outcome(Draft(), (wording.choose_form(catalogue),))
        return None
    if isinstance(event, Refusal):
        document = expecting(catalogue, draft)
        return Outcome(draft, (wording.attachment_refused(document, event.reason),))
    if isinstance(event, Attached):
        return _attached(catalogue, draft, event.stored)
    form = catalogue.by_code(draft.form_code or "")
    typed = fold(event.text)
    if typed in _CANCEL:
        spec = None if form is None else _next_field(form, draft)
        # "Huy" is a given name too: while a name or an address is asked, only the
        # unmistakable command cancels, and she is told which one.
        free_text = spec is not None and spec.kind in _FREE_TEXT
        if form is not None and spec is not None and free_text and typed == _BARE_CANCEL:
            return Outcome(draft, (wording.cancel_or_answer(form, spec),))
        keys = tuple(item.object_key for item in draft.attachments)
        return Outcome(None, (wording.cancelled(),), discard=keys)
    if form is None:  # choosing (or her form was withdrawn since: she chooses again)
        return _choose(catalogue, replace(draft, form_code=None), event.text)
    return _typed(form, draft, event.text, today)


def _typed(form: Form, draft: Draft, text: str, today: date) -> Outcome:
    typed = fold(text)
    edit = _EDIT.match(typed)
    spec = _next_field(form, draft)
    document = _next_document(form, draft)
    if edit is not None:
        return _edit(form, draft, edit["n"])
    if spec is not None and not is_start(text):
        return _answer(form, draft, spec, text, today)
    if document is not None and not is_start(text):
        return _document_text(form, draft, document, typed)
    if typed in _CONFIRM and spec is None and document is None:
        return Outcome(None, (), Submit(form, draft))
    return Outcome(draft, (_prompt(form, draft),))


def _choose(catalogue: FormCatalogue, draft: Draft, text: str) -> Outcome:
    chosen = catalogue.choose(fold(text))
    if chosen is None:
        return Outcome(draft, (wording.choose_form(catalogue),))
    started = replace(draft, form_code=chosen.code)
    return Outcome(started, (_prompt(chosen, started),))


def _edit(form: Form, draft: Draft, number: str | None) -> Outcome:
    if number is None or not 1 <= int(number) <= len(form.fields):
        return Outcome(draft, (wording.unknown_edit(form),))
    spec = form.fields[int(number) - 1]
    editing = replace(draft, editing=spec.key)
    return Outcome(editing, (wording.ask_field(form, spec),))


def _answer(form: Form, draft: Draft, spec: FieldSpec, text: str, today: date) -> Outcome:
    typed = fold(text)
    if typed in _CONFIRM | _DONE or (typed in _SKIP and spec.required):
        # A command word is never taken as an answer (a child is not named "Xác nhận").
        correction = "Mục này bắt buộc, xin trả lời trước khi đi tiếp."
        return Outcome(draft, (wording.ask_field(form, spec, correction=correction),))
    if typed in _SKIP:
        value: str | int | None = None
    else:
        answer = read_answer(spec, text, today=today)
        if not isinstance(answer, Accepted):
            return Outcome(draft, (wording.ask_field(form, spec, correction=answer.message),))
        value = answer.value
    answered = replace(draft, answers={**draft.answers, spec.key: value}, editing=None)
    return Outcome(answered, (_prompt(form, answered),))


def _document_text(form: Form, draft: Draft, document: DocumentSpec, typed: str) -> Outcome:
    received = draft.count(document.key)
    if (typed in _DONE and received) or (typed in _SKIP and not document.required):
        finished = replace(draft, finished_documents=(*draft.finished_documents, document.key))
        return Outcome(finished, (_prompt(form, finished),))
    return Outcome(draft, (wording.ask_document(document, received),))


def _attached(catalogue: FormCatalogue, draft: Draft, stored: StoredAttachment) -> Outcome:
    form = catalogue.by_code(draft.form_code or "")
    document = expecting(catalogue, draft)
    if form is None or document is None or document.key != stored.document:
        # Raced past its document (a double send after XONG): not kept, and deleted.
        reason = "lúc này không chờ ảnh hay tệp cho mục này."
        refused = wording.attachment_refused(document, reason)
        return Outcome(draft, (refused,), discard=(stored.object_key,))
    kept = replace(draft, attachments=(*draft.attachments, stored))
    received = kept.count(document.key)
    replies = [wording.attachment_received(document, received)]
    if received >= document.max_count:
        replies.append(_prompt(form, kept))
    return Outcome(kept, tuple(replies))
