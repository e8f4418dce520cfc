"""The announcements section of the settings: topic, pace, night window, retries."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bridge.quiet_hours.settings import clock_time, time_zone

if TYPE_CHECKING:
    from bridge.delivery.settings import DeliverySettings
    from bridge.kafka.settings import KafkaSettings
    from bridge.wording import ProvinceSettings

__all__ = ["AnnouncementSettings", "AnnouncementsConfig"]


class AnnouncementSettings(BaseModel):
    """Government announcements fanned out to an audience of citizens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(default=True, description="Consume and deliver announcements.")
    topic: str = Field(default="government-announcements", min_length=1)
    dead_letter_topic: str = Field(
        default="government-announcements.dlq",
        min_length=1,
        description="Invalid announcement records, bytes and headers intact.",
    )
    consumer_group: str | None = Field(
        default=None, description="Default: kafka.consumer_group + '-announcements'."
    )
    rate_per_minute: int = Field(
        default=1200,
        ge=1,
        description="Announcement messages per minute (the OA's global limit applies too).",
    )
    concurrency: int = Field(default=10, ge=1, le=1000, description="Sends in flight.")
    quiet_start: str = Field(default="22:00", description="No non-urgent sends from (local).")
    quiet_end: str = Field(default="06:00", description="… until (local).")
    timezone: str = Field(default="Asia/Ho_Chi_Minh")
    lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description=(
            "How long a replica owns an announcement's fan-out, and one recipient's send, "
            "before another replica may take over (an unanswered send is then looked up first)."
        ),
    )
    poll_seconds: float = Field(
        default=5.0, gt=0, le=3600, description="How often the fan-out looks for work."
    )
    max_attempts: int = Field(
        default=5,
        ge=1,
        le=50,
        description="Transient failures per recipient before failed (with retry_window_seconds).",
    )
    retry_window_seconds: float = Field(
        default=3600,
        ge=0,
        description=(
            "A copy that keeps failing transiently (network, 5xx, -32) is failed only after "
            "max_attempts and this long since its first attempt, so an outage fails nothing."
        ),
    )

    @field_validator("quiet_start", "quiet_end")
    @classmethod
    def _clock(cls, value: str) -> str:
        return clock_time(value)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return time_zone(value)


class AnnouncementsConfig(Protocol):
    """The sections of the deployment's settings the announcements read."""

    @property
    def announcements(self) -> AnnouncementSettings:
        """The ``announcements`` section."""
        ...

    @property
    def delivery(self) -> DeliverySettings:
        """The ``delivery`` section."""
        ...

    @property
    def kafka(self) -> KafkaSettings:
        """The ``kafka`` section."""
        ...

    @property
    def province(self) -> ProvinceSettings:
        """The ``province`` section."""
        ...
