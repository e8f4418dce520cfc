"""The object store's interface, what it returns, and what every adapter shares."""

from __future__ import annotations

import contextlib
import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from bridge.errors import (
    InvalidObjectError,
    ObjectAccessError,
    ObjectIntegrityError,
    ObjectNotFoundError,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from datetime import datetime, timedelta

__all__ = [
    "OPERATIONS",
    "OUTCOMES",
    "ObjectStats",
    "ObjectStore",
    "PresignedUrl",
    "StoredContent",
    "StoredObject",
    "sha256_hex",
    "verified",
]

OPERATIONS = ("put", "get", "stat", "delete", "presign", "check")
OUTCOMES = ("ok", "not_found", "invalid", "integrity", "access", "error")


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of ``data``, 64 lower-case hex digits."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class StoredObject:
    """What is known of a stored object without reading its bytes.

    Attributes:
        key: Its key (without the store's prefix).
        size: Its length in bytes.
        content_type: Its ``type/subtype``.
        sha256: The SHA-256 of its bytes (hex) as written with it; "" when absent.
        metadata: The caller's metadata, decoded (the checksum not included).
        modified_at: When it was last written (UTC), as the store tells.
    """

    key: str
    size: int
    content_type: str
    sha256: str
    metadata: Mapping[str, str] = field(default_factory=dict)
    modified_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StoredContent:
    """A stored object with its bytes, checked against its SHA-256."""

    info: StoredObject
    data: bytes


@dataclass(frozen=True, slots=True)
class PresignedUrl:
    """A link that lets its holder GET one object, without credentials, until it expires.

    Attributes:
        url: The link (it is a credential: hand it only to whom may read the object).
        expires_at: When it stops working (UTC).
    """

    url: str
    expires_at: datetime

    def __repr__(self) -> str:
        """Never print the link itself (its signature lets anyone read the object)."""
        return f"PresignedUrl(url=<{len(self.url)} chars>, expires_at={self.expires_at!r})"


class ObjectStore(Protocol):
    """Keeps files by key: put, get, stat, delete, and time-limited links to them.

    Keys, content types and metadata follow ``bridge.objects.keys``. Every call raises bridge's
    own errors only: `InvalidObjectError` before any I/O, `ObjectNotFoundError`,
    `ObjectIntegrityError`, `ObjectAccessError`, or another `ObjectStoreError`.
    """

    @property
    def backend(self) -> str:
        """``local`` or ``s3``."""
        ...

    @property
    def stats(self) -> ObjectStats:
        """The operations done so far, by outcome (for the metrics)."""
        ...

    async def put(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str,
        metadata: Mapping[str, str] | None = None,
    ) -> StoredObject:
        """Store ``data`` under ``key`` (replacing what was there) with its SHA-256."""
        ...

    async def get(self, key: str) -> StoredContent:
        """The object's bytes and description; its SHA-256 is checked."""
        ...

    async def stat(self, key: str) -> StoredObject | None:
        """The object's description, or None when there is none."""
        ...

    async def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the object; removing an absent one is not an error."""
        ...

    async def presigned_get_url(
        self, key: str, *, expires_in: timedelta | None = None
    ) -> PresignedUrl:
        """A link to GET the object until ``expires_in`` from now (default: the settings')."""
        ...

    async def check(self) -> None:
        """Raise unless the store answers with these settings (bucket, credentials)."""
        ...


class ObjectStats:
    """Counts of the store's operations by (operation, outcome)."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()

    @contextlib.contextmanager
    def count(self, operation: str) -> Iterator[None]:
        """Count the operation run inside the block by how it ended."""
        outcome = "error"
        try:
            yield
            outcome = "ok"
        except ObjectNotFoundError:
            outcome = "not_found"
            raise
        except InvalidObjectError:
            outcome = "invalid"
            raise
        except ObjectIntegrityError:
            outcome = "integrity"
            raise
        except ObjectAccessError:
            outcome = "access"
            raise
        finally:
            self.counts[operation, outcome] += 1


def verified(info: StoredObject, data: bytes) -> StoredContent:
    """``data`` with ``info`` if its size and SHA-256 match, else `ObjectIntegrityError`."""
    if not info.sha256:
        raise ObjectIntegrityError(f"object {info.key} has no SHA-256 to check its bytes against")
    if len(data) != info.size or sha256_hex(data) != info.sha256:
        raise ObjectIntegrityError(f"object {info.key}: the bytes do not match their SHA-256")
    return StoredContent(info, data)
