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

import base64
import hashlib
import itertools
import re
import secrets
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from bridge_devkit.emulator.faults import DropFault, ErrorFault, HttpFault
from bridge_devkit.emulator.rules import ApiReply
from bridge_devkit.emulator.tokens import ACCESS_TOKEN_LIFETIME_S

if TYPE_CHECKING:
    from collections.abc import Mapping

    from bridge_devkit.emulator.faults import Fault
    from bridge_devkit.emulator.rules import IncomingCall
    from bridge_devkit.emulator.state import EmulatorState

__all__ = [
    "AUTHORIZATION_CODE_LIFETIME_S",
    "DEFAULT_OAUTH_ERROR_CODES",
    "OAUTH_PERMISSION_PATH",
    "OAUTH_TOKEN_PATH",
    "REFRESH_TOKEN_LIFETIME_S",
    "AuthorizationCode",
    "ConsentRedirect",
    "OAuthConfig",
    "OAuthErrorKind",
    "OAuthSettings",
    "OAuthStore",
    "RefreshAttempt",
    "RefreshOutcome",
    "RefreshToken",
    "RefreshTokenSource",
    "consent",
    "is_code_challenge",
    "oauth_error_body",
    "parse_form",
    "pkce_challenge",
    "reject_token_request_with_fault",
    "request_token",
]

OAUTH_TOKEN_PATH: Final = "/v4/oa/access_token"  # noqa: S105 - a path, not a secret
"""The token endpoint on `oauth.zaloapp.com`."""

OAUTH_PERMISSION_PATH: Final = "/v4/oa/permission"
"""The consent page on `oauth.zaloapp.com` (the OA admin grants the app access there)."""

REFRESH_TOKEN_LIFETIME_S: Final = 90 * 86_400.0
"""Zalo's refresh-token lifetime, "3 months" (reference §6), taken as 90 days."""

AUTHORIZATION_CODE_LIFETIME_S: Final = 600.0
"""An authorization code is valid 10 minutes, once (reference §6)."""

OAUTH_REF_DOC: Final = (
    "https://developers.zalo.me/docs/official-account/bat-dau/xac-thuc-va-uy-quyen-cho-ung-dung-new"
)
"""The `ref_doc` of the OAuth error bodies."""

_GRANT_TYPES: Final = frozenset({"authorization_code", "refresh_token"})
_CODE_CHALLENGE: Final = re.compile(r"[A-Za-z0-9_-]{43}")


class OAuthErrorKind(StrEnum):
    """The ways an OAuth call can fail; each has a configurable (UNCERTAIN) error code."""

    INVALID_PARAMETER = "invalid_parameter"
    INVALID_APP_ID = "invalid_app_id"
    INVALID_SECRET_KEY = "invalid_secret_key"  # noqa: S105 - an error kind
    INVALID_REDIRECT_URI = "invalid_redirect_uri"
    INVALID_CODE_CHALLENGE = "invalid_code_challenge"
    INVALID_CODE = "invalid_code"
    INVALID_CODE_VERIFIER = "invalid_code_verifier"
    INVALID_REFRESH_TOKEN = "invalid_refresh_token"  # noqa: S105 - an error kind
    REFRESH_TOKEN_REUSED = "refresh_token_reused"  # noqa: S105 - an error kind
    REFRESH_TOKEN_EXPIRED = "refresh_token_expired"  # noqa: S105 - an error kind


DEFAULT_OAUTH_ERROR_CODES: Final[Mapping[OAuthErrorKind, int]] = MappingProxyType(
    {
        # Attested (UNCERTAIN, reference §6): -14002 "Invalid appId", -14003 "Invalid redirect
        # uri", and -14020 for a reused refresh token (one community citation). The others are
        # plausible placeholders in the same -14xxx range.
        OAuthErrorKind.INVALID_PARAMETER: -14001,
        OAuthErrorKind.INVALID_APP_ID: -14002,
        OAuthErrorKind.INVALID_REDIRECT_URI: -14003,
        OAuthErrorKind.INVALID_SECRET_KEY: -14014,
        OAuthErrorKind.INVALID_CODE_CHALLENGE: -14016,
        OAuthErrorKind.INVALID_CODE_VERIFIER: -14017,
        OAuthErrorKind.INVALID_CODE: -14019,
        OAuthErrorKind.INVALID_REFRESH_TOKEN: -14020,
        OAuthErrorKind.REFRESH_TOKEN_REUSED: -14020,
        OAuthErrorKind.REFRESH_TOKEN_EXPIRED: -14020,
    }
)
"""The error code of each kind unless configured otherwise (UNCERTAIN, see the README)."""

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
class OAuthConfig:
    """The OAuth knobs an emulator starts with.

    Attributes:
        access_token_lifetime_s: Lifetime of the access tokens it issues (Zalo: 25 h).
        refresh_token_lifetime_s: Lifetime of the refresh tokens it issues (Zalo: 3 months).
        code_lifetime_s: Lifetime of an authorization code (Zalo: 10 minutes).
        revoke_previous_access_token: Whether a refresh revokes the access token issued with
            the spent refresh token (reference §6, N2).
        redirect_uris: The redirect URIs the consent page accepts; empty accepts any http(s) URL.
        refresh_tokens: Refresh tokens valid from the start (their access token is unknown).
        error_codes: Overrides of `DEFAULT_OAUTH_ERROR_CODES`.
    """

    access_token_lifetime_s: float = ACCESS_TOKEN_LIFETIME_S
    refresh_token_lifetime_s: float = REFRESH_TOKEN_LIFETIME_S
    code_lifetime_s: float = AUTHORIZATION_CODE_LIFETIME_S
    revoke_previous_access_token: bool = True
    redirect_uris: tuple[str, ...] = ()
    refresh_tokens: tuple[str, ...] = ()
    error_codes: Mapping[OAuthErrorKind, int] = field(default_factory=dict)


@dataclass(slots=True)
class OAuthSettings:
    """The OAuth knobs that can change while the emulator runs (`PUT /_emulator/oauth/config`)."""

    access_token_lifetime_s: float
    refresh_token_lifetime_s: float
    code_lifetime_s: float
    revoke_previous_access_token: bool
    redirect_uris: tuple[str, ...]
    error_codes: dict[OAuthErrorKind, int]

    @classmethod
    def from_config(cls, config: OAuthConfig) -> OAuthSettings:
        """Take the initial values from `config`."""
        return cls(
            access_token_lifetime_s=config.access_token_lifetime_s,
            refresh_token_lifetime_s=config.refresh_token_lifetime_s,
            code_lifetime_s=config.code_lifetime_s,
            revoke_previous_access_token=config.revoke_previous_access_token,
            redirect_uris=tuple(config.redirect_uris),
            error_codes={**DEFAULT_OAUTH_ERROR_CODES, **config.error_codes},
        )


@dataclass(slots=True)
class AuthorizationCode:
    """A code the OA admin's consent produced, to exchange once for a token pair.

    Attributes:
        value: The code, as the redirect carries it.
        code_challenge: base64url(sha256(code_verifier)), without padding.
        redirect_uri: Where the consent redirected, if it came from the consent page.
        issued_at: Epoch seconds.
        expires_at: Epoch seconds.
        used_at: When it was exchanged, if it was.
    """

    value: str
    code_challenge: str
    redirect_uri: str | None
    issued_at: float
    expires_at: float
    used_at: float | None = None


class RefreshTokenSource(StrEnum):
    """Where a refresh token came from."""

    SEEDED = "seeded"
    AUTHORIZATION_CODE = "authorization_code"
    REFRESH = "refresh"


@dataclass(slots=True)
class RefreshToken:
    """A refresh token, usable once.

    Attributes:
        value: The token.
        issued_at: Epoch seconds.
        expires_at: Epoch seconds.
        source: How it was issued.
        access_token: The access token issued with it, revoked when it is spent (if known).
        spent_at: When a refresh used it, if one did.
        replaced_by: The refresh token that refresh issued.
    """

    value: str
    issued_at: float
    expires_at: float
    source: RefreshTokenSource
    access_token: str | None = None
    spent_at: float | None = None
    replaced_by: str | None = None

    def status(self, now: float) -> str:
        """Return `active`, `spent` or `expired` at time `now`."""
        if self.spent_at is not None:
            return "spent"
        return "expired" if now >= self.expires_at else "active"


class RefreshOutcome(StrEnum):
    """What became of one refresh attempt."""

    SUCCESS = "success"
    REUSED = "reused"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    REJECTED = "rejected"  # refused before the token was looked at (app id, secret, no token)
    FAULT = "fault"  # an injected fault answered instead of the rules


@dataclass(frozen=True, slots=True)
class RefreshAttempt:
    """One `grant_type=refresh_token` call and its outcome.

    Attributes:
        seq: Arrival order, from 1.
        at: Arrival time in epoch seconds.
        refresh_token: The refresh token presented (None if the form had none).
        outcome: What happened.
        error: The OAuth error code answered; None on success or when no error body was sent.
        access_token: The access token issued, on success.
        new_refresh_token: The refresh token issued, on success.
        fault: The kind of injected fault that applied, if any.
    """

    seq: int
    at: float
    refresh_token: str | None
    outcome: RefreshOutcome
    error: int | None
    access_token: str | None = None
    new_refresh_token: str | None = None
    fault: str | None = None


class OAuthStore:
    """Authorization codes, refresh tokens and the refresh log."""

    __slots__ = ("_attempt_seq", "_attempts", "_codes", "_refresh_tokens", "settings")

    def __init__(self, settings: OAuthSettings) -> None:
        """Create an empty store run by `settings`."""
        self.settings = settings
        self._codes: dict[str, AuthorizationCode] = {}
        self._refresh_tokens: dict[str, RefreshToken] = {}
        self._attempts: list[RefreshAttempt] = []
        self._attempt_seq = itertools.count(1)

    def issue_code(
        self,
        code_challenge: str,
        now: float,
        *,
        redirect_uri: str | None = None,
        value: str | None = None,
        lifetime_s: float | None = None,
    ) -> AuthorizationCode:
        """Mint an authorization code for `code_challenge` (a new random value unless given)."""
        lifetime = self.settings.code_lifetime_s if lifetime_s is None else lifetime_s
        code = AuthorizationCode(
            value=value or new_secret(48),
            code_challenge=code_challenge,
            redirect_uri=redirect_uri,
            issued_at=now,
            expires_at=now + lifetime,
        )
        self._codes[code.value] = code
        return code

    def code(self, value: str) -> AuthorizationCode | None:
        """Return the code `value`, if it was issued."""
        return self._codes.get(value)

    def codes(self) -> list[AuthorizationCode]:
        """Return every issued code, in issue order."""
        return list(self._codes.values())

    def add_refresh_token(
        self,
        value: str,
        now: float,
        *,
        expires_at: float,
        source: RefreshTokenSource,
        access_token: str | None = None,
    ) -> RefreshToken:
        """Add (or replace) the refresh token `value`, usable once until `expires_at`."""
        token = RefreshToken(
            value=value,
            issued_at=now,
            expires_at=expires_at,
            source=source,
            access_token=access_token,
        )
        self._refresh_tokens[value] = token
        return token

    def refresh_token(self, value: str) -> RefreshToken | None:
        """Return the refresh token `value`, if it was issued."""
        return self._refresh_tokens.get(value)

    def refresh_tokens(self) -> list[RefreshToken]:
        """Return every refresh token, in issue order."""
        return list(self._refresh_tokens.values())

    def log_attempt(  # noqa: PLR0913 - one keyword per field of the record
        self,
        at: float,
        refresh_token: str | None,
        outcome: RefreshOutcome,
        *,
        error: int | None = None,
        access_token: str | None = None,
        new_refresh_token: str | None = None,
        fault: str | None = None,
    ) -> RefreshAttempt:
        """Append one refresh attempt to the log and return it."""
        attempt = RefreshAttempt(
            seq=next(self._attempt_seq),
            at=at,
            refresh_token=refresh_token,
            outcome=outcome,
            error=error,
            access_token=access_token,
            new_refresh_token=new_refresh_token,
            fault=fault,
        )
        self._attempts.append(attempt)
        return attempt

    def attempts(self, refresh_token: str | None = None) -> list[RefreshAttempt]:
        """Return the refresh attempts (only those presenting `refresh_token` if given)."""
        return [
            a for a in self._attempts if refresh_token is None or a.refresh_token == refresh_token
        ]

    def clear_attempts(self) -> int:
        """Forget the refresh log and return how many attempts it held."""
        count = len(self._attempts)
        self._attempts.clear()
        return count

    def error_code(self, kind: OAuthErrorKind) -> int:
        """Return the configured error code of `kind`."""
        return self.settings.error_codes[kind]


@dataclass(frozen=True, slots=True)
class ConsentRedirect:
    """A granted consent: where to redirect the browser, with the code it carries."""

    location: str
    code: AuthorizationCode


def new_secret(nbytes: int) -> str:
    """Return a random URL-safe string of `nbytes` random bytes (tokens and codes)."""
    return secrets.token_urlsafe(nbytes)


def pkce_challenge(verifier: str) -> str:
    """Return the PKCE challenge of `verifier`: base64url(sha256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def is_code_challenge(text: str) -> bool:
    """Return whether `text` looks like a PKCE S256 challenge (43 base64url characters)."""
    return _CODE_CHALLENGE.fullmatch(text) is not None


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
