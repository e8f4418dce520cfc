"""The documents section of the settings: Zalo's upload limits, fetching, the upload cache."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DocumentSettings"]


class DocumentSettings(BaseModel):
    """``BRIDGE_DOCUMENTS__…``: result documents sent into the chat (docs/result-documents.md).

    Zalo's limits are VERIFIED by code only (zalo-oa-api-2 §1.2), so they are settings: a province
    that learns otherwise changes them without a release.
    """

    model_config = ConfigDict(frozen=True)

    enabled: bool = Field(
        default=True,
        description="Send result.documents[] as file and image messages (else only the links).",
    )
    image_max_bytes: int = Field(
        default=1_048_576,
        ge=1,
        le=100 * 1_048_576,
        description="Largest image Zalo's upload/image takes (1 MB, zalo-oa-api-2 §1.2).",
    )
    file_max_bytes: int = Field(
        default=5_242_880,
        ge=1,
        le=100 * 1_048_576,
        description="Largest PDF/DOC/DOCX Zalo's upload/file takes (5 MB, zalo-oa-api-2 §1.2).",
    )
    fetch_timeout_seconds: float = Field(
        default=30.0, gt=0, le=600, description="Whole-download deadline of one document."
    )
    fetch_attempts: int = Field(
        default=3,
        ge=1,
        le=10,
        description=(
            "Tries to download a document whose host fails (5xx, timeouts); then the citizen "
            "keeps the link (link:unavailable) and the event is settled."
        ),
    )
    allow_http: bool = Field(
        default=False,
        description="Also fetch plain-HTTP URLs (development only; the contract says HTTPS).",
    )
    reupload_after_hours: float = Field(
        default=144.0,
        gt=0,
        le=24 * 7,
        description=(
            "Upload a document again once its Zalo asset is this old (assets last about 7 days, "
            "UNCERTAIN); an expired one (-100) is uploaded again at once."
        ),
    )
    concurrent_fetches: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Documents held in memory at once (each at most the larger limit).",
    )
    upload_cache_entries: int = Field(
        default=1_000,
        ge=0,
        le=100_000,
        description="Uploaded assets remembered, so a document for several citizens goes up once.",
    )
