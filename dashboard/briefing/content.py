"""The briefing's content, read from the pages' own read models and scoped as the user's
pages are: the city score for day, week, month and quarter (Boston's CityScore layout),
the best, worst and most changed KPIs, alerts, overdue requests and feeds.

The KPI windows end where the briefing's period ends (the last whole day, ISO week or
calendar month before ``now``, in the city's time zone), so a briefing reads the same
whenever it is built: ``citylens kpis --json`` with ``CITYLENS_NOW`` one second before the
period's end gives the same figures. What is true *now* (alerts still active, requests
overdue, feeds behind) is read at ``now``. Only aggregates, KPI values and the names of
assets, departments and districts: never a resident's personal data.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

from dashboard import queries
from dashboard.auth import ADMIN, DEPARTMENT_HEAD, OFFICIAL
from dashboard.auth.access import department_scope
from dashboard.auth.users import Principal
from dashboard.briefing import FREQUENCIES
from dashboard.briefing.formats import day_span, day_text
from dashboard.briefing.sections import (
    alerts_section,
    feeds_section,
    link_query,
    local_day,
    local_midnight,
    requests_section,
    span_query,
)
from dashboard.i18n import choose_language, text_in
from dashboard.kpis import load_kpis
from dashboard.kpis.definitions import KpiDefinition
from dashboard.kpis.scoring import city_score, kpi_score, score_change, target_status
from dashboard.periods import CUSTOM, Period
from dashboard.queries.departments import (
    counts_requests,
    department_domains,
    department_options,
)
from dashboard.settings import Settings

WINDOWS = ("day", "week", "month", "quarter")
FREQUENCY_WINDOW = {"daily": "day", "weekly": "week", "monthly": "month"}
TOP = 5  # best, worst and most changed KPIs listed


def briefing_period(frequency: str, now: datetime, tz: str) -> tuple[date, date]:
    """The first and last local day the briefing covers: yesterday, last ISO week (Monday
    to Sunday) or last calendar month, before ``now`` in ``tz``."""
    today = local_day(now, tz)
    if frequency == "daily":
        return today - timedelta(days=1), today - timedelta(days=1)
    if frequency == "weekly":
        monday = today - timedelta(days=today.weekday() + 7)
        return monday, monday + timedelta(days=6)
    last = today.replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last


def _period_label(frequency: str, first: date, last: date, lang: str) -> str:
    if frequency == "daily":
        return day_text(first, lang)
    if frequency == "monthly":
        return day_text(first, lang, "month")
    return day_span(first, last, lang)


def _scope(settings: Settings, who: Principal) -> tuple[list[str], list[str]]:
    """(departments, districts) of the briefing: none (the whole city) for officials and
    admins; a department head's own (``access.department_scope``: PermissionError for a
    head bound to no department), known to the store."""
    if who.role in (OFFICIAL, ADMIN):
        return [], []
    if who.role != DEPARTMENT_HEAD:
        raise PermissionError(f"briefings are for staff, not the role {who.role!r}")
    department_scope(who, None)  # refuses a head bound to no department
    known = {d["id"] for d in department_options(settings)}
    departments = [d for d in who.departments if d in known]
    if not departments:
        raise PermissionError("this department head is bound to no known department")
    districts = {d["id"] for d in queries.district_options(settings)}
    return departments, [d for d in who.districts if d in districts]


def _kpi_places(settings: Settings, window: str, departments: list[str],
                definitions: dict[str, KpiDefinition]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Every place's KPI dicts over ``window`` (``queries.kpi_table``), each with a
    ``key`` and ``department``: for several departments merged by id, but a request or
    case KPI kept once per department (each counts that department's own requests)."""
    tables = ([queries.kpi_table(settings, window, d) for d in departments]
              or [queries.kpi_table(settings, window)])
    merged: dict[str, dict[str, dict[str, Any]]] = {}
    owners: list[str | None] = [*departments] or [None]
    for department, table in zip(owners, tables, strict=True):
        for place, data in table["places"].items():
            entries = merged.setdefault(place, {})
            for kpi in data["kpis"]:
                definition = definitions.get(kpi["id"])
                own = len(departments) > 1 and definition is not None and counts_requests(
                    definition)
                key = f"{kpi['id']}@{department}" if own else kpi["id"]
                entries.setdefault(key, {**kpi, "key": key,
                                         "department": department if own else None})
    places = {place: list(entries.values()) for place, entries in merged.items()}
    return places, tables[0]


def _score(kpis: list[dict[str, Any]]) -> dict[str, Any]:
    """The CityScore of some KPI dicts, its previous value and like-for-like change
    (``queries.kpi_table``'s arithmetic), its status and how many KPIs it counts."""
    now = [k["score"] for k in kpis]
    before = [kpi_score(k["previous"], k["target"], k["direction"]) for k in kpis]
    value = city_score(now)
    return {"score": value, "previous": city_score(before),
            "change": score_change(zip(now, before, strict=True)),
            "status": target_status(value), "kpis_scored": sum(s is not None for s in now),
            "kpis_total": len(kpis),
            "kpis_partial": sum(1 for k in kpis if k["score"] is not None
                                and (k.get("coverage") or {}).get("partial"))}


def _kpi_item(kpi: dict[str, Any], lang: str, link: str) -> dict[str, Any]:
    """One KPI as the briefing lists it (its name in ``lang``; a department's own request
    KPI named with its department)."""
    name = text_in(kpi["name"], lang)
    if kpi.get("department"):
        name = f"{name} · {kpi['department']}"
    return {"key": kpi["key"], "id": kpi["id"], "name": name, "domain": kpi["domain"],
            "unit": kpi["unit"], "decimals": kpi["decimals"], "value": kpi["value"],
            "previous": kpi["previous"], "target": kpi["target"],
            "direction": kpi["direction"], "score": kpi["score"],
            "previous_score": kpi_score(kpi["previous"], kpi["target"], kpi["direction"]),
            "status": target_status(kpi["score"]), "change": kpi["change"],
            "change_unit": kpi["change_unit"], "trend": kpi["trend"],
            "improving": kpi["improving"], "stale": kpi["stale"],
            "partial": bool((kpi.get("coverage") or {}).get("partial")),
            "no_source": kpi.get("no_source", False), "department": kpi.get("department"),
            "link": link}


def ranked(items: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The best and worst KPIs by score (never the same KPI in both: with fewer than ten
    scored, the better half is best), and those that moved most (relative change, flat
    ones left out); ties by key."""
    scored = [k for k in items if k["score"] is not None]
    best = sorted(scored, key=lambda k: (-k["score"], k["key"]))[:min(TOP, (len(scored) + 1) // 2)]
    chosen = {k["key"] for k in best}
    worst = sorted((k for k in scored if k["key"] not in chosen),
                   key=lambda k: (k["score"], k["key"]))[:TOP]
    moved = [k for k in items if k["trend"] is not None and k["improving"] is not None]
    changed = sorted(moved, key=lambda k: (-abs(k["trend"]), k["key"]))[:TOP]
    return {"best": best, "worst": worst, "changed": changed}


def build_briefing(settings: Settings, who: Principal, *, frequency: str, language: str,
                   now: datetime | None = None) -> dict[str, Any]:
    """The briefing of ``who`` for the last whole day, week or month before ``now``
    (default the settings' current time), in ``language``: a JSON-ready dict.

    Officials and admins get the whole city; a department head their departments' KPIs
    (scored together), alerts of their domains, their requests, and their districts
    beside the city. PermissionError for a head without a department or a public user;
    ValueError for an unknown frequency.
    """
    if frequency not in FREQUENCIES:
        raise ValueError(f"unknown frequency {frequency!r}; choose one of "
                         f"{', '.join(FREQUENCIES)}")
    lang = choose_language(language, default="en")
    now = now or settings.current_time()
    now = now if now.tzinfo else now.replace(tzinfo=timezone.utc)  # naive means UTC
    tz = settings.timezone
    departments, districts = _scope(settings, who)
    first, last = briefing_period(frequency, now, tz)
    start, end = local_midnight(first, tz), local_midnight(last + timedelta(days=1), tz)
    period = Period(CUSTOM, start, end)
    at_end = settings.model_copy(update={"now": end - timedelta(seconds=1)})
    live = settings.model_copy(update={"now": now})
    department = departments[0] if departments else None
    names = {d["id"]: d["name"] for d in queries.district_options(settings)}
    definitions = {k.id: k for k in load_kpis(settings.kpis_file)}
    window = FREQUENCY_WINDOW[frequency]
    places = {}
    rows = []
    for name in WINDOWS:
        found, table = _kpi_places(at_end, name, departments, definitions)
        places[name] = found
        span = span_query(table["window_start"], table["window_end"], tz)
        rows.append({"window": name, "start": table["window_start"],
                     "end": table["window_end"], **span["days"], **_score(found.get("", [])),
                     "link": "/" + link_query(period=span["period"], department=department)})
    in_period = span_query(start.isoformat(), end.isoformat(), tz)
    kpi_link = {"from": in_period["from"], "to": in_period["to"], "department": department}
    items = [_kpi_item(k, lang, f"/domain/{k['domain']}" + link_query(
        **{**kpi_link, "department": k["department"] or department}))
        for k in places[window].get("", [])]
    scores = [{"key": item["key"], "id": item["id"], "name": item["name"],
               "link": item["link"],
               "scores": {w: next((k["score"] for k in places[w].get("", [])
                                   if k["key"] == item["key"]), None) for w in WINDOWS}}
              for item in items]
    domains: set[str] | None = None
    if departments:
        domains = set().union(*(department_domains(settings, d) or set() for d in departments))
    return {
        "version": 1,
        "frequency": frequency,
        "language": lang,
        "timezone": tz,
        "generated_at": now.isoformat(),
        "kpis_as_of": at_end.current_time().isoformat(),
        "recipient": {"username": who.username, "role": who.role,
                      "departments": departments,
                      "districts": [{"id": d, "name": names.get(d, d)} for d in districts]},
        "period": {"window": window, "first_day": first.isoformat(),
                   "last_day": last.isoformat(), "start": start.isoformat(),
                   "end": end.isoformat(),
                   "label": _period_label(frequency, first, last, lang)},
        "score": next(r for r in rows if r["window"] == window),
        "windows": rows,
        "kpis": items,
        "kpi_scores": scores,
        **ranked(items),
        "districts": [{"id": d, "name": names.get(d, d),
                       "link": f"/district/{quote(d, safe='')}" + link_query(**kpi_link),
                       "windows": [{"window": w, **_score(places[w].get(d, []))}
                                   for w in WINDOWS]} for d in districts],
        "alerts": alerts_section(live, period, domains, districts, names, lang, department),
        "requests": requests_section(live, period, frequency, departments, districts, names),
        "feeds": feeds_section(live),
    }
