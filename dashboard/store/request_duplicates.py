"""Possible duplicates among requests that arrive in a batch (a connector's run): each new
open request is marked as possibly repeating the nearest open request of the same service
within ``DUPLICATE_METRES`` that came in no later than it, stored already or earlier in
the same batch. One read of the open requests in the batch's box, then per service a
sort by latitude and a binary search, so a batch of thousands costs one query and
milliseconds, not a query per request. Requests already stored are left alone: a re-run
never undoes what staff decided."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import numpy as np
from sqlalchemy import Connection, bindparam, select, update

from dashboard.geo import box_around
from dashboard.model import ServiceRequest as SR
from dashboard.queries.duplicates import DUPLICATE_METRES, SUSPECTED

EARTH_METRES = 6_371_000.0


def _located_open(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if r.get("lat") is not None and r.get("lon") is not None
            and r.get("service_code") and (r.get("status") or "open") == "open"
            and not r.get("closed_at") and "duplicate_of" not in r]


def _metres(lat: float, lon: float, lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
    """Haversine distances from one point to many, in metres."""
    p1, p2 = np.radians(lat), np.radians(lats)
    a = (np.sin((p2 - p1) / 2) ** 2
         + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lons - lon) / 2) ** 2)
    metres: np.ndarray = 2 * EARTH_METRES * np.arcsin(np.sqrt(np.minimum(a, 1.0)))
    return metres


def _seconds(value: Any) -> float:
    """A moment as seconds since 1970 (UTC; a naive moment is taken as UTC)."""
    if not isinstance(value, datetime):
        return -np.inf
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()


def _stored(conn: Connection, located: list[dict[str, Any]], within: float
            ) -> list[tuple[str, str, float, float, float]]:
    """(id, service, lat, lon, seconds) of the open requests in the batch's box that came
    in no later than its last one; those before its first need no time (-inf): the
    common case reads no moment at all."""
    lats = [float(r["lat"]) for r in located]
    lons = [float(r["lon"]) for r in located]
    south, _, west, _ = box_around(min(lats), min(lons), within)
    _, north, _, east = box_around(max(lats), max(lons), within)
    moments = [r["requested_at"] for r in located if isinstance(r.get("requested_at"),
                                                                 datetime)]
    first, last = (min(moments, key=_seconds), max(moments, key=_seconds)) if moments \
        else (None, None)
    where = [SR.service_code.in_(sorted({str(r["service_code"]) for r in located})),
             SR.status == "open", SR.closed_at.is_(None), SR.lat.between(south, north),
             SR.lon.between(west, east)]
    columns = (SR.id, SR.service_code, SR.lat, SR.lon)
    if first is None:
        return [(r.id, r.service_code, r.lat or 0.0, r.lon or 0.0, -np.inf)
                for r in conn.execute(select(*columns).where(*where))]
    earlier = [(r.id, r.service_code, r.lat or 0.0, r.lon or 0.0, -np.inf)
               for r in conn.execute(select(*columns).where(*where, SR.requested_at <= first))]
    between = [(r.id, r.service_code, r.lat or 0.0, r.lon or 0.0, _seconds(r.requested_at))
               for r in conn.execute(select(*columns, SR.requested_at).where(
                   *where, SR.requested_at > first, SR.requested_at <= last))]
    return earlier + between  # lat and lon are never None here: the box requires them


def find_duplicates(conn: Connection, new_rows: Sequence[dict[str, Any]],
                    within: float = DUPLICATE_METRES) -> dict[str, str]:
    """{id of a new request: id of the open request it possibly repeats}."""
    located = _located_open(new_rows)
    if not located:
        return {}
    pool: dict[str, list[tuple[str, float, float, float]]] = {}
    for request_id, code, lat, lon, seconds in _stored(conn, located, within):
        pool.setdefault(code, []).append((request_id, lat, lon, seconds))
    asking: dict[str, list[dict[str, Any]]] = {}
    for r in located:
        code = str(r["service_code"])
        asking.setdefault(code, []).append(r)
        pool.setdefault(code, []).append((str(r["id"]), float(r["lat"]), float(r["lon"]),
                                          _seconds(r.get("requested_at"))))
    found: dict[str, str] = {}
    degrees = within / 111_000 * 1.01  # latitude degrees spanning ``within``
    for code, rows in asking.items():
        items = sorted(pool[code], key=lambda item: item[1])
        ids = np.array([item[0] for item in items], dtype=object)
        lat_arr = np.array([item[1] for item in items])
        lon_arr = np.array([item[2] for item in items])
        when = np.array([item[3] for item in items])
        for r in rows:
            lat, lon = float(r["lat"]), float(r["lon"])
            lo, hi = np.searchsorted(lat_arr, [lat - degrees, lat + degrees])
            near = np.arange(lo, hi)
            near = near[(ids[near] != r["id"]) & (when[near] <= _seconds(r.get("requested_at")))]
            if not len(near):
                continue
            metres = _metres(lat, lon, lat_arr[near], lon_arr[near])
            best = int(np.argmin(metres))
            if metres[best] <= within:
                found[str(r["id"])] = str(ids[int(near[best])])
    return found


def mark_duplicates(conn: Connection, found: dict[str, str]) -> None:
    """Mark each request of ``found`` as possibly repeating its match (one statement)."""
    if found:
        conn.execute(update(SR).where(SR.id == bindparam("b_id"))
                     .values(duplicate_of=bindparam("b_of"), duplicate_state=SUSPECTED),
                     [{"b_id": new, "b_of": old} for new, old in found.items()])
