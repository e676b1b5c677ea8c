"""Read model of the domains index: per domain, its assets, open alerts and KPI status."""
from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from dashboard.model import DOMAINS, Alert, Asset
from dashboard.queries import district_outlines, overview
from dashboard.queries.base import cached
from dashboard.queries.departments import department_domains
from dashboard.settings import Settings
from dashboard.queries.places import in_place


def domain_allowed(settings: Settings, domain: str, department: str | None) -> bool:
    """Whether a department (None = every department) is responsible for ``domain``."""
    domains = department_domains(settings, department)
    return domains is None or domain in domains


def domain_counts(settings: Settings, district: str | None) -> dict[str, dict[str, int]]:
    """``{domain: {"assets": n, "open_alerts": n}}`` for the city or one district."""

    def compute(conn: Connection) -> dict[str, dict[str, int]]:
        assets = select(Asset.domain, func.count()).group_by(Asset.domain)
        alerts = (select(Asset.domain, func.count()).select_from(Alert)
                  .join(Asset, Asset.pk == Alert.asset_pk)
                  .where(Alert.cleared_at.is_(None)).group_by(Asset.domain))
        if district:
            assets = assets.where(in_place(Asset.district_id, district))
            alerts = alerts.where(in_place(Asset.district_id, district))
        found = {d: {"assets": 0, "open_alerts": 0} for d in DOMAINS}
        for domain, count in conn.execute(assets):
            found.setdefault(domain, {"assets": 0, "open_alerts": 0})["assets"] = int(count)
        for domain, count in conn.execute(alerts):
            found.setdefault(domain, {"assets": 0, "open_alerts": 0})["open_alerts"] = int(count)
        return found

    return cached(settings, "domain_counts", {"district": district}, compute)


def mean_score(kpis: list[dict[str, Any]]) -> float | None:
    """The average score of the KPIs that have one (CityScore style), or None."""
    scores = [k["score"] for k in kpis if k.get("score") is not None]
    return sum(scores) / len(scores) if scores else None


def domain_index(settings: Settings, district: str | None, department: str | None,
                 window: str) -> list[dict[str, Any]]:
    """One entry per domain the department sees (all without one), in ``DOMAINS`` order:
    ``{"domain", "assets", "open_alerts", "kpis": [KPI dicts], "score"}``; the request KPIs
    of a department count its own requests (``queries.kpi_table``)."""
    counts = domain_counts(settings, district)
    kpis = overview(settings, district, window, department)["kpis"]
    visible = department_domains(settings, department)
    entries = []
    for domain in DOMAINS:
        if visible is not None and domain not in visible:
            continue
        own = [k for k in kpis if k.get("domain") == domain]
        entries.append({"domain": domain, **counts.get(domain, {"assets": 0, "open_alerts": 0}),
                        "kpis": own, "score": mean_score(own)})
    return entries


def district_shapes(settings: Settings) -> dict[str, Any]:
    """The districts as a GeoJSON FeatureCollection (id and name), the maps' base layer."""
    return district_outlines(settings)
