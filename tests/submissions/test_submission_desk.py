"""The submission desk over the real store: events in, one step each, replies, the outbox."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from bridge.citizens.desk import CitizenDesk, LinkPolicy
from bridge.citizens.replies import Replies
from bridge.store.database import open_database
from bridge.store.migrate import upgrade_sync
from bridge.submissions import SubmissionSettings, load_forms
from bridge.submissions.conversation import StoredAttachment
from bridge.submissions.service import SubmissionDesk
from bridge.submissions.store import SubmissionStore
from bridge.webhook.events import InboundAttachment, OaEvent
from bridge.zalo.client import SendReceipt

USER = "2512523625412515"
NOON = datetime(2026, 3, 10, 5, 0, tzinfo=UTC).timestamp()  # 12:00 in Hà Nội
ANSWERS = [
    "Nguyễn Thị Minh Anh",
    "05/03/2026",
    "2",
    "Bệnh viện Phụ sản, 123 Lê Lợi, Hải Châu",
    "Trần Thị Bình",
    "1",
    "001203004567",
    "0905123456",
    "12 Lê Lợi, Hải Châu, Đà Nẵng",
    "BO QUA",
]


class Sender:
    def __init__(self) -> None:
        self.texts: list[tuple[str, str]] = []

    async def send_text(self, user_id, text):
        self.texts.append((user_id, text))
        return SendReceipt(message_id=f"m{len(self.texts)}", user_id=user_id, sent_time=None)


class Intake:
    """Stores whatever it is given, refuses URLs that say so."""

    def __init__(self) -> None:
        self.taken: list[str] = []
        self.discarded: list[str] = []

    async def take(self, attachment, *, document, object_key):
        if "refuse" in attachment.url:
            return "tệp lớn hơn 10 MB."
        self.taken.append(object_key)
        kind = "application/pdf" if attachment.kind == "file" else "image/jpeg"
        return StoredAttachment(document.key, object_key, "0" * 64, kind, 1234)

    async def discard(self, object_keys):
        self.discarded.extend(object_keys)


@pytest.fixture
async def desk(ledger_url):
    upgrade_sync(ledger_url)
    database = open_database(ledger_url)
    sender, intake = Sender(), Intake()
    store = SubmissionStore(database)
    service = SubmissionDesk(
        catalogue=load_forms(SubmissionSettings()),
        store=store,
        sender=sender,
        intake=intake,
        province="da-nang",
        timezone="Asia/Ho_Chi_Minh",
        clock=lambda: NOON,
    )
    try:
        yield service, store, sender, intake
    finally:
        await database.dispose()


_ids = itertools.count()


def text(body: str) -> OaEvent:
    n = next(_ids)
    return OaEvent("user_send_text", USER, NOON, f"msg:t{n}", text=body)


def image(url: str = "https://f.zdn.vn/p.jpg") -> OaEvent:
    n = next(_ids)
    return OaEvent(
        "user_send_image", USER, NOON, f"msg:i{n}", attachments=(InboundAttachment("image", url),)
    )


def pdf() -> OaEvent:
    n = next(_ids)
    attachment = InboundAttachment("file", "https://f.zdn.vn/a.pdf", "a.pdf", 2000)
    return OaEvent("user_send_file", USER, NOON, f"msg:f{n}", attachments=(attachment,))


async def test_a_whole_dossier_filed_with_two_photos_and_a_pdf(desk):
    service, store, sender, intake = desk
    assert await service.take(text("NOP HO SO"))
    assert await service.take(text("1"))
    assert await service.take(text(ANSWERS[0]))
    assert await service.take(text("5/3/26"))  # wrong first
    assert sender.texts[-1][1].startswith("❗ Ngày sinh chưa đúng dạng.")
    for answer in ANSWERS[1:]:
        assert await service.take(text(answer))
    assert await service.take(pdf())  # birth certificate
    assert await service.take(text("XONG"))
    assert await service.take(image())
    assert await service.take(image("https://f.zdn.vn/refuse.jpg"))
    assert "Chưa nhận tệp này: tệp lớn hơn 10 MB." in sender.texts[-1][1]
    assert await service.take(image())
    assert await service.take(text("BO QUA"))
    assert "Nhắn XAC NHAN để nộp." in sender.texts[-1][1]
    confirm = text("XAC NHAN")
    assert await service.take(confirm)
    assert await store.draft(USER) is None
    [filed] = await store.unpublished()
    assert sender.texts[-1][1].count(filed.submission_id) == 1
    event = filed.event
    assert event["province"] == "da-nang"
    assert event["procedure_code"] == "1.001193"
    assert event["citizen"]["zalo_user_id"] == USER
    assert event["fields"]["child_birth_date"] == "2026-03-05"
    assert event["fields"]["applicant_citizen_id"] == "001203004567"
    assert event["fields"]["note"] is None
    assert [a["document"] for a in event["attachments"]] == [
        "birth_certificate",
        "applicant_id_card",
        "applicant_id_card",
    ]
    assert filed.object_keys == tuple(intake.taken)
    assert filed.submission_id.startswith("HS-20260310")
    # a replay of the confirmation (the inbox after a crash) adds nothing
    sent = len(sender.texts)
    assert await service.take(confirm)
    assert len(await store.unpublished()) == 1
    assert len(sender.texts) == sent


async def test_a_replayed_answer_adds_no_step(desk):
    service, store, _, _ = desk
    await service.take(text("Nộp hồ sơ"))
    await service.take(text("1"))
    name = text(ANSWERS[0])
    await service.take(name)
    before = await store.draft(USER)
    assert await service.take(name)
    assert await store.draft(USER) == before
    assert service.stats.replayed == 1


async def test_texts_and_photos_without_a_draft_go_on_to_the_desk(desk):
    service, store, _, intake = desk
    assert not await service.take(text("000.00.00.H56-260310-0001 123456"))
    assert not await service.take(image())
    assert intake.taken == []
    assert await store.draft(USER) is None


async def test_cancel_deletes_the_stored_photos(desk):
    service, store, sender, intake = desk
    await service.take(text("NOP HO SO"))
    await service.take(text("1"))
    for answer in ANSWERS:
        await service.take(text(answer))
    await service.take(image())
    assert await service.take(text("HUY"))
    assert intake.discarded == intake.taken != []
    assert await store.draft(USER) is None
    assert "Đã hủy" in sender.texts[-1][1]


async def test_the_chat_desk_hands_submission_events_over_first(desk):
    service, _, sender, intake = desk

    class Store:
        async def first_seen(self, _key, *, at):  # noqa: ARG002 - the port's keyword
            return True

        async def interacted(self, _user_id, _at):
            return None

    chat = CitizenDesk(
        store=Store(),  # type: ignore[arg-type]
        sender=sender,  # type: ignore[arg-type]
        replies=Replies(),
        policy=LinkPolicy(factor="receipt_secret", hmac_key="k"),
    )
    chat.submissions = service
    await chat.handle(text("xin chào"))  # no draft: the chat's own answer
    assert "Ông/Bà muốn nộp hồ sơ" not in sender.texts[-1][1]
    await chat.handle(image())  # no draft: a photo is left alone
    assert intake.taken == []
    await chat.handle(text("NOP HO SO"))
    assert "Ông/Bà muốn nộp hồ sơ thủ tục nào?" in sender.texts[-1][1]
    await chat.handle(text("HUY"))  # HUY ends the draft, not a dossier's notifications
    assert "Đã hủy hồ sơ đang khai" in sender.texts[-1][1]


async def test_one_reminder_then_expiry_deletes_the_photos(ledger_url):
    upgrade_sync(ledger_url)
    database = open_database(ledger_url)
    now = [NOON]
    sender, intake = Sender(), Intake()
    store = SubmissionStore(database)
    service = SubmissionDesk(
        catalogue=load_forms(SubmissionSettings()),
        store=store,
        sender=sender,
        intake=intake,
        province="da-nang",
        timezone="Asia/Ho_Chi_Minh",
        clock=lambda: now[0],
    )
    try:
        await service.take(text("NOP HO SO"))
        await service.take(text("1"))
        for answer in ANSWERS:
            await service.take(text(answer))
        await service.take(image())
        sent = len(sender.texts)
        limits = {"remind_after": 1_800.0, "expire_after": 86_400.0}
        now[0] += 1_799
        await service.sweep(**limits)
        assert len(sender.texts) == sent  # not yet
        now[0] += 2
        await service.sweep(**limits)
        await service.sweep(**limits)
        assert len(sender.texts) == sent + 1  # once
        assert "còn dang dở" in sender.texts[-1][1]
        assert "Đăng ký khai sinh" in sender.texts[-1][1]
        now[0] += 86_400
        await service.sweep(**limits)
        assert "đã được hủy" in sender.texts[-1][1]
        assert intake.discarded == intake.taken != []
        assert await store.draft(USER) is None
        assert (service.stats.reminded, service.stats.expired) == (1, 1)
    finally:
        await database.dispose()
