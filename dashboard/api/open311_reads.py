"""What the Open311 GeoReport v2 server publishes: the service list, a service's
attribute definitions and service requests, in the standard's field names.

Published as open data, so a request carries no personal data: never the resident, and
what a resident wrote (description, address, status notes) only once a member of staff
approved it (``moderation = 'approved'``); locations are rounded to ~100 m as in
``/api/v1``. Request lists are read through the ``requested_at`` index, newest first.
A request's ``media_url`` is its resident's photo (``dashboard.api.media``), given only
once the request is approved.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection, select

from dashboard.api.reads import PUBLISHED_DECIMALS
from dashboard.model import RequestPhoto, Service, ServiceRequest

APPROVED = "approved"
REQUEST_FIELDS = ("service_request_id", "status", "status_notes", "service_name",
                  "service_code", "description", "agency_responsible", "service_notice",
                  "requested_datetime", "updated_datetime", "expected_datetime", "address",
                  "address_id", "zipcode", "lat", "long", "media_url")
SERVICE_FIELDS = ("service_code", "service_name", "description", "metadata", "type",
                  "keywords", "group")
MEDIA_PATH = "/open311/v2/media/{}.jpg"  # served by dashboard.api.media
ATTRIBUTE_FIELDS = ("variable", "code", "datatype", "required", "datatype_description",
                    "order", "description")


def _w3c(moment: datetime | None) -> str:
    return moment.isoformat() if moment is not None else ""


SERVICE_COLUMNS = (Service.service_code, Service.service_name, Service.description,
                   Service.group, Service.attributes)


def _service_item(row: Any) -> dict[str, Any]:
    return {"service_code": row.service_code, "service_name": row.service_name,
            "description": row.description or "", "metadata": bool(row.attributes),
            "type": "realtime", "keywords": "", "group": row.group or ""}


def service_list(conn: Connection) -> list[dict[str, Any]]:
    """Every service of the catalogue, by code, in the standard's fields."""
    rows = conn.execute(select(*SERVICE_COLUMNS).order_by(Service.service_code))
    return [_service_item(row) for row in rows]


def _attribute(raw: dict[str, Any], order: int) -> dict[str, Any]:
    item = {"variable": bool(raw.get("variable", True)), "code": str(raw.get("code", "")),
            "datatype": str(raw.get("datatype", "string")),
            "required": bool(raw.get("required", False)),
            "datatype_description": str(raw.get("datatype_description", "")),
            "order": int(raw.get("order", order)),
            "description": str(raw.get("description", ""))}
    values = raw.get("values") or []
    if values:
        item["values"] = [{"key": str(v.get("key", "")), "name": str(v.get("name", ""))}
                          for v in values if isinstance(v, dict)]
    return item


def service_definition(conn: Connection, code: str) -> dict[str, Any] | None:
    """``{service_code, attributes}`` of one service (None: no such service)."""
    service = conn.execute(select(*SERVICE_COLUMNS).where(Service.service_code == code)
                           ).first()
    if service is None:
        return None
    attributes = [_attribute(raw, n) for n, raw in enumerate(service.attributes or [], 1)
                  if isinstance(raw, dict)]
    return {"service_code": service.service_code,
            "attributes": sorted(attributes, key=lambda a: a["order"])}


def _published(text: str | None, moderation: str | None) -> str:
    return (text or "") if moderation == APPROVED else ""


def _rounded(value: float | None) -> float | str:
    return round(value, PUBLISHED_DECIMALS) if value is not None else ""


def media_url(base_url: str, request_id: str) -> str:
    """The URL of request ``request_id``'s public photo under ``base_url`` (the server's
    root URL, e.g. Flask's ``request.url_root``; "": a path from the root)."""
    return base_url.rstrip("/") + MEDIA_PATH.format(quote(request_id, safe=""))


def _media(row: Any, base_url: str) -> str:
    return media_url(base_url, row.id) if row.photo_id and row.moderation == APPROVED else ""


def request_item(row: Any, base_url: str = "") -> dict[str, Any]:
    """One request in the standard's fields, as published (see the module's docstring);
    ``media_url`` under ``base_url`` when the row has a photo (``photo_id``)."""
    return {"service_request_id": row.id, "status": row.status,
            "status_notes": _published(row.status_notes, row.moderation),
            "service_name": row.service_name or "", "service_code": row.service_code,
            "description": _published(row.description, row.moderation),
            "agency_responsible": row.department or "", "service_notice": "",
            "requested_datetime": _w3c(row.requested_at),
            "updated_datetime": _w3c(row.updated_at),
            "expected_datetime": _w3c(row.expected_at),
            "address": _published(row.address, row.moderation), "address_id": "",
            "zipcode": "", "lat": _rounded(row.lat), "long": _rounded(row.lon),
            "media_url": _media(row, base_url)}


REQUEST_COLUMNS = (ServiceRequest.id, ServiceRequest.status, ServiceRequest.status_notes,
                   ServiceRequest.service_name, ServiceRequest.service_code,
                   ServiceRequest.description, ServiceRequest.department,
                   ServiceRequest.requested_at, ServiceRequest.updated_at,
                   ServiceRequest.expected_at, ServiceRequest.address, ServiceRequest.lat,
                   ServiceRequest.lon, ServiceRequest.moderation)


def find_requests(conn: Connection, *, ids: Sequence[str] = (), codes: Sequence[str] = (),
                  statuses: Sequence[str] = (), start: datetime | None = None,
                  end: datetime | None = None, limit: int = 1000,
                  base_url: str = "") -> list[dict[str, Any]]:
    """Requests as published, newest first: those of ``ids`` (which override every other
    filter), or those requested in [start, end] of ``codes`` and ``statuses`` (any when
    empty), at most ``limit``; photo URLs under ``base_url`` (see ``media_url``)."""
    sr = ServiceRequest
    stmt = (select(*REQUEST_COLUMNS, RequestPhoto.request_id.label("photo_id"))
            .outerjoin(RequestPhoto, RequestPhoto.request_id == sr.id))
    if ids:
        stmt = stmt.where(sr.id.in_(list(ids)))
    else:
        if codes:
            stmt = stmt.where(sr.service_code.in_(list(codes)))
        if statuses:
            stmt = stmt.where(sr.status.in_(list(statuses)))
        if start is not None:
            stmt = stmt.where(sr.requested_at >= start)
        if end is not None:
            stmt = stmt.where(sr.requested_at <= end)
    stmt = stmt.order_by(sr.requested_at.desc(), sr.id).limit(limit)
    return [request_item(row, base_url) for row in conn.execute(stmt)]


def service_facts(conn: Connection, code: str) -> dict[str, Any] | None:
    """What a posted request of service ``code`` takes from it (None: no such service)."""
    row = conn.execute(select(Service.service_code, Service.service_name, Service.department,
                              Service.group, Service.sla_hours, Service.attributes,
                              Service.online)
                       .where(Service.service_code == code)).first()
    return dict(row._mapping) if row is not None else None


def request_of_token(conn: Connection, token: str) -> str | None:
    """The id of the request posted with ``token`` (through its unique index)."""
    found = conn.execute(select(ServiceRequest.id).where(ServiceRequest.token == token)).first()
    return str(found.id) if found is not None else None
