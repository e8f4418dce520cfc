"""The guided conversation, pure: choose, answer, correct, edit, attach, confirm, cancel."""

from __future__ import annotations

import unicodedata
from dataclasses import replace
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.submissions import SubmissionSettings, load_forms
from bridge.submissions.conversation import (
    Attached,
    Draft,
    Outcome,
    Refusal,
    StoredAttachment,
    Text,
    expecting,
    is_start,
    step,
)

TODAY = date(2026, 3, 10)
CATALOGUE = load_forms(SubmissionSettings())
BIRTH = CATALOGUE.by_code("1.001193")
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


def say(draft: Draft | None, text: str) -> Outcome:
    outcome = step(CATALOGUE, draft, Text(text), today=TODAY)
    assert outcome is not None, f"{text!r} was not taken"
    return outcome


def photo(document: str, n: int) -> Attached:
    return Attached(
        StoredAttachment(document, f"submissions/x/{document}-{n}", "0" * 64, "image/jpeg", 100)
    )


def filled() -> Draft:
    draft = say(say(None, "NOP HO SO").draft, "1").draft
    for answer in ANSWERS:
        draft = say(draft, answer).draft
    return draft


@pytest.mark.parametrize("text", ["NOP HO SO", "Nộp hồ sơ", "nộp  hồ sơ", "#NOPHOSO"])
def test_a_start_opens_the_list_of_procedures(text):
    assert is_start(text)
    outcome = say(None, text)
    assert outcome.draft == Draft()
    assert "1. Đăng ký khai sinh\n2. Đăng ký thành lập hộ kinh doanh" in outcome.replies[0]


def test_without_a_draft_other_texts_and_attachments_go_on_to_the_desk():
    assert step(CATALOGUE, None, Text("HUY 000.00.00.H56-260310-0001"), today=TODAY) is None
    assert step(CATALOGUE, None, photo("birth_certificate", 1), today=TODAY) is None


def test_choosing_then_a_wrong_answer_gets_a_correction_and_the_same_question():
    draft = say(say(None, "NOP HO SO").draft, "9").draft
    assert draft == Draft()
    chosen = say(draft, "1")
    assert chosen.draft.form_code == "1.001193"
    assert chosen.replies[0].startswith("(1/10) Xin cho biết họ, chữ đệm và tên của trẻ.")
    named = say(chosen.draft, "Nguyễn Thị Minh Anh").draft
    wrong = say(named, "2026-03-05")
    assert wrong.draft == named
    assert wrong.replies[0].startswith("❗ Ngày sinh chưa đúng dạng.")
    assert "(2/10) Trẻ sinh ngày nào?" in wrong.replies[0]
    right = say(named, "05/03/2026").draft
    assert right.answers["child_birth_date"] == "2026-03-05"


def test_the_whole_form_with_photos_a_pdf_an_edit_and_the_confirmation():
    draft = filled()
    assert draft.answers["note"] is None
    assert expecting(CATALOGUE, draft).key == "birth_certificate"
    outcome = step(CATALOGUE, draft, photo("birth_certificate", 1), today=TODAY)
    assert "Đã nhận 1/2 tệp cho «Giấy chứng sinh»" in outcome.replies[0]
    draft = say(outcome.draft, "XONG").draft
    assert expecting(CATALOGUE, draft).key == "applicant_id_card"
    draft = step(CATALOGUE, draft, photo("applicant_id_card", 1), today=TODAY).draft
    second = step(CATALOGUE, draft, photo("applicant_id_card", 2), today=TODAY)
    assert "Đã nhận đủ 2/2" in second.replies[0]
    assert "giấy chứng nhận kết hôn" in second.replies[1]
    done = say(second.draft, "BO QUA")
    summary = done.replies[0]
    assert "7. Số định danh cá nhân của người đi khai sinh: ********4567" in summary
    assert "001203004567" not in summary
    assert "• Căn cước của người đi khai sinh: 2 tệp" in summary
    assert "Nhắn XAC NHAN để nộp." in summary
    edited = say(done.draft, "SUA 3")
    assert edited.replies[0].startswith("(3/10) Giới tính của trẻ?")
    back = say(edited.draft, "Nam")
    assert back.draft.answers["child_sex"] == "nam"
    assert back.replies[0].startswith("Hồ sơ «Đăng ký khai sinh»")
    confirmed = say(back.draft, "Xác nhận")
    assert confirmed.draft is None
    assert confirmed.submit is not None
    assert confirmed.submit.form is BIRTH
    assert len(confirmed.submit.draft.attachments) == 3


def test_confirming_before_the_end_asks_the_current_question():
    draft = say(say(None, "NOP HO SO").draft, "1").draft
    for word in ("XAC NHAN", "Xong", "BO QUA"):
        outcome = say(draft, word)
        assert outcome.submit is None
        assert outcome.draft == draft  # never taken as the child's name
        assert outcome.replies[0].startswith("❗ Mục này bắt buộc")


def test_a_required_document_cannot_be_skipped_or_finished_empty():
    draft = filled()
    for text in ("BO QUA", "XONG", "xin chào"):
        outcome = say(draft, text)
        assert outcome.draft == draft
        assert outcome.replies[0].startswith("Xin gửi ảnh chụp rõ Giấy chứng sinh")


def test_cancel_deletes_the_draft_and_every_stored_object():
    draft = step(CATALOGUE, filled(), photo("birth_certificate", 1), today=TODAY).draft
    outcome = say(draft, "Hủy")
    assert outcome.draft is None
    assert outcome.discard == ("submissions/x/birth_certificate-1",)
    assert "Đã hủy" in outcome.replies[0]


def test_an_unexpected_attachment_is_refused_and_deleted():
    draft = say(say(None, "NOP HO SO").draft, "1").draft
    outcome = step(CATALOGUE, draft, photo("birth_certificate", 1), today=TODAY)
    assert outcome.draft == draft
    assert outcome.discard == ("submissions/x/birth_certificate-1",)
    refused = step(CATALOGUE, filled(), Refusal("tệp lớn hơn 10 MB."), today=TODAY)
    assert refused.replies[0] == (
        "Chưa nhận tệp này: tệp lớn hơn 10 MB. Xin gửi lại cho «Giấy chứng sinh»."
    )


def test_the_draft_survives_its_json_form():
    draft = step(CATALOGUE, filled(), photo("birth_certificate", 1), today=TODAY).draft
    draft = replace(draft, editing="note")
    assert Draft.from_json(draft.to_json()) == draft


def test_a_withdrawn_form_sends_her_back_to_the_list():
    draft = Draft(form_code="9.999999", answers={"x": "y"})
    outcome = say(draft, "1")
    assert outcome.draft.form_code == "1.001193"


@given(st.lists(st.text(max_size=60) | st.sampled_from([*ANSWERS, "SUA 2", "XONG"]), max_size=30))
def test_any_texts_keep_a_consistent_draft_and_nfc_replies(texts):
    draft: Draft | None = say(None, "NOP HO SO").draft
    for text in texts:
        outcome = step(CATALOGUE, draft, Text(text), today=TODAY)
        if outcome is None:
            break
        for reply in outcome.replies:
            assert reply.strip()
            assert unicodedata.is_normalized("NFC", reply)
            assert "001203004567" not in reply
        if outcome.submit is not None:
            form = outcome.submit.form
            assert {spec.key for spec in form.fields} <= set(outcome.submit.draft.answers)
        draft = outcome.draft
        if draft is None:
            break
        assert Draft.from_json(draft.to_json()) == draft


def test_a_bare_huy_while_a_name_is_asked_is_not_taken_as_cancel_nor_as_the_name():
    draft = say(say(None, "NOP HO SO").draft, "1").draft
    spec = BIRTH.fields[0]  # the child's full name
    assert spec.kind == "text"
    for bare in ("Huy", "huy", "HUY", "Hủy"):
        outcome = say(draft, bare)
        assert outcome.draft == draft  # nothing answered, nothing cancelled
        assert outcome.discard == ()
        assert "HUY HO SO" in outcome.replies[0]
        assert spec.prompt in outcome.replies[0]
    for command in ("HUY HO SO", "Hủy hồ sơ", "huy bo"):
        assert say(draft, command).draft is None
    # Her full answer is taken as usual.
    answered = say(draft, "Nguyễn Văn Huy").draft
    assert answered.answers[spec.key] == "Nguyễn Văn Huy"


def test_a_bare_huy_cancels_where_no_free_text_is_asked():
    choosing = say(None, "NOP HO SO").draft
    assert say(choosing, "Huy").draft is None
    attaching = step(CATALOGUE, filled(), photo("birth_certificate", 1), today=TODAY).draft
    assert say(attaching, "huy").draft is None
