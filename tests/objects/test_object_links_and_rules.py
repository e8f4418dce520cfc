"""The local backend's signed links served over HTTP, the key rules and the objects settings."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.errors import ConfigurationError, InvalidObjectError, ObjectNotFoundError
from bridge.objects.factory import link_signer, open_object_store
from bridge.objects.keys import (
    check_content_type,
    check_key,
    check_metadata,
    decode_metadata,
    encode_metadata,
)
from bridge.objects.local import OBJECT_FILE, LocalObjectStore
from bridge.objects.serving import signed_link_endpoint
from bridge.objects.settings import ObjectsSettings
from bridge.objects.signing import LinkSigner
from bridge.settings import load_settings
from objects_support import METADATA_TEXT, keys

NOW = 1_800_000_000.0
KEY = "signing-key-" + "x" * 30


@pytest.fixture
def clock():
    return {"now": NOW}


@pytest.fixture
def served(tmp_path, clock):
    """A local store, its signer, and an HTTP client of the link endpoint."""
    settings = ObjectsSettings(
        local_directory=tmp_path / "objects",
        local_public_url="http://bridge.test:8080/",
        local_signing_key=KEY,
    )
    store = open_object_store(settings, clock=lambda: clock["now"])
    signer = link_signer(settings)
    assert isinstance(store, LocalObjectStore)
    assert signer is not None
    app = signed_link_endpoint(store, signer, clock=lambda: clock["now"])
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bridge")
    return store, client


def path_and_query(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def test_a_signed_link_serves_the_object_with_safe_headers(served):
    store, client = served
    await store.put("sub/1/photo.jpg", b"\xff\xd8jpeg", content_type="image/jpeg")
    link = await store.presigned_get_url("sub/1/photo.jpg", expires_in=timedelta(minutes=5))
    assert link.url.startswith("http://bridge.test:8080/objects?")
    async with client:
        response = await client.get(path_and_query(link.url))
        head = await client.head(path_and_query(link.url))
    assert response.status_code == 200
    assert response.content == b"\xff\xd8jpeg"
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["x-content-sha256"] == hashlib.sha256(b"\xff\xd8jpeg").hexdigest()
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in response.headers["content-security-policy"]
    assert response.headers["content-disposition"] == "attachment"
    assert response.headers["cache-control"] == "private, no-store"
    assert head.status_code == 200
    assert head.content == b""


async def test_forged_altered_expired_and_missing_all_look_the_same(served, clock):
    store, client = served
    await store.put("a", b"1", content_type="text/plain")
    await store.put("b", b"2", content_type="text/plain")
    link = path_and_query((await store.presigned_get_url("a")).url)
    expired = path_and_query(
        (await store.presigned_get_url("a", expires_in=timedelta(seconds=10))).url
    )
    missing = path_and_query((await store.presigned_get_url("never-stored")).url)
    other_key = link.replace("key=a", "key=b")
    later = link.replace(f"expires={int(NOW) + 3600}", f"expires={int(NOW) + 99999}")
    flipped = link[:-1] + ("0" if link[-1] != "0" else "1")
    async with client:
        assert (await client.get(link)).status_code == 200
        clock["now"] = NOW + 11
        answers = [
            await client.get(url)
            for url in (expired, missing, other_key, later, flipped, "/objects", "/objects?key=a")
        ]
    assert {a.status_code for a in answers} == {404}
    assert {a.content for a in answers} == {b'{"status": "not found"}'}


async def test_damaged_bytes_are_never_served(served, tmp_path):
    store, client = served
    await store.put("doc", b"original", content_type="application/pdf")
    path = tmp_path / "objects" / "doc" / OBJECT_FILE
    header, _ = path.read_bytes().split(b"\n", 1)
    path.write_bytes(header + b"\nmodified")
    link = path_and_query((await store.presigned_get_url("doc")).url)
    async with client:
        response = await client.get(link)
    assert response.status_code == 500
    assert b"modified" not in response.content


async def test_only_get_and_head(served):
    _, client = served
    async with client:
        response = await client.post("/objects", content=b"x")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


@given(key=keys(), expires=st.integers(min_value=0, max_value=2**40))
def test_a_link_verifies_only_for_its_own_key_and_expiry(key, expires):
    signer = LinkSigner(key=KEY.encode(), base_url="http://b/objects")
    query = parse_qs(urlsplit(signer.link(key, expires)).query)
    assert signer.verify(query, now=expires) == key
    with pytest.raises(ObjectNotFoundError):
        signer.verify(query, now=expires + 1)
    with pytest.raises(ObjectNotFoundError):
        signer.verify({**query, "expires": [str(expires + 1)]}, now=0)
    with pytest.raises(ObjectNotFoundError):
        LinkSigner(key=b"another key", base_url="x").verify(query, now=0)


@given(
    query=st.dictionaries(
        st.sampled_from(["key", "expires", "signature", "x"]),
        st.lists(st.text(max_size=70), max_size=2),
    )
)
def test_any_query_is_a_link_or_not_found(query):
    signer = LinkSigner(key=KEY.encode(), base_url="http://b/objects")
    with pytest.raises(ObjectNotFoundError):
        signer.verify(query, now=0)


# ---------------------------------------------------------------- the rules, without I/O


@given(key=keys())
def test_generated_keys_are_valid(key):
    assert check_key(key) == key


@given(text=st.text(max_size=60))
def test_a_valid_key_never_escapes_or_hides(text):
    try:
        check_key(text)
    except InvalidObjectError:
        return
    segments = text.split("/")
    assert all(s and s not in {".", ".."} and not s.startswith(".") for s in segments)
    assert text.isascii()
    assert not text.startswith("/")


@given(
    metadata=st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True), METADATA_TEXT, max_size=5
    )
)
def test_metadata_values_survive_the_header_encoding(metadata):
    encoded = encode_metadata(metadata)
    for value in encoded.values():
        assert value.isascii()
        assert value == value.strip()
        assert all(0x21 <= ord(c) < 0x7F for c in value)
    assert decode_metadata(encoded) == metadata


def test_content_types_are_normalised_or_refused():
    assert check_content_type(" Image/JPEG ") == "image/jpeg"
    assert check_content_type(
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )
    for bad in ("", "image", "image/", "/jpeg", "text/plain; charset=utf-8", "a/b c", None):
        with pytest.raises(InvalidObjectError):
            check_content_type(bad)


def test_reserved_and_oversized_metadata_is_refused():
    with pytest.raises(InvalidObjectError, match="adapter's own"):
        check_metadata({"sha256": "x"})
    with pytest.raises(InvalidObjectError, match="2048"):
        check_metadata({f"k{i}": "é" * 40 for i in range(10)})  # 6 bytes each once encoded
    with pytest.raises(InvalidObjectError):
        check_metadata({"k": "\ud800"})


# ---------------------------------------------------------------- settings


def test_the_default_is_a_local_directory_without_links():
    settings = load_settings().objects
    assert settings.backend == "local"
    assert link_signer(settings) is None


@pytest.mark.parametrize(
    ("objects", "message"),
    [
        ({"backend": "s3"}, "objects.bucket is required"),
        ({"access_key_id": "a"}, "go together"),
        ({"secret_access_key": "s"}, "go together"),
        ({"local_public_url": "http://b:8080"}, "local_signing_key"),
        ({"local_signing_key": "short"}, "at least 32"),
        ({"endpoint_url": "ftp://s3.example"}, "http:// or https://"),
        ({"endpoint_url": "https://user:pw@s3.example"}, "no query, fragment or credentials"),
        ({"prefix": "no-slash"}, "end with /"),
        ({"prefix": "../x/"}, "segment"),
        ({"bucket": "Bad_Bucket"}, "bucket"),
        ({"presign_expiry_seconds": 8 * 24 * 3600}, "presign_expiry_seconds"),
        ({"local_url_path": "objects"}, "local_url_path"),
    ],
)
def test_inconsistent_objects_settings_are_refused_naming_the_key(objects, message):
    with pytest.raises(ConfigurationError, match=message):
        load_settings(objects=objects)


def test_secrets_come_from_the_environment_and_never_print(monkeypatch):
    monkeypatch.setenv("BRIDGE_OBJECTS__ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("BRIDGE_OBJECTS__SECRET_ACCESS_KEY", "very-secret-value")
    settings = load_settings(objects={"backend": "s3", "bucket": "attachments"})
    assert settings.objects.secret_access_key is not None
    assert settings.objects.secret_access_key.get_secret_value() == "very-secret-value"
    assert "very-secret-value" not in repr(settings)
    assert "very-secret-value" not in settings.model_dump_json()
