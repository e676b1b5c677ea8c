"""Daily values of every KPI for the city, each municipality of a metropolitan deployment
(place ``municipality:<id>``) and each district, from the KPI engine.

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
from dashboard.kpis.engine import KpiValue
from dashboard.model import District, RequestRollup, Rollup, ServiceRequest
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


def municipalities(conn: Connection) -> dict[str, list[str]]:
    """Each municipality's district ids (none in a single city)."""
    found: dict[str, list[str]] = {}
    stmt = (select(District.municipality_id, District.id)
            .where(District.municipality_id.is_not(None)).order_by(District.id))
    for municipality, district in conn.execute(stmt):
        found.setdefault(str(municipality), []).append(district)
    return found


def _rows(day: date, places: dict[str | None, list[KpiValue]],
          municipality: str | None = None) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for place, values in places.items():
        if municipality is not None and place is not None:
            continue  # its districts' rows come from the city's table
        for v in values:
            if v.value is None:
                continue
            cover = v.coverage or {}
            rows.append({
                "date": day, "kpi": v.id, "name_en": v.name.get("en"),
                "name_es": v.name.get("es"), "domain": v.domain,
                "place": f"municipality:{municipality}" if municipality else place or CITY,
                "district_id": place, "value": v.value,
                "unit": v.unit, "target": v.target, "direction": v.direction,
                "score": v.score, "covered": cover.get("covered"),
                "covered_of": cover.get("total"), "coverage_unit": cover.get("unit"),
                "coverage_share": cover.get("share"), "partial": cover.get("partial")})
    return rows


def kpi_batches(conn: Connection, settings: Settings) -> Iterator[pa.RecordBatch]:
    """One batch per day: every KPI's value for the city, each municipality and each
    district."""
    zone, kpis, now = ZoneInfo(settings.timezone), load_kpis(settings.kpis_file), \
        settings.current_time()
    parents = municipalities(conn)
    for day in kpi_days(conn, settings):
        window = Window("day", local_midnight(day, zone),
                        local_midnight(day + timedelta(days=1), zone), "day", settings.timezone)
        rows = _rows(day, compute_kpi_table(conn, kpis, window, now).places)
        for municipality, districts in parents.items():
            table = compute_kpi_table(conn, kpis, window, now, within=districts)
            rows += _rows(day, table.places, municipality)
        yield pa.RecordBatch.from_pylist(rows, schema=KPIS)
