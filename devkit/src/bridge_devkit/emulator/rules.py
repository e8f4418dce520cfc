"""The Zalo rules for sending a consultation message, applied in Zalo's order, without I/O.

For `POST /v3.0/oa/message/cs` the first failing rule decides the answer:

1. `access_token` header missing or unknown → -216; known but expired or revoked → -220;
2. the per-app minute budget is used up → -32 (only calls with a valid token are counted);
3. the body is malformed → -201 naming the field, -210 over a limit, -233 unsupported template
   (`validation`);
4. an uploaded asset the message names (an image or GIF `attachment_id`, a file `token`) was
   never issued by the matching upload endpoint → `unknown_asset_error` (-201 naming the field,
   UNCERTAIN), or has expired (7 days) → -100 "attachment_id was expired" (part 1 §5 VERIFIED
   (doc), part 2 §1.4);
5. the recipient is unknown or has unfollowed the OA → -213;
6. the last interaction is older than the window (7 days by default) → -230; the window applies
   to every CS message, attachments and `request_user_info` included (part 2 §3);
7. otherwise the message is accepted, recorded with a new `message_id`, and added to the
   user's conversation.

`error_code_overrides` may replace the code a rule answers (e.g. -230 → -305, part 2 §7).

Every call, accepted or not, is appended to the message log. Answers are always HTTP 200 and
carry `X-RateLimit-Limit` / `X-RateLimit-Remain` when the rate limiter is on.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Final

from bridge_devkit.emulator.calls import ApiReply, rate_headers
from bridge_devkit.emulator.chat_log import ChatEntry
from bridge_devkit.emulator.clock import to_epoch_ms
from bridge_devkit.emulator.codes import (
    ERROR_MESSAGES,
    ZaloCode,
    invalid_field_message,
    message_for,
)
from bridge_devkit.emulator.faults import DropFault, ErrorFault, HttpFault
from bridge_devkit.emulator.message_log import MessageRecord
from bridge_devkit.emulator.tokens import TokenStatus
from bridge_devkit.emulator.upload_store import UploadKind
from bridge_devkit.emulator.validation import (
    CsMessage,
    NotJson,
    Violation,
    peek_text,
    peek_user_id,
    validate_cs_body,
)

if TYPE_CHECKING:
    from bridge_devkit.emulator.calls import IncomingCall
    from bridge_devkit.emulator.faults import Fault
    from bridge_devkit.emulator.ratelimit import RateDecision
    from bridge_devkit.emulator.state import EmulatorState
    from bridge_devkit.emulator.upload_store import Upload

__all__ = ["reject_with_fault", "send_consultation"]

_SECONDS_PER_DAY = 86_400.0
_FREE_REPLY_WINDOW_S = 48 * 3_600.0


def send_consultation(  # noqa: PLR0911 - one return per rule, in Zalo's order
    state: EmulatorState, call: IncomingCall, *, fault: Fault | None = None
) -> ApiReply:
    """Apply the rules to a `/message/cs` call, log it, and return Zalo's answer.

    Args:
        state: The emulator state; the call is counted, checked and logged there.
        call: The incoming call.
        fault: A fault that does not replace the answer (a delay), recorded with the call.

    Returns:
        The HTTP 200 answer with Zalo's envelope and the rate-limit headers.
    """
    now = call.now
    token_status = state.tokens.check(call.access_token, now)
    if token_status is not TokenStatus.VALID:
        code = (
            ZaloCode.TOKEN_INVALID
            if token_status is TokenStatus.UNKNOWN
            else ZaloCode.TOKEN_EXPIRED
        )
        return _reject(state, call, _violation(code), state.rate_limiter.peek(now), fault)
    rate = state.rate_limiter.hit(now)
    if not rate.allowed:
        return _reject(state, call, _violation(ZaloCode.RATE_LIMITED), rate, fault)
    parsed = validate_cs_body(call.body, limits=state.settings.cs_limits())
    if isinstance(parsed, Violation):
        return _reject(state, call, parsed, rate, fault)
    asset = _check_asset(state, parsed, now)
    if isinstance(asset, Violation):
        return _reject(state, call, asset, rate, fault)
    follower = state.followers.get(parsed.user_id)
    if follower is None or not follower.is_follower:
        return _reject(state, call, _violation(ZaloCode.NOT_FOLLOWER), rate, fault)
    since_interaction = now - follower.last_interaction_at
    if since_interaction > state.settings.interaction_window_days * _SECONDS_PER_DAY:
        violation = _violation(ZaloCode.OUTSIDE_INTERACTION_WINDOW)
        return _reject(state, call, violation, rate, fault)

    message_id = state.new_message_id()
    sent_time = to_epoch_ms(now)
    data: dict[str, object] = {
        "message_id": message_id,
        "user_id": parsed.user_id,
        "sent_time": sent_time,
    }
    if state.settings.include_quota:
        data["quota"] = _quota(since_interaction)
    attachment = parsed.attachment
    state.messages.append(
        MessageRecord(
            seq=state.messages.next_seq(),
            endpoint=call.endpoint,
            received_at=now,
            body=call.body,
            raw_body=None,
            user_id=parsed.user_id,
            text=parsed.text,
            error=0,
            http_status=200,
            fault=None if fault is None else fault.kind,
            message_id=message_id,
            sent_time=sent_time,
            attachment=None if attachment is None else attachment.kind,
            asset_id=None if asset is None else asset.asset_id,
            buttons=parsed.buttons,
        )
    )
    if asset is not None:
        asset.sends += 1
    state.chats.append(_chat_entry(state, parsed, asset, message_id, now))
    return ApiReply(
        status=200,
        payload={"data": data, "error": 0, "message": "Success"},
        headers=rate_headers(rate),
    )


def reject_with_fault(state: EmulatorState, call: IncomingCall, fault: Fault) -> ApiReply | None:
    """Log a call answered by an injected fault; return the answer (None for a drop).

    An error fault answers HTTP 200 with the Zalo envelope, an HTTP fault answers its status
    with its small body; neither counts against the rate budget. The message is not accepted.

    Raises:
        ValueError: For a delay fault, which does not replace the answer.
    """
    if isinstance(fault, ErrorFault):
        violation = Violation(code=fault.code, message=fault.message)
        return _reject(state, call, violation, state.rate_limiter.peek(call.now), fault)
    if isinstance(fault, HttpFault):
        _record(state, call, error=None, http_status=fault.status, fault=fault)
        return ApiReply(status=fault.status, payload=fault.body, headers={})
    if isinstance(fault, DropFault):
        _record(state, call, error=None, http_status=None, fault=fault)
        return None
    raise ValueError("a delay fault does not replace the answer")


def _violation(code: ZaloCode) -> Violation:
    return Violation(code=int(code), message=ERROR_MESSAGES[code])


def _reject(
    state: EmulatorState,
    call: IncomingCall,
    violation: Violation,
    rate: RateDecision,
    fault: Fault | None,
) -> ApiReply:
    if fault is None or not isinstance(fault, ErrorFault):
        violation = state.overridden(violation)
    _record(state, call, error=violation.code, http_status=200, fault=fault)
    return ApiReply(
        status=200,
        payload={"error": violation.code, "message": violation.message},
        headers=rate_headers(rate),
    )


def _record(
    state: EmulatorState,
    call: IncomingCall,
    *,
    error: int | None,
    http_status: int | None,
    fault: Fault | None,
) -> None:
    not_json = isinstance(call.body, NotJson)
    state.messages.append(
        MessageRecord(
            seq=state.messages.next_seq(),
            endpoint=call.endpoint,
            received_at=call.now,
            body=None if not_json else call.body,
            raw_body=call.raw_body.decode("utf-8", "replace") if not_json else None,
            user_id=peek_user_id(call.body),
            text=peek_text(call.body),
            error=error,
            http_status=http_status,
            fault=None if fault is None else fault.kind,
        )
    )


def _quota(since_interaction: float) -> dict[str, str]:
    # The legacy allowance report (reference §3.5), no longer sent by Zalo after 2026-03-01:
    # "reply" inside the free 48 h window, else "sub_quota"; the counts are placeholders.
    quota_type = "reply" if since_interaction <= _FREE_REPLY_WINDOW_S else "sub_quota"
    return {"quota_type": quota_type, "remain": "8", "total": "8"}


_ASSET_KINDS: Final = {"image": UploadKind.IMAGE, "gif": UploadKind.GIF, "file": UploadKind.FILE}
_ELEMENT: Final = "message.attachment.payload.elements"


def _check_asset(state: EmulatorState, parsed: CsMessage, now: float) -> Upload | Violation | None:
    """Return the uploaded asset the message uses (None if none), or why it cannot be used."""
    attachment = parsed.attachment
    if attachment is None or attachment.kind not in _ASSET_KINDS:
        return None
    if attachment.kind == "file":
        asset_id, field = attachment.token, "message.attachment.payload.token"
    else:
        asset_id, field = attachment.attachment_id, f"{_ELEMENT}.attachment_id"
    if asset_id is None:
        return None  # an image or GIF by URL
    upload = state.uploads.get(asset_id)
    if upload is None or upload.kind is not _ASSET_KINDS[attachment.kind]:
        code = state.uploads.settings.unknown_asset_error
        if code == ZaloCode.INVALID_PARAMETER:
            return Violation(code=code, message=invalid_field_message(field))
        return Violation(code=code, message=message_for(code) or invalid_field_message(field))
    if upload.expired(now):
        return _violation(ZaloCode.ASSET_EXPIRED)
    return upload


_CHAT_TYPES: Final = {"image": "photo", "gif": "GIF", "sticker": "sticker", "file": "file"}


def _chat_entry(
    state: EmulatorState, parsed: CsMessage, asset: Upload | None, message_id: str, now: float
) -> ChatEntry:
    # How a sent message reads back (part 2 §4.2): `photo`/`GIF`/`sticker`/`file` with `url`,
    # `links` for a list; a text with buttons reads as its text, request_user_info as
    # `template` (no source shows either: a documented choice).
    attachment = parsed.attachment
    kind = "text" if attachment is None else attachment.kind
    entry = ChatEntry(
        seq=state.chats.next_seq(),
        at=now,
        user_id=parsed.user_id,
        src=0,
        message_id=message_id,
        type=_CHAT_TYPES.get(kind, "template" if kind == "request_user_info" else "text"),
        text=parsed.text or "",
    )
    if attachment is None:
        return entry
    if kind == "list":
        links = tuple(
            {
                "title": element.get("title"),
                "url": _action_url(element.get("default_action")),
                "thumb": element.get("image_url"),
                "description": element.get("subtitle"),
            }
            for element in attachment.elements
        )
        return dataclasses.replace(entry, type="links", links=links)
    if kind in _CHAT_TYPES:
        return dataclasses.replace(
            entry,
            url=attachment.url,
            hosted_key=None if asset is None else asset.hosted_key,
            thumbnail=kind in {"image", "gif"},
            description=parsed.text if kind in {"image", "gif"} else None,
        )
    return entry


def _action_url(action: object) -> object:
    return action.get("url") if isinstance(action, dict) else None
