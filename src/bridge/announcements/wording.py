"""The text a citizen reads for an announcement (pure: NFC, within Zalo's length limit)."""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bridge.announcements.contract import Announcement

__all__ = ["MAX_TEXT", "announcement_text"]

MAX_TEXT = 2000
"""Zalo's limit on a text message, in characters."""


def announcement_text(announcement: Announcement, *, signature: str | None) -> str:
    """Title, body, link and signature; the body is shortened if the whole would exceed 2,000."""
    head = f"[{'KHẨN' if announcement.urgency.value == 'urgent' else 'THÔNG BÁO'}] "
    head += announcement.title
    tail = []
    if announcement.link is not None:
        tail.append(f"Xem chi tiết: {announcement.link}")
    if signature:
        tail.append(signature)
    fixed = len(head) + sum(len(line) + 1 for line in tail) + 1
    body = announcement.body
    room = MAX_TEXT - fixed
    if len(body) > room:
        body = body[: max(room - 1, 0)].rstrip() + "…"
    text = "\n".join([head, body, *tail])
    return unicodedata.normalize("NFC", text)
