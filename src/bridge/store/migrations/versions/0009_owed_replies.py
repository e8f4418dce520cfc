"""The chat replies a submission step owes her, kept with the step until they are sent."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_TIME = sa.Float(precision=53)


def upgrade() -> None:
    """Add ``replies`` and ``replies_due`` to ``submission_steps``.

    ``replies`` (JSON list of texts) is written in the step's own transaction and cleared once
    they went out; ``replies_due`` is when a sweep may send what is still owed (the step's own
    sender has until then). So a crash or a Zalo failure after the commit loses no answer,
    notably the one that tells her the submission id.
    """
    with op.batch_alter_table("submission_steps") as batch:
        batch.add_column(sa.Column("replies", sa.Text()))
        batch.add_column(sa.Column("replies_due", _TIME))
    op.create_index("submission_steps_replies_due", "submission_steps", ["replies_due"])


def downgrade() -> None:
    """Drop the owed replies."""
    op.drop_index("submission_steps_replies_due", table_name="submission_steps")
    with op.batch_alter_table("submission_steps") as batch:
        batch.drop_column("replies_due")
        batch.drop_column("replies")
