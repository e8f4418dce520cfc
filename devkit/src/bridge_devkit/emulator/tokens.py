"""The OA access tokens the emulator accepts, each with an optional expiry time."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = ["ACCESS_TOKEN_LIFETIME_S", "AccessToken", "TokenStatus", "TokenStore"]

ACCESS_TOKEN_LIFETIME_S = 90_000.0
"""Zalo's OA access-token lifetime: 25 hours (reference §6)."""


class TokenStatus(Enum):
    """What the emulator makes of the `access_token` header of a call."""

    VALID = "valid"
    UNKNOWN = "unknown"  # missing, or never issued: -216
    EXPIRED = "expired"  # issued, but past its expiry or revoked: -220


@dataclass(slots=True)
class AccessToken:
    """An issued access token.

    Attributes:
        value: The token string, sent by clients in the bare `access_token` header.
        expires_at: Expiry in epoch seconds, or None for a token that never expires.
        revoked: True once the token is removed (e.g. by a refresh in a later OAuth endpoint).
    """

    value: str
    expires_at: float | None
    revoked: bool = False

    def status(self, now: float) -> TokenStatus:
        """Return whether the token is usable at time `now`."""
        if self.revoked or (self.expires_at is not None and now >= self.expires_at):
            return TokenStatus.EXPIRED
        return TokenStatus.VALID


class TokenStore:
    """The access tokens known to the emulator, by value."""

    __slots__ = ("_tokens",)

    def __init__(self) -> None:
        """Create an empty store."""
        self._tokens: dict[str, AccessToken] = {}

    def put(self, value: str, expires_at: float | None) -> AccessToken:
        """Add the token `value`, or replace the expiry of an existing one (un-revoking it)."""
        token = AccessToken(value=value, expires_at=expires_at)
        self._tokens[value] = token
        return token

    def revoke(self, value: str) -> bool:
        """Mark `value` as removed; return False if the token is unknown."""
        token = self._tokens.get(value)
        if token is None:
            return False
        token.revoked = True
        return True

    def restore(self, value: str) -> AccessToken | None:
        """Undo the revocation of `value` (its expiry unchanged); None if the token is unknown."""
        token = self._tokens.get(value)
        if token is not None:
            token.revoked = False
        return token

    def remove(self, value: str) -> bool:
        """Forget `value`, which then counts as never issued; return False if it is unknown."""
        return self._tokens.pop(value, None) is not None

    def check(self, value: str | None, now: float) -> TokenStatus:
        """Classify the header value `value` (None when the header is absent) at time `now`."""
        if not value:
            return TokenStatus.UNKNOWN
        token = self._tokens.get(value)
        if token is None:
            return TokenStatus.UNKNOWN
        return token.status(now)

    def get(self, value: str) -> AccessToken | None:
        """Return the token record for `value`, if any."""
        return self._tokens.get(value)

    def all(self) -> list[AccessToken]:
        """Return every known token, in insertion order."""
        return list(self._tokens.values())
