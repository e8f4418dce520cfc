"""Per-dossier guards against guessing the second factor; link attempts name dossier and outcome."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_TIME = sa.Float(precision=53)


def upgrade() -> None:
    """Create ``dossier_link_guards``; add ``case_code`` and ``outcome`` to ``link_attempts``.

    A guard row counts the wrong second factors sent for one dossier from any Zalo account
    since its last lock (or its last link), and how many locks it has had (each lasts twice
    the one before). ``link_attempts.outcome`` is ``linked``, ``refused``, ``refused_locking``
    (refused, and it locked the dossier) or ``locked`` (an attempt at a locked dossier, not
    checked); older rows get ``linked`` or ``refused`` from ``succeeded``.
    Times are epoch seconds, UTC.
    """
    op.create_table(
        "dossier_link_guards",
        sa.Column("case_code", sa.Text(), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("locks", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("locked_at", _TIME),
        sa.Column("locked_until", _TIME),
        sa.Column("updated_at", _TIME, nullable=False),
    )
    op.create_index("dossier_link_guards_updated_at", "dossier_link_guards", ["updated_at"])
    with op.batch_alter_table("link_attempts") as batch:
        batch.add_column(sa.Column("case_code", sa.Text()))
        batch.add_column(sa.Column("outcome", sa.Text()))
    op.execute(
        "UPDATE link_attempts SET outcome = CASE WHEN succeeded THEN 'linked' ELSE 'refused' END"
    )


def downgrade() -> None:
    """Drop ``dossier_link_guards`` and the two columns."""
    with op.batch_alter_table("link_attempts") as batch:
        batch.drop_column("outcome")
        batch.drop_column("case_code")
    op.drop_index("dossier_link_guards_updated_at", table_name="dossier_link_guards")
    op.drop_table("dossier_link_guards")
