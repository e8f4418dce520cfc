"""The second factor that proves a Zalo user holds a dossier: receipt secret or phone digits."""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata

__all__ = [
    "RECEIPT_ALPHABET",
    "normalise_factor",
    "phone_last4",
    "phone_last4_hash",
    "receipt_secret",
    "verify_phone_last4",
    "verify_receipt_secret",
]

RECEIPT_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
"""Letters and digits nobody misreads on paper: no 0/O, 1/I/L."""


def _mac(key: str, *parts: str) -> bytes:
    message = "\x1f".join(parts).encode()
    return hmac.new(key.encode(), message, hashlib.sha256).digest()


def receipt_secret(key: str, case_code: str, *, length: int = 6) -> str:
    """The short secret printed on ``case_code``'s receipt: derived, never stored.

    HMAC-SHA256(key, "receipt" + case code) read as a number, written in ``RECEIPT_ALPHABET``.
    """
    number = int.from_bytes(_mac(key, "receipt", case_code.upper()), "big")
    chars = []
    for _ in range(length):
        number, digit = divmod(number, len(RECEIPT_ALPHABET))
        chars.append(RECEIPT_ALPHABET[digit])
    return "".join(chars)


def normalise_factor(text: str) -> str:
    """What the citizen typed as a second factor, without spaces, dashes or case."""
    folded = unicodedata.normalize("NFKC", text).upper()
    return re.sub(r"[\s\-.]", "", folded)


def verify_receipt_secret(key: str, case_code: str, typed: str, *, length: int = 6) -> bool:
    """Tell whether ``typed`` is the receipt secret of ``case_code`` (constant time)."""
    expected = receipt_secret(key, case_code, length=length)
    return hmac.compare_digest(expected.encode(), normalise_factor(typed).encode())


def phone_last4(phone: str) -> str | None:
    """The last four digits of a phone number, or None when it has fewer."""
    digits = re.sub(r"[^0-9]", "", phone)
    return digits[-4:] if len(digits) >= 4 else None  # noqa: PLR2004 - four digits


def phone_last4_hash(key: str, case_code: str, last4: str) -> str:
    """The keyed hash kept instead of the phone: HMAC-SHA256(key, case code + last 4 digits)."""
    return _mac(key, "phone4", case_code.upper(), last4).hex()


def verify_phone_last4(key: str, case_code: str, typed: str, stored_hash: str | None) -> bool:
    """Tell whether ``typed`` holds the last 4 digits whose keyed hash is ``stored_hash``."""
    digits = normalise_factor(typed)
    if stored_hash is None or not re.fullmatch(r"[0-9]{4}", digits):
        return False
    return hmac.compare_digest(phone_last4_hash(key, case_code, digits), stored_hash)
