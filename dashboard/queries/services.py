"""Read models of the service-requests page (Open311 backlog, time to close, oldest open).

Definitions (the page's hint text says the same):

- **open**: status ``open`` now. The backlog is a snapshot at "now" (to the minute),
  filtered by district, department, service and channel, never by the period.
- **overdue**: open and its SLA due time ``expected_at`` is before now; an open request
  without ``expected_at`` is never overdue.
- **received** in a period: ``requested_at`` in ``[start, end)``; **closed** in a period:
  ``closed_at`` in ``[start, end)``.
- **time to close**: ``closed_at - requested_at`` of the requests closed in the period, in
  hours; the median and 90th percentile are computed with numpy (linear interpolation)
  over that one column only.
- **closed within SLA**: share of the requests closed in the period that had a due time
  and were closed by it.

Every query filters on indexed columns (status, requested_at, closed_at, department,
service_code, (district_id, time)) and aggregates with GROUP BY in SQL.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection, case, func, select

from dashboard.model import Service, ServiceRequest
from dashboard.periods import Period, period_for
from dashboard.queries import district_options
from dashboard.queries.base import REQUESTS, cached
from dashboard.settings import Settings
from dashboard.queries.places import in_place

SR = ServiceRequest
DIMENSIONS: dict[str, str] = {  # breakdown id -> request column
    "department": "department", "service": "service_code", "district": "district_id",
    "channel": "channel"}
CHANNEL_LABELS = {"web": "Web", "app": "Mobile app", "phone": "Phone", "in_person": "In person",
                  "kiosk": "Kiosk", "email": "E-mail", "social": "Social media",
                  "unknown": "Unknown"}
NO_DISTRICT_NAME = "No district"


@dataclass(frozen=True)
class RequestScope:
    """Which requests a read model looks at (None = all)."""

    district: str | None = None
    department: str | None = None
    service: str | None = None
    channel: str | None = None

    def conditions(self) -> list[Any]:
        """SQL conditions on indexed columns (channel narrows rows the index found)."""
        found: list[Any] = []
        if self.district:
            found.append(in_place(SR.district_id, self.district))
        if self.department:
            found.append(SR.department == self.department)
        if self.service:
            found.append(SR.service_code == self.service)
        if self.channel:
            found.append(SR.channel == self.channel)
        return found

    def params(self) -> dict[str, Any]:
        return asdict(self)


def snapshot_time(settings: Settings) -> datetime:
    """"Now" for the backlog: the settings' current time, to the minute (stable cache keys)."""
    return settings.current_time().replace(second=0, microsecond=0)


def hours_to_close(conn: Connection) -> Any:
    """SQL expression: ``closed_at - requested_at`` in hours (SQLite and PostgreSQL)."""
    if conn.dialect.name == "sqlite":
        return (func.julianday(SR.closed_at) - func.julianday(SR.requested_at)) * 24.0
    return func.extract("epoch", SR.closed_at - SR.requested_at) / 3600.0


def in_period(column: Any, period: Period) -> list[Any]:
    found = [column < period.end]
    if period.start is not None:
        found.append(column >= period.start)
    return found


def _percentiles(hours: list[float]) -> tuple[float | None, float | None]:
    if not hours:
        return None, None
    values = np.asarray(hours, dtype=float)
    return float(np.median(values)), float(np.percentile(values, 90))


def period_params(period: Period) -> dict[str, Any]:
    return {"start": period.start.isoformat() if period.start else None,
            "end": period.end.isoformat()}


def _backlog(conn: Connection, scope: RequestScope, now: datetime) -> tuple[int, int]:
    overdue = func.sum(case((SR.expected_at < now, 1), else_=0))
    stmt = select(func.count(), overdue).where(SR.status == "open", *scope.conditions())
    total, late = conn.execute(stmt).one()
    return int(total or 0), int(late or 0)


def summary_for(settings: Settings, scope: RequestScope, period: Period) -> dict[str, Any]:
    """Open and overdue now; received, closed, median/p90 hours to close in ``period``."""
    now = snapshot_time(settings)

    def compute(conn: Connection) -> dict[str, Any]:
        open_now, overdue = _backlog(conn, scope, now)
        received = conn.execute(select(func.count()).where(
            *in_period(SR.requested_at, period), *scope.conditions())).scalar_one()
        hours = [float(h) for (h,) in conn.execute(select(hours_to_close(conn)).where(
            *in_period(SR.closed_at, period), *scope.conditions())) if h is not None]
        median, p90 = _percentiles(hours)
        return {"open": open_now, "overdue": overdue, "received": int(received),
                "closed": len(hours), "median_hours_to_close": median,
                "p90_hours_to_close": p90, **period_params(period)}

    return cached(settings, "services_summary",
                  {**scope.params(), **period_params(period), "now": now.isoformat()}, compute,
                  REQUESTS)


def request_summary(settings: Settings, *, district: str | None = None,
                    department: str | None = None, period: str = "30d",
                    service: str | None = None, channel: str | None = None) -> dict[str, Any]:
    """Headline numbers of the requests of a district/department over a preset period.

    Keys: open, overdue (snapshot now), received, closed, median_hours_to_close,
    p90_hours_to_close (in ``period``), start, end (ISO bounds of the period).
    """
    scope = RequestScope(district, department, service, channel)
    return summary_for(settings, scope, period_for(period, settings.current_time()))


def headline(settings: Settings, scope: RequestScope, preset: str,
             compare: str | None = None) -> dict[str, Any]:
    """``{"current": summary, "compared": summary or None}`` for the page's headline."""
    period = period_for(preset, settings.current_time())
    other = period.compared(compare)
    return {"current": summary_for(settings, scope, period),
            "compared": summary_for(settings, scope, other) if other else None,
            "compare": compare if other else None}


def service_options(settings: Settings) -> list[dict[str, Any]]:
    """The service catalogue: ``{"id", "name", "department", "sla_hours"}`` by name."""

    def compute(conn: Connection) -> list[dict[str, Any]]:
        stmt = select(Service.service_code, Service.service_name, Service.department,
                      Service.sla_hours)
        rows = [{"id": c, "name": n or c, "department": d, "sla_hours": s}
                for c, n, d, s in conn.execute(stmt)]
        return sorted(rows, key=lambda r: r["name"].casefold())

    return cached(settings, "services_service_options", {}, compute, REQUESTS)


def channel_options(settings: Settings) -> list[dict[str, str]]:
    """Channels requests arrived by (``{"id", "name"}``); one cached DISTINCT per version."""

    def compute(conn: Connection) -> list[dict[str, str]]:
        found = sorted(c for (c,) in conn.execute(select(SR.channel).distinct()) if c)
        return [{"id": c, "name": channel_label(c)} for c in found]

    return cached(settings, "services_channel_options", {}, compute, REQUESTS)


def channel_label(channel: str) -> str:
    """Human name of a channel (``in_person`` -> ``In person``)."""
    return CHANNEL_LABELS.get(channel, channel.replace("_", " ").capitalize())


def _names(settings: Settings, dimension: str) -> dict[str, str]:
    if dimension == "service":
        return {s["id"]: s["name"] for s in service_options(settings)}
    if dimension == "district":
        return {d["id"]: d["name"] for d in district_options(settings)}
    if dimension == "channel":
        return {c["id"]: c["name"] for c in channel_options(settings)}
    return {}


def breakdowns(settings: Settings, scope: RequestScope,
               preset: str) -> dict[str, list[dict[str, Any]]]:
    """Per department, service, district and channel: open, overdue (now), received,
    closed, median hours to close and share closed within SLA (in the period).

    One GROUP BY over the four dimensions for the backlog and one for received; the
    closed requests of the period are read once (dimensions + hours) for the medians.
    """
    now = snapshot_time(settings)
    period = period_for(preset, settings.current_time())
    dims = [getattr(SR, column) for column in DIMENSIONS.values()]

    def compute(conn: Connection) -> dict[str, list[dict[str, Any]]]:
        tallies: dict[str, dict[str, dict[str, Any]]] = {d: {} for d in DIMENSIONS}

        def add(keys: tuple[Any, ...], **counts: Any) -> None:
            for dimension, key in zip(DIMENSIONS, keys, strict=True):
                row = tallies[dimension].setdefault(key or "", {
                    "open": 0, "overdue": 0, "received": 0, "hours": [], "sla": []})
                for name, value in counts.items():
                    if name in ("hours", "sla"):
                        row[name].append(value)
                    else:
                        row[name] += int(value or 0)

        late = func.sum(case((SR.expected_at < now, 1), else_=0))
        backlog = (select(*dims, func.count(), late)
                   .where(SR.status == "open", *scope.conditions()).group_by(*dims))
        for *keys, total, overdue in conn.execute(backlog):
            add(tuple(keys), open=total, overdue=overdue)
        received = (select(*dims, func.count())
                    .where(*in_period(SR.requested_at, period), *scope.conditions())
                    .group_by(*dims))
        for *keys, total in conn.execute(received):
            add(tuple(keys), received=total)
        in_sla = case((SR.expected_at.is_(None), None),
                      (SR.closed_at <= SR.expected_at, 1), else_=0)
        closed = select(*dims, hours_to_close(conn), in_sla).where(
            *in_period(SR.closed_at, period), *scope.conditions())
        for *keys, hours, sla in conn.execute(closed):
            add(tuple(keys), hours=float(hours), sla=sla)
        return {dimension: _rows(settings, dimension, found)
                for dimension, found in tallies.items()}

    return cached(settings, "services_breakdowns",
                  {**scope.params(), "preset": preset, **period_params(period),
                   "now": now.isoformat()}, compute, REQUESTS)


def _rows(settings: Settings, dimension: str,
          found: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    names = _names(settings, dimension)
    rows = []
    for key, tally in found.items():
        median, _ = _percentiles(tally["hours"])
        judged = [s for s in tally["sla"] if s is not None]
        name = names.get(key) or (channel_label(key) if dimension == "channel" else key)
        if dimension == "district" and not key:
            name = NO_DISTRICT_NAME
        rows.append({"id": key, "name": name, "open": tally["open"],
                     "overdue": tally["overdue"], "received": tally["received"],
                     "closed": len(tally["hours"]),
                     "median_hours_to_close": round(median, 2) if median is not None else None,
                     "closed_within_sla": round(sum(judged) / len(judged), 4) if judged else None})
    return sorted(rows, key=lambda r: (-r["open"], -r["received"], r["name"].casefold()))


OLDEST_FIELDS = ("id", "service_code", "service_name", "district_id", "channel",
                 "requested_at", "expected_at", "description")


def oldest_open(settings: Settings, *, district: str | None = None,
                department: str | None = None, service: str | None = None,
                channel: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
    """The ``limit`` oldest open requests (by ``requested_at``), without personal data.

    Each: id, service_code, service_name, district_id, district_name, channel,
    requested_at, expected_at (ISO), age_days, overdue_hours (> 0 overdue, < 0 due in,
    None without a due time) and description (citizen free text: show it as text only).
    Never citizen_id, names, contact or address.
    """
    scope = RequestScope(district, department, service, channel)
    now = snapshot_time(settings)

    def compute(conn: Connection) -> list[dict[str, Any]]:
        stmt = (select(*(getattr(SR, f) for f in OLDEST_FIELDS))
                .where(SR.status == "open", *scope.conditions())
                .order_by(SR.requested_at, SR.id).limit(limit))
        districts = {d["id"]: d["name"] for d in district_options(settings)}
        services = {s["id"]: s["name"] for s in service_options(settings)}
        found = []
        for row in conn.execute(stmt):
            item = dict(zip(OLDEST_FIELDS, row, strict=True))
            requested, due = item["requested_at"], item["expected_at"]
            item["service_name"] = item["service_name"] or services.get(item["service_code"], "")
            item["district_name"] = districts.get(item["district_id"] or "", NO_DISTRICT_NAME)
            item["age_days"] = round((now - requested).total_seconds() / 86400, 1)
            item["overdue_hours"] = (round((now - due).total_seconds() / 3600, 1)
                                     if due is not None else None)
            item["requested_at"] = requested.isoformat()
            item["expected_at"] = due.isoformat() if due is not None else None
            found.append(item)
        return found

    return cached(settings, "services_oldest_open",
                  {**scope.params(), "limit": limit, "now": now.isoformat()}, compute,
                  REQUESTS)

