"""Encrypt OA tokens at rest with Fernet keys taken from a secret (newest key first).

``cryptography`` (≈ 8 MB of a process's memory) is imported only when a key is used: a process
with a static access token never loads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bridge.errors import ConfigurationError, TokenStoreError

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

__all__ = ["TokenCipher", "new_key"]


def new_key() -> str:
    """A fresh Fernet key (url-safe base64 of 32 random bytes)."""
    from cryptography.fernet import Fernet  # noqa: PLC0415 - cryptography only when a key is used

    return Fernet.generate_key().decode("ascii")


class TokenCipher:
    """Encrypts with the first key and decrypts with any of them, so keys can be rotated.

    Args:
        keys: Comma-separated Fernet keys, newest first (``zalo.token_encryption_key``).

    Raises:
        ConfigurationError: When a key is not a Fernet key.
    """

    def __init__(self, keys: str) -> None:
        parts = [part.strip() for part in keys.split(",") if part.strip()]
        if not parts:
            raise ConfigurationError("zalo.token_encryption_key holds no key")
        from cryptography.fernet import Fernet, MultiFernet  # noqa: PLC0415 - only with a key

        try:
            self._fernet: MultiFernet = MultiFernet(
                [Fernet(part.encode("ascii")) for part in parts]
            )
        except (ValueError, UnicodeEncodeError) as exc:
            raise ConfigurationError(
                "zalo.token_encryption_key: every key must be 32 url-safe base64-encoded bytes "
                "(`zalo-bridge zalo token generate-key`)"
            ) from exc

    def encrypt(self, plain: str) -> str:
        """The ciphertext of ``plain`` under the newest key."""
        return self._fernet.encrypt(plain.encode("utf-8")).decode("ascii")

    def decrypt(self, cipher: str) -> str:
        """The plain text of ``cipher``, written under any of the keys.

        Raises:
            TokenStoreError: No key opens it (the key that wrote it is no longer configured).
        """
        from cryptography.fernet import InvalidToken  # noqa: PLC0415 - loaded by __init__

        try:
            return self._fernet.decrypt(cipher.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError) as exc:
            raise TokenStoreError(
                "cannot decrypt the stored tokens: is the key that wrote them still in "
                "zalo.token_encryption_key?"
            ) from exc

    def rotate(self, cipher: str) -> str:
        """``cipher`` re-encrypted under the newest key."""
        from cryptography.fernet import InvalidToken  # noqa: PLC0415 - loaded by __init__

        try:
            return self._fernet.rotate(cipher.encode("ascii")).decode("ascii")
        except InvalidToken as exc:
            raise TokenStoreError("cannot decrypt the stored tokens to re-encrypt them") from exc
