"""Zalo-looking message ids: 20 lowercase hex characters, unique within one emulator."""

from __future__ import annotations

import secrets

__all__ = ["MessageIdGenerator"]

_BITS = 80  # 20 hex characters
_MASK = (1 << _BITS) - 1
# An odd multiplier is a bijection modulo 2**80, so distinct counters give distinct ids.
_MULTIPLIER = 0x9E3779B97F4A7C15F39D


class MessageIdGenerator:
    """Generate ids that look random but never repeat (a scrambled counter)."""

    __slots__ = ("_counter", "_salt")

    def __init__(self, salt: int | None = None) -> None:
        """Create a generator; `salt` (random if None) changes the sequence between instances."""
        self._salt = secrets.randbits(_BITS) if salt is None else salt & _MASK
        self._counter = 0

    def __call__(self) -> str:
        """Return the next id."""
        self._counter += 1
        return format(((self._counter * _MULTIPLIER) & _MASK) ^ self._salt, "020x")
