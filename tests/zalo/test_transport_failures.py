"""The verdict on a failed HTTP call follows the underlying cause, whatever httpx calls it."""

from __future__ import annotations

import itertools
import socket
import ssl

import aiohttp
import httpx
import pytest
from aiohttp.client_reqrep import ConnectionKey
from hypothesis import given
from hypothesis import strategies as st

from bridge.zalo.transport_failures import FailureCause, classify_transport_failure

KEY = ConnectionKey("openapi.zalo.me", 443, True, True, None, None, None, None)  # noqa: FBT003


def raised(*chain: BaseException) -> BaseException:
    """``chain[0]`` raised from ``chain[1]`` raised from …, as a transport would."""
    for outer, inner in itertools.pairwise(chain):
        outer.__cause__ = inner
    return chain[0]


@pytest.mark.parametrize(
    ("error", "cause"),
    [
        # httpx-aiohttp maps every one of these to ConnectTimeout.
        (
            raised(
                httpx.ConnectTimeout("x"),
                aiohttp.ClientConnectorDNSError(KEY, socket.gaierror(-2, "Name not known")),
                socket.gaierror(-2, "Name not known"),
            ),
            FailureCause.DNS,
        ),
        (
            raised(
                httpx.ConnectTimeout("x"),
                aiohttp.ClientConnectorCertificateError(KEY, ssl.SSLCertVerificationError()),
            ),
            FailureCause.TLS,
        ),
        (
            raised(
                httpx.ConnectTimeout("x"),
                aiohttp.ClientConnectorError(KEY, ConnectionRefusedError(111, "refused")),
                ConnectionRefusedError(111, "refused"),
            ),
            FailureCause.CONNECTION_REFUSED,
        ),
        (
            raised(httpx.ConnectTimeout("x"), aiohttp.ConnectionTimeoutError("slow")),
            FailureCause.CONNECT_TIMEOUT,
        ),
        # httpx's own transport (httpcore).
        (
            raised(httpx.ConnectError("x"), socket.gaierror(-3, "Temporary failure")),
            FailureCause.DNS,
        ),
        (raised(httpx.ConnectError("x"), ssl.SSLError("bad")), FailureCause.TLS),
        (raised(httpx.ConnectError("x"), OSError("unreachable")), FailureCause.CONNECT_FAILED),
        (httpx.ConnectTimeout("x"), FailureCause.CONNECT_TIMEOUT),
        (httpx.PoolTimeout("x"), FailureCause.POOL_TIMEOUT),
        (httpx.UnsupportedProtocol("x"), FailureCause.INVALID_URL),
    ],
)
def test_failures_before_the_connection_exists_mean_nothing_was_sent(error, cause):
    verdict = classify_transport_failure(error)
    assert verdict.cause is cause
    assert not verdict.sent


@pytest.mark.parametrize(
    ("error", "cause"),
    [
        # httpx-aiohttp calls these ConnectTimeout too, but the request had gone out.
        (
            raised(
                httpx.ConnectTimeout("x"),
                aiohttp.ClientOSError(104, "reset"),
                ConnectionResetError(104, "reset"),
            ),
            FailureCause.CONNECTION_RESET,
        ),
        (
            raised(httpx.ConnectTimeout("x"), aiohttp.ServerDisconnectedError()),
            FailureCause.DISCONNECTED,
        ),
        (
            raised(httpx.ReadTimeout("x"), aiohttp.SocketTimeoutError("slow")),
            FailureCause.READ_TIMEOUT,
        ),
        (aiohttp.ClientPayloadError("truncated"), FailureCause.PROTOCOL_ERROR),
        (
            aiohttp.ClientResponseError(None, (), status=400, message="Bad status line"),  # type: ignore[arg-type]
            FailureCause.PROTOCOL_ERROR,
        ),
        (httpx.ReadTimeout("x"), FailureCause.READ_TIMEOUT),
        (httpx.WriteTimeout("x"), FailureCause.WRITE_TIMEOUT),
        (raised(httpx.ReadError("x"), ConnectionResetError()), FailureCause.CONNECTION_RESET),
        (httpx.WriteError("x"), FailureCause.CONNECTION_RESET),
        (
            httpx.RemoteProtocolError("Server disconnected without sending a response."),
            FailureCause.DISCONNECTED,
        ),
        (httpx.RemoteProtocolError("illegal status line"), FailureCause.PROTOCOL_ERROR),
        (httpx.DecodingError("bad gzip"), FailureCause.PROTOCOL_ERROR),
        (RuntimeError("Session is closed"), FailureCause.UNKNOWN),
        (ValueError("something new"), FailureCause.UNKNOWN),
    ],
)
def test_failures_after_the_connection_exists_leave_the_send_in_doubt(error, cause):
    verdict = classify_transport_failure(error)
    assert verdict.cause is cause
    assert verdict.sent


def test_a_cyclic_chain_ends():
    first, second = RuntimeError("a"), RuntimeError("b")
    first.__context__, second.__context__ = second, first
    assert classify_transport_failure(first).cause is FailureCause.UNKNOWN


_ANY_ERROR = st.sampled_from(
    [
        RuntimeError,
        ValueError,
        KeyError,
        OSError,
        TimeoutError,
        ConnectionResetError,
        httpx.ReadError,
        httpx.RemoteProtocolError,
        httpx.ConnectTimeout,
        aiohttp.ClientOSError,
        aiohttp.ServerDisconnectedError,
        aiohttp.ClientPayloadError,
    ]
)


@given(st.lists(_ANY_ERROR, min_size=1, max_size=6))
def test_without_a_connect_phase_error_in_the_chain_a_send_is_never_called_unsent(kinds):
    """Only a refusal, DNS, TLS or connect timeout may clear a send; nothing else ever does."""
    chain = [kind("x") for kind in kinds]
    has_aiohttp = any(isinstance(e, aiohttp.ClientError) for e in chain)
    verdict = classify_transport_failure(raised(*chain))
    if has_aiohttp or not any(isinstance(e, httpx.ConnectTimeout) for e in chain):
        assert verdict.sent, verdict
