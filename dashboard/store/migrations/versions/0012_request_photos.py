"""Residents' photos: ``request_photos``, the one photo a resident attached to a service
request, re-encoded as a JPEG without metadata (its bytes, media type, size in pixels and
bytes, and when it came), deleted with its request; public only once the request is
approved.

Revision ID: 0012_request_photos
Revises: 0011_open311_server
Create Date: 2026-12-11
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_request_photos"
down_revision = "0011_open311_server"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "request_photos",
        sa.Column("request_id", sa.String(length=100), nullable=False),
        sa.Column("media_type", sa.String(length=40), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("bytes", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["service_requests.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("request_id"),
    )


def downgrade() -> None:
    op.drop_table("request_photos")
