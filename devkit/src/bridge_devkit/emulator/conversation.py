"""The read-back (part 2 §4): `GET /v2.0/oa/conversation` and `GET /v2.0/oa/listrecentchat`.

`conversation?data={"user_id","offset","count"}` lists one conversation, newest first;
`listrecentchat?data={"offset","count"}` lists the newest message of each conversation, newest
conversation first. `data` is a bare array of items (part 2 §4.2, VERIFIED (code)):

    {"src": 0|1, "time": <epoch ms>, "sent_time": "HH:MM:SS dd/MM/yyyy", "from_id",
     "from_display_name", "from_avatar", "to_id", "to_display_name", "to_avatar",
     "message_id", "type", "message", + "url", "thumb", "description", "links", "location"
     when the message has them}

`src` 1 is user → OA, 0 is OA → user. `type` is `text`, `photo`, `GIF`, `sticker`, `file`,
`link`, `links`, `location`, `voice` (part 2 §4.2), or `template`/`video` where no source names
one (documented choices). The rules, in order (the first that fails decides):

1. `access_token` header missing or unknown → -216; known but expired or revoked → -220;
2. the per-app minute budget is used up → -32 (reads use the same budget as sends);
3. `data` missing or not a JSON object → -201 `data is invalid!`; `user_id` (conversation only)
   not a non-empty string or a non-negative integer (NET sends a number, part 2 §4.1) → -201
   `user_id is invalid!`; `offset` not an integer >= 0 or `count` not an integer >= 1 (either
   may be a JSON number or a string of digits) → -201 naming it; `count` above 10 → -210, or
   answered with 10 when `conversation_count_over_limit` is `clamp` (part 2 §4: unknown);
4. otherwise HTTP 200 with the items; an unknown user or one without messages gets `[]`.

Every read is appended to the read log (not the message log).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Final

from bridge_devkit.emulator.calls import ApiReply, rate_headers
from bridge_devkit.emulator.codes import ERROR_MESSAGES, ZaloCode, invalid_field_message
from bridge_devkit.emulator.faults import DropFault, ErrorFault, HttpFault
from bridge_devkit.emulator.message_log import ReadRecord
from bridge_devkit.emulator.tokens import TokenStatus
from bridge_devkit.emulator.validation import Violation

if TYPE_CHECKING:
    from bridge_devkit.emulator.calls import IncomingCall
    from bridge_devkit.emulator.chat_log import ChatEntry
    from bridge_devkit.emulator.faults import Fault
    from bridge_devkit.emulator.ratelimit import RateDecision
    from bridge_devkit.emulator.state import EmulatorState

__all__ = [
    "CONVERSATION_PATH",
    "MAX_CONVERSATION_COUNT",
    "RECENT_CHATS_PATH",
    "ConversationQuery",
    "conversation_item",
    "format_sent_time",
    "parse_conversation_query",
    "peek_query_user_id",
    "read_conversation",
    "reject_read_with_fault",
]

CONVERSATION_PATH = "/v2.0/oa/conversation"
"""The conversation endpoint on `openapi.zalo.me` (part 1 §8, part 2 §4)."""

RECENT_CHATS_PATH = "/v2.0/oa/listrecentchat"
"""The recent-chats endpoint on `openapi.zalo.me` (part 2 §4.1, VERIFIED (SDK))."""

MAX_CONVERSATION_COUNT: Final = 10
"""The largest `count` a read may ask for; more gives -210."""

DEFAULT_CONVERSATION_COUNT: Final = 10
"""The `count` of a read that gives none."""

_VIETNAM = timezone(timedelta(hours=7), "ICT")  # Asia/Ho_Chi_Minh has had no DST since 1975


@dataclass(frozen=True, slots=True)
class ConversationQuery:
    """A valid `data` parameter of a read (`user_id` is None for `listrecentchat`)."""

    user_id: str | None
    offset: int
    count: int


def peek_query_user_id(body: object) -> str | None:
    """Return `user_id` of a decoded `data` parameter (a number as its digits), for faults."""
    if isinstance(body, dict):
        return _user_id(body.get("user_id"))
    return None


def parse_conversation_query(
    body: object, *, with_user: bool = True, clamp: bool = False
) -> ConversationQuery | Violation:
    """Check a decoded `data` parameter and return the query or the violation."""
    if not isinstance(body, dict):
        return _invalid("data")
    user_id = None
    if with_user:
        user_id = _user_id(body.get("user_id"))
        if user_id is None:
            return _invalid("user_id")
    offset = _integer(body.get("offset", 0))
    if offset is None or offset < 0:
        return _invalid("offset")
    count = _integer(body.get("count", DEFAULT_CONVERSATION_COUNT))
    if count is None or count < 1:
        return _invalid("count")
    if count > MAX_CONVERSATION_COUNT:
        if not clamp:
            code = ZaloCode.PARAMETER_TOO_LONG
            return Violation(code=code, message=ERROR_MESSAGES[code])
        count = MAX_CONVERSATION_COUNT
    return ConversationQuery(user_id=user_id, offset=offset, count=count)


def format_sent_time(epoch_s: float) -> str:
    """Format epoch seconds as `HH:MM:SS dd/MM/yyyy` in Vietnam time (an assumption)."""
    return datetime.fromtimestamp(epoch_s, _VIETNAM).strftime("%H:%M:%S %d/%m/%Y")


def conversation_item(state: EmulatorState, entry: ChatEntry, base_url: str) -> dict[str, object]:
    """Show one message of a conversation as the read-back does."""
    config = state.config
    user = state.followers.get(entry.user_id)
    user_name = "" if user is None else user.display_name
    oa = (config.oa_id, state.settings.oa_name)
    citizen = (entry.user_id, user_name)
    (from_id, from_name), (to_id, to_name) = (citizen, oa) if entry.src == 1 else (oa, citizen)
    item: dict[str, object] = {
        "src": entry.src,
        "time": int(entry.at * 1000),
        "sent_time": format_sent_time(entry.at),
        "from_id": from_id,
        "from_display_name": from_name,
        "from_avatar": "",
        "to_id": to_id,
        "to_display_name": to_name,
        "to_avatar": "",
        "message_id": entry.message_id,
        "type": entry.type,
        "message": entry.text,
    }
    hosted = None if entry.hosted_key is None else state.attachments.get(entry.hosted_key)
    url = entry.url or (None if hosted is None else base_url + hosted.path())
    if url is not None:
        item["url"] = url
        if entry.thumbnail:
            item["thumb"] = url if hosted is None else base_url + hosted.path(thumbnail=True)
    if entry.description is not None:
        item["description"] = entry.description
    if entry.links:
        item["links"] = [dict(link) for link in entry.links]
    if entry.location is not None:
        item["location"] = entry.location
    return item


def read_conversation(
    state: EmulatorState, call: IncomingCall, fault: Fault | None = None
) -> ApiReply:
    """Apply the rules to a conversation read, log it, and return Zalo's answer.

    Args:
        state: The emulator state; the read is counted, checked and logged there.
        call: The incoming call; its `body` is the decoded `data` query parameter.
        fault: A fault that does not replace the answer (a delay), recorded with the read.

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
        violation = Violation(code=int(code), message=ERROR_MESSAGES[code])
        return _reject(state, call, violation, state.rate_limiter.peek(now), fault)
    rate = state.rate_limiter.hit(now)
    if not rate.allowed:
        code = ZaloCode.RATE_LIMITED
        violation = Violation(code=int(code), message=ERROR_MESSAGES[code])
        return _reject(state, call, violation, rate, fault)
    clamp = state.settings.conversation_count_over_limit == "clamp"
    query = parse_conversation_query(
        call.body, with_user=call.endpoint == CONVERSATION_PATH, clamp=clamp
    )
    if isinstance(query, Violation):
        return _reject(state, call, query, rate, fault)
    if query.user_id is None:
        entries = state.chats.recent_chats()
    else:
        entries = state.chats.newest_first(query.user_id)
    page = entries[query.offset : query.offset + query.count]
    items = [conversation_item(state, entry, call.base_url) for entry in page]
    _record(
        state,
        call,
        query=query,
        returned=len(items),
        error=0,
        http_status=200,
        fault=fault,
    )
    return ApiReply(
        status=200,
        payload={"data": items, "error": 0, "message": "Success"},
        headers=rate_headers(rate),
    )


def reject_read_with_fault(
    state: EmulatorState, call: IncomingCall, fault: Fault
) -> ApiReply | None:
    """Log a read answered by an injected fault; return the answer (None for a drop).

    Raises:
        ValueError: For a delay fault, which does not replace the answer.
    """
    if isinstance(fault, ErrorFault):
        violation = Violation(code=fault.code, message=fault.message)
        return _reject(state, call, violation, state.rate_limiter.peek(call.now), fault)
    if isinstance(fault, HttpFault):
        _record(
            state, call, query=None, returned=0, error=None, http_status=fault.status, fault=fault
        )
        return ApiReply(status=fault.status, payload=fault.body, headers={})
    if isinstance(fault, DropFault):
        _record(state, call, query=None, returned=0, error=None, http_status=None, fault=fault)
        return None
    raise ValueError("a delay fault does not replace the answer")


def _reject(
    state: EmulatorState,
    call: IncomingCall,
    violation: Violation,
    rate: RateDecision,
    fault: Fault | None,
) -> ApiReply:
    if not isinstance(fault, ErrorFault):
        violation = state.overridden(violation)
    _record(state, call, query=None, returned=0, error=violation.code, http_status=200, fault=fault)
    return ApiReply(
        status=200,
        payload={"error": violation.code, "message": violation.message},
        headers=rate_headers(rate),
    )


def _record(  # noqa: PLR0913 - one keyword per field of the record
    state: EmulatorState,
    call: IncomingCall,
    *,
    query: ConversationQuery | None,
    returned: int,
    error: int | None,
    http_status: int | None,
    fault: Fault | None,
) -> None:
    state.reads.append(
        ReadRecord(
            seq=state.reads.next_seq(),
            endpoint=call.endpoint,
            received_at=call.now,
            user_id=query.user_id if query is not None else peek_query_user_id(call.body),
            offset=None if query is None else query.offset,
            count=None if query is None else query.count,
            returned=returned,
            error=error,
            http_status=http_status,
            fault=None if fault is None else fault.kind,
        )
    )


def _user_id(value: object) -> str | None:
    # A string, or a JSON integer taken as its digits (NET sends a number, part 2 §4.1).
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    return None


def _integer(value: object) -> int | None:
    # A JSON integer or a string of digits ("0", "10"): both forms are seen in clients.
    if _is_int(value):
        return value  # type: ignore[return-value]
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _invalid(field: str) -> Violation:
    return Violation(code=int(ZaloCode.INVALID_PARAMETER), message=invalid_field_message(field))
