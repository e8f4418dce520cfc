"""Settings of one deployment: environment variables (``BRIDGE_…``) over an optional YAML file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    FilePath,
    HttpUrl,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from bridge.errors import ConfigurationError
from bridge.events import CaseState, EventType
from bridge.quiet_hours import parse_clock_time
from bridge.settings_checks import cross_field_problems

__all__ = [
    "ENV_PREFIX",
    "AnnouncementSettings",
    "CascadeRoute",
    "CascadeSettings",
    "DeliverySettings",
    "KafkaSettings",
    "LinkingSettings",
    "LogSettings",
    "ProvinceSettings",
    "QuietHoursSettings",
    "RetentionSettings",
    "Settings",
    "StoreSettings",
    "TemplateSettings",
    "WebhookSettings",
    "ZaloSettings",
    "load_settings",
]

ENV_PREFIX = "BRIDGE_"
_NESTED = "__"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KafkaSettings(_Section):
    """Where case-state events come from and where rejects go."""

    bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        description="Comma-separated host:port list. KAFKA_BOOTSTRAP_SERVERS also sets it.",
    )
    input_topic: str = Field(default="case-state-events", min_length=1)
    dead_letter_topic: str = Field(default="case-state-events.dlq", min_length=1)
    status_topic: str = Field(
        default="case-state-events.status",
        min_length=1,
        description="One delivery-status event per input record, keyed by dossier code.",
    )
    consumer_group: str = Field(default="zalo-bridge", min_length=1)
    client_id: str = Field(default="zalo-bridge", min_length=1)
    transactional_id: str | None = Field(
        default=None,
        description=(
            "Kafka transactional id of this replica; default: client_id and the host name (the "
            "pod name), so a restarted container fences its predecessor's open transaction."
        ),
    )
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    commit_interval_ms: int = Field(
        default=500,
        ge=10,
        le=60_000,
        description="How often settled records are committed with their status events.",
    )
    transaction_timeout_ms: int = Field(default=15_000, ge=1_000, le=900_000)
    startup_timeout_seconds: float = Field(
        default=120.0,
        gt=0,
        description="How long start-up waits for an unreachable broker before giving up.",
    )
    max_event_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        description="Larger records are dead-lettered as oversize without being parsed.",
    )
    max_poll_interval_ms: int = Field(default=300_000, ge=10_000)
    session_timeout_ms: int = Field(default=10_000, ge=1_000)
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT",
        description="How every Kafka client of bridge connects: TLS (SSL), SASL, both, or neither.",
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        default=None, description="SASL mechanism; required with SASL_PLAINTEXT and SASL_SSL."
    )
    sasl_username: str | None = Field(default=None, min_length=1, description="SASL user name.")
    sasl_password: SecretStr | None = Field(default=None, description="SASL password (a secret).")
    ssl_cafile: FilePath | None = Field(
        default=None,
        description="PEM file of the CAs that sign the brokers' certificates; default: system CAs.",
    )
    ssl_certfile: FilePath | None = Field(
        default=None, description="PEM client certificate, for brokers that require mutual TLS."
    )
    ssl_keyfile: FilePath | None = Field(
        default=None, description="PEM private key of ssl_certfile (unencrypted)."
    )

    @model_validator(mode="after")
    def _security_is_complete(self) -> KafkaSettings:
        sasl = self.security_protocol.startswith("SASL_")
        if sasl and not (self.sasl_mechanism and self.sasl_username and self.sasl_password):
            raise ValueError(
                f"security_protocol {self.security_protocol} needs sasl_mechanism, "
                "sasl_username and sasl_password"
            )
        if not sasl and (self.sasl_mechanism or self.sasl_username or self.sasl_password):
            raise ValueError("sasl_* settings need security_protocol SASL_PLAINTEXT or SASL_SSL")
        tls = self.security_protocol in {"SSL", "SASL_SSL"}
        if not tls and (self.ssl_cafile or self.ssl_certfile or self.ssl_keyfile):
            raise ValueError("ssl_* settings need security_protocol SSL or SASL_SSL")
        if self.ssl_keyfile and not self.ssl_certfile:
            raise ValueError("ssl_keyfile needs ssl_certfile")
        return self

    @field_validator("bootstrap_servers")
    @classmethod
    def _host_ports(cls, value: str) -> str:
        servers = [part.strip() for part in value.split(",") if part.strip()]
        if not servers or any(":" not in s or not s.rsplit(":", 1)[1].isdigit() for s in servers):
            raise ValueError("expected host:port[,host:port…]")
        return ",".join(servers)


class ZaloSettings(_Section):
    """How to reach the Zalo OA Open API."""

    base_url: HttpUrl = Field(
        default=HttpUrl("https://openapi.zalo.me"),
        description="The OA API host; the emulator's address in tests and `make run`.",
    )
    access_token: SecretStr | None = Field(
        default=None,
        description="Static OA access token, never refreshed; ignored when token_encryption_key "
        "is set (managed tokens).",
    )
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    connect_timeout_seconds: float = Field(default=3.0, gt=0, le=60)
    max_connections: int = Field(default=200, ge=1, le=10_000)
    http_transport: Literal["aiohttp", "httpcore"] = Field(
        default="aiohttp",
        description=(
            "Connection pool under httpx: aiohttp's (fast at high concurrency) or httpx's own."
        ),
    )
    # Token lifecycle (issue 4): managed tokens when token_encryption_key is set.
    app_id: str | None = Field(default=None, description="Zalo app id (OAuth calls).")
    app_secret: SecretStr | None = Field(
        default=None, description="Zalo app secret key (`secret_key` header of OAuth calls)."
    )
    oa_id: str | None = Field(default=None, description="The Official Account whose tokens.")
    oauth_base_url: HttpUrl = Field(
        default=HttpUrl("https://oauth.zaloapp.com"),
        description="Zalo's OAuth v4 host; the emulator's address in tests.",
    )
    oauth_redirect_uri: HttpUrl | None = Field(
        default=None,
        description=(
            "redirect_uri of the consent URL (`zalo-bridge zalo authorize`); it may have to match "
            "the one registered in the Zalo console (UNCERTAIN)."
        ),
    )
    oauth_timeout_seconds: float = Field(
        default=15.0, gt=0, le=120, description="Timeout of one call to the OAuth host."
    )
    token_encryption_key: SecretStr | None = Field(
        default=None,
        description=(
            "Fernet key(s) encrypting the stored tokens, comma-separated, newest first (older "
            "ones only decrypt, for key rotation). Set: the bridge keeps the OA's tokens in "
            "store.url and refreshes them (needs app_id, app_secret, oa_id); access_token is "
            "then ignored. Unset: access_token is used as it is and never refreshed."
        ),
    )
    token_refresh_at_fraction: float = Field(
        default=0.8,
        gt=0,
        lt=1,
        description="Refresh when this fraction of the access token's lifetime has passed.",
    )
    access_token_lifetime_seconds: float = Field(
        default=90_000,
        gt=0,
        description="Access-token lifetime when Zalo's answer has no expires_in (25 h).",
    )
    refresh_token_lifetime_seconds: float = Field(
        default=7_776_000,
        gt=0,
        description=(
            "Refresh-token lifetime when Zalo's answer does not give one ('3 months': 90 days)."
        ),
    )
    token_retry_max_seconds: float = Field(
        default=300.0, gt=0, description="Longest wait between failed refresh attempts."
    )

    business_base_url: HttpUrl = Field(
        default=HttpUrl("https://business.openapi.zalo.me"),
        description=(
            "The ZNS/ZBS host for template messages by phone (POST /message/template); the "
            "emulator's address in tests."
        ),
    )
    zns_error_classes: dict[
        int, Literal["transient", "token", "recipient", "message", "account"]
    ] = Field(
        default_factory=dict,
        description=(
            "Reclassify error codes of the template-by-phone host (ZNS numbers from -112 on "
            "are UNCERTAIN), e.g. {-144: transient}; others keep bridge.zalo.codes' table."
        ),
    )
    template_uid_path: str = Field(
        default="/v3.0/oa/message/template",
        pattern=r"^/[A-Za-z0-9/._-]+$",
        description=(
            "Path of the ZBS template message by user id on the OA API host (UNCERTAIN in the "
            "reference: some sources name /v3.0/oa/message/transaction)."
        ),
    )

    @model_validator(mode="after")
    def _managed_tokens_complete(self) -> ZaloSettings:
        if self.token_encryption_key is not None:
            missing = [
                name for name in ("app_id", "app_secret", "oa_id") if getattr(self, name) is None
            ]
            if missing:
                raise ValueError(
                    "token_encryption_key (managed tokens) also needs " + ", ".join(missing)
                )
        return self


class DeliverySettings(_Section):
    """Concurrency, retries, in-doubt handling, rate limit and circuit breaker."""

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


class CascadeRoute(_Section):
    """How the citizens hear about one dossier state; unset keys take the cascade's defaults."""

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


class CascadeSettings(_Section):
    """The channel cascade: CS text in the interaction window, then templates by user id, by phone.

    A channel whose template id is not configured (for the state, or by default) is skipped.
    """

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


class StoreSettings(_Section):
    """The delivery ledger: what was sent, so nothing is sent twice."""

    url: SecretStr = Field(
        default=SecretStr("sqlite:///zalo-bridge.sqlite3"),
        description=(
            "sqlite:///relative/path, sqlite:////absolute/path (one replica), or "
            "postgresql://user:password@host:5432/db (several replicas)."
        ),
    )
    pool_size: int = Field(default=10, ge=1, le=200, description="PostgreSQL connections.")

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ValueError("must start with sqlite:/// or postgresql://")
        return value


class ProvinceSettings(_Section):
    """The province this deployment serves and how its messages read."""

    slug: str = Field(default="thanh-hoa", pattern=r"^[a-z]+(?:-[a-z]+)*$")
    display_name: str = Field(default="Tỉnh Thanh Hóa", min_length=1)
    lookup_url_template: str = Field(
        default="https://dichvucong.thanhhoa.gov.vn/tra-cuu-ho-so?ma={case_code}",
        description="Dossier lookup link; {case_code} is replaced by the URL-encoded code.",
    )
    signature: str | None = Field(
        default="Trung tâm Phục vụ hành chính công tỉnh Thanh Hóa",
        description="Closing line of every message, or null for none.",
    )
    timezone: str = Field(default="Asia/Ho_Chi_Minh")

    @field_validator("lookup_url_template")
    @classmethod
    def _has_placeholder(cls, value: str) -> str:
        if "{case_code}" not in value:
            raise ValueError("must contain the {case_code} placeholder")
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class TemplateSettings(_Section):
    """The province's message templates over the package's Vietnamese defaults."""

    directory: Path | None = Field(
        default=None,
        description=(
            "Directory of the province's template files (messages.yaml, procedure-<code>.yaml; "
            "the Helm chart mounts a ConfigMap there), layered over the package defaults; "
            "null: the defaults only. Validated at start (docs/templates.md)."
        ),
    )
    card_max_buttons: int = Field(
        default=4,
        ge=1,
        le=10,
        description="Most buttons on a Zalo template card (UNCERTAIN: ESMS says 4 for v3).",
    )
    card_max_button_title: int = Field(
        default=35,
        ge=1,
        le=200,
        description="Longest button title on a template card, in characters (UNCERTAIN).",
    )
    preview_port: int = Field(
        default=8090,
        ge=0,
        le=65_535,
        description="Port of `zalo-bridge preview` on 127.0.0.1 (0: any free port).",
    )


class WebhookSettings(_Section):
    """The endpoint receiving the OA's events (follows, citizens' texts, delivery receipts)."""

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


class LinkingSettings(_Section):
    """How a Zalo user links to a dossier from the chat, and the lookup that follows."""

    second_factor: Literal["receipt_secret", "phone_last4"] = Field(
        default="receipt_secret",
        description=(
            "What the citizen sends after the dossier code: the short secret printed on the "
            "receipt by `zalo-bridge qr`, or the last 4 digits of the registered phone."
        ),
    )
    hmac_key: SecretStr | None = Field(
        default=None,
        description=(
            "Key deriving the receipt secrets and hashing the phones' last 4 digits; required "
            "when the webhook is on. Changing it invalidates printed receipts."
        ),
    )
    receipt_secret_length: int = Field(
        default=6,
        ge=6,
        le=16,
        description=(
            "Characters of the receipt secret (31 symbols each: 6 give 8.9e8 values). At least "
            "6, so that the per-dossier lock-out keeps guessing hopeless (docs/citizens.md)."
        ),
    )
    attempts_per_hour: int = Field(
        default=5,
        ge=1,
        description=(
            "Wrong code/second-factor pairs one Zalo account may send in a sliding hour; the "
            "last one is answered with the limit, later ones get no answer until the hour ends."
        ),
    )
    dossier_failures_before_lock: int = Field(
        default=5,
        ge=1,
        description=(
            "Wrong second factors for one dossier, from any accounts, that lock it against "
            "linking: 5 leave a citizen who mistypes room to retry, and bound the guesses."
        ),
    )
    dossier_lock_hours: float = Field(
        default=24,
        gt=0,
        description=(
            "How long the first lock of a dossier lasts; each further lock (without a link in "
            "between) lasts twice as long, up to 30 days. A day lets a citizen who locked "
            "their own dossier retry tomorrow, while a guesser gets 5 tries a day, then fewer."
        ),
    )
    qr_url_template: str = Field(
        default="https://zalo.me/{oa_id}",
        description=(
            "The link in the receipt's QR code; {oa_id} and {case_code} are replaced. Zalo "
            "documents no prefilled-message deep link (UNCERTAIN), so the default opens the OA."
        ),
    )


class RetentionSettings(_Section):
    """How long citizens' data is kept, and how often the purge runs."""

    unlinked_days: float = Field(
        default=30, gt=0, description="Links are deleted this long after they were unlinked."
    )
    unfollowed_days: float = Field(
        default=30,
        gt=0,
        description="Citizens without active links are deleted this long after unfollowing.",
    )
    delivery_days: float = Field(
        default=180,
        gt=0,
        description="Settled ledger deliveries and delivery receipts older than this are deleted.",
    )
    dossier_days: float = Field(
        default=365,
        gt=0,
        description=(
            "Latest-state rows of dossiers untouched this long are deleted (final states only "
            "for the ledger's per-case sequence)."
        ),
    )
    webhook_dedupe_hours: float = Field(
        default=24,
        gt=0,
        description=(
            "Handled webhook events (the inbox rows, with the citizen's text) and dedupe keys "
            "are deleted this long after handling; a Zalo retry within it is stored once."
        ),
    )
    webhook_failed_hours: float = Field(
        default=168,
        gt=0,
        description="Webhook events that failed every attempt are deleted this long after.",
    )
    held_hours: float = Field(
        default=24,
        gt=0,
        description=(
            "Records held by quiet hours (the raw event, with its personal data) are deleted "
            "this long after their release or supersession."
        ),
    )
    link_attempt_hours: float = Field(default=24, gt=0)
    purge_interval_seconds: float = Field(
        default=3600, ge=0, description="How often the running bridge purges; 0: never."
    )


class LogSettings(_Section):
    """Log level and format."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["auto", "json", "console"] = Field(
        default="auto", description="auto: readable on a terminal, JSON otherwise."
    )


def _clock_time(value: str) -> str:
    parse_clock_time(value)
    return value


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return value


class QuietHoursSettings(_Section):
    """Quiet hours: non-urgent case notifications wait until morning (docs/quiet-hours-…)."""

    enabled: bool = Field(default=True, description="Hold non-urgent notifications at night.")
    start: str = Field(default="21:00", description="Local HH:MM the quiet hours begin.")
    end: str = Field(
        default="07:00", description="Local HH:MM they end; held messages go out then."
    )
    timezone: str = Field(default="Asia/Ho_Chi_Minh", description="Zone of start and end.")
    urgent_states: tuple[str, ...] = Field(
        default=("RESULT_READY", "SUPPLEMENT_REQUESTED", "PAYMENT_REQUESTED"),
        description="A STATE_CHANGED into one of these states is sent at once, even at night.",
    )
    urgent_event_types: tuple[str, ...] = Field(
        default=(), description="Event types sent at once, whatever their state."
    )
    release_poll_seconds: float = Field(
        default=30.0, gt=0, le=3600, description="How often the releaser looks for due holds."
    )
    release_lease_seconds: float = Field(
        default=120.0,
        gt=0,
        description="How long a replica owns the release of a held record before another may.",
    )
    release_concurrency: int = Field(
        default=20, ge=1, le=1000, description="Dossiers released side by side."
    )

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, value: str) -> str:
        return _clock_time(value)

    @field_validator("urgent_states")
    @classmethod
    def _known_states(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - {state.value for state in CaseState})
        if unknown:
            raise ValueError(f"unknown dossier states {unknown}")
        return value

    @field_validator("urgent_event_types")
    @classmethod
    def _known_types(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - {kind.value for kind in EventType})
        if unknown:
            raise ValueError(f"unknown event types {unknown}")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return _zone(value)


class AnnouncementSettings(_Section):
    """Government announcements fanned out to an audience of citizens."""

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
        return _clock_time(value)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return _zone(value)


class Settings(BaseSettings):
    """Everything one bridge deployment is configured with.

    Sources, strongest first: keyword arguments, ``BRIDGE_…`` environment variables (nested with
    ``__``, e.g. ``BRIDGE_KAFKA__INPUT_TOPIC``), the YAML file given to ``load_settings``,
    defaults.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=_NESTED,
        extra="forbid",
        frozen=True,
    )

    kafka: KafkaSettings = KafkaSettings()
    zalo: ZaloSettings = ZaloSettings()
    delivery: DeliverySettings = DeliverySettings()
    store: StoreSettings = StoreSettings()
    province: ProvinceSettings = ProvinceSettings()
    templates: TemplateSettings = TemplateSettings()
    log: LogSettings = LogSettings()
    cascade: CascadeSettings = CascadeSettings()
    quiet_hours: QuietHoursSettings = QuietHoursSettings()
    announcements: AnnouncementSettings = AnnouncementSettings()
    webhook: WebhookSettings = WebhookSettings()
    linking: LinkingSettings = LinkingSettings()
    retention: RetentionSettings = RetentionSettings()

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        problems = cross_field_problems(self)
        if problems:
            raise ValueError(
                "inconsistent settings: " + "; ".join(str(problem) for problem in problems)
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,  # noqa: ARG003 - no .env files in production
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Read keyword arguments, then the environment, mounted secrets, the YAML file."""
        return (
            init_settings,
            env_settings,
            file_secret_settings,
            YamlConfigSettingsSource(settings_cls),
        )


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build and validate the settings, or fail with an error that names the setting.

    Args:
        config_file: Optional YAML file (keys as in ``Settings``); ``BRIDGE_CONFIG_FILE`` also
            names it.
        **overrides: Values that win over every other source.

    Raises:
        ConfigurationError: When a value is missing, malformed or inconsistent.
    """
    env_file = os.environ.get(f"{ENV_PREFIX}CONFIG_FILE")
    path = config_file or (Path(env_file) if env_file else None)
    if path is not None and not path.is_file():
        raise ConfigurationError(f"configuration file {path} does not exist")
    plain_bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if plain_bootstrap and f"{ENV_PREFIX}KAFKA{_NESTED}BOOTSTRAP_SERVERS" not in os.environ:
        # The conventional variable points every tool, bridge included, at an existing cluster.
        kafka = dict(overrides.get("kafka", {}))
        kafka.setdefault("bootstrap_servers", plain_bootstrap)
        overrides["kafka"] = kafka

    class _Loaded(Settings):
        model_config = SettingsConfigDict(yaml_file=path, title="Settings")

    try:
        return _Loaded(**overrides)
    except ValidationError as exc:
        raise ConfigurationError(_describe(exc)) from exc


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = [str(part) for part in error["loc"]]
        message = error["msg"].removeprefix("Value error, ")
        if not loc:  # a check across sections: its message names the keys
            problems.append(message)
            continue
        dotted = ".".join(loc)
        env_name = ENV_PREFIX + _NESTED.join(part.upper() for part in loc)
        problems.append(f"{dotted} (env {env_name}): {message}")
    return "invalid settings: " + "; ".join(problems)
