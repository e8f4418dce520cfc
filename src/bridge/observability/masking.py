"""Mask personal data (phone and ID numbers) and secrets (tokens, passwords) in logged text."""

from __future__ import annotations

import hashlib
import re

__all__ = [
    "REDACTED",
    "mask_id_number",
    "mask_phone",
    "mask_text",
    "pseudonymise",
    "redact_secrets",
]

REDACTED = "[redacted]"

# Numbers standing alone: digits inside hex ids (UUIDs, Zalo message ids) are not phone numbers.
_PHONE = re.compile(r"(?<![0-9A-Za-z])(?:\+?84|0)([1-9][0-9]{8,9})(?![0-9A-Za-z])")
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])([0-9]{12}|[0-9]{9})(?![0-9A-Za-z])")

# Secrets in free text (an exception's message, a URL, a header dump):
# - the value after a secret's name: ``access_token=…``, ``"refresh_token": "…"``, ``password: …``;
_CREDENTIAL_WORDS = (
    r"access[_-]?token|refresh[_-]?token|token|secret[_-]?key|secret|app[_-]?secret|password"
    r"|passwd|api[_-]?key|hmac[_-]?key|code[_-]?verifier|authorization|encryption[_-]?key"
)
_CREDENTIAL_HINTS = ("token", "secret", "passw", "key", "verifier", "authorization", "bearer")
_NAMED_SECRET = re.compile(
    rf"(?i)((?<![A-Za-z0-9])(?:{_CREDENTIAL_WORDS})(?![A-Za-z0-9])[\"']?\s*[:=]\s*[\"']?(?:bearer\s+)?)"
    r"([^\s\"',;&)}\]]+)"
)
# - a bearer credential, and the password of a URL (``postgresql://user:password@host``);
_BEARER = re.compile(r"(?i)(\bbearer\s+)([A-Za-z0-9._~+/=-]+)")
_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]+:)([^\s@/]+)(@)")
# - a long opaque string mixing upper case, lower case and digits (OAuth tokens, keys): hex ids
#   (UUIDs, message ids, hashes), words, paths and dossier codes never mix all three.
_OPAQUE_RUN = re.compile(r"[A-Za-z0-9_-]{32,}")
_UPPER, _LOWER, _DIGIT = re.compile(r"[A-Z]"), re.compile(r"[a-z]"), re.compile(r"[0-9]")


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


def _opaque(match: re.Match[str]) -> str:
    run = match.group(0)
    if _UPPER.search(run) and _LOWER.search(run) and _DIGIT.search(run):
        return REDACTED
    return run


def redact_secrets(text: str) -> str:
    """Replace what looks like a secret in free text with ``[redacted]``.

    Named values (``access_token=…``, ``"password": "…"``), bearer credentials, URL passwords
    and long opaque strings that mix upper case, lower case and digits (OAuth tokens, keys).
    """
    lower = text.lower()  # cheap substring checks spare most lines the slower patterns
    if any(word in lower for word in _CREDENTIAL_HINTS):
        text = _NAMED_SECRET.sub(lambda m: m.group(1) + REDACTED, text)
        text = _BEARER.sub(lambda m: m.group(1) + REDACTED, text)
    if "://" in text:
        text = _URL_PASSWORD.sub(lambda m: m.group(1) + REDACTED + m.group(3), text)
    return _OPAQUE_RUN.sub(_opaque, text)


def mask_text(text: str) -> str:
    """Mask every phone number and ID number, and redact every secret, found in free text."""
    text = redact_secrets(text)
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
