"""The object store's contract, run against both backends: a tmp directory and real S3.

The S3 runs use the session's S3-compatible server (SeaweedFS started by the fixture, or
BRIDGE_TEST_S3_ENDPOINT); each test writes under a prefix of its own.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import obstore
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.errors import (
    ConfigurationError,
    InvalidObjectError,
    ObjectAccessError,
    ObjectIntegrityError,
    ObjectNotFoundError,
    ObjectStoreError,
)
from bridge.objects.factory import open_object_store
from bridge.objects.local import OBJECT_FILE, LocalObjectStore
from bridge.objects.s3 import s3_store
from bridge.objects.settings import ObjectsSettings
from bridge.objects.store import ObjectStore
from objects_support import METADATA_TEXT, keys

NOW = 1_800_000_000.0

BACKENDS = ["local", pytest.param("s3", marks=pytest.mark.s3)]


def s3_settings(endpoint, **changes) -> ObjectsSettings:
    values = {
        "backend": "s3",
        "endpoint_url": endpoint.endpoint_url,
        "bucket": endpoint.bucket,
        "region": endpoint.region,
        "access_key_id": endpoint.access_key_id,
        "secret_access_key": endpoint.secret_access_key,
        "prefix": f"tests/{uuid.uuid4().hex}/",
        "max_object_bytes": 8 * 1024 * 1024,
        "timeout_seconds": 10,
        "max_retries": 1,
    }
    return ObjectsSettings(**{**values, **changes})


def local_settings(tmp_path, **changes) -> ObjectsSettings:
    values = {
        "backend": "local",
        "local_directory": tmp_path / "objects",
        "local_public_url": "http://bridge.test:8080",
        "local_signing_key": "k" * 40,
        "max_object_bytes": 8 * 1024 * 1024,
    }
    return ObjectsSettings(**{**values, **changes})


@pytest.fixture(params=BACKENDS)
def make_store(request, tmp_path):
    """Build a store of the test's backend; keyword arguments change its settings."""

    def build(**changes) -> ObjectStore:
        if request.param == "s3":
            endpoint = request.getfixturevalue("s3_endpoint")
            return open_object_store(s3_settings(endpoint, **changes), clock=lambda: NOW)
        return open_object_store(local_settings(tmp_path, **changes), clock=lambda: NOW)

    return build


@pytest.fixture
def store(make_store) -> ObjectStore:
    return make_store()


# ---------------------------------------------------------------- put, get, stat, delete


async def test_put_then_get_returns_the_bytes_type_metadata_and_checksum(store):
    data = os.urandom(200_000)
    meta = {"label": "Ảnh CCCD mặt trước", "submission": "a1b2"}
    stored = await store.put("sub/a1b2/doc-1.jpg", data, content_type="Image/JPEG", metadata=meta)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.size == len(data)
    assert stored.content_type == "image/jpeg"

    content = await store.get("sub/a1b2/doc-1.jpg")
    assert content.data == data
    assert content.info.sha256 == stored.sha256
    assert content.info.size == len(data)
    assert content.info.content_type == "image/jpeg"
    assert dict(content.info.metadata) == meta
    assert content.info.modified_at is not None

    assert await store.stat("sub/a1b2/doc-1.jpg") == content.info
    assert await store.exists("sub/a1b2/doc-1.jpg")


async def test_a_put_replaces_the_object(store):
    await store.put("k", b"first", content_type="text/plain", metadata={"v": "1"})
    await store.put("k", b"second", content_type="application/pdf")
    content = await store.get("k")
    assert content.data == b"second"
    assert content.info.content_type == "application/pdf"
    assert dict(content.info.metadata) == {}


async def test_a_key_and_its_children_are_separate_objects(store):
    await store.put("a", b"parent", content_type="text/plain")
    await store.put("a/b", b"child", content_type="text/plain")
    assert (await store.get("a")).data == b"parent"
    assert (await store.get("a/b")).data == b"child"
    await store.delete("a")
    assert not await store.exists("a")
    assert (await store.get("a/b")).data == b"child"


async def test_missing_objects(store):
    assert await store.stat("nothing/here") is None
    assert not await store.exists("nothing/here")
    with pytest.raises(ObjectNotFoundError):
        await store.get("nothing/here")
    await store.delete("nothing/here")  # absent: not an error


async def test_delete_removes_and_is_idempotent(store):
    await store.put("gone/soon", b"x", content_type="text/plain")
    await store.delete("gone/soon")
    assert not await store.exists("gone/soon")
    await store.delete("gone/soon")


async def test_an_empty_object_round_trips(store):
    stored = await store.put("empty", b"", content_type="application/octet-stream")
    assert stored.sha256 == hashlib.sha256(b"").hexdigest()
    assert (await store.get("empty")).data == b""


async def test_an_object_over_the_multipart_threshold_round_trips(store):
    data = os.urandom(6 * 1024 * 1024 + 17)  # > 5 MiB: S3 clients switch to multipart
    await store.put("big", data, content_type="application/pdf", metadata={"n": "1"})
    content = await store.get("big")
    assert content.data == data
    assert dict(content.info.metadata) == {"n": "1"}


async def test_concurrent_puts_leave_one_whole_object(store):
    bodies = [bytes([i]) * 50_000 for i in range(8)]
    await asyncio.gather(*(store.put("race", b, content_type="text/plain") for b in bodies))
    content = await store.get("race")  # checked against its own SHA-256
    assert content.data in bodies


# ---------------------------------------------------------------- refusals before I/O


@pytest.mark.parametrize(
    "key", ["", "/abs", "a//b", "a/", "../up", "a/../b", ".hidden", "a/.object", "sp ace", "é"]
)
async def test_bad_keys_are_refused_before_any_io(store, key):
    with pytest.raises(InvalidObjectError):
        await store.put(key, b"x", content_type="text/plain")
    with pytest.raises(InvalidObjectError):
        await store.get(key)
    with pytest.raises(InvalidObjectError):
        await store.presigned_get_url(key)


@pytest.mark.parametrize(
    ("content_type", "metadata"),
    [
        ("image", {}),
        ("text/plain; charset=utf-8", {}),
        ("image/jpeg", {"sha256": "forged"}),
        ("image/jpeg", {"Upper": "x"}),
        ("image/jpeg", {"ok": "nul\x00"}),
        ("image/jpeg", {"ok": ""}),
        ("image/jpeg", {"ok": "x" * 3000}),
    ],
)
async def test_bad_content_types_and_metadata_are_refused(store, content_type, metadata):
    with pytest.raises(InvalidObjectError):
        await store.put("k", b"x", content_type=content_type, metadata=metadata)
    assert not await store.exists("k")


async def test_objects_over_the_limit_are_refused(make_store):
    store = make_store(max_object_bytes=1024)
    with pytest.raises(InvalidObjectError, match="max_object_bytes"):
        await store.put("k", b"x" * 1025, content_type="text/plain")
    assert not await store.exists("k")


# ---------------------------------------------------------------- links


async def test_a_link_reads_the_object_until_it_expires(store):
    await store.put("linked/doc.pdf", b"%PDF-1.7 body", content_type="application/pdf")
    link = await store.presigned_get_url("linked/doc.pdf", expires_in=timedelta(minutes=10))
    assert link.expires_at == datetime.fromtimestamp(NOW, UTC) + timedelta(minutes=10)
    assert link.url not in repr(link)
    if store.backend == "s3":  # the server checks the signature; a real clock is "now" there
        live = await store.presigned_get_url("linked/doc.pdf")
        async with httpx.AsyncClient(timeout=10) as http:
            assert (await http.get(live.url)).content == b"%PDF-1.7 body"
            assert (await http.get(live.url[:-4] + "0000")).status_code == 403
    else:
        assert link.url.startswith("http://bridge.test:8080/objects?key=linked%2Fdoc.pdf&")


async def test_link_lifetimes_are_bounded(store):
    for lifetime in (timedelta(0), timedelta(days=8)):
        with pytest.raises(InvalidObjectError):
            await store.presigned_get_url("k", expires_in=lifetime)


async def test_the_default_link_lifetime_is_the_settings(make_store):
    store = make_store(presign_expiry_seconds=120)
    link = await store.presigned_get_url("k")
    assert link.expires_at == datetime.fromtimestamp(NOW + 120, UTC)


# ---------------------------------------------------------------- health and statistics


async def test_check_passes_and_operations_are_counted(store):
    await store.check()
    await store.put("counted", b"1", content_type="text/plain")
    with pytest.raises(ObjectNotFoundError):
        await store.get("not-there")
    with pytest.raises(InvalidObjectError):
        await store.get("..")
    counts = store.stats.counts
    assert counts["check", "ok"] == 1
    assert counts["put", "ok"] == 1
    assert counts["get", "not_found"] == 1
    assert counts["get", "invalid"] == 1


# ---------------------------------------------------------------- hostile input (Hypothesis)

PROPERTY = settings(
    max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None
)


@pytest.mark.fuzz
@PROPERTY
@given(
    key=keys(),
    data=st.binary(max_size=2048),
    metadata=st.dictionaries(
        st.from_regex(r"[a-z0-9][a-z0-9-]{0,20}", fullmatch=True).filter(lambda n: n != "sha256"),
        METADATA_TEXT,
        max_size=4,
    ),
)
async def test_any_valid_key_and_metadata_round_trip_exactly(store, key, data, metadata):
    await store.put(key, data, content_type="application/octet-stream", metadata=metadata)
    content = await store.get(key)
    assert content.data == data
    assert dict(content.info.metadata) == metadata
    await store.delete(key)
    assert not await store.exists(key)


@pytest.mark.fuzz
@PROPERTY
@given(key=st.text(max_size=80))
async def test_any_text_is_either_a_working_key_or_refused_before_io(store, key):
    try:
        await store.put(key, b"k", content_type="text/plain")
    except InvalidObjectError:
        assert await _refused_everywhere(store, key)
        return
    assert (await store.get(key)).data == b"k"
    await store.delete(key)


async def _refused_everywhere(store, key) -> bool:
    for call in (store.get, store.stat, store.delete):
        with pytest.raises(InvalidObjectError):
            await call(key)
    return True


# ---------------------------------------------------------------- backend specifics


@pytest.mark.s3
async def test_s3_refuses_wrong_credentials_and_a_missing_bucket(s3_endpoint):
    wrong = open_object_store(s3_settings(s3_endpoint, secret_access_key="not-the-secret"))
    with pytest.raises(ObjectAccessError):
        await wrong.put("k", b"x", content_type="text/plain")
    with pytest.raises(ObjectAccessError):
        await wrong.check()
    absent = open_object_store(s3_settings(s3_endpoint, bucket="no-such-bucket-here"))
    with pytest.raises(ObjectAccessError, match="bucket does not exist"):
        await absent.check()
    with pytest.raises(ObjectAccessError, match="bucket does not exist"):
        await absent.put("k", b"x", content_type="text/plain")
    assert wrong.stats.counts["put", "access"] == 1


@pytest.mark.s3
async def test_s3_keeps_each_deployment_under_its_prefix(s3_endpoint):
    prefix = f"tests/{uuid.uuid4().hex}"
    one = open_object_store(s3_settings(s3_endpoint, prefix=f"{prefix}/one/"))
    two = open_object_store(s3_settings(s3_endpoint, prefix=f"{prefix}/two/"))
    whole = open_object_store(s3_settings(s3_endpoint, prefix=f"{prefix}/"))
    await one.put("same-key", b"one", content_type="text/plain")
    assert not await two.exists("same-key")
    assert (await whole.get("one/same-key")).data == b"one"


@pytest.mark.s3
async def test_s3_an_unreachable_server_is_a_store_error_not_a_hang(s3_endpoint):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    store = open_object_store(
        s3_settings(
            s3_endpoint,
            endpoint_url=f"http://127.0.0.1:{port}",
            max_retries=0,
            timeout_seconds=2,
            connect_timeout_seconds=1,
        )
    )
    with pytest.raises(ObjectStoreError) as error:
        await store.put("k", b"x", content_type="text/plain")
    assert not isinstance(error.value, (ObjectNotFoundError, ObjectAccessError))
    assert s3_endpoint.secret_access_key not in str(error.value)


@pytest.mark.s3
async def test_s3_bytes_changed_behind_the_store_are_caught(s3_endpoint):
    settings_ = s3_settings(s3_endpoint)
    store = open_object_store(settings_)
    await store.put("tampered", b"original", content_type="text/plain")
    raw = s3_store(settings_)
    attributes = {"Content-Type": "text/plain", "sha256": hashlib.sha256(b"original").hexdigest()}
    await obstore.put_async(raw, "tampered", b"changed!", attributes=attributes)
    with pytest.raises(ObjectIntegrityError):
        await store.get("tampered")
    await obstore.put_async(raw, "foreign", b"no checksum")
    with pytest.raises(ObjectIntegrityError, match="no SHA-256"):
        await store.get("foreign")


async def test_local_files_are_where_the_docs_say_and_damage_is_caught(tmp_path):
    store = open_object_store(local_settings(tmp_path))
    assert isinstance(store, LocalObjectStore)
    await store.put("sub/x/doc", b"bytes", content_type="image/png")
    path = tmp_path / "objects" / "sub" / "x" / "doc" / OBJECT_FILE
    header, body = path.read_bytes().split(b"\n", 1)
    assert body == b"bytes"
    assert b'"content_type":"image/png"' in header
    path.write_bytes(header + b"\nbyteZ")
    with pytest.raises(ObjectIntegrityError):
        await store.get("sub/x/doc")
    path.write_bytes(b"not a header\nbytes")
    with pytest.raises(ObjectIntegrityError, match="no readable header"):
        await store.get("sub/x/doc")
    await store.delete("sub/x/doc")
    assert list((tmp_path / "objects").iterdir()) == []  # empty directories removed too


async def test_local_leaves_no_temporary_file_and_refuses_an_unwritable_root(tmp_path):
    store = open_object_store(local_settings(tmp_path))
    await store.put("k", b"1", content_type="text/plain")
    assert [p.name for p in (tmp_path / "objects" / "k").iterdir()] == [OBJECT_FILE]
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("x")
    broken = open_object_store(local_settings(tmp_path, local_directory=blocker / "objects"))
    with pytest.raises(ObjectStoreError, match="object directory failed"):
        await broken.check()


async def test_local_links_need_a_public_url_and_key(tmp_path):
    store = open_object_store(ObjectsSettings(local_directory=tmp_path))
    with pytest.raises(ConfigurationError, match="local_public_url"):
        await store.presigned_get_url("k")
