"""A citizen's photo or file fetched from Zalo at once, checked, cleaned and stored."""

from __future__ import annotations

import asyncio
import hashlib
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx
import structlog
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from bridge.errors import ObjectStoreError
from bridge.submissions.conversation import StoredAttachment

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

    from bridge.objects.store import ObjectStore
    from bridge.submissions.forms import DocumentSpec
    from bridge.submissions.settings import SubmissionSettings
    from bridge.webhook.events import InboundAttachment

__all__ = ["HttpAttachmentIntake", "allowed_url"]

_log = structlog.get_logger("bridge.submissions")
_MIB = 1024 * 1024
_ATTEMPTS = 3


class _HostFailedError(Exception):
    """The host failed (network, 5xx, 429, timeout): try again."""


class _RefusedError(Exception):
    """Not taken; the message says why, in Vietnamese."""


def allowed_url(url: str, hosts: Sequence[str]) -> bool:
    """Whether ``url`` is http(s) on one of ``hosts`` or below one of them (empty: any host)."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower().rstrip(".")
    except ValueError:
        return False
    if parts.scheme not in {"http", "https"} or not host:
        return False
    return not hosts or any(
        host == allowed or host.endswith("." + allowed)
        for allowed in (h.lower().strip(".") for h in hosts)
    )


def _mib(size: int) -> str:
    return f"{size / _MIB:.0f} MB" if size >= _MIB else f"{size // 1024} KB"


class HttpAttachmentIntake:
    """Downloads at once (Zalo's links expire), bounded in size and time, with retries.

    Args:
        http: The client (no redirects to other schemes; its own timeouts).
        objects: Where the cleaned bytes go.
        settings: The size, pixel and time limits.
        sleep: Waits between tries (tests pass a fake).
    """

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        objects: ObjectStore,
        settings: SubmissionSettings,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._http = http
        self._objects = objects
        self._settings = settings
        self._sleep = sleep

    async def take(
        self, attachment: InboundAttachment, *, document: DocumentSpec, object_key: str
    ) -> StoredAttachment | str:
        """The stored attachment, or why it was refused (Vietnamese, for her)."""
        limit = min(
            document.max_bytes or self._settings.max_attachment_bytes,
            self._settings.max_attachment_bytes,
        )
        if attachment.size is not None and attachment.size > limit:
            return f"tệp {_mib(attachment.size)} lớn hơn giới hạn {_mib(limit)} của mục này."
        if not allowed_url(attachment.url, self._settings.attachment_hosts):
            _log.warning("attachment url refused: host not allowed", document=document.key)
            return "liên kết tệp không phải của Zalo, xin gửi lại tệp trong Zalo."
        try:
            data = await self._fetch(attachment.url, limit)
        except _RefusedError as refused:
            return str(refused)
        # Pillow (≈ 2 MB of memory) only once a file is checked.
        from bridge.submissions.images import clean  # noqa: PLC0415 - on the first file only

        cleaned = await asyncio.to_thread(
            clean,
            data,
            name=attachment.name,
            document=document,
            max_pixels=self._settings.max_image_pixels,
        )
        if isinstance(cleaned, str):
            return cleaned
        try:
            stored = await self._objects.put(
                object_key, cleaned.data, content_type=cleaned.content_type
            )
        except ObjectStoreError:
            _log.warning("attachment not stored", document=document.key)
            return "chưa lưu được tệp, xin gửi lại sau ít phút."
        return StoredAttachment(
            document=document.key,
            object_key=object_key,
            sha256=hashlib.sha256(cleaned.data).hexdigest(),
            content_type=cleaned.content_type,
            size=stored.size,
        )

    async def discard(self, object_keys: Sequence[str]) -> None:
        """Delete stored objects; failures are logged (the retention sweep tries again)."""
        for key in object_keys:
            try:
                await self._objects.delete(key)
            except ObjectStoreError:
                _log.warning("attachment not deleted", object_key=key)

    async def _fetch(self, url: str, limit: int) -> bytes:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(_ATTEMPTS),
            wait=wait_exponential(multiplier=0.5, max=4),
            retry=retry_if_exception_type(_HostFailedError),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._download(url, limit)
        except _HostFailedError as exc:
            raise _RefusedError("Zalo chưa trả tệp về được, xin gửi lại.") from exc
        raise AssertionError("unreachable")  # pragma: no cover - reraise=True

    async def _download(self, url: str, limit: int) -> bytes:
        chunks: list[bytes] = []
        received = 0
        try:
            async with (
                asyncio.timeout(self._settings.download_timeout_seconds),
                self._http.stream("GET", url) as response,
            ):
                if response.status_code >= 500 or response.status_code == 429:  # noqa: PLR2004 - HTTP
                    raise _HostFailedError(f"HTTP {response.status_code}")
                if response.status_code != 200:  # noqa: PLR2004 - HTTP OK
                    raise _RefusedError("liên kết tệp đã hết hạn, xin gửi lại.")
                async for chunk in response.aiter_bytes():
                    received += len(chunk)
                    if received > limit:
                        raise _RefusedError(f"tệp lớn hơn giới hạn {_mib(limit)} của mục này.")
                    chunks.append(chunk)
        except (httpx.HTTPError, TimeoutError) as exc:
            # The URL may carry a token: only the class of the failure is kept.
            raise _HostFailedError(type(exc).__name__) from exc
        if not chunks:
            raise _RefusedError("tệp trống.")
        return b"".join(chunks)
