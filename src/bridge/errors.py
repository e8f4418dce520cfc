"""The exceptions bridge raises, as one tree.

Third-party errors (httpx, aiokafka, pydantic) are converted into these at the adapter
that meets them, with ``raise … from exc``, so callers only ever handle bridge errors::

    * BridgeError
      + ConfigurationError          settings invalid or inconsistent; the service refuses to start
        - TemplateError             a message template is invalid (names file, template and key)
      + StoreError                  a database failed (connection, I/O, lock timeout): wait it out
      + StoreValueError             a database refused one record's values: that record fails alone
      + InvalidEventError           the input record cannot be processed: dead-letter it
      + DeliveryError               Zalo did not accept a message
        - RetryableDeliveryError    try again later: network, HTTP 5xx, -32, -200
          · DeliveryInDoubtError    the request left but no answer came back: it may have been sent
        - TokenError                the access token is invalid or expired (-216, -220, -124)
        - RecipientUnreachableError this citizen cannot be reached on this channel (-213, -230, …)
        - MessageRejectedError      Zalo refuses this message as written (-201, -210, -248, …)
        - AccountError              the OA or app is misconfigured or unpaid: stop and alert
      + OAuthError                  Zalo's OAuth server gave no token pair (refused, or unreachable)
      + TokenStoreError             the stored OA tokens cannot be read or written
      + InvalidObjectError          a key, content type, metadata or size object storage refuses
      + ObjectStoreError            object storage failed (unreachable, 5xx, timeout): may retry
        - ObjectNotFoundError       no object under that key (or its link expired or was forged)
        - ObjectIntegrityError      the stored bytes do not match their SHA-256: never serve them
        - ObjectAccessError         credentials refused or bucket missing: fix the settings
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "AccountError",
    "BridgeError",
    "ConfigurationError",
    "DeliveryError",
    "DeliveryInDoubtError",
    "DocumentNotSendableError",
    "InvalidEventError",
    "InvalidEventReason",
    "InvalidObjectError",
    "MessageRejectedError",
    "OAuthError",
    "ObjectAccessError",
    "ObjectIntegrityError",
    "ObjectNotFoundError",
    "ObjectStoreError",
    "RecipientUnreachableError",
    "RetryableDeliveryError",
    "StoreError",
    "StoreValueError",
    "TemplateError",
    "TemplateProblem",
    "TokenError",
    "TokenStoreError",
    "exception_name",
]


class BridgeError(Exception):
    """Root of every exception bridge raises on purpose."""


class ConfigurationError(BridgeError):
    """A setting is missing, malformed or inconsistent with another one."""


@dataclass(frozen=True, slots=True)
class TemplateProblem:
    """One thing wrong with a message template: where it is and what is wrong."""

    file: str
    template: str
    key: str
    problem: str

    def __str__(self) -> str:
        """``file: template T, key K: problem``, as operators read it."""
        return f"{self.file}: template {self.template}, key {self.key}: {self.problem}"


class TemplateError(ConfigurationError):
    """Message templates that must not be used; the service refuses to start.

    Args:
        problems: Every problem found, each naming the file, the template and the key.
    """

    def __init__(self, problems: Sequence[TemplateProblem]) -> None:
        self.problems = tuple(problems)
        lines = "\n  ".join(str(problem) for problem in self.problems)
        super().__init__(f"invalid message templates:\n  {lines}")


class StoreError(BridgeError):
    """A database call failed (connection lost, I/O, lock timeout); the caller may retry later.

    An infrastructure fault: the record that met it is kept and tried again, never dead-lettered.
    """


class StoreValueError(BridgeError):
    """The database refused a value of one record (out of range, not encodable, a constraint).

    The record's own fault: trying again cannot help, and no other record is affected.
    """


class InvalidEventReason(StrEnum):
    """Why an input record was dead-lettered; the value travels in the ``x-dlq-reason`` header."""

    OVERSIZE = "oversize"
    NOT_UTF8 = "not_utf8"
    INVALID_JSON = "invalid_json"
    TOO_DEEP = "too_deep"
    NUMBER_OUT_OF_RANGE = "number_out_of_range"
    INVALID_TEXT = "invalid_text"
    DUPLICATE_KEY = "duplicate_key"
    UNKNOWN_STATE = "unknown_state"
    UNSUPPORTED_VERSION = "unsupported_version"
    SCHEMA_VIOLATION = "schema_violation"
    PROCESSING_ERROR = "processing_error"
    PROCESSING_FAILED = "processing_failed"
    ZALO_REJECTED = "zalo_rejected"


def exception_name(error: BaseException) -> str:
    """The class of ``error`` as operators search for it: ``ValueError``, ``json.decoder.X``."""
    kind = type(error)
    return (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )


class InvalidEventError(BridgeError):
    """The record cannot be processed: it goes to the dead-letter topic.

    Args:
        reason: A stable machine-readable reason, used for metrics and DLQ selection.
        detail: A human-readable explanation; it must not contain personal data.
        exception: The class of the exception behind it (``exception_name``); by default this
            class, for a record refused by bridge's own checks.
    """

    def __init__(
        self, reason: InvalidEventReason, detail: str, *, exception: str | None = None
    ) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail
        self.exception = exception or exception_name(self)


class DeliveryError(BridgeError):
    """Zalo did not accept a message.

    Args:
        message: What went wrong, without personal data.
        code: The Zalo ``error`` code when Zalo answered with one.
    """

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class RetryableDeliveryError(DeliveryError):
    """A transient failure: the same request may succeed later."""


class DeliveryInDoubtError(RetryableDeliveryError):
    """The request was sent but its answer was lost (read timeout, dropped connection)."""


class TokenError(DeliveryError):
    """The OA access token was refused; a refresh may cure it."""


class RecipientUnreachableError(DeliveryError):
    """This recipient cannot be reached through this channel; retrying will not help."""


class MessageRejectedError(DeliveryError):
    """Zalo refuses the message itself (bad field, too long, content policy)."""


class AccountError(DeliveryError):
    """The OA or app cannot send at all until an administrator acts."""


class DocumentNotSendableError(DeliveryError):
    """A result document will not go as a file or image; the citizen keeps its link.

    Args:
        reason: ``link:…`` (not fetchable, too large, a type Zalo does not take, refused by
            Zalo's upload) or ``refused:…`` (the fetched bytes differ from the event's SHA-256,
            size or type), as the status event's ``documents[].reason`` shows it.
    """

    def __init__(self, reason: str, *, code: int | None = None) -> None:
        super().__init__(f"result document not sent as a file: {reason}", code=code)
        self.reason = reason


class OAuthError(BridgeError):
    """Zalo's OAuth server gave no token pair.

    Args:
        message: What went wrong, never a token.
        code: Zalo's OAuth ``error`` code when it answered with one (-14xxx).
        transient: True when nothing was refused (network, HTTP 5xx): the same call may succeed.
        in_doubt: True when the request may have reached Zalo but no answer came back: a
            refresh token may then have been spent without its successor arriving.
    """

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        transient: bool = False,
        in_doubt: bool = False,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.transient = transient
        self.in_doubt = in_doubt


class TokenStoreError(BridgeError):
    """The stored OA tokens cannot be read, decrypted or written."""


class InvalidObjectError(BridgeError):
    """Object storage refuses this key, content type, metadata or size (a caller's mistake)."""


class ObjectStoreError(BridgeError):
    """Object storage failed (unreachable, a server error, a timeout); it may succeed later."""


class ObjectNotFoundError(ObjectStoreError):
    """No object is stored under the key."""


class ObjectIntegrityError(ObjectStoreError):
    """The stored bytes do not match the SHA-256 written with them (or it is missing)."""


class ObjectAccessError(ObjectStoreError):
    """The credentials are refused or the bucket does not exist: a setting to fix, not to retry."""
