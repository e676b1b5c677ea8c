"""Hotspots: the places where requests repeat, for department heads to act on the cause.

The requests of a scope received in a period are put into H3 hexagonal cells (resolution
9: cells about 350 m across, 0.1 km²); a cell with at least ``MIN_REQUESTS`` is a hotspot.
Each is told by the address most of its requests give (or its centre), with its count,
how many are still open, its leading services and its district, most requests first.
Staff only: addresses are what residents wrote.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

import h3
from sqlalchemy import Connection, select

from dashboard.model import District
from dashboard.model import ServiceRequest as SR
from dashboard.periods import period_for
from dashboard.queries.base import REQUESTS, cached
from dashboard.queries.services import RequestScope, in_period, period_params
from dashboard.settings import Settings

RESOLUTION = 9
MIN_REQUESTS = 3
LIMIT = 500  # the CSV's; the page shows the first few
HOTSPOT_FIELDS = ("place", "requests", "open", "services", "district_id", "district_name",
                  "lat", "lon", "cell")


def _hotspot(cell: str, rows: list[Any], names: dict[str, str]) -> dict[str, Any]:
    lat, lon = h3.cell_to_latlng(cell)
    addresses = Counter(r.address.strip() for r in rows if (r.address or "").strip())
    services = Counter(r.service_name or r.service_code for r in rows)
    districts = Counter(r.district_id for r in rows if r.district_id)
    district = districts.most_common(1)[0][0] if districts else ""
    place = (addresses.most_common(1)[0][0] if addresses
             else f"around {lat:.5f}, {lon:.5f}")
    return {"place": place, "requests": len(rows),
            "open": sum(1 for r in rows if r.closed_at is None and r.status != "closed"),
            "services": ", ".join(f"{name} ({n})" for name, n in services.most_common(3)),
            "district_id": district, "district_name": names.get(district, "No district"),
            "lat": round(lat, 5), "lon": round(lon, 5), "cell": cell}


def hotspots(settings: Settings, scope: RequestScope, preset: str, *,
             min_requests: int = MIN_REQUESTS, limit: int = LIMIT) -> list[dict[str, Any]]:
    """The hotspots of the requests of ``scope`` received in the period ``preset``, most
    requests first (then most open), at most ``limit``."""
    period = period_for(preset, settings.current_time())

    def compute(conn: Connection) -> list[dict[str, Any]]:
        stmt = (select(SR.lat, SR.lon, SR.address, SR.service_code, SR.service_name,
                       SR.district_id, SR.status, SR.closed_at)
                .where(*in_period(SR.requested_at, period), *scope.conditions(),
                       SR.lat.is_not(None), SR.lon.is_not(None)))
        cells: dict[str, list[Any]] = {}
        for row in conn.execute(stmt):
            cells.setdefault(h3.latlng_to_cell(row.lat, row.lon, RESOLUTION), []).append(row)
        names = dict(conn.execute(select(District.id, District.name)).all())
        found = [_hotspot(cell, rows, names) for cell, rows in cells.items()
                 if len(rows) >= min_requests]
        found.sort(key=lambda h: (-h["requests"], -h["open"], h["place"]))
        return found[:limit]

    return cached(settings, "hotspots", {**scope.params(), "preset": preset,
                                         **period_params(period), "min": min_requests,
                                         "limit": limit}, compute, REQUESTS)
