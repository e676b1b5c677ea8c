"""Hotspots read in SQL: ``service_requests.h3_cell``, the H3 cell (resolution 9, about
0.1 km²) of each located request, kept at ingest, so that the hotspots of a period are a
GROUP BY in the database instead of every request of the period read into Python (the
index on cell and time serves the details of the busiest cells). The upgrade fills it for
the requests already stored, 10,000 at a time.

Revision ID: 0015_request_cells
Revises: 0014_consultations
Create Date: 2026-12-04
"""
from __future__ import annotations

import h3
import sqlalchemy as sa
from alembic import op

revision = "0015_request_cells"
down_revision = "0014_consultations"
branch_labels = None
depends_on = None

RESOLUTION = 9  # as dashboard.geo.HOTSPOT_RESOLUTION when this revision was written
BATCH = 10_000


def upgrade() -> None:
    with op.batch_alter_table("service_requests") as batch:
        batch.add_column(sa.Column("h3_cell", sa.String(length=16), nullable=True))
    requests = sa.table("service_requests", sa.column("id", sa.String()),
                        sa.column("lat", sa.Float()), sa.column("lon", sa.Float()),
                        sa.column("h3_cell", sa.String()))
    conn = op.get_bind()
    last = ""
    while True:
        rows = conn.execute(sa.select(requests.c.id, requests.c.lat, requests.c.lon)
                            .where(requests.c.id > last, requests.c.lat.is_not(None),
                                   requests.c.lon.is_not(None))
                            .order_by(requests.c.id).limit(BATCH)).all()
        if not rows:
            break
        conn.execute(requests.update().where(requests.c.id == sa.bindparam("b_id"))
                     .values(h3_cell=sa.bindparam("b_cell")),
                     [{"b_id": r.id, "b_cell": h3.latlng_to_cell(r.lat, r.lon, RESOLUTION)}
                      for r in rows])
        last = rows[-1].id
    op.create_index("ix_sr_cell_requested", "service_requests", ["h3_cell", "requested_at"])


def downgrade() -> None:
    op.drop_index("ix_sr_cell_requested", table_name="service_requests")
    with op.batch_alter_table("service_requests") as batch:
        batch.drop_column("h3_cell")
