"""The city's commitments (issue 19, "Residents take part"): ``commitments``, the projects
and pledges staff keep (titles per language, department, district or the whole city,
budget, planned dates, status, % complete, milestones, linked KPIs), and
``commitment_progress``, one row each time staff change a commitment's progress (its
history "over time"), deleted with its commitment.

Revision ID: 0013_commitments
Revises: 0012_request_photos
Create Date: 2026-12-04
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_commitments"
down_revision = "0012_request_photos"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "commitments",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("title", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("district_id", sa.String(length=64), nullable=True),
        sa.Column("budget_eur", sa.Float(), nullable=True),
        sa.Column("spent_eur", sa.Float(), nullable=True),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("percent_complete", sa.Float(), nullable=False),
        sa.Column("kpis", sa.JSON(), nullable=False),
        sa.Column("milestones", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(["district_id"], ["districts.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_commitments_department", "commitments", ["department"])
    op.create_index("ix_commitments_district_id", "commitments", ["district_id"])
    op.create_table(
        "commitment_progress",
        sa.Column("commitment_id", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("percent_complete", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("note", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(["commitment_id"], ["commitments.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("commitment_id", "at"),
    )


def downgrade() -> None:
    op.drop_table("commitment_progress")
    op.drop_index("ix_commitments_district_id", table_name="commitments")
    op.drop_index("ix_commitments_department", table_name="commitments")
    op.drop_table("commitments")
