"""The local-directory object store: the embedded default for one replica and ``make run``.

Each object is one file, ``<root>/<key>/.object``: a first line of JSON (content type, size,
SHA-256, metadata, written at) and then the bytes. A key's segments never start with a dot,
so ``.object`` and the temporary ``.tmp-…`` files never collide with another key, and ``a``
and ``a/b`` can both exist, as on S3. A put writes a temporary file, flushes it to disk and
renames it into place: a reader sees the old object or the new one, never a mix; a crash
leaves at most a ``.tmp-…`` file. The file operations run in a worker thread.

Its links are signed by bridge (``bridge.objects.signing``) and served on bridge's own HTTP
port (``bridge.objects.serving``), so they work only where that port is reachable.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from bridge.errors import (
    ConfigurationError,
    InvalidObjectError,
    ObjectAccessError,
    ObjectIntegrityError,
    ObjectNotFoundError,
    ObjectStoreError,
)
from bridge.objects.keys import check_content_type, check_key, check_metadata
from bridge.objects.store import (
    ObjectStats,
    PresignedUrl,
    StoredContent,
    StoredObject,
    sha256_hex,
    verified,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from bridge.objects.signing import LinkSigner

__all__ = ["LocalObjectStore"]

OBJECT_FILE = ".object"
_HEADER_LIMIT = 16 * 1024
_FORMAT = 1
_T = TypeVar("_T")
_PUT_TRIES = 3  # a concurrent delete may remove the directory between mkdir and create


class LocalObjectStore:
    """Objects as files under one directory (see the module's docstring).

    Args:
        root: The directory (created if missing).
        max_object_bytes: The largest object stored or read back.
        presign_expiry: The default lifetime of a link.
        signer: Makes the links; None: `presigned_get_url` raises `ConfigurationError`.
        clock: Wall-clock seconds, for link expiry (tests pass a fake).
    """

    backend = "local"

    def __init__(
        self,
        root: Path,
        *,
        max_object_bytes: int,
        presign_expiry: timedelta,
        signer: LinkSigner | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = Path(root)
        self.max_object_bytes = max_object_bytes
        self.presign_expiry = presign_expiry
        self.signer = signer
        self.clock = clock
        self._stats = ObjectStats()

    @property
    def stats(self) -> ObjectStats:
        """The operations done so far, by outcome."""
        return self._stats

    def _file(self, key: str) -> Path:
        path = self.root.joinpath(*check_key(key).split("/"), OBJECT_FILE)
        # check_key already rules out "..", absolute and hidden segments; this is the backstop.
        if not path.resolve().is_relative_to(self.root.resolve()):
            raise InvalidObjectError("an object key must stay inside the store")
        return path

    # -- operations

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
            path = self._file(key)
            info = StoredObject(
                key=key,
                size=len(data),
                content_type=check_content_type(content_type),
                sha256=sha256_hex(data),
                metadata=check_metadata(metadata or {}),
                modified_at=datetime.fromtimestamp(int(self.clock()), UTC),
            )
            if len(data) > self.max_object_bytes:
                raise InvalidObjectError(
                    f"an object has at most {self.max_object_bytes} bytes "
                    "(objects.max_object_bytes)"
                )
            await _in_thread(_write, path, _header(info), data)
            return info

    async def get(self, key: str) -> StoredContent:
        """The object's bytes and description; its SHA-256 is checked."""
        with self._stats.count("get"):
            path = self._file(key)
            info, data = await _in_thread(_read, path, key, self.max_object_bytes, with_data=True)
            return verified(info, data)

    async def stat(self, key: str) -> StoredObject | None:
        """The object's description, or None when there is none."""
        with self._stats.count("stat"):
            path = self._file(key)
            try:
                info, _ = await _in_thread(_read, path, key, self.max_object_bytes, with_data=False)
            except ObjectNotFoundError:
                return None
            return info

    async def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""
        return await self.stat(key) is not None

    async def delete(self, key: str) -> None:
        """Remove the object and the directories it leaves empty; absent is not an error."""
        with self._stats.count("delete"):
            await _in_thread(_delete, self._file(key), self.root)

    async def presigned_get_url(
        self, key: str, *, expires_in: timedelta | None = None
    ) -> PresignedUrl:
        """A link served by bridge's HTTP port, signed with ``objects.local_signing_key``."""
        with self._stats.count("presign"):
            check_key(key)
            lifetime = _lifetime(self.presign_expiry if expires_in is None else expires_in)
            if self.signer is None:
                raise ConfigurationError(
                    "links to local objects need objects.local_public_url and "
                    "objects.local_signing_key"
                )
            expires = int(self.clock()) + lifetime
            return PresignedUrl(
                url=self.signer.link(key, expires),
                expires_at=datetime.fromtimestamp(expires, UTC),
            )

    async def check(self) -> None:
        """Raise unless the directory exists (or can be made) and takes a file."""
        with self._stats.count("check"):
            await _in_thread(_check_writable, self.root)


def _lifetime(expires_in: timedelta) -> int:
    seconds = int(expires_in.total_seconds())
    if not 1 <= seconds <= 7 * 24 * 3600:
        raise InvalidObjectError("a link lives between 1 second and 7 days")
    return seconds


async def _in_thread(function: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
    """Run a file operation in a worker thread; OSError becomes bridge's `ObjectStoreError`."""
    try:
        return await asyncio.to_thread(function, *args, **kwargs)
    except PermissionError as exc:
        raise ObjectAccessError(f"object directory not accessible: {exc.strerror}") from exc
    except OSError as exc:
        raise ObjectStoreError(f"object directory failed: {exc.strerror or exc}") from exc


def _header(info: StoredObject) -> bytes:
    header = {
        "format": _FORMAT,
        "content_type": info.content_type,
        "size": info.size,
        "sha256": info.sha256,
        "metadata": dict(info.metadata),
        "modified_at": info.modified_at.isoformat() if info.modified_at else None,
    }
    return json.dumps(header, ensure_ascii=True, separators=(",", ":")).encode("ascii") + b"\n"


def _write(path: Path, header: bytes, data: bytes) -> None:
    for attempt in range(_PUT_TRIES):
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".tmp-{secrets.token_hex(8)}")
        try:
            with partial.open("xb") as handle:
                handle.write(header)
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            partial.replace(path)
        except FileNotFoundError:
            partial.unlink(missing_ok=True)
            if attempt == _PUT_TRIES - 1:
                raise
            continue
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        _sync_directory(path.parent)
        return


def _sync_directory(directory: Path) -> None:
    """Flush the rename to disk (POSIX); skipped where directories cannot be opened."""
    with contextlib.suppress(OSError):
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _read(path: Path, key: str, limit: int, *, with_data: bool) -> tuple[StoredObject, bytes]:
    try:
        handle = path.open("rb")
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise ObjectNotFoundError(f"no object {key}") from exc
    with handle:
        line = handle.readline(_HEADER_LIMIT)
        info = _parse_header(line, key)
        if info.size > limit:
            raise ObjectStoreError(
                f"object {key} has {info.size} bytes, over objects.max_object_bytes ({limit})"
            )
        data = handle.read(limit + 1) if with_data else b""
    return info, data


def _parse_header(line: bytes, key: str) -> StoredObject:
    try:
        header = json.loads(line)
        if header.get("format") != _FORMAT:
            header = {}  # an unknown format: read as no header (KeyError below)
        metadata = header.get("metadata") or {}
        modified = header.get("modified_at")
        return StoredObject(
            key=key,
            size=int(header["size"]),
            content_type=str(header["content_type"]),
            sha256=str(header.get("sha256") or ""),
            metadata={str(k): str(v) for k, v in metadata.items()},
            modified_at=datetime.fromisoformat(modified) if modified else None,
        )
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ObjectIntegrityError(f"object {key}: its file has no readable header") from exc


def _delete(path: Path, root: Path) -> None:
    path.unlink(missing_ok=True)
    with contextlib.suppress(NotADirectoryError):
        _sync_directory(path.parent)
    directory = path.parent
    while directory != root and directory.is_relative_to(root):
        try:
            directory.rmdir()  # only when empty: another key's object or a put keeps it
        except OSError:
            return
        directory = directory.parent


def _check_writable(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    probe = root / f".tmp-check-{secrets.token_hex(4)}"
    probe.write_bytes(b"")
    probe.unlink()
