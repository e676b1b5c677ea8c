"""The API's own indexed reads (what ``dashboard.queries`` has no read model for).

No personal data leaves here: service requests carry no citizen id, address or free
text, and their locations are rounded to ``PUBLISHED_DECIMALS`` (about 100 m).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from dashboard.model import (
    Asset,
    District,
    LatestReading,
    Observation,
    Service,
    ServiceRequest,
)

PUBLISHED_DECIMALS = 3  # ~100 m: the precision at which request locations are published
MAX_POINTS = 10_000
GRAIN_SECONDS = {"hour": 3600, "day": 86400}
REQUEST_FIELDS = ("id", "service_code", "service_name", "department", "status", "channel",
                  "requested_at", "updated_at", "closed_at", "expected_at", "district_id",
                  "lat", "lon")

def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _rounded(value: float | None) -> float | None:
    return round(value, PUBLISHED_DECIMALS) if value is not None else None


def district_features(conn: Connection) -> list[dict[str, Any]]:
    """Every district as a GeoJSON Feature (id, name, population, area_km2), by id."""
    stmt = select(District.id, District.name, District.population, District.area_km2,
                  District.geometry).order_by(District.id)
    return [
        {"type": "Feature", "id": i, "geometry": geometry,
         "properties": {"id": i, "name": name, "population": int(population or 0),
                        "area_km2": float(area or 0.0)}}
        for i, name, population, area, geometry in conn.execute(stmt)
    ]


def service_codes(conn: Connection) -> set[str]:
    """Codes of the service catalogue (small table)."""
    return set(conn.scalars(select(Service.service_code)))


def service_requests(
    conn: Connection, *, status: str | None, service: str | None, district: str | None,
    start: datetime | None, end: datetime | None, page: int, page_size: int,
) -> tuple[int, list[dict[str, Any]]]:
    """(total, one page) of requests, newest first, filtered on indexed columns only."""
    sr = ServiceRequest
    conditions = []
    if status:
        conditions.append(sr.status == status)
    if service:
        conditions.append(sr.service_code == service)
    if district:
        conditions.append(sr.district_id == district)
    if start is not None:
        conditions.append(sr.requested_at >= start)
    if end is not None:
        conditions.append(sr.requested_at <= end)
    total = conn.execute(select(func.count()).select_from(sr).where(*conditions)).scalar_one()
    columns = [getattr(sr, name) for name in REQUEST_FIELDS]
    stmt = (
        select(*columns).where(*conditions)
        .order_by(sr.requested_at.desc(), sr.id)
        .limit(page_size).offset((page - 1) * page_size)
    )
    items = []
    for row in conn.execute(stmt):
        item = dict(zip(REQUEST_FIELDS, row, strict=True))
        for key in ("requested_at", "updated_at", "closed_at", "expected_at"):
            item[key] = _iso(item[key])
        item["lat"], item["lon"] = _rounded(item["lat"]), _rounded(item["lon"])
        items.append(item)
    return int(total), items


def asset_pk(conn: Connection, asset_id: str) -> int | None:
    """The store key of the asset with this public id, if any."""
    return conn.execute(select(Asset.pk).where(Asset.id == asset_id)).scalar_one_or_none()


def has_metric(conn: Connection, pk: int, metric: str) -> bool:
    """Whether the asset has ever reported ``metric`` (one seek of ``latest_readings``)."""
    stmt = select(LatestReading.time).where(
        LatestReading.asset_pk == pk, LatestReading.metric == metric)
    return conn.execute(stmt).first() is not None


def observations(
    conn: Connection, pk: int, metric: str, start: int, end: int, grain: str
) -> tuple[list[dict[str, Any]], bool]:
    """(points, truncated): raw values or hour/day aggregates over [start, end] epoch s.

    Reads one primary-key range of ``observations`` (asset, metric, time); at most
    ``MAX_POINTS`` points, oldest first.
    """
    ob = Observation
    where = (ob.asset_pk == pk, ob.metric == metric, ob.time >= start, ob.time <= end)
    points: list[dict[str, Any]]
    if grain == "raw":
        stmt = select(ob.time, ob.value).where(*where).order_by(ob.time).limit(MAX_POINTS + 1)
        rows = conn.execute(stmt).all()
        points = [{"time": t, "value": v} for t, v in rows[:MAX_POINTS]]
        return points, len(rows) > MAX_POINTS
    size = GRAIN_SECONDS[grain]
    bucket = (ob.time - ob.time % size).label("bucket")
    aggregated = (
        select(bucket, func.count(), func.avg(ob.value), func.min(ob.value),
               func.max(ob.value))
        .where(*where).group_by(bucket).order_by(bucket).limit(MAX_POINTS + 1)
    )
    buckets = conn.execute(aggregated).all()
    points = [
        {"time": int(b), "count": int(n), "mean": float(m), "min": float(lo), "max": float(hi)}
        for b, n, m, lo, hi in buckets[:MAX_POINTS]
    ]
    return points, len(buckets) > MAX_POINTS
