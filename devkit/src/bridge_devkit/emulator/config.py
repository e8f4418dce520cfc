"""The emulator's configuration: the app/OA identity and the behaviour knobs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bridge_devkit.emulator.oauth_store import OAuthConfig
from bridge_devkit.emulator.template_store import ZbsConfig
from bridge_devkit.emulator.webhook import WebhookConfig

if TYPE_CHECKING:
    from bridge_devkit.emulator.followers import Follower

__all__ = ["DEV_ACCESS_TOKEN", "EmulatorConfig", "RuntimeSettings"]

DEV_ACCESS_TOKEN = "dev-access-token"  # noqa: S105 - the well-known token of local development
"""The access token accepted when no other is configured."""


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    """Everything an emulator starts from.

    Attributes:
        app_id: The Zalo app id (signs webhooks and OAuth calls in later endpoints).
        oa_id: The Official Account id.
        app_secret: The app secret key (`secret_key` header of the OAuth endpoint).
        oa_secret_key: The OA secret key (webhook signatures).
        access_tokens: Access tokens accepted from the start.
        access_token_ttl_s: Lifetime of `access_tokens` from start-up; None = never expire.
        followers: Users known from the start.
        latency_ms: Added to every answer of a Zalo endpoint.
        latency_jitter_ms: A uniform random 0..jitter added on top of `latency_ms`.
        rate_limit_per_minute: Per-app budget per calendar minute; 0 switches it off.
        interaction_window_days: How recent a user's last interaction must be for a CS message.
        include_quota: Whether a successful send returns the legacy `data.quota` object.
        max_text_length: The longest accepted `message.text`, in Unicode code points.
        max_log_entries: How many message records to keep (oldest dropped); None = all.
        oauth: OAuth v4 knobs: token lifetimes, seeded refresh tokens, error codes.
        zbs: Template messages: approved templates, daily quota, phones without an account.
        webhook: Where and how OA events are delivered.
    """

    app_id: str = "3066521851012345678"
    oa_id: str = "1646843870823903717"
    app_secret: str = "dev-app-secret"  # noqa: S105 - a development placeholder
    oa_secret_key: str = "dev-oa-secret-key"  # noqa: S105 - a development placeholder
    access_tokens: tuple[str, ...] = (DEV_ACCESS_TOKEN,)
    access_token_ttl_s: float | None = None
    followers: tuple[Follower, ...] = ()
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    rate_limit_per_minute: int = 4000
    interaction_window_days: float = 7.0
    include_quota: bool = False
    max_text_length: int = 2000
    max_log_entries: int | None = None
    oauth: OAuthConfig = field(default_factory=OAuthConfig)
    zbs: ZbsConfig = field(default_factory=ZbsConfig)
    webhook: WebhookConfig = field(default_factory=WebhookConfig)


@dataclass(slots=True)
class RuntimeSettings:
    """The knobs that can change while the emulator runs (`PUT /_emulator/config`)."""

    latency_ms: float
    latency_jitter_ms: float
    rate_limit_per_minute: int
    interaction_window_days: float
    include_quota: bool
    max_text_length: int

    @classmethod
    def from_config(cls, config: EmulatorConfig) -> RuntimeSettings:
        """Take the initial values from `config`."""
        return cls(
            latency_ms=config.latency_ms,
            latency_jitter_ms=config.latency_jitter_ms,
            rate_limit_per_minute=config.rate_limit_per_minute,
            interaction_window_days=config.interaction_window_days,
            include_quota=config.include_quota,
            max_text_length=config.max_text_length,
        )
