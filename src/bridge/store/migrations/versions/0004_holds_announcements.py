"""Create held notifications (quiet hours) and announcements (issue 7)."""

from __future__ import annotations

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing yet: the tables arrive with the feature."""


def downgrade() -> None:
    """Nothing yet."""
