"""Zalo OA webhook events: check their signature and age, and read what the bridge needs."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "SIGNATURE_HEADER",
    "InboundAttachment",
    "OaEvent",
    "SignatureKeys",
    "WebhookRejectedError",
    "check_age",
    "parse_oa_event",
    "verify_signature",
]

SIGNATURE_HEADER = "x-zevent-signature"
"""``X-ZEvent-Signature`` (zalo-oa-api.md §7.2), lower-cased as ASGI gives header names."""

_VARIANTS = {
    "app_id_oa_secret_key": ("app_id", "oa_secret_key"),
    "oa_id_oa_secret_key": ("oa_id", "oa_secret_key"),
    "app_id_app_secret": ("app_id", "app_secret"),
    "oa_id_app_secret": ("oa_id", "app_secret"),
}


class WebhookRejectedError(Exception):
    """The request is not a genuine, fresh OA event; ``status`` is the HTTP answer."""

    def __init__(self, status: int, why: str) -> None:
        super().__init__(why)
        self.status = status
        self.why = why


@dataclass(frozen=True, slots=True)
class SignatureKeys:
    """The ids and secrets the signed string may be built from."""

    app_id: str | None
    oa_id: str | None
    oa_secret_key: str | None
    app_secret: str | None = None
    variant: str = "app_id_oa_secret_key"

    def candidates(self) -> list[tuple[str, str, str]]:
        """(name, first term, secret) for every formula the variant allows."""
        names = list(_VARIANTS) if self.variant == "any" else [self.variant]
        found = []
        for name in names:
            first_name, secret_name = _VARIANTS[name]
            first = getattr(self, first_name)
            secret = getattr(self, secret_name)
            if first and secret:
                found.append((name, first, secret))
        return found


_MAX_TIMESTAMP_DIGITS = 15
"""Epoch milliseconds have 13 digits until the year 2286; 15 reach the year 33658."""
_MAX_INT_DIGITS = 32
"""Longer integers anywhere in a body are refused before Python converts them (CPU time)."""
_MAX_ID_CHARS = 128
"""Zalo's user and message ids are a few dozen characters."""
_MAX_MESSAGE_IDS = 100
"""A receipt names the messages received or seen at once: a handful."""
_SIGNATURE = re.compile(r"[0-9a-f]{64}")
_PHONE_ID = re.compile(r"(?:\+?84|0)[35789][0-9]{8}")
"""A Vietnamese mobile number (84…, +84…, 0…): what a ZNS receipt's ``recipient.id`` holds.
Zalo user ids are 16-19 digits, so the two never meet."""


def _timestamp(document: dict[str, Any]) -> str:
    """The body's ``timestamp`` as ASCII digits (an ``int``, or a string of digits).

    ``str.isdigit`` alone accepts ``"²"`` and other Unicode digits that ``int`` refuses or reads
    differently, so only ASCII digits pass, and at most ``_MAX_TIMESTAMP_DIGITS`` of them.
    """
    value = document.get("timestamp")
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        value = str(value)
    if (
        isinstance(value, str)
        and 0 < len(value) <= _MAX_TIMESTAMP_DIGITS
        and value.isascii()
        and value.isdigit()
    ):
        return value
    raise WebhookRejectedError(400, "timestamp missing or not epoch milliseconds")


def _bounded_int(text: str) -> int:
    if len(text) > _MAX_INT_DIGITS:
        raise ValueError("integer too long")
    return int(text)


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def _document(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object; anything else is a 400, whatever the bytes.

    Refused: bytes that are not UTF-8, text that is not JSON, ``NaN``/``Infinity``, integers of
    more than ``_MAX_INT_DIGITS`` digits, nesting deeper than the decoder's recursion limit, and
    any JSON value that is not an object.
    """
    try:
        document = json.loads(
            raw.decode("utf-8"), parse_int=_bounded_int, parse_constant=_no_constant
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # JSONDecodeError: ValueError
        raise WebhookRejectedError(400, "body is not JSON") from exc
    if not isinstance(document, dict):
        raise WebhookRejectedError(400, "body is not a JSON object")
    return document


def _signature(header: str | None) -> str:
    """The header's hex digest, lower case, without ``mac=``; 401 when missing or malformed."""
    signature = (header or "").strip()
    if signature[:4].lower() == "mac=":
        signature = signature[4:]
    signature = signature.lower()
    if not signature:
        raise WebhookRejectedError(401, "no signature")
    if not _SIGNATURE.fullmatch(signature):
        raise WebhookRejectedError(401, "signature malformed")
    return signature


def verify_signature(raw: bytes, header: str | None, keys: SignatureKeys) -> str:
    """Check ``X-ZEvent-Signature`` = sha256(first term + raw body + timestamp + secret).

    A plain SHA-256, lowercase hex, optionally prefixed ``mac=``; ``timestamp`` is the body's
    field (zalo-oa-api.md §7.2).

    Returns:
        The name of the formula that matched (to narrow ``signature_variant`` down later).

    Raises:
        WebhookRejectedError: 400 for a body that is not a JSON object with a timestamp, 401 for
            a missing, malformed (not 64 hex digits) or wrong signature.
    """
    document = _document(raw)
    timestamp = _timestamp(document)
    signature = _signature(header).encode()
    body = raw.decode("utf-8")
    for name, first, secret in keys.candidates():
        expected = hashlib.sha256((first + body + timestamp + secret).encode()).hexdigest()
        if hmac.compare_digest(expected.encode(), signature):
            return name
    raise WebhookRejectedError(401, "signature does not match")


def check_age(raw: bytes, *, now: float, max_age: float) -> float:
    """Refuse an event whose timestamp is more than ``max_age`` seconds from ``now``.

    Returns:
        The event's time, epoch seconds.
    """
    at = int(_timestamp(_document(raw))) / 1000
    if max_age > 0 and abs(now - at) > max_age:
        raise WebhookRejectedError(403, "timestamp outside the accepted window")
    return at


@dataclass(frozen=True, slots=True)
class InboundAttachment:
    """A photo or file a citizen sent (``user_send_image``/``user_send_file``), by its URL.

    ``name`` and ``size`` are what Zalo says (a file's name, a size as text or a number): hints,
    never trusted; the URL expires (zalo-oa-api-2 §2.2).
    """

    kind: str
    url: str
    name: str | None = None
    size: int | None = None


@dataclass(frozen=True, slots=True)
class OaEvent:
    """One OA event reduced to what the bridge acts on.

    ``dedupe_key`` is ``msg_id`` for messages, event name + message id for receipts, and event
    name + user + timestamp for follows (they carry no msg_id).
    """

    name: str
    user_id: str | None
    at: float
    dedupe_key: str
    text: str | None = None
    message_ids: tuple[str, ...] = ()
    phone: str | None = None
    """A receipt of a template sent by phone (ZNS) names the phone in ``recipient.id``, not a
    user: it is kept here, never as ``user_id`` (zalo-oa-api-2 §2, ZNS receipts)."""
    attachments: tuple[InboundAttachment, ...] = ()
    """The photos and files of a ``user_send_image``/``user_send_file`` (at most a few)."""


def _plain(value: Any, what: str, limit: int = _MAX_ID_CHARS) -> str | None:
    """An id as text: a string or integer of printable characters; 400 when it is not."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise WebhookRejectedError(400, f"{what} is not a string")
    text = str(value)
    if not text:
        return None
    if len(text) > limit or not text.isprintable():  # lone surrogates are not printable
        raise WebhookRejectedError(400, f"{what} malformed")
    return text


def _id(value: Any, what: str) -> str | None:
    return _plain(value.get("id"), what) if isinstance(value, dict) else None


def _readable(text: Any) -> str | None:
    """A message text that can be encoded (a lone surrogate becomes ``?``)."""
    if not isinstance(text, str):
        return None
    return text.encode("utf-8", "replace").decode("utf-8")


def _message_ids(message: dict[str, Any]) -> list[str]:
    """``msg_id``, then the ``msg_ids`` of a receipt (strings or integers)."""
    ids: list[str] = []
    single = message.get("msg_id")
    if isinstance(single, str) and single:
        ids.append(_plain(single, "msg_id") or "")
    many = message.get("msg_ids")
    if isinstance(many, list):
        if len(many) > _MAX_MESSAGE_IDS:
            raise WebhookRejectedError(400, "too many msg_ids")
        for item in many:
            if isinstance(item, str | int) and not isinstance(item, bool):
                found = _plain(item, "msg_ids")
                if found:
                    ids.append(found)
    return ids


_MAX_ATTACHMENTS = 10
_MAX_URL_CHARS = 2_048


def _attachments(message: dict[str, Any]) -> tuple[InboundAttachment, ...]:
    """The image and file attachments with an http(s) URL; anything else is left out."""
    found: list[InboundAttachment] = []
    items = message.get("attachments")
    if not isinstance(items, list):
        return ()
    for item in items[:_MAX_ATTACHMENTS]:
        kind = item.get("type") if isinstance(item, dict) else None
        if not isinstance(kind, str) or kind not in {"image", "file"}:
            continue
        payload = item.get("payload")
        url = payload.get("url") if isinstance(payload, dict) else None
        if not isinstance(url, str) or len(url) > _MAX_URL_CHARS or not url.isprintable():
            continue
        if not url.startswith(("https://", "http://")):
            continue
        assert isinstance(payload, dict)  # noqa: S101 - narrowed above, for mypy
        name = payload.get("name")
        size = payload.get("size")
        size_number = int(size) if isinstance(size, str) and size.isdigit() else size
        found.append(
            InboundAttachment(
                kind=kind,
                url=url,
                name=name[:255] if isinstance(name, str) and name.isprintable() else None,
                size=size_number
                if isinstance(size_number, int)
                and not isinstance(size_number, bool)
                and size_number >= 0
                else None,
            )
        )
    return tuple(found)


def parse_oa_event(raw: bytes) -> OaEvent:
    """Read a verified webhook body (zalo-oa-api.md §7.3).

    ``follow``/``unfollow`` name the user in ``follower.id``; ``user_send_*`` in ``sender.id``;
    the OA's own messages and receipts in ``recipient.id``. Ids and the event name must be short
    printable text (400 otherwise): they become keys in the store.
    """
    document = _document(raw)
    name = _plain(document.get("event_name"), "event_name", limit=64)
    if name is None:
        raise WebhookRejectedError(400, "event_name missing")
    timestamp = _timestamp(document)
    message = document.get("message") if isinstance(document.get("message"), dict) else {}
    assert isinstance(message, dict)  # noqa: S101 - narrowed just above, for mypy
    if name in {"follow", "unfollow"}:
        user = _id(document.get("follower"), "follower.id")
    elif name.startswith("user_send_") or name == "user_submit_info":
        user = _id(document.get("sender"), "sender.id")
    else:
        user = _id(document.get("recipient"), "recipient.id")
    phone = None
    if user is not None and _PHONE_ID.fullmatch(user):
        phone, user = user, None  # a ZNS receipt by phone: the phone is no user id
    ids = _message_ids(message)
    if name.startswith("user_send_") and ids:
        key = f"msg:{ids[0]}"
    elif ids:
        key = f"{name}:{','.join(ids)}"
    else:
        key = f"{name}:{'phone' if phone else user}:{timestamp}"
    return OaEvent(
        name=name,
        user_id=user,
        at=int(timestamp) / 1000,
        dedupe_key=key,
        text=_readable(message.get("text")),
        message_ids=tuple(ids),
        phone=phone,
        attachments=_attachments(message) if name.startswith("user_send_") else (),
    )
