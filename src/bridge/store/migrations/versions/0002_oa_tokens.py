"""Create the OA tokens (issue 4, token lifecycle): one encrypted pair per Official Account."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``oa_tokens`` (tokens Fernet-encrypted; times are epoch seconds, UTC)."""
    op.create_table(
        "oa_tokens",
        sa.Column("oa_id", sa.Text(), primary_key=True),
        sa.Column("access_token", sa.Text(), nullable=False),
        sa.Column("refresh_token", sa.Text(), nullable=False),
        sa.Column("access_issued_at", sa.Float(precision=53), nullable=False),
        sa.Column("access_expires_at", sa.Float(precision=53), nullable=False),
        sa.Column("refresh_expires_at", sa.Float(precision=53)),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Float(precision=53), nullable=False),
    )


def downgrade() -> None:
    """Drop the OA tokens."""
    op.drop_table("oa_tokens")
