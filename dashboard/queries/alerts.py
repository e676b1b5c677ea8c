"""The alerts page's read models: active and recent alerts with filters, and their counts.

Active alerts are found through the index on ``cleared_at``, recent ones through the index
on ``raised_at``; assets join by primary key. Nothing here reads observations.
"""
from __future__ import annotations

from typing import Any, TypeVarTuple
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Select, and_, case, func, or_, select

from dashboard.kpis import load_alert_rules
from dashboard.model import Alert, Asset, District
from dashboard.periods import Period
from dashboard.queries.base import ALERTS, cached
from dashboard.settings import Settings
from dashboard.units import with_display
from dashboard.queries.places import in_place

STATES = {"active": "Active now", "raised": "Raised in the period", "all": "Active or raised"}
ALERT_ROW_FIELDS = ("id", "asset_id", "asset_name", "asset_type", "domain", "metric", "rule",
                    "severity", "raised_at", "cleared_at", "value", "district_id",
                    "district_name")
SEVERITY_ORDER = ("critical", "warning", "info")
LIST_LIMIT = 1000
Columns = TypeVarTuple("Columns")  # a statement's column types, kept by _filtered


def _filtered(stmt: Select[*Columns], *, district: str | None, domains: set[str] | None,
              severity: str | None) -> Select[*Columns]:
    if district:
        stmt = stmt.where(in_place(Alert.district_id, district))
    if domains is not None:
        stmt = stmt.where(Asset.domain.in_(sorted(domains)))
    if severity:
        stmt = stmt.where(Alert.severity == severity)
    return stmt


def _in_state(state: str, period: Period) -> Any:
    """Active now, raised within the period, or either."""
    active = Alert.cleared_at.is_(None)
    raised = Alert.raised_at < period.end
    if period.start is not None:
        raised = and_(raised, Alert.raised_at >= period.start)
    if state == "active":
        return active
    if state == "raised":
        return raised
    return or_(active, raised)


def alert_rows(settings: Settings, period: Period, *, state: str = "all",
               district: str | None = None, domains: set[str] | None = None,
               severity: str | None = None, limit: int = LIST_LIMIT) -> dict[str, Any]:
    """Alerts in ``state`` for the filters, most severe then newest first (at most ``limit``).

    Shape: {"rows": [...ALERT_ROW_FIELDS + "rule_text", "active"], "total": n, "truncated"}.
    """
    if state not in STATES:
        raise ValueError(f"unknown state {state!r}; choose one of {', '.join(STATES)}")
    rules = load_alert_rules(settings.kpis_file)
    rule_texts = {r.rule_id: r.rule for r in rules}
    rule_units = {r.rule_id: r.unit for r in rules}
    rank = case({"critical": 0, "warning": 1}, value=Alert.severity, else_=2)

    def compute(conn: Connection) -> dict[str, Any]:
        base = (select(Alert.id, Asset.id, Asset.name, Asset.type, Asset.domain, Alert.metric,
                       Alert.rule, Alert.severity, Alert.raised_at, Alert.cleared_at,
                       Alert.value, Alert.district_id, District.name)
                .join(Asset, Asset.pk == Alert.asset_pk)
                .outerjoin(District, District.id == Alert.district_id)
                .where(_in_state(state, period)))
        base = _filtered(base, district=district, domains=domains, severity=severity)
        total = conn.execute(select(func.count()).select_from(base.subquery())).scalar_one()
        stmt = base.order_by(Alert.cleared_at.is_not(None), rank, Alert.raised_at.desc(),
                             Alert.id).limit(limit)
        rows: list[dict[str, Any]] = []
        for row in conn.execute(stmt):
            item: dict[str, Any] = dict(zip(ALERT_ROW_FIELDS, row, strict=True))
            item["active"] = item["cleared_at"] is None
            item["raised_at"] = item["raised_at"].isoformat()
            item["cleared_at"] = item["cleared_at"].isoformat() if item["cleared_at"] else None
            item["rule_text"] = rule_texts.get(item["rule"], {"en": item["rule"]})
            item["stored_unit"] = rule_units.get(item["rule"]) or ""
            rows.append(with_display(item, rule_units.get(item["rule"])))
        return {"rows": rows, "total": int(total), "truncated": int(total) > len(rows)}

    params = {"state": state, "district": district, "severity": severity, "limit": limit,
              "domains": sorted(domains) if domains is not None else None,
              **period.as_params()}
    return cached(settings, "alert_rows", params, compute, ALERTS)


def alert_counts(settings: Settings, period: Period, compared: Period | None = None, *,
                 district: str | None = None, domains: set[str] | None = None) -> dict[str, Any]:
    """Active alerts by severity, alerts raised in the period (and in ``compared``) by
    severity, and raised per local day (the city's time zone) by severity (for the chart).

    Shape: {"active": {sev: n}, "raised": {sev: n}, "raised_before": {sev: n} | None,
    "daily": [{"day": "YYYY-MM-DD", "critical": n, "warning": n, "info": n}]}.
    """

    def by_severity(conn: Connection, condition: Any) -> dict[str, int]:
        stmt = (select(Alert.severity, func.count()).join(Asset, Asset.pk == Alert.asset_pk)
                .where(condition).group_by(Alert.severity))
        stmt = _filtered(stmt, district=district, domains=domains, severity=None)
        found = dict.fromkeys(SEVERITY_ORDER, 0)
        found.update({sev: int(n) for sev, n in conn.execute(stmt)})
        return found

    def compute(conn: Connection) -> dict[str, Any]:
        result: dict[str, Any] = {
            "active": by_severity(conn, _in_state("active", period)),
            "raised": by_severity(conn, _in_state("raised", period)),
            "raised_before": (by_severity(conn, _in_state("raised", compared))
                              if compared is not None else None),
        }
        stmt = (select(Alert.raised_at, Alert.severity).join(Asset, Asset.pk == Alert.asset_pk)
                .where(_in_state("raised", period)))
        days: dict[str, dict[str, Any]] = {}
        zone = ZoneInfo(settings.timezone)
        for raised_at, severity in conn.execute(
                _filtered(stmt, district=district, domains=domains, severity=None)):
            day = raised_at.astimezone(zone).date().isoformat()  # aware UTC (UTCDateTime)
            entry = days.setdefault(day, {"day": day, **dict.fromkeys(SEVERITY_ORDER, 0)})
            entry[severity if severity in SEVERITY_ORDER else "info"] += 1
        result["daily"] = [days[d] for d in sorted(days)]
        return result

    params = {"district": district, "domains": sorted(domains) if domains is not None else None,
              **period.as_params(),
              "compared": compared.as_params() if compared is not None else None}
    return cached(settings, "alert_counts", params, compute, ALERTS)



def active_elsewhere(settings: Settings, district: str, *, domains: set[str] | None = None,
                     severity: str | None = None) -> list[dict[str, Any]]:
    """Active alerts of the same scope (a department's ``domains``, a severity) in the
    other districts, most first: where to look when the chosen district is calm.

    Shape: [{"district_id", "district_name", "count"}].
    """

    def compute(conn: Connection) -> list[dict[str, Any]]:
        count = func.count().label("n")
        stmt = (select(Alert.district_id, District.name, count)
                .join(Asset, Asset.pk == Alert.asset_pk)
                .join(District, District.id == Alert.district_id)
                .where(Alert.cleared_at.is_(None), ~in_place(Alert.district_id, district))
                .group_by(Alert.district_id, District.name)
                .order_by(count.desc(), District.name))
        stmt = _filtered(stmt, district=None, domains=domains, severity=severity)
        return [{"district_id": did, "district_name": name, "count": int(n)}
                for did, name, n in conn.execute(stmt)]

    params = {"district": district, "severity": severity,
              "domains": sorted(domains) if domains is not None else None}
    return cached(settings, "active_elsewhere", params, compute, ALERTS)
