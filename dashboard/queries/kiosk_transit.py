"""Read models of the public kiosk that follow live sensors: car parks and transit.

Like the domain pages (``dashboard.queries.domain``), the newest reading of each asset is
found through the observations' primary key (asset_pk, metric, time) by a correlated
``MAX(time)`` subquery: index seeks per asset, never a scan of the observations.
Everything returned is language neutral (numbers, ids, ISO UTC times) and anonymous.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Connection, and_, exists, func, or_, select

from dashboard.model import Asset, District, LatestReading
from dashboard.queries.base import cached
from dashboard.settings import Settings

PARKING_TYPE = "OffStreetParking"
STOP_TYPE = "GtfsStop"
VEHICLE_TYPE = "Vehicle"
PARKING_STALE_AFTER = timedelta(hours=2)
DELAY_WINDOW = timedelta(hours=1)
VEHICLE_WINDOW = timedelta(minutes=15)
LONGEST_STOPS = 5

LATEST = LatestReading.__table__


def minute_of(settings: Settings) -> datetime:
    """The settings' "now" to the minute: time-dependent results keep stable cache keys."""
    return settings.current_time().replace(second=0, microsecond=0)


def iso(epoch: int | None) -> str | None:
    """Epoch seconds as an ISO UTC time (None stays None)."""
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat() if epoch is not None else None


def latest_readings(metrics: list[str]) -> tuple[Any, dict[str, Any]]:
    """``assets`` LEFT JOIN the newest reading of each of ``metrics`` (one aliased
    ``latest_readings`` per metric, returned by metric name): one row per asset, one seek
    per asset and metric.
    """
    joined: Any = Asset.__table__
    aliases: dict[str, Any] = {}
    for n, metric in enumerate(metrics):
        reading = LATEST.alias(f"o{n}")
        joined = joined.outerjoin(reading, and_(reading.c.asset_pk == Asset.pk,
                                                reading.c.metric == metric))
        aliases[metric] = reading
    return joined, aliases


# ---- car parks ---------------------------------------------------------------------------

def _total(attributes: dict[str, Any], free: float | None, occupancy: float | None) -> int | None:
    total = attributes.get("totalSpotNumber")
    if isinstance(total, (int, float)) and not isinstance(total, bool) and total > 0:
        return int(total)
    if free is not None and occupancy is not None and 0 <= occupancy < 1:
        return int(round(free / (1 - occupancy)))
    return None


def _parking_rows(conn: Connection, now: int) -> list[dict[str, Any]]:
    joined, seen = latest_readings(["availableSpotNumber", "occupancy"])
    free_obs, occupancy_obs = seen["availableSpotNumber"], seen["occupancy"]
    stmt = (select(Asset.id, Asset.name, Asset.attributes, Asset.district_id,
                   District.name.label("district_name"), Asset.lat, Asset.lon,
                   free_obs.c.time.label("free_at"), free_obs.c.value.label("free"),
                   occupancy_obs.c.time.label("occupancy_at"),
                   occupancy_obs.c.value.label("occupancy"))
            .select_from(joined).outerjoin(District, District.id == Asset.district_id)
            .where(Asset.type == PARKING_TYPE))
    found = []
    for row in conn.execute(stmt):
        attributes = row.attributes or {}
        free_at = int(row.free_at) if row.free_at is not None else None
        free = float(row.free) if row.free is not None else None
        occupancy = float(row.occupancy) if row.occupancy is not None else None
        total = _total(attributes, free, occupancy)
        if free is None and total is not None and occupancy is not None:
            free, free_at = total * (1 - occupancy), int(row.occupancy_at)
        share = (1 - free / total) if free is not None and total else occupancy
        found.append({
            "id": row.id, "name": attributes.get("name") or row.name or row.id,
            "district_id": row.district_id, "district_name": row.district_name,
            "lat": row.lat, "lon": row.lon,
            "free": int(round(free)) if free is not None else None, "total": total,
            "occupancy": round(min(1.0, max(0.0, share)), 3) if share is not None else None,
            "as_of": iso(free_at),
            "stale": free_at is None or now - free_at > PARKING_STALE_AFTER.total_seconds(),
        })
    return found


def parking_now(settings: Settings) -> dict[str, Any]:
    """Every car park with its latest free spaces, most free first.

    Shape: ``{"as_of", "totals": {"free", "total", "sites"}, "sites": [{"id", "name",
    "district_id", "district_name", "lat", "lon", "free", "total", "occupancy" (0..1),
    "as_of", "stale"}]}``. A site is stale when its newest reading is older than 2 h (or it
    never reported); totals count fresh sites only.
    """
    now = minute_of(settings)

    def compute(conn: Connection) -> dict[str, Any]:
        sites = _parking_rows(conn, int(now.timestamp()))
        sites.sort(key=lambda s: (s["free"] is None, -(s["free"] or 0), s["name"].casefold()))
        fresh = [s for s in sites if not s["stale"] and s["free"] is not None]
        times = [s["as_of"] for s in fresh if s["as_of"]]
        return {"as_of": max(times) if times else None,
                "totals": {"free": sum(s["free"] for s in fresh),
                           "total": sum(s["total"] or 0 for s in fresh),
                           "sites": len(fresh)},
                "sites": sites}

    return cached(settings, "kiosk_parking", {"now": now.isoformat()}, compute)


# ---- transit -----------------------------------------------------------------------------

def route_key(route: str) -> tuple[Any, ...]:
    """Natural order of route names: L2 before L10, then letters."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p.casefold())
                 for p in re.findall(r"\d+|\D+", route))


def _routes(attributes: dict[str, Any]) -> list[str]:
    routes = attributes.get("routes")
    if isinstance(routes, list):
        return sorted({str(r) for r in routes if r not in (None, "")}, key=route_key)
    return []


def _vehicles_in_service(conn: Connection, since: int, since_dt: datetime) -> int:
    reported = exists().where(LATEST.c.asset_pk == Asset.pk, LATEST.c.time >= since)
    stmt = (select(func.count()).select_from(Asset)
            .where(Asset.type == VEHICLE_TYPE, or_(Asset.last_seen >= since_dt, reported)))
    return int(conn.execute(stmt).scalar_one())


def _by_route(stops: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[str, list[float]] = {}
    for stop in stops:
        for route in stop["routes"]:
            groups.setdefault(route, []).append(stop["delay_s"])
    return [{"route": route, "stops": len(delays),
             "mean_delay_s": round(sum(delays) / len(delays), 1),
             "max_delay_s": max(delays)}
            for route, delays in sorted(groups.items(), key=lambda item: route_key(item[0]))]


def transit_now(settings: Settings) -> dict[str, Any]:
    """Bus delays of the last hour per route, the most delayed stops, vehicles in service.

    Shape: ``{"available", "as_of", "stops_reporting", "mean_delay_s", "routes": [{"route",
    "stops", "mean_delay_s", "max_delay_s"}], "longest": [{"id", "name", "routes",
    "district_id", "delay_s", "as_of"}], "vehicles_in_service"}``; ``available`` is False
    when no stop reported a delay in the last hour and no vehicle in the last 15 minutes.
    """
    now = minute_of(settings)

    def compute(conn: Connection) -> dict[str, Any]:
        since = int((now - DELAY_WINDOW).timestamp())
        joined, seen = latest_readings(["delay"])
        delay = seen["delay"]
        stmt = (select(Asset.id, Asset.name, Asset.attributes, Asset.district_id,
                       delay.c.time, delay.c.value).select_from(joined)
                .where(Asset.type == STOP_TYPE, delay.c.time >= since))
        stops = []
        for row in conn.execute(stmt):
            attributes = row.attributes or {}
            stops.append({"id": row.id, "name": row.name or attributes.get("name") or row.id,
                          "routes": _routes(attributes), "district_id": row.district_id,
                          "delay_s": float(row.value), "as_of": iso(int(row.time))})
        vehicle_since = now - VEHICLE_WINDOW
        vehicles = _vehicles_in_service(conn, int(vehicle_since.timestamp()), vehicle_since)
        longest = sorted(stops, key=lambda s: (-s["delay_s"], s["name"]))[:LONGEST_STOPS]
        times = [s["as_of"] for s in stops]
        delays = [s["delay_s"] for s in stops]
        return {"available": bool(stops) or vehicles > 0,
                "as_of": max(times) if times else None,
                "stops_reporting": len(stops),
                "mean_delay_s": round(sum(delays) / len(delays), 1) if delays else None,
                "routes": _by_route(stops), "longest": longest,
                "vehicles_in_service": vehicles}

    return cached(settings, "kiosk_transit", {"now": now.isoformat()}, compute)
