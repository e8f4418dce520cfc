"""The delivery and cascade sections of the settings: retries, limits, channels per state."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bridge.events import CaseState

if TYPE_CHECKING:
    from bridge.kafka.settings import KafkaSettings

__all__ = [
    "CascadeChannel",
    "CascadeRoute",
    "CascadeSettings",
    "DeliveryConfig",
    "DeliverySettings",
]


class DeliverySettings(BaseModel):
    """Concurrency, retries, in-doubt handling, rate limit and circuit breaker."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_in_flight: int = Field(
        default=1000,
        ge=1,
        le=100_000,
        description="Records read but not yet committed; above it the partitions are paused.",
    )
    max_attempts: int = Field(default=5, ge=1, le=50)
    initial_backoff_seconds: float = Field(default=0.5, gt=0)
    max_backoff_seconds: float = Field(default=30.0, gt=0)
    attempt_budget_seconds: float = Field(
        default=120.0,
        gt=0,
        description="Upper bound on the time one record spends in retries before it is re-fetched.",
    )
    redelivery_pause_seconds: float = Field(
        default=15.0,
        ge=0,
        description="Pause before a case whose retries ran out is tried again.",
    )
    max_processing_tries: int = Field(
        default=5,
        ge=1,
        le=100,
        description=(
            "Tries of a record (case-state event or announcement) whose processing fails for an "
            "unexpected reason, a bug, before it is dead-lettered as processing_failed. "
            "Infrastructure faults (store or broker unreachable) never count: they are waited "
            "out. Zalo's answers never count either: they follow the retry policy above."
        ),
    )
    lease_seconds: float = Field(
        default=30.0,
        gt=0,
        description=(
            "How long a replica owns a send it started; must exceed the Zalo timeout. After it, "
            "another replica treats the send as in doubt."
        ),
    )
    in_doubt_policy: Literal["reconcile", "resend_after_hold"] = Field(
        default="reconcile",
        description=(
            "reconcile: look the message up in the citizen's conversation and resend only if it "
            "is not there; resend_after_hold: wait in_doubt_hold_seconds, then resend."
        ),
    )
    in_doubt_settle_seconds: float = Field(
        default=3.0, ge=0, description="Wait before reading the conversation back."
    )
    in_doubt_hold_seconds: float = Field(default=300.0, ge=0)
    rate_limit_per_minute: int = Field(
        default=4000,
        ge=0,
        description="Requests per minute to the OA API (Zalo's app limit); 0 turns it off.",
    )
    breaker_failure_threshold: int = Field(
        default=10,
        ge=1,
        description="Consecutive transient failures that open the circuit breaker.",
    )
    breaker_open_seconds: float = Field(
        default=5.0,
        gt=0,
        description=(
            "How long the circuit breaker stays open before one probe goes out (a send waiting, "
            "or the background read of the OA profile while the partitions are paused)."
        ),
    )
    breaker_max_open_seconds: float = Field(
        default=120.0,
        gt=0,
        description="Each failed probe doubles the open time, up to this.",
    )
    watchdog_stall_seconds: float = Field(
        default=600.0,
        ge=0,
        description=(
            "Records in flight and none settled for this long while the circuit breaker is "
            "closed and the token usable: the watchdog logs the oldest unsettled record, sets "
            "zalo_bridge_watchdog_stalled to 1 and fails /health/live, so that Kubernetes "
            "restarts the pod. Must exceed lease_seconds + attempt_budget_seconds + "
            "redelivery_pause_seconds + in_doubt_hold_seconds (465 s by default), the longest a "
            "record may wait for good reasons; 0 turns the verdict off."
        ),
    )

    @model_validator(mode="after")
    def _watchdog_outlasts_legitimate_waits(self) -> DeliverySettings:
        longest = (
            self.lease_seconds
            + self.attempt_budget_seconds
            + self.redelivery_pause_seconds
            + max(self.in_doubt_settle_seconds, self.in_doubt_hold_seconds)
        )
        if 0 < self.watchdog_stall_seconds <= longest:
            raise ValueError(
                f"watchdog_stall_seconds ({self.watchdog_stall_seconds:g}) must exceed "
                "lease_seconds + attempt_budget_seconds + redelivery_pause_seconds + "
                f"in_doubt_hold_seconds ({longest:g}), the longest a record may wait while Zalo "
                "is healthy; raise it, or set 0 to turn the watchdog off"
            )
        return self


CascadeChannel = Literal["cs", "template_uid", "template_phone"]
"""A step of the channel cascade: consultation text, template by user id, template by phone."""


def _check_channels(channels: tuple[CascadeChannel, ...]) -> tuple[CascadeChannel, ...]:
    if not channels:
        raise ValueError("name at least one channel")
    if len(set(channels)) != len(channels):
        raise ValueError("a channel may appear only once")
    if "template_phone" in channels and channels[-1] != "template_phone":
        raise ValueError("template_phone, the fallback for the whole event, must come last")
    return channels


class CascadeRoute(BaseModel):
    """How the citizens hear about one dossier state; unset keys take the cascade's defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    channels: tuple[CascadeChannel, ...] | None = Field(
        default=None, description="Channel order for this state (template_phone last)."
    )
    template_id_uid: str | None = Field(
        default=None, min_length=1, description="Approved ZBS template id sent by user id."
    )
    template_id_phone: str | None = Field(
        default=None, min_length=1, description="Approved ZBS/ZNS template id sent by phone."
    )
    template_params: dict[str, str] | None = Field(
        default=None,
        description=(
            "Template parameter name -> key of the message's template data (ma_ho_so, "
            "ten_thu_tuc, trang_thai, ngay_hen_tra, don_vi_xu_ly, tra_cuu)."
        ),
    )

    @field_validator("channels")
    @classmethod
    def _valid_channels(
        cls, value: tuple[CascadeChannel, ...] | None
    ) -> tuple[CascadeChannel, ...] | None:
        return None if value is None else _check_channels(value)


class CascadeSettings(BaseModel):
    """The channel cascade: CS text in the interaction window, then templates by user id, by phone.

    A channel whose template id is not configured (for the state, or by default) is skipped.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    channels: tuple[CascadeChannel, ...] = Field(
        default=("cs", "template_uid", "template_phone"),
        description="Default channel order; template_phone (the event's phone) must come last.",
    )
    template_id_uid: str | None = Field(
        default=None, min_length=1, description="Default template id sent by user id."
    )
    template_id_phone: str | None = Field(
        default=None, min_length=1, description="Default template id sent by phone."
    )
    template_params: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Default template parameter -> message template-data key; empty: the message's "
            "template data is sent as it is."
        ),
    )
    states: dict[CaseState, CascadeRoute] = Field(
        default_factory=dict,
        description="Overrides per dossier state (RECEIVED, RESULT_READY, …).",
    )
    interaction_window_days: float = Field(
        default=7.0,
        gt=0,
        description=(
            "CS texts reach only citizens who interacted with the OA this recently (Zalo: 7 "
            "days); a known older interaction skips the CS step."
        ),
    )

    @field_validator("channels")
    @classmethod
    def _valid_channels(cls, value: tuple[CascadeChannel, ...]) -> tuple[CascadeChannel, ...]:
        return _check_channels(value)

    @field_validator("states", mode="before")
    @classmethod
    def _state_names_in_capitals(cls, value: Any) -> Any:
        # Nested environment variables arrive in lower case (…__STATES__RESULT_READY__…).
        if isinstance(value, dict):
            return {k.upper() if isinstance(k, str) else k: v for k, v in value.items()}
        return value


class DeliveryConfig(Protocol):
    """The sections of the deployment's settings the case-state consumer reads."""

    @property
    def delivery(self) -> DeliverySettings:
        """The ``delivery`` section."""
        ...

    @property
    def kafka(self) -> KafkaSettings:
        """The ``kafka`` section."""
        ...
