"""The emulator's stand-in for Zalo's file CDN (`*.zdn.vn`): the bytes behind attachment URLs.

A user's photo or file arrives in a webhook as a URL (part 2 §2.2). No source states how long
such a URL lives (part 2 §2.2, UNCERTAIN), so the lifetime is a setting (`url_ttl_s`, 1 hour by
default) and an expired URL answers `expired_status` (404 by default: what a CDN answers for an
object it no longer has; a documented choice). The OA's own uploads are hosted here too, for the
`url` of the conversation read-back, for as long as the upload is valid.

URLs look like `<base>/_zdn/<key>/<file name>`; the thumbnail of an image is
`<base>/_zdn/t/<key>/<file name>` (Zalo puts thumbnails on a `t.` host, part 2 §2.2).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import quote

__all__ = [
    "CDN_PREFIX",
    "AttachmentConfig",
    "AttachmentHost",
    "AttachmentSettings",
    "HostedFile",
]

CDN_PREFIX: Final = "/_zdn"
"""The path prefix of hosted files."""


@dataclass(frozen=True, slots=True)
class AttachmentConfig:
    """The knobs of the file host (`PUT /_emulator/attachments`).

    Attributes:
        url_ttl_s: How long an inbound attachment URL answers (UNCERTAIN; 1 hour).
        expired_status: The HTTP status of an expired URL (404; 403 and 410 are other CDNs').
        base_url: The scheme and host put in URLs; None = the host the admin call came to.
    """

    url_ttl_s: float = 3_600.0
    expired_status: int = 404
    base_url: str | None = None


@dataclass(slots=True)
class AttachmentSettings:
    """The file-host knobs as they are now."""

    url_ttl_s: float
    expired_status: int
    base_url: str | None

    @classmethod
    def from_config(cls, config: AttachmentConfig) -> AttachmentSettings:
        """Take the initial values from `config`."""
        return cls(
            url_ttl_s=config.url_ttl_s,
            expired_status=config.expired_status,
            base_url=config.base_url,
        )


@dataclass(slots=True)
class HostedFile:
    """A file the host serves.

    Attributes:
        key: The random part of its URL.
        name: The file name at the end of its URL.
        content_type: The `Content-Type` it is served with.
        data: The bytes.
        created_at: Epoch seconds.
        expires_at: Epoch seconds from which the URL answers `expired_status`.
        user_id: The user who sent it (None for the OA's uploads).
        downloads: How many times it was fetched while valid.
    """

    key: str
    name: str
    content_type: str
    data: bytes = field(repr=False)
    created_at: float
    expires_at: float
    user_id: str | None = None
    downloads: int = 0

    @property
    def size(self) -> int:
        """The size in bytes."""
        return len(self.data)

    @property
    def md5(self) -> str:
        """The MD5 hex digest, the emulator's `checksum` (Zalo's algorithm is UNCERTAIN)."""
        return hashlib.md5(self.data, usedforsecurity=False).hexdigest()

    def path(self, *, thumbnail: bool = False) -> str:
        """Return the URL path of the file (or of its thumbnail)."""
        middle = "t/" if thumbnail else ""
        return f"{CDN_PREFIX}/{middle}{self.key}/{quote(self.name)}"


class AttachmentHost:
    """The hosted files, by key."""

    __slots__ = ("_files", "settings")

    def __init__(self, settings: AttachmentSettings) -> None:
        """Create an empty host run by `settings`."""
        self.settings = settings
        self._files: dict[str, HostedFile] = {}

    def add(  # noqa: PLR0913 - the parts of one hosted file
        self,
        data: bytes,
        name: str,
        content_type: str,
        now: float,
        *,
        expires_at: float | None = None,
        user_id: str | None = None,
    ) -> HostedFile:
        """Host `data` until `expires_at` (default: `url_ttl_s` from `now`)."""
        hosted = HostedFile(
            key=secrets.token_urlsafe(18),
            name=name,
            content_type=content_type,
            data=data,
            created_at=now,
            expires_at=now + self.settings.url_ttl_s if expires_at is None else expires_at,
            user_id=user_id,
        )
        self._files[hosted.key] = hosted
        return hosted

    def get(self, key: str) -> HostedFile | None:
        """Return the file with `key`, expired or not."""
        return self._files.get(key)

    def all(self) -> list[HostedFile]:
        """Return every hosted file, oldest first."""
        return list(self._files.values())

    def expire(self, key: str, now: float) -> HostedFile | None:
        """Make the file's URL expire at `now` (None if unknown)."""
        hosted = self._files.get(key)
        if hosted is not None:
            hosted.expires_at = min(hosted.expires_at, now)
        return hosted

    def clear(self) -> int:
        """Forget every file and return how many there were."""
        count = len(self._files)
        self._files.clear()
        return count
