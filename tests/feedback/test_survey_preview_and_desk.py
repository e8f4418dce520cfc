"""The survey in the preview page, and in the chat desk: its answers go to it first."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bridge.citizens.desk import CitizenDesk, LinkPolicy
from bridge.citizens.replies import Replies
from bridge.feedback import FeedbackSettings
from bridge.feedback.preview import survey_messages
from bridge.templates.preview import load_catalog
from bridge.webhook.events import OaEvent
from bridge.wording import MessageContext
from bridge.zalo.client import SendReceipt

CONTEXT = MessageContext(
    lookup_url_template="https://dvc.example.gov.vn/tra-cuu?ma={case_code}",
    timezone=ZoneInfo("Asia/Ho_Chi_Minh"),
)


def test_the_preview_shows_the_survey_with_its_buttons_after_the_templates():
    catalog = load_catalog(
        [], CONTEXT, more_messages=survey_messages(FeedbackSettings(enabled=True))
    )
    rendered = catalog.render("package", "1.001193")
    names = [m["template"] for m in rendered["messages"]]
    assert names[-6:] == [
        "survey.question",
        "survey.thanks",
        "survey.ask_reason",
        "survey.comment",
        "survey.repeated",
        "survey.stopped",
    ]
    question = rendered["messages"][-6]
    assert "có hài lòng" in question["text"]
    assert [b["title"] for b in question["card"]["buttons"]] == [
        "Rất hài lòng",
        "Hài lòng",
        "Chưa hài lòng",
    ]


class Survey:
    def __init__(self) -> None:
        self.texts: list[str] = []

    async def answer(self, _user_id, text, _at):
        self.texts.append(text)
        return "Cảm ơn Ông/Bà đã đánh giá." if text == "5" else None


class Sender:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send_text(self, user_id, text):
        self.sent.append(text)
        return SendReceipt(message_id="m", user_id=user_id, sent_time=None)


class Store:
    async def first_seen(self, _key, *, at):  # noqa: ARG002 - the port's keyword
        return True

    async def interacted(self, _user_id, _at):
        return None


async def test_the_desk_hands_texts_to_the_survey_first_and_goes_on_when_it_declines():
    survey, sender = Survey(), Sender()
    desk = CitizenDesk(
        store=Store(),  # type: ignore[arg-type]
        sender=sender,  # type: ignore[arg-type]
        replies=Replies(),
        policy=LinkPolicy(factor="receipt_secret", hmac_key="k"),
        survey=survey,
    )
    for n, text in enumerate(["5", "xin chào"]):
        event = OaEvent(name="user_send_text", user_id="u1", at=1.0, text=text, dedupe_key=f"k{n}")
        await desk.handle(event)
    assert survey.texts == ["5", "xin chào"]
    assert sender.sent[0] == "Cảm ơn Ông/Bà đã đánh giá."
    assert sender.sent[1] != sender.sent[0]  # the chat's own answer (the instructions)
