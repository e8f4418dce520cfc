"""The AsyncAPI document of every Kafka topic bridge reads or writes, generated with faststream."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import yaml
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from pydantic import BaseModel, ConfigDict, Field

from bridge import __version__
from bridge.announcements.contract import Announcement
from bridge.case_kinds.contract import CaseEventV2
from bridge.events import CaseStateEvent
from bridge.feedback.contract import CitizenFeedback
from bridge.settings import Settings
from bridge.status import DeliveryStatusEvent
from bridge.submissions.contract import CitizenSubmission

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "DOCUMENT_PATH",
    "Channel",
    "DeadLetterHeaders",
    "asyncapi_document",
    "channels",
    "default_settings",
    "render_asyncapi",
    "stale_asyncapi",
]

DOCUMENT_PATH = "docs/asyncapi.yaml"
"""Where the document lives in the repository (``make asyncapi`` writes it)."""

Direction = Literal["receive", "send"]


class DeadLetterHeaders(BaseModel):
    """The headers bridge adds to a dead-lettered record (the original headers come first).

    The value and key are the original record's, byte for byte: replayable as they are.
    """

    model_config = ConfigDict(populate_by_name=True)

    reason: str = Field(
        alias="x-dlq-reason",
        description="Why the record was parked: invalid_json, schema_violation, too_large, "
        "number_out_of_range, too_deep, processing_error, processing_failed, zalo_rejected, …",
    )
    exception: str = Field(
        alias="x-dlq-exception",
        description="The class of the exception behind the reason (e.g. RecursionError).",
    )
    detail: str = Field(
        alias="x-dlq-detail",
        description="A bounded explanation, phone and ID numbers masked.",
    )
    at: str = Field(alias="x-dlq-at", description="When it was parked (ISO 8601, UTC).")
    bridge_version: str = Field(alias="x-dlq-bridge-version", description="bridge's version.")
    attempts: str | None = Field(
        default=None,
        alias="x-dlq-attempts",
        description="JSON list of the send attempts' errors (masked), for Zalo refusals.",
    )
    original_topic: str = Field(alias="x-original-topic")
    original_partition: str = Field(alias="x-original-partition")
    original_offset: str = Field(alias="x-original-offset")
    original_timestamp: str | None = Field(default=None, alias="x-original-timestamp")
    value_omitted: str | None = Field(
        default=None,
        alias="x-dlq-value-omitted",
        description="Set (to the value's size) when the copy was too large for Kafka and goes "
        "without its value; the original stays on the input topic for its retention.",
    )


@dataclass(frozen=True, slots=True)
class Channel:
    """One topic as the document shows it: direction, payload model, key and meaning."""

    title: str
    topic: str
    direction: Direction
    payload: type[BaseModel] | None
    description: str
    key: str
    headers: type[BaseModel] | None = None


def default_settings() -> Settings:
    """The settings' defaults only, whatever the environment says: what the document shows."""
    return Settings.model_construct()


def channels(settings: Settings) -> list[Channel]:
    """Every topic of one deployment, with the settings' names (a wing adds its own here)."""
    kafka, announcements = settings.kafka, settings.announcements
    listed = [
        Channel(
            "case-state-events",
            kafka.input_topic,
            "receive",
            CaseStateEvent,
            "Case-state events (v1) from the one-stop-shop: each is worded and delivered to the "
            "citizens who follow the dossier, once, in order per dossier "
            "(schemas/case-state-event.v1.json).",
            "the dossier code (MaHoSo): every event of a dossier on one partition",
        ),
        Channel(
            "delivery-status",
            kafka.status_topic,
            "send",
            DeliveryStatusEvent,
            "Exactly one delivery-status event (v1) per input record, published in the Kafka "
            "transaction that commits the record's offset: read it with "
            "isolation.level=read_committed (schemas/delivery-status-event.v1.json).",
            "the dossier code, or the input record's key when it could not be read",
        ),
        Channel(
            "case-state-events-dead-letter",
            kafka.dead_letter_topic,
            "send",
            None,
            "Case-state records bridge could not deliver or understand: value, key and headers "
            "unchanged, plus the x-dlq-* and x-original-* headers. `zalo-bridge dlq replay` "
            "puts a selection back on the input topic.",
            "the original record's key",
            DeadLetterHeaders,
        ),
        Channel(
            "case-state-events-v2",
            kafka.v2_input_topic,
            "receive",
            CaseEventV2,
            "Case events (v2) of every kind: complaints, denunciations and land disputes beside "
            "dossiers, read when kafka.v2_enabled; case.kind is required. A denunciation reaches "
            "its denouncer only (schemas/case-state-event.v2.json).",
            "the case code: every event of a case on one partition of this topic",
        ),
        Channel(
            "delivery-status-v2",
            kafka.v2_status_topic,
            "send",
            DeliveryStatusEvent,
            "One delivery-status event per v2 input record (read_committed); for a "
            "denunciation no recipient is named.",
            "the case code, or the input record's key when it could not be read",
        ),
        Channel(
            "case-state-events-v2-dead-letter",
            kafka.v2_dead_letter_topic,
            "send",
            None,
            "v2 records bridge could not deliver or understand, with restricted ACLs like the "
            "v2 topic: value, key and headers unchanged, plus the x-dlq-* headers.",
            "the original record's key",
            DeadLetterHeaders,
        ),
    ]
    if announcements.enabled:
        listed += [
            Channel(
                "government-announcements",
                announcements.topic,
                "receive",
                Announcement,
                "Government announcements (v1) to the OA's followers: all, a tag or an area; each "
                "follower receives each announcement once (schemas/announcement.v1.json).",
                "the announcement id",
            ),
            Channel(
                "government-announcements-dead-letter",
                announcements.dead_letter_topic,
                "send",
                None,
                "Announcement records bridge could not read: value, key and headers unchanged, "
                "plus the x-dlq-* and x-original-* headers.",
                "the original record's key",
                DeadLetterHeaders,
            ),
        ]
    listed.append(
        Channel(
            "citizen-feedback",
            settings.feedback.topic,
            "send",
            CitizenFeedback,
            "Citizens' satisfaction ratings (v1), asked in the Zalo chat when a dossier is done "
            "(only while feedback.enabled): one event per dossier and citizen, the citizen as a "
            "keyed pseudonym (schemas/citizen-feedback.v1.json). Repeats, if any, carry the "
            "same feedback_id.",
            "the dossier code",
        )
    )
    listed.append(
        Channel(
            "citizen-submission",
            settings.submissions.topic,
            "send",
            CitizenSubmission,
            "Dossiers citizens filed in the Zalo chat (v1), confirmed with XAC NHAN (only while "
            "submissions.enabled): form answers and attachments as object-storage references, "
            "never bytes (schemas/citizen-submission.v1.json). Holds personal data. Repeats, if "
            "any, carry the same submission_id; the centre echoes it on the dossier's first "
            "case-state event.",
            "the submission id",
        )
    )
    return listed


def _documentation_broker(settings: Settings, listed: list[Channel]) -> KafkaBroker:
    """A broker that is never connected: its subscribers and publishers only describe topics."""
    broker = KafkaBroker(settings.kafka.bootstrap_servers, apply_types=False)
    for channel in listed:
        description = f"{channel.description}\n\nRecord key: {channel.key}."
        if channel.direction == "send":
            broker.publisher(
                channel.topic,
                title=channel.title,
                description=description,
                schema=channel.payload or bytes,
            )
            continue
        subscriber = broker.subscriber(
            channel.topic,
            group_id=settings.kafka.consumer_group,
            title=channel.title,
            description=description,
        )
        subscriber(_describing_handler(channel.payload))
    return broker


def _describing_handler(payload: type[BaseModel] | None) -> Any:
    """A handler whose only use is its signature: faststream documents the payload from it."""

    async def handler(message: Any) -> None:  # noqa: ARG001 - read for its annotation only
        raise AssertionError("the documentation broker never consumes")  # pragma: no cover

    handler.__annotations__ = {"message": payload or bytes, "return": None}
    return handler


def asyncapi_document(settings: Settings) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of ``settings``' topics, as a JSON-compatible mapping."""
    listed = channels(settings)
    spec = AsyncAPI(
        _documentation_broker(settings, listed),
        title="zalo-bridge",
        version=__version__,
        description=(
            "Kafka topics of bridge: one-stop-shop case-state events and government "
            "announcements in, delivery-status events and dead-letter copies out. Topic names "
            "are settings (kafka.*, announcements.*); this document shows the defaults."
        ),
        schema_version="3.0.0",
    )
    document: dict[str, Any] = spec.to_specification().to_jsonable()
    messages = document.get("components", {}).get("messages", {})
    for channel in listed:
        if channel.headers is None:
            continue
        for name, message in messages.items():
            if name.startswith(f"{channel.title}:"):
                message["headers"] = channel.headers.model_json_schema(by_alias=True)
                message["payload"] = {
                    "description": "The original record's value, byte for byte (any content).",
                }
    # faststream keeps publishers in a set: sort what it lists, so the file is stable.
    for part in ("channels", "operations"):
        document[part] = dict(sorted(document.get(part, {}).items()))
    components = document.get("components", {})
    for part in ("messages", "schemas"):
        if part in components:
            components[part] = dict(sorted(components[part].items()))
    return document


def render_asyncapi(settings: Settings) -> str:
    """The exact text of ``docs/asyncapi.yaml``: YAML, keys in document order, final newline."""
    return yaml.safe_dump(
        asyncapi_document(settings), allow_unicode=True, sort_keys=False, width=100
    )


def stale_asyncapi(path: Path, settings: Settings) -> bool:
    """Whether the document at ``path`` is missing or differs from what the code generates."""
    return not path.is_file() or path.read_text(encoding="utf-8") != render_asyncapi(settings)
