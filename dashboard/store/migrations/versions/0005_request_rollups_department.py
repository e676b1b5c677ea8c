"""The department that handles a request or case becomes part of the request rollups' key,
so a department's request KPIs are read from the rollups like a district's; the rollups are
refilled from the stored requests and cases.

The day buckets are local days of the city's time zone (``CITYLENS_TIMEZONE``, as for the
observation rollups): run ``citylens db upgrade`` with the settings the city runs with.
Downgrading sums the rows of every department back into the earlier key, in SQL.

Revision ID: 0005_request_rollups_department
Revises: 0004_request_rollups
Create Date: 2026-12-04
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dashboard.settings import get_settings
from dashboard.store.request_rollups import rebuild_request_rollups

revision = "0005_request_rollups_department"
down_revision = "0004_request_rollups"
branch_labels = None
depends_on = None

COUNTS = ("opened", "digital", "closed", "closed_due", "closed_on_time", "due_open_delta",
          "overdue_delta")
EARLIER_KEY = ("kind", "grain", "bucket", "district_id", "domain")


def _create(department: bool, suffix: str = "") -> None:
    """Both tables, with or without the department in their key (``suffix`` on the name)."""
    def key() -> list[sa.Column[object]]:
        columns: list[sa.Column[object]] = [
            sa.Column("kind", sa.String(length=8), nullable=False),
            sa.Column("grain", sa.String(length=8), nullable=False),
            sa.Column("bucket", sa.BigInteger(), nullable=False),
            sa.Column("district_id", sa.String(length=64), nullable=False),
            sa.Column("domain", sa.String(length=40), nullable=False),
        ]
        if department:
            columns.append(sa.Column("department", sa.String(length=100), nullable=False))
        return columns

    names = (*EARLIER_KEY, "department") if department else EARLIER_KEY
    op.create_table(
        f"request_rollups{suffix}",
        *key(),
        *[sa.Column(name, sa.BigInteger(), nullable=False) for name in COUNTS],
        sa.Column("latest", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint(*names),
        sqlite_with_rowid=False,
    )
    op.create_table(
        f"request_durations{suffix}",
        *key(),
        sa.Column("bin", sa.Integer(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(*names, "bin"),
        sqlite_with_rowid=False,
    )


def upgrade() -> None:
    op.drop_table("request_durations")
    op.drop_table("request_rollups")
    _create(department=True)
    rebuild_request_rollups(op.get_bind(), get_settings().timezone)


def downgrade() -> None:
    _create(department=False, suffix="_earlier")
    key = ", ".join(EARLIER_KEY)
    sums = ", ".join(f"SUM({name})" for name in COUNTS)
    op.execute(f"INSERT INTO request_rollups_earlier ({key}, {', '.join(COUNTS)}, latest) "
               f"SELECT {key}, {sums}, MAX(latest) FROM request_rollups GROUP BY {key}")
    op.execute(f"INSERT INTO request_durations_earlier ({key}, bin, count) "
               f"SELECT {key}, bin, SUM(count) FROM request_durations GROUP BY {key}, bin")
    op.drop_table("request_durations")
    op.drop_table("request_rollups")
    op.rename_table("request_rollups_earlier", "request_rollups")
    op.rename_table("request_durations_earlier", "request_durations")
