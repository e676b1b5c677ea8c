"""The KPI engine: every KPI for the city and each district over a window, with the
previous window for trend, freshness, sources, sparklines and the city score."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, select

from dashboard.kpis.definitions import KpiDefinition
from dashboard.kpis.requests import case_results, request_results
from dashboard.kpis.scoring import (
    change_improving,
    city_score,
    kpi_change,
    kpi_score,
    relative_change,
)
from dashboard.kpis.sources import SourceResult, rollup_results
from dashboard.kpis.windows import Window
from dashboard.model import Asset, District


def _iso(epoch: int | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat()


@dataclass
class KpiValue:
    """One KPI's value for one place (the city or a district) and one window.

    ``coverage`` is the share of the window its data covers (``Coverage.as_dict``);
    ``previous`` is only given when the previous window was covered enough to compare;
    ``change`` / ``change_unit`` say how it moved: percentage points ("pp") for a KPI in %,
    relative ("%", as a fraction) otherwise, or in the KPI's unit from a near-zero base;
    ``trend`` is the relative change (None from a near-zero base).
    ``no_source``: the place has no asset of the kind the KPI reads (a district without an
    air-quality station, for an air KPI), so it has no value to wait for and is never
    ``stale``; a place whose asset stopped reporting is stale.
    """

    id: str
    name: dict[str, str]
    domain: str
    unit: str
    target: float
    direction: str
    decimals: int
    value: float | None
    previous: float | None
    score: float | None
    trend: float | None
    improving: bool | None
    as_of: str | None
    stale: bool
    sources: list[str]
    spark: list[dict[str, Any]] = field(default_factory=list)
    coverage: dict[str, Any] | None = None
    change: float | None = None
    change_unit: str | None = None
    no_source: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class KpiTable:
    """All KPI values for one window: ``places[None]`` is the city, else a district id."""

    window: Window
    places: dict[str | None, list[KpiValue]]

    def for_place(self, district: str | None) -> list[KpiValue]:
        """The KPI values of the city (None) or one district (empty when unknown)."""
        return self.places.get(district, [])

    def score(self, district: str | None, *, previous: bool = False) -> float | None:
        """The city score of a place (Boston CityScore: mean of the scores of the KPIs that
        have a value); with ``previous``, of the comparable previous values."""
        values = self.for_place(district)
        if not previous:
            return city_score(v.score for v in values)
        return city_score(kpi_score(v.previous, v.target, v.direction) for v in values)


def _sources_of(kpi: KpiDefinition) -> list[str]:
    if kpi.source == "rollups":
        return [f"observations:{kpi.metric}"]
    return [kpi.source]


def _value_for(
    kpi: KpiDefinition, raw: SourceResult, key: str | None, now: int, has_source: bool = True
) -> KpiValue:
    value = raw.current.get(key)
    previous = raw.previous.get(key)
    trend = relative_change(value, previous, kpi.target)
    change, change_unit = kpi_change(value, previous, kpi.unit, kpi.target)
    coverage = raw.coverage.get(key)
    as_of = raw.as_of.get(key)
    stale = has_source and (as_of is None or now - as_of > kpi.stale_after_hours * 3600)
    return KpiValue(
        id=kpi.id,
        name=dict(kpi.name),
        domain=kpi.domain,
        unit=kpi.unit,
        target=kpi.target,
        direction=kpi.direction,
        decimals=kpi.decimals,
        value=value,
        previous=previous,
        score=kpi_score(value, kpi.target, kpi.direction),
        trend=trend,
        improving=change_improving(change, change_unit, kpi.direction, kpi.decimals),
        as_of=_iso(as_of),
        stale=stale,
        sources=_sources_of(kpi),
        spark=[{"t": _iso(t), "v": v} for t, v in raw.spark.get(key, [])],
        coverage=None if coverage is None else coverage.as_dict(),
        change=change,
        change_unit=change_unit,
        no_source=not has_source,
    )


def source_type(kpi: KpiDefinition) -> str | None:
    """The kind of asset (FIWARE type) a KPI reads: its metric's ``Type`` for a rollup KPI;
    None for request and case KPIs (any place can have requests)."""
    if kpi.source != "rollups" or not kpi.metric:
        return None
    return kpi.metric.split(".", 1)[0]


def places_with_assets(conn: Connection, types: set[str],
                       within: Sequence[str] | None = None) -> dict[str, set[str | None]]:
    """For each asset type, the districts with at least one such asset, and None (the city,
    or the districts ``within``) when there is one anywhere there. One indexed query."""
    found: dict[str, set[str | None]] = {t: set() for t in types}
    if not types:
        return found
    stmt = select(Asset.type, Asset.district_id).where(Asset.type.in_(types))
    if within is not None:
        stmt = stmt.where(Asset.district_id.in_(within))
    rows = conn.execute(stmt.distinct())
    for kind, district in rows:
        found[kind].update({None, district})
    return found


def district_populations(conn: Connection) -> dict[str, int]:
    """Population of every district, by id."""
    return {d: int(p or 0) for d, p in conn.execute(select(District.id, District.population))}


def compute_kpi_table(
    conn: Connection,
    kpis: Sequence[KpiDefinition],
    window: Window,
    now: datetime,
    department: str | None = None,
    within: Sequence[str] | None = None,
) -> KpiTable:
    """Compute every KPI for the city and each district over ``window``; with
    ``department``, its request and case KPIs count that department's requests and cases
    only (sensor KPIs are the same for every department). With ``within`` (a
    municipality's districts), of those districts only: ``places[None]`` is then their
    whole, computed as the city is from its districts."""
    populations = district_populations(conn)
    inside = None if within is None else tuple(sorted(within))
    if inside is not None:
        populations = {d: p for d, p in populations.items() if d in set(inside)}
    by_source: dict[str, list[KpiDefinition]] = {}
    for kpi in kpis:
        by_source.setdefault(kpi.source, []).append(kpi)
    raw: dict[str, SourceResult] = {}
    raw.update(rollup_results(
        conn, by_source.get("rollups", []), window, populations, int(now.timestamp()), inside
    ))
    now_epoch = int(now.timestamp())
    raw.update(request_results(conn, by_source.get("service_requests", []), window, populations,
                               now_epoch, department, inside))
    raw.update(case_results(conn, by_source.get("cases", []), window, populations, now_epoch,
                            department, inside))
    kinds = {k.id: source_type(k) for k in kpis}
    located = places_with_assets(conn, {t for t in kinds.values() if t}, inside)

    def has_source(kpi: KpiDefinition, key: str | None) -> bool:
        kind = kinds[kpi.id]
        return kind is None or key in located[kind]

    places: dict[str | None, list[KpiValue]] = {}
    # a window that ended in the past is fresh if its data reached near its end
    fresh_at = min(now_epoch, window.end)
    for key in [None, *sorted(populations)]:
        places[key] = [_value_for(k, raw.get(k.id, SourceResult()), key, fresh_at,
                                  has_source(k, key)) for k in kpis]
    return KpiTable(window=window, places=places)
