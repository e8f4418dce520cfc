"""Mask personal data (phone numbers, citizen ID numbers, Zalo user ids) before it is logged."""

from __future__ import annotations

import hashlib
import re

__all__ = ["mask_id_number", "mask_phone", "mask_text", "pseudonymise"]

# Numbers standing alone: digits inside hex ids (UUIDs, Zalo message ids) are not phone numbers.
_PHONE = re.compile(r"(?<![0-9A-Za-z])(?:\+?84|0)([1-9][0-9]{8,9})(?![0-9A-Za-z])")
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])([0-9]{12}|[0-9]{9})(?![0-9A-Za-z])")


def mask_phone(phone: str) -> str:
    """Show only what a citizen needs to recognise their number: ``09xx xxx 678``."""
    digits = re.sub(r"[^0-9]", "", phone)
    if digits.startswith("84"):
        digits = "0" + digits[2:]
    if len(digits) < 6:  # noqa: PLR2004 - too short to be a phone; hide it all
        return "x" * len(digits)
    return digits[:2] + "x" * (len(digits) - 5) + digits[-3:]


def mask_id_number(number: str) -> str:
    """Keep the last four digits of a CCCD/CMND number: ``********1234``."""
    return "*" * (len(number) - 4) + number[-4:]


def mask_text(text: str) -> str:
    """Mask every phone number and ID number found in free text."""
    text = _PHONE.sub(lambda m: mask_phone(m.group(0)), text)
    return _ID_NUMBER.sub(lambda m: mask_id_number(m.group(0)), text)


def pseudonymise(value: str, *, pepper: str = "") -> str:
    """Give a stable, non-reversible stand-in for an identifier, to correlate log lines.

    Args:
        value: A Zalo user id or a phone number.
        pepper: A deployment secret, so the stand-ins cannot be brute-forced from a log.
    """
    digest = hashlib.blake2b(value.encode(), key=pepper.encode()[:64], digest_size=8)
    return "h:" + digest.hexdigest()
