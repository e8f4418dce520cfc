"""Attachments fetched at once: bounded size, retries, expired links, stored with their SHA-256."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.objects.local import LocalObjectStore
from bridge.submissions import SubmissionSettings
from bridge.submissions.conversation import StoredAttachment
from bridge.submissions.forms import DocumentSpec
from bridge.submissions.intake import HttpAttachmentIntake, allowed_url
from bridge.webhook.events import InboundAttachment
from bridge_devkit.emulator import media

PHOTO = DocumentSpec(
    key="id_card",
    label="Căn cước",
    prompt="Gửi ảnh.",
    accepted=("image/jpeg", "application/pdf"),
    max_bytes=1024 * 1024,
)


class Host:
    """Answers each GET from a script of (status, body)."""

    def __init__(self, *answers: tuple[int, bytes]) -> None:
        self.answers = list(answers)
        self.calls = 0

    def __call__(self, _request: httpx.Request) -> httpx.Response:
        self.calls += 1
        status, body = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return httpx.Response(status, content=body)


@pytest.fixture
def store(tmp_path):
    return LocalObjectStore(
        tmp_path / "objects", max_object_bytes=64 * 1024 * 1024, presign_expiry=timedelta(hours=1)
    )


async def no_sleep(_seconds: float) -> None:
    return None


def intake(host: Host, store: LocalObjectStore) -> HttpAttachmentIntake:
    return HttpAttachmentIntake(
        http=httpx.AsyncClient(transport=httpx.MockTransport(host)),
        objects=store,
        settings=SubmissionSettings(),
        sleep=no_sleep,
    )


def photo(url: str = "https://f.zdn.vn/p.jpg", **hints) -> InboundAttachment:
    return InboundAttachment("image", url, **hints)


async def test_a_photo_is_stored_cleaned_with_its_sha256(store):
    host = Host((200, media.jpeg(32, 32, exif_gps=True)))
    taken = await intake(host, store).take(photo(), document=PHOTO, object_key="submissions/a-0")
    assert isinstance(taken, StoredAttachment)
    content = await store.get("submissions/a-0")
    assert hashlib.sha256(content.data).hexdigest() == taken.sha256
    assert taken.size == len(content.data)
    assert b"Exif" not in content.data
    assert taken.content_type == "image/jpeg"


async def test_failures_of_the_host_are_tried_again_then_refused(store):
    host = Host((503, b""), (200, media.pdf()))
    taken = await intake(host, store).take(
        InboundAttachment("file", "https://f.zdn.vn/a.pdf", "a.pdf"),
        document=PHOTO,
        object_key="submissions/b-0",
    )
    assert isinstance(taken, StoredAttachment)
    assert host.calls == 2
    always = Host((503, b""))
    refused = await intake(always, store).take(photo(), document=PHOTO, object_key="k/c-0")
    assert refused == "Zalo chưa trả tệp về được, xin gửi lại."
    assert always.calls == 3


async def test_an_expired_link_and_an_oversized_file_are_refused_saying_why(store):
    expired = await intake(Host((404, b"")), store).take(
        photo(), document=PHOTO, object_key="k/d-0"
    )
    assert expired == "liên kết tệp đã hết hạn, xin gửi lại."
    big = Host((200, bytes(2 * 1024 * 1024)))
    refused = await intake(big, store).take(photo(), document=PHOTO, object_key="k/e-0")
    assert refused == "tệp lớn hơn giới hạn 1 MB của mục này."
    hinted = Host((200, b""))
    refused = await intake(hinted, store).take(
        photo(size=60 * 1024 * 1024), document=PHOTO, object_key="k/f-0"
    )
    assert refused == "tệp 60 MB lớn hơn giới hạn 1 MB của mục này."
    assert hinted.calls == 0  # not even downloaded
    assert not await store.exists("k/e-0")


async def test_discard_deletes_and_tolerates_missing_objects(store):
    await store.put("submissions/x-0", b"abc", content_type="application/pdf")
    await intake(Host((200, b"")), store).discard(["submissions/x-0", "submissions/none"])
    assert not await store.exists("submissions/x-0")


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/latest/meta-data",  # inside the cluster
        "http://127.0.0.1:8080/admin",
        "file:///etc/passwd",
        "gopher://f.zdn.vn/x",
        "https://f.zdn.vn.attacker.example/p.jpg",  # a suffix is not a parent domain
        "https://f.zdn.vn@attacker.example/p.jpg",  # user info, the host is attacker.example
        "https://evilzdn.vn/p.jpg",
        "https://[::1]/p.jpg",
        "not a url",
    ],
)
async def test_a_url_outside_zalos_hosts_is_refused_unfetched(store, url):
    host = Host((200, media.jpeg(32, 32)))
    refused = await intake(host, store).take(photo(url), document=PHOTO, object_key="k/h-0")
    assert refused == "liên kết tệp không phải của Zalo, xin gửi lại tệp trong Zalo."
    assert host.calls == 0
    assert not await store.exists("k/h-0")


@pytest.mark.parametrize(
    "url",
    ["https://f6.photo.talk.zdn.vn/a/b.jpg", "https://ZDN.VN/x.jpg", "https://dl.zalo.me./f.pdf"],
)
def test_zalos_hosts_and_their_subdomains_are_allowed(url):
    assert allowed_url(url, SubmissionSettings().attachment_hosts)


def test_no_hosts_allows_any_http_host_but_never_another_scheme():
    assert allowed_url("http://127.0.0.1:9000/f", ())
    assert not allowed_url("ftp://127.0.0.1/f", ())


_LABEL = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=8)
_HOST = st.one_of(
    st.sampled_from(["zdn.vn", "zalo.me", "zdn.vn.evil.example", "evilzdn.vn", "127.0.0.1"]),
    st.builds(lambda a, b: f"{a}.{b}", _LABEL, st.sampled_from(["zdn.vn", "zalo.me", "evil.io"])),
)


@given(
    scheme=st.sampled_from(["http", "https", "file", "ftp", "javascript"]),
    user=st.sampled_from(["", "zdn.vn@", "u:p@"]),
    host=_HOST,
    port=st.sampled_from(["", ":443", ":8080"]),
    path=st.text(max_size=20).map(lambda t: "/" + t.replace("#", "").replace("?", "")),
    hosts=st.lists(st.sampled_from(["zdn.vn", "zalo.me"]), max_size=2),
)
def test_only_http_urls_on_an_allowed_host_are_fetched(scheme, user, host, port, path, hosts):
    url = f"{scheme}://{user}{host}{port}{path}"
    expected = scheme in {"http", "https"} and (
        not hosts or any(host == h or host.endswith("." + h) for h in hosts)
    )
    assert allowed_url(url, hosts) == expected
