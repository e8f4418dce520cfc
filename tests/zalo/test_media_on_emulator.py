"""Uploads and media messages over real HTTP against the emulator: the client and the contract."""

from __future__ import annotations

import httpx
import pytest

from bridge.errors import MessageRejectedError, RetryableDeliveryError
from bridge.events import ResultDocument
from bridge.result_documents import DocumentSettings, ZaloDocuments
from bridge.status import Channel
from bridge.zalo import StaticToken, ZaloClient
from bridge_devkit.document_host import JPEG, DocumentHost, document, jpeg_bytes, pdf_bytes
from bridge_devkit.emulator import EmulatorConfig, start_emulator
from support import OTHER_USER, TOKEN, USER, Emulator

PDF = pdf_bytes(300_000)


@pytest.fixture
async def zalo():
    running = await start_emulator(EmulatorConfig(access_tokens=(TOKEN,)))
    peer = Emulator(running.base_url)
    await peer.follow(USER, OTHER_USER)
    http = httpx.AsyncClient(base_url=running.base_url, timeout=10)
    try:
        yield ZaloClient(http, StaticToken(TOKEN)), peer
    finally:
        await http.aclose()
        await peer.http.aclose()
        await running.stop()


async def uploaded(peer: Emulator) -> list[dict]:
    return (await peer.http.get("/_emulator/uploads")).json()["uploads"]


class TestClient:
    async def test_a_file_is_uploaded_as_a_token_and_sent_as_a_file_message(self, zalo):
        client, peer = zalo
        token = await client.upload("file", "ket-qua.pdf", PDF, "application/pdf")
        receipt = await client.send_file(USER, token)
        [message] = await peer.accepted()
        assert (message["attachment"], message["asset_id"]) == ("file", token)
        assert message["message_id"] == receipt.message_id
        [upload] = await uploaded(peer)
        assert (upload["kind"], upload["size"]) == ("file", len(PDF))

    async def test_an_image_is_sent_as_a_media_message_with_a_caption(self, zalo):
        client, peer = zalo
        attachment = await client.upload("image", "anh.jpg", jpeg_bytes(20_000), JPEG)
        await client.send_image(USER, attachment, "Ảnh kết quả")
        [message] = await peer.accepted()
        assert (message["attachment"], message["text"]) == ("image", "Ảnh kết quả")

    async def test_an_image_above_one_megabyte_is_refused_with_210(self, zalo):
        client, _ = zalo
        with pytest.raises(MessageRejectedError) as refused:
            await client.upload("image", "anh.jpg", jpeg_bytes(1_048_577), JPEG)
        assert refused.value.code == -210

    async def test_a_pdf_named_as_an_image_is_refused(self, zalo):
        client, _ = zalo
        with pytest.raises(MessageRejectedError) as refused:
            await client.upload("image", "anh.jpg", PDF[:50_000], JPEG)
        assert refused.value.code == -201

    async def test_an_expired_token_answers_100(self, zalo):
        client, peer = zalo
        token = await client.upload("file", "ket-qua.pdf", PDF, "application/pdf")
        expire = await peer.http.post("/_emulator/uploads/expire", json={"asset_id": token})
        expire.raise_for_status()
        with pytest.raises(RetryableDeliveryError) as expired:
            await client.send_file(USER, token)
        assert expired.value.code == -100

    async def test_a_token_never_issued_is_refused(self, zalo):
        client, _ = zalo
        with pytest.raises(MessageRejectedError):
            await client.send_file(USER, "not-a-token")


async def test_an_expired_upload_is_made_again_and_the_file_goes_once(zalo):
    client, peer = zalo
    with DocumentHost() as host:
        doc = ResultDocument.model_validate(document(host.put("kq.pdf", PDF), PDF))
        async with httpx.AsyncClient() as fetcher:
            documents = ZaloDocuments(client, fetcher, DocumentSettings(allow_http=True))
            await documents.send(USER, doc, Channel.ZALO_FILE)
            [first] = await uploaded(peer)
            expire = await peer.http.post(
                "/_emulator/uploads/expire", json={"asset_id": first["asset_id"]}
            )
            expire.raise_for_status()
            await documents.send(OTHER_USER, doc, Channel.ZALO_FILE)
    assets = await uploaded(peer)
    assert len(assets) == 2, "uploaded again after -100"
    files = [m for m in await peer.accepted() if m.get("attachment") == "file"]
    assert [(m["user_id"], m["asset_id"]) for m in files] == [
        (USER, first["asset_id"]),
        (OTHER_USER, assets[1]["asset_id"]),
    ], "one file message each; the second on the fresh upload"
