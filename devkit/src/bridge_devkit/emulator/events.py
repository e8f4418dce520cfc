"""OA events an emulated user causes (part 1 §7.3, part 2 §2): payloads and effects on users.

The payloads follow the references' samples:

* `user_send_text`: `{"app_id", "sender": {"id": <user>}, "recipient": {"id": <oa>},
  "user_id_by_app", "event_name", "message": {"text", "msg_id"}, "timestamp"}`;
* `user_send_image|gif|file|link|location|sticker|audio|video|business_card` (part 2 §2.2):
  the same envelope with `"message": {"msg_id", "attachments": [{"type", "payload"}], "text"?}`
  (the text is a caption, if any). The payload per type is that of part 2 §2.2: image and GIF
  `{url, thumbnail}`; file `{url, name, size, checksum, type}`; link `{url, thumbnail,
  description, title?}`; location `{coordinates: {latitude, longitude}}`; sticker `{url, id}`;
  audio `{url}`; video and business card `{url, thumbnail, description}`. The bytes are served by
  the emulator's file host (`attachments`), whose URLs expire;
* `user_submit_info` (part 2 §2.3): the envelope without `message`, with `"info": {"name",
  "phone", "address", "ward", "district", "city"}` (flat, three codebases) or, with
  `info_shape: full_address` (SPEC), `{"name", "phone", "user_dob", "gender", "full_address":
  {"user_city", "user_ward", "user_address"}}`. By default it needs an accepted
  `request_user_info` message to the user first (the user taps "share" on that card);
* `follow` / `unfollow`: `{"oa_id", "follower": {"id": <user>}, "user_id_by_app", "event_name",
  "source", "app_id", "timestamp"}`;
* `user_received_message`: `{"app_id", "sender": {"id": <oa>}, "recipient": {"id": <user>},
  "user_id_by_app", "event_name", "message": {"msg_id"}, "timestamp"}`, one event per message
  (UNCERTAIN); for a template message by phone, the ZNS receipt (part 2 §5.1, VERIFIED (doc))
  `{"app_id", "event_name", "sender": {"id": <oa>}, "recipient": {"id": "84…"}, "message":
  {"msg_id", "tracking_id", "delivery_time"}, "timestamp"}` with the header
  `X-ZEvent-Server: ZNS`: the recipient is the **phone number**;
* `user_seen_message`: the same with `"message": {"msg_ids": [...]}`.

A button tap (`tap`, part 2 §6.1, §2.4): an `oa.query.show` / `oa.query.hide` button sends its
payload as a `user_send_text` (UNCERTAIN but consistent); an `oa.open.*` button sends nothing.

`timestamp` is the epoch milliseconds as a string; a user's `msg_id` is unique (20 hex). Sending
anything, tapping a query button, sharing info or following counts as an interaction (it moves
the user's `last_interaction_at`); following makes the user a follower, unfollowing makes them
not one. A user unknown to the OA who sends something becomes a known non-follower. What users
send joins their conversation (read back by `conversation` and `listrecentchat`).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from bridge_devkit.emulator import media
from bridge_devkit.emulator.chat_log import ChatEntry
from bridge_devkit.emulator.clock import to_epoch_ms
from bridge_devkit.emulator.followers import Follower
from bridge_devkit.emulator.message_log import RecordFilter
from bridge_devkit.emulator.template_store import TEMPLATE_PHONE_PATH

if TYPE_CHECKING:
    from collections.abc import Mapping

    from bridge_devkit.emulator.attachments import HostedFile
    from bridge_devkit.emulator.message_log import MessageRecord
    from bridge_devkit.emulator.state import EmulatorState
    from bridge_devkit.emulator.validation import Button
    from bridge_devkit.emulator.webhook import WebhookEvent

__all__ = [
    "ATTACHMENT_EVENTS",
    "EVENT_NAMES",
    "AttachmentSpec",
    "EventSpec",
    "TapResult",
    "emit_events",
    "receipt_for",
    "tap",
    "user_id_by_app",
]

ATTACHMENT_EVENTS: Final = {
    "user_send_image": "image",
    "user_send_gif": "gif",
    "user_send_file": "file",
    "user_send_link": "link",
    "user_send_location": "location",
    "user_send_sticker": "sticker",
    "user_send_audio": "audio",
    "user_send_video": "video",
    "user_send_business_card": "business_card",
}
"""The user → OA events with an attachment, and its `type` (part 2 §2.2)."""

EVENT_NAMES: Final = (
    "user_send_text",
    *ATTACHMENT_EVENTS,
    "user_submit_info",
    "follow",
    "unfollow",
    "user_received_message",
    "user_seen_message",
)
"""The events the emulator can produce."""

_READ_BACK_TYPES: Final = {
    "image": "photo",
    "gif": "GIF",
    "file": "file",
    "link": "link",
    "location": "location",
    "sticker": "sticker",
    "audio": "voice",
    "video": "video",
    "business_card": "link",
}
_DEFAULT_FILES: Final = {
    "image": ("jpeg", "anh.jpg"),
    "gif": ("gif", "anh.gif"),
    "file": ("pdf", "tai-lieu.pdf"),
    "sticker": ("png", "sticker.png"),
    "audio": ("bytes", "ghi-am.aac"),
    "video": ("bytes", "video.mp4"),
}

ZNS_SERVER_HEADER: Final = {"X-ZEvent-Server": "ZNS"}
"""The extra header of ZNS events (reference §7.3, UNCERTAIN)."""


@dataclass(frozen=True, slots=True)
class EventSpec:
    """What an emulated user did (`POST /_emulator/events`).

    Attributes:
        event_name: One of `EVENT_NAMES`.
        user_id: The user (for a receipt, taken from the message when not given).
        text: The text a `user_send_text` carries.
        msg_ids: The OA messages a receipt is about (default: the user's newest accepted one).
        source: The `source` of a follow/unfollow.
        display_name: The name given to a user the event makes known.
        user_id_by_app: Overrides the derived app-scoped id.
        timestamp: Overrides the event time (epoch ms string).
        attachment: What a `user_send_*` event with an attachment carries.
        info: What a `user_submit_info` shares (`name`, `phone`, `address`, `ward`, `district`,
            `city`, `user_dob`, `gender`).
        info_shape: `flat` (default) or `full_address` (part 2 §2.3).
        force: Send `user_submit_info` even if no `request_user_info` was sent to the user.
        base_url: The scheme and host for the URLs of hosted files.
    """

    event_name: str
    user_id: str | None = None
    text: str | None = None
    msg_ids: tuple[str, ...] = ()
    source: str = "oa_profile"
    display_name: str = ""
    user_id_by_app: str | None = None
    timestamp: str | None = None
    attachment: AttachmentSpec | None = None
    info: Mapping[str, str] | None = None
    info_shape: str = "flat"
    force: bool = False
    base_url: str = ""


@dataclass(frozen=True, slots=True)
class AttachmentSpec:
    """The attachment of a `user_send_*` event.

    Attributes:
        data: The file's bytes, served by the emulator (generated per type when neither this
            nor `url` is given).
        url: A URL to put in the payload as is, instead of hosting bytes.
        name: The file name (file events, and the end of the hosted URL).
        content_type: The `Content-Type` the host serves the bytes with.
        thumbnail: The thumbnail URL (default: the host's thumbnail URL, or "" for a link).
        description: For link, video and business card.
        title: For a link (GC reads it; UNCERTAIN).
        latitude: For a location (a decimal string).
        longitude: For a location.
        sticker_id: For a sticker (default: 20 random hex).
        size_as_number: Send a file's `size` as a JSON number, not a string (part 2 §2.2).
        omit: Send the event without `attachments` (GC saw such events; part 2 §2.2).
    """

    data: bytes | None = None
    url: str | None = None
    name: str | None = None
    content_type: str | None = None
    thumbnail: str | None = None
    description: str | None = None
    title: str | None = None
    latitude: str | None = None
    longitude: str | None = None
    sticker_id: str | None = None
    size_as_number: bool = False
    omit: bool = False


@dataclass(frozen=True, slots=True)
class TapResult:
    """A tapped button: the message that carried it, the button, and the events it caused."""

    message_id: str
    index: int
    button: Button
    events: list[WebhookEvent]


def user_id_by_app(app_id: str, user_id: str) -> str:
    """Return a stable, Zalo-looking (19-digit) app-scoped id for `user_id`."""
    digest = hashlib.sha256(f"{app_id}:{user_id}".encode()).digest()
    return str(10**18 + int.from_bytes(digest[:8], "big") % (9 * 10**18))


def emit_events(state: EmulatorState, spec: EventSpec, now: float) -> list[WebhookEvent]:
    """Apply what the user did to the followers and queue the resulting event(s).

    Raises:
        ValueError: If the spec lacks what its event needs.
    """
    name = spec.event_name
    if name not in EVENT_NAMES:
        raise ValueError(f"event_name must be one of {', '.join(EVENT_NAMES)}")
    if name in {"user_received_message", "user_seen_message"}:
        return _receipts(state, spec, now)
    if not spec.user_id:
        raise ValueError(f"{name} needs a user_id")
    user_id = spec.user_id
    timestamp = spec.timestamp or to_epoch_ms(now)
    uba = spec.user_id_by_app or user_id_by_app(state.config.app_id, user_id)
    config = state.config
    payload: dict[str, object]
    if name == "user_send_text":
        if not spec.text:
            raise ValueError("user_send_text needs a text")
        return [_user_text(state, user_id, spec.text, spec, now)]
    if name in ATTACHMENT_EVENTS:
        return [_user_attachment(state, spec, user_id, now)]
    if name == "user_submit_info":
        return [_submit_info(state, spec, user_id, now)]
    if name == "follow":
        _interact(state, user_id, spec.display_name, now, follow=True)
    else:
        _unfollow(state, user_id)
    payload = {
        "oa_id": config.oa_id,
        "follower": {"id": user_id},
        "user_id_by_app": uba,
        "event_name": name,
        "source": spec.source,
        "app_id": config.app_id,
        "timestamp": timestamp,
    }
    return [state.webhook.add(payload, now, user_id=user_id)]


def receipt_for(state: EmulatorState, record: MessageRecord, now: float) -> WebhookEvent | None:
    """Queue the automatic `user_received_message` of an accepted message, if configured."""
    settings = state.webhook.settings
    if not settings.auto_receipts or not settings.active or record.message_id is None:
        return None
    if record.mode == "development" and not state.templates.settings.dev_mode_receipts:
        return None
    return _receipt(state, record, record.user_id, None, now, delay_s=settings.receipt_delay_s)


def _receipts(state: EmulatorState, spec: EventSpec, now: float) -> list[WebhookEvent]:
    records: list[MessageRecord | str] = []
    if spec.msg_ids:
        records = [state.messages.find(msg_id) or msg_id for msg_id in spec.msg_ids]
    elif spec.user_id:
        accepted = state.messages.query(user_id=spec.user_id, which=RecordFilter.ACCEPTED)
        if not accepted:
            raise ValueError(f"no accepted message to user {spec.user_id}: give msg_ids")
        records = [accepted[-1]]
    else:
        raise ValueError(f"{spec.event_name} needs msg_ids or a user_id")
    if spec.event_name == "user_received_message":
        events = []
        for item in records:
            user_id = spec.user_id or (item.user_id if not isinstance(item, str) else None)
            if isinstance(item, str) and user_id is None:
                raise ValueError(f"unknown msg_id {item}: give a user_id")
            events.append(_receipt(state, item, user_id, spec, now))
        return events
    user_id = spec.user_id or next(
        (item.user_id for item in records if not isinstance(item, str) and item.user_id), None
    )
    if user_id is None:
        raise ValueError("user_seen_message needs a user_id")
    msg_ids = [item if isinstance(item, str) else str(item.message_id) for item in records]
    payload = _oa_to_user(
        state,
        user_id=user_id,
        name="user_seen_message",
        message={"msg_ids": msg_ids},
        spec=spec,
        at=now,
    )
    return [state.webhook.add(payload, now, user_id=user_id)]


def _receipt(  # noqa: PLR0913 - the message, its user, the overrides, the time and the delay
    state: EmulatorState,
    item: MessageRecord | str,
    user_id: str | None,
    spec: EventSpec | None,
    now: float,
    *,
    delay_s: float = 0.0,
) -> WebhookEvent:
    name = "user_received_message"
    if isinstance(item, str):
        message: dict[str, object] = {"msg_id": item}
    elif item.endpoint == TEMPLATE_PHONE_PATH:
        # The ZNS receipt (part 2 §5.1, VERIFIED (doc)): `recipient.id` is the phone number.
        phone = item.phone or ""
        timestamp = spec.timestamp if spec is not None and spec.timestamp else None
        receipt: dict[str, object] = {
            "app_id": state.config.app_id,
            "event_name": name,
            "sender": {"id": state.config.oa_id},
            "recipient": {"id": phone},
            "message": {
                "msg_id": str(item.message_id),
                "tracking_id": item.tracking_id or "",
                "delivery_time": to_epoch_ms(now + delay_s),
            },
            "timestamp": timestamp or to_epoch_ms(now + delay_s),
        }
        return state.webhook.add(
            receipt, now, user_id=None, delay_s=delay_s, headers=ZNS_SERVER_HEADER
        )
    else:
        message = {"msg_id": str(item.message_id)}
    if user_id is None:
        raise ValueError("user_received_message needs a user_id")
    payload = _oa_to_user(
        state, user_id=user_id, name=name, message=message, spec=spec, at=now + delay_s
    )
    return state.webhook.add(payload, now, user_id=user_id, delay_s=delay_s)


def _oa_to_user(  # noqa: PLR0913 - the parts of one payload
    state: EmulatorState,
    *,
    user_id: str,
    name: str,
    message: dict[str, object],
    spec: EventSpec | None,
    at: float,
) -> dict[str, object]:
    config = state.config
    uba = spec.user_id_by_app if spec is not None and spec.user_id_by_app else None
    timestamp = spec.timestamp if spec is not None and spec.timestamp else None
    return {
        "app_id": config.app_id,
        "sender": {"id": config.oa_id},
        "recipient": {"id": user_id},
        "user_id_by_app": uba or user_id_by_app(config.app_id, user_id),
        "event_name": name,
        "message": message,
        "timestamp": timestamp or to_epoch_ms(at),
    }


def _interact(
    state: EmulatorState, user_id: str, display_name: str, now: float, *, follow: bool | None
) -> None:
    follower = state.followers.get(user_id)
    if follower is None:
        state.followers.upsert(
            Follower(
                user_id=user_id,
                display_name=display_name,
                last_interaction_at=now,
                is_follower=bool(follow),
            )
        )
        return
    follower.last_interaction_at = now
    if follow is not None:
        follower.is_follower = follow
    if display_name:
        follower.display_name = display_name


def _unfollow(state: EmulatorState, user_id: str) -> None:
    follower = state.followers.get(user_id)
    if follower is not None:
        follower.is_follower = False


def tap(  # noqa: PLR0913 - the user, which button, and the time
    state: EmulatorState,
    user_id: str,
    now: float,
    *,
    message_id: str | None = None,
    index: int | None = None,
    title: str | None = None,
    payload: str | None = None,
) -> TapResult:
    """Tap a button of an accepted message to `user_id` (the newest one with buttons by default).

    The button is chosen by `index`, `title` or `payload` (the first button if none is given).

    Raises:
        ValueError: If there is no such message or button.
    """
    record = _message_with_buttons(state, user_id, message_id)
    chosen = [
        (i, button)
        for i, button in enumerate(record.buttons)
        if (index is None or i == index)
        and (title is None or button.title == title)
        and (payload is None or button.query_text == payload)
    ]
    if not chosen:
        raise ValueError(f"message {record.message_id} has no such button")
    position, button = chosen[0]
    events = []
    text = button.query_text
    if text is not None:
        spec = EventSpec(event_name="user_send_text", user_id=user_id, text=text)
        events.append(_user_text(state, user_id, text, spec, now))
    return TapResult(
        message_id=str(record.message_id), index=position, button=button, events=events
    )


def _message_with_buttons(
    state: EmulatorState, user_id: str, message_id: str | None
) -> MessageRecord:
    accepted = state.messages.query(user_id=user_id, which=RecordFilter.ACCEPTED)
    for record in reversed(accepted):
        if message_id is not None and record.message_id != message_id:
            continue
        if record.buttons:
            return record
        if message_id is not None:
            raise ValueError(f"message {message_id} has no buttons")
    if message_id is not None:
        raise ValueError(f"no accepted message {message_id} to user {user_id}")
    raise ValueError(f"no accepted message with buttons to user {user_id}")


def _user_text(
    state: EmulatorState, user_id: str, text: str, spec: EventSpec, now: float
) -> WebhookEvent:
    _interact(state, user_id, spec.display_name, now, follow=None)
    msg_id = state.new_message_id()
    payload = _user_envelope(state, spec, user_id, now, {"text": text, "msg_id": msg_id})
    _chat(state, user_id, msg_id, "text", now, text=text)
    return state.webhook.add(payload, now, user_id=user_id)


def _user_attachment(
    state: EmulatorState, spec: EventSpec, user_id: str, now: float
) -> WebhookEvent:
    kind = ATTACHMENT_EVENTS[spec.event_name]
    attachment = spec.attachment or AttachmentSpec()
    _interact(state, user_id, spec.display_name, now, follow=None)
    msg_id = state.new_message_id()
    payload, entry = _attachment_payload(
        state, kind, attachment, user_id=user_id, base_url=spec.base_url, now=now
    )
    message: dict[str, object] = {"msg_id": msg_id}
    if spec.text:
        message["text"] = spec.text
    if not attachment.omit:
        message["attachments"] = [{"type": kind, "payload": payload}]
    _chat(state, user_id, msg_id, _READ_BACK_TYPES[kind], now, text=spec.text or "", **entry)
    envelope = _user_envelope(state, spec, user_id, now, message)
    return state.webhook.add(envelope, now, user_id=user_id)


def _attachment_payload(  # noqa: PLR0911, PLR0913 - one return per type; the attachment's parts
    state: EmulatorState,
    kind: str,
    spec: AttachmentSpec,
    *,
    user_id: str,
    base_url: str,
    now: float,
) -> tuple[dict[str, object], dict[str, Any]]:
    """Return the attachment's payload (part 2 §2.2) and the fields of its read-back entry."""
    if kind == "location":
        if spec.latitude is None or spec.longitude is None:
            raise ValueError("user_send_location needs a latitude and a longitude")
        coordinates = {"latitude": spec.latitude, "longitude": spec.longitude}
        located: dict[str, object] = {"coordinates": coordinates}
        return located, {"location": json.dumps(coordinates)}
    if kind in {"link", "business_card"}:
        return _link_payload(kind, spec)
    hosted = _host(state, kind, spec, user_id, now)
    if hosted is None:
        url = spec.url or ""
        entry: dict[str, Any] = {"url": url}
        thumbnail = spec.thumbnail or url
    else:
        url = base_url + hosted.path()
        entry = {"hosted_key": hosted.key, "thumbnail": kind in {"image", "gif"}}
        thumbnail = spec.thumbnail or base_url + hosted.path(thumbnail=True)
    if kind in {"image", "gif"}:
        return {"url": url, "thumbnail": thumbnail}, entry
    if kind == "file":
        return _file_payload(spec, hosted, url), entry
    if kind == "sticker":
        return {"url": url, "id": spec.sticker_id or secrets.token_hex(10)}, entry
    if kind == "audio":
        return {"url": url}, entry
    description = spec.description or ""
    video: dict[str, object] = {"url": url, "thumbnail": thumbnail, "description": description}
    return video, {**entry, "description": description}


def _link_payload(kind: str, spec: AttachmentSpec) -> tuple[dict[str, object], dict[str, Any]]:
    # A business card reads back as a link to https://zalo.me whose description holds the
    # phone (NukeViet's observation, part 2 §2.2).
    if kind == "link" and spec.url is None:
        raise ValueError("user_send_link needs a url")
    url = spec.url or "https://zalo.me"
    thumbnail = spec.thumbnail or ""
    description = spec.description or ""
    payload: dict[str, object] = {"url": url, "thumbnail": thumbnail, "description": description}
    if kind == "link" and spec.title is not None:
        payload["title"] = spec.title
    read_back = {"title": spec.title or "", "url": url, "thumb": thumbnail}
    read_back["description"] = description
    return payload, {"url": url, "description": description, "links": (read_back,)}


def _host(
    state: EmulatorState, kind: str, spec: AttachmentSpec, user_id: str, now: float
) -> HostedFile | None:
    data = spec.data
    if spec.url is not None:
        return None
    name = spec.name
    if data is None:
        generated, default_name = _DEFAULT_FILES[kind]
        data, _ = media.generate(generated)
        name = name or default_name
    name = name or f"{kind}.bin"
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    content_type = spec.content_type or media.CONTENT_TYPES.get(
        extension, "application/octet-stream"
    )
    return state.attachments.add(data, name, content_type, now, user_id=user_id)


def _file_payload(spec: AttachmentSpec, hosted: HostedFile | None, url: str) -> dict[str, object]:
    name = spec.name or (hosted.name if hosted is not None else url.rsplit("/", 1)[-1])
    size = hosted.size if hosted is not None else len(spec.data or b"")
    checksum = hosted.md5 if hosted is not None else ""
    return {
        "url": url,
        "name": name,
        "size": size if spec.size_as_number else str(size),
        "checksum": checksum,
        "type": name.rsplit(".", 1)[-1].lower() if "." in name else "",
    }


def _submit_info(state: EmulatorState, spec: EventSpec, user_id: str, now: float) -> WebhookEvent:
    if not spec.force and not any(
        record.attachment == "request_user_info"
        for record in state.messages.query(user_id=user_id, which=RecordFilter.ACCEPTED)
    ):
        raise ValueError(
            f"no request_user_info message was sent to user {user_id}: send one first, "
            "or give force: true"
        )
    info = {key: value for key, value in (spec.info or {}).items() if value}
    if spec.info_shape == "full_address":
        shared: dict[str, object] = {
            key: info[key] for key in ("name", "phone", "user_dob", "gender") if key in info
        }
        shared["full_address"] = {
            "user_city": info.get("city", ""),
            "user_ward": info.get("ward", ""),
            "user_address": info.get("address", ""),
        }
    else:
        keys = ("name", "phone", "address", "ward", "district", "city")
        shared = {key: info[key] for key in keys if key in info}
    _interact(state, user_id, spec.display_name, now, follow=None)
    follower = state.followers.get(user_id)
    if follower is not None:
        follower.shared_info.update(info)
    config = state.config
    payload: dict[str, object] = {
        "app_id": config.app_id,
        "user_id_by_app": spec.user_id_by_app or user_id_by_app(config.app_id, user_id),
        "event_name": "user_submit_info",
        "sender": {"id": user_id},
        "recipient": {"id": config.oa_id},
        "timestamp": spec.timestamp or to_epoch_ms(now),
        "info": shared,
    }
    return state.webhook.add(payload, now, user_id=user_id)


def _user_envelope(
    state: EmulatorState,
    spec: EventSpec,
    user_id: str,
    now: float,
    message: dict[str, object],
) -> dict[str, object]:
    config = state.config
    return {
        "app_id": config.app_id,
        "sender": {"id": user_id},
        "recipient": {"id": config.oa_id},
        "user_id_by_app": spec.user_id_by_app or user_id_by_app(config.app_id, user_id),
        "event_name": spec.event_name,
        "message": message,
        "timestamp": spec.timestamp or to_epoch_ms(now),
    }


def _chat(
    state: EmulatorState,
    user_id: str,
    message_id: str,
    kind: str,
    now: float,
    **fields: Any,
) -> None:
    state.chats.append(
        ChatEntry(
            seq=state.chats.next_seq(),
            at=now,
            user_id=user_id,
            src=1,
            message_id=message_id,
            type=kind,
            **fields,
        )
    )
