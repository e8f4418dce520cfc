"""The citizen-submission event (v1): a dossier filed in the chat, its attachments by reference."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, HttpUrl, StringConstraints

if TYPE_CHECKING:
    from datetime import date

__all__ = [
    "SUBMISSION_ID_PATTERN",
    "SUBMISSION_SCHEMA_ID",
    "Attachment",
    "CitizenSubmission",
    "Consent",
    "SubmittingCitizen",
    "new_submission_id",
    "submission_json_schema",
]

SUBMISSION_SCHEMA_ID: Final = (
    "https://github.com/zalo-bridge/bridge/schemas/citizen-submission.v1.json"
)
SUBMISSION_ID_PATTERN: Final = r"^HS-[0-9A-Z]{4,40}$"
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U to misread
_RANDOM_CHARS = 8


def new_submission_id(day: date) -> str:
    """A fresh id the citizen can read out: ``HS-`` + the day + 8 random Crockford characters.

    40 random bits per day: a collision among a province's daily submissions is negligible,
    and the store's unique key refuses one anyway.
    """
    tail = "".join(secrets.choice(_ALPHABET) for _ in range(_RANDOM_CHARS))
    return f"HS-{day:%Y%m%d}{tail}"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Consent(_Model):
    """What the citizen agreed to by typing XAC NHAN, and when."""

    given_at: AwareDatetime
    text: str = Field(description="The consent text shown with the summary, as she read it.")
    notifications: bool = Field(
        default=True,
        description="She agreed to be told about the dossier in the chat (the link bridge makes).",
    )


class SubmittingCitizen(_Model):
    """Who filed it: her Zalo user id (scoped to this OA) and her consent."""

    zalo_user_id: str = Field(min_length=1, max_length=64)
    consent: Consent


class Attachment(_Model):
    """One photo or file she sent, stored in object storage: a claim check, never the bytes."""

    document: str = Field(description="The form's document key, e.g. applicant_id_card.")
    document_label: str = Field(description="The document's name, e.g. Căn cước.")
    object_key: str = Field(description="The object's key in the submissions bucket.")
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    content_type: str = Field(description="Recognised by magic bytes, never by the file name.")
    size: int = Field(ge=1, description="Bytes stored (images after re-encoding).")
    url: HttpUrl | None = Field(
        default=None,
        description="A pre-signed GET link (S3) valid until url_expires_at; null: bucket access.",
    )
    url_expires_at: AwareDatetime | None = None


FieldValue = str | int | None


class CitizenSubmission(_Model):
    """A dossier filed through the Zalo chat, confirmed by the citizen (XAC NHAN).

    Published once per submission, keyed by ``submission_id``, through an outbox: a repeat, if
    any, carries the same id. Attachments are references into object storage (claim check);
    the centre fetches them by the pre-signed link or with its own bucket access. Field values
    hold personal data (citizen ID numbers): the topic is as sensitive as the dossier itself.
    """

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        title="CitizenSubmission",
        json_schema_extra={"$id": SUBMISSION_SCHEMA_ID},
    )

    schema_version: Literal[1] = 1
    submission_id: Annotated[str, StringConstraints(pattern=SUBMISSION_ID_PATTERN)] = Field(
        description="Told to the citizen; the centre echoes it on the dossier's first case event."
    )
    province: str
    procedure_code: str = Field(description="The national procedure code (MaTTHC).")
    procedure_name: str
    channel: Literal["zalo_oa"] = "zalo_oa"
    citizen: SubmittingCitizen
    fields: dict[str, FieldValue] = Field(
        description="The form's answers by field key: dates as YYYY-MM-DD, numbers as integers."
    )
    attachments: tuple[Attachment, ...]
    started_at: AwareDatetime
    submitted_at: AwareDatetime


def submission_json_schema() -> dict[str, Any]:
    """The JSON Schema of the submission event, as written to ``schemas/``."""
    schema = CitizenSubmission.model_json_schema(mode="serialization")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
