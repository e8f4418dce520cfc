"""Result documents through the use case: after the text, once per (event, document, user)."""

from __future__ import annotations

import contextlib
import json

from bridge.delivery.outbox import outputs_for
from bridge.errors import (
    DeliveryInDoubtError,
    DocumentNotSendableError,
    MessageRejectedError,
    RetryableDeliveryError,
)
from bridge.result_documents import DocumentSettings, plan
from bridge.status import Channel, DeliveryStatus, DocumentOutcome
from bridge.zalo import SendReceipt
from bridge_devkit.document_host import JPEG, document, jpeg_bytes, pdf_bytes
from cascade_support import (
    CS,
    DAY,
    LINKED,
    PHONE,
    UID,
    USER,
    ChannelZalo,
    FakeDirectory,
    deliverer,
    outside_window,
    record_of,
)

CASE = "000.20.31.H56-260310-0042"
PDF_DOC = document("https://dvc.example.gov.vn/kq/1.pdf", pdf_bytes(2_000_000))
JPG_DOC = document("https://dvc.example.gov.vn/kq/2.jpg", jpeg_bytes(300_000), JPEG)
BIG_DOC = document("https://dvc.example.gov.vn/kq/3.pdf", pdf_bytes(64), size=10 * 1_048_576)


class Killed(BaseException):
    """Leaves the use case like a kill -9: nothing catches it, nothing is settled."""


class FakeDocuments:
    """The DocumentSender port: the real plan, scripted sends into the same log as the texts."""

    def __init__(
        self,
        zalo: ChannelZalo,
        *,
        reads_back: bool = True,
        shown: dict[str, list[str | None]] | None = None,
        **failures: list[Exception],
    ) -> None:
        self.zalo = zalo
        self.settings = DocumentSettings()
        self.failures = failures
        self.reads_back = reads_back
        self.shown = shown or {}  # per document: what each read-back finds (default: nothing)
        self.lookups: list[tuple[str, str, Channel, float, float, frozenset[str]]] = []

    def plan(self, document, *, window_open):
        return plan(document, window_open=window_open, settings=self.settings)

    async def find_sent(self, user_id, document, channel, *, sent_after, sent_before, taken):
        self.lookups.append((user_id, document.title, channel, sent_after, sent_before, taken))
        script = self.shown.get(document.sha256[:8], [])
        return script.pop(0) if script else None

    async def send(self, user_id, document, channel) -> SendReceipt:
        self.zalo.sent.append((channel, user_id, document.title))
        script = self.failures.get(document.sha256[:8], [])
        if script:
            raise script.pop(0)
        return SendReceipt(
            message_id=f"{channel.value}-{len(self.zalo.sent)}", user_id=None, sent_time=None
        )


def result_event(make_event, *documents, **changes):
    return make_event(
        state="RESULT_READY",
        previous_state="IN_PROGRESS",
        sequence=9,
        result={"pickup_location": "Quầy số 3", "documents": list(documents)},
        **changes,
    )


class TestDocuments:
    async def test_the_text_then_a_file_then_an_image(
        self, make_event, encode, ledger, clock, sleeps
    ):
        zalo = ChannelZalo()
        use_case = deliverer(zalo, ledger, clock, sleeps, documents=FakeDocuments(zalo))
        event = result_event(make_event, PDF_DOC, JPG_DOC)
        outcome = await use_case.handle(record_of(encode(event)))
        assert zalo.channels() == [
            (CS, USER),
            (Channel.ZALO_FILE, USER),
            (Channel.ZALO_IMAGE, USER),
        ]
        text = zalo.sent[0][2]
        assert "Văn bản kết quả" in text
        assert PDF_DOC["url"] in text, "the text carries the links too"
        assert (outcome.status, outcome.channel) == (DeliveryStatus.DELIVERED, CS)
        assert [(d.index, d.channel, d.outcome) for d in outcome.documents] == [
            (0, Channel.ZALO_FILE, DocumentOutcome.SENT),
            (1, Channel.ZALO_IMAGE, DocumentOutcome.SENT),
        ]
        assert outcome.documents[0].zalo_message_id == "zalo_file-2"

    async def test_a_redelivery_sends_nothing_again_and_reports_the_same(
        self, make_event, encode, ledger, clock, sleeps
    ):
        zalo = ChannelZalo()
        use_case = deliverer(zalo, ledger, clock, sleeps, documents=FakeDocuments(zalo))
        value = encode(result_event(make_event, PDF_DOC, JPG_DOC))
        first = await use_case.handle(record_of(value))
        again = await use_case.handle(record_of(value, offset=99))
        assert len(zalo.sent) == 3
        assert again.documents == first.documents

    async def test_a_crash_between_the_file_and_the_image_sends_only_the_image_next_time(
        self, make_event, encode, ledger, clock, sleeps
    ):
        zalo = ChannelZalo()
        crash = Killed()
        documents = FakeDocuments(zalo, **{JPG_DOC["sha256"][:8]: [crash]})
        value = encode(result_event(make_event, PDF_DOC, JPG_DOC))
        with contextlib.suppress(Killed):
            await deliverer(zalo, ledger, clock, sleeps, documents=documents).handle(
                record_of(value)
            )
        clock.now += 3600  # the dead owner's lease and the in-doubt hold have passed
        zalo.sent.clear()
        outcome = await deliverer(
            zalo, ledger, clock, sleeps, owner="p2", documents=FakeDocuments(zalo)
        ).handle(record_of(value))
        assert zalo.channels() == [(Channel.ZALO_IMAGE, USER)]
        assert [d.outcome for d in outcome.documents] == [DocumentOutcome.SENT] * 2

    async def test_linked_users_get_the_documents_too_and_phone_recipients_never(
        self, make_event, encode, ledger, clock, sleeps
    ):
        zalo = ChannelZalo()
        citizens = FakeDirectory(linked={CASE: [LINKED]})
        use_case = deliverer(
            zalo, ledger, clock, sleeps, citizens=citizens, documents=FakeDocuments(zalo)
        )
        event = result_event(make_event, PDF_DOC, recipient={"phone": PHONE})
        outcome = await use_case.handle(record_of(encode(event)))
        assert zalo.channels() == [
            (CS, USER),
            (CS, LINKED),
            (Channel.ZALO_FILE, USER),
            (Channel.ZALO_FILE, LINKED),
        ]
        assert [(d.recipient, d.zalo_user_id) for d in outcome.documents] == [
            ("event_user", USER),
            ("linked_user", LINKED),
        ]
        # The status event names only the user the one-stop-shop named.
        [status, *_] = outputs_for(
            record_of(encode(event)), outcome, status_topic="s", dead_letter_topic="d"
        )
        body = json.loads(status.value)
        assert [d["zalo_user_id"] for d in body["documents"]] == [USER, None]
        assert LINKED not in status.value.decode()

    async def test_a_phone_only_recipient_gets_the_template_and_no_document(
        self, make_event, encode, ledger, clock, sleeps
    ):
        zalo = ChannelZalo()
        use_case = deliverer(zalo, ledger, clock, sleeps, documents=FakeDocuments(zalo))
        event = result_event(make_event, PDF_DOC, recipient={"zalo_user_id": None, "phone": PHONE})
        outcome = await use_case.handle(record_of(encode(event)))
        assert [channel for channel, _ in zalo.channels()] == [Channel.ZALO_TEMPLATE_PHONE]
        assert outcome.documents == ()

    async def test_without_consent_nothing_goes(self, make_event, encode, ledger, clock, sleeps):
        zalo = ChannelZalo()
        use_case = deliverer(zalo, ledger, clock, sleeps, documents=FakeDocuments(zalo))
        event = result_event(make_event, PDF_DOC, recipient={"notify_consent": False})
        outcome = await use_case.handle(record_of(encode(event)))
        assert zalo.sent == []
        assert outcome.documents == ()

    async def test_outside_the_window_the_template_goes_and_the_citizen_keeps_the_link(
        self, make_event, encode, ledger, clock, sleeps
    ):
        zalo = ChannelZalo(zalo_cs=[outside_window()])
        use_case = deliverer(
            zalo,
            ledger,
            clock,
            sleeps,
            citizens=FakeDirectory(interactions={USER: clock.now - 30 * DAY}),
            documents=FakeDocuments(zalo),
        )
        outcome = await use_case.handle(record_of(encode(result_event(make_event, PDF_DOC))))
        assert zalo.channels() == [(UID, USER)]
        [doc] = outcome.documents
        assert (doc.outcome, doc.reason) == (DocumentOutcome.LINK, "link:window")

    async def test_too_large_for_zalo_keeps_the_link(
        self, make_event, encode, ledger, clock, sleeps
    ):
        zalo = ChannelZalo()
        use_case = deliverer(zalo, ledger, clock, sleeps, documents=FakeDocuments(zalo))
        outcome = await use_case.handle(
            record_of(encode(result_event(make_event, BIG_DOC, JPG_DOC)))
        )
        assert zalo.channels() == [(CS, USER), (Channel.ZALO_IMAGE, USER)]
        assert [(d.outcome, d.reason) for d in outcome.documents] == [
            (DocumentOutcome.LINK, "link:too_large"),
            (DocumentOutcome.SENT, None),
        ]

    async def test_a_refused_document_settles_once_and_the_text_stays_delivered(
        self, make_event, encode, ledger, clock, sleeps
    ):
        zalo = ChannelZalo()
        refused = DocumentNotSendableError("refused:sha256")
        documents = FakeDocuments(zalo, **{PDF_DOC["sha256"][:8]: [refused]})
        use_case = deliverer(zalo, ledger, clock, sleeps, documents=documents)
        value = encode(result_event(make_event, PDF_DOC))
        outcome = await use_case.handle(record_of(value))
        assert outcome.status is DeliveryStatus.DELIVERED
        assert outcome.dead_letter is None
        [doc] = outcome.documents
        assert (doc.outcome, doc.reason) == (DocumentOutcome.REFUSED, "refused:sha256")
        again = await use_case.handle(record_of(value, offset=7))
        assert again.documents == outcome.documents
        assert len(zalo.sent) == 2, "not fetched or sent again"

    async def test_zalo_rejecting_the_file_message_keeps_the_link_and_parks_nothing(
        self, make_event, encode, ledger, clock, sleeps
    ):
        zalo = ChannelZalo()
        rejected = MessageRejectedError("Zalo error -201: token is invalid", code=-201)
        documents = FakeDocuments(zalo, **{PDF_DOC["sha256"][:8]: [rejected]})
        use_case = deliverer(zalo, ledger, clock, sleeps, documents=documents)
        outcome = await use_case.handle(record_of(encode(result_event(make_event, PDF_DOC))))
        assert outcome.status is DeliveryStatus.DELIVERED
        assert outcome.dead_letter is None
        [doc] = outcome.documents
        assert (doc.outcome, doc.reason) == (DocumentOutcome.LINK, "link:rejected:-201")

    async def test_a_transient_failure_is_retried_and_the_file_goes_once(
        self, make_event, encode, ledger, clock, sleeps
    ):
        zalo = ChannelZalo()
        busy = RetryableDeliveryError("Zalo error -32: rate limit", code=-32)
        documents = FakeDocuments(zalo, **{PDF_DOC["sha256"][:8]: [busy]})
        use_case = deliverer(zalo, ledger, clock, sleeps, documents=documents)
        outcome = await use_case.handle(record_of(encode(result_event(make_event, PDF_DOC))))
        files = [c for c, _ in zalo.channels() if c is Channel.ZALO_FILE]
        assert len(files) == 2, "one refused attempt, one accepted"
        [doc] = outcome.documents
        assert (doc.outcome, doc.attempts) == (DocumentOutcome.SENT, 2)

    async def test_without_a_document_sender_only_the_text_goes(
        self, make_event, encode, ledger, clock, sleeps
    ):
        zalo = ChannelZalo()
        outcome = await deliverer(zalo, ledger, clock, sleeps).handle(
            record_of(encode(result_event(make_event, PDF_DOC)))
        )
        assert zalo.channels() == [(CS, USER)]
        assert outcome.documents == ()


def lost() -> DeliveryInDoubtError:
    return DeliveryInDoubtError("no answer from Zalo: read timeout")


class TestDocumentsInDoubt:
    """A file or image whose answer was lost is looked for in the conversation, not resent."""

    async def test_a_lost_file_found_in_the_conversation_is_settled_and_not_resent(
        self, make_event, encode, ledger, clock, sleeps
    ):
        zalo = ChannelZalo()
        sha = PDF_DOC["sha256"][:8]
        documents = FakeDocuments(zalo, shown={sha: ["zalo-file-77"]}, **{sha: [lost()]})
        use_case = deliverer(zalo, ledger, clock, sleeps, documents=documents)
        started = clock.now
        value = encode(result_event(make_event, PDF_DOC))
        outcome = await use_case.handle(record_of(value))
        assert zalo.channels() == [(CS, USER), (Channel.ZALO_FILE, USER)], "sent once"
        [doc] = outcome.documents
        assert (doc.outcome, doc.zalo_message_id, doc.attempts) == (
            DocumentOutcome.SENT,
            "zalo-file-77",
            1,
        )
        [(user, title, channel, after, before, taken)] = documents.lookups
        assert (user, title, channel, taken) == (USER, PDF_DOC["title"], Channel.ZALO_FILE, set())
        assert started <= after <= before < clock.now
        assert 2 in sleeps.waits, "waited in_doubt_settle, not the hold"
        assert 100 not in sleeps.waits
        again = await use_case.handle(record_of(value, offset=77))
        assert again.documents == outcome.documents
        assert len(zalo.sent) == 2, "a redelivery sends nothing again"
        assert len(documents.lookups) == 1, "nor reads the conversation again"

    async def test_a_lost_file_not_in_the_conversation_is_sent_once_more(
        self, make_event, encode, ledger, clock, sleeps
    ):
        zalo = ChannelZalo()
        sha = PDF_DOC["sha256"][:8]
        documents = FakeDocuments(zalo, **{sha: [lost()]})
        use_case = deliverer(zalo, ledger, clock, sleeps, documents=documents)
        outcome = await use_case.handle(record_of(encode(result_event(make_event, PDF_DOC))))
        files = [c for c, _ in zalo.channels() if c is Channel.ZALO_FILE]
        assert len(files) == 2, "the lost send and one resend"
        assert len(documents.lookups) == 1
        [doc] = outcome.documents
        assert (doc.outcome, doc.zalo_message_id, doc.attempts) == (
            DocumentOutcome.SENT,
            "zalo_file-3",
            2,
        )

    async def test_an_image_is_looked_for_too(self, make_event, encode, ledger, clock, sleeps):
        zalo = ChannelZalo()
        sha = JPG_DOC["sha256"][:8]
        documents = FakeDocuments(zalo, shown={sha: ["zalo-photo-9"]}, **{sha: [lost()]})
        use_case = deliverer(zalo, ledger, clock, sleeps, documents=documents)
        outcome = await use_case.handle(record_of(encode(result_event(make_event, JPG_DOC))))
        assert [c for c, _ in zalo.channels()] == [CS, Channel.ZALO_IMAGE]
        assert [(d.channel, d.zalo_message_id) for d in outcome.documents] == [
            (Channel.ZALO_IMAGE, "zalo-photo-9")
        ]
        assert documents.lookups[0][2] is Channel.ZALO_IMAGE

    async def test_the_event_s_other_documents_are_never_taken_for_the_lost_one(
        self, make_event, encode, ledger, clock, sleeps
    ):
        zalo = ChannelZalo()
        second = document("https://dvc.example.gov.vn/kq/4.pdf", pdf_bytes(3_000), title="QĐ")
        sha = second["sha256"][:8]
        documents = FakeDocuments(zalo, **{sha: [lost()]})
        use_case = deliverer(zalo, ledger, clock, sleeps, documents=documents)
        outcome = await use_case.handle(
            record_of(encode(result_event(make_event, PDF_DOC, second)))
        )
        first_id = outcome.documents[0].zalo_message_id
        assert first_id == "zalo_file-2"
        [(_, title, _, _, _, taken)] = documents.lookups
        assert (title, taken) == ("QĐ", {first_id})

    async def test_a_crash_after_the_send_is_settled_from_the_conversation_next_time(
        self, make_event, encode, ledger, clock, sleeps
    ):
        """The process died with the file sent and the step still `sending` in the ledger."""
        zalo = ChannelZalo()
        sha = PDF_DOC["sha256"][:8]
        value = encode(result_event(make_event, PDF_DOC))
        with contextlib.suppress(Killed):
            await deliverer(
                zalo, ledger, clock, sleeps, documents=FakeDocuments(zalo, **{sha: [Killed()]})
            ).handle(record_of(value))
        clock.now += 60  # the dead owner's lease has passed
        documents = FakeDocuments(zalo, shown={sha: ["zalo-file-1"]})
        outcome = await deliverer(
            zalo, ledger, clock, sleeps, owner="p2", documents=documents
        ).handle(record_of(value))
        assert [c for c, _ in zalo.channels()] == [CS, Channel.ZALO_FILE], "not sent again"
        assert [d.zalo_message_id for d in outcome.documents] == ["zalo-file-1"]

    async def test_with_read_back_off_the_file_is_held_then_resent(
        self, make_event, encode, ledger, clock, sleeps
    ):
        zalo = ChannelZalo()
        sha = PDF_DOC["sha256"][:8]
        documents = FakeDocuments(zalo, reads_back=False, shown={sha: ["x"]}, **{sha: [lost()]})
        use_case = deliverer(zalo, ledger, clock, sleeps, documents=documents)
        outcome = await use_case.handle(record_of(encode(result_event(make_event, PDF_DOC))))
        assert documents.lookups == []
        assert 100 in sleeps.waits, "held in_doubt_hold"
        assert len([c for c, _ in zalo.channels() if c is Channel.ZALO_FILE]) == 2
        assert outcome.documents[0].outcome is DocumentOutcome.SENT

    async def test_the_resend_after_hold_policy_holds_documents_too(
        self, make_event, encode, ledger, clock, sleeps
    ):
        zalo = ChannelZalo()
        sha = PDF_DOC["sha256"][:8]
        documents = FakeDocuments(zalo, shown={sha: ["x"]}, **{sha: [lost()]})
        use_case = deliverer(
            zalo, ledger, clock, sleeps, documents=documents, in_doubt="resend_after_hold"
        )
        await use_case.handle(record_of(encode(result_event(make_event, PDF_DOC))))
        assert documents.lookups == []
        assert 100 in sleeps.waits
