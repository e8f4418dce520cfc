"""Satisfaction surveys: one per finished dossier and citizen, and the citizens who said no."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_TIME = sa.Float(precision=53)


def upgrade() -> None:
    """Create ``surveys`` and ``survey_optouts``.

    A survey row is planned when a dossier reaches a final state, for each citizen who follows
    it (``pending``, due after the delay), then ``asked`` in the chat, ``answered`` (score, maybe
    a comment) or ``skipped`` (why in ``reason``). ``published_at`` marks the feedback event as
    published (the outbox). Times are epoch seconds, UTC.
    """
    op.create_table(
        "surveys",
        sa.Column("case_code", sa.Text(), primary_key=True),
        sa.Column("user_id", sa.Text(), primary_key=True),
        sa.Column("province", sa.Text(), nullable=False),
        sa.Column("final_state", sa.Text(), nullable=False),
        sa.Column("procedure_code", sa.Text(), nullable=False),
        sa.Column("procedure_name", sa.Text(), nullable=False),
        sa.Column("agency_code", sa.Text(), nullable=False),
        sa.Column("agency_name", sa.Text(), nullable=False),
        sa.Column("department", sa.Text()),
        sa.Column("planned_at", _TIME, nullable=False),
        sa.Column("due_at", _TIME, nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("tries", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("owner", sa.Text()),
        sa.Column("lease_until", _TIME),
        sa.Column("asked_at", _TIME),
        sa.Column("score", sa.Integer()),
        sa.Column("answered_at", _TIME),
        sa.Column("comment", sa.Text()),
        sa.Column("comment_until", _TIME),
        sa.Column("published_at", _TIME),
    )
    op.create_index("surveys_status_due_at", "surveys", ["status", "due_at"])
    op.create_index("surveys_user_id", "surveys", ["user_id"])
    op.create_table(
        "survey_optouts",
        sa.Column("user_id", sa.Text(), primary_key=True),
        sa.Column("at", _TIME, nullable=False),
    )


def downgrade() -> None:
    """Drop the survey tables."""
    op.drop_table("survey_optouts")
    op.drop_index("surveys_user_id", table_name="surveys")
    op.drop_index("surveys_status_due_at", table_name="surveys")
    op.drop_table("surveys")
