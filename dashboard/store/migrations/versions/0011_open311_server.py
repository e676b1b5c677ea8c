"""The Open311 server: each service's attribute definitions (``services.attributes``, a
JSON list served by ``GET services/{code}``; existing services get none), whether what a
resident wrote on a request may be published (``service_requests.moderation``:
"approved"; existing requests stay unpublished until staff approve them), the token a
posted request is followed by (``service_requests.token``) and the answers to its service's
attributes (``service_requests.attributes``, never published), the open request it may
repeat and what staff decided of it (``duplicate_of``, ``duplicate_state``), and the API
keys that apps post with (``api_keys``: a name and the key's SHA-256, never the key).

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
        batch.add_column(sa.Column("token", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("attributes", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("duplicate_of", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("duplicate_state", sa.String(length=10), nullable=True))
        batch.create_index("ux_sr_token", ["token"], unique=True)
    op.create_table(
        "api_keys",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("name"),
        sa.UniqueConstraint("key_hash", name="ux_api_key_hash"),
    )


def downgrade() -> None:
    op.drop_table("api_keys")
    with op.batch_alter_table("service_requests") as batch:
        batch.drop_index("ux_sr_token")
        batch.drop_column("duplicate_state")
        batch.drop_column("duplicate_of")
        batch.drop_column("attributes")
        batch.drop_column("token")
        batch.drop_column("moderation")
    with op.batch_alter_table("services") as batch:
        batch.drop_column("attributes")
