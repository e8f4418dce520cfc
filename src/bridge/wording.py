"""What a citizen reads: the message type, the province's context and Vietnamese formatting."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

__all__ = [
    "DATE_FORMAT",
    "MAX_TEXT_LENGTH",
    "CitizenMessage",
    "MessageContext",
    "ProvinceSettings",
    "clip",
    "format_date",
    "format_vnd",
]

MAX_TEXT_LENGTH = 2000
"""Zalo's limit for a consultation text message, in characters."""

_ELLIPSIS = "…"

DATE_FORMAT = "%d/%m/%Y"
"""How dates are shown to citizens (dd/MM/yyyy)."""


@dataclass(frozen=True, slots=True)
class MessageContext:
    """What the messages of one province need besides the event.

    Args:
        lookup_url_template: Link to the province's dossier lookup; ``{case_code}`` is replaced by
            the URL-encoded dossier code.
        timezone: Dates are shown in this zone (Asia/Ho_Chi_Minh).
        signature: Closing line naming the sender, e.g. the province's public-service centre.
    """

    lookup_url_template: str
    timezone: ZoneInfo
    signature: str | None = None


class ProvinceSettings(BaseModel):
    """The province this deployment serves and how its messages read."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    slug: str = Field(default="thanh-hoa", pattern=r"^[a-z]+(?:-[a-z]+)*$")
    display_name: str = Field(default="Tỉnh Thanh Hóa", min_length=1)
    lookup_url_template: str = Field(
        default="https://dichvucong.thanhhoa.gov.vn/tra-cuu-ho-so?ma={case_code}",
        description="Dossier lookup link; {case_code} is replaced by the URL-encoded code.",
    )
    signature: str | None = Field(
        default="Trung tâm Phục vụ hành chính công tỉnh Thanh Hóa",
        description="Closing line of every message, or null for none.",
    )
    timezone: str = Field(default="Asia/Ho_Chi_Minh")

    @field_validator("lookup_url_template")
    @classmethod
    def _has_placeholder(cls, value: str) -> str:
        if "{case_code}" not in value:
            raise ValueError("must contain the {case_code} placeholder")
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


@dataclass(frozen=True, slots=True)
class CitizenMessage:
    """A message for one citizen.

    Args:
        text: Plain text, NFC, at most ``MAX_TEXT_LENGTH`` characters.
        template_version: Identifies the wording used, recorded with every delivery.
        template_data: The parameters of a Zalo template message (ZBS/ZNS) telling the same
            news, by parameter name: what the channel cascade sends when a text cannot go.
    """

    text: str
    template_version: str
    template_data: Mapping[str, str] = field(default_factory=dict)


def format_date(moment: datetime, tz: ZoneInfo) -> str:
    """Format a moment as the date a Vietnamese citizen expects: ``dd/MM/yyyy`` in ``tz``."""
    return moment.astimezone(tz).strftime(DATE_FORMAT)


def format_vnd(amount: int) -> str:
    """Format an amount of đồng the Vietnamese way: ``100.000 đ``."""
    return f"{amount:,}".replace(",", ".") + " đ"


def clip(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit`` characters, else cut there with an ellipsis."""
    if len(text) <= limit:
        return text
    if limit <= 1:
        return _ELLIPSIS[: max(limit, 0)]
    return text[: limit - 1].rstrip() + _ELLIPSIS
