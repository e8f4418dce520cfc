"""The survey's messages for the preview page (``zalo-bridge preview``, ``make run``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bridge.feedback import wording
from bridge.feedback.answers import Level

if TYPE_CHECKING:
    from collections.abc import Callable

    from bridge.feedback.settings import FeedbackSettings

__all__ = ["SAMPLE_AGENCY", "SAMPLE_CASE_CODE", "survey_messages"]

SAMPLE_CASE_CODE = "000.20.31.H56-260310-0042"
SAMPLE_AGENCY = "Trung tâm Phục vụ hành chính công phường Hạc Thành"


def _entry(
    name: str, label: str, text: str, buttons: tuple[tuple[str, str], ...] = ()
) -> dict[str, Any]:
    card = (
        None
        if not buttons
        else {
            "title": "",
            "rows": [],
            "buttons": [{"title": title, "url": "#"} for title, _payload in buttons],
        }
    )
    return {
        "template": name,
        "label": label,
        "sent": True,
        "text": text,
        "version": None,
        "style": None,
        "template_data": {},
        "card": card,
    }


def survey_messages(settings: FeedbackSettings) -> Callable[[str, str], list[dict[str, Any]]]:
    """The page's extra messages: the question with its buttons, the answers' replies."""

    def messages(procedure_code: str, procedure_name: str) -> list[dict[str, Any]]:
        del procedure_code  # the question names the procedure by its name
        question = wording.question(
            settings.question,
            case_code=SAMPLE_CASE_CODE,
            procedure_name=procedure_name,
            agency_name=SAMPLE_AGENCY,
        )
        buttons = wording.BUTTONS if settings.buttons else ()
        reason = wording.ask_reason(settings.comment_minutes)
        return [
            _entry("survey.question", "Khảo sát: câu hỏi", question, buttons),
            _entry("survey.thanks", "Khảo sát: cảm ơn", wording.thanks(Level.SATISFIED)),
            _entry("survey.ask_reason", "Khảo sát: hỏi lý do", reason),
            _entry("survey.comment", "Khảo sát: đã nhận ý kiến", wording.comment_received()),
            _entry("survey.repeated", "Khảo sát: đã đánh giá", wording.already_answered()),
            _entry("survey.stopped", "Khảo sát: HUY KHAO SAT", wording.stopped()),
        ]

    return messages
