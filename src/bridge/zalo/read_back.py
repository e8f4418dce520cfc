"""Find a file or image message the OA sent among conversation read-back items (part 2 §4.2)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = ["READ_BACK_TYPES", "DocumentQuery", "document_candidates", "item_time", "reaches_before"]

READ_BACK_TYPES: Final = {"file": "file", "image": "photo"}
"""The read-back ``type`` of a file and of an image message (part 2 §4.2, VERIFIED (code))."""

OA_TO_USER: Final = 0
"""``src`` of a message the OA sent (1 is user → OA; part 2 §4.2, VERIFIED (code))."""


@dataclass(frozen=True, slots=True)
class DocumentQuery:
    """Which read-back item may be a given file or image message sent to one user.

    Zalo's conversation shows no file name for a file (UNCERTAIN), so a file is recognised by its
    type, its direction (``src`` 0, ``to_id`` the user), and its time; an image also by its caption
    when ``caption`` is set.

    Attributes:
        user_id: The citizen the message went to.
        kind: ``file`` or ``image``.
        since: Epoch seconds: items sent earlier are not it (the first attempt, less a margin).
        until: Epoch seconds: items sent later are not it (None: no bound).
        caption: The caption an image carries (its ``description``, or its ``message``); None:
            not compared.
        taken: Message ids already accounted for (other documents of the same event and user).
    """

    user_id: str
    kind: Literal["file", "image"]
    since: float
    until: float | None = None
    caption: str | None = None
    taken: frozenset[str] = frozenset()


def item_time(item: Mapping[str, object]) -> float | None:
    """The item's ``time`` (epoch ms) in epoch seconds, or None when it has none."""
    sent_ms = item.get("time")
    if isinstance(sent_ms, int | float) and not isinstance(sent_ms, bool):
        return sent_ms / 1000
    return None


def reaches_before(items: Iterable[Mapping[str, object]], since: float) -> bool:
    """Whether a page (newest first) already shows a message older than ``since``."""
    times = [t for t in map(item_time, items) if t is not None]
    return bool(times) and min(times) < since


def document_candidates(
    items: Iterable[Mapping[str, object]], query: DocumentQuery
) -> list[tuple[float, str]]:
    """The ``(time, message_id)`` of every item that may be the message ``query`` describes.

    An item qualifies when its ``type`` is the kind's (``file``/``photo``), it went from the OA
    (``src`` 0 when present) to the user (``to_id`` when present; at least one of the two must be
    there, else the direction is unknown), its ``time`` is present and within
    ``[since, until]``, its ``message_id`` is a non-empty string not in ``taken``, and, for an
    image with a ``caption``, its ``description`` or ``message`` equals the caption (NFC, outer
    spaces ignored).
    """
    wanted_type = READ_BACK_TYPES[query.kind]
    caption = None if query.caption is None else _plain(query.caption)
    found: list[tuple[float, str]] = []
    for item in items:
        if item.get("type") != wanted_type or not _to_user(item, query.user_id):
            continue
        sent = item_time(item)
        if sent is None or sent < query.since or (query.until is not None and sent > query.until):
            continue
        message_id = item.get("message_id")
        if not isinstance(message_id, str) or not message_id or message_id in query.taken:
            continue
        if caption is not None and query.kind == "image":
            shown = {_plain(item.get(field)) for field in ("description", "message")}
            if caption not in shown:
                continue
        found.append((sent, message_id))
    return found


def _to_user(item: Mapping[str, object], user_id: str) -> bool:
    """Whether the item went from the OA to ``user_id``, as far as its fields tell."""
    src, to_id = item.get("src"), item.get("to_id")
    if src is None and to_id is None:
        return False
    if src is not None and str(src) != str(OA_TO_USER):
        return False
    return to_id is None or str(to_id) == user_id


def _plain(value: object) -> str | None:
    return unicodedata.normalize("NFC", value).strip() if isinstance(value, str) else None
