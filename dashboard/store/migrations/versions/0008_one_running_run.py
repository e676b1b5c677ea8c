"""At most one run of a source at a time, across every process and machine: a partial
unique index on ``feed_runs(source_id)`` for the rows whose status is ``running``. A run
that starts while another is running (with a live heartbeat) is refused by the store
itself; a run whose process died is marked interrupted once its heartbeat is stale, which
frees the source (at once when its ``holder``, ``host:pid``, is a process of the same host
that no longer exists). Older stores may hold several "running" rows of one source
(processes killed before the heartbeat existed): all but the newest are marked interrupted
first.

Revision ID: 0008_one_running_run
Revises: 0007_quarantine_replay
Create Date: 2026-12-04
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_one_running_run"
down_revision = "0007_quarantine_replay"
branch_labels = None
depends_on = None

RUNNING = sa.text("status = 'running'")


def upgrade() -> None:
    op.execute(
        "UPDATE feed_runs SET status = 'failed', finished = COALESCE(heartbeat_at, started), "
        "error = 'interrupted: the process running it stopped before it finished' "
        "WHERE status = 'running' AND id NOT IN "
        "(SELECT MAX(id) FROM feed_runs WHERE status = 'running' GROUP BY source_id)")
    op.create_index("ux_feed_run_running", "feed_runs", ["source_id"], unique=True,
                    sqlite_where=RUNNING, postgresql_where=RUNNING)
    with op.batch_alter_table("feed_runs") as batch:
        batch.add_column(sa.Column("holder", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feed_runs") as batch:
        batch.drop_column("holder")
    op.drop_index("ux_feed_run_running", table_name="feed_runs")
