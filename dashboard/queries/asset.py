"""The asset drill-down's read models: one asset, its metrics, thresholds and alerts.

Nothing here scans an asset's readings: its metrics and their latest readings are its rows
of ``latest_readings`` (kept by ingest; one seek, however long its history), and alerts are read through ``ux_alert`` (which starts with ``asset_pk``).
The resampled time series live in ``dashboard.queries.asset_series``.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, or_, select

from dashboard.kpis import load_alert_rules
from dashboard.model import Alert, Asset, District, LatestReading
from dashboard.periods import period_for
from dashboard.queries.asset_series import epoch
from dashboard.queries.base import cached
from dashboard.settings import Settings

ALERT_LIMIT = 200  # alerts listed for one asset and period (newest first)


def rule_metric(asset_type: str, metric: str) -> str:
    """The ``Type.attribute`` name alert rules and rollups use for an asset's metric."""
    return f"{asset_type}.{metric}"


def metric_names(conn: Connection, pk: int) -> list[str]:
    """The metrics the asset has reported (``latest_readings``: one row each)."""
    return list(conn.execute(select(LatestReading.metric).where(LatestReading.asset_pk == pk)
                             .order_by(LatestReading.metric)).scalars())


def latest_reading(conn: Connection, pk: int, metric: str) -> dict[str, Any] | None:
    """``{metric, value, unit, time}`` of the newest reading (one seek of
    ``latest_readings``)."""
    latest = LatestReading
    row = conn.execute(select(latest.time, latest.value, latest.unit)
                       .where(latest.asset_pk == pk, latest.metric == metric)).first()
    if row is None:
        return None
    return {"metric": metric, "value": float(row.value), "unit": row.unit or "",
            "time": int(row.time)}


def flatten_attributes(attributes: dict[str, Any] | None, prefix: str = "") -> list[list[str]]:
    """``[[name, text], ...]``: nested dicts flattened as ``address.streetAddress``."""
    rows: list[list[str]] = []
    for key, value in sorted((attributes or {}).items()):
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            rows.extend(flatten_attributes(value, f"{name}."))
        elif isinstance(value, bool):
            rows.append([name, "yes" if value else "no"])
        elif isinstance(value, list):
            rows.append([name, ", ".join(str(v) for v in value)])
        else:
            rows.append([name, "" if value is None else str(value)])
    return rows


def find_asset(conn: Connection, asset_id: str) -> dict[str, Any] | None:
    """The asset with this public id, with its district's name and polygon (or None)."""
    row = conn.execute(
        select(Asset.pk, Asset.id, Asset.type, Asset.domain, Asset.name, Asset.lat, Asset.lon,
               Asset.district_id, Asset.status, Asset.attributes, Asset.source_id,
               Asset.last_seen, District.name.label("district_name"), District.geometry)
        .outerjoin(District, District.id == Asset.district_id).where(Asset.id == asset_id)
    ).first()
    if row is None:
        return None
    return {
        "pk": row.pk, "id": row.id, "type": row.type, "domain": row.domain,
        "name": row.name or row.id, "lat": row.lat, "lon": row.lon,
        "district_id": row.district_id, "district_name": row.district_name,
        "district_geometry": row.geometry, "status": row.status or "unknown",
        "attributes": flatten_attributes(row.attributes), "source_id": row.source_id,
        "last_seen": row.last_seen.isoformat() if row.last_seen else None,
    }


def asset_detail(settings: Settings, asset_id: str) -> dict[str, Any] | None:
    """Everything the page head shows: the asset (see ``find_asset``) plus ``metrics``,
    one ``{metric, value, unit, time}`` per metric, and ``open_alerts`` (the severity of
    each active alert); None for an unknown id."""

    def compute(conn: Connection) -> dict[str, Any] | None:
        found = find_asset(conn, asset_id)
        if found is None:
            return None
        readings = [latest_reading(conn, found["pk"], m) for m in metric_names(conn, found["pk"])]
        open_alerts = conn.execute(select(Alert.severity).where(
            Alert.asset_pk == found["pk"], Alert.cleared_at.is_(None))).scalars().all()
        return {**found, "metrics": [r for r in readings if r is not None],
                "open_alerts": list(open_alerts)}

    return cached(settings, "asset_detail", {"asset": asset_id}, compute)


def thresholds(settings: Settings, asset_type: str, metric: str) -> list[dict[str, Any]]:
    """The alert rules of ``data/kpis.yaml`` on this metric: ``{rule_id, operator,
    threshold, severity, rule}`` (``rule`` = names per language), most severe first."""
    full = rule_metric(asset_type, metric)
    order = {"critical": 0, "warning": 1, "info": 2}
    found = [{"rule_id": r.rule_id, "operator": ">" if r.above is not None else "<",
              "threshold": r.above if r.above is not None else r.below,
              "severity": r.severity, "rule": dict(r.rule)}
             for r in load_alert_rules(settings.kpis_file) if r.metric == full]
    return sorted(found, key=lambda t: (order.get(t["severity"], 3), t["threshold"]))


def alerts_between(conn: Connection, pk: int, start: datetime | None,
                   end: datetime) -> list[dict[str, Any]]:
    """The asset's alerts active at some time in [start, end) (raised before ``end`` and
    not cleared before ``start``), newest first, at most ``ALERT_LIMIT``."""
    al = Alert
    stmt = (select(al.id, al.metric, al.rule, al.severity, al.raised_at, al.cleared_at,
                   al.value).where(al.asset_pk == pk, al.raised_at < end)
            .order_by(al.raised_at.desc(), al.id.desc()).limit(ALERT_LIMIT))
    if start is not None:
        stmt = stmt.where(or_(al.cleared_at.is_(None), al.cleared_at >= start))
    return [{"id": i, "metric": metric, "rule": rule, "severity": severity,
             "raised_at": raised.isoformat(), "cleared_at": cleared.isoformat() if cleared
             else None, "value": float(value)}
            for i, metric, rule, severity, raised, cleared, value in conn.execute(stmt)]


def asset_alerts(settings: Settings, asset_id: str, preset: str) -> list[dict[str, Any]]:
    """The asset's alerts during the period preset, each with ``rule_text`` (names per
    language from ``data/kpis.yaml``, the stored rule id when the rule is gone)."""
    period = period_for(preset, settings.current_time())
    texts = {r.rule_id: dict(r.rule) for r in load_alert_rules(settings.kpis_file)}

    def compute(conn: Connection) -> list[dict[str, Any]]:
        pk = conn.execute(select(Asset.pk).where(Asset.id == asset_id)).scalar()
        return [] if pk is None else alerts_between(conn, pk, period.start, period.end)

    found = cached(settings, "asset_alerts",
                   {"asset": asset_id, "preset": preset, "end": epoch(period.end)}, compute)
    return [{**a, "rule_text": texts.get(a["rule"], {"en": a["rule"]})} for a in found]
