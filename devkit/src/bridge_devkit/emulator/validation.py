"""Checks of a consultation (`/message/cs`) request body, with the Zalo error each fault gets.

Accepted shapes (reference §3.2): `{"recipient": {"user_id": str}, "message": {...}}` where the
message has a `text`, an `attachment`, or both (the text is then a caption):

* `attachment.type == "template"` with `payload.template_type` `media` (one element with
  `media_type` image/gif/sticker and exactly one of `url` / `attachment_id`) or
  `request_user_info` (one element with a `title`);
* `attachment.type == "file"` with `payload.token`.

Malformed fields give -201 "<field> is invalid!" naming the JSON path of the field; a text
over the limit or more than one template element gives -210; another template type gives -233.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final

from bridge_devkit.emulator.codes import ERROR_MESSAGES, ZaloCode, invalid_field_message

__all__ = [
    "NOT_JSON",
    "CsMessage",
    "NotJson",
    "Violation",
    "decode_json",
    "peek_text",
    "peek_user_id",
    "validate_cs_body",
]


class NotJson:
    """The type of `NOT_JSON`, the marker of a body that is not JSON."""

    __slots__ = ()


NOT_JSON: Final = NotJson()
"""What `decode_json` returns for a body that is not valid UTF-8 JSON."""


@dataclass(frozen=True, slots=True)
class Violation:
    """A request the Zalo rules refuse: the error code and Zalo's message for it."""

    code: int
    message: str


@dataclass(frozen=True, slots=True)
class CsMessage:
    """The parts of a valid consultation request the rules need."""

    user_id: str
    text: str | None


_MEDIA_TYPES: Final = frozenset({"image", "gif", "sticker"})
_SINGLE_ELEMENT_TEMPLATES: Final = frozenset({"media", "request_user_info"})


def decode_json(raw: bytes) -> object:
    """Parse `raw` as JSON, returning `NOT_JSON` when it is not."""
    try:
        return json.loads(raw)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
        return NOT_JSON


def peek_user_id(body: object) -> str | None:
    """Return `recipient.user_id` of `body` if it is a string, for matching and logging."""
    if isinstance(body, dict):
        recipient = body.get("recipient")
        if isinstance(recipient, dict):
            user_id = recipient.get("user_id")
            if isinstance(user_id, str):
                return user_id
    return None


def peek_text(body: object) -> str | None:
    """Return `message.text` of `body` if it is a string, for logging."""
    if isinstance(body, dict):
        message = body.get("message")
        if isinstance(message, dict):
            text = message.get("text")
            if isinstance(text, str):
                return text
    return None


def validate_cs_body(body: object, *, max_text_length: int) -> CsMessage | Violation:
    """Check a decoded `/message/cs` body and return its useful parts or the violation."""
    try:
        return _parse_cs_body(body, max_text_length)
    except _RuleError as exc:
        return exc.violation


class _RuleError(Exception):
    def __init__(self, violation: Violation) -> None:
        super().__init__(violation.message)
        self.violation = violation


def _parse_cs_body(body: object, max_text_length: int) -> CsMessage:
    fields = _object(body, "body")
    recipient = _object(fields.get("recipient"), "recipient")
    user_id = _text(recipient.get("user_id"), "recipient.user_id")
    message = _object(fields.get("message"), "message")
    if message.get("quote_message_id") is not None:
        _text(message["quote_message_id"], "message.quote_message_id")
    text = message.get("text")
    if text is not None and not isinstance(text, str):
        raise _invalid("message.text")
    attachment = message.get("attachment")
    if attachment is not None:
        _check_attachment(attachment)
    elif text is None or not text.strip():
        raise _invalid("message.text")
    if text is not None and len(text) > max_text_length:
        raise _too_long()
    return CsMessage(user_id=user_id, text=text)


def _check_attachment(attachment: object) -> None:
    fields = _object(attachment, "message.attachment")
    kind = fields.get("type")
    if kind not in {"template", "file"}:
        raise _invalid("message.attachment.type")
    payload = _object(fields.get("payload"), "message.attachment.payload")
    if kind == "file":
        _text(payload.get("token"), "message.attachment.payload.token")
        return
    template_type = _text(payload.get("template_type"), "message.attachment.payload.template_type")
    if template_type not in _SINGLE_ELEMENT_TEMPLATES:
        code = ZaloCode.MESSAGE_TYPE_NOT_SUPPORTED
        raise _RuleError(Violation(code=code, message=ERROR_MESSAGES[code]))
    elements = payload.get("elements")
    if not isinstance(elements, list) or not elements:
        raise _invalid("message.attachment.payload.elements")
    if len(elements) > 1:
        raise _too_long()
    element = _object(elements[0], "message.attachment.payload.elements")
    if template_type == "request_user_info":
        _text(element.get("title"), "message.attachment.payload.elements.title")
        return
    if element.get("media_type") not in _MEDIA_TYPES:
        raise _invalid("message.attachment.payload.elements.media_type")
    sources = [element.get("url"), element.get("attachment_id")]
    if sum(isinstance(source, str) and bool(source) for source in sources) != 1:
        raise _invalid("message.attachment.payload.elements.url")


def _object(value: object, field: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise _invalid(field)
    return value


def _text(value: object, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise _invalid(field)
    return value


def _invalid(field: str) -> _RuleError:
    code = ZaloCode.INVALID_PARAMETER
    return _RuleError(Violation(code=code, message=invalid_field_message(field)))


def _too_long() -> _RuleError:
    code = ZaloCode.PARAMETER_TOO_LONG
    return _RuleError(Violation(code=code, message=ERROR_MESSAGES[code]))
