"""OAuth v4 records (reference §6): configuration, authorization codes, refresh tokens, the log.

The rules that use them are in `oauth`; this module only holds the data and its bookkeeping.
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

from bridge_devkit.emulator.tokens import ACCESS_TOKEN_LIFETIME_S

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "AUTHORIZATION_CODE_LIFETIME_S",
    "DEFAULT_OAUTH_ERROR_CODES",
    "REFRESH_TOKEN_LIFETIME_S",
    "AuthorizationCode",
    "OAuthConfig",
    "OAuthErrorKind",
    "OAuthSettings",
    "OAuthStore",
    "RefreshAttempt",
    "RefreshOutcome",
    "RefreshToken",
    "RefreshTokenSource",
    "is_code_challenge",
    "new_secret",
    "pkce_challenge",
]

REFRESH_TOKEN_LIFETIME_S: Final = 90 * 86_400.0
"""Zalo's refresh-token lifetime, "3 months" (reference §6), taken as 90 days."""

AUTHORIZATION_CODE_LIFETIME_S: Final = 600.0
"""An authorization code is valid 10 minutes, once (reference §6)."""

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
