"""One service request as its own view: what was asked, where, by when (the SLA), what
happened since (a timeline of the times the store holds), and the asset it most likely
concerns (the nearest asset of the service's domain, when one is close enough).

The store keeps a request's current state, not every status change a source ever sent:
the timeline is made of the times it does keep (requested, last updated with its status
note, due, closed), each labelled for what it is.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from dashboard.geo import box_around, metres_between
from dashboard.links import asset_href
from dashboard.model import Asset, District, RequestPhoto, Service
from dashboard.model import ServiceRequest as SR
from dashboard.queries.base import ASSETS, REQUESTS, cached
from dashboard.settings import Settings

NEAR_METRES = 150.0  # an asset further than this from the request is not "its" asset


def _nearest_asset(conn: Connection, domain: str | None, lat: float | None,
                   lon: float | None) -> dict[str, Any] | None:
    """The closest located asset of ``domain`` within ``NEAR_METRES`` (a box first, so the
    database reads only the assets around the spot)."""
    if not domain or lat is None or lon is None:
        return None
    south, north, west, east = box_around(lat, lon, NEAR_METRES)
    stmt = (select(Asset.id, Asset.name, Asset.type, Asset.lat, Asset.lon)
            .where(Asset.domain == domain, Asset.lat.between(south, north),
                   Asset.lon.between(west, east)))
    best: dict[str, Any] | None = None
    for asset_id, name, kind, a_lat, a_lon in conn.execute(stmt):
        if a_lat is None or a_lon is None:
            continue
        metres = metres_between(lat, lon, a_lat, a_lon)
        if metres <= NEAR_METRES and (best is None or metres < best["metres"]):
            best = {"id": asset_id, "name": name or asset_id, "type": kind,
                    "href": asset_href(asset_id), "metres": round(metres)}
    return best


def _timeline(requested: datetime, updated: datetime | None, due: datetime | None,
              closed: datetime | None, notes: str, now: datetime) -> list[dict[str, Any]]:
    """The request's known moments, oldest first; a due time still ahead is ``planned``."""
    events: list[dict[str, Any]] = [{"what": "requested", "at": requested}]
    if updated is not None and updated != requested and updated != closed:
        events.append({"what": "updated", "at": updated, "note": notes or ""})
    if due is not None:
        events.append({"what": "due", "at": due, "planned": due > now and closed is None})
    if closed is not None:
        events.append({"what": "closed", "at": closed, "note": notes or ""})
    events.sort(key=lambda e: e["at"])
    return [{**e, "at": e["at"].isoformat()} for e in events]


def _sla(requested: datetime, due: datetime | None, closed: datetime | None,
         now: datetime) -> dict[str, Any]:
    """Due or not, met or missed (for a closed request), overdue or not (for an open one),
    by how many hours, and how long the request took or has waited."""
    end = closed or now
    taken = (end - requested).total_seconds() / 3600
    if due is None:
        return {"state": "no due time", "hours_late": None, "hours": taken}
    late = (end - due).total_seconds() / 3600
    if closed is not None:
        state = "missed" if late > 0 else "met"
    else:
        state = "overdue" if late > 0 else "on time"
    return {"state": state, "hours_late": late, "hours": taken}


def request_detail(settings: Settings, request_id: str,
                   departments: Sequence[str] | None = None) -> dict[str, Any] | None:
    """The request ``request_id`` for its own page, or None when there is no such request
    or it belongs to none of ``departments`` (None: any department).

    Shape: {"id", "service_code", "service_name", "group", "department", "domain",
    "description", "status", "open", "status_notes", "channel", "requested_at",
    "updated_at", "closed_at", "expected_at", "sla_hours", "sla": {...}, "timeline": [...],
    "moderation" (None, "pending", "approved" or "rejected"), "duplicate_of",
    "duplicate_state" (None, "suspected", "confirmed" or "rejected"),
    "address", "lat", "lon", "district_id", "district_name", "asset": {...} | None,
    "photo": {"width", "height"} | None (the resident's photo, for staff)}.
    """
    now = settings.current_time()

    def compute(conn: Connection) -> dict[str, Any] | None:
        row = conn.execute(
            select(*SR.__table__.columns, Service.sla_hours, Service.domain,
                   Service.group.label("service_group"), District.name.label("district_name"),
                   RequestPhoto.width.label("photo_width"),
                   RequestPhoto.height.label("photo_height"))
            .outerjoin(Service, Service.service_code == SR.service_code)
            .outerjoin(RequestPhoto, RequestPhoto.request_id == SR.id)
            .outerjoin(District, District.id == SR.district_id)
            .where(SR.id == request_id)).first()
        if row is None:
            return None
        sr = row._mapping
        if departments is not None and sr["department"] not in departments:
            return None
        sla_hours, domain, group, district_name = (
            sr["sla_hours"], sr["domain"], sr["service_group"], sr["district_name"])
        return {
            "id": sr["id"], "service_code": sr["service_code"],
            "service_name": sr["service_name"] or sr["service_code"], "group": group or "",
            "department": sr["department"], "domain": domain, "description": sr["description"],
            "status": sr["status"], "open": sr["closed_at"] is None and sr["status"] != "closed",
            "status_notes": sr["status_notes"], "channel": sr["channel"],
            "moderation": sr["moderation"], "duplicate_of": sr["duplicate_of"],
            "duplicate_state": sr["duplicate_state"],
            "requested_at": sr["requested_at"].isoformat(),
            "updated_at": sr["updated_at"].isoformat() if sr["updated_at"] else None,
            "closed_at": sr["closed_at"].isoformat() if sr["closed_at"] else None,
            "expected_at": sr["expected_at"].isoformat() if sr["expected_at"] else None,
            "sla_hours": sla_hours,
            "sla": _sla(sr["requested_at"], sr["expected_at"], sr["closed_at"], now),
            "timeline": _timeline(sr["requested_at"], sr["updated_at"], sr["expected_at"],
                                  sr["closed_at"], sr["status_notes"], now),
            "address": sr["address"], "lat": sr["lat"], "lon": sr["lon"],
            "district_id": sr["district_id"], "district_name": district_name,
            "asset": _nearest_asset(conn, domain, sr["lat"], sr["lon"]),
            "photo": ({"width": sr["photo_width"], "height": sr["photo_height"]}
                      if sr["photo_width"] else None),
        }

    params = {"id": request_id, "departments": sorted(departments) if departments is not None
              else None, "minute": int(now.timestamp()) // 60}
    return cached(settings, "request_detail", params, compute, (*REQUESTS, *ASSETS))
