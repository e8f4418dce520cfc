"""Create citizens, their dossier links, webhook dedupe and dossiers' latest state (issue 4)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_TIME = sa.Float(precision=53)


def upgrade() -> None:
    """Create the citizens' tables (times are epoch seconds, UTC); see docs/privacy.md."""
    op.create_table(
        "citizens",
        sa.Column("user_id", sa.Text(), primary_key=True),
        sa.Column("followed", sa.Boolean(), nullable=False),
        sa.Column("followed_at", _TIME),
        sa.Column("unfollowed_at", _TIME),
        sa.Column("last_interaction_at", _TIME),
        sa.Column("area", sa.Text()),
        sa.Column("tags", sa.Text()),
        sa.Column("updated_at", _TIME, nullable=False),
    )
    op.create_table(
        "citizen_links",
        sa.Column("user_id", sa.Text(), primary_key=True),
        sa.Column("case_code", sa.Text(), primary_key=True),
        sa.Column("linked_at", _TIME, nullable=False),
        sa.Column("factor", sa.Text(), nullable=False),
        sa.Column("unlinked_at", _TIME),
    )
    op.create_index("citizen_links_case_code", "citizen_links", ["case_code"])
    op.create_table(
        "webhook_events",
        sa.Column("event_key", sa.Text(), primary_key=True),
        sa.Column("received_at", _TIME, nullable=False),
    )
    op.create_index("webhook_events_received_at", "webhook_events", ["received_at"])
    op.create_table(
        "link_attempts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("attempted_at", _TIME, nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
    )
    op.create_index("link_attempts_user", "link_attempts", ["user_id", "attempted_at"])
    op.create_table(
        "dossier_states",
        sa.Column("case_code", sa.Text(), primary_key=True),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("procedure_code", sa.Text(), nullable=False),
        sa.Column("procedure_name", sa.Text(), nullable=False),
        sa.Column("agency_code", sa.Text()),
        sa.Column("agency_name", sa.Text(), nullable=False),
        sa.Column("handling_department", sa.Text()),
        sa.Column("due_at", _TIME),
        sa.Column("occurred_at", _TIME, nullable=False),
        sa.Column("phone_last4_hash", sa.Text()),
        sa.Column("updated_at", _TIME, nullable=False),
    )
    op.create_table(
        "delivery_receipts",
        sa.Column("zalo_message_id", sa.Text(), primary_key=True),
        sa.Column("kind", sa.Text(), primary_key=True),
        sa.Column("user_id", sa.Text()),
        sa.Column("at", _TIME, nullable=False),
    )
    op.create_index("delivery_receipts_at", "delivery_receipts", ["at"])


def downgrade() -> None:
    """Drop the citizens' tables."""
    op.drop_index("delivery_receipts_at", table_name="delivery_receipts")
    op.drop_table("delivery_receipts")
    op.drop_table("dossier_states")
    op.drop_index("link_attempts_user", table_name="link_attempts")
    op.drop_table("link_attempts")
    op.drop_index("webhook_events_received_at", table_name="webhook_events")
    op.drop_table("webhook_events")
    op.drop_index("citizen_links_case_code", table_name="citizen_links")
    op.drop_table("citizen_links")
    op.drop_table("citizens")
