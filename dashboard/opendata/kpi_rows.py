"""Daily values of every KPI for the city and each district, from the KPI engine.

Each local day of the city's zone is one window (day grain: the engine reads the day
rollups and request rollups, never raw rows), from the first day with data, at most
``opendata_kpi_days`` days back, to today (partial, as its coverage says). A KPI a place
has no value for on a day gives no row.
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pyarrow as pa
from sqlalchemy import Connection, func, select

from dashboard.kpis import compute_kpi_table, load_kpis
from dashboard.kpis.windows import Window, local_midnight
from dashboard.model import RequestRollup, Rollup, ServiceRequest
from dashboard.settings import Settings

KPIS = pa.schema([
    ("date", pa.date32()), ("kpi", pa.string()), ("name_en", pa.string()),
    ("name_es", pa.string()), ("domain", pa.string()), ("place", pa.string()),
    ("district_id", pa.string()), ("value", pa.float64()), ("unit", pa.string()),
    ("target", pa.float64()), ("direction", pa.string()), ("score", pa.float64()),
    ("covered", pa.int64()), ("covered_of", pa.int64()), ("coverage_unit", pa.string()),
    ("coverage_share", pa.float64()), ("partial", pa.bool_()),
])
CITY = "city"


def first_day(conn: Connection, zone: ZoneInfo) -> date | None:
    """The local day of the oldest day rollup, request rollup or request (None: no data)."""
    starts = [conn.execute(select(func.min(Rollup.bucket)).where(Rollup.grain == "day")).scalar(),
              conn.execute(select(func.min(RequestRollup.bucket))).scalar()]
    first_request = conn.execute(select(func.min(ServiceRequest.requested_at))).scalar()
    if isinstance(first_request, datetime):
        aware = first_request if first_request.tzinfo else first_request.replace(
            tzinfo=timezone.utc)
        starts.append(int(aware.timestamp()))
    known = [int(s) for s in starts if s is not None]
    return datetime.fromtimestamp(min(known), zone).date() if known else None


def kpi_days(conn: Connection, settings: Settings) -> list[date]:
    """The local days the KPI dataset holds, oldest first."""
    zone = ZoneInfo(settings.timezone)
    today = settings.current_time().astimezone(zone).date()
    first = first_day(conn, zone)
    if first is None or first > today:
        return []
    first = max(first, today - timedelta(days=settings.opendata_kpi_days - 1))
    return [first + timedelta(days=n) for n in range((today - first).days + 1)]


def kpi_batches(conn: Connection, settings: Settings) -> Iterator[pa.RecordBatch]:
    """One batch per day: every KPI's value for the city and each district."""
    zone, kpis, now = ZoneInfo(settings.timezone), load_kpis(settings.kpis_file), \
        settings.current_time()
    for day in kpi_days(conn, settings):
        window = Window("day", local_midnight(day, zone),
                        local_midnight(day + timedelta(days=1), zone), "day", settings.timezone)
        table = compute_kpi_table(conn, kpis, window, now)
        rows = []
        for place, values in table.places.items():
            for v in values:
                if v.value is None:
                    continue
                cover = v.coverage or {}
                rows.append({
                    "date": day, "kpi": v.id, "name_en": v.name.get("en"),
                    "name_es": v.name.get("es"), "domain": v.domain,
                    "place": place or CITY, "district_id": place, "value": v.value,
                    "unit": v.unit, "target": v.target, "direction": v.direction,
                    "score": v.score, "covered": cover.get("covered"),
                    "covered_of": cover.get("total"), "coverage_unit": cover.get("unit"),
                    "coverage_share": cover.get("share"), "partial": cover.get("partial")})
        yield pa.RecordBatch.from_pylist(rows, schema=KPIS)
