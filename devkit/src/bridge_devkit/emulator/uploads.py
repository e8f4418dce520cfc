"""The upload rules (part 2 §1): `POST /v2.0/oa/upload/{image,gif,file}`, multipart field `file`.

The first failing rule decides the answer (always HTTP 200 with Zalo's envelope):

1. `access_token` missing or unknown → -216; expired or revoked → -220;
2. the per-app minute budget is used up → -32 (uploads count like other OA calls: UNCERTAIN,
   part 2 §7.3);
3. no multipart body, no part named `file`, or an empty one → -201 `file is invalid!`
   (part 1 §2: the part is `file`, VERIFIED (SDK));
4. a file name without an extension → error 0 with an empty `data` (what GC saw live,
   UNCERTAIN; `no_extension: reject` answers -201 instead);
5. an extension the endpoint does not take (image: jpg/jpeg/png; gif: gif; file:
   pdf/doc/docx; part 2 §1.2) → -201 `file is invalid!` (part 2 §1 emulator checklist);
6. larger than the endpoint's limit (image 1 MB, GIF and file 5 MB) → -210 (part 2 §1.2, GC);
7. with `check_content`, first bytes that do not match the extension (a PDF named `.jpg`)
   → -201 `file is invalid!` (the emulator's choice: NukeViet checks MIME types, GC says other
   types are "silently rejected");
8. the monthly quota (5,000, UNCERTAIN) is used up → -211 "Out of quota";
9. accepted: image and GIF answer `{"data": {"attachment_id"}}`, file `{"data": {"token"}}`
   (part 2 §1.3; `file_response_key` can make it `attachment_id` or both). The asset is valid
   for `asset_lifetime_s` (7 days).

Every call is noted in the upload log; accepted assets are also served by the file host.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from bridge_devkit.emulator.calls import ApiReply, rate_headers
from bridge_devkit.emulator.codes import ERROR_MESSAGES, ZaloCode, invalid_field_message
from bridge_devkit.emulator.faults import DropFault, ErrorFault, HttpFault
from bridge_devkit.emulator.media import CONTENT_TYPES, sniff
from bridge_devkit.emulator.tokens import TokenStatus
from bridge_devkit.emulator.upload_store import (
    FileResponseKey,
    NoExtension,
    UploadAttempt,
    UploadKind,
)
from bridge_devkit.emulator.validation import Violation

if TYPE_CHECKING:
    from bridge_devkit.emulator.calls import IncomingCall
    from bridge_devkit.emulator.faults import Fault
    from bridge_devkit.emulator.ratelimit import RateDecision
    from bridge_devkit.emulator.state import EmulatorState

__all__ = ["UploadedFile", "reject_upload_with_fault", "upload"]

_SNIFFED: Final = {"jpeg": "jpg"}
"""What `sniff` says for an extension, where it is not the extension itself."""


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """The `file` part of an upload call (the handler's reading of the multipart body).

    Attributes:
        name: The part's file name ("" when it had none).
        content_type: The part's declared content type.
        data: Its bytes.
    """

    name: str
    content_type: str
    data: bytes


def upload(
    state: EmulatorState, call: IncomingCall, fault: Fault | None = None, *, kind: UploadKind
) -> ApiReply:
    """Apply the rules to an upload call, log it, and return Zalo's answer.

    Args:
        state: The emulator state; the upload is counted, checked, stored and logged there.
        call: The call; its `body` is an `UploadedFile`, or anything else for a missing part.
        fault: A fault that does not replace the answer (a delay), noted in the log.
        kind: Which endpoint was called.
    """
    now = call.now
    token_status = state.tokens.check(call.access_token, now)
    if token_status is not TokenStatus.VALID:
        code = (
            ZaloCode.TOKEN_INVALID
            if token_status is TokenStatus.UNKNOWN
            else ZaloCode.TOKEN_EXPIRED
        )
        return _reject(
            state,
            call,
            kind,
            violation=_violation(code),
            rate=state.rate_limiter.peek(now),
            fault=fault,
        )
    rate = state.rate_limiter.hit(now)
    if not rate.allowed:
        return _reject(
            state, call, kind, violation=_violation(ZaloCode.RATE_LIMITED), rate=rate, fault=fault
        )
    checked = _check(state, call.body, kind, now)
    if isinstance(checked, Violation):
        return _reject(state, call, kind, violation=checked, rate=rate, fault=fault)
    file, extension = checked
    if extension is None:
        _log(state, call, kind, error=0, fault=fault)
        return _answer({}, rate)
    stored = state.uploads.add(
        kind=kind,
        name=file.name,
        extension=extension,
        content_type=file.content_type,
        data=file.data,
        now=now,
    )
    hosted = state.attachments.add(
        file.data,
        file.name,
        CONTENT_TYPES.get(extension, "application/octet-stream"),
        now,
        expires_at=stored.expires_at,
    )
    stored.hosted_key = hosted.key
    _log(state, call, kind, error=0, fault=fault, asset_id=stored.asset_id)
    data: dict[str, object]
    if kind is not UploadKind.FILE:
        data = {"attachment_id": stored.asset_id}
    else:
        key = state.uploads.settings.file_response_key
        data = {}
        if key in {FileResponseKey.TOKEN, FileResponseKey.BOTH}:
            data["token"] = stored.asset_id
        if key in {FileResponseKey.ATTACHMENT_ID, FileResponseKey.BOTH}:
            data["attachment_id"] = stored.asset_id
    return _answer(data, rate)


def reject_upload_with_fault(
    state: EmulatorState, call: IncomingCall, fault: Fault, *, kind: UploadKind
) -> ApiReply | None:
    """Log an upload answered by an injected fault; return the answer (None for a drop).

    Raises:
        ValueError: For a delay fault, which does not replace the answer.
    """
    if isinstance(fault, ErrorFault):
        violation = Violation(code=fault.code, message=fault.message)
        return _reject(
            state,
            call,
            kind,
            violation=violation,
            rate=state.rate_limiter.peek(call.now),
            fault=fault,
        )
    if isinstance(fault, HttpFault):
        _log(state, call, kind, error=None, fault=fault)
        return ApiReply(status=fault.status, payload=fault.body, headers={})
    if isinstance(fault, DropFault):
        _log(state, call, kind, error=None, fault=fault)
        return None
    raise ValueError("a delay fault does not replace the answer")


def _check(  # noqa: PLR0911 - one return per rule, in order
    state: EmulatorState, body: object, kind: UploadKind, now: float
) -> tuple[UploadedFile, str | None] | Violation:
    settings = state.uploads.settings
    if not isinstance(body, UploadedFile) or not body.data:
        return _invalid_file()
    name = body.name.rsplit("/", 1)[-1]
    extension = name.rsplit(".", 1)[-1].lower() if "." in name.strip(".") else None
    if extension is None:
        if settings.no_extension is NoExtension.REJECT:
            return _invalid_file()
        return body, None
    if extension not in settings.types(kind):
        return _invalid_file()
    if len(body.data) > settings.max_bytes(kind):
        return _violation(ZaloCode.PARAMETER_TOO_LONG)
    if settings.check_content and sniff(body.data) != _SNIFFED.get(extension, extension):
        return _invalid_file()
    if state.uploads.quota_left(now) == 0:
        return _violation(ZaloCode.OUT_OF_QUOTA)
    return body, extension


def _answer(data: dict[str, object], rate: RateDecision) -> ApiReply:
    return ApiReply(
        status=200,
        payload={"data": data, "error": 0, "message": "Success"},
        headers=rate_headers(rate),
    )


def _reject(  # noqa: PLR0913 - the call, its kind, the answer and the context
    state: EmulatorState,
    call: IncomingCall,
    kind: UploadKind,
    *,
    violation: Violation,
    rate: RateDecision,
    fault: Fault | None,
) -> ApiReply:
    if not isinstance(fault, ErrorFault):
        violation = state.overridden(violation)
    _log(state, call, kind, error=violation.code, fault=fault)
    return ApiReply(
        status=200,
        payload={"error": violation.code, "message": violation.message},
        headers=rate_headers(rate),
    )


def _log(  # noqa: PLR0913 - one keyword per field of the record
    state: EmulatorState,
    call: IncomingCall,
    kind: UploadKind,
    *,
    error: int | None,
    fault: Fault | None,
    asset_id: str | None = None,
) -> None:
    file = call.body if isinstance(call.body, UploadedFile) else None
    state.uploads.log(
        UploadAttempt(
            seq=state.uploads.next_seq(),
            at=call.now,
            kind=kind,
            name=None if file is None else file.name,
            size=None if file is None else len(file.data),
            error=error,
            asset_id=asset_id,
            fault=None if fault is None else fault.kind,
        )
    )


def _violation(code: ZaloCode) -> Violation:
    return Violation(code=int(code), message=ERROR_MESSAGES[code])


def _invalid_file() -> Violation:
    return Violation(code=int(ZaloCode.INVALID_PARAMETER), message=invalid_field_message("file"))
