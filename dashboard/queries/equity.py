"""The equity gap: for each KPI, how far the worst district is from the best, and whether
that gap narrows over time. District values only; no personal data."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from dashboard.cache import cache_key, get_cache
from dashboard.kpis import KpiDefinition, Window, compute_kpi_table, load_kpis, window_for
from dashboard.kpis.scoring import kpi_change
from dashboard.queries import district_options, kpi_table
from dashboard.queries.base import engine_of
from dashboard.settings import Settings

PAST_WINDOW_TTL_SECONDS = 6 * 3600

Values = dict[str, dict[str, float]]  # KPI id -> district id -> value


def _windows(window: str, now: datetime, tz: str, points: int) -> list[Window]:
    """The current window and the ``points - 1`` windows before it, oldest first."""
    spans = [window_for(window, now, tz)]
    while len(spans) < points:
        spans.append(spans[-1].previous())
    return spans[::-1]


def _by_kpi(places: Iterable[tuple[str | None, Iterable[tuple[str, float | None]]]]) -> Values:
    """KPI id -> district -> value from each place's (KPI id, value) pairs (city skipped)."""
    found: Values = {}
    for district, values in places:
        if not district:
            continue
        for kpi_id, value in values:
            if value is not None:
                found.setdefault(kpi_id, {})[district] = float(value)
    return found


def _current_values(settings: Settings, window: str) -> Values:
    """District values of the current window, from the overview's cached KPI table."""
    places = kpi_table(settings, window)["places"]
    return _by_kpi((d, ((k["id"], k["value"]) for k in place["kpis"]))
                   for d, place in places.items())


def _past_values(settings: Settings, kpis: tuple[KpiDefinition, ...], span: Window) -> Values:
    """District values of a finished window, cached without the data version."""

    def run() -> Values:
        with engine_of(settings).connect() as conn:
            found = compute_kpi_table(conn, kpis, span, span.end_dt())
        return _by_kpi((d, ((v.id, v.value) for v in values))
                       for d, values in found.places.items())

    params = {"_store": settings.resolved_database_url, "_kpis": str(settings.kpis_file),
              "_kpis_mtime": settings.kpis_file.stat().st_mtime, "_tz": settings.timezone,
              "window": span.name, "start": span.start, "end": span.end}
    ttl = PAST_WINDOW_TTL_SECONDS if settings.cache_ttl_seconds > 0 else 0  # off stays off
    return get_cache(settings.redis_url, ttl).get_or_compute(
        cache_key("engagement_equity_past", 0, params), run)


def _point(values: dict[str, float], kpi: KpiDefinition, end: str) -> dict[str, Any]:
    """Best and worst district of one window (by the KPI's direction) and their gap."""
    point: dict[str, Any] = {"end": end, "best_district": None, "best": None,
                             "worst_district": None, "worst": None, "gap": None,
                             "relative_gap": None}
    if not values:
        return point
    sign = -1.0 if kpi.direction == "higher" else 1.0
    ranked = sorted(values.items(), key=lambda item: (sign * item[1], item[0]))
    (best_id, best), (worst_id, worst) = ranked[0], ranked[-1]
    gap = abs(best - worst)
    return {**point, "best_district": best_id, "best": best, "worst_district": worst_id,
            "worst": worst, "gap": gap,
            "relative_gap": gap / abs(kpi.target) if kpi.target else None}


def _kpi_gaps(kpi: KpiDefinition, series: list[dict[str, Any]]) -> dict[str, Any]:
    """The KPI's gaps and how the latest compares with the previous window's, the same
    comparison for every KPI: in points for a KPI in %, relative otherwise, in the KPI's
    unit when the earlier gap was near zero (``scoring.kpi_change``)."""
    latest = series[-1]["gap"] if series else None
    earlier = series[-2] if len(series) > 1 else None
    before = earlier["gap"] if earlier else None
    change, unit = kpi_change(latest, before, kpi.unit, kpi.target)
    return {"id": kpi.id, "name": dict(kpi.name), "domain": kpi.domain, "unit": kpi.unit,
            "decimals": kpi.decimals, "direction": kpi.direction, "target": kpi.target,
            "series": series, "latest_gap": latest, "change": change, "change_unit": unit,
            "compared_with": earlier["end"] if earlier else None,
            "narrowing": None if latest is None or before is None else latest < before}


def equity_gap(settings: Settings, window: str = "month", points: int = 6) -> dict[str, Any]:
    """Per KPI of the catalogue: the best and worst district value (by the KPI's direction,
    "higher" or "lower" is better) and their gap, over the current window and the
    ``points - 1`` windows before it (each one window length earlier), oldest first.

    ``change`` (with ``change_unit``) compares the latest gap with the previous window's
    (``compared_with``, its end), for every KPI alike; ``narrowing`` says whether the
    latest gap is the smaller (None when either window has no gap).

    Caching: the current window comes from ``queries.kpi_table`` (version-keyed, shared
    with the overview). A finished window barely changes with new live data (only late
    arrivals touch it), so each is cached for 6 h under a key without the data version
    (store, catalogue and its mtime, zone, window bounds): an ingest does not recompute the
    history. Finished windows are computed as complete (the engine's "now" is their end).
    """
    if points < 1:
        raise ValueError("points must be at least 1")
    kpis = load_kpis(settings.kpis_file)
    spans = _windows(window, settings.current_time(), settings.timezone, points)
    tables = [_past_values(settings, kpis, span) for span in spans[:-1]]
    tables.append(_current_values(settings, window))
    ends = [span.end_dt().isoformat() for span in spans]
    found = [_kpi_gaps(kpi, [_point(t.get(kpi.id, {}), kpi, end)
                             for t, end in zip(tables, ends, strict=True)])
             for kpi in kpis]
    names = {d["id"]: d["name"] for d in district_options(settings)}
    return {"window": window, "points": ends, "kpis": found, "district_names": names}
