"""The briefing's sections on what is happening now: alerts raised and cleared in the
period and still active, service requests overdue against their SLA by department, and
feeds that are stale or failing. Read from the pages' read models; aggregates and the
names of assets, departments and districts only."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from dashboard.feed_health import feed_health
from dashboard.i18n import text_in
from dashboard.links import asset_href
from dashboard.periods import Period
from dashboard.queries.alerts import alert_counts, alert_rows
from dashboard.queries.briefing_reads import alerts_cleared
from dashboard.queries.services import RequestScope, breakdowns, summary_for
from dashboard.settings import Settings

ACTIVE_LISTED = 10  # alerts still active listed, most severe first
REQUEST_PRESET = {"daily": "24h", "weekly": "7d", "monthly": "30d"}
FAILING = ("failed", "interrupted")


def local_day(moment: datetime, tz: str) -> date:
    """The local date of ``moment`` in ``tz``."""
    return moment.astimezone(ZoneInfo(tz)).date()


def local_midnight(day: date, tz: str) -> datetime:
    """``day``'s local midnight in ``tz``, as an aware UTC datetime."""
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz)).astimezone(timezone.utc)


def link_query(**params: str | None) -> str:
    """``?a=1&b=2`` of the params that have a value; empty when none has."""
    found = {k: v for k, v in params.items() if v}
    return "?" + urlencode(found, safe="/:") if found else ""


def span_query(start_iso: str, end_iso: str, tz: str) -> dict[str, Any]:
    """A span ``[start, end)`` as the pages' links write it: local first and last day,
    ``period`` (local days, the overview's) and ``from``/``to`` (UTC, the other pages')."""
    start, end = datetime.fromisoformat(start_iso), datetime.fromisoformat(end_iso)
    first, last = local_day(start, tz), local_day(end - timedelta(seconds=1), tz)

    def utc(moment: datetime) -> str:
        return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%MZ")

    return {"days": {"first_day": first.isoformat(), "last_day": last.isoformat()},
            "period": f"{first.isoformat()}/{last.isoformat()}",
            "from": utc(start), "to": utc(end)}


def _bounds(period: Period, tz: str) -> dict[str, Any]:
    assert period.start is not None  # a briefing's period always has a start
    return span_query(period.start.isoformat(), period.end.isoformat(), tz)


def _alert(row: dict[str, Any], lang: str) -> dict[str, Any]:
    return {"id": row["id"], "severity": row["severity"], "asset_id": row["asset_id"],
            "asset_name": row["asset_name"], "domain": row["domain"],
            "rule": text_in(row["rule_text"], lang), "value": row["display_value"],
            "unit": row["display_unit"], "raised_at": row["raised_at"],
            "district_id": row["district_id"], "district_name": row["district_name"],
            "link": asset_href(row["asset_id"])}


def alerts_section(settings: Settings, period: Period, domains: set[str] | None,
                   districts: list[str], names: dict[str, str], lang: str,
                   department: str | None) -> dict[str, Any]:
    """Alerts raised and cleared in ``period`` and active now, by severity; the ten most
    severe still active; per district of ``districts`` too (of ``domains`` only, when a
    department's)."""
    counts = alert_counts(settings, period, domains=domains)
    cleared = alerts_cleared(settings, period, domains=domains)
    listed = alert_rows(settings, period, state="active", domains=domains, limit=ACTIVE_LISTED)
    span = _bounds(period, settings.timezone)
    by_district = []
    for district in districts:
        there = alert_counts(settings, period, district=district, domains=domains)
        by_district.append({
            "id": district, "name": names.get(district, district), "raised": there["raised"],
            "active": there["active"],
            "link": "/alerts" + link_query(district=district, department=department,
                                           **{"from": span["from"], "to": span["to"]})})
    return {"raised": counts["raised"], "cleared": cleared, "active": counts["active"],
            "raised_total": sum(counts["raised"].values()),
            "cleared_total": sum(cleared.values()),
            "active_total": sum(counts["active"].values()),
            "still_active": [_alert(r, lang) for r in listed["rows"]],
            "districts": by_district,
            "link": "/alerts" + link_query(state="raised", department=department,
                                           **{"from": span["from"], "to": span["to"]}),
            "active_link": "/alerts" + link_query(state="active", department=department)}


def _backlog(open_now: int, overdue: int) -> dict[str, Any]:
    return {"open": open_now, "overdue": overdue,
            "share": overdue / open_now if open_now else None}


def requests_section(settings: Settings, period: Period, frequency: str,
                     departments: list[str], districts: list[str],
                     names: dict[str, str]) -> dict[str, Any]:
    """Open and overdue requests now by department (``services.breakdowns``), with the
    share overdue; received and closed in ``period``; per district of ``districts``.
    Only ``departments``' requests when given."""
    scopes = [RequestScope(department=d) for d in departments] or [RequestScope()]
    rows, totals = [], dict.fromkeys(("open", "overdue", "received", "closed"), 0)
    for scope in scopes:
        for row in breakdowns(settings, scope, REQUEST_PRESET[frequency])["department"]:
            if row["open"] or row["overdue"]:
                rows.append({"id": row["id"], "name": row["name"] or None,
                             **_backlog(row["open"], row["overdue"]),
                             "link": "/services" + link_query(department=row["id"])})
        summary = summary_for(settings, scope, period)
        for key in totals:
            totals[key] += summary[key]
    rows.sort(key=lambda r: (-r["overdue"], -(r["share"] or 0), (r["name"] or "").casefold()))
    by_district = []
    for district in districts:
        found = [summary_for(settings, RequestScope(district=district, department=s.department),
                             period) for s in scopes]
        by_district.append({"id": district, "name": names.get(district, district),
                            **_backlog(sum(f["open"] for f in found),
                                       sum(f["overdue"] for f in found)),
                            "link": "/services" + link_query(
                                district=district, department=scopes[0].department)})
    span = _bounds(period, settings.timezone)
    return {**_backlog(totals["open"], totals["overdue"]), "received": totals["received"],
            "closed": totals["closed"], "by_department": rows, "districts": by_district,
            "link": "/services" + link_query(department=scopes[0].department,
                                             **{"from": span["from"], "to": span["to"]})}


def feeds_section(settings: Settings) -> dict[str, Any]:
    """The enabled feeds that are stale or failing now (``feed_health``), failing first,
    then the furthest behind; never a source's location or error text."""
    sources = [s for s in feed_health(settings) if s["enabled"]]
    problems = [s for s in sources if s["stale"] or s["status"] in FAILING]
    problems.sort(key=lambda s: (s["status"] not in FAILING,
                                 -(s["lag_seconds"] if s["lag_seconds"] is not None
                                   else float("inf")), s["id"]))
    return {"total": len(sources), "link": "/feeds",
            "problems": [{"id": s["id"], "kind": s["kind"], "status": s["status"],
                          "stale": s["stale"], "lag_seconds": s["lag_seconds"],
                          "newest_data": s["newest_data"], "last_started": s["last_started"],
                          "link": "/feeds" + link_query(source=s["id"])} for s in problems]}
