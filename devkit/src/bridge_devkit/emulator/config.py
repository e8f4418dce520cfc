"""The emulator's configuration: the app/OA identity and the behaviour knobs."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from bridge_devkit.emulator.attachments import AttachmentConfig
from bridge_devkit.emulator.oauth_store import OAuthConfig
from bridge_devkit.emulator.template_store import ZbsConfig
from bridge_devkit.emulator.upload_store import UploadConfig
from bridge_devkit.emulator.validation import CsLimits
from bridge_devkit.emulator.webhook import WebhookConfig

if TYPE_CHECKING:
    from collections.abc import Mapping

    from bridge_devkit.emulator.followers import Follower

__all__ = ["DEV_ACCESS_TOKEN", "CountOverLimit", "EmulatorConfig", "RuntimeSettings"]

DEV_ACCESS_TOKEN = "dev-access-token"  # noqa: S105 - the well-known token of local development
"""The access token accepted when no other is configured."""

_DEFAULT_LIMITS = CsLimits()


class CountOverLimit(StrEnum):
    """What a read-back asking for more than 10 messages gets (part 2 §4.2: unknown)."""

    REJECT = "reject"  # -210
    CLAMP = "clamp"  # answered with 10


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
        oa_name: The OA's display name (`from_display_name` of its messages in read-backs).
        max_buttons: Buttons per CS message (5, UNCERTAIN, part 2 §6.3); more → -210.
        max_button_title_length: A button's title (35, UNCERTAIN); longer → -210.
        max_query_payload_length: An `oa.query.*` payload (200, UNCERTAIN); longer → -210.
        max_list_elements: Elements of a `list` template (5, UNCERTAIN); more → -210.
        max_request_title_length: `request_user_info` title (100, UNCERTAIN); longer → -210.
        max_request_subtitle_length: its subtitle (500, UNCERTAIN); longer → -210.
        button_templates: Whether text+buttons and `list` templates are accepted on
            `/message/cs` (UNCERTAIN, part 2 §6.2); if not, -233.
        conversation_count_over_limit: `reject` (-210) or `clamp` a read-back `count` over 10.
        error_code_overrides: Codes the rules answer instead of others (e.g. -230 → -305), to
            exercise a client on the older codes of part 2 §7.
        uploads: Upload limits, asset lifetime, quota (part 2 §1).
        attachments: The file host behind inbound attachment URLs (part 2 §2.2).
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
    oa_name: str = "UBND tỉnh (emulator)"
    max_buttons: int = _DEFAULT_LIMITS.max_buttons
    max_button_title_length: int = _DEFAULT_LIMITS.max_button_title_length
    max_query_payload_length: int = _DEFAULT_LIMITS.max_query_payload_length
    max_list_elements: int = _DEFAULT_LIMITS.max_list_elements
    max_request_title_length: int = _DEFAULT_LIMITS.max_request_title_length
    max_request_subtitle_length: int = _DEFAULT_LIMITS.max_request_subtitle_length
    button_templates: bool = True
    conversation_count_over_limit: CountOverLimit = CountOverLimit.REJECT
    error_code_overrides: Mapping[int, int] = field(default_factory=dict)
    oauth: OAuthConfig = field(default_factory=OAuthConfig)
    zbs: ZbsConfig = field(default_factory=ZbsConfig)
    uploads: UploadConfig = field(default_factory=UploadConfig)
    attachments: AttachmentConfig = field(default_factory=AttachmentConfig)
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
    oa_name: str
    max_buttons: int
    max_button_title_length: int
    max_query_payload_length: int
    max_list_elements: int
    max_request_title_length: int
    max_request_subtitle_length: int
    button_templates: bool
    conversation_count_over_limit: CountOverLimit
    error_code_overrides: dict[int, int]

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
            oa_name=config.oa_name,
            max_buttons=config.max_buttons,
            max_button_title_length=config.max_button_title_length,
            max_query_payload_length=config.max_query_payload_length,
            max_list_elements=config.max_list_elements,
            max_request_title_length=config.max_request_title_length,
            max_request_subtitle_length=config.max_request_subtitle_length,
            button_templates=config.button_templates,
            conversation_count_over_limit=config.conversation_count_over_limit,
            error_code_overrides=dict(config.error_code_overrides),
        )

    def cs_limits(self) -> CsLimits:
        """Return the limits a CS body is checked against."""
        return CsLimits(
            max_text_length=self.max_text_length,
            max_buttons=self.max_buttons,
            max_button_title_length=self.max_button_title_length,
            max_query_payload_length=self.max_query_payload_length,
            max_list_elements=self.max_list_elements,
            max_request_title_length=self.max_request_title_length,
            max_request_subtitle_length=self.max_request_subtitle_length,
            button_templates=self.button_templates,
        )

    def answered_code(self, code: int) -> int:
        """Return the code to answer for `code`, after `error_code_overrides`."""
        return self.error_code_overrides.get(code, code)
