"""OAuth v4 of the OA (reference §6): PKCE authorization codes, single-use rotating refresh tokens.

`POST /v4/oa/access_token` (host `oauth.zaloapp.com`) takes a form-encoded body and the header
`secret_key: <app secret>`. Every answer is HTTP 200; a failure is the OAuth error body
`{"error", "error_name", "error_reason", "error_description", "ref_doc"}`. The rules, in order
(the first that fails decides):

1. `app_id` missing or not this app's → `invalid_app_id`;
2. `secret_key` header missing or not the app secret → `invalid_secret_key`;
3. `grant_type` missing or neither `authorization_code` nor `refresh_token` → `invalid_parameter`;
4. `authorization_code`: `code` missing → `invalid_parameter`; unknown, already used or older than
   10 minutes → `invalid_code`; `code_verifier` missing, or base64url(sha256(verifier)) without
   padding is not the code's `code_challenge` → `invalid_code_verifier` (a failure does not spend
   the code). Otherwise the code is spent and a new access/refresh pair is issued;
5. `refresh_token`: `refresh_token` missing → `invalid_parameter`; unknown →
   `invalid_refresh_token`; already spent → `refresh_token_reused`; older than 3 months →
   `refresh_token_expired`. Otherwise the refresh token is spent, a new pair is issued, and the
   access token issued together with the spent refresh token is revoked (it then gets -220).

A success is `{"access_token", "refresh_token", "expires_in": "90000"}` (`expires_in` a string).
The numeric codes are UNCERTAIN in the reference, so each `OAuthErrorKind` has a configurable code.
Every refresh attempt, whatever its outcome, goes to the refresh log.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from bridge_devkit.emulator.calls import ApiReply
from bridge_devkit.emulator.faults import DropFault, ErrorFault, HttpFault
from bridge_devkit.emulator.oauth_store import (
    AuthorizationCode,
    OAuthErrorKind,
    RefreshOutcome,
    RefreshTokenSource,
    is_code_challenge,
    new_secret,
    pkce_challenge,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from bridge_devkit.emulator.calls import IncomingCall
    from bridge_devkit.emulator.faults import Fault
    from bridge_devkit.emulator.state import EmulatorState

__all__ = [
    "OAUTH_PERMISSION_PATH",
    "OAUTH_TOKEN_PATH",
    "ConsentRedirect",
    "consent",
    "oauth_error_body",
    "parse_form",
    "reject_token_request_with_fault",
    "request_token",
]

OAUTH_TOKEN_PATH: Final = "/v4/oa/access_token"  # noqa: S105 - a path, not a secret
"""The token endpoint on `oauth.zaloapp.com`."""

OAUTH_PERMISSION_PATH: Final = "/v4/oa/permission"
"""The consent page on `oauth.zaloapp.com` (the OA admin grants the app access there)."""

OAUTH_REF_DOC: Final = (
    "https://developers.zalo.me/docs/official-account/bat-dau/xac-thuc-va-uy-quyen-cho-ung-dung-new"
)
"""The `ref_doc` of the OAuth error bodies."""

_GRANT_TYPES: Final = frozenset({"authorization_code", "refresh_token"})
_ERROR_NAMES: Final[Mapping[OAuthErrorKind, str]] = MappingProxyType(
    {
        OAuthErrorKind.INVALID_PARAMETER: "Invalid parameter",
        OAuthErrorKind.INVALID_APP_ID: "Invalid appId",
        OAuthErrorKind.INVALID_REDIRECT_URI: "Invalid redirect uri",
        OAuthErrorKind.INVALID_SECRET_KEY: "Invalid secret key",
        OAuthErrorKind.INVALID_CODE_CHALLENGE: "Invalid code challenge",
        OAuthErrorKind.INVALID_CODE_VERIFIER: "Invalid code verifier",
        OAuthErrorKind.INVALID_CODE: "Invalid oauth code",
        OAuthErrorKind.INVALID_REFRESH_TOKEN: "Invalid refresh token",
        OAuthErrorKind.REFRESH_TOKEN_REUSED: "Invalid refresh token",
        OAuthErrorKind.REFRESH_TOKEN_EXPIRED: "Refresh token is expired",
    }
)


@dataclass(frozen=True, slots=True)
class ConsentRedirect:
    """A granted consent: where to redirect the browser, with the code it carries."""

    location: str
    code: AuthorizationCode


def parse_form(raw: bytes) -> dict[str, str]:
    """Decode an `application/x-www-form-urlencoded` body; the first value of a name wins."""
    form: dict[str, str] = {}
    for name, value in parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True):
        form.setdefault(name, value)
    return form


def oauth_error_body(code: int, name: str, reason: str) -> dict[str, object]:
    """Return an OAuth error body (sent with HTTP 200)."""
    return {
        "error": code,
        "error_name": name,
        "error_reason": reason,
        "error_description": f"{name}: {reason}",
        "ref_doc": OAUTH_REF_DOC,
    }


def request_token(
    state: EmulatorState,
    call: IncomingCall,
    fault: Fault | None = None,
    *,
    secret_key: str | None,
) -> ApiReply:
    """Apply the rules to a `/v4/oa/access_token` call and return the answer.

    Args:
        state: The emulator state; codes, refresh tokens and access tokens change there.
        call: The call; its `body` is the decoded form (`parse_form`).
        fault: A fault that does not replace the answer (a delay), noted in the refresh log.
        secret_key: The `secret_key` header, None when absent.
    """
    form = call.body if isinstance(call.body, dict) else {}
    grant_type = form.get("grant_type")
    refresh = _Refresh(state, call.now, form.get("refresh_token") or None, fault)
    failure = _check_client(state, form, secret_key)
    if failure is None and grant_type not in _GRANT_TYPES:
        failure = (OAuthErrorKind.INVALID_PARAMETER, "grant_type is invalid")
    if failure is not None:
        kind, reason = failure
        if grant_type == "refresh_token":
            return refresh.fail(RefreshOutcome.REJECTED, kind, reason)
        return _error(state, kind, reason)
    if grant_type == "authorization_code":
        return _exchange_code(state, form, call.now)
    return refresh.run()


def reject_token_request_with_fault(
    state: EmulatorState, call: IncomingCall, fault: Fault
) -> ApiReply | None:
    """Answer a token call with an injected fault (None for a drop); nothing is issued.

    An error fault answers HTTP 200 with an OAuth error body carrying its code. A refresh
    attempt answered by a fault is noted in the refresh log.

    Raises:
        ValueError: For a delay fault, which does not replace the answer.
    """
    if not isinstance(fault, ErrorFault | HttpFault | DropFault):
        raise ValueError("a delay fault does not replace the answer")  # noqa: TRY004 - a value
    form = call.body if isinstance(call.body, dict) else {}
    if form.get("grant_type") == "refresh_token":
        error = fault.code if isinstance(fault, ErrorFault) else None
        state.oauth.log_attempt(
            call.now,
            form.get("refresh_token") or None,
            RefreshOutcome.FAULT,
            error=error,
            fault=fault.kind,
        )
    if isinstance(fault, ErrorFault):
        return ApiReply(
            status=200,
            payload=oauth_error_body(fault.code, fault.message, fault.message),
            headers={},
        )
    if isinstance(fault, HttpFault):
        return ApiReply(status=fault.status, payload=fault.body, headers={})
    return None  # a drop


def consent(
    state: EmulatorState, query: Mapping[str, str], now: float
) -> ConsentRedirect | dict[str, object]:
    """Grant the consent asked by `/v4/oa/permission`, or return the OAuth error body.

    The page needs `app_id` (this app's), an absolute http(s) `redirect_uri` (one of the
    configured ones if any are) and a PKCE `code_challenge`; `state` is passed through.
    """
    if query.get("app_id") != state.config.app_id:
        return _error_body(state, OAuthErrorKind.INVALID_APP_ID, "app_id is invalid")
    redirect_uri = query.get("redirect_uri", "")
    allowed = state.oauth.settings.redirect_uris
    if not _is_http_url(redirect_uri) or (allowed and redirect_uri not in allowed):
        return _error_body(state, OAuthErrorKind.INVALID_REDIRECT_URI, "redirect_uri is invalid")
    challenge = query.get("code_challenge", "")
    if not is_code_challenge(challenge):
        return _error_body(
            state, OAuthErrorKind.INVALID_CODE_CHALLENGE, "code_challenge is invalid"
        )
    code = state.oauth.issue_code(challenge, now, redirect_uri=redirect_uri)
    params = {"code": code.value, "oa_id": state.config.oa_id}
    if query.get("state"):
        params["state"] = query["state"]
    return ConsentRedirect(location=_with_query(redirect_uri, params), code=code)


class _Refresh:
    """One `grant_type=refresh_token` call: runs the rules and notes the attempt."""

    __slots__ = ("_fault", "_now", "_presented", "_state")

    def __init__(
        self, state: EmulatorState, now: float, presented: str | None, fault: Fault | None
    ) -> None:
        self._state = state
        self._now = now
        self._presented = presented
        self._fault = fault

    def run(self) -> ApiReply:
        store = self._state.oauth
        if self._presented is None:
            kind = OAuthErrorKind.INVALID_PARAMETER
            return self.fail(RefreshOutcome.REJECTED, kind, "refresh_token is missing")
        token = store.refresh_token(self._presented)
        if token is None:
            kind = OAuthErrorKind.INVALID_REFRESH_TOKEN
            return self.fail(RefreshOutcome.UNKNOWN, kind, "refresh_token is invalid")
        if token.spent_at is not None:
            kind = OAuthErrorKind.REFRESH_TOKEN_REUSED
            return self.fail(RefreshOutcome.REUSED, kind, "refresh_token has already been used")
        if self._now >= token.expires_at:
            kind = OAuthErrorKind.REFRESH_TOKEN_EXPIRED
            return self.fail(RefreshOutcome.EXPIRED, kind, "refresh_token is expired")
        token.spent_at = self._now
        access, refresh, reply = _issue_pair(self._state, self._now, RefreshTokenSource.REFRESH)
        token.replaced_by = refresh
        if store.settings.revoke_previous_access_token and token.access_token is not None:
            self._state.tokens.revoke(token.access_token)
        store.log_attempt(
            self._now,
            self._presented,
            RefreshOutcome.SUCCESS,
            access_token=access,
            new_refresh_token=refresh,
            fault=self._fault_kind(),
        )
        return reply

    def fail(self, outcome: RefreshOutcome, kind: OAuthErrorKind, reason: str) -> ApiReply:
        reply = _error(self._state, kind, reason)
        self._state.oauth.log_attempt(
            self._now,
            self._presented,
            outcome,
            error=self._state.oauth.error_code(kind),
            fault=self._fault_kind(),
        )
        return reply

    def _fault_kind(self) -> str | None:
        return None if self._fault is None else self._fault.kind


def _check_client(
    state: EmulatorState, form: Mapping[str, str], secret_key: str | None
) -> tuple[OAuthErrorKind, str] | None:
    if form.get("app_id") != state.config.app_id:
        return OAuthErrorKind.INVALID_APP_ID, "app_id is invalid"
    if not secret_key or not secrets.compare_digest(secret_key, state.config.app_secret):
        return OAuthErrorKind.INVALID_SECRET_KEY, "secret_key is invalid"
    return None


def _exchange_code(state: EmulatorState, form: Mapping[str, str], now: float) -> ApiReply:
    value = form.get("code")
    if not value:
        return _error(state, OAuthErrorKind.INVALID_PARAMETER, "code is missing")
    code = state.oauth.code(value)
    if code is None:
        return _error(state, OAuthErrorKind.INVALID_CODE, "code is invalid")
    if code.used_at is not None:
        return _error(state, OAuthErrorKind.INVALID_CODE, "code has already been used")
    if now >= code.expires_at:
        return _error(state, OAuthErrorKind.INVALID_CODE, "code is expired")
    verifier = form.get("code_verifier")
    if not verifier or pkce_challenge(verifier) != code.code_challenge:
        return _error(state, OAuthErrorKind.INVALID_CODE_VERIFIER, "code_verifier is invalid")
    code.used_at = now
    _, _, reply = _issue_pair(state, now, RefreshTokenSource.AUTHORIZATION_CODE)
    return reply


def _issue_pair(
    state: EmulatorState, now: float, source: RefreshTokenSource
) -> tuple[str, str, ApiReply]:
    settings = state.oauth.settings
    access = new_secret(96)
    refresh = new_secret(96)
    state.tokens.put(access, now + settings.access_token_lifetime_s)
    state.oauth.add_refresh_token(
        refresh,
        now,
        expires_at=now + settings.refresh_token_lifetime_s,
        source=source,
        access_token=access,
    )
    payload: dict[str, object] = {
        "access_token": access,
        "refresh_token": refresh,
        "expires_in": str(round(settings.access_token_lifetime_s)),
    }
    return access, refresh, ApiReply(status=200, payload=payload, headers={})


def _error(state: EmulatorState, kind: OAuthErrorKind, reason: str) -> ApiReply:
    return ApiReply(status=200, payload=_error_body(state, kind, reason), headers={})


def _error_body(state: EmulatorState, kind: OAuthErrorKind, reason: str) -> dict[str, object]:
    return oauth_error_body(state.oauth.error_code(kind), _ERROR_NAMES[kind], reason)


def _is_http_url(text: str) -> bool:
    parts = urlsplit(text)
    return parts.scheme in {"http", "https"} and bool(parts.netloc)


def _with_query(url: str, params: Mapping[str, str]) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))
