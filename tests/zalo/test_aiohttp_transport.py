"""The whole-answer aiohttp transport on a real server (127.0.0.1): what goes out, what returns."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from aiohttp import web

from bridge.errors import DeliveryInDoubtError, MessageRejectedError
from bridge.zalo import StaticToken, ZaloClient
from bridge.zalo.aiohttp_transport import WholeAnswerTransport
from bridge.zalo.http_client import zalo_http_client, zalo_http_transport
from bridge.zalo.settings import ZaloSettings
from bridge_devkit.document_host import JPEG, jpeg_bytes, pdf_bytes
from bridge_devkit.emulator import EmulatorConfig, start_emulator
from support import OTHER_USER, TOKEN, USER, Emulator

OK = {"error": 0, "message": "Success", "data": {"message_id": "m-1", "user_id": "1"}}


@dataclass
class Seen:
    """One request as the server read it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Server:
    base_url: str
    seen: list[Seen] = field(default_factory=list)


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    """Answers like the OA API, plus a redirect, a cookie, a gzip body and a chunked body."""
    box = Server("")

    async def handle(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        box.seen.append(Seen(request.method, request.path_qs, dict(request.headers), body))
        match request.path:
            case "/redirect":
                return web.Response(status=302, headers={"location": "/v3.0/oa/message/cs"})
            case "/cookie":
                answer = web.json_response(OK)
                answer.set_cookie("session", "s-1")
                return answer
            case "/gzip":
                return web.Response(
                    body=gzip.compress(json.dumps(OK).encode()),
                    headers={"content-encoding": "gzip", "content-type": "application/json"},
                )
            case "/chunked":
                stream = web.StreamResponse(headers={"content-type": "application/json"})
                stream.enable_chunked_encoding()
                await stream.prepare(request)
                text = json.dumps(OK).encode()
                for start in range(0, len(text), 7):
                    await stream.write(text[start : start + 7])
                await stream.write_eof()
                return stream
            case "/slow":
                await asyncio.sleep(0.05)
            case "/v2.0/oa/upload/file":
                return web.json_response({"error": 0, "data": {"token": "f-1"}})
        return web.json_response(OK)

    app = web.Application(client_max_size=4 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    box.base_url = f"http://127.0.0.1:{port}"
    try:
        yield box
    finally:
        await runner.cleanup()


def _client(
    base_url: str,
    kind: str = "aiohttp",
    *,
    token: str = "oa-token",
    template_path: str = "/v3.0/oa/message/template",
    max_connections: int = 10,
) -> tuple[ZaloClient, httpx.AsyncClient]:
    settings = ZaloSettings(base_url=base_url, http_transport=kind, max_connections=max_connections)
    transport = zalo_http_transport(settings)
    http = zalo_http_client(settings, transport=transport)
    client = ZaloClient(
        http, StaticToken(token), transport=transport, template_uid_path=template_path
    )
    return client, http


async def test_the_aiohttp_transport_is_the_whole_answer_one():
    settings = ZaloSettings(http_transport="aiohttp")
    transport = zalo_http_transport(settings)
    assert isinstance(transport, WholeAnswerTransport)
    await transport.aclose()


@pytest.mark.parametrize("path", ["/v3.0/oa/message/cs", "/v2.0/oa/upload/file"])
async def test_the_request_is_byte_for_byte_what_httpx_own_transport_sends(server, path):
    """Same method, path, headers (names and values) and body as httpcore's, send and upload."""
    by_transport = {}
    for kind in ("aiohttp", "httpcore"):
        client, http = _client(server.base_url, kind)
        try:
            if path.endswith("file"):
                await client.upload("file", "ket-qua.pdf", b"%PDF-1.4 body", "application/pdf")
            else:
                await client.send_text("2512523625412515", "Hồ sơ đã tiếp nhận")
        finally:
            await http.aclose()
        by_transport[kind] = server.seen.pop()
    mine, theirs = by_transport["aiohttp"], by_transport["httpcore"]
    assert (mine.method, mine.path) == (theirs.method, theirs.path) == ("POST", path)
    boundary = theirs.headers["Content-Type"].partition("boundary=")[2]
    if boundary:  # multipart boundaries are random per request
        mine_boundary = mine.headers["Content-Type"].partition("boundary=")[2]
        mine.body = mine.body.replace(mine_boundary.encode(), boundary.encode())
        mine.headers["Content-Type"] = theirs.headers["Content-Type"]
    assert mine.headers == theirs.headers
    assert mine.body == theirs.body
    assert "Transfer-Encoding" not in mine.headers
    assert int(mine.headers["Content-Length"]) == len(mine.body)


async def test_a_redirect_is_an_answer_not_followed(server):
    client, http = _client(server.base_url, template_path="/redirect")
    try:
        with pytest.raises(MessageRejectedError, match="HTTP 302"):
            await client.send_template("1", "tpl", {})
    finally:
        await http.aclose()
    assert [seen.path for seen in server.seen] == ["/redirect"]


async def test_a_cookie_set_by_the_server_is_never_sent_back(server):
    transport = WholeAnswerTransport(limits=httpx.Limits(max_connections=2))
    try:
        for _ in range(2):
            request = httpx.Request("POST", f"{server.base_url}/cookie", content=b"{}")
            answer = await transport.handle_async_request(request)
            assert answer.headers["set-cookie"].startswith("session=s-1")
    finally:
        await transport.aclose()
    assert [seen.headers.get("Cookie") for seen in server.seen] == [None, None]


@pytest.mark.parametrize("path", ["/gzip", "/chunked"])
async def test_a_compressed_or_chunked_answer_is_read_whole_and_decoded_by_httpx(server, path):
    transport = WholeAnswerTransport(limits=httpx.Limits(max_connections=1))
    try:
        request = httpx.Request("POST", f"{server.base_url}{path}", content=b"{}")
        answer = await transport.handle_async_request(request)
        await answer.aread()
    finally:
        await transport.aclose()
    assert answer.json() == OK
    assert answer.request is request


async def test_each_answer_gives_its_connection_back_at_once(server):
    """A pool of one connection carries many calls, in a row and at once."""
    client, http = _client(server.base_url, template_path="/slow", max_connections=1)
    try:
        for _ in range(3):
            await client.send_text("1", "x")
        receipts = await asyncio.gather(*(client.send_template("1", "t", {}) for _ in range(5)))
    finally:
        await http.aclose()
    assert [r.message_id for r in receipts] == ["m-1"] * 5
    assert len(server.seen) == 8


async def test_a_closed_transport_fails_the_call_as_unknown_and_in_doubt(server):
    client, http = _client(server.base_url)
    await client.send_text("1", "x")
    await http.aclose()
    with pytest.raises(DeliveryInDoubtError, match="no answer from Zalo: unknown"):
        await client.send_text("1", "x")


async def test_uploads_reach_the_emulator_through_it():
    running = await start_emulator(EmulatorConfig(access_tokens=(TOKEN,)))
    peer = Emulator(running.base_url)
    await peer.follow(USER, OTHER_USER)
    client, http = _client(running.base_url, token=TOKEN)
    pdf = pdf_bytes(300_000)
    try:
        token = await client.upload("file", "ket-qua.pdf", pdf, "application/pdf")
        image = await client.upload("image", "anh.jpg", jpeg_bytes(20_000), JPEG)
        await client.send_file(USER, token)
        await client.send_image(USER, image, "Ảnh kết quả")
        uploads = (await peer.http.get("/_emulator/uploads")).json()["uploads"]
        accepted = await peer.accepted()
    finally:
        await http.aclose()
        await peer.http.aclose()
        await running.stop()
    assert [(u["kind"], u["size"]) for u in uploads] == [("file", len(pdf)), ("image", 20_000)]
    assert [m["attachment"] for m in accepted] == ["file", "image"]
