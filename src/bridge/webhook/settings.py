"""The webhook section of the settings: path, signature keys, freshness, the durable inbox."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

__all__ = ["WebhookSettings"]


class WebhookSettings(BaseModel):
    """The endpoint receiving the OA's events (follows, citizens' texts, delivery receipts)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(
        default="/webhook/zalo",
        pattern=r"^/[A-Za-z0-9._~/-]*$",
        description="HTTP path of the webhook, served next to the health endpoints.",
    )
    app_id: str | None = Field(
        default=None, description="The Zalo app id (first term of the signed string)."
    )
    oa_id: str | None = Field(
        default=None, description="The OA id (the QR link; first term in the oa_id variants)."
    )
    oa_secret_key: SecretStr | None = Field(
        default=None,
        description=(
            "The OA secret key shown in the app's webhook settings; unset turns the webhook off."
        ),
    )
    app_secret: SecretStr | None = Field(
        default=None, description="The app secret key, for the *_app_secret variants only."
    )
    signature_variant: Literal[
        "app_id_oa_secret_key",
        "oa_id_oa_secret_key",
        "app_id_app_secret",
        "oa_id_app_secret",
        "any",
    ] = Field(
        default="app_id_oa_secret_key",
        description=(
            "X-ZEvent-Signature = sha256(first term + raw body + timestamp + secret) (UNCERTAIN "
            "in zalo-oa-api.md 7.2): which id and which secret; any accepts every candidate "
            "and logs the one that matched."
        ),
    )
    max_age_seconds: float = Field(
        default=300.0,
        ge=0,
        description="Events whose body timestamp is older (or as far ahead) are refused; 0: off.",
    )
    queue_size: int = Field(
        default=10_000,
        ge=1,
        description=(
            "Unused since events are stored in the durable inbox (kept so older values load)."
        ),
    )
    accept_timeout_seconds: float = Field(
        default=1.5,
        gt=0,
        description=(
            "How long storing an event may take before the webhook answers 503 (Zalo retries); "
            "within Zalo's 2-second answer budget."
        ),
    )
    inbox_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="A claimed event is handed to another worker when not done within this.",
    )
    inbox_max_attempts: int = Field(
        default=5,
        ge=1,
        description="Attempts at handling a stored event before it is marked failed.",
    )
    inbox_retry_seconds: float = Field(
        default=2.0,
        gt=0,
        description="Back-off after a failed attempt, doubled each time (capped at 60 s).",
    )
    inbox_poll_seconds: float = Field(
        default=1.0,
        gt=0,
        description="How often the worker looks for due events it was not woken for.",
    )
    inbox_batch: int = Field(
        default=16,
        ge=1,
        description="Events claimed at once (different users, handled in parallel).",
    )
    reply_rate_per_minute: int = Field(
        default=400,
        ge=1,
        description=(
            "Chat answers per minute (a leaky bucket, per replica) inside the OA's shared "
            "delivery.rate_limit_per_minute: a tenth of Zalo's 4,000, far above a province's "
            "chat traffic, so that a flood of texts cannot starve the notifications. An answer "
            "that finds no room within 5 s is not sent."
        ),
    )

    @property
    def enabled(self) -> bool:
        """The webhook is served when a secret to check signatures with is set."""
        return self.oa_secret_key is not None or self.app_secret is not None
