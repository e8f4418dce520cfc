"""The Zalo section of the settings: the OA API, its template host, managed tokens."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, SecretStr, model_validator

if TYPE_CHECKING:
    from bridge.store.settings import StoreSettings

__all__ = ["TokensConfig", "ZaloSettings"]


class ZaloSettings(BaseModel):
    """How to reach the Zalo OA Open API."""

    model_config = ConfigDict(extra="forbid", frozen=True)

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


class TokensConfig(Protocol):
    """The sections of the deployment's settings the managed OA token reads."""

    @property
    def store(self) -> StoreSettings:
        """The ``store`` section."""
        ...

    @property
    def zalo(self) -> ZaloSettings:
        """The ``zalo`` section."""
        ...
