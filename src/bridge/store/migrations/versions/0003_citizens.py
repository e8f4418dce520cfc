"""Create citizens, their dossier links, webhook dedupe and dossiers' latest state (issue 4)."""

from __future__ import annotations

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing yet: the tables arrive with the feature."""


def downgrade() -> None:
    """Nothing yet."""
