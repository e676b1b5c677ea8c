"""Noticeboard items (news and events) around the end of the demo data."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np

from dashboard.demo.config import CityConfig
from dashboard.demo.geography import District, assign_districts


def notice_rows(config: CityConfig, districts: list[District],
                end: datetime) -> list[dict[str, Any]]:
    """News published shortly before ``end`` and events running now or coming up.

    Times are whole hours (events at 10:00, 18:00 or 20:00 UTC), ids name the template and
    the day, so regenerating with the same end gives the same notices.
    """
    rows = []
    midnight = end.replace(hour=0, minute=0, second=0, microsecond=0)
    for index, spec in enumerate(config.notices):
        place = str(spec.get("place", ""))
        lon, lat = config.places.get(place, config.centre)
        inside = assign_districts(districts, np.array([lon]), np.array([lat]))[0]
        offset = timedelta(days=float(spec.get("offset_days", 0)))
        if spec["kind"] == "event":
            starts = midnight + offset + timedelta(hours=(10, 18, 20)[index % 3])
            ends = starts + timedelta(hours=float(spec.get("hours", 2)))
        else:
            starts = midnight + offset + timedelta(hours=9)
            ends = starts + timedelta(days=float(spec.get("days", 14)))
        rows.append({
            "id": f"notice-{index + 1:02d}-{starts:%Y%m%d}",
            "kind": spec["kind"],
            "title": dict(spec["title"]),
            "body": dict(spec["body"]),
            "starts_at": starts,
            "ends_at": ends,
            "place": place,
            "district_id": districts[int(inside)].id if inside >= 0 else None,
            "lat": lat,
            "lon": lon,
        })
    return rows
