"""Drop the users' lock-out columns: sign-in throttling lives in ``sign_in_throttle`` since
0002, and nothing reads or writes ``failed_attempts`` and ``locked_until`` any more.

Revision ID: 0003_drop_user_lockout
Revises: 0002_sign_in_sessions
Create Date: 2026-12-03
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_drop_user_lockout"
down_revision = "0002_sign_in_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:  # SQLite: by table copy
        batch.drop_column("locked_until")
        batch.drop_column("failed_attempts")


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("failed_attempts", sa.Integer(), nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("locked_until", sa.DateTime(), nullable=True))
