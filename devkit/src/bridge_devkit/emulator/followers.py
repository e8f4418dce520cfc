"""The OA's users as the emulator knows them: follower flag and time of last interaction."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Follower", "FollowerStore"]


@dataclass(slots=True)
class Follower:
    """A Zalo user as seen by the OA.

    Attributes:
        user_id: The OA-scoped user id (a numeric string in real Zalo; any string here).
        display_name: The user's Zalo display name.
        last_interaction_at: Epoch seconds of the user's last interaction with the OA
            (following, messaging, pressing an `oa.query` button...).
        is_follower: False once the user has unfollowed the OA.
        shared_info: What the user shared with `user_submit_info` (part 2 §2.3), as in
            `user/detail.shared_info`.
    """

    user_id: str
    display_name: str
    last_interaction_at: float
    is_follower: bool = True
    shared_info: dict[str, str] = field(default_factory=dict)


class FollowerStore:
    """The users known to the OA, by user id."""

    __slots__ = ("_by_id",)

    def __init__(self) -> None:
        """Create an empty store."""
        self._by_id: dict[str, Follower] = {}

    def upsert(self, follower: Follower) -> None:
        """Add `follower`, or replace the user with the same id."""
        self._by_id[follower.user_id] = follower

    def get(self, user_id: str) -> Follower | None:
        """Return the user with `user_id`, if known."""
        return self._by_id.get(user_id)

    def record_interaction(self, user_id: str, at: float) -> bool:
        """Move the user's last interaction to `at`; return False if the user is unknown."""
        follower = self._by_id.get(user_id)
        if follower is None:
            return False
        follower.last_interaction_at = at
        return True

    def all(self) -> list[Follower]:
        """Return every known user, in insertion order."""
        return list(self._by_id.values())

    def clear(self) -> int:
        """Forget every user and return how many there were."""
        count = len(self._by_id)
        self._by_id.clear()
        return count
