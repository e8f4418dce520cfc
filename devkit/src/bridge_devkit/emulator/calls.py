"""A call to an emulated endpoint and the answer to it, as the pure rules see them (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bridge_devkit.emulator.ratelimit import RateDecision

__all__ = ["ApiReply", "IncomingCall", "rate_headers"]


@dataclass(frozen=True, slots=True)
class IncomingCall:
    """A call to a Zalo endpoint, as the rules need to see it.

    Attributes:
        endpoint: The request path.
        access_token: The `access_token` header, or None when absent.
        body: The decoded JSON body (or form, or upload), or `NOT_JSON`.
        raw_body: The raw body bytes.
        now: Arrival time in epoch seconds.
        base_url: The scheme and host the call came to (for the URLs of hosted files).
    """

    endpoint: str
    access_token: str | None
    body: object
    raw_body: bytes
    now: float
    base_url: str = ""


@dataclass(frozen=True, slots=True)
class ApiReply:
    """What to answer: HTTP status, payload and extra headers.

    Attributes:
        status: The HTTP status.
        payload: A JSON object, or a text body for a non-Zalo (gateway) answer.
        headers: Extra headers, e.g. `X-RateLimit-*`.
    """

    status: int
    payload: dict[str, object] | str
    headers: dict[str, str]


def rate_headers(rate: RateDecision) -> dict[str, str]:
    """Return the `X-RateLimit-*` headers for a budget decision (none when the limiter is off)."""
    if rate.limit is None or rate.remaining is None:
        return {}
    return {"X-RateLimit-Limit": str(rate.limit), "X-RateLimit-Remain": str(rate.remaining)}
