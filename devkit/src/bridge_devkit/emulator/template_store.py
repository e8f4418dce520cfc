"""ZBS template records (reference §3.1, §10): approved templates, the ZNS knobs and codes.

The rules that send them are in `templates`; this module holds the data, the phone forms and the
daily count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import IntEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "MAX_TRACKING_ID_LENGTH",
    "TEMPLATE_PATHS",
    "TEMPLATE_PHONE_PATH",
    "TEMPLATE_UID_PATH",
    "ZNS_MESSAGES",
    "Template",
    "TemplateParam",
    "TemplateStore",
    "ZbsConfig",
    "ZbsSettings",
    "ZnsCode",
    "normalise_phone",
]

TEMPLATE_UID_PATH: Final = "/v3.0/oa/message/template"
"""The template-by-UID endpoint on `openapi.zalo.me` (UNCERTAIN, reference §1, §10.3)."""

TEMPLATE_PHONE_PATH: Final = "/message/template"
"""The template-by-phone endpoint on `business.openapi.zalo.me` (reference §10.2)."""

TEMPLATE_PATHS: Final = frozenset({TEMPLATE_UID_PATH, TEMPLATE_PHONE_PATH})
"""Both template endpoints."""

MAX_TRACKING_ID_LENGTH: Final = 48
"""The longest `tracking_id` (SPEC, reference §10.2)."""

_VIETNAM_OFFSET_S: Final = 7 * 3_600.0
_SECONDS_PER_DAY: Final = 86_400.0
_PHONE_84: Final = re.compile(r"84[1-9]\d{8}")
_PHONE_0: Final = re.compile(r"0[1-9]\d{8}")
_PHONE_BARE: Final = re.compile(r"[1-9]\d{8}")


class ZnsCode(IntEnum):
    """The ZNS error codes the template rules produce (reference §10.5)."""

    INVALID_PHONE = -108
    INVALID_TEMPLATE_ID = -109
    EMPTY_TEMPLATE_DATA = -111
    INVALID_TEMPLATE_DATA = -112
    NO_ZALO_ACCOUNT = -118
    TOKEN_INVALID = -124
    DEV_QUOTA_EXCEEDED = -126
    NOT_AN_ADMIN = -127
    DAILY_QUOTA_EXCEEDED = -144
    PARAMETER_TOO_LONG = -1121


ZNS_MESSAGES: Final[Mapping[int, str]] = MappingProxyType(
    {
        # The meanings are from the reference (§10.5); the exact texts are UNCERTAIN.
        -100: "Unknown error",
        -108: "Phone number is invalid",
        -109: "Template ID is invalid",
        -111: "Template data is empty",
        -112: "Template data is invalid",
        -114: "User cannot receive the message",
        -115: "Out of quota or balance",
        -118: "Zalo account does not exist or has been disabled",
        -119: "Zalo account cannot receive the message",
        -124: "Access token is invalid",
        # Development mode (part 2 §5.3, SPEC's error table only: UNCERTAIN).
        -126: "Development mode quota is exceeded",
        -127: "Template in development mode can only be sent to admins of the app or OA",
        -131: "Template is not approved",
        -133: "Message cannot be sent at night",
        -144: "OA has exceeded the daily quota",
        -1121: "Parameter exceeds the maximum length",
    }
)
"""The ZNS text of each code (UNCERTAIN)."""


@dataclass(frozen=True, slots=True)
class TemplateParam:
    """One parameter of a template: its name, longest value and whether it must be given."""

    name: str
    max_length: int
    required: bool = True


@dataclass(frozen=True, slots=True)
class Template:
    """An approved ZBS template as the emulator knows it.

    Attributes:
        template_id: The id, as a string.
        params: Its parameters; `template_data` may hold no other keys.
        allow_uid: Whether it may be sent by UID (else -249 on the UID endpoint).
    """

    template_id: str
    params: tuple[TemplateParam, ...] = ()
    allow_uid: bool = True


@dataclass(frozen=True, slots=True)
class ZbsConfig:
    """The template knobs an emulator starts with.

    Attributes:
        templates: The approved templates.
        daily_quota: Template messages by phone accepted per Vietnam calendar day.
        phones_without_account: Phone numbers (any accepted form) with no Zalo account (-118).
        token_error: The code a bad `access_token` gets on the phone endpoint (-124, UNCERTAIN).
        admin_phones: The phones of the app's and OA's admins, the only recipients of a
            `mode: "development"` send (part 2 §5.3, VERIFIED (doc)); others get -127.
        dev_quota: Development-mode sends per Vietnam day before -126 ("dev wallet out of
            quota", UNCERTAIN); None = no limit.
        dev_mode_receipts: Whether development-mode sends produce delivery receipts (no source:
            UNCERTAIN).
    """

    templates: tuple[Template, ...] = ()
    daily_quota: int = 500
    phones_without_account: tuple[str, ...] = ()
    token_error: int = int(ZnsCode.TOKEN_INVALID)
    admin_phones: tuple[str, ...] = ()
    dev_quota: int | None = None
    dev_mode_receipts: bool = True


@dataclass(slots=True)
class ZbsSettings:
    """The template knobs that can change while the emulator runs (`PUT /_emulator/zbs`)."""

    daily_quota: int
    phones_without_account: set[str] = field(default_factory=set)
    token_error: int = int(ZnsCode.TOKEN_INVALID)
    admin_phones: set[str] = field(default_factory=set)
    dev_quota: int | None = None
    dev_mode_receipts: bool = True

    @classmethod
    def from_config(cls, config: ZbsConfig) -> ZbsSettings:
        """Take the initial values from `config` (phones normalised when valid)."""
        return cls(
            daily_quota=config.daily_quota,
            phones_without_account={normalise_phone(p) or p for p in config.phones_without_account},
            token_error=config.token_error,
            admin_phones={normalise_phone(p) or p for p in config.admin_phones},
            dev_quota=config.dev_quota,
            dev_mode_receipts=config.dev_mode_receipts,
        )


class TemplateStore:
    """The approved templates, the ZBS knobs and today's count of messages by phone."""

    __slots__ = ("_day", "_dev_today", "_sent_today", "_templates", "settings")

    def __init__(self, settings: ZbsSettings, templates: tuple[Template, ...] = ()) -> None:
        """Create a store holding `templates`, run by `settings`."""
        self.settings = settings
        self._templates: dict[str, Template] = {t.template_id: t for t in templates}
        self._day = -1
        self._sent_today = 0
        self._dev_today = 0

    def upsert(self, template: Template) -> None:
        """Add `template`, or replace the one with the same id."""
        self._templates[template.template_id] = template

    def get(self, template_id: str) -> Template | None:
        """Return the template `template_id`, if approved."""
        return self._templates.get(template_id)

    def all(self) -> list[Template]:
        """Return every template, in insertion order."""
        return list(self._templates.values())

    def clear(self) -> int:
        """Forget every template and return how many there were."""
        count = len(self._templates)
        self._templates.clear()
        return count

    def sent_today(self, now: float) -> int:
        """Return how many messages by phone were accepted on the Vietnam day of `now`."""
        self._roll(now)
        return self._sent_today

    def remaining(self, now: float) -> int:
        """Return how many more messages by phone today's quota allows."""
        return max(self.settings.daily_quota - self.sent_today(now), 0)

    def count_sent(self, now: float) -> None:
        """Count one accepted message by phone."""
        self._roll(now)
        self._sent_today += 1

    def dev_left(self, now: float) -> int | None:
        """Return how many more development-mode sends today allows (None = no limit)."""
        self._roll(now)
        quota = self.settings.dev_quota
        return None if quota is None else max(quota - self._dev_today, 0)

    def count_dev(self, now: float) -> None:
        """Count one accepted development-mode send."""
        self._roll(now)
        self._dev_today += 1

    def _roll(self, now: float) -> None:
        day = int((now + _VIETNAM_OFFSET_S) // _SECONDS_PER_DAY)
        if day != self._day:
            self._day = day
            self._sent_today = 0
            self._dev_today = 0


def normalise_phone(text: str) -> str | None:
    """Return `text` as `84` + 9 digits, None if invalid.

    Accepted: `84…` and `+84…` (ZBSDOC, part 2 §5.2, VERIFIED (doc)), `0…` and 9 bare digits
    (ZCLOUD, part 2 §5.2).
    """
    if text.startswith("+84"):
        text = text[1:]
    if _PHONE_84.fullmatch(text):
        return text
    if _PHONE_0.fullmatch(text):
        return f"84{text[1:]}"
    if _PHONE_BARE.fullmatch(text):
        return f"84{text}"
    return None
