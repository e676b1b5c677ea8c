"""Events that happen by the clock, not at ingest: a request passing its SLA due time
while open, and a KPI crossing its target (read from the KPI buckets, as the pages do)."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from dashboard import queries
from dashboard.kpis.scoring import target_status
from dashboard.model import District, KpiState, ServiceRequest
from dashboard.notify.events import KPI_OFF_TARGET, KPI_ON_TARGET, SLA_BREACHED, record_events
from dashboard.settings import Settings
from dashboard.store.upsert import upsert
from dashboard.store.version import get_meta, set_meta

SLA_CHECKED = "notify.sla_checked"
FIRST_LOOK_BACK = timedelta(days=1)  # a first run does not tell of every old breach
LONGEST_CATCH_UP = timedelta(days=7)


def detect_sla_breaches(conn: Connection, now: datetime) -> int:
    """Record an event for every request still open whose SLA due time passed since the
    last look (at most a week back); returns the events sent."""
    seen = get_meta(conn, SLA_CHECKED)
    since = datetime.fromisoformat(seen) if seen else now - FIRST_LOOK_BACK
    since = max(since, now - LONGEST_CATCH_UP)
    SR = ServiceRequest
    rows = conn.execute(
        select(SR.id, SR.service_code, SR.service_name, SR.department, SR.district_id,
               SR.requested_at, SR.expected_at, District.name)
        .outerjoin(District, District.id == SR.district_id)
        .where(SR.expected_at > since, SR.expected_at <= now, SR.status == "open")
    ).all()
    sent = record_events(conn, [{
        "key": f"sla:{row.id}:{row.expected_at.isoformat()}",
        "kind": SLA_BREACHED,
        "occurred_at": row.expected_at,
        "district_id": row.district_id,
        "department": row.department,
        "payload": {"request_id": row.id, "service_code": row.service_code,
                    "service_name": row.service_name, "district_name": row.name,
                    "requested_at": row.requested_at.isoformat(),
                    "expected_at": row.expected_at.isoformat()},
    } for row in rows])
    set_meta(conn, SLA_CHECKED, now.isoformat())
    return sent


def _meets(status: str | None) -> bool | None:
    return None if status is None else status == "on"


def detect_kpi_crossings(conn: Connection, settings: Settings, now: datetime) -> int:
    """Compare every KPI of the city and of each district (``notify_kpi_window``) with its
    last known standing; record an event where it crossed its target. A first standing
    is only remembered."""
    table = queries.kpi_table(settings, settings.notify_kpi_window)
    names = {d["id"]: d["name"] for d in queries.district_options(settings)}
    known = {(row.kpi, row.district_id): row.status
             for row in conn.execute(select(KpiState.kpi, KpiState.district_id,
                                            KpiState.status))}
    states: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for place, found in table["places"].items():
        for kpi in found["kpis"]:
            status = target_status(kpi.get("score"))
            if status is None:
                continue
            before = known.get((kpi["id"], place))
            if before == status:
                continue
            states.append({"kpi": kpi["id"], "district_id": place, "status": status,
                           "changed_at": now})
            if before is None or _meets(before) == _meets(status):
                continue
            kind = KPI_ON_TARGET if _meets(status) else KPI_OFF_TARGET
            events.append({
                "key": f"kpi:{kpi['id']}:{place}:{kind}:{now.isoformat()}",
                "kind": kind, "occurred_at": now, "kpi": kpi["id"],
                "district_id": place or None,
                "payload": {"name": kpi["name"], "value": kpi.get("value"),
                            "target": kpi.get("target"), "unit": kpi.get("unit"),
                            "decimals": kpi.get("decimals"), "score": kpi.get("score"),
                            "status": status, "before": before, "window": table["window"],
                            "district_name": names.get(place)},
            })
    upsert(conn, KpiState, states)
    return record_events(conn, events)
