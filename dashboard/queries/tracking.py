"""Following a report (``/track/<token>``): what anyone holding the link may see of one
request, found by the token it was filed with or by its number. The same as Open311
publishes (``dashboard.api.open311_reads``): no resident, and no text they wrote before staff
approved it; plus the district's name, whether the text awaits review, and what staff
decided when it looked like a duplicate."""
from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select

from dashboard.api.open311_reads import find_requests
from dashboard.model import District
from dashboard.model import ServiceRequest as SR
from dashboard.queries.kiosk import names_of, source_language
from dashboard.settings import Settings
from dashboard.store import get_engine

APPROVED = "approved"
MAX_KEY = 100  # a token or a request number is never longer


def tracked_request(settings: Settings, key: str | None) -> dict[str, Any] | None:
    """The public view of the request whose token or number is ``key`` (None: none)."""
    key = (key or "").strip()
    if not key or len(key) > MAX_KEY:
        return None
    with get_engine(settings.resolved_database_url).connect() as conn:
        row = conn.execute(
            select(SR.id, SR.moderation, SR.duplicate_of, SR.duplicate_state, SR.closed_at,
                   SR.channel, District.name.label("district"))
            .outerjoin(District, District.id == SR.district_id)
            .where(or_(SR.token == key, SR.id == key)).limit(1)).first()
        if row is None:
            return None
        published = find_requests(conn, ids=[row.id], limit=1)
    if not published:
        return None
    item = published[0]
    return {**item, "service_names": names_of("services", item["service_code"],
                                              item["service_name"], source_language(settings)),
            "district": row.district, "closed_at": row.closed_at, "channel": row.channel,
            "text_pending": row.moderation != APPROVED,
            "duplicate_of": row.duplicate_of if row.duplicate_state == "confirmed" else None}
