"""The citizen-feedback event (v1): one survey answer, for the one-stop-shop or a report job."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any, Final, Literal
from uuid import UUID, uuid5

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from bridge.feedback.answers import Level

__all__ = [
    "FEEDBACK_ID_NAMESPACE",
    "FEEDBACK_SCHEMA_ID",
    "Agency",
    "CitizenFeedback",
    "citizen_pseudonym",
    "feedback_id_for",
    "feedback_json_schema",
]

FEEDBACK_SCHEMA_ID: Final = "https://github.com/zalo-bridge/bridge/schemas/citizen-feedback.v1.json"
FEEDBACK_ID_NAMESPACE: Final = UUID("2f0b8e8a-6c1d-5d3e-8a7b-9c0d1e2f3a4b")


def citizen_pseudonym(user_id: str, key: str) -> str:
    """The citizen's keyed pseudonym in feedback events: HMAC-SHA-256, 32 hex digits.

    Its own derivation ("feedback:" prefix), so it matches no other stand-in bridge writes.
    """
    digest = hmac.new(key.encode(), f"feedback:{user_id}".encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


def feedback_id_for(case_code: str, citizen: str) -> UUID:
    """The id of the one answer a citizen (pseudonym) gives about a dossier: the same every time."""
    return uuid5(FEEDBACK_ID_NAMESPACE, f"{case_code}/{citizen}")


class Agency(BaseModel):
    """The receiving agency (the one-stop-shop's unit)."""

    model_config = ConfigDict(frozen=True)

    code: str
    name: str


class CitizenFeedback(BaseModel):
    """A citizen's rating of the service for one finished dossier, asked in the Zalo chat.

    Published once per dossier and citizen, keyed by the dossier code. The citizen appears only
    as a keyed pseudonym (HMAC-SHA-256 with a secret of the deployment): the same citizen gets
    the same pseudonym in every event, and no one without the key can tell who it is.
    """

    model_config = ConfigDict(
        frozen=True, title="CitizenFeedback", json_schema_extra={"$id": FEEDBACK_SCHEMA_ID}
    )

    schema_version: Literal[1] = 1
    feedback_id: UUID = Field(
        description="Names this answer: the same dossier and citizen always give the same id."
    )
    province: str
    case_code: str = Field(description="The dossier code (MaHoSo).")
    final_state: str = Field(description="The state that ended the dossier, e.g. RESULT_RETURNED.")
    procedure_code: str
    procedure_name: str
    receiving_agency: Agency
    handling_department: str | None = None
    criterion: str = Field(
        description=(
            "The criterion asked, as the province maps it to the national index of service "
            "quality (Quyết định 766/QĐ-TTg): e.g. 'hai_long_chung'."
        )
    )
    score: int = Field(ge=1, le=5, description="1 (không hài lòng) to 5 (rất hài lòng).")
    level: Level = Field(description="rat_hai_long (5), hai_long (3-4), chua_hai_long (1-2).")
    comment: str | None = Field(
        default=None,
        max_length=500,
        description="The citizen's reason after an unhappy rating, phone and ID numbers masked.",
    )
    channel: Literal["zalo_oa"] = "zalo_oa"
    citizen: str = Field(description="A keyed pseudonym of the citizen's Zalo user id.")
    asked_at: AwareDatetime
    answered_at: AwareDatetime


def feedback_json_schema() -> dict[str, Any]:
    """The JSON Schema of the feedback event, as written to ``schemas/``."""
    schema = CitizenFeedback.model_json_schema(mode="serialization")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
