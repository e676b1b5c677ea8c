"""What a quarantined record needs to be replayed: the stream it came from
(``quarantine.stream``) and, when it was refused for a reference the store did not hold
yet, which kind (``quarantine.missing``: citizen, district or asset) and its id
(``quarantine.missing_ref``), so the run that brings it retries the record. Rows quarantined before keep both empty.

Revision ID: 0007_quarantine_replay
Revises: 0006_feed_run_heartbeat
Create Date: 2026-12-04
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_quarantine_replay"
down_revision = "0006_feed_run_heartbeat"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("quarantine") as batch:
        batch.add_column(sa.Column("stream", sa.String(80), nullable=True))
        batch.add_column(sa.Column("missing", sa.String(20), nullable=True))
        batch.add_column(sa.Column("missing_ref", sa.String(200), nullable=True))
        batch.create_index("ix_quarantine_missing", ["missing"])


def downgrade() -> None:
    with op.batch_alter_table("quarantine") as batch:
        batch.drop_index("ix_quarantine_missing")
        batch.drop_column("missing_ref")
        batch.drop_column("missing")
        batch.drop_column("stream")
