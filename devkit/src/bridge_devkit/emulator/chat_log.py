"""The OA's conversations as Zalo keeps them: every message between the OA and each user.

Fed by the messages the OA sent (accepted CS and template-by-UID sends, `src` 0) and by what the
emulated users sent (`user_send_*` events and button taps, `src` 1). `conversation` and
`listrecentchat` read it (part 2 §4). An entry stores a hosted file's key rather than its URL, so
that the URL can be built from the host the read arrived at.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, field

__all__ = ["ChatEntry", "ChatLog"]


@dataclass(frozen=True, slots=True)
class ChatEntry:
    """One message of a conversation.

    Attributes:
        seq: Order of arrival in the log, from 1.
        at: Epoch seconds.
        user_id: The user of the conversation.
        src: 1 = user → OA, 0 = OA → user (part 2 §4.2).
        message_id: The message id (the webhook's `msg_id` for a user's message).
        type: `text`, `photo`, `GIF`, `link`, `links`, `sticker`, `location`, `voice`, `file`, …
        text: The text or caption (`message`).
        url: A media URL given as such (not hosted here).
        hosted_key: The key of a file the emulator hosts (its URL is built on read).
        thumbnail: Whether a hosted photo or GIF also has a thumbnail URL.
        description: A photo's caption or a link's description.
        links: For `link`/`links`: `[{title, url, thumb, description}]`.
        location: For `location`: the JSON text `{"latitude": …, "longitude": …}`.
    """

    seq: int
    at: float
    user_id: str
    src: int
    message_id: str
    type: str
    text: str = ""
    url: str | None = None
    hosted_key: str | None = None
    thumbnail: bool = False
    description: str | None = None
    links: tuple[dict[str, object], ...] = field(default=())
    location: str | None = None


class ChatLog:
    """An append-only, optionally bounded, list of `ChatEntry` in arrival order."""

    __slots__ = ("_entries", "_seq")

    def __init__(self, max_entries: int | None = None) -> None:
        """Create an empty log keeping at most `max_entries` entries (None = unbounded)."""
        self._entries: deque[ChatEntry] = deque(maxlen=max_entries)
        self._seq = itertools.count(1)

    def next_seq(self) -> int:
        """Reserve the next arrival number."""
        return next(self._seq)

    def append(self, entry: ChatEntry) -> None:
        """Add `entry` at the end."""
        self._entries.append(entry)

    def newest_first(self, user_id: str) -> list[ChatEntry]:
        """Return the conversation with `user_id`, newest first."""
        return [entry for entry in reversed(self._entries) if entry.user_id == user_id]

    def recent_chats(self) -> list[ChatEntry]:
        """Return the newest message of each conversation, newest conversation first."""
        seen: set[str] = set()
        latest = []
        for entry in reversed(self._entries):
            if entry.user_id not in seen:
                seen.add(entry.user_id)
                latest.append(entry)
        return latest

    def clear(self) -> int:
        """Forget every entry and return how many there were."""
        count = len(self._entries)
        self._entries.clear()
        return count

    def __len__(self) -> int:
        """Return the number of entries held."""
        return len(self._entries)
