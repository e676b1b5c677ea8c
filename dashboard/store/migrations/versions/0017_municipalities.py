"""Sub-municipal hierarchy: a district may name its parent area (a municipality or
borough), so a metropolitan deployment reads city -> municipality -> district. A store's
districts from before have none (a single city).

Revision ID: 0017_municipalities
Revises: 0016_subscriptions
Create Date: 2026-12-05
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_municipalities"
down_revision = "0016_subscriptions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("districts") as batch:
        batch.add_column(sa.Column("municipality_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("municipality_name", sa.String(length=200), nullable=True))
    op.create_index("ix_districts_municipality_id", "districts", ["municipality_id"])


def downgrade() -> None:
    op.drop_index("ix_districts_municipality_id", table_name="districts")
    with op.batch_alter_table("districts") as batch:
        batch.drop_column("municipality_name")
        batch.drop_column("municipality_id")
