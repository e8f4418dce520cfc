"""The S3 object store, through obstore (Rust's object_store): any S3-compatible server.

Requests are signed with SigV4 (pre-signed links too: SeaweedFS, versitygw and others refuse
SigV2), path-style by default. The content type travels as ``Content-Type``, the SHA-256 and
the caller's metadata as ``x-amz-meta-*`` (values percent-encoded where not printable ASCII).
obstore's own retries (5xx, network, with back-off) are bounded by ``objects.max_retries`` and
``objects.timeout_seconds``; what still fails becomes one of bridge's `ObjectStoreError` types
here, with ``raise … from exc``.
"""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import obstore
from obstore.exceptions import (
    BaseError,
    InvalidPathError,
    NotFoundError,
    PermissionDeniedError,
    UnauthenticatedError,
)
from obstore.store import S3Store

from bridge.errors import (
    InvalidObjectError,
    ObjectAccessError,
    ObjectNotFoundError,
    ObjectStoreError,
)
from bridge.objects.keys import (
    CHECKSUM_NAME,
    check_content_type,
    check_key,
    check_metadata,
    decode_metadata,
    encode_metadata,
)
from bridge.objects.store import (
    ObjectStats,
    PresignedUrl,
    StoredContent,
    StoredObject,
    sha256_hex,
    verified,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    from obstore.store import ClientConfig, RetryConfig

    from bridge.objects.settings import ObjectsSettings

__all__ = ["S3ObjectStore", "s3_store"]

_CONTENT_TYPE = "Content-Type"
_STANDARD = {"Content-Type", "Content-Disposition", "Content-Encoding", "Content-Language"}
_STANDARD |= {"Cache-Control"}
_MESSAGE_CHARS = 200
_STATUS = re.compile(r"status code: (\d{3})")
_NOT_FOUND = 404
_REFUSED = {401, 403}
_MAX_LINK = timedelta(days=7)


def s3_store(settings: ObjectsSettings) -> S3Store:
    """The obstore client for the bucket and prefix of ``settings`` (no request is made)."""
    client: ClientConfig = {
        "allow_http": settings.endpoint_url.startswith("http://"),
        "timeout": f"{settings.timeout_seconds}s",
        "connect_timeout": f"{settings.connect_timeout_seconds}s",
    }
    retry: RetryConfig = {
        "max_retries": settings.max_retries,
        "retry_timeout": timedelta(seconds=settings.timeout_seconds * (settings.max_retries + 1)),
    }
    credentials: dict[str, Any] = {}
    if settings.access_key_id is not None and settings.secret_access_key is not None:
        credentials = {
            "access_key_id": settings.access_key_id.get_secret_value(),
            "secret_access_key": settings.secret_access_key.get_secret_value(),
        }
    if settings.endpoint_url:
        credentials["endpoint"] = settings.endpoint_url
    return S3Store(
        settings.bucket,
        prefix=settings.prefix.rstrip("/") or None,
        region=settings.region,
        virtual_hosted_style_request=not settings.path_style,
        client_options=client,
        retry_config=retry,
        **credentials,
    )


class S3ObjectStore:
    """Objects in an S3-compatible bucket (see the module's docstring).

    Args:
        store: obstore's client (`s3_store` builds it from the settings).
        max_object_bytes: The largest object stored or read back.
        presign_expiry: The default lifetime of a pre-signed link.
        clock: Wall-clock seconds, for the links' expiry times (tests pass a fake).
    """

    backend = "s3"

    def __init__(
        self,
        store: S3Store,
        *,
        max_object_bytes: int,
        presign_expiry: timedelta,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._store = store
        self.max_object_bytes = max_object_bytes
        self.presign_expiry = presign_expiry
        self._clock = clock
        self._stats = ObjectStats()

    @property
    def stats(self) -> ObjectStats:
        """The operations done so far, by outcome."""
        return self._stats

    def _now(self) -> datetime:
        if self._clock is None:
            return datetime.now(UTC)
        return datetime.fromtimestamp(self._clock(), UTC)

    async def put(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str,
        metadata: Mapping[str, str] | None = None,
    ) -> StoredObject:
        """Store ``data`` under ``key`` (replacing what was there) with its SHA-256."""
        with self._stats.count("put"):
            check_key(key)
            kind = check_content_type(content_type)
            caller = check_metadata(metadata or {})
            if len(data) > self.max_object_bytes:
                raise InvalidObjectError(
                    f"an object has at most {self.max_object_bytes} bytes "
                    "(objects.max_object_bytes)"
                )
            digest = sha256_hex(data)
            attributes: dict[str, str] = {
                **encode_metadata(caller),
                CHECKSUM_NAME: digest,
                _CONTENT_TYPE: kind,
            }
            with _converted(key):
                await obstore.put_async(self._store, key, data, attributes=attributes)
            return StoredObject(key, len(data), kind, digest, caller, self._now())

    async def get(self, key: str) -> StoredContent:
        """The object's bytes and description; its size and SHA-256 are checked."""
        with self._stats.count("get"):
            check_key(key)
            with _converted(key):
                result = await obstore.get_async(self._store, key)
                info = _described(key, result.meta, result.attributes)
                self._within_limit(info)
                data = bytes(await result.bytes_async())
            return verified(info, data)

    async def stat(self, key: str) -> StoredObject | None:
        """The object's description (a HEAD), or None when there is none."""
        with self._stats.count("stat"):
            check_key(key)
            try:
                with _converted(key):
                    result = await obstore.get_async(self._store, key, options={"head": True})
            except ObjectNotFoundError:
                return None
            return _described(key, result.meta, result.attributes)

    async def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""
        return await self.stat(key) is not None

    async def delete(self, key: str) -> None:
        """Remove the object; removing an absent one is not an error (as on S3)."""
        with self._stats.count("delete"):
            check_key(key)
            with _converted(key):
                await obstore.delete_async(self._store, key)

    async def presigned_get_url(
        self, key: str, *, expires_in: timedelta | None = None
    ) -> PresignedUrl:
        """A SigV4 pre-signed GET link (no request is made; the object need not exist yet)."""
        with self._stats.count("presign"):
            check_key(key)
            lifetime = self.presign_expiry if expires_in is None else expires_in
            if not timedelta(seconds=1) <= lifetime <= _MAX_LINK:
                raise InvalidObjectError("a link lives between 1 second and 7 days")
            lifetime = timedelta(seconds=int(lifetime.total_seconds()))
            now = self._now()
            with _converted(key):
                url = await obstore.sign_async(self._store, "GET", key, lifetime)
            return PresignedUrl(url=url, expires_at=now + lifetime)

    async def check(self) -> None:
        """Raise unless the bucket exists and the credentials may list it."""
        with self._stats.count("check"), _converted("(bucket)"):
            stream = obstore.list(self._store, chunk_size=1)
            async for _ in stream:
                break

    def _within_limit(self, info: StoredObject) -> None:
        if info.size > self.max_object_bytes:
            raise ObjectStoreError(
                f"object {info.key} has {info.size} bytes, over objects.max_object_bytes "
                f"({self.max_object_bytes})"
            )


def _described(key: str, meta: Any, attributes: Mapping[str, Any]) -> StoredObject:
    """A `StoredObject` from obstore's ``ObjectMeta`` and ``Attributes``."""
    caller = {
        str(name).lower(): str(value)
        for name, value in attributes.items()
        if str(name) not in _STANDARD and str(name).lower() != CHECKSUM_NAME
    }
    checksum = next((str(v) for n, v in attributes.items() if str(n).lower() == CHECKSUM_NAME), "")
    return StoredObject(
        key=key,
        size=int(meta["size"]),
        content_type=str(attributes.get(_CONTENT_TYPE, "application/octet-stream")),
        sha256=checksum,
        metadata=decode_metadata(caller),
        modified_at=meta.get("last_modified"),
    )


@contextlib.contextmanager
def _converted(key: str) -> Iterator[None]:
    """Turn obstore's and the network's exceptions into bridge's, for object ``key``."""
    try:
        yield
    except (BaseError, OSError) as exc:
        raise _translate(exc, key) from exc


def _translate(exc: BaseException, key: str) -> Exception:
    summary = _summary(exc)
    text = str(exc)
    found = _STATUS.search(text)
    status = int(found.group(1)) if found else None  # list errors are "generic" in obstore
    if "NoSuchBucket" in text:
        return ObjectAccessError(f"the bucket does not exist: {summary}")
    if isinstance(exc, (NotFoundError, FileNotFoundError)) or status == _NOT_FOUND:
        return ObjectNotFoundError(f"no object {key}")
    if isinstance(exc, (PermissionDeniedError, UnauthenticatedError, PermissionError)) or (
        status in _REFUSED
    ):
        return ObjectAccessError(f"object storage refused the credentials: {summary}")
    if isinstance(exc, InvalidPathError):
        return InvalidObjectError(f"object storage refused the key: {summary}")
    return ObjectStoreError(f"object storage failed for {key}: {summary}")


def _summary(exc: BaseException) -> str:
    """The first line of the library's message, bounded (it holds URLs, never credentials)."""
    lines: Iterator[str] = iter(str(exc).strip().splitlines())
    first = next(lines, type(exc).__name__)
    return first[:_MESSAGE_CHARS]
