"""``latest_readings``: the newest observation of each metric of each asset, kept by ingest,
so that "latest value" reads (the domain grids, an asset's page, the kiosk) are one seek
instead of a ``MAX(time)`` over every monthly partition. Filled from the observations an
existing store holds.

Revision ID: 0010_latest_readings
Revises: 0009_partition_observations
Create Date: 2026-12-04
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_latest_readings"
down_revision = "0009_partition_observations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "latest_readings",
        sa.Column("asset_pk", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(length=60), nullable=False),
        sa.Column("time", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(length=20), nullable=True),
        sa.PrimaryKeyConstraint("asset_pk", "metric"),
        sqlite_with_rowid=False,
    )
    op.execute(
        "INSERT INTO latest_readings (asset_pk, metric, time, value, unit) "
        "SELECT o.asset_pk, o.metric, o.time, o.value, o.unit FROM observations o JOIN "
        "(SELECT asset_pk, metric, MAX(time) AS time FROM observations "
        "GROUP BY asset_pk, metric) newest ON newest.asset_pk = o.asset_pk "
        "AND newest.metric = o.metric AND newest.time = o.time")


def downgrade() -> None:
    op.drop_table("latest_readings")
