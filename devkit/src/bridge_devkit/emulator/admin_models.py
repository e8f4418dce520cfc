"""Request bodies of the `/_emulator/` admin API, validated with pydantic."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, RootModel, field_validator, model_validator

from bridge_devkit.emulator.codes import message_for
from bridge_devkit.emulator.config import CountOverLimit
from bridge_devkit.emulator.faults import DelayFault, DropFault, ErrorFault, HttpFault
from bridge_devkit.emulator.followers import Follower
from bridge_devkit.emulator.template_store import ZNS_MESSAGES
from bridge_devkit.emulator.tokens import ACCESS_TOKEN_LIFETIME_S

__all__ = [
    "ConfigPatch",
    "DelayFaultIn",
    "DropFaultIn",
    "ErrorFaultIn",
    "FaultIn",
    "FaultsIn",
    "FollowerIn",
    "FollowersIn",
    "HttpFaultIn",
    "TokenIn",
    "TokenRef",
]

_DEFAULT_HTTP_BODY = "<html><body><h1>{status} {reason}</h1></body></html>"
_REASONS = {
    400: "Bad Request",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FollowerIn(_Strict):
    """A user to add or replace (`PUT /_emulator/followers`, `--followers FILE`)."""

    user_id: str = Field(min_length=1, description="OA-scoped user id, a string.")
    display_name: str = Field(default="", description="Zalo display name.")
    last_interaction_at: datetime | None = Field(
        default=None,
        description="ISO-8601 time of the last interaction (naive = UTC); null means now.",
    )
    is_follower: bool = Field(default=True, description="False for a user who unfollowed.")

    def to_follower(self, now: float) -> Follower:
        """Build the state's `Follower`, taking `now` (epoch seconds) for a null interaction."""
        at = self.last_interaction_at
        if at is None:
            interaction = now
        else:
            interaction = (at if at.tzinfo is not None else at.replace(tzinfo=UTC)).timestamp()
        return Follower(
            user_id=self.user_id,
            display_name=self.display_name,
            last_interaction_at=interaction,
            is_follower=self.is_follower,
        )


class FollowersIn(RootModel[list[FollowerIn]]):
    """A JSON list of `FollowerIn`."""


class _FaultBase(_Strict):
    count: int | None = Field(
        default=None,
        ge=1,
        description=(
            "How many matching calls it applies to. Default: 1 for a plain fault; no limit for a "
            "probabilistic or timed one (it then lasts until it expires or is deleted)."
        ),
    )
    user_id: str | None = Field(default=None, description="Only calls to this recipient.")
    endpoint: str | None = Field(default=None, description="Only calls to this path.")
    probability: float | None = Field(
        default=None, gt=0, le=1, description="Chance that a matching call gets the fault."
    )
    until: datetime | None = Field(
        default=None, description="ISO-8601 time (naive = UTC) from which the fault stops."
    )
    duration_s: float | None = Field(
        default=None, gt=0, description="Seconds from now after which the fault stops."
    )

    @model_validator(mode="after")
    def _one_expiry(self) -> Self:
        if self.until is not None and self.duration_s is not None:
            raise ValueError("give until or duration_s, not both")
        return self

    @property
    def is_chaos(self) -> bool:
        """Whether the fault is probabilistic or timed."""
        return self.probability is not None or self.until is not None or self.duration_s is not None

    def resolved_count(self) -> int | None:
        """The count to queue: as given, else 1 for a plain fault and no limit otherwise."""
        if self.count is not None:
            return self.count
        return None if self.is_chaos else 1

    def expiry(self, now: float) -> float | None:
        """Return the expiry in epoch seconds for a fault queued at `now` (None = never).

        Raises:
            ValueError: If the expiry is not after `now`.
        """
        if self.until is not None:
            at = self.until if self.until.tzinfo is not None else self.until.replace(tzinfo=UTC)
            expires_at = at.timestamp()
        elif self.duration_s is not None:
            expires_at = now + self.duration_s
        else:
            return None
        if expires_at <= now:
            raise ValueError("until must be in the future")
        return expires_at


class ErrorFaultIn(_FaultBase):
    """Answer a Zalo error code (HTTP 200)."""

    kind: Literal["error"]
    error: int = Field(
        description=(
            "A Zalo error code, e.g. -200; not 0. Positive codes (216, 401) are the sign "
            "variants one integration saw (part 2 §7.2)."
        )
    )

    @field_validator("error")
    @classmethod
    def _not_success(cls, error: int) -> int:
        if error == 0:
            raise ValueError("error must not be 0 (success)")
        return error

    message: str | None = Field(default=None, description="Override of Zalo's message text.")

    def to_fault(self) -> ErrorFault:
        """Build the state's fault, with Zalo's message (OA or ZNS table) unless overridden.

        Raises:
            ValueError: If the code is not in Zalo's table and no message is given.
        """
        message = self.message
        if message is None:
            message = message_for(self.error) or ZNS_MESSAGES.get(self.error)
        if message is None:
            raise ValueError(f"error {self.error} is not a known Zalo code: give a message")
        return ErrorFault(code=self.error, message=message)


class HttpFaultIn(_FaultBase):
    """Answer an HTTP error status with a small non-Zalo body."""

    kind: Literal["http"]
    status: int = Field(ge=400, le=599, description="The HTTP status, e.g. 503.")
    body: str | None = Field(default=None, description="The body; a small HTML page if null.")

    def to_fault(self) -> HttpFault:
        """Build the state's fault."""
        body = self.body
        if body is None:
            body = _DEFAULT_HTTP_BODY.format(
                status=self.status, reason=_REASONS.get(self.status, "Error")
            )
        return HttpFault(status=self.status, body=body)


class DelayFaultIn(_FaultBase):
    """Answer late (the message is processed and recorded)."""

    kind: Literal["delay"]
    ms: float = Field(ge=0, le=600_000, description="Extra delay in milliseconds.")

    def to_fault(self) -> DelayFault:
        """Build the state's fault."""
        return DelayFault(ms=self.ms)


class DropFaultIn(_FaultBase):
    """Close the connection without answering (the message is not recorded)."""

    kind: Literal["drop"]

    def to_fault(self) -> DropFault:
        """Build the state's fault."""
        return DropFault()


FaultIn = Annotated[
    ErrorFaultIn | HttpFaultIn | DelayFaultIn | DropFaultIn, Field(discriminator="kind")
]
"""One fault to queue, told apart by `kind`."""


class FaultsIn(RootModel[FaultIn | list[FaultIn]]):
    """One fault or a list of faults (`POST /_emulator/faults`)."""

    def items(self) -> list[ErrorFaultIn | HttpFaultIn | DelayFaultIn | DropFaultIn]:
        """Return the faults as a list."""
        return self.root if isinstance(self.root, list) else [self.root]


class ConfigPatch(_Strict):
    """Knobs to change (`PUT /_emulator/config`); absent or null fields stay as they are."""

    latency_ms: float | None = Field(default=None, ge=0, le=600_000)
    latency_jitter_ms: float | None = Field(default=None, ge=0, le=600_000)
    rate_limit_per_minute: int | None = Field(default=None, ge=0)
    interaction_window_days: float | None = Field(default=None, gt=0)
    include_quota: bool | None = None
    max_text_length: int | None = Field(default=None, ge=1)
    oa_name: str | None = Field(default=None, min_length=1)
    max_buttons: int | None = Field(default=None, ge=1)
    max_button_title_length: int | None = Field(default=None, ge=1)
    max_query_payload_length: int | None = Field(default=None, ge=1)
    max_list_elements: int | None = Field(default=None, ge=1)
    max_request_title_length: int | None = Field(default=None, ge=1)
    max_request_subtitle_length: int | None = Field(default=None, ge=1)
    button_templates: bool | None = None
    conversation_count_over_limit: CountOverLimit | None = None
    error_code_overrides: dict[int, int] | None = Field(
        default=None,
        description="Code → code to answer instead (replaces the whole map; {} clears it).",
    )


class TokenIn(_Strict):
    """An access token to accept, or whose expiry to change (`POST /_emulator/tokens`)."""

    access_token: str = Field(min_length=1)
    expires_in: float | None = Field(
        default=ACCESS_TOKEN_LIFETIME_S,
        description="Seconds from now until expiry (Zalo: 90000); null = never; <= 0 = expired.",
    )
    expires_at: datetime | None = Field(
        default=None, description="ISO-8601 expiry (naive = UTC); overrides expires_in."
    )

    def expiry(self, now: float) -> float | None:
        """Return the expiry in epoch seconds (None = never) for a token issued at `now`."""
        if self.expires_at is not None:
            at = self.expires_at
            return (at if at.tzinfo is not None else at.replace(tzinfo=UTC)).timestamp()
        return None if self.expires_in is None else now + self.expires_in


class TokenRef(_Strict):
    """Names a known access token (`POST /_emulator/tokens/revoke|restore|forget`)."""

    access_token: str = Field(min_length=1)
