"""Zalo OA webhook events: check their signature and age, and read what the bridge needs."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

__all__ = [
    "SIGNATURE_HEADER",
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


def _timestamp(document: dict[str, Any]) -> str:
    value = document.get("timestamp")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.isdigit():
        return value
    raise WebhookRejectedError(400, "timestamp missing or not epoch milliseconds")


def _document(raw: bytes) -> dict[str, Any]:
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WebhookRejectedError(400, "body is not JSON") from exc
    if not isinstance(document, dict):
        raise WebhookRejectedError(400, "body is not a JSON object")
    return document


def verify_signature(raw: bytes, header: str | None, keys: SignatureKeys) -> str:
    """Check ``X-ZEvent-Signature`` = sha256(first term + raw body + timestamp + secret).

    A plain SHA-256, lowercase hex, optionally prefixed ``mac=``; ``timestamp`` is the body's
    field (zalo-oa-api.md §7.2).

    Returns:
        The name of the formula that matched (to narrow ``signature_variant`` down later).

    Raises:
        WebhookRejectedError: 400 for a body that is not a JSON object with a timestamp, 401 for
            a missing or wrong signature.
    """
    document = _document(raw)
    timestamp = _timestamp(document)
    signature = (header or "").strip()
    if signature.lower().startswith("mac="):
        signature = signature[4:]
    signature = signature.lower()
    if not signature:
        raise WebhookRejectedError(401, "no signature")
    body = raw.decode("utf-8")
    for name, first, secret in keys.candidates():
        expected = hashlib.sha256((first + body + timestamp + secret).encode()).hexdigest()
        if hmac.compare_digest(expected, signature):
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


def _id(value: Any) -> str | None:
    if isinstance(value, dict):
        inner = value.get("id")
        if isinstance(inner, str | int) and not isinstance(inner, bool) and str(inner):
            return str(inner)
    return None


def parse_oa_event(raw: bytes) -> OaEvent:
    """Read a verified webhook body (zalo-oa-api.md §7.3).

    ``follow``/``unfollow`` name the user in ``follower.id``; ``user_send_*`` in ``sender.id``;
    the OA's own messages and receipts in ``recipient.id``.
    """
    document = _document(raw)
    name = document.get("event_name")
    if not isinstance(name, str) or not name:
        raise WebhookRejectedError(400, "event_name missing")
    timestamp = _timestamp(document)
    message = document.get("message") if isinstance(document.get("message"), dict) else {}
    assert isinstance(message, dict)  # noqa: S101 - narrowed just above, for mypy
    if name in {"follow", "unfollow"}:
        user = _id(document.get("follower"))
    elif name.startswith("user_send_") or name == "user_submit_info":
        user = _id(document.get("sender"))
    else:
        user = _id(document.get("recipient"))
    ids: list[str] = []
    single = message.get("msg_id")
    if isinstance(single, str) and single:
        ids.append(single)
    many = message.get("msg_ids")
    if isinstance(many, list):
        ids.extend(str(i) for i in many if isinstance(i, str | int) and str(i))
    text = message.get("text")
    if name.startswith("user_send_") and ids:
        key = f"msg:{ids[0]}"
    elif ids:
        key = f"{name}:{','.join(ids)}"
    else:
        key = f"{name}:{user}:{timestamp}"
    return OaEvent(
        name=name,
        user_id=user,
        at=int(timestamp) / 1000,
        dedupe_key=key,
        text=text if isinstance(text, str) else None,
        message_ids=tuple(ids),
    )
