"""Read models of the service-requests page over time and space: the trend and the map.

Trend: requests received and closed per bucket of the period. The grain follows the
period (hours for 24 h, days for 7 and 30 days, weeks otherwise); buckets start at local
midnight / Monday 00:00 in the city's time zone (``settings.timezone``). SQL groups by
UTC hour (indexed range on requested_at / closed_at) and Python folds those hours into
local buckets, which is exact for time zones whose offset is a whole number of hours.

Map: the open requests of the scope as points (coordinates rounded to 4 decimals, about
10 m) when there are at most ``MAP_POINT_LIMIT``; above that, per-district aggregates.
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, case, func, select

from dashboard.geojson_transfer import FORMAT, encode
from dashboard.periods import Period, period_for
from dashboard.queries import district_outlines
from dashboard.queries.base import REQUESTS, cached
from dashboard.queries.services import (
    SR,
    RequestScope,
    in_period,
    period_params,
    snapshot_time,
)
from dashboard.settings import Settings

GRAINS = {"24h": "hour", "7d": "day", "30d": "day", "90d": "week", "12m": "week",
          "all": "week"}
GRAIN_LABELS = {"hour": "per hour", "day": "per day", "week": "per week (weeks start Monday)"}
MAP_POINT_LIMIT = 5000
PUBLISHED_DECIMALS = 4
HOUR = timedelta(hours=1)


def trend_grain(period: Period) -> str:
    """Hours up to two days, days up to a month, weeks beyond (custom ranges by length)."""
    if period.preset in GRAINS:
        return GRAINS[period.preset]
    length = period.length or timedelta(days=366)
    return "hour" if length <= timedelta(days=2) else "day" if length <= timedelta(days=31) \
        else "week"


def _zone(name: str) -> ZoneInfo | timezone:
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return timezone.utc


def hour_bucket(conn: Connection, column: Any) -> Any:
    """SQL expression: the UTC hour a datetime column falls in (SQLite and PostgreSQL)."""
    if conn.dialect.name == "sqlite":
        return func.strftime("%Y-%m-%d %H:00:00", column)
    return func.date_trunc("hour", column)


def as_utc(value: Any) -> datetime:
    """A stored time (SQLite text or a datetime, naive = UTC) as an aware UTC datetime."""
    moment: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def local_bucket(when: datetime, grain: str, zone: ZoneInfo | timezone) -> datetime:
    """Start (local, naive) of the hour / day / week that ``when`` falls in."""
    local = when.astimezone(zone).replace(tzinfo=None, minute=0, second=0, microsecond=0)
    if grain == "hour":
        return local
    day = local.replace(hour=0)
    return day if grain == "day" else day - timedelta(days=day.weekday())


def bucket_label(start: datetime, grain: str) -> str:
    """``2026-11-23 14:00`` for hours, ``2026-11-23`` for days and weeks."""
    return start.strftime("%Y-%m-%d %H:%M" if grain == "hour" else "%Y-%m-%d")


def request_trend(settings: Settings, scope: RequestScope, preset: str) -> dict[str, Any]:
    """Received and closed per local bucket of the period, every bucket listed (zeros too).

    ``{"grain", "grain_label", "timezone", "rows": [{"bucket", "received", "closed"}]}``.
    """
    period = period_for(preset, settings.current_time())
    grain = trend_grain(period)
    zone = _zone(settings.timezone)

    def compute(conn: Connection) -> dict[str, Any]:
        counts: dict[str, Counter[datetime]] = {}
        for name, column in (("received", SR.requested_at), ("closed", SR.closed_at)):
            hour = hour_bucket(conn, column)
            stmt = (select(hour, func.count())
                    .where(*in_period(column, period), *scope.conditions()).group_by(hour))
            tally: Counter[datetime] = Counter()
            for value, count in conn.execute(stmt):
                tally[local_bucket(as_utc(value), grain, zone)] += int(count)
            counts[name] = tally
        start = period.start
        if start is None:
            first = conn.execute(select(func.min(SR.requested_at))
                                 .where(*scope.conditions())).scalar()
            start = as_utc(first) if first is not None else None
        buckets: list[datetime] = []
        if start is not None:
            hour_start = start.replace(minute=0, second=0, microsecond=0)
            for step in range(int((period.end - hour_start) / HOUR)):
                key = local_bucket(hour_start + step * HOUR, grain, zone)
                if not buckets or buckets[-1] != key:
                    buckets.append(key)
        rows = [{"bucket": bucket_label(b, grain), "received": counts["received"][b],
                 "closed": counts["closed"][b]} for b in buckets]
        return {"grain": grain, "grain_label": GRAIN_LABELS[grain],
                "timezone": settings.timezone, "rows": rows}

    return cached(settings, "services_trend",
                  {**scope.params(), "preset": preset, **period_params(period),
                   "tz": settings.timezone}, compute, REQUESTS)


def district_shapes(settings: Settings) -> list[dict[str, Any]]:
    """Every district's id, name and GeoJSON geometry (the map's base layer)."""
    return [{"id": f["id"], "name": f["properties"]["name"], "geometry": f["geometry"]}
            for f in district_outlines(settings)["features"]]


def request_map(settings: Settings, scope: RequestScope, *,
                limit: int = MAP_POINT_LIMIT) -> dict[str, Any]:
    """Open requests of ``scope`` for the map, as points or as district aggregates.

    ``{"mode": "points" | "districts", "open", "overdue", "located", "limit",
    "points": FeatureCollection (points mode; else None), "districts": FeatureCollection
    of district polygons with ``open`` and ``overdue`` counts}``. Points carry id,
    service_code, service_name, district_id, requested_at, age_days and overdue (no
    citizen text, no personal data) and coordinates rounded to 4 decimals. Shared by
    every caller in the process: read it, never change it.
    """
    now = snapshot_time(settings)

    def compute(conn: Connection) -> dict[str, Any]:
        late = func.sum(case((SR.expected_at < now, 1), else_=0))
        per_district = {d or "": (int(n), int(o or 0)) for d, n, o in conn.execute(
            select(SR.district_id, func.count(), late)
            .where(SR.status == "open", *scope.conditions()).group_by(SR.district_id))}
        total = sum(n for n, _ in per_district.values())
        features = []
        for shape in district_shapes(settings):
            n, o = per_district.get(shape["id"], (0, 0))
            features.append({"type": "Feature", "id": shape["id"], "geometry": shape["geometry"],
                             "properties": {"id": shape["id"], "name": shape["name"],
                                            "open": n, "overdue": o}})
        result: dict[str, Any] = {
            "mode": "points" if total <= limit else "districts", "open": total,
            "overdue": sum(o for _, o in per_district.values()), "limit": limit,
            "unassigned": per_district.get("", (0, 0))[0], "points": None,
            "districts": {"type": "FeatureCollection", "features": features}}
        if result["mode"] == "points":
            result["points"] = _points(conn, scope, now)
        return result

    return cached(settings, "services_map", _map_params(scope, limit, now), compute,
                  REQUESTS, shared=True)  # up to 5,000 points: kept decoded per process


def _map_params(scope: RequestScope, limit: int, now: datetime) -> dict[str, Any]:
    """What the map of a scope is cached under, its points layer too."""
    return {**scope.params(), "limit": limit, "now": now.isoformat()}


def request_map_points(settings: Settings, scope: RequestScope, *,
                       limit: int = MAP_POINT_LIMIT) -> str | dict[str, Any] | None:
    """The open requests of ``request_map`` as the clustered map layer draws them (id,
    service as name, "<id> · open N days" as type, overdue/ok as status), encoded for the
    browser once per data version and kept decoded in each process (``shared``): a page
    or a live redraw sends it without building or encoding 5,000 points again. None when
    the map shows district counts instead."""
    def compute(_conn: Connection) -> str | dict[str, Any] | None:
        located = request_map(settings, scope, limit=limit)
        features = []
        for feature in (located.get("points") or {}).get("features", []):
            props = feature["properties"]
            features.append({"type": "Feature", "geometry": feature["geometry"],
                             "properties": {
                                 "id": props["id"], "name": props["service_name"],
                                 "type": f"{props['id']} · open {props['age_days']:.1f} days",
                                 "status": "overdue" if props["overdue"] else "ok"}})
        return encode({"type": "FeatureCollection", "features": features})

    return cached(settings, "services_map_points",
                  {**_map_params(scope, limit, snapshot_time(settings)), "format": FORMAT},
                  compute, REQUESTS, shared=True)


def _points(conn: Connection, scope: RequestScope, now: datetime) -> dict[str, Any]:
    stmt = (select(SR.id, SR.service_code, SR.service_name, SR.district_id, SR.requested_at,
                   SR.expected_at, SR.lat, SR.lon)
            .where(SR.status == "open", SR.lat.is_not(None), SR.lon.is_not(None),
                   *scope.conditions())
            .order_by(SR.requested_at, SR.id))
    features = []
    for rid, code, name, district, requested, due, lat, lon in conn.execute(stmt):
        assert lat is not None and lon is not None  # the query keeps located requests only
        features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [
            round(lon, PUBLISHED_DECIMALS), round(lat, PUBLISHED_DECIMALS)]}, "properties": {
            "id": rid, "service_code": code, "service_name": name or code,
            "district_id": district, "requested_at": requested.isoformat(),
            "age_days": round((now - requested).total_seconds() / 86400, 1),
            "overdue": due is not None and due < now}})
    return {"type": "FeatureCollection", "features": features}


def map_export(result: dict[str, Any]) -> dict[str, Any]:
    """The map's data as one FeatureCollection: the points, or the district aggregates."""
    shown: dict[str, Any] = (result["points"] if result["mode"] == "points"
                             and result["points"] is not None else result["districts"])
    return shown

