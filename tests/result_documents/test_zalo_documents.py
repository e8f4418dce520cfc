"""One result document to one citizen: fetched over real HTTP, checked, uploaded once, sent."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.errors import DocumentNotSendableError, MessageRejectedError, RetryableDeliveryError
from bridge.events import ResultDocument
from bridge.result_documents import DocumentSettings, ZaloDocuments, plan
from bridge.result_documents.sender import upload_name
from bridge.status import Channel
from bridge.zalo import DocumentQuery, SendReceipt
from bridge_devkit.document_host import JPEG, PDF, DocumentHost, document, jpeg_bytes, pdf_bytes

USER = "2512523625412515"
SETTINGS = DocumentSettings(allow_http=True, fetch_timeout_seconds=5)


class FakeZalo:
    """Zalo's upload and media-message calls, scripted per call kind."""

    def __init__(self, **failures: list[Exception]) -> None:
        self.failures = failures
        self.uploads: list[tuple[str, str, bytes, str]] = []
        self.sends: list[tuple[str, str, str]] = []
        self.captions: list[str] = []

    def _fail(self, kind: str) -> None:
        script = self.failures.get(kind, [])
        if script:
            raise script.pop(0)

    async def upload(self, kind, name, content, content_type) -> str:
        self.uploads.append((kind, name, content, content_type))
        self._fail("upload")
        return f"asset-{len(self.uploads)}"

    async def send_file(self, user_id, token) -> SendReceipt:
        self.sends.append(("file", user_id, token))
        self._fail("send")
        return SendReceipt(message_id=f"m{len(self.sends)}", user_id=user_id, sent_time=None)

    async def send_image(self, user_id, attachment_id, caption) -> SendReceipt:
        self.sends.append(("image", user_id, attachment_id))
        self.captions.append(caption)
        self._fail("send")
        return SendReceipt(message_id=f"m{len(self.sends)}", user_id=user_id, sent_time=None)


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


async def no_sleep(_seconds: float) -> None:
    return None


@pytest.fixture
def host():
    with DocumentHost() as running:
        yield running


@pytest.fixture
async def http():
    async with httpx.AsyncClient(follow_redirects=False) as client:
        yield client


def sender(zalo, http, clock=None, **changes) -> ZaloDocuments:
    config = SETTINGS.model_copy(update=changes)
    return ZaloDocuments(zalo, http, config, clock=clock or Clock(), sleep=no_sleep)


class TestSending:
    async def test_a_pdf_is_fetched_checked_uploaded_as_a_file_and_sent(self, host, http):
        content = pdf_bytes(200_000)
        doc = ResultDocument.model_validate(document(host.put("kq.pdf", content), content))
        zalo = FakeZalo()
        receipt = await sender(zalo, http).send(USER, doc, Channel.ZALO_FILE)
        [(kind, name, uploaded, content_type)] = zalo.uploads
        assert (kind, uploaded, content_type) == ("file", content, PDF)
        assert name == "Giấy chứng nhận đăng ký hộ kinh doanh.pdf"
        assert zalo.sends == [("file", USER, "asset-1")]
        assert receipt.message_id == "m1"

    async def test_an_image_goes_as_an_image_message_with_its_title(self, host, http):
        content = jpeg_bytes(50_000)
        doc = ResultDocument.model_validate(
            document(host.put("anh.jpg", content, JPEG), content, JPEG, title="Ảnh kết quả")
        )
        zalo = FakeZalo()
        await sender(zalo, http).send(USER, doc, Channel.ZALO_IMAGE)
        assert zalo.uploads[0][0] == "image"
        assert zalo.uploads[0][1] == "Ảnh kết quả.jpg"
        assert zalo.sends == [("image", USER, "asset-1")]
        assert zalo.captions == ["Ảnh kết quả"]

    async def test_one_upload_serves_several_citizens_until_it_ages(self, host, http):
        content = pdf_bytes(10_000)
        doc = ResultDocument.model_validate(document(host.put("a.pdf", content), content))
        zalo, clock = FakeZalo(), Clock()
        documents = sender(zalo, http, clock)
        await documents.send(USER, doc, Channel.ZALO_FILE)
        await documents.send("7001", doc, Channel.ZALO_FILE)
        assert len(zalo.uploads) == 1
        assert host.downloads["/a.pdf"] == 1
        clock.now += SETTINGS.reupload_after_hours * 3600 + 1
        await documents.send("7002", doc, Channel.ZALO_FILE)
        assert len(zalo.uploads) == 2

    async def test_an_expired_asset_is_uploaded_again_and_sent_once_more(self, host, http):
        content = pdf_bytes(10_000)
        doc = ResultDocument.model_validate(document(host.put("a.pdf", content), content))
        expired = RetryableDeliveryError("Zalo error -100: attachment_id was expired", code=-100)
        zalo = FakeZalo(send=[expired])
        receipt = await sender(zalo, http).send(USER, doc, Channel.ZALO_FILE)
        assert [u[0] for u in zalo.uploads] == ["file", "file"]
        assert zalo.sends == [("file", USER, "asset-1"), ("file", USER, "asset-2")]
        assert receipt.message_id == "m2"

    async def test_another_transient_send_error_is_left_to_the_deliverer(self, host, http):
        content = pdf_bytes(10_000)
        doc = ResultDocument.model_validate(document(host.put("a.pdf", content), content))
        zalo = FakeZalo(send=[RetryableDeliveryError("Zalo error -32", code=-32)])
        with pytest.raises(RetryableDeliveryError):
            await sender(zalo, http).send(USER, doc, Channel.ZALO_FILE)
        assert len(zalo.uploads) == 1


class TestRefusals:
    @pytest.mark.parametrize(
        ("served", "described", "reason"),
        [
            (pdf_bytes(1000, seed=1), pdf_bytes(1000, seed=2), "refused:sha256"),
            (pdf_bytes(1200), pdf_bytes(1000), "refused:size"),
            (pdf_bytes(900), pdf_bytes(1000), "refused:size"),
            (jpeg_bytes(1000), None, "refused:type"),
        ],
    )
    async def test_bytes_that_differ_from_the_event_are_never_uploaded(
        self, host, http, served, described, reason
    ):
        url = host.put("x.pdf", served)
        entry = document(url, described if described is not None else served)
        doc = ResultDocument.model_validate(entry)
        zalo = FakeZalo()
        with pytest.raises(DocumentNotSendableError) as caught:
            await sender(zalo, http).send(USER, doc, Channel.ZALO_FILE)
        assert caught.value.reason == reason
        assert zalo.uploads == []
        assert zalo.sends == []

    async def test_a_missing_document_leaves_the_link(self, host, http):
        content = pdf_bytes(1000)
        doc = ResultDocument.model_validate(document(f"{host.base_url}/gone.pdf", content))
        with pytest.raises(DocumentNotSendableError) as caught:
            await sender(FakeZalo(), http).send(USER, doc, Channel.ZALO_FILE)
        assert caught.value.reason == "link:unavailable"

    async def test_a_failing_host_is_tried_a_bounded_number_of_times(self, host, http):
        content = pdf_bytes(1000)
        url = host.put("flaky.pdf", content)
        host.fail_with["/flaky.pdf"] = [503, 503, 503, 503]
        doc = ResultDocument.model_validate(document(url, content))
        with pytest.raises(DocumentNotSendableError) as caught:
            await sender(FakeZalo(), http, fetch_attempts=3).send(USER, doc, Channel.ZALO_FILE)
        assert caught.value.reason == "link:unavailable"
        assert host.downloads["/flaky.pdf"] == 3
        assert "flaky" not in str(caught.value), "the URL may carry credentials"

    async def test_a_host_that_recovers_within_the_tries_delivers(self, host, http):
        content = pdf_bytes(1000)
        url = host.put("flaky.pdf", content)
        host.fail_with["/flaky.pdf"] = [502]
        doc = ResultDocument.model_validate(document(url, content))
        zalo = FakeZalo()
        await sender(zalo, http).send(USER, doc, Channel.ZALO_FILE)
        assert host.downloads["/flaky.pdf"] == 2
        assert len(zalo.sends) == 1

    async def test_zalo_refusing_the_upload_leaves_the_link(self, host, http):
        content = pdf_bytes(1000)
        doc = ResultDocument.model_validate(document(host.put("a.pdf", content), content))
        too_big = MessageRejectedError("Zalo error -210: exceeds the limit", code=-210)
        with pytest.raises(DocumentNotSendableError) as caught:
            await sender(FakeZalo(upload=[too_big]), http).send(USER, doc, Channel.ZALO_FILE)
        assert caught.value.reason == "link:rejected:-210"

    async def test_a_plain_http_url_is_refused_unless_allowed(self):
        doc = ResultDocument.model_validate(document("http://example.org/a.pdf", pdf_bytes(100)))
        strict = DocumentSettings()
        assert plan(doc, window_open=True, settings=strict).link_reason == "link:insecure"
        assert plan(doc, window_open=True, settings=SETTINGS).link_reason is None


class TestReadBack:
    """The query an in-doubt document's read-back asks the Zalo client (``find_sent``)."""

    class Asked(FakeZalo):
        def __init__(self) -> None:
            super().__init__()
            self.queries: list[DocumentQuery] = []

        async def find_sent_document(self, query: DocumentQuery) -> str | None:
            self.queries.append(query)
            return "found-1"

    def doc(self, content_type: str = PDF) -> ResultDocument:
        return ResultDocument.model_validate(
            document("https://a.vn/x", pdf_bytes(10), content_type, title="Quyết định số 12")
        )

    async def ask(self, http, channel, **changes):
        zalo = self.Asked()
        documents = sender(zalo, http, **changes)
        found = await documents.find_sent(
            USER,
            self.doc(JPEG if channel is Channel.ZALO_IMAGE else PDF),
            channel,
            sent_after=1_000.0,
            sent_before=1_040.0,
            taken=frozenset({"sibling"}),
        )
        assert found == "found-1"
        [query] = zalo.queries
        return query

    async def test_a_file_is_asked_by_kind_window_and_ids_taken_never_by_name(self, http):
        query = await self.ask(http, Channel.ZALO_FILE)
        assert query == DocumentQuery(
            user_id=USER,
            kind="file",
            since=1_000.0 - 15,
            until=1_040.0 + 15,
            caption=None,
            taken=frozenset({"sibling"}),
        )

    async def test_an_image_is_asked_by_its_caption_too(self, http):
        query = await self.ask(http, Channel.ZALO_IMAGE, read_back_margin_seconds=2)
        assert (query.kind, query.caption) == ("image", "Quyết định số 12")
        assert (query.since, query.until) == (998.0, 1_042.0)

    async def test_the_caption_can_be_left_out(self, http):
        query = await self.ask(http, Channel.ZALO_IMAGE, read_back_caption=False)
        assert query.caption is None

    def test_read_back_is_on_by_default_and_can_be_turned_off(self, http):
        assert sender(FakeZalo(), http).reads_back is True
        assert sender(FakeZalo(), http, in_doubt_read_back=False).reads_back is False


class TestPlan:
    def doc(self, content_type: str = PDF, size: int = 1000, url: str = "https://a.vn/x"):
        return ResultDocument.model_validate(document(url, pdf_bytes(10), content_type, size=size))

    def test_inside_the_window_within_the_limits_it_goes_as_a_message(self):
        assert plan(self.doc(), window_open=True, settings=DocumentSettings()).link_reason is None
        image = plan(self.doc(JPEG), window_open=True, settings=DocumentSettings())
        assert (image.channel, image.link_reason) == (Channel.ZALO_IMAGE, None)

    def test_outside_the_window_the_link_stays(self):
        decided = plan(self.doc(), window_open=False, settings=DocumentSettings())
        assert decided.link_reason == "link:window"

    @pytest.mark.parametrize(
        ("content_type", "size", "reason"),
        [
            (PDF, 5_242_880, None),
            (PDF, 5_242_881, "link:too_large"),
            (PDF, 10 * 1_048_576, "link:too_large"),
            (JPEG, 1_048_576, None),
            (JPEG, 1_048_577, "link:too_large"),
            ("application/zip", 100, "link:type"),
            ("text/html", 100, "link:type"),
        ],
    )
    def test_zalo_limits_and_types(self, content_type, size, reason):
        decided = plan(self.doc(content_type, size), window_open=True, settings=DocumentSettings())
        assert decided.link_reason == reason

    def test_limits_are_settings(self):
        larger = DocumentSettings(file_max_bytes=20 * 1_048_576)
        decided = plan(self.doc(PDF, 10 * 1_048_576), window_open=True, settings=larger)
        assert decided.link_reason is None

    def test_documents_can_be_turned_off(self):
        off = DocumentSettings(enabled=False)
        assert plan(self.doc(), window_open=True, settings=off).link_reason == "link:disabled"

    def test_a_hostile_title_makes_a_safe_file_name(self):
        doc = ResultDocument.model_validate(
            document("https://a.vn/x", pdf_bytes(10), title="../../etc/passwd\x00<b>:*?")
        )
        name = upload_name(doc)
        assert "/" not in name
        assert "\x00" not in name
        assert name.endswith(".pdf")


@pytest.mark.fuzz
@settings(
    max_examples=settings.default.max_examples // 3,  # each example is a few loopback requests
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    served=st.binary(min_size=0, max_size=3000),
    declared_type=st.sampled_from([PDF, JPEG, "image/png", "application/msword"]),
    size_delta=st.integers(-5, 5),
    honest_hash=st.booleans(),
    status=st.sampled_from([200, 200, 200, 404, 500, 403]),
)
async def test_any_document_is_either_sent_as_described_or_refused_with_a_reason(
    host, http, served, declared_type, size_delta, honest_hash, status
):
    """Whatever a host serves and an event claims: one send of exactly the described bytes, or
    a DocumentNotSendableError with a link:/refused: reason; never another exception."""
    host.files.clear()
    host.fail_with.clear()
    url = host.put("h", served, declared_type)
    if status != 200:
        host.fail_with["/h"] = [status] * 5
    entry = document(url, served, declared_type)
    entry["size"] = max(1, len(served) + size_delta)
    if not honest_hash:
        entry["sha256"] = "0" * 64
    doc = ResultDocument.model_validate(entry)
    zalo = FakeZalo()
    channel = Channel.ZALO_IMAGE if declared_type.startswith("image/") else Channel.ZALO_FILE
    refused: DocumentNotSendableError | None = None
    try:
        await sender(zalo, http, fetch_attempts=2).send(USER, doc, channel)
    except DocumentNotSendableError as error:
        refused = error
    if refused is not None:
        assert refused.reason.startswith(("link:", "refused:"))
        assert zalo.sends == []
    else:
        [(_, _, uploaded, _)] = zalo.uploads
        assert uploaded == served
        assert len(served) == doc.size
        assert status == 200
        assert honest_hash
        assert len(zalo.sends) == 1
