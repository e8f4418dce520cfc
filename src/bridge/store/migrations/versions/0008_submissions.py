"""Dossiers filed in the chat: drafts in progress, the webhook events they took, the outbox."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_TIME = sa.Float(precision=53)


def upgrade() -> None:
    """Create ``submission_drafts``, ``submission_steps`` and ``submissions``.

    A draft is one citizen's conversation in progress (JSON: the form, the answers, the stored
    attachments). ``submission_steps`` holds the key of every webhook event a draft took, written
    in the same transaction as the draft, so a replayed event adds no step. ``submissions`` is the
    outbox of confirmed dossiers: the event, when it was published, and the dossier code the
    centre gave it. Times are epoch seconds, UTC.
    """
    op.create_table(
        "submission_drafts",
        sa.Column("user_id", sa.Text(), primary_key=True),
        sa.Column("draft", sa.Text(), nullable=False),
        sa.Column("started_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.Column("reminded_at", _TIME),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
    )
    op.create_index("submission_drafts_updated_at", "submission_drafts", ["updated_at"])
    op.create_table(
        "submission_steps",
        sa.Column("event_key", sa.Text(), primary_key=True),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("at", _TIME, nullable=False),
    )
    op.create_index("submission_steps_at", "submission_steps", ["at"])
    op.create_table(
        "submissions",
        sa.Column("submission_id", sa.Text(), primary_key=True),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("procedure_code", sa.Text(), nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("object_keys", sa.Text(), nullable=False),
        sa.Column("submitted_at", _TIME, nullable=False),
        sa.Column("published_at", _TIME),
        sa.Column("case_code", sa.Text()),
        sa.Column("linked_at", _TIME),
        sa.Column("purged_at", _TIME),
        sa.Column("owner", sa.Text()),
        sa.Column("lease_until", _TIME),
    )
    op.create_index("submissions_published_at", "submissions", ["published_at"])
    op.create_index("submissions_submitted_at", "submissions", ["submitted_at"])


def downgrade() -> None:
    """Drop the submission tables."""
    op.drop_index("submissions_submitted_at", table_name="submissions")
    op.drop_index("submissions_published_at", table_name="submissions")
    op.drop_table("submissions")
    op.drop_index("submission_steps_at", table_name="submission_steps")
    op.drop_table("submission_steps")
    op.drop_index("submission_drafts_updated_at", table_name="submission_drafts")
    op.drop_table("submission_drafts")
