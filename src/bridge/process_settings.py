"""The process section of the settings: the event loop, and how many worker processes run."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ProcessSettings"]


class ProcessSettings(BaseModel):
    """``BRIDGE_PROCESS__…``: how ``zalo-bridge run`` uses the machine (docs/performance.md)."""

    model_config = ConfigDict(frozen=True)

    event_loop: Literal["auto", "uvloop", "asyncio"] = Field(
        default="auto",
        description=(
            "The asyncio event loop: uvloop (libuv, less CPU per event, asyncio semantics) "
            "where it is installed (auto), or the standard library's."
        ),
    )
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description=(
            "Worker processes in one pod, each its own consumer in the group sharing only the "
            "store (PostgreSQL with more than one): for nodes with several cores. A supervisor "
            "serves the port: health and metrics of all workers, the webhook through worker 0."
        ),
    )
