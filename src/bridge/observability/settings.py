"""The log section of the settings: level and format."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["LogSettings"]


class LogSettings(BaseModel):
    """Log level and format."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["auto", "json", "console"] = Field(
        default="auto", description="auto: readable on a terminal, JSON otherwise."
    )
    delivered_sample: int = Field(
        default=1,
        ge=1,
        le=10_000,
        description="Write the `event handled` line of 1 in N events delivered as planned "
        "(1: every one). Every other outcome, and every warning and error, is always logged; "
        "the status events and the metrics count every event whatever this says.",
    )
