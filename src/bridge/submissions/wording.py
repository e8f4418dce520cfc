"""What the submission conversation says in the chat, in Vietnamese (pure: no I/O)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bridge.submissions.answers import display_value

if TYPE_CHECKING:
    from collections.abc import Mapping

    from bridge.submissions.forms import DocumentSpec, FieldSpec, Form, FormCatalogue

__all__ = [
    "ask_document",
    "ask_field",
    "attachment_received",
    "attachment_refused",
    "cancelled",
    "choose_form",
    "confirmed",
    "expired",
    "nothing_to_cancel",
    "reminder",
    "summary",
    "unknown_edit",
]

_COMMANDS = "Nhắn SUA <số> để sửa một mục, HUY để hủy hồ sơ đang khai."


def choose_form(catalogue: FormCatalogue) -> str:
    """The numbered list of procedures she can file."""
    lines = "\n".join(f"{n}. {form.name}" for n, form in enumerate(catalogue.forms, 1))
    return f"Ông/Bà muốn nộp hồ sơ thủ tục nào? Xin nhắn số thứ tự:\n{lines}\nNhắn HUY để dừng."


def ask_field(form: Form, spec: FieldSpec, *, correction: str | None = None) -> str:
    """One question, with its help, its place in the form, and the correction when wrong."""
    number = form.fields.index(spec) + 1
    parts = [f"❗ {correction}"] if correction else []
    parts.append(f"({number}/{len(form.fields)}) {spec.prompt}")
    if spec.kind == "choice":
        parts.append("\n".join(f"{n}. {choice.label}" for n, choice in enumerate(spec.choices, 1)))
    if spec.help:
        parts.append(spec.help)
    if not spec.required and not (spec.help and "BO QUA" in spec.help):
        parts.append("Nhắn BO QUA nếu không có.")
    return "\n".join(parts)


def ask_document(spec: DocumentSpec, received: int) -> str:
    """What to send next for one document."""
    kinds = _kinds(spec)
    parts = [spec.prompt]
    if spec.help:
        parts.append(spec.help)
    parts.append(f"Nhận {kinds}, tối đa {spec.max_count} tệp.")
    if received:
        parts.append(f"Đã nhận {received}/{spec.max_count}. Gửi tiếp hoặc nhắn XONG.")
    elif not spec.required:
        parts.append("Nhắn BO QUA nếu không có.")
    return "\n".join(parts)


def _kinds(spec: DocumentSpec) -> str:
    names = {
        "image/jpeg": "ảnh JPEG",
        "image/png": "ảnh PNG",
        "image/webp": "ảnh WebP",
        "application/pdf": "tệp PDF",
    }
    return ", ".join(names[kind] for kind in spec.accepted)


def attachment_received(spec: DocumentSpec, received: int) -> str:
    """One photo or file taken for a document."""
    if received >= spec.max_count:
        return f"Đã nhận đủ {received}/{spec.max_count} tệp cho «{spec.label}»."
    return (
        f"Đã nhận {received}/{spec.max_count} tệp cho «{spec.label}». "
        "Gửi tiếp hoặc nhắn XONG để sang mục sau."
    )


def attachment_refused(spec: DocumentSpec | None, reason: str) -> str:
    """A photo or file not taken, and why."""
    if spec is None:
        return f"Chưa nhận tệp này: {reason} Bây giờ chưa cần gửi ảnh hay tệp."
    return f"Chưa nhận tệp này: {reason} Xin gửi lại cho «{spec.label}»."


def summary(form: Form, answers: Mapping[str, str | int | None], counts: Mapping[str, int]) -> str:
    """Everything she answered and sent, the consent, and how to confirm or change."""
    lines = [f"Hồ sơ «{form.name}» của Ông/Bà:"]
    for number, spec in enumerate(form.fields, 1):
        lines.append(f"{number}. {spec.label}: {display_value(spec, answers.get(spec.key))}")
    for document in form.documents:
        count = counts.get(document.key, 0)
        lines.append(
            f"• {document.label}: {count} tệp" if count else f"• {document.label}: không gửi"
        )
    lines.append(form.consent)
    lines.append(f"Nhắn XAC NHAN để nộp. {_COMMANDS}")
    return "\n".join(lines)


def unknown_edit(form: Form) -> str:
    """``SUA`` with a number that is not a field."""
    return f"Xin nhắn SUA và số của mục cần sửa, từ 1 đến {len(form.fields)}, ví dụ SUA 2."


def cancelled() -> str:
    """``HUY`` during a submission."""
    return "Đã hủy hồ sơ đang khai; các ảnh và tệp đã gửi được xóa. Nhắn NOP HO SO để bắt đầu lại."


def cancel_or_answer(form: Form, spec: FieldSpec) -> str:
    """A bare ``HUY`` while a name or an address is asked: a command, or her answer?"""
    return (
        "Ông/Bà muốn hủy hồ sơ đang khai? Xin nhắn HUY HO SO để hủy.\n"
        "Nếu «Huy» là câu trả lời, xin viết đầy đủ hơn (ví dụ cả họ và tên).\n"
        + ask_field(form, spec)
    )


def nothing_to_cancel() -> str:
    """Not used by the engine itself: the desk's ``HUY`` keeps its meaning without a draft."""
    return "Ông/Bà không có hồ sơ nào đang khai."


def confirmed(submission_id: str, form: Form) -> str:
    """The dossier has gone to the centre: its submission id."""
    return (
        f"Đã gửi hồ sơ «{form.name}» tới Trung tâm Phục vụ hành chính công. "
        f"Mã nộp hồ sơ: {submission_id}. Khi cán bộ tiếp nhận, Ông/Bà sẽ nhận mã hồ sơ và "
        "các thông báo tiếp theo tại đây."
    )


def reminder(form: Form | None) -> str:
    """The one reminder when she has gone quiet."""
    what = f"hồ sơ «{form.name}»" if form else "hồ sơ"
    return (
        f"Ông/Bà đang khai {what} còn dang dở. Xin trả lời câu hỏi trên để tiếp tục, "
        "hoặc nhắn HUY để hủy."
    )


def expired(form: Form | None) -> str:
    """The conversation was dropped after too long without an answer."""
    what = f"hồ sơ «{form.name}»" if form else "hồ sơ"
    return (
        f"Đã quá lâu không có trả lời nên {what} đang khai đã được hủy và các ảnh, tệp đã gửi "
        "được xóa. Nhắn NOP HO SO để bắt đầu lại."
    )
