"""Why an HTTP call failed, by its underlying cause: certainly not sent, or perhaps sent (in doubt).

httpx's exception type alone cannot be trusted for that: the aiohttp transport (httpx-aiohttp)
reports a refused connection, a DNS failure, a TLS failure *and* a connection reset after the
request went out all as ``httpx.ConnectTimeout``, and lets some aiohttp errors through raw. So
the classification walks the exception's chain (``__cause__``, ``__context__``) and decides by
the lowest-level error it recognises:

==================================  =====================  ==========
cause (chain holds)                 label                  sent?
==================================  =====================  ==========
connection refused                  ``connection_refused`` not sent
DNS lookup failed                   ``dns``                not sent
TLS handshake / certificate failed  ``tls``                not sent
connect timed out                   ``connect_timeout``    not sent
no pooled connection in time        ``pool_timeout``       not sent
other failure while connecting      ``connect_failed``     not sent
URL httpx/aiohttp cannot use        ``invalid_url``        not sent
read timed out                      ``read_timeout``       in doubt
write timed out                     ``write_timeout``      in doubt
connection reset / broken pipe      ``connection_reset``   in doubt
server closed the connection        ``disconnected``       in doubt
malformed answer                    ``protocol_error``     in doubt
the call's overall deadline passed  ``timeout``            in doubt
anything else                       ``unknown``            in doubt
==================================  =====================  ==========

"Not sent" is only claimed where the request cannot have left: the connection was never
established. Everything else may have reached Zalo, including every error nobody foresaw.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from enum import StrEnum

import aiohttp
import httpx
from aiohttp import client_exceptions as aiohttp_errors

__all__ = ["FailureCause", "TransportFailure", "classify_transport_failure", "transport_outcome"]


class FailureCause(StrEnum):
    """What went wrong under an HTTP call; the value is a stable label for logs and metrics."""

    CONNECTION_REFUSED = "connection_refused"
    DNS = "dns"
    TLS = "tls"
    CONNECT_TIMEOUT = "connect_timeout"
    POOL_TIMEOUT = "pool_timeout"
    CONNECT_FAILED = "connect_failed"
    INVALID_URL = "invalid_url"
    READ_TIMEOUT = "read_timeout"
    WRITE_TIMEOUT = "write_timeout"
    CONNECTION_RESET = "connection_reset"
    DISCONNECTED = "disconnected"
    PROTOCOL_ERROR = "protocol_error"
    TIMEOUT = "timeout"
    UNKNOWN = "unknown"


_NOT_SENT = frozenset(
    {
        FailureCause.CONNECTION_REFUSED,
        FailureCause.DNS,
        FailureCause.TLS,
        FailureCause.CONNECT_TIMEOUT,
        FailureCause.POOL_TIMEOUT,
        FailureCause.CONNECT_FAILED,
        FailureCause.INVALID_URL,
    }
)
_TIMEOUTS = frozenset(
    {
        FailureCause.CONNECT_TIMEOUT,
        FailureCause.POOL_TIMEOUT,
        FailureCause.READ_TIMEOUT,
        FailureCause.WRITE_TIMEOUT,
        FailureCause.TIMEOUT,
    }
)
_MAX_CHAIN = 16
"""Links of an exception chain looked at; real chains have three or four."""


@dataclass(frozen=True, slots=True)
class TransportFailure:
    """The verdict on one failed call.

    Attributes:
        cause: What went wrong.
        error: The name of the exception the verdict rests on (for logs; never its message,
            which may hold a URL with personal data).
    """

    cause: FailureCause
    error: str

    @property
    def sent(self) -> bool:
        """False when the request certainly did not leave; True when it may have (in doubt)."""
        return self.cause not in _NOT_SENT

    @property
    def timeout(self) -> bool:
        """Whether a timeout ended the call."""
        return self.cause in _TIMEOUTS

    def __str__(self) -> str:
        """``connection_refused (ClientConnectorError)``."""
        return f"{self.cause.value} ({self.error})"


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from or while handling, outermost first."""
    links: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(links) < _MAX_CHAIN and current not in links:
        links.append(current)
        current = current.__cause__ or current.__context__
    return links


def _connect_cause(chain: list[BaseException]) -> FailureCause:
    """The cause of a failure known to have happened while connecting."""
    if any(isinstance(e, aiohttp_errors.ClientConnectorDNSError | socket.gaierror) for e in chain):
        return FailureCause.DNS
    if any(
        isinstance(e, ssl.SSLError | ssl.CertificateError | aiohttp.ServerFingerprintMismatch)
        for e in chain
    ):
        return FailureCause.TLS
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return FailureCause.CONNECTION_REFUSED
    if any(isinstance(e, TimeoutError) for e in chain):
        return FailureCause.CONNECT_TIMEOUT
    return FailureCause.CONNECT_FAILED


_AIOHTTP_CONNECTING: tuple[tuple[type[BaseException], FailureCause | None], ...] = (
    # None: the cause of a failure while connecting, read further down the chain.
    (aiohttp.ClientConnectorError, None),
    (aiohttp.ServerFingerprintMismatch, None),
    (aiohttp.ConnectionTimeoutError, FailureCause.CONNECT_TIMEOUT),
    (aiohttp_errors.InvalidURL, FailureCause.INVALID_URL),
    (aiohttp_errors.NonHttpUrlClientError, FailureCause.INVALID_URL),
)
_AIOHTTP_AFTER_CONNECT: tuple[tuple[type[BaseException], FailureCause], ...] = (
    (aiohttp.ServerTimeoutError, FailureCause.READ_TIMEOUT),
    (aiohttp.ServerDisconnectedError, FailureCause.DISCONNECTED),
    (aiohttp.ClientOSError, FailureCause.CONNECTION_RESET),
    (aiohttp.ClientPayloadError, FailureCause.PROTOCOL_ERROR),
    (aiohttp.ClientResponseError, FailureCause.PROTOCOL_ERROR),
    (aiohttp.ClientError, FailureCause.UNKNOWN),
)
"""aiohttp's errors, most specific first (the connecting ones are looked for first)."""


def _from_aiohttp(chain: list[BaseException]) -> tuple[FailureCause, BaseException] | None:
    """The verdict from the chain's aiohttp errors, if any (httpx's type is then unreliable)."""
    for index, error in enumerate(chain):
        for kind, cause in _AIOHTTP_CONNECTING:
            if isinstance(error, kind):
                return cause or _connect_cause(chain[index:]), error
    for error in chain:
        for kind, after in _AIOHTTP_AFTER_CONNECT:
            if isinstance(error, kind):
                return after, error
    return None


def _from_httpx(error: BaseException, chain: list[BaseException]) -> FailureCause | None:
    """The verdict from one httpx error (raised by httpx's own transport, httpcore)."""
    verdict: FailureCause | None = None
    match error:
        case httpx.PoolTimeout():
            verdict = FailureCause.POOL_TIMEOUT
        case httpx.ConnectTimeout():
            verdict = FailureCause.CONNECT_TIMEOUT
        case httpx.ConnectError():
            verdict = _connect_cause(chain[chain.index(error) :])
        case httpx.UnsupportedProtocol() | httpx.InvalidURL():
            verdict = FailureCause.INVALID_URL
        case httpx.ReadTimeout():
            verdict = FailureCause.READ_TIMEOUT
        case httpx.WriteTimeout():
            verdict = FailureCause.WRITE_TIMEOUT
        case httpx.ReadError() | httpx.WriteError() | httpx.CloseError():
            verdict = FailureCause.CONNECTION_RESET
        case httpx.RemoteProtocolError() if "disconnected" in str(error).lower():
            verdict = FailureCause.DISCONNECTED
        case httpx.ProtocolError() | httpx.DecodingError():
            verdict = FailureCause.PROTOCOL_ERROR
    return verdict


def _from_os(chain: list[BaseException]) -> tuple[FailureCause, BaseException] | None:
    """The verdict from bare socket errors (another transport, or nothing above wrapped them)."""
    for error in chain:
        if isinstance(error, ConnectionRefusedError):
            return FailureCause.CONNECTION_REFUSED, error
        if isinstance(error, socket.gaierror):
            return FailureCause.DNS, error
        if isinstance(error, ssl.SSLCertVerificationError):
            return FailureCause.TLS, error
    for error in chain:
        if isinstance(error, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
            return FailureCause.CONNECTION_RESET, error
        if isinstance(error, TimeoutError):  # asyncio.timeout around the call, in any phase
            return FailureCause.TIMEOUT, error
    return None


def classify_transport_failure(exc: BaseException) -> TransportFailure:
    """Decide whether the call that raised ``exc`` certainly did not send its request.

    Args:
        exc: Whatever the HTTP client raised (an httpx error, an aiohttp error that escaped the
            transport, or anything else).

    Returns:
        The cause; ``sent`` is False only when the request cannot have left.
    """
    chain = _chain(exc)
    found = _from_aiohttp(chain)
    if found is not None:
        cause, error = found
        return TransportFailure(cause, type(error).__name__)
    for error in chain:
        if isinstance(error, httpx.TransportError | httpx.DecodingError):
            verdict = _from_httpx(error, chain)
            if verdict is not None:
                return TransportFailure(verdict, type(error).__name__)
    found = _from_os(chain)
    if found is not None:
        cause, error = found
        return TransportFailure(cause, type(error).__name__)
    return TransportFailure(FailureCause.UNKNOWN, type(exc).__name__)


def transport_outcome(exc: BaseException) -> str:
    """The metrics' outcome of a Zalo call that raised: not_sent, timeout or network_error."""
    failure = classify_transport_failure(exc)
    if not failure.sent:
        return "not_sent"
    return "timeout" if failure.timeout else "network_error"
