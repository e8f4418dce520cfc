"""The linking and retention sections of the settings: the chat's second factor, data kept."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, SecretStr

if TYPE_CHECKING:
    from bridge.store.settings import StoreSettings
    from bridge.webhook.settings import WebhookSettings
    from bridge.wording import ProvinceSettings

__all__ = ["CitizensConfig", "LinkingSettings", "RetentionSettings"]


class LinkingSettings(BaseModel):
    """How a Zalo user links to a dossier from the chat, and the lookup that follows."""

    model_config = ConfigDict(extra="forbid", frozen=True)

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


class RetentionSettings(BaseModel):
    """How long citizens' data is kept, and how often the purge runs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

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


class CitizensConfig(Protocol):
    """The sections of the deployment's settings the citizens' side reads."""

    @property
    def linking(self) -> LinkingSettings:
        """The ``linking`` section."""
        ...

    @property
    def province(self) -> ProvinceSettings:
        """The ``province`` section."""
        ...

    @property
    def retention(self) -> RetentionSettings:
        """The ``retention`` section."""
        ...

    @property
    def store(self) -> StoreSettings:
        """The ``store`` section."""
        ...

    @property
    def webhook(self) -> WebhookSettings:
        """The ``webhook`` section."""
        ...
