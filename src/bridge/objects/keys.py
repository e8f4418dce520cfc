"""What object storage accepts: keys, content types and user metadata, checked before any I/O.

The rules are the intersection of what S3-compatible servers and a local file system take
safely, so a key valid here means the same object on both backends:

* a key is 1 to 16 segments joined by ``/``, 512 characters at most; a segment is 1 to 128 of
  ``A-Z a-z 0-9 . _ = -`` and starts with a letter or digit (no ``.``/``..``, no hidden
  files, no empty segment, no leading or trailing ``/``);
* a content type is ``type/subtype`` (RFC 6838 characters, lower-cased), without parameters;
* metadata names are 1 to 64 of ``a-z 0-9 -`` starting with a letter or digit (S3 lower-cases
  them); values are any non-empty text (no NUL, no lone surrogate), percent-encoded where it is not
  printable ASCII, so they come back exactly as given; all of it encoded fits S3's 2 KiB.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote

from bridge.errors import InvalidObjectError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "CHECKSUM_NAME",
    "check_content_type",
    "check_key",
    "check_metadata",
    "check_prefix",
    "decode_metadata",
    "encode_metadata",
]

CHECKSUM_NAME = "sha256"
"""The metadata name under which the adapters keep the content's SHA-256 (hex)."""

MAX_KEY_LENGTH = 512
MAX_SEGMENTS = 16
MAX_METADATA_BYTES = 2048
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=-]{0,127}$")
_CONTENT_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
# Printable ASCII stays as it is in a header value, but for "%" (the escape itself) and the space
# (HTTP trims a value's leading and trailing blanks).
_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) != "%")


def check_key(key: object) -> str:
    """Return ``key`` if object storage accepts it.

    Raises:
        InvalidObjectError: Naming the rule the key breaks (never echoing a long key).
    """
    if not isinstance(key, str) or not key:
        raise InvalidObjectError("an object key must be a non-empty string")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidObjectError(f"an object key has at most {MAX_KEY_LENGTH} characters")
    segments = key.split("/")
    if len(segments) > MAX_SEGMENTS:
        raise InvalidObjectError(f"an object key has at most {MAX_SEGMENTS} segments")
    for segment in segments:
        if not _SEGMENT.match(segment):
            raise InvalidObjectError(
                "each segment of an object key is 1-128 of A-Z a-z 0-9 . _ = - and starts "
                "with a letter or digit"
            )
    return key


def check_prefix(prefix: str) -> str:
    """Return ``prefix`` (empty, or key segments ending in ``/``) if it is valid.

    Raises:
        ValueError: If it is not (a settings check: pydantic names the setting).
    """
    if not prefix:
        return prefix
    if not prefix.endswith("/"):
        raise ValueError("must end with /")
    try:
        check_key(prefix[:-1])
    except InvalidObjectError as exc:
        raise ValueError(str(exc)) from exc
    return prefix


def check_content_type(content_type: object) -> str:
    """Return ``content_type`` lower-cased if it is a plain ``type/subtype``.

    Raises:
        InvalidObjectError: If it is not.
    """
    if isinstance(content_type, str):
        lowered = content_type.strip().lower()
        if _CONTENT_TYPE.match(lowered):
            return lowered
    raise InvalidObjectError("a content type is type/subtype (e.g. image/jpeg), no parameters")


def check_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    """Return a copy of the caller's ``metadata`` if it is valid.

    Raises:
        InvalidObjectError: On a bad or reserved name, a value with NUL, or too much of it.
    """
    checked: dict[str, str] = {}
    for name, value in metadata.items():
        if not isinstance(name, str) or not _NAME.match(name):
            raise InvalidObjectError("a metadata name is 1-64 of a-z 0-9 - (lower case)")
        if name == CHECKSUM_NAME:
            raise InvalidObjectError(f"the metadata name {CHECKSUM_NAME} is the adapter's own")
        if not isinstance(value, str) or not value or "\x00" in value or not _encodable(value):
            # S3 drops a header with an empty value: refused here, so both backends agree.
            raise InvalidObjectError(f"metadata {name}: the value must be non-empty text, no NUL")
        checked[name] = value
    encoded = encode_metadata(checked)
    size = sum(len(name) + len(value) for name, value in encoded.items())
    if size + len(CHECKSUM_NAME) + 64 > MAX_METADATA_BYTES:
        raise InvalidObjectError(f"metadata is limited to {MAX_METADATA_BYTES} bytes, encoded")
    return checked


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return True


def encode_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    """The values percent-encoded (UTF-8) where they are not printable ASCII, and ``%``."""
    return {name: quote(value, safe=_SAFE, encoding="utf-8") for name, value in metadata.items()}


def decode_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    """The inverse of `encode_metadata`."""
    return {name: unquote(value, encoding="utf-8") for name, value in metadata.items()}
