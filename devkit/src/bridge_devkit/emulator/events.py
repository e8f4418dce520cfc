"""OA events an emulated user causes (reference §7.3): their payloads and their effect on followers.

The payloads follow the reference's samples, keys in the same order:

* `user_send_text`: `{"app_id", "sender": {"id": <user>}, "recipient": {"id": <oa>},
  "user_id_by_app", "event_name", "message": {"text", "msg_id"}, "timestamp"}`;
* `follow` / `unfollow`: `{"oa_id", "follower": {"id": <user>}, "user_id_by_app", "event_name",
  "source", "app_id", "timestamp"}`;
* `user_received_message`: `{"app_id", "sender": {"id": <oa>}, "recipient": {"id": <user>},
  "user_id_by_app", "event_name", "message": {"msg_id"}, "timestamp"}`, one event per message
  (UNCERTAIN); for a template message by phone, the ZNS receipt `"message": {"msg_id",
  "delivery_time", "tracking_id"}` with the header `X-ZEvent-Server: ZNS` (UNCERTAIN);
* `user_seen_message`: the same with `"message": {"msg_ids": [...]}`.

`timestamp` is the epoch milliseconds as a string; a user's `msg_id` is unique (20 hex). Sending
a text or following counts as an interaction (it moves the user's `last_interaction_at`);
following makes the user a follower, unfollowing makes them not one. A user unknown to the OA who
sends a text becomes a known non-follower.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from bridge_devkit.emulator.clock import to_epoch_ms
from bridge_devkit.emulator.followers import Follower
from bridge_devkit.emulator.message_log import RecordFilter
from bridge_devkit.emulator.template_store import TEMPLATE_PHONE_PATH

if TYPE_CHECKING:
    from bridge_devkit.emulator.message_log import MessageRecord
    from bridge_devkit.emulator.state import EmulatorState
    from bridge_devkit.emulator.webhook import WebhookEvent

__all__ = [
    "EVENT_NAMES",
    "EventSpec",
    "emit_events",
    "receipt_for",
    "user_id_by_app",
]

EVENT_NAMES: Final = (
    "user_send_text",
    "follow",
    "unfollow",
    "user_received_message",
    "user_seen_message",
)
"""The events the emulator can produce."""

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
    """

    event_name: str
    user_id: str | None = None
    text: str | None = None
    msg_ids: tuple[str, ...] = ()
    source: str = "oa_profile"
    display_name: str = ""
    user_id_by_app: str | None = None
    timestamp: str | None = None


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
        _interact(state, user_id, spec.display_name, now, follow=None)
        payload = {
            "app_id": config.app_id,
            "sender": {"id": user_id},
            "recipient": {"id": config.oa_id},
            "user_id_by_app": uba,
            "event_name": name,
            "message": {"text": spec.text, "msg_id": state.new_message_id()},
            "timestamp": timestamp,
        }
    else:
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
        # A ZNS receipt: the user behind the phone number is not known, so a stable stand-in
        # id derived from the phone is used (UNCERTAIN).
        phone = item.phone or ""
        user_id = user_id or user_id_by_app(f"zns:{state.config.oa_id}", phone)
        message = {
            "msg_id": str(item.message_id),
            "delivery_time": to_epoch_ms(now + delay_s),
            "tracking_id": item.tracking_id or "",
        }
        payload = _oa_to_user(
            state, user_id=user_id, name=name, message=message, spec=spec, at=now + delay_s
        )
        return state.webhook.add(
            payload, now, user_id=user_id, delay_s=delay_s, headers=ZNS_SERVER_HEADER
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
