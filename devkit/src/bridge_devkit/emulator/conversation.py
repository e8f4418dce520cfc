"""The conversation read `GET /v2.0/oa/conversation`: what the OA sent one user, newest first.

The reference (§8) lists `GET /v2.0/oa/conversation?data={"user_id":…,"offset":0,"count":10}`
as VERIFIED but does not document the answer; the shape below is our assumption (UNCERTAIN):

    {"data": [{"src": 0, "time": <epoch ms>, "sent_time": "HH:MM:SS dd/MM/yyyy",
               "from_id": <oa_id>, "to_id": <user_id>, "message_id": "…", "type": "text",
               "message": "<text>"}, …],
     "error": 0, "message": "Success"}

The rules, in order (the first that fails decides):

1. `access_token` header missing or unknown → -216; known but expired or revoked → -220;
2. the per-app minute budget is used up → -32 (reads use the same budget as sends);
3. `data` missing or not a JSON object → -201 `data is invalid!`; `user_id` not a non-empty
   string, `offset` not an integer >= 0, or `count` not an integer >= 1 → -201 naming the field;
   `count` above 10 → -210;
4. otherwise the messages the emulator *accepted* for that user (src 0: sent by the OA), newest
   first, `offset` and `count` applied. An unknown user or one without messages gets `[]`.

Every read is appended to the read log (not the message log).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Final

from bridge_devkit.emulator.calls import ApiReply, rate_headers
from bridge_devkit.emulator.codes import ERROR_MESSAGES, ZaloCode, invalid_field_message
from bridge_devkit.emulator.faults import DropFault, ErrorFault, HttpFault
from bridge_devkit.emulator.message_log import MessageRecord, ReadRecord, RecordFilter
from bridge_devkit.emulator.tokens import TokenStatus
from bridge_devkit.emulator.validation import Violation

if TYPE_CHECKING:
    from bridge_devkit.emulator.calls import IncomingCall
    from bridge_devkit.emulator.faults import Fault
    from bridge_devkit.emulator.ratelimit import RateDecision
    from bridge_devkit.emulator.state import EmulatorState

__all__ = [
    "CONVERSATION_PATH",
    "MAX_CONVERSATION_COUNT",
    "ConversationQuery",
    "conversation_item",
    "format_sent_time",
    "parse_conversation_query",
    "peek_query_user_id",
    "read_conversation",
    "reject_read_with_fault",
]

CONVERSATION_PATH = "/v2.0/oa/conversation"
"""The conversation endpoint on `openapi.zalo.me` (reference §8)."""

MAX_CONVERSATION_COUNT: Final = 10
"""The largest `count` a read may ask for; more gives -210."""

DEFAULT_CONVERSATION_COUNT: Final = 10
"""The `count` of a read that gives none."""

_VIETNAM = timezone(timedelta(hours=7), "ICT")  # Asia/Ho_Chi_Minh has had no DST since 1975


@dataclass(frozen=True, slots=True)
class ConversationQuery:
    """A valid `data` parameter of a conversation read."""

    user_id: str
    offset: int
    count: int


def peek_query_user_id(body: object) -> str | None:
    """Return `user_id` of a decoded `data` parameter if it is a string, for fault matching."""
    if isinstance(body, dict):
        user_id = body.get("user_id")
        if isinstance(user_id, str):
            return user_id
    return None


def parse_conversation_query(body: object) -> ConversationQuery | Violation:
    """Check a decoded `data` parameter and return the query or the violation."""
    if not isinstance(body, dict):
        return _invalid("data")
    user_id = body.get("user_id")
    if not isinstance(user_id, str) or not user_id:
        return _invalid("user_id")
    offset = body.get("offset", 0)
    if not _is_int(offset) or offset < 0:
        return _invalid("offset")
    count = body.get("count", DEFAULT_CONVERSATION_COUNT)
    if not _is_int(count) or count < 1:
        return _invalid("count")
    if count > MAX_CONVERSATION_COUNT:
        code = ZaloCode.PARAMETER_TOO_LONG
        return Violation(code=code, message=ERROR_MESSAGES[code])
    return ConversationQuery(user_id=user_id, offset=offset, count=count)


def format_sent_time(epoch_s: float) -> str:
    """Format epoch seconds as `HH:MM:SS dd/MM/yyyy` in Vietnam time (an assumption)."""
    return datetime.fromtimestamp(epoch_s, _VIETNAM).strftime("%H:%M:%S %d/%m/%Y")


def conversation_item(record: MessageRecord, oa_id: str) -> dict[str, object]:
    """Show one accepted message as an item of the conversation."""
    return {
        "src": 0,
        "time": int(record.received_at * 1000),
        "sent_time": format_sent_time(record.received_at),
        "from_id": oa_id,
        "to_id": record.user_id,
        "message_id": record.message_id,
        "type": "template" if record.template_id is not None else _message_type(record.body),
        "message": record.text or "",
    }


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
    query = parse_conversation_query(call.body)
    if isinstance(query, Violation):
        return _reject(state, call, query, rate, fault)
    accepted = state.messages.query(user_id=query.user_id, which=RecordFilter.ACCEPTED)
    newest_first = accepted[::-1][query.offset : query.offset + query.count]
    items = [conversation_item(record, state.config.oa_id) for record in newest_first]
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


def _message_type(body: object) -> str:
    # "text" for a plain text; the attachment's type ("template", "file") otherwise.
    if isinstance(body, dict):
        message = body.get("message")
        if isinstance(message, dict):
            attachment = message.get("attachment")
            if isinstance(attachment, dict) and isinstance(attachment.get("type"), str):
                return str(attachment["type"])
    return "text"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _invalid(field: str) -> Violation:
    return Violation(code=int(ZaloCode.INVALID_PARAMETER), message=invalid_field_message(field))
