"""Zalo OAuth v4 for an OA: the consent URL (PKCE), code exchange and refresh of token pairs."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from bridge.errors import OAuthError
from bridge.zalo.token_store import TokenPair
from bridge.zalo.transport_failures import classify_transport_failure

if TYPE_CHECKING:
    from collections.abc import Mapping

    import httpx

__all__ = [
    "PERMISSION_PATH",
    "TOKEN_PATH",
    "Pkce",
    "TokenLifetimes",
    "ZaloOAuth",
    "consent_url",
    "pair_from_answer",
]

TOKEN_PATH = "/v4/oa/access_token"  # noqa: S105 - a path, not a secret
PERMISSION_PATH = "/v4/oa/permission"
_ERROR_KEYS = ("error", "error_name", "error_description", "error_reason")


@dataclass(frozen=True, slots=True)
class Pkce:
    """A PKCE verifier and its S256 challenge, as Zalo's SDK builds them (no padding)."""

    verifier: str
    challenge: str

    @classmethod
    def create(cls) -> Pkce:
        """A fresh verifier (base64url of 32 random bytes, 43 characters) and its challenge."""
        verifier = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode("ascii")
        return cls(verifier, challenge_of(verifier))


def challenge_of(verifier: str) -> str:
    """base64url(SHA-256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def consent_url(
    oauth_base_url: str, *, app_id: str, redirect_uri: str, code_challenge: str, state: str
) -> str:
    """The page where the OA admin consents; Zalo then redirects with ``code`` and ``oa_id``."""
    query = urlencode(
        {
            "app_id": app_id,
            "redirect_uri": redirect_uri,
            "code_challenge": code_challenge,
            "state": state,
        }
    )
    return f"{oauth_base_url.rstrip('/')}{PERMISSION_PATH}?{query}"


@dataclass(frozen=True, slots=True)
class TokenLifetimes:
    """Lifetimes assumed when Zalo's answer does not state them (seconds)."""

    access_seconds: float = 90_000
    refresh_seconds: float = 7_776_000


def _seconds(value: Any) -> float | None:
    """``expires_in`` as a number: Zalo sends it as a string."""
    if isinstance(value, bool):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds > 0 else None


def pair_from_answer(body: Any, *, now: float, lifetimes: TokenLifetimes) -> TokenPair:
    """The token pair in an answer of the token endpoint, which answers errors with HTTP 200.

    Raises:
        OAuthError: The answer carries an error, or lacks either token.
    """
    if not isinstance(body, dict):
        raise OAuthError("Zalo OAuth answered with an unexpected body")
    if any(body.get(key) not in (None, 0, "") for key in _ERROR_KEYS):
        code = body.get("error")
        name = body.get("error_name") or body.get("error_description") or "error"
        raise OAuthError(
            f"Zalo OAuth refused: {name} ({code})",
            code=code if isinstance(code, int) and not isinstance(code, bool) else None,
        )
    access, refresh = body.get("access_token"), body.get("refresh_token")
    if not isinstance(access, str) or not access.strip():
        raise OAuthError("Zalo OAuth answered without an access_token")
    if not isinstance(refresh, str) or not refresh.strip():
        raise OAuthError("Zalo OAuth answered without a refresh_token")
    access_life = _seconds(body.get("expires_in")) or lifetimes.access_seconds
    refresh_life = _seconds(body.get("refresh_token_expires_in")) or lifetimes.refresh_seconds
    return TokenPair(
        access_token=access,
        refresh_token=refresh,
        access_issued_at=now,
        access_expires_at=now + access_life,
        refresh_expires_at=now + refresh_life,
    )


class ZaloOAuth:
    """The token endpoint (``POST /v4/oa/access_token``) over an injected ``httpx.AsyncClient``.

    Args:
        http: A client whose ``base_url`` is the OAuth host (``oauth.zaloapp.com``); the caller
            owns it and sets its timeout.
        app_id: The Zalo app id.
        app_secret: The app secret key, sent as the ``secret_key`` header.
        lifetimes: Lifetimes assumed when the answer does not give them.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        app_id: str,
        app_secret: str,
        lifetimes: TokenLifetimes | None = None,
    ) -> None:
        self._http = http
        self._app_id = app_id
        self._secret = app_secret
        self._lifetimes = lifetimes or TokenLifetimes()

    async def exchange_code(self, code: str, verifier: str, *, now: float) -> TokenPair:
        """Trade an authorization code (single use, 10 minutes) for a first token pair."""
        form = {
            "code": code,
            "app_id": self._app_id,
            "grant_type": "authorization_code",
            "code_verifier": verifier,
        }
        return await self._grant(form, now=now)

    async def refresh(self, refresh_token: str, *, now: float) -> TokenPair:
        """Spend ``refresh_token`` (single use) for a new pair.

        Raises:
            OAuthError: Refused (``transient`` False: the refresh token is spent, expired or
                unknown), or no answer / HTTP error (``transient`` True). After a lost answer the
                token may have been spent all the same.
        """
        form = {
            "refresh_token": refresh_token,
            "app_id": self._app_id,
            "grant_type": "refresh_token",
        }
        return await self._grant(form, now=now)

    async def _grant(self, form: Mapping[str, str], *, now: float) -> TokenPair:
        try:
            response = await self._http.post(
                TOKEN_PATH, data=dict(form), headers={"secret_key": self._secret}
            )
        except Exception as exc:  # every transport failure is converted, by its cause
            failure = classify_transport_failure(exc)
            if failure.sent:
                raise OAuthError(
                    f"no answer from Zalo OAuth (the grant may have been used): {failure}",
                    transient=True,
                    in_doubt=True,
                ) from exc
            raise OAuthError(
                f"cannot reach Zalo OAuth, nothing sent: {failure}", transient=True
            ) from exc
        if response.status_code != 200:  # noqa: PLR2004 - Zalo answers everything with 200
            raise OAuthError(
                f"Zalo OAuth answered HTTP {response.status_code}",
                transient=response.status_code >= 500 or response.status_code == 429,  # noqa: PLR2004 - HTTP codes
            )
        try:
            body = response.json()
        except ValueError as exc:
            raise OAuthError("Zalo OAuth answered with a body that is not JSON") from exc
        return pair_from_answer(body, now=now, lifetimes=self._lifetimes)
