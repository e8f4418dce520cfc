"""Create the OA tokens (issue 4, token lifecycle)."""

from __future__ import annotations

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing yet: the tables arrive with the feature."""


def downgrade() -> None:
    """Nothing yet."""
