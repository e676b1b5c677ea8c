"""Read models of the city's commitments (``dashboard.commitments`` writes them): the
public page, the kiosk's slide and the staff page read the same list.

Each commitment comes with its progress history, its next milestone, whether it is late
(past its planned end, or a milestone past due, and not done) and the current values of
its linked KPIs (the overview's KPI table, for its district or else the city). Public:
who last changed a commitment is left out (the audit log has it).
"""
from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, or_, select

from dashboard.kpis.scoring import target_status
from dashboard.model import Commitment, District
from dashboard.model import CommitmentProgress as Progress
from dashboard.queries import kpi_table
from dashboard.queries.base import COMMITMENTS, cached
from dashboard.queries.kiosk import names_of, source_language
from dashboard.settings import Settings
from dashboard.queries.places import in_place

KPI_WINDOW = "month"  # the window of the linked KPIs' current values
KIOSK_LIMIT = 4
OPEN = ("under_way", "delayed", "planned")  # the order they are listed in; then the others
ORDER = {status: n for n, status in enumerate((*OPEN, "done", "cancelled"))}


def _stored(conn: Connection, district: str | None, department: str | None
            ) -> list[dict[str, Any]]:
    """The commitments (a district's own and the city-wide ones, or all), with history."""
    c = Commitment
    stmt = (select(c.id, c.title, c.summary, c.department, c.district_id, District.name,
                   c.budget_eur, c.spent_eur, c.starts_on, c.ends_on, c.status,
                   c.percent_complete, c.kpis, c.milestones, c.updated_at)
            .outerjoin(District, District.id == c.district_id).order_by(c.ends_on, c.id))
    if district:
        stmt = stmt.where(or_(in_place(c.district_id, district), c.district_id.is_(None)))
    if department:
        stmt = stmt.where(c.department == department)
    found = [{"id": cid, "title": title, "summary": summary or {}, "department": dep,
              "district_id": did, "district_name": dname, "budget_eur": budget,
              "spent_eur": spent, "starts_on": starts.isoformat(), "ends_on": ends.isoformat(),
              "status": status, "percent_complete": percent, "kpis": list(kpis or []),
              "milestones": list(milestones or []), "updated_at": updated.isoformat(),
              "history": []}
             for cid, title, summary, dep, did, dname, budget, spent, starts, ends, status,
             percent, kpis, milestones, updated in conn.execute(stmt)]
    by_id = {item["id"]: item for item in found}
    if by_id:
        rows = conn.execute(select(Progress.commitment_id, Progress.at,
                                   Progress.percent_complete, Progress.status, Progress.note)
                            .where(Progress.commitment_id.in_(list(by_id)))
                            .order_by(Progress.commitment_id, Progress.at))
        for cid, at, percent, status, note in rows:
            by_id[cid]["history"].append({"at": at.isoformat(), "percent_complete": percent,
                                          "status": status, "note": note})
    return found


def lateness(item: dict[str, Any], today: date) -> dict[str, Any]:
    """The next milestone not done, and whether the commitment is late on ``today``:
    past its planned end, or a milestone past due, while neither done nor cancelled."""
    pending = [m for m in item["milestones"] if not m.get("done_on")]
    settled = item["status"] in ("done", "cancelled")
    overdue = [] if settled else [m for m in pending if m["due"] < today.isoformat()]
    past_end = not settled and item["ends_on"] < today.isoformat()
    return {"next_milestone": pending[0] if pending and not settled else None,
            "late": past_end or bool(overdue), "past_end": past_end,
            "overdue_milestones": len(overdue)}


def _kpi_values(kpis: list[str], district: str | None,
                places: dict[str, Any]) -> list[dict[str, Any]]:
    """Value, unit and target status of each KPI, for ``district`` when it has a value,
    else for the city."""
    found = []
    for kpi_id in kpis:
        here = next((k for k in (places.get(district or "") or {}).get("kpis", [])
                     if k["id"] == kpi_id and k["value"] is not None), None)
        city = next((k for k in (places.get("") or {}).get("kpis", []) if k["id"] == kpi_id),
                    None)
        chosen = here or city
        if chosen is None:
            continue
        found.append({"id": kpi_id, "name": chosen["name"], "unit": chosen["unit"],
                      "decimals": chosen["decimals"], "value": chosen["value"],
                      "status": target_status(chosen["score"]),
                      "place": "district" if here is not None and district else "city"})
    return found


def local_today(settings: Settings) -> date:
    """Today in the city's time zone (at the settings' "now")."""
    return settings.current_time().astimezone(ZoneInfo(settings.timezone)).date()


def commitments_for(settings: Settings, district: str | None, department: str | None = None,
                    *, with_kpis: bool = True) -> list[dict[str, Any]]:
    """The commitments of ``district`` and the city-wide ones (every one for None), of
    one ``department`` or all: under way first, then delayed, planned, done, cancelled;
    a district's own before the city's; then by planned end.

    Each: the stored fields (``title``/``summary``/milestone titles ``{lang: text}``,
    dates ISO) plus ``department_name`` ({lang: text}), ``history`` ([{at,
    percent_complete, status, note}], oldest first), ``next_milestone``, ``late``,
    ``past_end``, ``overdue_milestones`` and, ``with_kpis``, ``kpi_values`` ([{id, name,
    unit, decimals, value, status, place}]).
    """
    found = cached(settings, "commitments", {"district": district, "department": department},
                   lambda conn: _stored(conn, district, department), COMMITMENTS)
    today, source = local_today(settings), source_language(settings)
    places = kpi_table(settings, KPI_WINDOW)["places"] if with_kpis and any(
        item["kpis"] for item in found) else {}
    shown = []
    for item in found:
        extra = {"department_name": names_of("departments", item["department"],
                                             item["department"], source),
                 **lateness(item, today)}
        if with_kpis:
            extra["kpi_values"] = _kpi_values(item["kpis"], item["district_id"], places)
        shown.append({**item, **extra})
    return sorted(shown, key=lambda c: (ORDER.get(c["status"], len(ORDER)),
                                        c["district_id"] is None, c["ends_on"], c["id"]))


def kiosk_commitments(settings: Settings, district: str | None,
                      limit: int = KIOSK_LIMIT) -> list[dict[str, Any]]:
    """Up to ``limit`` commitments of a kiosk's district and the city (none cancelled),
    with only what its slide shows: no history, no KPIs, nobody's name."""
    keys = ("id", "title", "department_name", "district_id", "district_name", "status",
            "percent_complete", "ends_on", "late", "next_milestone")
    return [{k: item[k] for k in keys}
            for item in commitments_for(settings, district, with_kpis=False)
            if item["status"] != "cancelled"][:limit]
