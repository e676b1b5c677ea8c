"""The Open311 server: each service's attribute definitions (``services.attributes``, a
JSON list served by ``GET services/{code}``; existing services get none), and whether what
a resident wrote on a request may be published (``service_requests.moderation``:
"approved"; existing requests stay unpublished until staff approve them).

Revision ID: 0011_open311_server
Revises: 0010_latest_readings
Create Date: 2026-12-04
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_open311_server"
down_revision = "0010_latest_readings"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("services") as batch:
        batch.add_column(sa.Column("attributes", sa.JSON(), nullable=False,
                                   server_default=sa.text("'[]'")))
    with op.batch_alter_table("service_requests") as batch:
        batch.add_column(sa.Column("moderation", sa.String(length=10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("service_requests") as batch:
        batch.drop_column("moderation")
    with op.batch_alter_table("services") as batch:
        batch.drop_column("attributes")
