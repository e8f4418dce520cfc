"""The OA profile read `GET /v2.0/oa/getoa`: the Official Account's own information.

The reference (§8) lists the endpoint as VERIFIED and names the fields of its answer (`oaid`,
`name`, `is_verified`, `oa_type`, `num_follower`, `package_name`, …); it takes no parameter.
bridge calls it as the cheap probe of its circuit breaker. The rules, in order:

1. `access_token` header missing or unknown → -216; known but expired or revoked → -220;
2. the per-app minute budget is used up → -32 (reads use the same budget as sends);
3. otherwise HTTP 200 with the profile of the emulated OA (`oa_type` 4, a Government OA).

Faults apply as to every Zalo endpoint (a fault naming no endpoint matches it too; the call has
no recipient, so a fault naming a `user_id` does not). Every call is appended to the read log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from bridge_devkit.emulator.calls import ApiReply, rate_headers
from bridge_devkit.emulator.codes import ERROR_MESSAGES, ZaloCode
from bridge_devkit.emulator.faults import DropFault, ErrorFault, HttpFault
from bridge_devkit.emulator.message_log import ReadRecord
from bridge_devkit.emulator.tokens import TokenStatus
from bridge_devkit.emulator.validation import Violation

if TYPE_CHECKING:
    from bridge_devkit.emulator.calls import IncomingCall
    from bridge_devkit.emulator.faults import Fault
    from bridge_devkit.emulator.ratelimit import RateDecision
    from bridge_devkit.emulator.state import EmulatorState

__all__ = ["OA_INFO_PATH", "oa_profile", "read_oa_info", "reject_oa_info_with_fault"]

OA_INFO_PATH: Final = "/v2.0/oa/getoa"
"""The OA information endpoint on `openapi.zalo.me` (reference §8)."""

GOVERNMENT_OA: Final = 4
"""`oa_type` of a Government OA (2 is a Business OA; reference §1.5)."""


def oa_profile(state: EmulatorState) -> dict[str, object]:
    """The `data` of a successful answer: the emulated OA as Zalo describes an OA."""
    return {
        "oaid": state.config.oa_id,
        "name": "Trung tâm Phục vụ hành chính công (emulator)",
        "description": "Zalo OA emulator",
        "is_verified": True,
        "oa_type": GOVERNMENT_OA,
        "num_follower": sum(1 for f in state.followers.all() if f.is_follower),
        "package_name": "",
        "package_valid_through_date": "",
        "linked_zca": None,
    }


def read_oa_info(state: EmulatorState, call: IncomingCall, fault: Fault | None = None) -> ApiReply:
    """Apply the rules to an OA profile read, log it, and return Zalo's answer.

    Args:
        state: The emulator state; the read is counted, checked and logged there.
        call: The incoming call (no body: the read has no parameter).
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
    _record(state, call, error=0, http_status=200, fault=fault)
    return ApiReply(
        status=200,
        payload={"data": oa_profile(state), "error": 0, "message": "Success"},
        headers=rate_headers(rate),
    )


def reject_oa_info_with_fault(
    state: EmulatorState, call: IncomingCall, fault: Fault
) -> ApiReply | None:
    """Log an OA profile read answered by an injected fault; return the answer (None: drop).

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


def _reject(
    state: EmulatorState,
    call: IncomingCall,
    violation: Violation,
    rate: RateDecision,
    fault: Fault | None,
) -> ApiReply:
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
    state.reads.append(
        ReadRecord(
            seq=state.reads.next_seq(),
            endpoint=call.endpoint,
            received_at=call.now,
            user_id=None,
            offset=None,
            count=None,
            returned=0,
            error=error,
            http_status=http_status,
            fault=None if fault is None else fault.kind,
        )
    )
