"""The OA's uploaded assets (part 2 §1): images, GIFs and files, with their limits and lifetime.

`POST /v2.0/oa/upload/{image,gif,file}` stores the bytes and answers an opaque id: an
`attachment_id` for images and GIFs, a `token` for files (part 2 §1.3). An asset is valid for 7
days (part 2 §1.4, UNCERTAIN but two sources agree); a message using it afterwards gets `-100`.
The accepted types and sizes are those of part 2 §1.2 (VERIFIED (code)); every limit, the
lifetime and the monthly quota (UNCERTAIN) are settings.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final

__all__ = [
    "ASSET_LIFETIME_S",
    "UPLOAD_PATHS",
    "FileResponseKey",
    "NoExtension",
    "Upload",
    "UploadAttempt",
    "UploadConfig",
    "UploadKind",
    "UploadSettings",
    "UploadStore",
    "new_asset_id",
]

ASSET_LIFETIME_S: Final = 7 * 86_400.0
"""An uploaded asset is valid 7 days (part 2 §1.4: SPEC, and NukeViet's "upload + 7 days")."""

_VIETNAM_OFFSET_S: Final = 7 * 3_600.0


class UploadKind(StrEnum):
    """The three upload endpoints (part 2 §1.1)."""

    IMAGE = "image"
    GIF = "gif"
    FILE = "file"


UPLOAD_PATHS: Final = {kind: f"/v2.0/oa/upload/{kind.value}" for kind in UploadKind}
"""`POST /v2.0/oa/upload/image|gif|file` on `openapi.zalo.me` (VERIFIED (SDK), part 2 §1.1)."""


class FileResponseKey(StrEnum):
    """Which key `upload/file` answers with (part 2 §1.3: `token` per the SDKs, UNCERTAIN)."""

    TOKEN = "token"  # noqa: S105 - a key name
    ATTACHMENT_ID = "attachment_id"
    BOTH = "both"


class NoExtension(StrEnum):
    """What an upload whose file name has no extension gets (part 2 §1.1, UNCERTAIN)."""

    EMPTY_DATA = "empty_data"  # error 0 with an empty `data`, as GC saw in live traffic
    REJECT = "reject"  # -201 `file is invalid!`


@dataclass(frozen=True, slots=True)
class UploadConfig:
    """The upload knobs an emulator starts with (all changeable with `PUT /_emulator/uploads`).

    Attributes:
        image_types: Extensions `upload/image` accepts (JPG, PNG: part 2 §1.2).
        gif_types: Extensions `upload/gif` accepts.
        file_types: Extensions `upload/file` accepts (PDF, DOC, DOCX; SPEC's CSV is UNCERTAIN).
        image_max_bytes: Largest image (1 MB, part 2 §1.2).
        gif_max_bytes: Largest GIF (5 MB).
        file_max_bytes: Largest file (5 MB).
        asset_lifetime_s: How long an asset may be used in a message (7 days, UNCERTAIN).
        monthly_quota: Uploads per Vietnam calendar month (5,000, SPEC only: UNCERTAIN); 0 = none.
        check_content: Whether the first bytes must match the extension (-201 otherwise).
        file_response_key: The key `upload/file` answers with.
        no_extension: What a file name without an extension gets.
        unknown_asset_error: The code a message gets for an id or token never issued (-201
            naming the field; UNCERTAIN, -100 is the other candidate).
    """

    image_types: tuple[str, ...] = ("jpg", "jpeg", "png")
    gif_types: tuple[str, ...] = ("gif",)
    file_types: tuple[str, ...] = ("pdf", "doc", "docx")
    image_max_bytes: int = 1_048_576
    gif_max_bytes: int = 5_242_880
    file_max_bytes: int = 5_242_880
    asset_lifetime_s: float = ASSET_LIFETIME_S
    monthly_quota: int = 5_000
    check_content: bool = True
    file_response_key: FileResponseKey = FileResponseKey.TOKEN
    no_extension: NoExtension = NoExtension.EMPTY_DATA
    unknown_asset_error: int = -201


@dataclass(slots=True)
class UploadSettings:
    """The upload knobs as they are now."""

    image_types: tuple[str, ...]
    gif_types: tuple[str, ...]
    file_types: tuple[str, ...]
    image_max_bytes: int
    gif_max_bytes: int
    file_max_bytes: int
    asset_lifetime_s: float
    monthly_quota: int
    check_content: bool
    file_response_key: FileResponseKey
    no_extension: NoExtension
    unknown_asset_error: int

    @classmethod
    def from_config(cls, config: UploadConfig) -> UploadSettings:
        """Take the initial values from `config`."""
        return cls(
            image_types=tuple(config.image_types),
            gif_types=tuple(config.gif_types),
            file_types=tuple(config.file_types),
            image_max_bytes=config.image_max_bytes,
            gif_max_bytes=config.gif_max_bytes,
            file_max_bytes=config.file_max_bytes,
            asset_lifetime_s=config.asset_lifetime_s,
            monthly_quota=config.monthly_quota,
            check_content=config.check_content,
            file_response_key=config.file_response_key,
            no_extension=config.no_extension,
            unknown_asset_error=config.unknown_asset_error,
        )

    def types(self, kind: UploadKind) -> tuple[str, ...]:
        """Return the extensions the `kind` endpoint accepts."""
        return {
            UploadKind.IMAGE: self.image_types,
            UploadKind.GIF: self.gif_types,
            UploadKind.FILE: self.file_types,
        }[kind]

    def max_bytes(self, kind: UploadKind) -> int:
        """Return the largest upload the `kind` endpoint accepts."""
        return {
            UploadKind.IMAGE: self.image_max_bytes,
            UploadKind.GIF: self.gif_max_bytes,
            UploadKind.FILE: self.file_max_bytes,
        }[kind]


@dataclass(slots=True)
class Upload:
    """One uploaded asset.

    Attributes:
        asset_id: The `attachment_id` (image, GIF) or `token` (file) it was answered with.
        kind: Which endpoint took it.
        name: The file name of the multipart part.
        extension: Its extension, lower case.
        content_type: The part's declared content type.
        data: The bytes.
        sha256: Their SHA-256, hex.
        uploaded_at: Epoch seconds.
        expires_at: Epoch seconds from which messages using it get -100.
        hosted_key: The key under which the file host serves it (for read-back URLs).
        sends: How many accepted messages used it.
    """

    asset_id: str
    kind: UploadKind
    name: str
    extension: str
    content_type: str
    data: bytes = field(repr=False)
    sha256: str
    uploaded_at: float
    expires_at: float
    hosted_key: str | None = None
    sends: int = 0

    @property
    def size(self) -> int:
        """The size in bytes."""
        return len(self.data)

    def expired(self, now: float) -> bool:
        """Whether the asset can no longer be sent at `now`."""
        return now >= self.expires_at


def new_asset_id() -> str:
    """Return an opaque id of varying length, with `+`, `/` and `=` possible (part 2 §1.3)."""
    return base64.b64encode(secrets.token_bytes(24 + secrets.randbelow(60))).decode("ascii")


@dataclass(frozen=True, slots=True)
class UploadAttempt:
    """One call to an upload endpoint and its outcome.

    Attributes:
        seq: Arrival order, from 1.
        at: Epoch seconds.
        kind: The endpoint's kind.
        name: The `file` part's file name, if there was one.
        size: Its size in bytes, if there was one.
        error: The Zalo code answered (0 = success); None if no envelope was sent.
        asset_id: The id or token issued, on success.
        fault: The kind of injected fault that applied, if any.
    """

    seq: int
    at: float
    kind: UploadKind
    name: str | None
    size: int | None
    error: int | None
    asset_id: str | None = None
    fault: str | None = None


class UploadStore:
    """The uploaded assets, by id, this month's count, and every upload call."""

    __slots__ = ("_assets", "_attempts", "_month", "_this_month", "settings")

    def __init__(self, settings: UploadSettings) -> None:
        """Create an empty store run by `settings`."""
        self.settings = settings
        self._assets: dict[str, Upload] = {}
        self._attempts: list[UploadAttempt] = []
        self._month = ""
        self._this_month = 0

    def log(self, attempt: UploadAttempt) -> None:
        """Note one upload call."""
        self._attempts.append(attempt)

    def attempts(self) -> list[UploadAttempt]:
        """Return every upload call, in arrival order."""
        return list(self._attempts)

    def next_seq(self) -> int:
        """Return the next arrival number of an upload call."""
        return len(self._attempts) + 1

    def add(  # noqa: PLR0913 - the parts of one upload
        self,
        *,
        kind: UploadKind,
        name: str,
        extension: str,
        content_type: str,
        data: bytes,
        now: float,
    ) -> Upload:
        """Store an accepted upload and count it against the month's quota."""
        upload = Upload(
            asset_id=new_asset_id(),
            kind=kind,
            name=name,
            extension=extension,
            content_type=content_type,
            data=data,
            sha256=hashlib.sha256(data).hexdigest(),
            uploaded_at=now,
            expires_at=now + self.settings.asset_lifetime_s,
        )
        self._assets[upload.asset_id] = upload
        self.count(now)
        return upload

    def get(self, asset_id: str) -> Upload | None:
        """Return the asset `asset_id`, if it was issued."""
        return self._assets.get(asset_id)

    def all(self) -> list[Upload]:
        """Return every asset, in upload order."""
        return list(self._assets.values())

    def expire(self, asset_id: str, now: float) -> Upload | None:
        """Make the asset expire at `now` (None if unknown)."""
        upload = self._assets.get(asset_id)
        if upload is not None:
            upload.expires_at = min(upload.expires_at, now)
        return upload

    def clear(self) -> int:
        """Forget every asset and call and return how many assets there were.

        The month's count stays (Zalo's quota does not forget).
        """
        count = len(self._assets)
        self._assets.clear()
        self._attempts.clear()
        return count

    def used_this_month(self, now: float) -> int:
        """Return how many uploads were accepted in the Vietnam calendar month of `now`."""
        self._roll(now)
        return self._this_month

    def quota_left(self, now: float) -> int | None:
        """Return the uploads left this month (None when there is no quota)."""
        quota = self.settings.monthly_quota
        if quota <= 0:
            return None
        return max(quota - self.used_this_month(now), 0)

    def count(self, now: float) -> None:
        """Count one accepted upload."""
        self._roll(now)
        self._this_month += 1

    def _roll(self, now: float) -> None:
        month = datetime.fromtimestamp(now + _VIETNAM_OFFSET_S, UTC).strftime("%Y-%m")
        if month != self._month:
            self._month = month
            self._this_month = 0
