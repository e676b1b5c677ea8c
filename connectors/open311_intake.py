"""Requests posted to the Open311 server stored the way every connector stores: through
``store_batch`` (the district from the location, plausible times, references checked,
the request rollups and data versions kept in step), stamped with source ``open311-server``.
The web app loads this module only when a request is posted (``app.py`` wires it)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select

from connectors.base import Mapped
from connectors.storing import store_batch
from dashboard.model import Citizen, RequestPhoto
from dashboard.settings import Settings
from dashboard.store import get_engine, unit_of_work

SOURCE_ID = "open311-server"
UNNAMED = "(no name given)"


def _keep_known(conn: Any, citizens: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A resident already on record keeps what this post left blank (name, e-mail, phone)."""
    ids = [c["id"] for c in citizens]
    known = {row.id: row._mapping for row in conn.execute(
        select(Citizen.id, Citizen.name, Citizen.email, Citizen.phone)
        .where(Citizen.id.in_(ids)))}
    merged = []
    for citizen in citizens:
        stored = known.get(citizen["id"])
        if stored is not None:
            citizen = {key: value if value and value != UNNAMED else stored[key]
                       for key, value in citizen.items()}
        merged.append(citizen)
    return merged


def store_posted(settings: Settings, rows: dict[str, list[dict[str, Any]]]) -> str | None:
    """Store one posted request (and its resident, and its photo in ``request_photos``,
    already cleaned by ``dashboard.photos``); the refusal's reason, or None."""
    engine = get_engine(settings.resolved_database_url)
    with unit_of_work(engine) as conn:
        citizens = _keep_known(conn, rows.get("citizens", []))
        mapped = Mapped(service_requests=rows["service_requests"], citizens=citizens)
        _, refused = store_batch(conn, settings, [(rows, mapped)], SOURCE_ID)
        if not refused and rows.get("request_photos"):
            conn.execute(insert(RequestPhoto), rows["request_photos"])
    return refused[0][1] if refused else None  # a refused record stored nothing
