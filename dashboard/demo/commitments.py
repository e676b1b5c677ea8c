"""The demo city's commitments: ``data/commitments.example.yaml``, its dates moved so that
its ``as_of`` day is the demo's last day, written as staff would have kept them: a few
updates a month apart, so each has some progress history."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import Connection, func, select

from dashboard.auth import ADMIN
from dashboard.auth.users import Principal
from dashboard.commitments import kpi_ids, write_commitment
from dashboard.model import Commitment
from dashboard.queries.kiosk import source_language
from dashboard.settings import DATA_DIR, Settings

EXAMPLE_FILE = DATA_DIR / "commitments.example.yaml"
DEMO_STAFF = Principal("citylens-demo", ADMIN)
UPDATES = 5  # monthly updates before the last one, where the commitment had started
MONTH = timedelta(days=30)


def _moved(item: dict[str, Any], days: timedelta) -> dict[str, Any]:
    """``item`` with every date ``days`` later."""
    def move(value: Any) -> str | None:
        return (date.fromisoformat(str(value)) + days).isoformat() if value else None

    return {**item, "starts_on": move(item["starts_on"]), "ends_on": move(item["ends_on"]),
            "milestones": [{**m, "due": move(m["due"]), "done_on": move(m.get("done_on"))}
                           for m in item.get("milestones") or []]}


def _as_at(item: dict[str, Any], share: float, when: datetime) -> dict[str, Any]:
    """``item`` as it stood at ``when``, ``share`` (0..1) of the way to its final state."""
    percent = round(item["percent_complete"] * share / 5) * 5
    spent = item.get("spent_eur")
    return {**item, "percent_complete": percent, "note": "",
            "status": "under_way" if percent else "planned",
            "spent_eur": round(spent * share, -3) if spent else spent,
            "milestones": [{**m, "done_on": m["done_on"] if m["done_on"]
                            and m["done_on"] <= when.date().isoformat() else None}
                           for m in item["milestones"]]}


def add_demo_commitments(conn: Connection, settings: Settings, end: datetime) -> int:
    """Write the example commitments with their history up to ``end`` (the demo's last
    hour), unless the store already has commitments (a demo topped up keeps its own).
    Returns how many were written."""
    if conn.execute(select(func.count()).select_from(Commitment)).scalar_one():
        return 0
    with open(EXAMPLE_FILE, encoding="utf-8") as handle:
        example = yaml.safe_load(handle)
    zone = ZoneInfo(settings.timezone)
    last_day = end.astimezone(zone).date()
    days = last_day - date.fromisoformat(str(example["as_of"]))
    source, known = source_language(settings), kpi_ids(settings)
    for raw in example["commitments"]:
        item = _moved(raw, days)
        start = datetime.combine(date.fromisoformat(item["starts_on"]), time(9), zone)
        final = end - timedelta(days=1)
        if item["status"] == "done":
            final = min(final, datetime.combine(date.fromisoformat(item["ends_on"]),
                                                time(12), zone).astimezone(timezone.utc))
        steps = [final - MONTH * k for k in range(UPDATES, 0, -1)
                 if final - MONTH * k > start and item["percent_complete"]]
        for when in steps:
            share = (when - start) / (final - start)
            write_commitment(conn, DEMO_STAFF, _as_at(item, share, when), when, source, known)
        write_commitment(conn, DEMO_STAFF, item, final, source, known)
    return len(example["commitments"])
