"""The submissions section of the settings: which forms, how long a conversation lives, limits."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SubmissionSettings"]


class SubmissionSettings(BaseModel):
    """``BRIDGE_SUBMISSIONS__…``: citizens file a dossier through the chat (docs/submissions.md).

    Off by default: a province turns it on once its one-stop-shop reads the submission topic.
    The forms are validated at start whenever the wing is on, and always by
    ``zalo-bridge submissions check-forms``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(default=False, description="Let citizens file dossiers in the chat.")
    forms_directory: Path | None = Field(
        default=None,
        description=(
            "Directory of the province's form files (form-<code>.yaml; a mounted ConfigMap "
            "works), over the package's forms; null: the package's forms only."
        ),
    )
    topic: str = Field(
        default="citizen-submission",
        min_length=1,
        description="Where each confirmed dossier goes as a citizen-submission.v1 event.",
    )
    idle_reminder_minutes: float = Field(
        default=30.0,
        gt=0,
        le=24 * 60,
        description="One reminder is sent this long after the citizen's last answer.",
    )
    expiry_hours: float = Field(
        default=24.0,
        gt=0,
        le=24 * 30,
        description=(
            "A conversation not confirmed this long after the last answer is dropped and its "
            "attachments deleted."
        ),
    )
    max_attachment_bytes: int = Field(
        default=20 * 1024 * 1024,
        ge=1024,
        le=200 * 1024 * 1024,
        description="Largest attachment downloaded; a form's document may only lower it.",
    )
    max_image_pixels: int = Field(
        default=40_000_000,
        ge=100_000,
        le=200_000_000,
        description="Images with more pixels are refused before decoding (decompression bombs).",
    )
    download_timeout_seconds: float = Field(default=20.0, gt=0, le=300)
    reply_retry_seconds: float = Field(
        default=60.0,
        gt=0,
        le=3_600,
        description=(
            "An answer of the conversation Zalo did not take (or a crash left unsent) is sent "
            "again this long after, and as often until the draft's expiry."
        ),
    )
    attachment_hosts: tuple[str, ...] = Field(
        default=("zdn.vn", "zadn.vn", "zalo.me", "zaloapp.com"),
        description=(
            "Hosts, or parent domains, an attachment URL in a webhook event may point at; any "
            "other URL (or a scheme other than http/https) is refused unfetched, so a forged or "
            "replayed event cannot make bridge fetch from inside the cluster. Zalo's CDN is "
            "*.zdn.vn (VERIFIED); the other three are UNCERTAIN. Empty: any host."
        ),
    )
    retention_days: int = Field(
        default=90,
        ge=1,
        le=3_650,
        description=(
            "Attachments of confirmed dossiers are deleted from object storage this long after "
            "confirmation (the centre copies what it keeps)."
        ),
    )
