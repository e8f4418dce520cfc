"""Create the durable webhook inbox: verified OA events stored before the 200 answer."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_TIME = sa.Float(precision=53)


def upgrade() -> None:
    """Create ``webhook_inbox`` and its indexes (claims by status and age, heads per user).

    Times are epoch seconds, UTC. ``body`` is the signed JSON as received (it holds the
    citizen's text: docs/privacy.md says how long it is kept).
    """
    op.create_table(
        "webhook_inbox",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("dedupe_key", sa.Text(), nullable=False, unique=True),
        sa.Column("received_at", _TIME, nullable=False),
        sa.Column("event_name", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text()),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("owner", sa.Text()),
        sa.Column("lease_until", _TIME),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text()),
        sa.Column("processed_at", _TIME),
    )
    op.create_index("webhook_inbox_due", "webhook_inbox", ["status", "received_at"])
    op.create_index("webhook_inbox_user", "webhook_inbox", ["user_id", "received_at"])


def downgrade() -> None:
    """Drop ``webhook_inbox``."""
    op.drop_index("webhook_inbox_user", table_name="webhook_inbox")
    op.drop_index("webhook_inbox_due", table_name="webhook_inbox")
    op.drop_table("webhook_inbox")
