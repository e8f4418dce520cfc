"""The delivery-status event (v1): one per input record, for the one-stop-shop to show."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Final, Literal
from uuid import UUID, uuid5

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

__all__ = [
    "STATUS_ID_NAMESPACE",
    "STATUS_SCHEMA_ID",
    "Channel",
    "ChannelDelivery",
    "DeliveryStatus",
    "DeliveryStatusEvent",
    "DocumentDelivery",
    "DocumentOutcome",
    "SourceRecord",
    "status_id_for",
    "status_json_schema",
]

STATUS_SCHEMA_ID = "https://github.com/zalo-bridge/bridge/schemas/delivery-status-event.v1.json"


class DeliveryStatus(StrEnum):
    """What became of one input record."""

    DELIVERED = "delivered"
    FAILED = "failed"
    SUPPRESSED = "suppressed"
    DEAD_LETTERED = "dead_lettered"
    HELD = "held"
    """Held by quiet hours; a second status event tells the outcome of its release."""


class Channel(StrEnum):
    """How the citizen was (or would have been) reached."""

    ZALO_CS = "zalo_cs"
    ZALO_TEMPLATE_UID = "zalo_template_uid"
    ZALO_TEMPLATE_PHONE = "zalo_template_phone"
    ZALO_FILE = "zalo_file"
    """A result document as a file message (PDF, DOC, DOCX): only in ``documents``."""
    ZALO_IMAGE = "zalo_image"
    """A result document as an image message (JPEG, PNG): only in ``documents``."""


class SourceRecord(BaseModel):
    """Where the input record was read."""

    model_config = ConfigDict(frozen=True)

    topic: str
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)


class ChannelDelivery(BaseModel):
    """One step of the channel cascade: one recipient, one channel, its settled outcome."""

    model_config = ConfigDict(frozen=True)

    channel: Channel
    recipient: Literal["event_user", "linked_user", "phone"] = Field(
        description=(
            "Whom the step addressed: the event's Zalo user, a user linked to the dossier "
            "through the OA, or the event's phone number (never shown)."
        )
    )
    zalo_user_id: str | None = Field(
        default=None,
        description=(
            "The Zalo user of an event_user step (the one the event named); null for linked "
            "users (who linked a dossier stays with bridge) and for phone steps."
        ),
    )
    status: DeliveryStatus
    reason: str | None = None
    zalo_message_id: str | None = None
    attempts: int = Field(ge=0)


class DocumentOutcome(StrEnum):
    """What became of one result document for one recipient."""

    SENT = "sent"
    """Sent into the chat as a file or image message (``zalo_message_id`` names it)."""
    LINK = "link"
    """Not sent as a file: the citizen has its link in the text (outside the CS window, above
    Zalo's limits, a type Zalo does not take, or not fetchable); ``reason`` says which."""
    REFUSED = "refused"
    """Not sent: the fetched bytes did not match the event's SHA-256, size or type."""


class DocumentDelivery(BaseModel):
    """One result document for one recipient: sent once, across crashes and replays."""

    model_config = ConfigDict(frozen=True)

    index: int = Field(ge=0, description="Its place in the event's result.documents.")
    sha256: str = Field(description="The document's SHA-256, as the event gave it.")
    channel: Channel = Field(description="zalo_file or zalo_image: how it goes when sent.")
    recipient: Literal["event_user", "linked_user"] = Field(
        description="Documents go only to the event's consenting user and to linked users."
    )
    zalo_user_id: str | None = Field(
        default=None, description="The Zalo user of an event_user delivery; null otherwise."
    )
    outcome: DocumentOutcome
    reason: str | None = Field(
        default=None,
        description=(
            "Why it was not sent as a file: link:window, link:too_large, link:type, "
            "link:unavailable, link:rejected:<code>, refused:sha256, refused:size, refused:type."
        ),
    )
    zalo_message_id: str | None = None
    attempts: int = Field(ge=0)


class DeliveryStatusEvent(BaseModel):
    """The outcome of one input record, published on the status topic keyed by dossier code.

    Exactly one is published per input record: it is written in the same Kafka transaction that
    commits the record's offset, so consumers reading with ``isolation_level=read_committed``
    never see a duplicate or an outcome whose record will be processed again.
    """

    model_config = ConfigDict(
        frozen=True, title="DeliveryStatusEvent", json_schema_extra={"$id": STATUS_SCHEMA_ID}
    )

    schema_version: Literal[1] = 1
    status_id: UUID | None = Field(
        default=None,
        description=(
            "Names this status event: the same input record always gets the same id (one for "
            "its hold, one for its outcome; see status_id_for), so a consumer that keeps the "
            "ids it has seen drops any repeat. Null only in events of earlier bridge versions."
        ),
    )
    event_id: UUID | None = Field(
        description="The input event's id; null when the record could not be decoded."
    )
    case_code: str | None = Field(description="The dossier code, when known.")
    province: str | None = None
    channel: Channel = Field(
        default=Channel.ZALO_CS,
        description="The channel that delivered the message, else the last one tried.",
    )
    status: DeliveryStatus
    reason: str | None = Field(
        default=None,
        description=(
            "Why it was not delivered: e.g. unreachable:-230, rejected:-201, no_consent, stale, "
            "not_citizen_news, invalid_json, quiet_hours (held), superseded."
        ),
    )
    zalo_message_id: str | None = Field(default=None, description="Zalo's id of the message.")
    attempts: int = Field(ge=0, description="Sends attempted for this event.")
    template_version: str | None = Field(default=None, description="Wording used.")
    event_occurred_at: AwareDatetime | None = Field(
        default=None, description="When the case event happened."
    )
    settled_at: datetime = Field(description="When bridge settled the outcome (UTC).")
    source: SourceRecord
    deliveries: tuple[ChannelDelivery, ...] = Field(
        default=(),
        description=(
            "Every step of the channel cascade, in order (empty when nothing was tried); the "
            "top-level fields summarise them."
        ),
    )
    documents: tuple[DocumentDelivery, ...] = Field(
        default=(),
        description=(
            "What became of each result document for each recipient (empty when the event "
            "carries none); the top-level status is the text's."
        ),
    )


STATUS_ID_NAMESPACE: Final = UUID("6f1d7c1e-8f3a-5b7e-9c4d-2a1b0e5f7c3d")
"""The UUID namespace of status ids (uuid5 of the input record's coordinates)."""


def status_id_for(source: SourceRecord, status: DeliveryStatus) -> UUID:
    """The deterministic id of the status event of ``source`` with ``status``.

    The input record's topic, partition and offset name it, with its phase: a record held by
    quiet hours has one id for its ``held`` event and another for its outcome. Processing the
    record again (after a crash, or by another replica) gives the same id.
    """
    phase = "held" if status is DeliveryStatus.HELD else "settled"
    return uuid5(STATUS_ID_NAMESPACE, f"{source.topic}/{source.partition}/{source.offset}/{phase}")


def status_json_schema() -> dict[str, Any]:
    """Return the JSON Schema of the status event, as written to ``schemas/``."""
    schema = DeliveryStatusEvent.model_json_schema(mode="serialization")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
