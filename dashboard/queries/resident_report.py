"""What the public form ``/report`` reads: the services a resident may report (online ones,
by group, named in each language), a service's questions (its Open311 attributes), the
district a spot lies in, and whether the same problem is already reported close by.
Public: nothing here carries a resident's data or text."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from dashboard.geo import DistrictIndex
from dashboard.model import Service
from dashboard.model import ServiceRequest as SR
from dashboard.queries import district_outlines
from dashboard.queries.duplicates import nearest_open_request
from dashboard.queries.kiosk import service_catalogue
from dashboard.settings import Settings
from dashboard.store import get_engine


def report_services(settings: Settings) -> list[dict[str, Any]]:
    """The groups of services a resident may report online, each ``{group, group_name,
    services: [{code, name, department}]}``, names per language (``{lang: text}``)."""
    groups = []
    for group in service_catalogue(settings)["groups"]:
        services = [{"code": s["code"], "name": s["name"], "department": s["department"]}
                    for s in group["services"] if s["online"]]
        if services:
            groups.append({"group": group["group"], "group_name": group["group_name"],
                           "services": services})
    return groups


def service_questions(settings: Settings, code: str | None) -> list[dict[str, Any]]:
    """The questions (Open311 attribute definitions a resident answers: ``variable``) of
    service ``code``, in their order; [] for no such service or none asked."""
    if not code:
        return []
    with get_engine(settings.resolved_database_url).connect() as conn:
        found = conn.execute(select(Service.attributes)
                             .where(Service.service_code == code, Service.online)).first()
    asked = [dict(a) for a in (found.attributes if found else None) or []
             if isinstance(a, dict) and a.get("variable", True) and a.get("code")]
    return sorted(asked, key=lambda a: int(a.get("order") or 0))


def district_at(settings: Settings, lat: float, lon: float) -> dict[str, str] | None:
    """``{id, name}`` of the district containing the spot, or None (outside the city)."""
    outlines = district_outlines(settings)["features"]
    index = DistrictIndex.from_geojson([(f["id"], f["geometry"]) for f in outlines])
    found = index.assign([lat], [lon])[0]
    names = {f["id"]: f["properties"]["name"] for f in outlines}
    return {"id": found, "name": str(names[found])} if found else None


def already_reported(settings: Settings, code: str | None, lat: float | None,
                     lon: float | None) -> dict[str, Any] | None:
    """The open request of service ``code`` nearest the spot within the duplicate distance:
    ``{id, metres, requested_at}`` (what Open311 publishes anyway), or None."""
    if not code or lat is None or lon is None:
        return None
    with get_engine(settings.resolved_database_url).connect() as conn:
        nearest = nearest_open_request(conn, code, lat, lon)
        if nearest is None:
            return None
        since: datetime | None = conn.execute(
            select(SR.requested_at).where(SR.id == nearest[0])).scalar()
    return {"id": nearest[0], "metres": nearest[1], "requested_at": since}
