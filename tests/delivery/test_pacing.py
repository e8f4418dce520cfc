"""Senders outside the delivery path take the OA limiter's slots too."""

from __future__ import annotations

import asyncio

from aiolimiter import AsyncLimiter

from bridge.delivery.pacing import PacedButtonSender, PacedSender, ReplyBudget
from bridge.feedback.service import ButtonSender
from bridge.zalo import SendReceipt


class CountingLimiter:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def acquire(self, amount: float = 1) -> None:
        self.log.append(f"slot {amount}")


class RecordingSender:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def send_text(self, user_id, text):
        self.log.append(f"text {user_id} {text}")
        return SendReceipt(message_id="m1", user_id=user_id, sent_time=None)

    async def find_sent(self, user_id, text, *, since):
        self.log.append(f"find {user_id} {text} {since}")

    async def send_template(self, user_id, template_id, template_data):
        self.log.append(f"template {user_id} {template_id} {dict(template_data)}")
        return SendReceipt(message_id="m2", user_id=user_id, sent_time=None)

    async def send_template_by_phone(self, phone, template_id, template_data, tracking_id):
        self.log.append(f"phone {phone} {template_id} {dict(template_data)} {tracking_id}")
        return SendReceipt(message_id="m3", user_id=None, sent_time=None)


async def test_every_call_waits_for_a_slot_before_it_goes_out():
    log: list[str] = []
    paced = PacedSender(RecordingSender(log), CountingLimiter(log))
    assert (await paced.send_text("42", "Kính gửi Ông/Bà")).message_id == "m1"
    assert await paced.find_sent("42", "Kính gửi Ông/Bà", since=0.0) is None
    assert (await paced.send_template("42", "310001", {"ma_ho_so": "X"})).message_id == "m2"
    receipt = await paced.send_template_by_phone("84912345678", "310002", {"a": "b"}, "t1")
    assert receipt.message_id == "m3"
    assert log == [
        "slot 1",
        "text 42 Kính gửi Ông/Bà",
        "slot 1",
        "find 42 Kính gửi Ông/Bà 0.0",
        "slot 1",
        "template 42 310001 {'ma_ho_so': 'X'}",
        "slot 1",
        "phone 84912345678 310002 {'a': 'b'} t1",
    ]


class NeverLimiter:
    """A bucket that never has room."""

    async def acquire(self, amount: float = 1) -> None:  # noqa: ARG002 - the port's signature
        await asyncio.Event().wait()


async def test_the_chat_budget_grants_a_free_slot():
    log: list[str] = []
    assert await ReplyBudget(CountingLimiter(log), wait=5.0).take()
    assert log == ["slot 1"]


async def test_the_chat_budget_gives_up_rather_than_queue_behind_a_full_bucket():
    assert not await ReplyBudget(NeverLimiter(), wait=0.01).take()


async def test_a_flood_takes_no_more_than_the_chat_budget_of_the_oa_limiter():
    """Chat answers go through the chat's bucket first: a full one keeps them from the OA's."""
    log: list[str] = []
    budget = ReplyBudget(AsyncLimiter(max_rate=3, time_period=3600), wait=0.01)
    paced = PacedSender(RecordingSender(log), CountingLimiter(log))
    granted = 0
    for n in range(10):
        if await budget.take():
            granted += 1
            await paced.send_text("42", f"answer {n}")
    assert granted == 3
    assert log.count("slot 1") == 3


class ButtonRecordingSender(RecordingSender):
    async def send_text_with_buttons(self, user_id, text, buttons):
        self.log.append(f"buttons {user_id} {text} {list(buttons)}")
        return SendReceipt(message_id="m4", user_id=user_id, sent_time=None)


async def test_the_survey_s_question_with_buttons_takes_a_slot_too():
    log: list[str] = []
    paced = PacedButtonSender(ButtonRecordingSender(log), CountingLimiter(log))
    assert isinstance(paced, ButtonSender)  # the survey still sends its buttons
    receipt = await paced.send_text_with_buttons("42", "Hài lòng?", [("Hài lòng", "#DANHGIA 4")])
    assert receipt.message_id == "m4"
    assert log == ["slot 1", "buttons 42 Hài lòng? [('Hài lòng', '#DANHGIA 4')]"]


def test_a_paced_sender_without_buttons_does_not_claim_them():
    assert not isinstance(PacedSender(RecordingSender([]), CountingLimiter([])), ButtonSender)
