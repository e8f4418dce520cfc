"""The case_kinds section of the settings: the province's statutory time limits, if it differs."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CaseKindSettings"]


class CaseKindSettings(BaseModel):
    """``BRIDGE_CASE_KINDS__…``: complaints, denunciations and land disputes (v2 topic)."""

    model_config = ConfigDict(frozen=True)

    deadlines: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description=(
            "Statutory time limits shown beside each step, overriding the laws' figures as read "
            "(docs/complaints-and-disputes.md §8): {key: {variant: '30d' | '7wd' | 'none'}}, "
            "e.g. {'complaint.accept': {'normal': '7wd'}}. Checked at start."
        ),
    )
