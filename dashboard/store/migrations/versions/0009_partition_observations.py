"""PostgreSQL: observations range-partitioned by month on ``time``, with a BRIN index on
``time`` (``dashboard/store/partitions.py``). The rows of an existing store are copied into
the partitioned table (each into its month's partition) in the upgrade's transaction:
nothing is lost, and a failure leaves the store as it was. Partitions are made for every
month that holds readings and from the current month to three months ahead; ``citylens db
maintain`` keeps them ahead from then on. SQLite (one box) keeps its single table.

On a large store the copy takes time (about the time to ingest the rows again, without the
rollups): plan the upgrade with the connectors stopped.

Revision ID: 0009_partition_observations
Revises: 0008_one_running_run
Create Date: 2026-12-04
"""
from __future__ import annotations

from datetime import datetime, timezone

from alembic import op
from sqlalchemy import text

from dashboard.store.partitions import (
    DEFAULT,
    PARENT,
    TIME_INDEX,
    add_partition,
    month_of,
    shift,
)

revision = "0009_partition_observations"
down_revision = "0008_one_running_run"
branch_labels = None
depends_on = None

AHEAD_MONTHS = 3
PLAIN = "observations_plain"
COLUMNS = "asset_pk, metric, time, value, unit"


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    op.execute(f"ALTER TABLE {PARENT} RENAME TO {PLAIN}")
    op.execute(f"ALTER TABLE {PLAIN} RENAME CONSTRAINT {PARENT}_pkey TO {PLAIN}_pkey")
    op.execute(
        f"CREATE TABLE {PARENT} (asset_pk INTEGER NOT NULL, metric VARCHAR(60) NOT NULL, "
        "time BIGINT NOT NULL, value FLOAT NOT NULL, unit VARCHAR(20), "
        f"CONSTRAINT {PARENT}_pkey PRIMARY KEY (asset_pk, metric, time)) "
        "PARTITION BY RANGE (time)")
    op.execute(f"CREATE TABLE {DEFAULT} PARTITION OF {PARENT} DEFAULT")
    op.execute(f"CREATE INDEX {TIME_INDEX} ON {PARENT} USING brin (time)")
    current = month_of(datetime.now(timezone.utc))
    held = conn.execute(text(
        "SELECT DISTINCT CAST(date_trunc('month', to_timestamp(time) AT TIME ZONE 'UTC') "
        f"AS DATE) FROM {PLAIN}")).scalars()
    for month in sorted({*held, *(shift(current, n) for n in range(AHEAD_MONTHS + 1))}):
        add_partition(conn, month)
    op.execute(f"INSERT INTO {PARENT} ({COLUMNS}) SELECT {COLUMNS} FROM {PLAIN}")
    op.execute(f"DROP TABLE {PLAIN}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"CREATE TABLE {PLAIN} (asset_pk INTEGER NOT NULL, metric VARCHAR(60) NOT NULL,"
               " time BIGINT NOT NULL, value FLOAT NOT NULL, unit VARCHAR(20), "
               f"CONSTRAINT {PLAIN}_pkey PRIMARY KEY (asset_pk, metric, time))")
    op.execute(f"INSERT INTO {PLAIN} ({COLUMNS}) SELECT {COLUMNS} FROM {PARENT}")
    op.execute(f"DROP TABLE {PARENT}")  # and every partition with it
    op.execute(f"ALTER TABLE {PLAIN} RENAME TO {PARENT}")
    op.execute(f"ALTER TABLE {PARENT} RENAME CONSTRAINT {PLAIN}_pkey TO {PARENT}_pkey")
