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
    in_doubt_read_back: bool = Field(
        default=True,
        description=(
            "A file or image message whose answer was lost is looked for in the citizen's "
            "conversation (GET /v2.0/oa/conversation) before it is sent again, when "
            "delivery.in_doubt_policy is reconcile. false: held delivery.in_doubt_hold_seconds "
            "and sent again (a duplicate is then possible)."
        ),
    )
    read_back_caption: bool = Field(
        default=True,
        description=(
            "An image is recognised in the conversation by its caption (the document's title, "
            "the item's description) as well; false if the OA's read-back shows no caption."
        ),
    )
    read_back_margin_seconds: float = Field(
        default=15.0,
        ge=0,
        le=600,
        description=(
            "Slack around the send's window (first attempt .. in doubt) when matching a file by "
            "its time: clocks and Zalo's processing differ by a little."
        ),
    )
    upload_cache_entries: int = Field(
        default=1_000,
        ge=0,
        le=100_000,
        description="Uploaded assets remembered, so a document for several citizens goes up once.",
    )
