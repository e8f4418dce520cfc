"""Checks of a consultation (`/message/cs`) request body, with the Zalo error each fault gets.

Accepted shapes (part 1 §3.2, part 2 §1.5, §3, §6): `{"recipient": {"user_id": str},
"message": {...}}` where the message has a `text`, an `attachment`, or both (a caption):

* `attachment.type == "template"` with `payload.template_type`:
  * `media`: exactly one element, `media_type` image/gif/sticker and exactly one of `url` /
    `attachment_id` (a sticker needs `attachment_id`; a GIF needs `width` and `height`);
  * `request_user_info`: exactly one element with `title` (≤ 100), `subtitle` (≤ 500) and
    `image_url`;
  * `list`: 1..5 elements with a `title` (and `subtitle`, `image_url`, `default_action`), and
    optional `buttons`;
* `attachment.type == "template"` without `template_type` but with `payload.buttons`: a text
  with buttons (the text is required);
* `attachment.type == "file"` with `payload.token`.

A button is `{"title", "type", "payload", "image_icon"?}` of the five types of part 2 §6.1.
Malformed fields give -201 "<field> is invalid!" naming the JSON path of the field; a text, a
title or a payload over its limit, or too many buttons or list elements give -210; another
template type gives -233. The limits are `CsLimits`.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from bridge_devkit.emulator.codes import ERROR_MESSAGES, ZaloCode, invalid_field_message

__all__ = [
    "BUTTON_TYPES",
    "NOT_JSON",
    "QUERY_BUTTON_TYPES",
    "Button",
    "CsAttachment",
    "CsLimits",
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


BUTTON_TYPES: Final = (
    "oa.query.show",
    "oa.query.hide",
    "oa.open.url",
    "oa.open.phone",
    "oa.open.sms",
)
"""The button (action) types of part 2 §6.1 (VERIFIED (SDK))."""

QUERY_BUTTON_TYPES: Final = frozenset({"oa.query.show", "oa.query.hide"})
"""The buttons whose tap sends their payload to the OA as a user message (part 2 §6.1)."""


@dataclass(frozen=True, slots=True)
class Button:
    """A button of a CS message (part 2 §6.1): `{"title", "type", "payload", "image_icon"}`."""

    title: str
    type: str
    payload: object
    image_icon: str | None = None

    @property
    def query_text(self) -> str | None:
        """The text a tap sends to the OA (`oa.query.*` only)."""
        return self.payload if self.type in QUERY_BUTTON_TYPES else None  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class CsLimits:
    """The limits a CS body is checked against (the UNCERTAIN ones are settings).

    Attributes:
        max_text_length: `message.text` (2,000, part 1 §3.2, VERIFIED (doc)).
        max_buttons: Buttons per message (5, part 2 §6.3, UNCERTAIN) → -210 above.
        max_button_title_length: A button's title (35, SPEC, UNCERTAIN) → -210 above.
        max_query_payload_length: An `oa.query.*` payload (200, part 2 §6.3, UNCERTAIN) → -210.
        max_list_elements: Elements of a `list` template (5, part 2 §6.3, UNCERTAIN) → -210.
        max_request_title_length: `request_user_info` title (100, ESMS, UNCERTAIN) → -210.
        max_request_subtitle_length: its subtitle (500, ESMS, UNCERTAIN) → -210.
        button_templates: Whether text+buttons and `list` templates are accepted on
            `/message/cs` (UNCERTAIN, part 2 §6.2); otherwise -233.
    """

    max_text_length: int = 2000
    max_buttons: int = 5
    max_button_title_length: int = 35
    max_query_payload_length: int = 200
    max_list_elements: int = 5
    max_request_title_length: int = 100
    max_request_subtitle_length: int = 500
    button_templates: bool = True


@dataclass(frozen=True, slots=True)
class CsAttachment:
    """The attachment of a valid CS message.

    Attributes:
        kind: `image`, `gif`, `sticker` (a `media` template), `file`, `request_user_info`,
            `list`, or `buttons` (text + buttons, no `template_type`).
        url: The media URL, if given.
        attachment_id: The uploaded asset or sticker id, if given.
        token: The file token.
        elements: The elements of a `request_user_info` or `list` template.
    """

    kind: str
    url: str | None = None
    attachment_id: str | None = None
    token: str | None = None
    elements: tuple[dict[str, object], ...] = ()


@dataclass(frozen=True, slots=True)
class CsMessage:
    """The parts of a valid consultation request the rules need."""

    user_id: str
    text: str | None
    attachment: CsAttachment | None = None
    buttons: tuple[Button, ...] = ()


_MEDIA_TYPES: Final = frozenset({"image", "gif", "sticker"})
_TEMPLATE_TYPES: Final = frozenset({"media", "request_user_info", "list"})
_ELEMENTS: Final = "message.attachment.payload.elements"
_BUTTONS: Final = "message.attachment.payload.buttons"


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


def validate_cs_body(
    body: object, *, max_text_length: int | None = None, limits: CsLimits | None = None
) -> CsMessage | Violation:
    """Check a decoded `/message/cs` body and return its useful parts or the violation."""
    limits = limits or CsLimits()
    if max_text_length is not None:
        limits = dataclasses.replace(limits, max_text_length=max_text_length)
    try:
        return _parse_cs_body(body, limits)
    except _RuleError as exc:
        return exc.violation


class _RuleError(Exception):
    def __init__(self, violation: Violation) -> None:
        super().__init__(violation.message)
        self.violation = violation


def _parse_cs_body(body: object, limits: CsLimits) -> CsMessage:
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
    parsed: tuple[CsAttachment, tuple[Button, ...]] | None = None
    if attachment is not None:
        parsed = _check_attachment(attachment, limits)
        if parsed[0].kind == "buttons" and (text is None or not text.strip()):
            raise _invalid("message.text")
    elif text is None or not text.strip():
        raise _invalid("message.text")
    if text is not None and len(text) > limits.max_text_length:
        raise _too_long()
    if parsed is None:
        return CsMessage(user_id=user_id, text=text)
    return CsMessage(user_id=user_id, text=text, attachment=parsed[0], buttons=parsed[1])


def _check_attachment(
    attachment: object, limits: CsLimits
) -> tuple[CsAttachment, tuple[Button, ...]]:
    fields = _object(attachment, "message.attachment")
    kind = fields.get("type")
    if kind not in {"template", "file"}:
        raise _invalid("message.attachment.type")
    payload = _object(fields.get("payload"), "message.attachment.payload")
    if kind == "file":
        token = _text(payload.get("token"), "message.attachment.payload.token")
        return CsAttachment(kind="file", token=token), ()
    template_type = payload.get("template_type")
    if template_type is None and "buttons" in payload:
        # Text + buttons (part 2 §6.2): no template_type, the text is the message's text.
        _require_button_templates(limits)
        return CsAttachment(kind="buttons"), _buttons(payload.get("buttons"), _BUTTONS, limits)
    template_type = _text(template_type, "message.attachment.payload.template_type")
    if template_type not in _TEMPLATE_TYPES:
        raise _unsupported()
    elements = payload.get("elements")
    if not isinstance(elements, list) or not elements:
        raise _invalid(_ELEMENTS)
    if template_type == "list":
        _require_button_templates(limits)
        return _list_template(elements, payload, limits)
    if len(elements) > 1:
        # Exactly one element (part 2 §1.5 for media, §3 for request_user_info): -201.
        raise _invalid(_ELEMENTS)
    element = _object(elements[0], _ELEMENTS)
    if template_type == "request_user_info":
        return _request_user_info(element, limits), ()
    return _media(element), ()


def _media(element: dict[str, object]) -> CsAttachment:
    media_type = element.get("media_type")
    if media_type not in _MEDIA_TYPES:
        raise _invalid(f"{_ELEMENTS}.media_type")
    url, attachment_id = element.get("url"), element.get("attachment_id")
    sources = [url, attachment_id]
    if sum(isinstance(source, str) and bool(source) for source in sources) != 1:
        raise _invalid(f"{_ELEMENTS}.url")
    if media_type == "sticker" and not isinstance(attachment_id, str):
        raise _invalid(f"{_ELEMENTS}.attachment_id")
    if media_type == "gif":  # width and height are required for a GIF (SPEC, part 2 §1.5)
        for name in ("width", "height"):
            size = element.get(name)
            if not isinstance(size, int) or isinstance(size, bool) or size < 1:
                raise _invalid(f"{_ELEMENTS}.{name}")
    return CsAttachment(
        kind=str(media_type),
        url=url if isinstance(url, str) and url else None,
        attachment_id=attachment_id if isinstance(attachment_id, str) and attachment_id else None,
    )


def _request_user_info(element: dict[str, object], limits: CsLimits) -> CsAttachment:
    # Part 2 §3: title, subtitle and image_url all present (-201), lengths 100 / 500 (-210).
    title = _text(element.get("title"), f"{_ELEMENTS}.title")
    subtitle = _text(element.get("subtitle"), f"{_ELEMENTS}.subtitle")
    _text(element.get("image_url"), f"{_ELEMENTS}.image_url")
    if (
        len(title) > limits.max_request_title_length
        or len(subtitle) > limits.max_request_subtitle_length
    ):
        raise _too_long()
    return CsAttachment(kind="request_user_info", elements=(dict(element),))


def _list_template(
    elements: list[object], payload: dict[str, object], limits: CsLimits
) -> tuple[CsAttachment, tuple[Button, ...]]:
    if len(elements) > limits.max_list_elements:
        raise _too_long()
    checked = []
    for item in elements:
        element = _object(item, _ELEMENTS)
        _text(element.get("title"), f"{_ELEMENTS}.title")
        for name in ("subtitle", "image_url"):
            if element.get(name) is not None and not isinstance(element.get(name), str):
                raise _invalid(f"{_ELEMENTS}.{name}")
        action = element.get("default_action")
        if action is not None:
            _default_action(action)
        checked.append(dict(element))
    buttons: tuple[Button, ...] = ()
    if payload.get("buttons") is not None:
        buttons = _buttons(payload.get("buttons"), _BUTTONS, limits)
    return CsAttachment(kind="list", elements=tuple(checked)), buttons


def _default_action(action: object) -> None:
    # In a list element, oa.open.url takes `url` beside `type`, without `payload` (part 2 §6.1).
    field = f"{_ELEMENTS}.default_action"
    fields = _object(action, field)
    kind = fields.get("type")
    if kind == "oa.open.url":
        if not _is_http_url(fields.get("url")):
            raise _invalid(f"{field}.url")
    elif kind in BUTTON_TYPES:
        _button_payload(str(kind), fields.get("payload"), f"{field}.payload", None)
    else:
        raise _invalid(f"{field}.type")


def _buttons(value: object, field: str, limits: CsLimits) -> tuple[Button, ...]:
    if not isinstance(value, list) or not value:
        raise _invalid(field)
    if len(value) > limits.max_buttons:
        raise _too_long()
    buttons = []
    for item in value:
        button = _object(item, field)
        title = _text(button.get("title"), f"{field}.title")
        if len(title) > limits.max_button_title_length:
            raise _too_long()
        kind = button.get("type")
        if kind not in BUTTON_TYPES:
            raise _invalid(f"{field}.type")
        payload = _button_payload(
            str(kind), button.get("payload"), f"{field}.payload", limits.max_query_payload_length
        )
        icon = button.get("image_icon")
        if icon is not None and not isinstance(icon, str):
            raise _invalid(f"{field}.image_icon")
        buttons.append(Button(title=title, type=str(kind), payload=payload, image_icon=icon))
    return tuple(buttons)


def _button_payload(kind: str, payload: object, field: str, max_query: int | None) -> object:
    # Part 2 §6.1: a string for oa.query.*, {"url"} for oa.open.url, {"phone_code"} for
    # oa.open.phone, {"phone_code", "content"} for oa.open.sms.
    if kind in QUERY_BUTTON_TYPES:
        text = _text(payload, field)
        if max_query is not None and len(text) > max_query:
            raise _too_long()
        return text
    fields = _object(payload, field)
    if kind == "oa.open.url":
        if not _is_http_url(fields.get("url")):
            raise _invalid(f"{field}.url")
    else:
        _text(fields.get("phone_code"), f"{field}.phone_code")
        if kind == "oa.open.sms":
            _text(fields.get("content"), f"{field}.content")
    return dict(fields)


def _require_button_templates(limits: CsLimits) -> None:
    if not limits.button_templates:
        raise _unsupported()


def _is_http_url(value: object) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in {"http", "https"} and bool(parts.netloc)


def _unsupported() -> _RuleError:
    code = ZaloCode.MESSAGE_TYPE_NOT_SUPPORTED
    return _RuleError(Violation(code=code, message=ERROR_MESSAGES[code]))


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
