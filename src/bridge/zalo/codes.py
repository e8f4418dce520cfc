"""What each Zalo error code means for the sender: the one place the error taxonomy lives."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from bridge.errors import (
    AccountError,
    DeliveryError,
    MessageRejectedError,
    RecipientUnreachableError,
    RetryableDeliveryError,
    TokenError,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = [
    "ACCOUNT_WIDE_CODES",
    "ERROR_CLASSES",
    "WINDOW_CODES",
    "ZNS_ERROR_CLASSES",
    "classify_error",
    "classify_zns_error",
    "zns_classifier",
]

ERROR_CLASSES: dict[int, type[DeliveryError]] = {
    # transient: back off and try again
    -32: RetryableDeliveryError,  # rate limit (app or OA) reached
    -100: RetryableDeliveryError,  # attachment expired (re-upload, then retry)
    -200: RetryableDeliveryError,  # "Send message failed", generic
    -214: RetryableDeliveryError,  # article still being processed
    # the token: refresh once, retry once
    -216: TokenError,  # access token invalid
    -220: TokenError,  # access token expired or removed
    -124: TokenError,  # ZNS host's "access token invalid"
    # this recipient, on this channel: do not retry
    -213: RecipientUnreachableError,  # not a follower
    -217: RecipientUnreachableError,  # blocked invitations from the OA
    -218: RecipientUnreachableError,  # recipient's receive quota used up (today)
    -227: RecipientUnreachableError,  # banned, or inactive for more than 45 days
    -230: RecipientUnreachableError,  # no interaction in the past 7 days
    -232: RecipientUnreachableError,  # interaction expired
    -244: RecipientUnreachableError,  # the citizen restricted this message type
    -249: RecipientUnreachableError,  # template cannot be sent by user id: the next channel
    # this message, as written: fix the payload
    -201: MessageRejectedError,  # a parameter is invalid
    -210: MessageRejectedError,  # parameter exceeds the allowed limit
    -233: MessageRejectedError,  # message type invalid for the endpoint
    -234: MessageRejectedError,  # not sendable at night (promotion)
    -240: MessageRejectedError,  # v2 message API shut down
    -242: MessageRejectedError,  # bad appsecret_proof
    -248: MessageRejectedError,  # violates platform standards
    # the OA or app: stop and call an administrator
    -204: AccountError,  # OA disabled
    -205: AccountError,  # OA does not exist
    -209: AccountError,  # API not supported / app not activated
    -211: AccountError,  # feature quota used up
    -212: AccountError,  # app has not registered this API
    -219: AccountError,  # app removed or disabled
    -221: AccountError,  # OA must be verified
    -223: AccountError,  # OA has not authorised this API
    -224: AccountError,  # OA tier package too low
    -235: AccountError,  # API does not support this OA type
    -320: AccountError,  # no Zalo Cloud Account linked
    -321: AccountError,  # Zalo Cloud Account out of money
    # Older codes, not in today's table but still met in client code and live traffic
    # (zalo-oa-api-2 §7.1, PYSDK2's table of the old doc tree; all UNCERTAIN):
    -202: AccountError,  # "Invalid Mac" (old signed calls): auth/config, alert
    -207: AccountError,  # OA not registered as a third party: config, alert
    -208: AccountError,  # OA has no secret key: config, alert
    -215: AccountError,  # "Invalid App ID" (OAuth's -14002): config, alert
    -222: RecipientUnreachableError,  # blocked or inactive > 45 days: today's -227
    -305: RecipientUnreachableError,  # the old 48 h reply window: today's -230 (a template next)
    -311: RecipientUnreachableError,  # the old cap on replies to a user: like -218 (quota)
    # The invalid-token cause with other signs and magnitudes (§7.2, one integration, GC):
    216: TokenError,
    -401: TokenError,
    401: TokenError,
}

ACCOUNT_WIDE_CODES = frozenset({-204, -205, -219})
"""Account errors about the OA or the app as a whole (disabled, missing, removed): every API
refuses them. The other account codes may concern one API only (not authorised, not for this
type of OA, tier too low), so the OA profile read answering one of them says little of sending."""

WINDOW_CODES = frozenset({-230, -232, -305})
"""Outside the CS interaction window: the cascade moves on to a template message (-305 is the
older 48-hour form of it, zalo-oa-api-2 §7.1)."""

ZNS_ERROR_CLASSES: dict[int, type[DeliveryError]] = {
    # ``business.openapi.zalo.me`` (template by phone) has its own table (reference §10.5);
    # numbers from -112 on are UNCERTAIN (one source).
    -32: RetryableDeliveryError,  # rate limit, should the ZNS host send the OA code
    -100: RetryableDeliveryError,  # unknown error: retry later
    -133: RetryableDeliveryError,  # not sendable at night: later
    -124: TokenError,  # access token invalid
    -101: AccountError,  # app invalid
    -102: AccountError,  # app does not exist
    -103: AccountError,  # app not activated
    -104: AccountError,  # app secret invalid
    -105: AccountError,  # app not linked to the OA
    -115: AccountError,  # out of quota or balance
    -144: AccountError,  # the OA's daily quota is used up: an administrator must act
    -108: RecipientUnreachableError,  # phone number invalid
    -110: RecipientUnreachableError,  # the citizen's Zalo version cannot show it
    -114: RecipientUnreachableError,  # the citizen cannot receive it
    -118: RecipientUnreachableError,  # no Zalo account for the phone
    -119: RecipientUnreachableError,  # the account cannot receive it
    -106: MessageRejectedError,  # method unsupported
    -107: MessageRejectedError,  # message id invalid
    -109: MessageRejectedError,  # template id invalid
    -111: MessageRejectedError,  # template data empty
    -112: MessageRejectedError,  # a parameter is invalid
    -1121: MessageRejectedError,  # a parameter exceeds its maximum length
    -131: MessageRejectedError,  # template not approved
}


def classify_error(code: int, message: str) -> DeliveryError:
    """Turn a Zalo ``error`` code and its message into the exception that says what to do.

    Unknown codes count as rejections of the message: they are not retried blindly, and they
    are reported with their code so the table above can learn them.
    """
    kind = ERROR_CLASSES.get(code, MessageRejectedError)
    return kind(f"Zalo error {code}: {message}", code=code)


def classify_zns_error(code: int, message: str) -> DeliveryError:
    """Like ``classify_error``, for the ZNS host's table (template messages by phone)."""
    kind = ZNS_ERROR_CLASSES.get(code, MessageRejectedError)
    return kind(f"Zalo ZNS error {code}: {message}", code=code)


ErrorClass = Literal["transient", "token", "recipient", "message", "account"]
"""How bridge treats a code: the four behaviours of docs/delivery-guarantees.md, and the token."""

_CLASSES: dict[str, type[DeliveryError]] = {
    "transient": RetryableDeliveryError,
    "token": TokenError,
    "recipient": RecipientUnreachableError,
    "message": MessageRejectedError,
    "account": AccountError,
}


def zns_classifier(overrides: Mapping[int, ErrorClass]) -> Callable[[int, str], DeliveryError]:
    """``classify_zns_error`` with some codes reclassified (the UNCERTAIN ZNS numbers)."""
    if not overrides:
        return classify_zns_error
    table = ZNS_ERROR_CLASSES | {code: _CLASSES[kind] for code, kind in overrides.items()}

    def classify(code: int, message: str) -> DeliveryError:
        kind = table.get(code, MessageRejectedError)
        return kind(f"Zalo ZNS error {code}: {message}", code=code)

    return classify
