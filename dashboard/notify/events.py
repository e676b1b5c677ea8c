"""Events worth telling, each recorded once (its ``key``), whoever notices it first.

Alerts raised and cleared are recorded by ``dashboard.alerts`` in the ingest's own
transaction: an alert and its event are committed together or not at all.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, bindparam, select

from dashboard.model import Asset, NotificationEvent
from dashboard.store.upsert import upsert

ALERT_RAISED, ALERT_CLEARED = "alert_raised", "alert_cleared"
SLA_BREACHED = "sla_breached"
KPI_OFF_TARGET, KPI_ON_TARGET = "kpi_off_target", "kpi_on_target"
EVENT_KINDS = (ALERT_RAISED, ALERT_CLEARED, SLA_BREACHED, KPI_OFF_TARGET, KPI_ON_TARGET)


@dataclass
class AlertChange:
    """An alert raised or cleared by a batch (``dashboard.alerts.evaluate_alerts``)."""

    alert_id: int
    kind: str  # ALERT_RAISED | ALERT_CLEARED
    at: datetime
    asset_pk: int
    rule: str
    metric: str
    severity: str
    value: float
    district_id: str | None
    extra: dict[str, Any] = field(default_factory=dict)


def record_events(conn: Connection, rows: Iterable[dict[str, Any]],
                  now: datetime | None = None) -> int:
    """Insert events, skipping any whose key is already recorded; returns rows sent."""
    created = now or datetime.now(timezone.utc)
    prepared = [{"occurred_at": created, "rule": None, "kpi": None, "district_id": None,
                 "department": None, "domain": None, "severity": None, "payload": {},
                 **row, "created_at": created, "matched_at": None} for row in rows]
    if not prepared:
        return 0
    return upsert(conn, NotificationEvent, prepared, key=["key"], update=False)


def record_alert_changes(conn: Connection, changes: list[AlertChange]) -> int:
    """Events for alerts a batch raised or cleared, with their asset's name and domain."""
    if not changes:
        return 0
    assets = {row.pk: row for row in conn.execute(
        select(Asset.pk, Asset.id, Asset.name, Asset.domain, Asset.type)
        .where(Asset.pk.in_(bindparam("pks", expanding=True))),
        {"pks": sorted({c.asset_pk for c in changes})})}
    rows = []
    for change in changes:
        asset = assets.get(change.asset_pk)
        rows.append({
            "key": f"{change.kind}:{change.alert_id}",
            "kind": change.kind,
            "occurred_at": change.at,
            "rule": change.rule,
            "district_id": change.district_id,
            "domain": asset.domain if asset else None,
            "severity": change.severity,
            "payload": {"alert_id": change.alert_id, "metric": change.metric,
                        "value": change.value,
                        "asset_id": asset.id if asset else None,
                        "asset_name": asset.name if asset else None,
                        "asset_type": asset.type if asset else None},
        })
    return record_events(conn, rows)
