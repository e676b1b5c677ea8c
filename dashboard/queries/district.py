"""Read models of the district drill-down page (``/district/<id>``).

Everything here is derived from the cached KPI table (``queries.kpi_table``) or from
small indexed GROUP BYs (assets by ``district_id``, open alerts by ``cleared_at``); no
observation is read. Ranks follow competition ranking: 1 = best score, equal scores
share a rank (1, 2, 2, 4), places without a score are not ranked.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, case, func, select

from dashboard.kpis import compute_kpi_table, load_kpis, window_for
from dashboard.kpis.coverage import COMPARABLE_FROM
from dashboard.kpis.scoring import change_improving, kpi_change
from dashboard.model import DOMAINS, Alert, Asset, District
from dashboard.periods import a_year_before
from dashboard.queries import (
    active_alerts,
    district_scores,
    kpi_scopes,
    kpi_table,
    municipality_districts,
)
from dashboard.queries.base import ALERTS, DISTRICTS, cached
from dashboard.queries.places import split_place
from dashboard.settings import Settings

REQUEST_SOURCE = "service_requests"
TIE_DECIMALS = 9  # scores equal to this many decimals count as a tie (float noise)


def rank_places(scores: Mapping[str, float | None]) -> dict[str, int]:
    """Competition ranks of the places that have a score: 1 = highest, ties share a rank."""
    present = {place: round(score, TIE_DECIMALS) for place, score in scores.items()
               if score is not None}
    ordered = sorted(present.values(), reverse=True)
    return {place: ordered.index(score) + 1 for place, score in present.items()}


def district_profile(settings: Settings, district: str) -> dict[str, Any] | None:
    """Name, population, area (km²), geometry and municipality (id and name, None in a
    single city) of one district; None when unknown."""

    def compute(conn: Connection) -> dict[str, Any] | None:
        row = conn.execute(
            select(District.id, District.name, District.population, District.area_km2,
                   District.geometry, District.municipality_id, District.municipality_name)
            .where(District.id == district)
        ).first()
        if row is None:
            return None
        did, name, population, area, geometry, municipality, municipality_name = row
        return {"id": did, "name": name, "population": int(population or 0),
                "area_km2": float(area or 0.0), "geometry": geometry,
                "municipality_id": municipality,
                "municipality_name": municipality_name or municipality}

    return cached(settings, "district_profile", {"district": district}, compute, DISTRICTS)


def year_ago_values(settings: Settings, window: str, department: str | None = None,
                    municipality: str | None = None) -> dict[str, dict[str, float | None]]:
    """Each place's KPI values over the same window one calendar year earlier.

    The KPI engine run on the window shifted back a year: ``{place or "": {kpi: value}}``,
    keeping only values whose window was covered enough to compare with; with
    ``department``, its request and case KPIs count that department's own; with
    ``municipality``, its districts and itself ("").
    """
    now = settings.current_time()
    span = window_for(window, now, settings.timezone)
    shifted = span.year_ago()
    within = municipality_districts(settings, municipality)

    def compute(conn: Connection) -> dict[str, dict[str, float | None]]:
        table = compute_kpi_table(conn, load_kpis(settings.kpis_file), shifted,
                                  a_year_before(now), department, within)
        return {(key or ""): {v.id: v.value for v in values if _comparable(v.coverage)}
                for key, values in table.places.items()}

    scopes = {s for k in load_kpis(settings.kpis_file) for s in kpi_scopes(k)}
    params = {"window": window, "end": span.end,
              **({"department": department} if department else {}),
              **({"municipality": municipality, "within": within} if within else {})}
    return cached(settings, "district_year_ago", params, compute, sorted(scopes))


def _comparable(coverage: dict[str, Any] | None) -> bool:
    return coverage is not None and coverage["share"] >= COMPARABLE_FROM


def year_change(kpi: dict[str, Any], then: float | None) -> dict[str, Any]:
    """``year_ago``, ``year_change``/``year_change_unit`` (``scoring.kpi_change``) and
    ``year_improving`` of a KPI dict against its value a year before."""
    change, unit = kpi_change(kpi["value"], then, kpi["unit"], kpi["target"])
    return {"year_ago": then, "year_change": change, "year_change_unit": unit,
            "year_improving": change_improving(change, unit, kpi["direction"],
                                               kpi["decimals"])}


def city_gap(kpi: Mapping[str, Any], city_value: float | None) -> dict[str, Any]:
    """How far a district's KPI value is from the city's over the same window:
    ``city_gap`` (district minus city, in percentage points for a KPI in %, else in the
    KPI's unit), ``city_gap_unit`` and ``city_gap_better`` (True when the district does
    better by the KPI's direction, None when level at its precision or without both)."""
    value = kpi["value"]
    if value is None or city_value is None:
        return {"city_gap": None, "city_gap_unit": None, "city_gap_better": None}
    gap, unit = value - city_value, "pp" if kpi["unit"] == "%" else kpi["unit"]
    return {"city_gap": gap, "city_gap_unit": unit,
            "city_gap_better": change_improving(gap, unit, kpi["direction"], kpi["decimals"])}


def worst_first(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """KPI rows by score, lowest (worst) first, those without a score last; ties keep the
    catalogue's order."""
    return sorted(rows, key=lambda r: (r["score"] is None, r["score"] or 0.0))


def with_year_ago(settings: Settings, window: str, district: str | None,
                  kpis: Iterable[dict[str, Any]], department: str | None = None,
                  municipality: str | None = None) -> list[dict[str, Any]]:
    """The KPI dicts of a place (None = the city, or ``municipality`` when given) with
    ``year_ago`` (the value over the same window a calendar year before, for
    ``department``'s requests when given) and its change (``year_change``) added."""
    in_token, district = split_place(district)  # a page's place may be a municipality
    municipality = municipality or in_token
    before = year_ago_values(settings, window, department,
                             None if district else municipality).get(district or "", {})
    return [{**kpi, **year_change(kpi, before.get(kpi["id"]))} for kpi in kpis]


def kpi_comparison(settings: Settings, district: str, window: str, *,
                   year_ago: bool = False, department: str | None = None) -> dict[str, Any]:
    """One district's KPIs against the city's and the targets, with each KPI's rank, worst
    first (``worst_first``: why a district scores low reads from the top). In a
    metropolitan deployment, against its municipality's and ranked among its districts
    (``compared_with``: the municipality's name; None for the city).

    Returns ``{"window", "window_start", "window_end", "score", "previous_score",
    "city_score", "city_previous_score", "score_rank", "score_ranked", "districts",
    "rows": [...]}``; each row has the KPI's id, name, domain, unit, decimals, direction,
    target, value, city_value, city_gap / city_gap_unit / city_gap_better (``city_gap``),
    score, city_score, previous, trend, improving, as_of,
    stale, sources, no_source (no asset of its kind in the district), rank, ranked and
    (with ``year_ago``) year_ago / year_change / year_change_unit / year_improving
    (``year_change``). With ``department``: the KPIs that
    department answers for, scored together (``queries.kpi_table``).
    An unknown district raises ``ValueError``.
    """
    profile = district_profile(settings, district) if district else None
    municipality = (profile or {}).get("municipality_id")
    table = kpi_table(settings, window, department, municipality)
    places = table["places"]
    if not district or district not in places:
        raise ValueError(f"unknown district {district!r}")
    by_place = {key: {k["id"]: k for k in place["kpis"]} for key, place in places.items()}
    districts = [key for key in places if key]
    before = year_ago_values(settings, window, department, municipality) if year_ago else {}
    rows = []
    for kpi in places[district]["kpis"]:
        city = by_place[""].get(kpi["id"], {})
        ranks = rank_places({d: by_place[d].get(kpi["id"], {}).get("score") for d in districts})
        then = before.get(district, {}).get(kpi["id"])
        rows.append({
            "id": kpi["id"], "name": kpi["name"], "domain": kpi["domain"], "unit": kpi["unit"],
            "decimals": kpi["decimals"], "direction": kpi["direction"],
            "target": kpi["target"], "value": kpi["value"], "city_value": city.get("value"),
            **city_gap(kpi, city.get("value")),
            "score": kpi["score"], "city_score": city.get("score"),
            "previous": kpi["previous"], "trend": kpi["trend"], "improving": kpi["improving"],
            "change": kpi["change"], "change_unit": kpi["change_unit"],
            "coverage": kpi["coverage"],
            "as_of": kpi["as_of"], "stale": kpi["stale"], "sources": kpi["sources"],
            "no_source": kpi.get("no_source", False),
            "rank": ranks.get(district), "ranked": len(ranks),
            **(year_change(kpi, then) if year_ago else
               {"year_ago": None, "year_change": None, "year_change_unit": None,
                "year_improving": None}),
        })
    score_ranks = rank_places({d: places[d]["score"] for d in districts})
    return {
        "window": window, "window_start": table["window_start"],
        "window_end": table["window_end"],
        "score": places[district]["score"], "previous_score": places[district]["previous_score"],
        "score_change": places[district]["score_change"],
        "city_score": places[""]["score"], "city_previous_score": places[""]["previous_score"],
        "score_rank": score_ranks.get(district), "score_ranked": len(score_ranks),
        "districts": len(districts), "year_ago": year_ago, "rows": worst_first(rows),
        "compared_with": (profile or {}).get("municipality_name") if municipality else None,
    }


def in_domains(rows: Iterable[dict[str, Any]], domains: set[str] | None) -> list[dict[str, Any]]:
    """The rows of the given domains (all rows when ``domains`` is None)."""
    return [r for r in rows if domains is None or r["domain"] in domains]


def request_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The KPI rows computed from service requests."""
    return [r for r in rows if REQUEST_SOURCE in (r.get("sources") or [])]


def assets_by_domain(settings: Settings, district: str,
                     domains: set[str] | None = None) -> list[dict[str, Any]]:
    """Per domain: the district's assets, how many are not ok, open alerts, newest last_seen.

    Rows ``{"domain", "assets", "not_ok", "open_alerts", "last_seen"}`` sorted by domain,
    limited to ``domains`` when given (a department's domains).
    """

    def compute(conn: Connection) -> list[dict[str, Any]]:
        counts = conn.execute(
            select(Asset.domain, func.count(),
                   func.sum(case((Asset.status != "ok", 1), else_=0)),
                   func.max(Asset.last_seen))
            .where(Asset.district_id == district).group_by(Asset.domain)
        ).all()
        alerts = dict(conn.execute(
            select(Asset.domain, func.count())
            .select_from(Alert).join(Asset, Asset.pk == Alert.asset_pk)
            .where(Alert.cleared_at.is_(None), Alert.district_id == district)
            .group_by(Asset.domain)
        ).all())
        rows = [{"domain": domain, "assets": int(count), "not_ok": int(not_ok or 0),
                 "open_alerts": int(alerts.pop(domain, 0)),
                 "last_seen": seen.isoformat() if seen else None}
                for domain, count, not_ok, seen in counts]
        # Alerts of assets located elsewhere but raised for this district still count.
        rows += [{"domain": domain, "assets": 0, "not_ok": 0, "open_alerts": int(n),
                  "last_seen": None} for domain, n in alerts.items()]
        return sorted(rows, key=lambda r: r["domain"])

    rows = cached(settings, "district_assets", {"district": district}, compute,
                  (*ALERTS, *(f"domain:{d}" for d in DOMAINS)))
    return in_domains(rows, domains)


def district_alerts(settings: Settings, district: str, domains: set[str] | None,
                    limit: int = 10) -> list[dict[str, Any]]:
    """The district's open alerts (most severe, newest first), of ``domains`` when given."""
    if domains is None:
        return active_alerts(settings, district, limit)
    severity = {"critical": 0, "warning": 1}
    found = [a for domain in sorted(domains)
             for a in active_alerts(settings, district, limit, domain=domain)]
    found.sort(key=lambda a: (a["raised_at"], a["id"]), reverse=True)
    found.sort(key=lambda a: severity.get(a["severity"], 2))
    return found[:limit]


def district_shapes(settings: Settings, window: str) -> dict[str, Any]:
    """Every district polygon with its score (``queries.district_scores``)."""
    return district_scores(settings, window, None)


def district_feature(settings: Settings, district: str, window: str) -> dict[str, Any]:
    """The district's polygon as a GeoJSON FeatureCollection with its score and rank."""
    summary = kpi_comparison(settings, district, window)
    profile = district_profile(settings, district) or {}
    return {"type": "FeatureCollection", "features": [{
        "type": "Feature", "id": district, "geometry": profile.get("geometry"),
        "properties": {
            "id": district, "name": profile.get("name"),
            "population": profile.get("population"), "area_km2": profile.get("area_km2"),
            "window": window, "score": summary["score"], "city_score": summary["city_score"],
            "rank": summary["score_rank"], "ranked": summary["score_ranked"],
        },
    }]}
