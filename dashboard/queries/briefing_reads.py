"""Read models only the briefing needs (``dashboard.briefing``): alerts cleared in a period.

Alerts raised in a period and active now are ``dashboard.queries.alerts.alert_counts``;
cleared ones are found through the index on ``cleared_at``.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from dashboard.model import Alert, Asset
from dashboard.periods import Period
from dashboard.queries.alerts import SEVERITY_ORDER, _filtered
from dashboard.queries.base import ALERTS, cached
from dashboard.settings import Settings


def alerts_cleared(settings: Settings, period: Period, *, district: str | None = None,
                   domains: set[str] | None = None) -> dict[str, int]:
    """Alerts cleared within ``period`` by severity (of one district, of a department's
    ``domains``): ``{"critical": n, "warning": n, "info": n}``."""

    def compute(conn: Connection) -> dict[str, int]:
        stmt = (select(Alert.severity, func.count()).join(Asset, Asset.pk == Alert.asset_pk)
                .where(Alert.cleared_at < period.end).group_by(Alert.severity))
        if period.start is not None:
            stmt = stmt.where(Alert.cleared_at >= period.start)
        stmt = _filtered(stmt, district=district, domains=domains, severity=None)
        found = dict.fromkeys(SEVERITY_ORDER, 0)
        for severity, count in conn.execute(stmt):
            key = severity if severity in found else "info"
            found[key] += int(count)
        return found

    params: dict[str, Any] = {"district": district, **period.as_params(),
                              "domains": sorted(domains) if domains is not None else None}
    return cached(settings, "alerts_cleared", params, compute, ALERTS)
