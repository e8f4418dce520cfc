"""A file whose answer is lost after Zalo recorded it, over real HTTP: the citizen gets it once."""

from __future__ import annotations

import json

import httpx
import pytest

from bridge.delivery.deliverer import Deliverer, DeliveryPolicy
from bridge.delivery.flow import CircuitBreaker
from bridge.result_documents import DocumentSettings, ZaloDocuments
from bridge.status import Channel, DeliveryStatus, DocumentOutcome
from bridge.zalo import StaticToken, ZaloClient
from bridge_devkit.document_host import DocumentHost, document, pdf_bytes
from bridge_devkit.emulator import EmulatorConfig, start_emulator
from cascade_support import RENDERER, record_of
from support import TOKEN, USER, Emulator

PDF = pdf_bytes(200_000)
SEND_PATH = "/v3.0/oa/message/cs"


@pytest.fixture
async def zalo():
    running = await start_emulator(EmulatorConfig(access_tokens=(TOKEN,)))
    peer = Emulator(running.base_url)
    await peer.follow(USER)
    # A client that gives up after 0.5 s: the emulator's delay fault then loses its answer.
    http = httpx.AsyncClient(base_url=running.base_url, timeout=10)
    try:
        yield ZaloClient(http, StaticToken(TOKEN), deadline_seconds=0.5), peer
    finally:
        await http.aclose()
        await peer.http.aclose()
        await running.stop()


class LoseTheNextSendsAnswer:
    """The Zalo client, but once the file is uploaded the emulator is told to record the next
    message to the citizen and answer it too late (a `delay` fault): the file message alone."""

    def __init__(self, client: ZaloClient, peer: Emulator) -> None:
        self.client, self.peer = client, peer
        self.armed = True

    async def upload(self, kind, name, content, content_type):
        asset = await self.client.upload(kind, name, content, content_type)
        if self.armed:
            self.armed = False
            await self.peer.fault(kind="delay", ms=2000, count=1, endpoint=SEND_PATH, user_id=USER)
        return asset

    async def send_file(self, user_id, token):
        return await self.client.send_file(user_id, token)

    async def send_image(self, user_id, attachment_id, caption):
        return await self.client.send_image(user_id, attachment_id, caption)

    async def find_sent_document(self, query):
        return await self.client.find_sent_document(query)


async def conversation(peer: Emulator) -> list[dict]:
    query = {"data": json.dumps({"user_id": USER, "offset": 0, "count": 10})}
    answer = await peer.http.get(
        "/v2.0/oa/conversation", params=query, headers={"access_token": TOKEN}
    )
    return answer.json()["data"]


@pytest.mark.parametrize("read_back", [True, False], ids=["read-back", "hold-and-resend"])
async def test_a_file_whose_answer_was_lost_reaches_the_citizen_once(
    zalo, ledger, make_event, encode, read_back
):
    client, peer = zalo
    with DocumentHost() as host:
        described = document(host.put("kq.pdf", PDF), PDF)
        event = make_event(
            state="RESULT_READY",
            previous_state="IN_PROGRESS",
            sequence=9,
            result={"pickup_location": "Quầy số 3", "documents": [described]},
        )
        async with httpx.AsyncClient() as fetcher:
            settings = DocumentSettings(allow_http=True, in_doubt_read_back=read_back)
            documents = ZaloDocuments(LoseTheNextSendsAnswer(client, peer), fetcher, settings)
            use_case = Deliverer(
                sender=client,
                ledger=ledger,
                renderer=RENDERER,
                policy=DeliveryPolicy(lease=30, in_doubt_settle=0.2, in_doubt_hold=0.2),
                max_event_bytes=64 * 1024,
                owner="p1",
                breaker=CircuitBreaker(failure_threshold=5, open_seconds=1, max_open_seconds=5),
                documents=documents,
            )
            outcome = await use_case.handle(record_of(encode(event)))

    items = await conversation(peer)
    files = [item for item in items if item["type"] == "file"]
    [doc] = outcome.documents
    assert outcome.status is DeliveryStatus.DELIVERED
    assert (doc.channel, doc.outcome) == (Channel.ZALO_FILE, DocumentOutcome.SENT)
    if read_back:
        assert len(files) == 1, "found in the conversation: not sent again"
        assert doc.zalo_message_id == files[0]["message_id"]
        assert doc.attempts == 1
    else:
        # The documented fallback: held, then sent again without looking (a duplicate).
        assert len(files) == 2
        assert doc.attempts == 2
    assert [item["type"] for item in reversed(items)] == ["text", *["file"] * len(files)]
