"""Create the ledger: a row per (event, channel), and each case's last delivered sequence."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``deliveries`` and ``cases`` (times are epoch seconds, UTC)."""
    op.create_table(
        "deliveries",
        sa.Column("delivery_key", sa.Text(), primary_key=True),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("case_code", sa.Text(), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("zalo_message_id", sa.Text()),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("template_version", sa.Text()),
        sa.Column("owner", sa.Text()),
        sa.Column("lease_until", sa.Float(precision=53)),
        sa.Column("first_attempt_at", sa.Float(precision=53), nullable=False),
        sa.Column("last_attempt_at", sa.Float(precision=53)),
        sa.Column("in_doubt_since", sa.Float(precision=53)),
        sa.Column("settled_at", sa.Float(precision=53)),
    )
    op.create_index("deliveries_case_code", "deliveries", ["case_code"])
    op.create_index("deliveries_status", "deliveries", ["status"])
    op.create_table(
        "cases",
        sa.Column("case_code", sa.Text(), primary_key=True),
        sa.Column("last_delivered_sequence", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.Float(precision=53), nullable=False),
    )


def downgrade() -> None:
    """Drop the ledger."""
    op.drop_table("cases")
    op.drop_index("deliveries_status", table_name="deliveries")
    op.drop_index("deliveries_case_code", table_name="deliveries")
    op.drop_table("deliveries")
