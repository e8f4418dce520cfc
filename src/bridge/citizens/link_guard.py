"""The per-dossier lock-out against guessing a second factor: its policy, and a guess's grant."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["GuessGrant", "LockPolicy"]

_HOUR = 3_600.0
_DAY = 86_400.0
_MAX_DOUBLINGS = 40
"""Beyond this many doublings every lock is at its cap anyway (and 2.0**n stays finite)."""


@dataclass(frozen=True, slots=True)
class LockPolicy:
    """When a dossier is locked against guessing, and for how long.

    ``threshold`` wrong second factors (from any accounts) since the last lock or link lock
    it; the n-th lock lasts ``seconds`` × 2^(n-1), at most ``max_seconds`` (never less than
    ``seconds``).
    """

    threshold: int = 5
    seconds: float = 24 * _HOUR
    max_seconds: float = 30 * _DAY

    def duration(self, locks: int) -> float:
        """How long the ``locks``-th lock lasts."""
        doubled = self.seconds * 2.0 ** min(max(locks - 1, 0), _MAX_DOUBLINGS)
        return min(doubled, max(self.max_seconds, self.seconds))


@dataclass(frozen=True, slots=True)
class GuessGrant:
    """The answer to ``CitizenStore.spend_guess``.

    ``allowed`` False: the dossier was locked, the guess was not spent (``locked_at``,
    ``locked_until`` say since and until when). ``allowed`` True: the guess is counted as a
    failure until ``guess_succeeded`` clears it; ``locks_now`` tells that it was the last one
    before a lock (then in force until ``locked_until``).
    """

    allowed: bool
    locks_now: bool = False
    locked_at: float | None = None
    locked_until: float | None = None
    failures: int = 0
    """Failures counted for the dossier after this guess (0 once it locked it)."""
