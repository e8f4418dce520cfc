"""Transport failures on real sockets (127.0.0.1), both transports: sent or not, by the cause."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest

from bridge.errors import DeliveryInDoubtError, OAuthError, RetryableDeliveryError
from bridge.zalo import StaticToken, ZaloClient
from bridge.zalo.http_client import zalo_http_client, zalo_http_transport
from bridge.zalo.oauth import ZaloOAuth
from bridge.zalo.settings import ZaloSettings
from bridge.zalo.transport_failures import FailureCause, classify_transport_failure

TRANSPORTS = pytest.mark.parametrize(
    "transport", ["aiohttp", "httpcore", "aiohttp/direct", "httpcore/direct"]
)
"""Each transport under the client's ``send``, and under ``ZaloClient`` sending on it directly."""
TIMEOUT = 0.5
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class Peer:
    """A TCP server on 127.0.0.1 that misbehaves in one way; counts the requests it read."""

    port: int
    requests: int = 0


async def _read_request(reader: asyncio.StreamReader) -> None:
    with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
        await reader.readuntil(b"\r\n\r\n")


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with SO_LINGER 0: the peer gets a TCP RST, not a FIN."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@contextlib.asynccontextmanager
async def serve(behaviour: str) -> AsyncIterator[Peer]:
    """A server that, per request: resets, closes, hangs, answers garbage or plain HTTP."""
    released = asyncio.Event()
    handlers: set[asyncio.Task[None]] = set()
    peer = Peer(0)

    async def misbehave(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if behaviour == "plain_http":  # an HTTP answer to a TLS ClientHello
            await reader.read(1024)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")
            await writer.drain()
            return
        await _read_request(reader)
        peer.requests += 1
        if behaviour == "reset":
            _reset(writer)
        elif behaviour == "hang":
            await released.wait()
        elif behaviour == "garbage":
            writer.write(b"NOT HTTP AT ALL\r\n\r\n")
            await writer.drain()
        elif behaviour == "drip":  # an answer whose every byte comes within the read timeout
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n")
            while not released.is_set():
                writer.write(b" ")
                await writer.drain()
                await asyncio.sleep(TIMEOUT / 3)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            with contextlib.suppress(ConnectionError):
                await misbehave(reader, writer)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    peer.port = server.sockets[0].getsockname()[1]
    try:
        yield peer
    finally:
        released.set()
        server.close()
        await asyncio.gather(*handlers, return_exceptions=True)
        await server.wait_closed()


def closed_port() -> int:
    """A port on 127.0.0.1 that nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def full_backlog() -> AsyncIterator[int]:
    """A listening port whose accept queue is full: connecting to it times out."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)  # noqa: FBT003 - the socket API
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    try:
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


def zalo_client(
    base_url: str, transport: str
) -> tuple[ZaloClient, httpx.AsyncClient, httpx.AsyncBaseTransport | None]:
    kind, _, mode = transport.partition("/")
    settings = ZaloSettings(
        base_url=base_url,
        http_transport=kind,
        timeout_seconds=TIMEOUT,
        connect_timeout_seconds=TIMEOUT,
    )
    direct = zalo_http_transport(settings) if mode == "direct" else None
    http = zalo_http_client(settings, transport=direct)
    deadline = settings.connect_timeout_seconds + settings.timeout_seconds  # as the app sets it
    client = ZaloClient(http, StaticToken("oa-token"), deadline_seconds=deadline, transport=direct)
    return client, http, direct


async def send(base_url: str, transport: str) -> BaseException:
    """Send a CS text and a template (the step that waits the in-doubt hold); the error of each."""
    client, http, _ = zalo_client(base_url, transport)
    errors: list[BaseException] = []
    try:
        for call in (
            client.send_text("2512523625412515", "Hồ sơ đã tiếp nhận"),
            client.send_template("2512523625412515", "tpl-1", {"ma_ho_so": "H56-0042"}),
        ):
            with pytest.raises(RetryableDeliveryError) as caught:
                await call
            errors.append(caught.value)
    finally:
        await http.aclose()
    assert type(errors[0]) is type(errors[1])
    assert str(errors[0]) == str(errors[1])
    return errors[0]


@TRANSPORTS
async def test_a_closed_port_means_nothing_was_sent(transport):
    started = time.monotonic()
    error = await send(f"http://127.0.0.1:{closed_port()}", transport)
    assert not isinstance(error, DeliveryInDoubtError)
    assert "nothing sent: connection_refused" in str(error)
    assert time.monotonic() - started < 5 * TIMEOUT  # refused at once, no timeout waited


@TRANSPORTS
async def test_a_connect_timeout_means_nothing_was_sent(transport):
    with full_backlog() as port:
        error = await send(f"http://127.0.0.1:{port}", transport)
    assert not isinstance(error, DeliveryInDoubtError)
    assert "nothing sent: connect_timeout" in str(error)


@TRANSPORTS
async def test_a_failed_tls_handshake_means_nothing_was_sent(transport):
    async with serve("plain_http") as peer:
        error = await send(f"https://127.0.0.1:{peer.port}", transport)
    assert not isinstance(error, DeliveryInDoubtError)
    assert "nothing sent: tls" in str(error)


@TRANSPORTS
@pytest.mark.parametrize(
    ("behaviour", "cause"),
    [
        ("reset", {"connection_reset"}),
        # Closing without an answer: aiohttp sees the server disconnect, httpcore reads nothing.
        ("close", {"disconnected", "connection_reset"}),
        ("hang", {"read_timeout"}),
        # Never a read timeout, yet never done: the request's deadline ends it.
        ("drip", {"timeout"}),
        ("garbage", {"protocol_error"}),
    ],
)
async def test_a_request_that_reached_the_server_is_in_doubt(transport, behaviour, cause):
    started = time.monotonic()
    async with serve(behaviour) as peer:
        error = await send(f"http://127.0.0.1:{peer.port}", transport)
        assert peer.requests >= 2  # the server did read both requests
    assert isinstance(error, DeliveryInDoubtError)
    assert time.monotonic() - started < 2 * 2 * (TIMEOUT + TIMEOUT) + 1  # two calls, bounded
    assert str(error).startswith("no answer from Zalo: ")
    assert str(error).split(": ", 1)[1].split(" ", 1)[0] in cause


@TRANSPORTS
async def test_an_unforeseen_transport_error_is_caught_and_in_doubt(transport, monkeypatch):
    client, http, direct = zalo_client("http://127.0.0.1:9", transport)

    class Surprise(Exception):  # noqa: N818 - what a library might raise one day
        pass

    async def explode(*_args, **_kwargs):
        raise Surprise

    if direct is None:
        monkeypatch.setattr(http, "send", explode)  # what the client calls for every request
    else:
        monkeypatch.setattr(direct, "handle_async_request", explode)  # what it sends on
    try:
        with pytest.raises(DeliveryInDoubtError, match=r"unknown \(Surprise\)") as caught:
            await client.send_text("2512523625412515", "Hồ sơ")
    finally:
        await http.aclose()
    assert isinstance(caught.value.__cause__, Surprise)


@pytest.mark.parametrize(
    ("behaviour", "in_doubt"),
    [("closed", False), ("plain_http", False), ("reset", True), ("hang", True)],
)
async def test_oauth_failures_say_whether_the_grant_may_have_been_used(behaviour, in_doubt):
    async with contextlib.AsyncExitStack() as stack:
        if behaviour == "closed":
            base = f"http://127.0.0.1:{closed_port()}"
        else:
            peer = await stack.enter_async_context(serve(behaviour))
            scheme = "https" if behaviour == "plain_http" else "http"
            base = f"{scheme}://127.0.0.1:{peer.port}"
        http = await stack.enter_async_context(httpx.AsyncClient(base_url=base, timeout=TIMEOUT))
        oauth = ZaloOAuth(http, app_id="1", app_secret="app-secret")
        with pytest.raises(OAuthError) as caught:
            await oauth.refresh("refresh-token", now=0.0)
    assert caught.value.transient
    assert caught.value.in_doubt is in_doubt
    assert "refresh-token" not in str(caught.value)
    assert "app-secret" not in str(caught.value)


def _connect_to(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT):
        pass


def _wrapped_connect(port: int) -> None:
    try:
        _connect_to(port)
    except ConnectionRefusedError as refused:
        raise RuntimeError("wrapped by some library") from refused


def test_the_verdict_on_a_real_refusal_wrapped_by_anything_is_not_sent():
    with pytest.raises(RuntimeError) as caught:
        _wrapped_connect(closed_port())
    verdict = classify_transport_failure(caught.value)
    assert verdict.cause is FailureCause.CONNECTION_REFUSED
    assert not verdict.sent
