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
from sqlalchemy import Connection, and_, case, func, select

from dashboard.geo import HOTSPOT_RESOLUTION
from dashboard.model import District
from dashboard.model import ServiceRequest as SR
from dashboard.periods import period_for
from dashboard.queries.base import REQUESTS, cached
from dashboard.queries.services import RequestScope, in_period, period_params
from dashboard.settings import Settings

RESOLUTION = HOTSPOT_RESOLUTION
MIN_REQUESTS = 3
LIMIT = 500  # the CSV's; the page shows the first few
HOTSPOT_FIELDS = ("place", "requests", "open", "services", "district_id", "district_name",
                  "lat", "lon", "cell")


def _details(conn: Connection, where: list[Any], cells: list[str]
             ) -> dict[str, tuple[Counter[str], Counter[str], Counter[str]]]:
    """{cell: (addresses, services, districts) counted} over the requests of ``cells`` (one
    read, through the index on cell and time)."""
    found = {cell: (Counter[str](), Counter[str](), Counter[str]()) for cell in cells}
    stmt = select(SR.h3_cell, SR.address, SR.service_name, SR.service_code,
                  SR.district_id).where(*where, SR.h3_cell.in_(cells))
    for cell, address, name, code, district in conn.execute(stmt):
        addresses, services, districts = found[str(cell)]
        if (address or "").strip():
            addresses[address.strip()] += 1
        services[name or code] += 1
        if district:
            districts[district] += 1
    return found


def _hotspot(cell: str, requests: int, still_open: int,
             details: tuple[Counter[str], Counter[str], Counter[str]],
             names: dict[str, str]) -> dict[str, Any]:
    lat, lon = h3.cell_to_latlng(cell)
    addresses, services, districts = details
    district = districts.most_common(1)[0][0] if districts else ""
    place = addresses.most_common(1)[0][0] if addresses else f"around {lat:.5f}, {lon:.5f}"
    return {"place": place, "requests": requests, "open": still_open,
            "services": ", ".join(f"{name} ({n})" for name, n in services.most_common(3)),
            "district_id": district, "district_name": names.get(district, "No district"),
            "lat": round(lat, 5), "lon": round(lon, 5), "cell": cell}


def count_hotspots(conn: Connection, scope: RequestScope, period: Any, *,
                   min_requests: int = MIN_REQUESTS, limit: int = LIMIT
                   ) -> list[dict[str, Any]]:
    """The hotspots of the requests of ``scope`` received in ``period``: the cells counted
    in the database (``service_requests.h3_cell``, kept at ingest), then the addresses,
    services and districts of those cells only; most requests first (then most open)."""
    where = [*in_period(SR.requested_at, period), *scope.conditions(), SR.h3_cell.is_not(None)]
    still_open = func.sum(case((and_(SR.closed_at.is_(None), SR.status != "closed"), 1),
                               else_=0))
    counted = conn.execute(
        select(SR.h3_cell, func.count(), still_open).where(*where)
        .group_by(SR.h3_cell).having(func.count() >= min_requests)
        .order_by(func.count().desc(), still_open.desc(), SR.h3_cell).limit(limit)).all()
    if not counted:
        return []
    names = dict(conn.execute(select(District.id, District.name)).all())
    cells = [str(cell) for cell, _n, _open in counted]
    details = _details(conn, where, cells)
    found = [_hotspot(str(cell), int(n), int(still or 0), details[str(cell)], names)
             for cell, n, still in counted]
    found.sort(key=lambda h: (-h["requests"], -h["open"], h["place"]))
    return found


def hotspots(settings: Settings, scope: RequestScope, preset: str, *,
             min_requests: int = MIN_REQUESTS, limit: int = LIMIT) -> list[dict[str, Any]]:
    """The hotspots of the requests of ``scope`` received in the period ``preset``, most
    requests first (then most open), at most ``limit`` (``count_hotspots``, cached)."""
    period = period_for(preset, settings.current_time())

    def compute(conn: Connection) -> list[dict[str, Any]]:
        return count_hotspots(conn, scope, period, min_requests=min_requests, limit=limit)

    return cached(settings, "hotspots", {**scope.params(), "preset": preset,
                                         **period_params(period), "min": min_requests,
                                         "limit": limit}, compute, REQUESTS)
