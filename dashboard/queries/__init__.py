"""Read models for the pages and the API: small, JSON-ready, cached by data version.

The overview's read models live here; each other page has its own module beside this
one (``dashboard.queries.<page>``), built on ``dashboard.queries.base.cached``.

Every function reads rollups or indexed rows (never a full scan of observations) and
returns plain dicts and lists, so results can live in Redis and be shared by workers.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

import shapely
from shapely.geometry import mapping, shape
from sqlalchemy import Connection, case, func, select

from dashboard.district_shapes import display_outlines
from dashboard.geo import label_point
from dashboard.kpis import compute_kpi_table, load_alert_rules, load_kpis, window_for
from dashboard.kpis.definitions import KpiDefinition
from dashboard.kpis.scoring import city_score, kpi_score, score_change
from dashboard.kpis.windows import WINDOWS
from dashboard.model import Alert, Asset, District
from dashboard.periods import clean_spec, is_custom
from dashboard.queries.base import ALERTS, ASSETS, DISTRICTS
from dashboard.queries.base import cached as _cached
from dashboard.queries.base import data_version_of
from dashboard.queries.departments import counts_requests, department_kpis
from dashboard.settings import Settings
from dashboard.units import with_display
from dashboard.queries.places import in_place, split_place

# The fields of an alert, in the order the API's CSV gives them.
ALERT_FIELDS = ("id", "asset_id", "asset_name", "domain", "metric", "rule", "severity",
                "raised_at", "value", "district_id", "district_name")

OVERVIEW_ALERTS = 20  # how many active alerts the overview lists


def kpi_scopes(kpi: KpiDefinition) -> tuple[str, ...]:
    """The version scopes a KPI's values depend on: its metric's asset type (rollups), the
    service requests or the cases; and the districts (populations, places)."""
    if kpi.source == "rollups":
        return (f"type:{(kpi.metric or '').split('.', 1)[0]}", "districts")
    return ("requests" if kpi.source == "service_requests" else "cases", "districts")


def _check_window(window: str, now: datetime) -> str:
    """A window name, or a custom range as its canonical spec (``periods.clean_spec``);
    ValueError for anything else."""
    if window in WINDOWS:
        return window
    spec = clean_spec(window, now) if is_custom(window) else None
    if spec is None:
        raise ValueError(f"unknown window {window!r}; choose one of {', '.join(WINDOWS)} "
                         "or a range START/END")
    return spec


def district_options(settings: Settings) -> list[dict[str, Any]]:
    """Districts for selectors: id, name, population (sorted by name)."""

    def compute(conn: Connection) -> list[dict[str, Any]]:
        rows = conn.execute(select(District.id, District.name, District.population))
        return sorted(
            ({"id": i, "name": n, "population": p} for i, n, p in rows), key=lambda d: d["name"]
        )

    return _cached(settings, "district_options", {}, compute, DISTRICTS)


def kpi_catalogue(settings: Settings) -> list[dict[str, Any]]:
    """The KPI definitions (no values): id, names, domain, unit, target, direction."""
    return [
        {"id": k.id, "name": k.name, "domain": k.domain, "unit": k.unit,
         "target": k.target, "direction": k.direction, "decimals": k.decimals}
        for k in load_kpis(settings.kpis_file)
    ]


def municipality_options(settings: Settings) -> list[dict[str, Any]]:
    """The municipalities (parent areas) of a metropolitan deployment, for selectors: id,
    name, population and their districts' ids (sorted by name); empty for a single city."""

    def compute(conn: Connection) -> list[dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        rows = conn.execute(select(District.municipality_id, District.municipality_name,
                                   District.id, District.population)
                            .where(District.municipality_id.is_not(None))
                            .order_by(District.id))
        for mid, name, district, population in rows:
            entry = found.setdefault(str(mid), {"id": mid, "name": name or mid, "population": 0,
                                           "districts": []})
            entry["population"] += int(population or 0)
            entry["districts"].append(district)
        return sorted(found.values(), key=lambda m: m["name"])

    return _cached(settings, "municipality_options", {}, compute, DISTRICTS)


def municipality_districts(settings: Settings, municipality: str | None) -> list[str] | None:
    """The district ids of ``municipality`` (None: the whole city); ValueError when it is
    not one."""
    if municipality is None:
        return None
    for option in municipality_options(settings):
        if option["id"] == municipality:
            return list(option["districts"])
    raise ValueError(f"unknown municipality {municipality!r}")


def kpi_table(settings: Settings, window: str, department: str | None = None,
              municipality: str | None = None) -> dict[str, Any]:
    """Every KPI for the city (key "") and every district over ``window``, with scores;
    with ``department``, the KPIs that department answers for (``department_kpis``), its
    request and case KPIs counting its own requests and cases, and scores of those KPIs;
    with ``municipality``, for it (key "") and its districts only.

    Shape: {"window", "window_start", "window_end", "places": {district or "": {
    "score", "previous_score", "score_change", "kpis": [KpiValue dicts]}}}; the
    score change is like for like (``scoring.score_change``). The KPIs are computed and
    cached in groups that share their data (``kpi_scopes``), per hour: a batch of waste
    readings recomputes the waste KPIs, not the service-request ones.
    """
    now = settings.current_time()
    window = _check_window(window, now)
    span = window_for(window, now, settings.timezone)
    within = municipality_districts(settings, municipality)
    kpis = department_kpis(settings, department, load_kpis(settings.kpis_file))
    groups: dict[tuple[str, ...], list[KpiDefinition]] = {}
    for kpi in kpis:
        groups.setdefault(kpi_scopes(kpi), []).append(kpi)
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for scopes, members in groups.items():
        narrowed = department if any(counts_requests(k) for k in members) else None

        def compute(conn: Connection, members: list[KpiDefinition] = members,
                    narrowed: str | None = narrowed) -> dict[str, list[dict[str, Any]]]:
            table = compute_kpi_table(conn, members, span, now, narrowed, within)
            return {(key or ""): [v.as_dict() for v in values]
                    for key, values in table.places.items()}

        params = {"window": window, "end": span.end, "kpis": [k.id for k in members],
                  **({"department": narrowed} if narrowed else {}),
                  **({"municipality": municipality, "within": within} if within else {})}
        for place, values in _cached(settings, "kpi_group", params, compute, scopes).items():
            found.setdefault(place, {}).update((v["id"], v) for v in values)
    places = {}
    for place, by_id in found.items():
        values = [by_id[k.id] for k in kpis if k.id in by_id]
        places[place] = {**_scores(values), "kpis": values}
    return {"window": window, "window_start": span.start_dt().isoformat(),
            "window_end": span.end_dt().isoformat(), "places": places}


def overview(settings: Settings, district: str | None, window: str,
             department: str | None = None, municipality: str | None = None
             ) -> dict[str, Any]:
    """The overview page's numbers for the city, one municipality or one district.

    ``department`` keeps the KPIs that department answers for (``kpi_table``), and the
    score is then the CityScore of just those KPIs.
    """
    in_token, district = split_place(district)  # a page's place may be a municipality
    municipality = municipality or in_token
    table = kpi_table(settings, window, department, municipality)
    place = table["places"].get(district or "")
    if place is None:
        where = f" of municipality {municipality!r}" if municipality else ""
        raise ValueError(f"unknown district {district!r}{where}")
    kpis = place["kpis"]
    times = [k["as_of"] for k in kpis if k["as_of"]]
    return {
        "as_of": max(times) if times else None,
        "window": window,
        "district": district or None,
        "municipality": municipality,
        "window_start": table["window_start"],
        "window_end": table["window_end"],
        "city_score": {
            "value": place["score"],
            "previous": place["previous_score"],
            "trend": place["score_change"],
            "kpis_scored": sum(1 for k in kpis if k["score"] is not None),
            "kpis_total": len(kpis),
            "kpis_partial": sum(1 for k in kpis if k["score"] is not None
                                and (k.get("coverage") or {}).get("partial")),
        },
        "kpis": kpis,
    }


def coverage_columns(coverage: dict[str, Any] | None) -> dict[str, Any]:
    """A KPI's coverage as flat CSV columns."""
    coverage = coverage or {}
    return {"covered": coverage.get("covered"), "covered_of": coverage.get("total"),
            "coverage_unit": coverage.get("unit"), "partial": coverage.get("partial")}


def score_fields(score: dict[str, Any]) -> dict[str, Any]:
    """The city score of a ``queries.overview`` answer as the API's and CLI's fields."""
    return {"city_score": score["value"], "city_score_previous": score["previous"],
            "city_score_change": score["trend"], "kpis_scored": score["kpis_scored"],
            "kpis_partial": score["kpis_partial"]}


def _scores(kpis: list[dict[str, Any]]) -> dict[str, float | None]:
    """The CityScore of some KPI dicts, of their comparable previous values, and its like-
    for-like change (``scoring.score_change``)."""
    now = [k["score"] for k in kpis]
    before = [kpi_score(k["previous"], k["target"], k["direction"]) for k in kpis]
    return {"score": city_score(now), "previous_score": city_score(before),
            "score_change": score_change(zip(now, before, strict=True))}


def district_scores(settings: Settings, window: str, kpi: str | None,
                    department: str | None = None) -> dict[str, Any]:
    """Districts as a GeoJSON FeatureCollection with the city score (or one KPI's).

    ``department``: the score is the CityScore of the KPIs that department answers for.
    """
    table = kpi_table(settings, window, department)

    def compute(conn: Connection) -> list[dict[str, Any]]:
        rows = conn.execute(
            select(District.id, District.name, District.population, District.geometry)
        ).all()
        outlines = display_outlines([g for *_, g in rows])
        return [{"id": i, "name": n, "population": p, "geometry": outline,
                 "label_at": label_point(g)}
                for (i, n, p, g), outline in zip(rows, outlines, strict=True)]

    features = []
    for district in _cached(settings, "district_shapes", {}, compute, DISTRICTS):
        place = table["places"].get(district["id"], {"score": None, "kpis": []})
        chosen = next((k for k in place["kpis"] if k["id"] == kpi), None) if kpi else None
        score = place["score"]
        features.append(
            {
                "type": "Feature",
                "id": district["id"],
                "geometry": district["geometry"],
                "properties": {
                    "id": district["id"],
                    "name": district["name"],
                    "population": district["population"],
                    "score": chosen["score"] if chosen else score,
                    "value": chosen["value"] if chosen else score,
                    "unit": chosen["unit"] if chosen else "",
                    "label_at": district.get("label_at"),  # [lat, lon] (map.js)
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


def district_outlines(settings: Settings) -> dict[str, Any]:
    """Every district that has a geometry, as a GeoJSON FeatureCollection with properties
    id and name: the base layer of the maps (no tiles needed)."""

    def compute(conn: Connection) -> dict[str, Any]:
        stmt = select(District.id, District.name, District.geometry).order_by(District.id)
        rows = [row for row in conn.execute(stmt) if row.geometry]
        outlines = display_outlines([g for *_, g in rows])
        return {"type": "FeatureCollection", "features": [
            {"type": "Feature", "id": i, "geometry": outline, "properties": {"id": i, "name": n}}
            for (i, n, _), outline in zip(rows, outlines, strict=True)]}

    return _cached(settings, "district_outlines", {}, compute, DISTRICTS)


def municipality_outlines(settings: Settings) -> dict[str, Any]:
    """Each municipality's outline (the union of its districts' display outlines, so it
    runs exactly along their shared edges) as a GeoJSON FeatureCollection with properties
    id and name; empty in a single city."""

    def compute(conn: Connection) -> dict[str, Any]:
        rows = conn.execute(select(District.municipality_id, District.municipality_name,
                                   District.geometry)
                            .where(District.municipality_id.is_not(None))
                            .order_by(District.id)).all()
        if not rows:
            return {"type": "FeatureCollection", "features": []}
        outlines = display_outlines([g for *_, g in rows])
        parts: dict[str, tuple[str, list[Any]]] = {}
        for (municipality, name, _), outline in zip(rows, outlines, strict=True):
            if outline:
                parts.setdefault(str(municipality), (name or str(municipality), []))[1].append(
                    shape(outline))
        return {"type": "FeatureCollection", "features": [
            {"type": "Feature", "id": mid, "properties": {"id": mid, "name": name},
             "geometry": mapping(shapely.union_all(shapes))}
            for mid, (name, shapes) in sorted(parts.items())]}

    return _cached(settings, "municipality_outlines", {}, compute, DISTRICTS)


def asset_domains(settings: Settings) -> dict[str, int]:
    """How many located assets each domain has (for layer toggles)."""

    def compute(conn: Connection) -> dict[str, int]:
        stmt = (
            select(Asset.domain, func.count())
            .where(Asset.lat.is_not(None), Asset.lon.is_not(None))
            .group_by(Asset.domain)
        )
        return {domain: int(count) for domain, count in conn.execute(stmt)}

    return _cached(settings, "asset_domains", {}, compute, ASSETS)


def asset_layer(settings: Settings, domain: str, district: str | None) -> dict[str, Any]:
    """One domain's located assets (optionally in one district) as a GeoJSON FeatureCollection
    of points with properties id, name, type, domain, status, district_id."""

    def compute(conn: Connection) -> dict[str, Any]:
        stmt = select(
            Asset.id, Asset.name, Asset.type, Asset.status, Asset.district_id, Asset.lat,
            Asset.lon,
        ).where(Asset.domain == domain, Asset.lat.is_not(None), Asset.lon.is_not(None))
        if district:
            stmt = stmt.where(in_place(Asset.district_id, district))
        features = [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]},
                "properties": {"id": aid, "name": name, "type": atype, "domain": domain,
                               "status": status, "district_id": did},
            }
            for aid, name, atype, status, did, lat, lon in conn.execute(stmt)
            if lat is not None and lon is not None  # the query keeps located assets only
        ]
        return {"type": "FeatureCollection", "features": features}

    return _cached(settings, "asset_layer", {"domain": domain, "district": district}, compute,
                   ASSETS)


def active_alerts(
    settings: Settings, district: str | None, limit: int = 20, *,
    domain: str | None = None, severity: str | None = None, domains: set[str] | None = None,
    districts: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Open alerts, most severe and newest first, optionally of one domain (or of a
    department's ``domains``) or severity, of one district or of ``districts`` (a
    municipality's)."""
    severity_rank = case({"critical": 0, "warning": 1}, value=Alert.severity, else_=2)

    rules = load_alert_rules(settings.kpis_file)
    rule_texts = {r.rule_id: r.rule for r in rules}
    rule_units = {r.rule_id: r.unit for r in rules}

    def compute(conn: Connection) -> list[dict[str, Any]]:
        stmt = (
            select(
                Alert.id, Asset.id, Asset.name, Asset.domain, Alert.metric, Alert.rule,
                Alert.severity, Alert.raised_at, Alert.value, Alert.district_id, District.name,
            )
            .join(Asset, Asset.pk == Alert.asset_pk)
            .outerjoin(District, District.id == Alert.district_id)
            .where(Alert.cleared_at.is_(None))
            .order_by(severity_rank, Alert.raised_at.desc(), Alert.id)
        )
        if district:
            stmt = stmt.where(in_place(Alert.district_id, district))
        if districts is not None:
            stmt = stmt.where(Alert.district_id.in_(sorted(districts)))
        if domain:
            stmt = stmt.where(Asset.domain == domain)
        if severity:
            stmt = stmt.where(Alert.severity == severity)
        if domains is not None:
            stmt = stmt.where(Asset.domain.in_(sorted(domains)))
        found = [dict(zip(ALERT_FIELDS, row, strict=True))
                 for row in conn.execute(stmt.limit(limit))]
        for alert in found:
            alert["raised_at"] = alert["raised_at"].isoformat()
            alert["rule_text"] = rule_texts.get(alert["rule"], {"en": alert["rule"]})
        return [with_display(a, rule_units.get(a["rule"])) for a in found]

    params = {"district": district, "limit": limit, "domain": domain, "severity": severity,
              "domains": sorted(domains) if domains is not None else None,
              **({"districts": sorted(districts)} if districts is not None else {})}
    return _cached(settings, "active_alerts", params, compute, ALERTS)
