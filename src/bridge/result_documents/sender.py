"""Send one result document to one citizen: fetch it, check it, upload it once, send the message."""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
import unicodedata
from collections import OrderedDict
from typing import TYPE_CHECKING, Literal, Protocol

import httpx
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from bridge.errors import DocumentNotSendableError, MessageRejectedError, RetryableDeliveryError
from bridge.result_documents.kinds import EXTENSIONS, SNIFF_BYTES, plan, sniff
from bridge.status import Channel
from bridge.zalo.read_back import DocumentQuery

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from bridge.events import ResultDocument
    from bridge.result_documents.kinds import Plan
    from bridge.result_documents.settings import DocumentSettings
    from bridge.zalo.client import SendReceipt

__all__ = ["DocumentUploader", "ZaloDocuments", "check", "upload_name"]

EXPIRED_ASSET = -100
"""``attachment_id was expired`` on the OA host (zalo-oa-api-2 §1.4, VERIFIED (doc))."""

_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]+")


class DocumentUploader(Protocol):
    """The Zalo calls a document needs (``bridge.zalo.ZaloClient`` has them)."""

    async def upload(
        self, kind: Literal["file", "image"], name: str, content: bytes, content_type: str
    ) -> str:
        """Upload a file or an image; its token or attachment id (``ZaloClient.upload``)."""
        ...

    async def send_file(self, user_id: str, token: str) -> SendReceipt:
        """Send an uploaded file (``ZaloClient.send_file``)."""
        ...

    async def send_image(self, user_id: str, attachment_id: str, caption: str) -> SendReceipt:
        """Send an uploaded image (``ZaloClient.send_image``)."""
        ...

    async def find_sent_document(self, query: DocumentQuery) -> str | None:
        """The id of a file or image message found in the conversation (``ZaloClient``)."""
        ...


class _HostFailedError(Exception):
    """The document's host failed in a way a later try may not (5xx, 429, transport)."""


def upload_name(document: ResultDocument) -> str:
    """The file name the citizen sees: the title, made safe, with the type's extension."""
    extension = EXTENSIONS.get(document.content_type.split(";", 1)[0].strip().lower(), "bin")
    title = _UNSAFE.sub(" ", unicodedata.normalize("NFC", document.title)).strip() or "ket-qua"
    return f"{title[:100].rstrip()}.{extension}"


class ZaloDocuments:
    """The deliverer's ``DocumentSender``: plans, and sends one document to one user.

    The bytes are fetched from the event's URL with a bounded size and deadline, then checked
    against the event (size, SHA-256, type by magic bytes) before anything goes to Zalo. An
    upload is remembered by (SHA-256, kind), so a document for several citizens goes up once,
    and is made again when older than ``reupload_after_hours`` or when Zalo says it expired
    (-100: upload again once, send again once). Document URLs may carry credentials (pre-signed
    URLs): they are never logged or put into an exception.

    Args:
        zalo: The OA client.
        http: Fetches the documents (no Zalo token; owned by the caller).
        settings: Limits, retries, cache.
        clock: Wall-clock seconds (the age of uploads).
        sleep: Awaited between fetch tries (tests pass a fake).
    """

    def __init__(
        self,
        zalo: DocumentUploader,
        http: httpx.AsyncClient,
        settings: DocumentSettings,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._zalo = zalo
        self._http = http
        self._settings = settings
        self._clock = clock
        self._sleep = sleep
        self._fetching = asyncio.Semaphore(settings.concurrent_fetches)
        self._assets: OrderedDict[tuple[str, Channel], tuple[str, float]] = OrderedDict()

    def plan(self, document: ResultDocument, *, window_open: bool) -> Plan:
        """See ``bridge.result_documents.kinds.plan``."""
        return plan(document, window_open=window_open, settings=self._settings)

    @property
    def reads_back(self) -> bool:
        """Whether an in-doubt send is looked for in the conversation (``in_doubt_read_back``)."""
        return self._settings.in_doubt_read_back

    async def find_sent(  # noqa: PLR0913 - the send's identity and its window, keyword-only
        self,
        user_id: str,
        document: ResultDocument,
        channel: Channel,
        *,
        sent_after: float,
        sent_before: float,
        taken: frozenset[str],
    ) -> str | None:
        """The message id of ``document`` sent to ``user_id`` as ``channel``, if Zalo shows it.

        The window ``[sent_after, sent_before]`` (epoch seconds) is widened by
        ``read_back_margin_seconds`` on both sides; ``taken`` are the ids the other documents of
        the same event and user already account for.

        Raises:
            DeliveryError: As the Zalo client raises for the read.
        """
        settings = self._settings
        margin = settings.read_back_margin_seconds
        kind: Literal["file", "image"] = "image" if channel is Channel.ZALO_IMAGE else "file"
        caption = document.title if kind == "image" and settings.read_back_caption else None
        query = DocumentQuery(
            user_id=user_id,
            kind=kind,
            since=sent_after - margin,
            until=sent_before + margin,
            caption=caption,
            taken=taken,
        )
        return await self._zalo.find_sent_document(query)

    async def send(self, user_id: str, document: ResultDocument, channel: Channel) -> SendReceipt:
        """Send ``document`` to ``user_id`` as ``channel`` (a file or an image message).

        Raises:
            DocumentNotSendableError: It cannot go as a file; the reason says why.
            DeliveryError: As the Zalo client raises for the send itself.
        """
        key = (document.sha256, channel)
        asset = await self._asset(document, channel)
        try:
            return await self._message(user_id, document, channel, asset)
        except RetryableDeliveryError as error:
            if error.code != EXPIRED_ASSET:
                raise
        self._assets.pop(key, None)
        asset = await self._asset(document, channel)
        return await self._message(user_id, document, channel, asset)

    async def _message(
        self, user_id: str, document: ResultDocument, channel: Channel, asset: str
    ) -> SendReceipt:
        if channel is Channel.ZALO_IMAGE:
            return await self._zalo.send_image(user_id, asset, document.title)
        return await self._zalo.send_file(user_id, asset)

    async def _asset(self, document: ResultDocument, channel: Channel) -> str:
        key = (document.sha256, channel)
        cached = self._assets.get(key)
        max_age = self._settings.reupload_after_hours * 3600
        if cached is not None and self._clock() - cached[1] < max_age:
            self._assets.move_to_end(key)
            return cached[0]
        async with self._fetching:
            content = await self._fetch(document)
            kind: Literal["file", "image"] = "image" if channel is Channel.ZALO_IMAGE else "file"
            try:
                asset = await self._zalo.upload(
                    kind, upload_name(document), content, document.content_type
                )
            except MessageRejectedError as error:
                # -201 (type) or -210 (size): Zalo will not take this file; the link stays.
                code = error.code if error.code is not None else "http"
                raise DocumentNotSendableError(f"link:rejected:{code}", code=error.code) from error
        if self._settings.upload_cache_entries:
            self._assets[key] = (asset, self._clock())
            while len(self._assets) > self._settings.upload_cache_entries:
                self._assets.popitem(last=False)
        return asset

    async def _fetch(self, document: ResultDocument) -> bytes:
        """The document's bytes, checked against the event; bounded in size, time and tries."""
        settings = self._settings
        retrying = AsyncRetrying(
            stop=stop_after_attempt(settings.fetch_attempts),
            wait=wait_exponential(multiplier=0.5, max=5),
            retry=retry_if_exception_type(_HostFailedError),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    content = await self._download(document)
        except _HostFailedError as exc:
            raise DocumentNotSendableError("link:unavailable") from exc
        return check(document, content)

    async def _download(self, document: ResultDocument) -> bytes:
        chunks: list[bytes] = []
        received = 0
        try:
            async with (
                asyncio.timeout(self._settings.fetch_timeout_seconds),
                self._http.stream("GET", str(document.url)) as response,
            ):
                if response.status_code >= 500 or response.status_code == 429:  # noqa: PLR2004 - HTTP
                    raise _HostFailedError(f"HTTP {response.status_code}")
                if response.status_code != 200:  # noqa: PLR2004 - HTTP OK
                    raise DocumentNotSendableError("link:unavailable")
                async for chunk in response.aiter_bytes():
                    received += len(chunk)
                    if received > document.size:
                        # Longer than the event says: never read more than it promised.
                        raise DocumentNotSendableError("refused:size")
                    chunks.append(chunk)
        except (httpx.HTTPError, TimeoutError) as exc:
            # The URL may carry credentials: only the class of the failure is kept.
            raise _HostFailedError(type(exc).__name__) from exc
        return b"".join(chunks)


def check(document: ResultDocument, content: bytes) -> bytes:
    """``content`` when it is the document the event describes, else why it is refused.

    Raises:
        DocumentNotSendableError: ``refused:size``, ``refused:sha256`` or ``refused:type``.
    """
    if len(content) != document.size:
        raise DocumentNotSendableError("refused:size")
    if hashlib.sha256(content).hexdigest() != document.sha256:
        raise DocumentNotSendableError("refused:sha256")
    declared = document.content_type.split(";", 1)[0].strip().lower()
    if sniff(content[:SNIFF_BYTES]) != declared:
        raise DocumentNotSendableError("refused:type")
    return content
