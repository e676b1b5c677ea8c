"""Possible duplicates: a request that comes in while an open request of the same service
lies within ``DUPLICATE_METRES`` is marked as possibly repeating it (the nearest such), and
staff confirm or reject that from the request's page. Read through the service's index and
a box around the spot, then the exact distance."""
from __future__ import annotations

from sqlalchemy import Connection, select, update

from dashboard.auth.access import STAFF
from dashboard.auth.users import Principal
from dashboard.geo import box_around, metres_between
from dashboard.model import ServiceRequest as SR
from dashboard.queries.moderation import staff_request
from dashboard.settings import Settings
from dashboard.store import bump_data_version, get_engine

DUPLICATE_METRES = 50.0
SUSPECTED = "suspected"
DECISIONS = {"confirm": "confirmed", "reject": "rejected"}
DUPLICATE_STATES = {SUSPECTED: "Possible duplicate", "confirmed": "Duplicate (confirmed)",
                    "rejected": "Not a duplicate"}


def nearest_open_request(conn: Connection, service_code: str, lat: float | None,
                         lon: float | None, within: float = DUPLICATE_METRES
                         ) -> tuple[str, int] | None:
    """(id, metres) of the closest open request of ``service_code`` within ``within``
    metres of (lat, lon); None when there is none (or no location)."""
    if lat is None or lon is None:
        return None
    south, north, west, east = box_around(lat, lon, within)
    stmt = (select(SR.id, SR.lat, SR.lon)
            .where(SR.service_code == service_code, SR.status == "open",
                   SR.closed_at.is_(None), SR.lat.between(south, north),
                   SR.lon.between(west, east)))
    best: tuple[str, float] | None = None
    for request_id, r_lat, r_lon in conn.execute(stmt):
        if r_lat is None or r_lon is None:
            continue
        metres = metres_between(lat, lon, r_lat, r_lon)
        if metres <= within and (best is None or metres < best[1]):
            best = (str(request_id), metres)  # compared exactly, rounded once chosen
    return (best[0], round(best[1])) if best else None


def decide_duplicate(settings: Settings, who: Principal, request_id: str,
                     decision: str) -> str:
    """Staff confirm ("confirm") or reject ("reject") that a request repeats the one it was
    marked as possibly repeating; returns the new state. PermissionError, LookupError (no
    such request for them, or none marked) or ValueError; nothing is written then."""
    if who.role not in STAFF:
        raise PermissionError("only staff decide on duplicates")
    if decision not in DECISIONS:
        raise ValueError(f"unknown decision {decision!r}")
    with get_engine(settings.resolved_database_url).begin() as conn:
        row = staff_request(conn, who, request_id, SR.duplicate_of)
        if not row.duplicate_of:
            raise LookupError(f"request {request_id!r} is not marked as a possible duplicate")
        conn.execute(update(SR).where(SR.id == request_id)
                     .values(duplicate_state=DECISIONS[decision]))
        bump_data_version(conn, {"requests"})
    return DECISIONS[decision]
