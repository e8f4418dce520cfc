"""Create held notifications (quiet hours) and announcements (issue 7)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_TIME = sa.Float(precision=53)


def upgrade() -> None:
    """Create ``held_notifications``, ``announcements``, ``announcement_recipients``.

    Times are epoch seconds, UTC.
    """
    op.create_table(
        "held_notifications",
        sa.Column("event_id", sa.Text(), primary_key=True),
        sa.Column("case_code", sa.Text(), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("record_key", sa.LargeBinary()),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("headers", sa.Text(), nullable=False),
        sa.Column("timestamp_ms", sa.BigInteger()),
        sa.Column("held_at", _TIME, nullable=False),
        sa.Column("release_at", _TIME, nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("owner", sa.Text()),
        sa.Column("lease_until", _TIME),
        sa.Column("superseded_by", sa.Text()),
        sa.Column("outcome", sa.Text()),
        sa.Column("outcome_reason", sa.Text()),
        sa.Column("settled_at", _TIME),
    )
    op.create_index("held_notifications_due", "held_notifications", ["status", "release_at"])
    op.create_index("held_notifications_case", "held_notifications", ["case_code", "sequence"])
    op.create_table(
        "announcements",
        sa.Column("announcement_id", sa.Text(), primary_key=True),
        sa.Column("province", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("link", sa.Text()),
        sa.Column("urgency", sa.Text(), nullable=False),
        sa.Column("audience_kind", sa.Text(), nullable=False),
        sa.Column("audience_value", sa.Text()),
        sa.Column("published_at", _TIME, nullable=False),
        sa.Column("expires_at", _TIME),
        sa.Column("received_at", _TIME, nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("enumerated", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("total", sa.Integer()),
        sa.Column("owner", sa.Text()),
        sa.Column("lease_until", _TIME),
        sa.Column("started_at", _TIME),
        sa.Column("finished_at", _TIME),
    )
    op.create_index("announcements_status", "announcements", ["status"])
    op.create_table(
        "announcement_recipients",
        sa.Column("announcement_id", sa.Text(), primary_key=True),
        sa.Column("user_id", sa.Text(), primary_key=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("zalo_message_id", sa.Text()),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("owner", sa.Text()),
        sa.Column("lease_until", _TIME),
        sa.Column("first_attempt_at", _TIME),
        sa.Column("updated_at", _TIME, nullable=False),
    )
    op.create_index(
        "announcement_recipients_status", "announcement_recipients", ["announcement_id", "status"]
    )


def downgrade() -> None:
    """Drop the three tables."""
    op.drop_index("announcement_recipients_status", table_name="announcement_recipients")
    op.drop_table("announcement_recipients")
    op.drop_index("announcements_status", table_name="announcements")
    op.drop_table("announcements")
    op.drop_index("held_notifications_case", table_name="held_notifications")
    op.drop_index("held_notifications_due", table_name="held_notifications")
    op.drop_table("held_notifications")
