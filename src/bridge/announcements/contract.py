"""The announcement event (v1): what a province publishes for bridge to tell its citizens."""

from __future__ import annotations

import unicodedata
from enum import StrEnum
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    ValidationError,
    model_validator,
)

from bridge.errors import InvalidEventError, InvalidEventReason, exception_name
from bridge.events import decode_v1_document

__all__ = [
    "ANNOUNCEMENT_SCHEMA_ID",
    "Announcement",
    "AudienceKind",
    "AudienceSpec",
    "Urgency",
    "announcement_json_schema",
    "parse_announcement",
]

ANNOUNCEMENT_SCHEMA_ID = "https://github.com/zalo-bridge/bridge/schemas/announcement.v1.json"
_MAX_ERRORS = 10


def _nfc(value: str) -> str:
    return unicodedata.normalize("NFC", value).strip()


Text = Annotated[str, AfterValidator(_nfc)]


class Urgency(StrEnum):
    """Urgent announcements go out at night too (storms, floods, epidemics)."""

    NORMAL = "normal"
    URGENT = "urgent"


class AudienceKind(StrEnum):
    """Who is told."""

    ALL = "all"
    TAG = "tag"
    AREA = "area"


class AudienceSpec(BaseModel):
    """All linked citizens, those with a tag, or those in an area (a prefix of their area code)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: AudienceKind = Field(
        description=(
            "all: followers with at least one linked dossier; tag: citizens carrying the tag "
            "(e.g. procedure:1.004616); area: citizens whose area code starts with the value."
        )
    )
    value: str | None = Field(
        default=None, min_length=1, max_length=200, description="The tag or area; none for all."
    )

    @model_validator(mode="after")
    def _value_matches_kind(self) -> AudienceSpec:
        if self.kind is AudienceKind.ALL and self.value is not None:
            raise ValueError("an audience of all takes no value")
        if self.kind is not AudienceKind.ALL and self.value is None:
            raise ValueError(f"an audience of kind {self.kind.value} needs a value")
        return self


class Announcement(BaseModel):
    """One government announcement (v1), keyed by its id on the announcements topic."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        title="Announcement",
        json_schema_extra={"$id": ANNOUNCEMENT_SCHEMA_ID},
    )

    schema_version: Literal[1] = Field(default=1, description="Contract version.")
    announcement_id: UUID = Field(description="Unique id: each citizen is told once per id.")
    province: str = Field(pattern=r"^[a-z]+(?:-[a-z]+)*$", max_length=40, examples=["thanh-hoa"])
    title: Text = Field(min_length=1, max_length=200, description="The headline.")
    body: Text = Field(min_length=1, max_length=1500, description="The text, in Vietnamese.")
    link: HttpUrl | None = Field(default=None, description="Where to read more.")
    urgency: Urgency = Field(
        default=Urgency.NORMAL, description="urgent: sent at night too; normal: 06:00-22:00."
    )
    audience: AudienceSpec
    published_at: AwareDatetime = Field(description="When it was published, with a UTC offset.")
    expires_at: AwareDatetime | None = Field(
        default=None, description="Not sent after this moment (recipients left are expired)."
    )


def parse_announcement(raw: bytes, *, max_bytes: int) -> Announcement:
    """Decode one record value into an announcement.

    Raises:
        InvalidEventError: With the reason the record must be dead-lettered.
    """
    document = decode_v1_document(raw, max_bytes=max_bytes)
    try:
        return Announcement.model_validate(document)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        summary = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}"
            for e in errors[:_MAX_ERRORS]
        )
        raise InvalidEventError(
            InvalidEventReason.SCHEMA_VIOLATION, summary, exception=exception_name(exc)
        ) from exc


def announcement_json_schema() -> dict[str, Any]:
    """Return the JSON Schema of the v1 announcement, as written to ``schemas/``."""
    schema = Announcement.model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
