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
from bridge.events import CaseState

__all__ = [
    "ENV_PREFIX",
    "CascadeRoute",
    "CascadeSettings",
    "DeliverySettings",
    "KafkaSettings",
    "LogSettings",
    "ProvinceSettings",
    "Settings",
    "StoreSettings",
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
        default=None, description="OA access token (until the token store takes over)."
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
    breaker_open_seconds: float = Field(default=5.0, gt=0)
    breaker_max_open_seconds: float = Field(default=120.0, gt=0)


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


class LogSettings(_Section):
    """Log level and format."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["auto", "json", "console"] = Field(
        default="auto", description="auto: readable on a terminal, JSON otherwise."
    )


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
    log: LogSettings = LogSettings()
    cascade: CascadeSettings = CascadeSettings()

    @model_validator(mode="after")
    def _retries_fit_poll_interval(self) -> Settings:
        budget_ms = self.delivery.attempt_budget_seconds * 1000
        if budget_ms >= self.kafka.max_poll_interval_ms * 0.8:
            raise ValueError(
                "delivery.attempt_budget_seconds must stay below 80% of "
                "kafka.max_poll_interval_ms, or the consumer is evicted from its group mid-retry"
            )
        if self.delivery.lease_seconds <= self.zalo.timeout_seconds:
            raise ValueError("delivery.lease_seconds must exceed zalo.timeout_seconds")
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
        dotted = ".".join(loc) or "(settings)"
        env_name = ENV_PREFIX + _NESTED.join(part.upper() for part in loc)
        problems.append(f"{dotted} (env {env_name}): {error['msg']}")
    return "invalid settings: " + "; ".join(problems)
