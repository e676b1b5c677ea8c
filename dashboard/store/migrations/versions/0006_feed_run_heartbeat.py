"""A feed run's heartbeat (``feed_runs.heartbeat_at``): a run in progress stamps it every
few seconds, so a run whose process was killed or crashed is seen as interrupted, not
"running" for ever.

Revision ID: 0006_feed_run_heartbeat
Revises: 0005_request_rollups_department
Create Date: 2026-12-04
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_feed_run_heartbeat"
down_revision = "0005_request_rollups_department"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feed_runs") as batch:
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feed_runs") as batch:
        batch.drop_column("heartbeat_at")
