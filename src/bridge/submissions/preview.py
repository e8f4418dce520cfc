"""A form's conversation as the citizen sees it, scripted (``submissions preview``, the page)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bridge.submissions.conversation import (
    Attached,
    Draft,
    StoredAttachment,
    Text,
    expecting,
    step,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import date

    from bridge.submissions.forms import FieldSpec, Form, FormCatalogue

__all__ = ["conversation", "submission_messages"]

_SAMPLES = {
    "text": "Nguyễn Thị Minh Anh",
    "address": "12 Lê Lợi, phường Hải Châu, TP Đà Nẵng",
    "citizen_id": "001203004567",
    "phone": "0905123456",
}
_WRONG = {
    "text": "A",
    "address": "1234567890",
    "number": "một trăm",
    "date": "2026-03-05",
    "choice": "9",
    "citizen_id": "123456789",
    "phone": "12345",
}


def _sample(spec: FieldSpec, today: date) -> str:
    if spec.help and spec.help.startswith("Ví dụ: ") and spec.kind not in {"choice", "date"}:
        return spec.help.removeprefix("Ví dụ: ")
    if spec.kind == "number":
        return str(max(spec.minimum or 1, 1))
    if spec.kind == "date":
        return today.strftime("%d/%m/%Y")
    if spec.kind == "choice":
        return "1"
    text = _SAMPLES[spec.kind]
    return text[: spec.max_length] if spec.max_length else text


def conversation(catalogue: FormCatalogue, form: Form, *, today: date) -> list[tuple[str, str]]:
    """(who, text) pairs of a scripted filing of ``form``, the OA's replies as bridge words them.

    She starts, chooses, answers (the first field wrongly once), sends one photo or PDF per
    required document, skips the optional ones, and confirms.
    """
    said: list[tuple[str, str]] = []
    draft: Draft | None = None

    def turn(event: Text | Attached, shown: str) -> None:
        nonlocal draft
        said.append(("citizen", shown))
        outcome = step(catalogue, draft, event, today=today)
        if outcome is None:  # pragma: no cover - a scripted start is always taken
            return
        said.extend(("oa", reply) for reply in outcome.replies)
        if outcome.submit is not None:
            said.append(("oa", "(Mã nộp hồ sơ được gửi kèm khi hồ sơ tới Trung tâm.)"))
        draft = outcome.draft

    turn(Text("NOP HO SO"), "NOP HO SO")
    turn(Text(str(catalogue.forms.index(form) + 1)), str(catalogue.forms.index(form) + 1))
    for number, spec in enumerate(form.fields):
        if number == 0:
            wrong = _WRONG[spec.kind]
            turn(Text(wrong), wrong)
        answer = _sample(spec, today) if spec.required else "BO QUA"
        turn(Text(answer), answer)
    while draft is not None and (document := expecting(catalogue, draft)) is not None:
        if not document.required:
            turn(Text("BO QUA"), "BO QUA")
            continue
        kind = document.accepted[0]
        stored = StoredAttachment(document.key, f"preview/{document.key}", "0" * 64, kind, 1)
        turn(Attached(stored), f"[{'tệp PDF' if kind == 'application/pdf' else 'ảnh'}]")
        if draft is not None and expecting(catalogue, draft) is document:
            turn(Text("XONG"), "XONG")
    turn(Text("XAC NHAN"), "XAC NHAN")
    return said


def submission_messages(
    catalogue: FormCatalogue, today: date
) -> Callable[[str, str], list[dict[str, Any]]]:
    """The preview page's extra messages: the OA's side of the form of that procedure."""

    def messages(procedure_code: str, procedure_name: str) -> list[dict[str, Any]]:
        del procedure_name
        form = catalogue.by_code(procedure_code)
        if form is None:
            return []
        replies = [text for who, text in conversation(catalogue, form, today=today) if who == "oa"]
        return [
            {
                "template": f"submission.{n}",
                "label": f"Nộp hồ sơ: bước {n}",
                "sent": True,
                "text": text,
                "version": None,
                "style": None,
                "template_data": {},
                "card": None,
            }
            for n, text in enumerate(replies, 1)
        ]

    return messages
