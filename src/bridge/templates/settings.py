"""The templates section of the settings: the province's template files, card limits, preview."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from bridge.wording import ProvinceSettings

__all__ = ["TemplateSettings", "TemplatesConfig"]


class TemplateSettings(BaseModel):
    """The province's message templates over the package's Vietnamese defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

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


class TemplatesConfig(Protocol):
    """The sections of the deployment's settings the templates read."""

    @property
    def province(self) -> ProvinceSettings:
        """The ``province`` section."""
        ...

    @property
    def templates(self) -> TemplateSettings:
        """The ``templates`` section."""
        ...
