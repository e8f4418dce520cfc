"""A dossier filed in the chat end to end: the webhook over real HTTP, the real broker, SeaweedFS.

She follows, starts, answers (one wrong first), sends a 60 MB file, a Word file named .pdf and a
decompression bomb (each refused saying why in Vietnamese), then two photos with a GPS position
and a PDF, and confirms. One citizen-submission event carries the three attachments, whose
stored bytes match their SHA-256, the photos without EXIF; a replayed webhook adds nothing. The
centre's first case event naming the submission reaches her chat.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import time
import uuid
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from PIL import Image

from bridge.app import create_app
from bridge.citizens.settings import LinkingSettings, RetentionSettings
from bridge.objects.factory import open_object_store
from bridge.objects.settings import ObjectsSettings
from bridge.submissions import SubmissionSettings
from bridge.webhook.settings import WebhookSettings
from citizens_support import APP_ID, HMAC_KEY, OA_SECRET, chat, oa_event, serve
from support import read_topic

pytestmark = [pytest.mark.kafka, pytest.mark.s3]

USER = "7700000000000042"
# A birth date in the past on whatever clock the bridge process reads (it runs on the real one).
BIRTH = datetime.now(timezone(timedelta(hours=7))).date() - timedelta(days=400)
ANSWERS = [
    "Nguyễn Thị Minh Anh",
    f"{BIRTH:%d/%m/%Y}",
    "2",
    "Bệnh viện Phụ sản, 123 Lê Lợi, Hải Châu",
    "Trần Thị Bình",
    "1",
    "001203004567",
    "0905123456",
    "12 Lê Lợi, Hải Châu, Đà Nẵng",
    "BO QUA",
]


async def until(check, what: str, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while True:
        found = await check()
        if found:
            return found
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.1)


def s3_settings(endpoint) -> ObjectsSettings:
    return ObjectsSettings(
        backend="s3",
        endpoint_url=endpoint.endpoint_url,
        bucket=endpoint.bucket,
        region=endpoint.region,
        access_key_id=endpoint.access_key_id,
        secret_access_key=endpoint.secret_access_key,
        prefix=f"tests/{uuid.uuid4().hex}/",
        max_object_bytes=32 * 1024 * 1024,
        timeout_seconds=10,
        max_retries=1,
    )


async def test_a_dossier_filed_with_two_photos_and_a_pdf_reaches_the_centre_and_back(  # noqa: PLR0915 - one journey, told in order
    bridge_settings, emulator, publish, make_event, encode, kafka_bootstrap, topics, s3_endpoint
):
    topic = f"{topics.input}.submissions"
    objects_settings = s3_settings(s3_endpoint)
    settings = bridge_settings.model_copy(
        update={
            "webhook": WebhookSettings(app_id=APP_ID, oa_secret_key=OA_SECRET),
            "linking": LinkingSettings(hmac_key=HMAC_KEY),
            "retention": RetentionSettings(purge_interval_seconds=0),
            "objects": objects_settings,
            "submissions": SubmissionSettings(
                enabled=True, topic=topic, attachment_hosts=("127.0.0.1",)
            ),
            "province": bridge_settings.province.model_copy(update={"slug": "da-nang"}),
        }
    )
    admin = emulator.http
    await emulator.follow(USER)

    async def last_reply() -> str:
        return (await chat(admin, USER))[-1]

    async def say(text: str, *, expect: str) -> dict:
        before = len(await chat(admin, USER))
        [event] = await oa_event(admin, event_name="user_send_text", user_id=USER, text=text)
        await until(lambda: _more(admin, before), f"an answer to {text!r}")
        reply = await last_reply()
        assert expect in reply, reply
        return event

    async def send(name: str, attachment: dict, *, expect: str) -> None:
        before = len(await chat(admin, USER))
        await oa_event(admin, event_name=name, user_id=USER, attachment=attachment)
        await until(lambda: _more(admin, before), f"an answer to {attachment}")
        reply = await last_reply()
        assert expect in reply, reply

    async with create_app(settings) as app, serve(app) as base_url:
        url = base_url + settings.webhook.path
        (await admin.put("/_emulator/webhook", json={"url": url})).raise_for_status()
        await say("Nộp hồ sơ", expect="1. Đăng ký khai sinh")
        await say("1", expect="(1/10)")
        await say(ANSWERS[0], expect="(2/10)")
        await say("2026/03/05", expect="❗ Ngày sinh chưa đúng dạng.")
        for answer in ANSWERS[1:-1]:
            await say(answer, expect="/10)")
        await say(ANSWERS[-1], expect="Giấy chứng sinh")

        # Refused, each saying why.
        big = {"generate": {"kind": "bytes", "size": 60 * 1024 * 1024}, "name": "ho-so.pdf"}
        await send("user_send_file", big, expect="tệp 60 MB lớn hơn giới hạn 10 MB")
        liar = {"generate": {"kind": "docx"}, "name": "giay-chung-sinh.pdf"}
        await send("user_send_file", liar, expect="tên tệp ghi là tệp PDF nhưng nội dung là")
        bomb = {"generate": {"kind": "png_bomb"}}
        await send("user_send_image", bomb, expect="ảnh quá lớn")

        # Accepted: a PDF, then two photos with a GPS position.
        pdf = {"generate": {"kind": "pdf", "size": 4000}, "name": "giay-chung-sinh.pdf"}
        await send("user_send_file", pdf, expect="Đã nhận 1/2 tệp cho «Giấy chứng sinh»")
        await say("XONG", expect="căn cước")
        photo = {"generate": {"kind": "jpeg", "width": 96, "height": 64, "exif_gps": True}}
        await send("user_send_image", photo, expect="Đã nhận 1/2")
        await send("user_send_image", photo, expect="kết hôn")
        await say("BO QUA", expect="Nhắn XAC NHAN để nộp.")
        confirm = await say("XAC NHAN", expect="Mã nộp hồ sơ: HS-")

        [record] = await read_topic(kafka_bootstrap, topic, 1)
        event = json.loads(record.value)
        submission_id = event["submission_id"]
        assert record.key == submission_id.encode()
        assert submission_id in await last_reply()
        assert event["province"] == "da-nang"
        assert event["citizen"]["zalo_user_id"] == USER
        assert event["fields"]["child_birth_date"] == BIRTH.isoformat()
        assert len(event["attachments"]) == 3
        store = open_object_store(objects_settings)
        for attachment in event["attachments"]:
            content = await store.get(attachment["object_key"])
            assert hashlib.sha256(content.data).hexdigest() == attachment["sha256"]
            assert len(content.data) == attachment["size"]
            if attachment["content_type"] == "image/jpeg":
                assert b"Exif" not in content.data
                with Image.open(io.BytesIO(content.data)) as photo_back:
                    assert not photo_back.getexif()
            assert attachment["url"].startswith("http")  # pre-signed by the S3 store
        assert [a["document"] for a in event["attachments"]] == [
            "birth_certificate",
            "applicant_id_card",
            "applicant_id_card",
        ]

        # Zalo delivers the confirmation again: nothing new.
        retry = {
            "content-type": "application/json",
            "X-ZEvent-Signature": confirm["signature"],
            "num_retry": "1",
        }
        replies = len(await chat(admin, USER))
        async with httpx.AsyncClient() as http:
            again = await http.post(url, content=confirm["body"].encode(), headers=retry)
        assert again.status_code == 200
        await asyncio.sleep(1.5)
        assert len(await read_topic(kafka_bootstrap, topic, 2, timeout=3)) == 1
        assert len(await chat(admin, USER)) == replies

        # The centre opens the dossier: its first event names the submission and reaches her.
        code = "000.20.31.H56-261205-0042"
        received = make_event(
            sequence=1,
            state="RECEIVED",
            previous_state="SUBMITTED",
            case={"code": code},
            recipient={"phone": "0912345678", "notify_consent": False},
            submission_id=submission_id,
        )
        await publish(encode(received), key=code)
        told = await until(
            lambda: _containing(admin, code), "the dossier's first message reaches her"
        )
        assert told


async def _more(admin, before: int) -> bool:
    return len(await chat(admin, USER)) > before


async def _containing(admin, code: str) -> list[str]:
    return [text for text in await chat(admin, USER) if code in text]
