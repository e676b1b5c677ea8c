"""Rollups of service requests and cases kept at ingest (``request_rollups``,
``request_durations``).

They are filled from the stored requests and cases by ``0005_request_rollups_department``,
which gives them the key the current code keeps (the fill runs the current code, so it
belongs to the newest revision that changes these tables).

Revision ID: 0004_request_rollups
Revises: 0003_drop_user_lockout
Create Date: 2026-12-04
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_request_rollups"
down_revision = "0003_drop_user_lockout"
branch_labels = None
depends_on = None

KEY = ("kind", "grain", "bucket", "district_id", "domain")


def _key_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("grain", sa.String(length=8), nullable=False),
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("district_id", sa.String(length=64), nullable=False),
        sa.Column("domain", sa.String(length=40), nullable=False),
    ]


def upgrade() -> None:
    counts = ("opened", "digital", "closed", "closed_due", "closed_on_time", "due_open_delta",
              "overdue_delta")
    op.create_table(
        "request_rollups",
        *_key_columns(),
        *[sa.Column(name, sa.BigInteger(), nullable=False) for name in counts],
        sa.Column("latest", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint(*KEY),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "request_durations",
        *_key_columns(),
        sa.Column("bin", sa.Integer(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(*KEY, "bin"),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("request_durations")
    op.drop_table("request_rollups")
