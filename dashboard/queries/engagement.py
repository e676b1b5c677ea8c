"""Citizen 360 aggregates: how residents reach the city, with no personal data in any result.

Interactions are service requests (``requested_at``), cases (``opened_at``) and
participation (``time``), counted in half-open windows ``[start, end)``. Results hold
counts, shares (fractions 0..1), days and district names only: never a citizen's id,
name, contact or free text. ``departments`` (a department head's scope) keeps requests
and cases of those departments and leaves participation out (it has no department).
Interactions without a (known) district count toward the city only.

Every query filters on an indexed time column and groups in SQL; only the resolution
percentiles on SQLite fetch one narrow column of the rows closed in the window.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Connection, Float, and_, case, cast, column, func, inspect, select, table

from dashboard.model import Case, Citizen, District, Participation, ServiceRequest
from dashboard.queries.base import cached
from dashboard.settings import Settings

DIGITAL_CHANNELS = ("web", "app", "kiosk", "email", "social")
AGE_BANDS = ("under 30", "30-44", "45-64", "65+", "unknown")
PAST_WINDOW_TTL_SECONDS = 6 * 3600
DAY_MS = 86_400_000
SR = ServiceRequest
Model = Any  # a mapped class with district_id, channel, citizen_id (and maybe department)


# --- shared helpers ----------------------------------------------------------------------

def _params(start: datetime, end: datetime, departments: list[str] | None,
            **extra: Any) -> dict[str, Any]:
    return {"start": start.isoformat(), "end": end.isoformat(),
            "departments": sorted(departments) if departments is not None else None, **extra}


def _sources(departments: list[str] | None) -> list[tuple[Model, Any]]:
    """(model, time column) of every interaction kind in scope."""
    found: list[tuple[Model, Any]] = [(SR, SR.requested_at), (Case, Case.opened_at)]
    if departments is None:
        found.append((Participation, Participation.time))
    return found


def _where(model: Model, time: Any, start: datetime, end: datetime,
           departments: list[str] | None) -> list[Any]:
    """Window (on the indexed time column) and department conditions."""
    found = [time >= start, time < end]
    if departments is not None and hasattr(model, "department"):
        found.append(model.department.in_(departments))
    return found


def _districts(conn: Connection) -> dict[str, tuple[str, int]]:
    """Every district: id -> (name, population)."""
    rows = conn.execute(select(District.id, District.name, District.population))
    return {did: (name, int(pop or 0)) for did, name, pop in rows}


def _share(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _per_1000(count: float, population: int) -> float | None:
    return count / population * 1000 if population else None


def is_digital(channel: str | None) -> bool:
    """Whether a channel is digital (web, app, kiosk, e-mail, social); else assisted."""
    return channel in DIGITAL_CHANNELS


def _millis_between(conn: Connection, later: Any, earlier: Any) -> Any:
    """SQL: whole milliseconds from ``earlier`` to ``later`` (SQLite and PostgreSQL)."""
    if conn.dialect.name == "sqlite":
        return func.round((func.julianday(later) - func.julianday(earlier)) * float(DAY_MS))
    return func.extract("epoch", later - earlier) * 1000.0


# --- interactions and channels -----------------------------------------------------------

def _channel_counts(conn: Connection, start: datetime, end: datetime,
                    departments: list[str] | None) -> Counter[tuple[str | None, str]]:
    counts: Counter[tuple[str | None, str]] = Counter()
    for model, time in _sources(departments):
        stmt = (select(model.district_id, model.channel, func.count())
                .where(*_where(model, time, start, end, departments))
                .group_by(model.district_id, model.channel))
        for district, channel, n in conn.execute(stmt):
            counts[(district, channel or "unknown")] += int(n)
    return counts


def _summary(counts: Iterable[tuple[str, int]], population: int) -> dict[str, Any]:
    """total, per_1000 and digital_share of (channel, count) pairs."""
    total = digital = 0
    for channel, n in counts:
        total += n
        digital += n if is_digital(channel) else 0
    return {"total": total, "per_1000": _per_1000(total, population),
            "digital_share": _share(digital, total)}


def _by_place(item: tuple[tuple[str | None, str], int]) -> tuple[str, str]:
    (district, channel), _ = item
    return district or "", channel


def interactions(settings: Settings, start: datetime, end: datetime,
                 departments: list[str] | None = None) -> dict[str, Any]:
    """Requests, cases and participation in ``[start, end)`` by district and channel.

    ``per_1000`` is interactions per 1000 residents over the whole window (not scaled to
    a month). Districts are sorted by ``per_1000``, highest first (no population: last).
    """

    def compute(conn: Connection) -> dict[str, Any]:
        districts = _districts(conn)
        counts = _channel_counts(conn, start, end, departments)
        rows = [{"district_id": did, "district_name": districts[did][0],
                 "population": districts[did][1], "channel": channel, "count": n,
                 "per_1000": _per_1000(n, districts[did][1])}
                for (did, channel), n in sorted(counts.items(), key=_by_place)
                if did in districts]
        summaries = []
        for did, (name, population) in districts.items():
            mine = [(c, n) for (d, c), n in counts.items() if d == did]
            summaries.append({"district_id": did, "district_name": name,
                              "population": population, **_summary(mine, population)})
        summaries.sort(key=lambda d: (d["per_1000"] is None, -(d["per_1000"] or 0),
                                      d["district_id"]))
        city_population = sum(p for _, p in districts.values())
        city = _summary(((c, n) for (_, c), n in counts.items()), city_population)
        return {"start": start.isoformat(), "end": end.isoformat(), "rows": rows,
                "districts": summaries, "city": city,
                "channels": sorted({c for _, c in counts}),
                "participation_included": departments is None}

    return cached(settings, "engagement_interactions", _params(start, end, departments),
                  compute)


def age_band(birth_year: int | None, year: int) -> str:
    """The age band ("under 30", "30-44", "45-64", "65+") in ``year``; "unknown" if None."""
    if birth_year is None:
        return "unknown"
    age = year - birth_year
    if age < 30:
        return "under 30"
    if age < 45:
        return "30-44"
    return "45-64" if age < 65 else "65+"


def _divide(digital: int, assisted: int) -> dict[str, Any]:
    total = digital + assisted
    return {"total": total, "digital": digital, "assisted": assisted,
            "digital_share": _share(digital, total)}


def digital_divide(settings: Settings, start: datetime, end: datetime,
                   departments: list[str] | None = None) -> dict[str, Any]:
    """Digital vs assisted interactions in ``[start, end)`` by district, by age band of
    the citizen (age in the year of ``end``; "unknown" for anonymous interactions) and by
    district x age band. SQL groups by district, birth year and channel (a few thousand
    rows at most); the bands are formed from those counts."""
    year = end.year

    def compute(conn: Connection) -> dict[str, Any]:
        districts = _districts(conn)
        tally: Counter[tuple[str | None, str, bool]] = Counter()
        for model, time in _sources(departments):
            stmt = (select(model.district_id, Citizen.birth_year, model.channel, func.count())
                    .select_from(model)
                    .outerjoin(Citizen, Citizen.id == model.citizen_id)
                    .where(*_where(model, time, start, end, departments))
                    .group_by(model.district_id, Citizen.birth_year, model.channel))
            for district, born, channel, n in conn.execute(stmt):
                tally[(district, age_band(born, year), is_digital(channel))] += int(n)

        def divide(district: str | None = None, band: str | None = None) -> dict[str, Any]:
            """The tally's cells of ``district`` and of ``band`` (None: any)."""

            def keep(d: str | None, b: str) -> bool:
                return (district is None or d == district) and (band is None or b == band)

            digital = sum(n for (d, b, dig), n in tally.items() if dig and keep(d, b))
            assisted = sum(n for (d, b, dig), n in tally.items() if not dig and keep(d, b))
            return _divide(digital, assisted)

        by_district = [{"district_id": did, "district_name": name, **divide(district=did)}
                       for did, (name, _) in sorted(districts.items())]
        bands = [{"band": band, **divide(band=band)} for band in AGE_BANDS]
        cells = [{"district_id": did, "band": band, **divide(district=did, band=band)}
                 for did in sorted(districts) for band in AGE_BANDS]
        return {"start": start.isoformat(), "end": end.isoformat(), "reference_year": year,
                "districts": by_district, "age_bands": bands,
                "cells": [c for c in cells if c["total"]],
                "city": divide(),
                "participation_included": departments is None}

    return cached(settings, "engagement_digital_divide", _params(start, end, departments),
                  compute)


# --- repeat contacts ---------------------------------------------------------------------

def repeat_contacts(settings: Settings, start: datetime, end: datetime,
                    departments: list[str] | None = None, days: int = 30) -> dict[str, Any]:
    """Share of identified requests made in ``[start, end)`` that repeat an earlier request
    of the same citizen for the same service made at most ``days`` days before it (the
    earlier one may precede ``start``). One SQL query: LAG over (citizen, service)."""
    span_ms = days * DAY_MS

    def compute(conn: Connection) -> dict[str, Any]:
        districts = _districts(conn)
        earlier = func.lag(SR.requested_at).over(
            partition_by=(SR.citizen_id, SR.service_code), order_by=SR.requested_at)
        since = start - timedelta(days=days)
        inner = (select(SR.district_id, SR.requested_at, earlier.label("earlier"))
                 .where(SR.citizen_id.is_not(None),
                        *_where(SR, SR.requested_at, since, end, departments))
                 .subquery())
        gap = _millis_between(conn, inner.c.requested_at, inner.c.earlier)
        repeat = func.sum(case((and_(inner.c.earlier.is_not(None), gap <= span_ms), 1),
                               else_=0))
        stmt = (select(inner.c.district_id, func.count(), repeat)
                .where(inner.c.requested_at >= start).group_by(inner.c.district_id))
        found = {d: (int(n), int(r or 0)) for d, n, r in conn.execute(stmt)}
        rows = []
        for did, (name, _) in sorted(districts.items()):
            n, r = found.get(did, (0, 0))
            rows.append({"district_id": did, "district_name": name, "requests": n,
                         "repeats": r, "share": _share(r, n)})
        total = sum(n for n, _ in found.values())
        repeats = sum(r for _, r in found.values())
        return {"start": start.isoformat(), "end": end.isoformat(), "days": days,
                "districts": rows,
                "city": {"requests": total, "repeats": repeats, "share": _share(repeats, total)}}

    return cached(settings, "engagement_repeats", _params(start, end, departments, days=days),
                  compute)


# --- resolution times --------------------------------------------------------------------

def _stats(closed: int, median: float | None, p90: float | None) -> dict[str, Any]:
    return {"closed": closed, "median_days": _float(median), "p90_days": _float(p90)}


def _percentiles_sql(conn: Connection, model: Model, days: Any,
                     where: list[Any]) -> tuple[dict[str | None, dict[str, Any]], dict[str, Any]]:
    """PostgreSQL: count, median and p90 (percentile_cont) per district and for the city."""
    measures = (func.count(), func.percentile_cont(0.5).within_group(days),
                func.percentile_cont(0.9).within_group(days))
    rows = conn.execute(select(model.district_id, *measures).where(*where)
                        .group_by(model.district_id))
    by_district = {d: _stats(int(n), m, p) for d, n, m, p in rows}
    n, m, p = conn.execute(select(*measures).where(*where)).one()
    return by_district, _stats(int(n), m, p)


def _percentiles_fetched(conn: Connection, model: Model, days: Any,
                         where: list[Any]) -> tuple[dict[str | None, dict[str, Any]],
                                                    dict[str, Any]]:
    """SQLite (no percentile function): one narrow column of the window's closed rows,
    percentiles with numpy's linear interpolation (the same as percentile_cont)."""
    groups: dict[str | None, list[float]] = {}
    for district, value in conn.execute(select(model.district_id, days).where(*where)):
        if value is not None:
            groups.setdefault(district, []).append(float(value))

    def stats(values: list[float]) -> dict[str, Any]:
        if not values:
            return _stats(0, None, None)
        p50, p90 = np.percentile(np.asarray(values), [50, 90])
        return _stats(len(values), p50, p90)

    return ({d: stats(v) for d, v in groups.items()},
            stats([x for values in groups.values() for x in values]))


def _resolution(conn: Connection, model: Model, opened: Any, start: datetime, end: datetime,
                departments: list[str] | None,
                districts: dict[str, tuple[str, int]]) -> dict[str, Any]:
    days = cast(_millis_between(conn, model.closed_at, opened), Float) / float(DAY_MS)
    where = _where(model, model.closed_at, start, end, departments)
    reader = _percentiles_sql if conn.dialect.name == "postgresql" else _percentiles_fetched
    by_district, city = reader(conn, model, days, where)
    rows = [{"district_id": did, "district_name": name,
             **by_district.get(did, _stats(0, None, None))}
            for did, (name, _) in sorted(districts.items())]
    return {"districts": rows, "city": city}


def resolution_times(settings: Settings, start: datetime, end: datetime,
                     departments: list[str] | None = None) -> dict[str, Any]:
    """Median and 90th percentile days to close, of the requests (from ``requested_at``)
    and the cases (from ``opened_at``) closed in ``[start, end)``, by district and city.

    PostgreSQL computes ``percentile_cont`` in SQL; SQLite fetches the closed rows'
    durations of the window only (indexed on ``closed_at``).
    """

    def compute(conn: Connection) -> dict[str, Any]:
        districts = _districts(conn)
        return {"start": start.isoformat(), "end": end.isoformat(),
                "requests": _resolution(conn, SR, SR.requested_at, start, end, departments,
                                        districts),
                "cases": _resolution(conn, Case, Case.opened_at, start, end, departments,
                                     districts)}

    return cached(settings, "engagement_resolution", _params(start, end, departments), compute)


# --- satisfaction ------------------------------------------------------------------------

NO_SATISFACTION = {"known": False, "note": "No connected source reports satisfaction yet."}


def satisfaction(settings: Settings, start: datetime, end: datetime,
                 departments: list[str] | None = None) -> dict[str, Any]:
    """Mean ``satisfaction`` of the requests made in ``[start, end)`` by district, when the
    store has such a column on ``service_requests``; otherwise ``{"known": False, "note"}``."""

    def compute(conn: Connection) -> dict[str, Any]:
        names = {c["name"] for c in inspect(conn).get_columns(SR.__tablename__)}
        if "satisfaction" not in names:
            return dict(NO_SATISFACTION)
        rated = table(SR.__tablename__, column("district_id"), column("department"),
                      column("requested_at", SR.requested_at.type),
                      column("satisfaction", Float))
        where = [rated.c.requested_at >= start, rated.c.requested_at < end,
                 rated.c.satisfaction.is_not(None)]
        if departments is not None:
            where.append(rated.c.department.in_(departments))
        measures = (func.count(), func.avg(rated.c.satisfaction))
        rows = {d: (int(n), _float(m)) for d, n, m in conn.execute(
            select(rated.c.district_id, *measures).where(*where).group_by(rated.c.district_id))}
        n, mean = conn.execute(select(*measures).where(*where)).one()
        found = [{"district_id": did, "district_name": name,
                  "responses": rows.get(did, (0, None))[0], "mean": rows.get(did, (0, None))[1]}
                 for did, (name, _) in sorted(_districts(conn).items())]
        return {"known": True, "start": start.isoformat(), "end": end.isoformat(),
                "districts": found, "city": {"responses": int(n), "mean": _float(mean)}}

    return cached(settings, "engagement_satisfaction", _params(start, end, departments),
                  compute)
