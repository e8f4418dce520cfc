"""What a result document is and how it may go: its kind by magic bytes, the plan per citizen."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import filetype

from bridge.status import Channel

if TYPE_CHECKING:
    from bridge.events import ResultDocument
    from bridge.result_documents.settings import DocumentSettings

__all__ = ["EXTENSIONS", "Plan", "channel_for", "plan", "sniff"]

DOCX: Final = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

EXTENSIONS: Final = {
    "application/pdf": "pdf",
    "application/msword": "doc",
    DOCX: "docx",
    "image/jpeg": "jpg",
    "image/png": "png",
}
"""The types Zalo's uploads take (zalo-oa-api-2 §1.2), with the extension the upload is named by."""

_CHANNELS: Final = {
    "application/pdf": Channel.ZALO_FILE,
    "application/msword": Channel.ZALO_FILE,
    DOCX: Channel.ZALO_FILE,
    "image/jpeg": Channel.ZALO_IMAGE,
    "image/png": Channel.ZALO_IMAGE,
}

SNIFF_BYTES: Final = 8192
"""How much of the start of a file the type check reads."""


def channel_for(content_type: str) -> Channel | None:
    """The message a document of ``content_type`` goes as, or None when Zalo takes no such file."""
    return _CHANNELS.get(content_type.split(";", 1)[0].strip().lower())


def sniff(head: bytes) -> str | None:
    """The media type the first bytes show (magic numbers, never the name), or None."""
    kind = filetype.guess(head[:SNIFF_BYTES])
    return None if kind is None else str(kind.mime)


@dataclass(frozen=True, slots=True)
class Plan:
    """How one document goes to one citizen: its channel, or the reason she keeps the link."""

    channel: Channel
    link_reason: str | None = None


def plan(document: ResultDocument, *, window_open: bool, settings: DocumentSettings) -> Plan:
    """Decide, from the event alone, whether ``document`` may go as a message.

    The decision depends only on the event and on how the text reached the citizen, so a
    redelivery decides the same and finds the same ledger key. ``window_open`` is true when the
    text went as a CS message (the citizen wrote within Zalo's interaction window).
    """
    channel = channel_for(document.content_type)
    if channel is None:
        return Plan(Channel.ZALO_FILE, "link:type")
    if not settings.enabled:
        return Plan(channel, "link:disabled")
    if document.url.scheme != "https" and not settings.allow_http:
        return Plan(channel, "link:insecure")
    if not window_open:
        return Plan(channel, "link:window")
    limit = settings.image_max_bytes if channel is Channel.ZALO_IMAGE else settings.file_max_bytes
    if document.size > limit:
        return Plan(channel, "link:too_large")
    return Plan(channel)
