"""ZBS template messages (reference §3.1, §10): by UID on the OA API, by phone on the ZNS host.

`POST /v3.0/oa/message/template` (`openapi.zalo.me`, UNCERTAIN endpoint) sends an approved
template to a follower: `{"user_id", "template_id", "template_data"}`. The rules, in order:

1. `access_token` missing or unknown → -216; expired or revoked → -220;
2. the per-app minute budget is used up → -32 (the OA API bucket, as for `/message/cs`);
3. the body is malformed → -201 naming the field (`user_id`, `template_id`, `template_data`);
   an unknown template → -201 `template_id is invalid!`;
4. the template does not allow sending by UID → -249;
5. `template_data` does not fit the template: empty, a missing or unknown parameter, or a value
   that is not a string or number → -201 (`template_data.<name> is invalid!`); too long → -210;
6. the user is unknown or has unfollowed → -213 (the 7-day interaction window does NOT apply);
7. otherwise accepted: `data = {"message_id", "user_id", "sent_time"}`.

`POST /message/template` (`business.openapi.zalo.me`) sends it to a phone number:
`{"phone", "template_id", "template_data", "tracking_id"}`. It is outside the OA API budget and
answers with the ZNS codes (all UNCERTAIN except where the reference says VERIFIED):

1. `access_token` missing, unknown, expired or revoked → -124 (configurable);
2. the body is not a JSON object → -112 `body is invalid`;
3. `phone` not `84` + 9 digits (`+84…`, `0…` and bare 9-digit numbers are normalised to
   `84…`, part 2 §5.2) → -108;
4. `template_id` missing or unknown → -109;
5. `template_data` missing or empty → -111; not an object, a missing or unknown parameter, or a
   bad value → -112; a value longer than the parameter's maximum → -1121;
6. `tracking_id` missing, not a string or longer than 48 characters → -112;
7. `mode: "development"` (part 2 §5.3): a phone that is not one of `admin_phones` → -127
   (UNCERTAIN code), the development quota used up → -126; another `mode` → -112;
8. the phone has no Zalo account (a configured set) → -118;
9. the daily quota (per Vietnam calendar day) is used up → -144 (development sends do not
   count against it);
10. otherwise accepted: `data = {"msg_id", "sent_time", "sending_mode": "1",
   "quota": {"dailyQuota", "remainingQuota"}}`.

Every call is recorded in the message log with its template fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bridge_devkit.emulator.calls import ApiReply, rate_headers
from bridge_devkit.emulator.chat_log import ChatEntry
from bridge_devkit.emulator.clock import to_epoch_ms
from bridge_devkit.emulator.codes import ERROR_MESSAGES, ZaloCode, invalid_field_message
from bridge_devkit.emulator.faults import DropFault, ErrorFault, HttpFault
from bridge_devkit.emulator.message_log import MessageRecord
from bridge_devkit.emulator.template_store import (
    MAX_TRACKING_ID_LENGTH,
    TEMPLATE_PHONE_PATH,
    TEMPLATE_UID_PATH,
    ZNS_MESSAGES,
    Template,
    TemplateParam,
    ZnsCode,
    normalise_phone,
)
from bridge_devkit.emulator.tokens import TokenStatus
from bridge_devkit.emulator.validation import NotJson, Violation

if TYPE_CHECKING:
    from bridge_devkit.emulator.calls import IncomingCall
    from bridge_devkit.emulator.faults import Fault
    from bridge_devkit.emulator.ratelimit import RateDecision
    from bridge_devkit.emulator.state import EmulatorState

__all__ = [
    "peek_template_recipient",
    "reject_template_with_fault",
    "send_template_by_phone",
    "send_template_by_uid",
]


def peek_template_recipient(body: object) -> str | None:
    """Return the `user_id`, or the (normalised) `phone`, of a template call for fault matching."""
    if not isinstance(body, dict):
        return None
    user_id = body.get("user_id")
    if isinstance(user_id, str):
        return user_id
    phone = body.get("phone")
    if isinstance(phone, str):
        return normalise_phone(phone) or phone
    return None


@dataclass(frozen=True, slots=True)
class _Fields:
    """The template fields of a call, as far as they can be read, for the log."""

    user_id: str | None
    phone: str | None
    template_id: str | None
    template_data: object
    tracking_id: str | None
    mode: str | None

    @classmethod
    def peek(cls, body: object) -> _Fields:
        if not isinstance(body, dict):
            return cls(None, None, None, None, None, None)
        user_id, phone, tracking_id = (body.get(k) for k in ("user_id", "phone", "tracking_id"))
        data = body.get("template_data")
        return cls(
            user_id=user_id if isinstance(user_id, str) else None,
            phone=(normalise_phone(phone) or phone) if isinstance(phone, str) else None,
            template_id=_template_id(body.get("template_id")),
            template_data=data if isinstance(data, dict) else None,
            tracking_id=tracking_id if isinstance(tracking_id, str) else None,
            mode=mode if isinstance(mode := body.get("mode"), str) else None,
        )


@dataclass(frozen=True, slots=True)
class _DataProblem:
    """Why `template_data` does not fit: `not_object`, `empty`, `param` or `too_long`."""

    kind: str
    param: str | None = None

    @property
    def field_name(self) -> str:
        return "template_data" if self.param is None else f"template_data.{self.param}"


def send_template_by_uid(
    state: EmulatorState, call: IncomingCall, fault: Fault | None = None
) -> ApiReply:
    """Apply the rules to a `/v3.0/oa/message/template` call, log it, and return the answer."""
    now = call.now
    token_status = state.tokens.check(call.access_token, now)
    if token_status is not TokenStatus.VALID:
        code = (
            ZaloCode.TOKEN_INVALID
            if token_status is TokenStatus.UNKNOWN
            else ZaloCode.TOKEN_EXPIRED
        )
        return _reject(state, call, _oa_violation(code), fault, state.rate_limiter.peek(now))
    rate = state.rate_limiter.hit(now)
    if not rate.allowed:
        return _reject(state, call, _oa_violation(ZaloCode.RATE_LIMITED), fault, rate)
    parsed = _parse_uid_body(state, call.body)
    if isinstance(parsed, Violation):
        return _reject(state, call, parsed, fault, rate)
    user_id, template = parsed
    follower = state.followers.get(user_id)
    if follower is None or not follower.is_follower:
        return _reject(state, call, _oa_violation(ZaloCode.NOT_FOLLOWER), fault, rate)
    message_id = state.new_message_id()
    sent_time = to_epoch_ms(now)
    _record(
        state,
        call,
        error=0,
        http_status=200,
        fault=fault,
        message_id=message_id,
        sent_time=sent_time,
        template_id=template.template_id,
    )
    state.chats.append(
        ChatEntry(
            seq=state.chats.next_seq(),
            at=now,
            user_id=user_id,
            src=0,
            message_id=message_id,
            type="template",
        )
    )
    data: dict[str, object] = {"message_id": message_id, "user_id": user_id, "sent_time": sent_time}
    return ApiReply(
        status=200,
        payload={"data": data, "error": 0, "message": "Success"},
        headers=rate_headers(rate),
    )


def send_template_by_phone(  # noqa: PLR0911 - one return per rule, in order
    state: EmulatorState, call: IncomingCall, fault: Fault | None = None
) -> ApiReply:
    """Apply the rules to a `/message/template` (by phone) call, log it, and return the answer."""
    now = call.now
    store = state.templates
    if state.tokens.check(call.access_token, now) is not TokenStatus.VALID:
        code = store.settings.token_error
        violation = Violation(code=code, message=ZNS_MESSAGES.get(code, "Access token is invalid"))
        return _reject(state, call, violation, fault)
    parsed = _parse_phone_body(state, call.body)
    if isinstance(parsed, Violation):
        return _reject(state, call, parsed, fault)
    phone, template, development = parsed
    if development and phone not in store.settings.admin_phones:
        return _reject(state, call, _zns_violation(ZnsCode.NOT_AN_ADMIN), fault)
    if phone in store.settings.phones_without_account:
        return _reject(state, call, _zns_violation(ZnsCode.NO_ZALO_ACCOUNT), fault)
    if development:
        if store.dev_left(now) == 0:
            return _reject(state, call, _zns_violation(ZnsCode.DEV_QUOTA_EXCEEDED), fault)
        store.count_dev(now)
    else:
        if store.remaining(now) <= 0:
            return _reject(state, call, _zns_violation(ZnsCode.DAILY_QUOTA_EXCEEDED), fault)
        store.count_sent(now)
    message_id = state.new_message_id()
    sent_time = to_epoch_ms(now)
    _record(
        state,
        call,
        error=0,
        http_status=200,
        fault=fault,
        message_id=message_id,
        sent_time=sent_time,
        template_id=template.template_id,
    )
    data: dict[str, object] = {
        "msg_id": message_id,
        "sent_time": sent_time,
        "sending_mode": "1",
        "quota": {
            "dailyQuota": str(store.settings.daily_quota),
            "remainingQuota": str(store.remaining(now)),
        },
    }
    return ApiReply(
        status=200, payload={"error": 0, "message": "Success", "data": data}, headers={}
    )


def reject_template_with_fault(
    state: EmulatorState, call: IncomingCall, fault: Fault
) -> ApiReply | None:
    """Log a template call answered by an injected fault; return the answer (None for a drop).

    Raises:
        ValueError: For a delay fault, which does not replace the answer.
    """
    if isinstance(fault, ErrorFault):
        violation = Violation(code=fault.code, message=fault.message)
        rate = state.rate_limiter.peek(call.now) if call.endpoint == TEMPLATE_UID_PATH else None
        return _reject(state, call, violation, fault, rate)
    if isinstance(fault, HttpFault):
        _record(state, call, error=None, http_status=fault.status, fault=fault)
        return ApiReply(status=fault.status, payload=fault.body, headers={})
    if isinstance(fault, DropFault):
        _record(state, call, error=None, http_status=None, fault=fault)
        return None
    raise ValueError("a delay fault does not replace the answer")


class _Refused(Exception):  # noqa: N818 - a rule outcome, not an error of the emulator
    """A template call the rules refuse, with the violation to answer."""

    def __init__(self, violation: Violation) -> None:
        super().__init__(violation.message)
        self.violation = violation


def _parse_uid_body(state: EmulatorState, body: object) -> tuple[str, Template] | Violation:
    try:
        return _uid_fields(state, body)
    except _Refused as refused:
        return refused.violation


def _parse_phone_body(state: EmulatorState, body: object) -> tuple[str, Template, bool] | Violation:
    try:
        return _phone_fields(state, body)
    except _Refused as refused:
        return refused.violation


def _uid_fields(state: EmulatorState, body: object) -> tuple[str, Template]:
    fields = _object(body, _invalid_field("body"))
    user_id = fields.get("user_id")
    if not isinstance(user_id, str) or not user_id:
        raise _Refused(_invalid_field("user_id"))
    template = _known_template(state, fields, _invalid_field("template_id"))
    if not template.allow_uid:
        raise _Refused(_oa_violation(ZaloCode.TEMPLATE_NOT_FOR_UID))
    problem = _check_data(template, fields.get("template_data"))
    if problem is not None:
        if problem.kind == "too_long":
            raise _Refused(_oa_violation(ZaloCode.PARAMETER_TOO_LONG))
        raise _Refused(_invalid_field(problem.field_name))
    return user_id, template


def _phone_fields(state: EmulatorState, body: object) -> tuple[str, Template, bool]:
    fields = _object(body, _zns_violation(ZnsCode.INVALID_TEMPLATE_DATA, "body is invalid"))
    raw_phone = fields.get("phone")
    phone = normalise_phone(raw_phone) if isinstance(raw_phone, str) else None
    if phone is None:
        raise _Refused(_zns_violation(ZnsCode.INVALID_PHONE))
    template = _known_template(state, fields, _zns_violation(ZnsCode.INVALID_TEMPLATE_ID))
    problem = _check_data(template, fields.get("template_data"))
    if problem is not None:
        raise _Refused(_zns_data_violation(problem))
    tracking_id = fields.get("tracking_id")
    if not isinstance(tracking_id, str) or not 0 < len(tracking_id) <= MAX_TRACKING_ID_LENGTH:
        raise _Refused(_zns_violation(ZnsCode.INVALID_TEMPLATE_DATA, "tracking_id is invalid"))
    mode = fields.get("mode")
    if mode is not None and mode != "development":  # the only documented mode (part 2 §5.3)
        raise _Refused(_zns_violation(ZnsCode.INVALID_TEMPLATE_DATA, "mode is invalid"))
    return phone, template, mode == "development"


def _object(body: object, violation: Violation) -> dict[str, object]:
    if not isinstance(body, dict):
        raise _Refused(violation)
    return body


def _known_template(
    state: EmulatorState, fields: dict[str, object], violation: Violation
) -> Template:
    template_id = _template_id(fields.get("template_id"))
    template = None if template_id is None else state.templates.get(template_id)
    if template is None:
        raise _Refused(violation)
    return template


def _zns_data_violation(problem: _DataProblem) -> Violation:
    if problem.kind == "empty":
        return _zns_violation(ZnsCode.EMPTY_TEMPLATE_DATA)
    if problem.kind == "too_long":
        message = f"{ZNS_MESSAGES[ZnsCode.PARAMETER_TOO_LONG]}: {problem.param}"
        return _zns_violation(ZnsCode.PARAMETER_TOO_LONG, message)
    return _zns_violation(ZnsCode.INVALID_TEMPLATE_DATA, f"{problem.field_name} is invalid")


def _check_data(template: Template, data: object) -> _DataProblem | None:
    if data is None or data == {}:
        return _DataProblem("empty")
    if not isinstance(data, dict):
        return _DataProblem("not_object")
    known = {param.name for param in template.params}
    unknown = next((name for name in data if name not in known), None)
    if unknown is not None:
        return _DataProblem("param", unknown)
    for param in template.params:
        problem = _check_value(param, data.get(param.name))
        if problem is not None:
            return problem
    return None


def _check_value(param: TemplateParam, value: object) -> _DataProblem | None:
    if value is None:
        return _DataProblem("param", param.name) if param.required else None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return _DataProblem("param", param.name)
    text = str(value)
    if param.required and not text.strip():
        return _DataProblem("param", param.name)
    if len(text) > param.max_length:
        return _DataProblem("too_long", param.name)
    return None


def _template_id(value: object) -> str | None:
    # Template ids are strings; a JSON integer is taken as its decimal text (UNCERTAIN).
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _oa_violation(code: ZaloCode) -> Violation:
    return Violation(code=int(code), message=ERROR_MESSAGES[code])


def _zns_violation(code: ZnsCode, message: str | None = None) -> Violation:
    return Violation(code=int(code), message=message or ZNS_MESSAGES[code])


def _invalid_field(field_name: str) -> Violation:
    return Violation(
        code=int(ZaloCode.INVALID_PARAMETER), message=invalid_field_message(field_name)
    )


def _reject(
    state: EmulatorState,
    call: IncomingCall,
    violation: Violation,
    fault: Fault | None,
    rate: RateDecision | None = None,
) -> ApiReply:
    if call.endpoint == TEMPLATE_UID_PATH and not isinstance(fault, ErrorFault):
        violation = state.overridden(violation)
    _record(state, call, error=violation.code, http_status=200, fault=fault)
    return ApiReply(
        status=200,
        payload={"error": violation.code, "message": violation.message},
        headers={} if rate is None else rate_headers(rate),
    )


def _record(  # noqa: PLR0913 - one keyword per field of the record
    state: EmulatorState,
    call: IncomingCall,
    *,
    error: int | None,
    http_status: int | None,
    fault: Fault | None,
    message_id: str | None = None,
    sent_time: str | None = None,
    template_id: str | None = None,
) -> None:
    not_json = isinstance(call.body, NotJson)
    fields = _Fields.peek(call.body)
    state.messages.append(
        MessageRecord(
            seq=state.messages.next_seq(),
            endpoint=call.endpoint,
            received_at=call.now,
            body=None if not_json else call.body,
            raw_body=call.raw_body.decode("utf-8", "replace") if not_json else None,
            user_id=fields.user_id if call.endpoint == TEMPLATE_UID_PATH else None,
            text=None,
            error=error,
            http_status=http_status,
            fault=None if fault is None else fault.kind,
            message_id=message_id,
            sent_time=sent_time,
            template_id=template_id or fields.template_id,
            template_data=fields.template_data,
            phone=fields.phone if call.endpoint == TEMPLATE_PHONE_PATH else None,
            tracking_id=fields.tracking_id if call.endpoint == TEMPLATE_PHONE_PATH else None,
            mode=fields.mode if call.endpoint == TEMPLATE_PHONE_PATH else None,
        )
    )
