"""The naive way to fill the overview's sensor KPIs: pandas over raw observations.

What a first version of the page would do: ``pd.read_sql`` of the observations of the
window and the previous window (the KPI metrics only, filtered in SQL — the fairer
version: a page loading the whole table would be slower still), joined to their assets'
type and district, then groupby district. Like the rollups, a row counts in a window when
its bucket (UTC hour, or local day for month and quarter) starts inside it. It yields, for
every rollup-based KPI, the same numbers the KPI engine gives (value, previous value,
freshness, sparkline), so the two are checked equal before their times are compared.
"""
from __future__ import annotations

import math
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import pandas as pd
from sqlalchemy import Connection, bindparam, text

from dashboard.kpis.coverage import span_coverage
from dashboard.kpis.definitions import KpiDefinition
from dashboard.kpis.engine import KpiTable
from dashboard.kpis.windows import Window

HOUR = 3600
DAY = 86400
# {kpi id: {place ("" is the city): {"value", "previous", "as_of", "spark"}}}
Comparable = dict[str, dict[str, dict[str, Any]]]


def _iso(epoch: int | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, timezone.utc).isoformat()


def _finite(value: float | None) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def read_observations(
    conn: Connection, kpis: Sequence[KpiDefinition], window: Window
) -> pd.DataFrame:
    """Raw observations of the KPI metrics over the window and the previous one."""
    types = sorted({k.metric.split(".", 1)[0] for k in kpis if k.metric})
    attrs = sorted({k.metric.split(".", 1)[1] for k in kpis if k.metric})
    query = text(
        "SELECT a.type, a.district_id AS district, o.metric, o.time, o.value "
        "FROM observations o JOIN assets a ON a.pk = o.asset_pk "
        "WHERE o.time >= :start AND o.time < :end AND o.metric IN :attrs AND a.type IN :types"
    ).bindparams(bindparam("attrs", expanding=True), bindparam("types", expanding=True))
    # A day bucket starting before the previous window's start can still hold rows after it.
    start = window.previous().start - (DAY if window.grain == "day" else 0)
    params = {"start": start, "end": window.end, "attrs": attrs, "types": types}
    return pd.read_sql(query, conn, params=params)


def _bucket(times: pd.Series, grain: str, tz: str) -> pd.Series:
    """Start of each time's rollup bucket: the UTC hour, or the local day."""
    if grain == "hour":
        return times - times % HOUR
    local = pd.to_datetime(times, unit="s", utc=True).dt.tz_convert(tz).dt.normalize()
    return local.dt.tz_convert("UTC").dt.as_unit("s").astype("int64")


def _reduce(kpi: KpiDefinition, count: float, total: float, population: int,
            days: float) -> float | None:
    if kpi.aggregation == "mean":
        return _finite(total / count * kpi.scale) if count else None
    if not population or not days:
        return None
    return _finite(total * kpi.scale / population / days)


def _population(place: str, rows: pd.DataFrame, populations: dict[str, int]) -> int:
    """A district's population; the city's is that of the districts with readings in
    ``rows`` (every district when none has one), the rule the KPI engine follows."""
    if place:
        return populations.get(place, 0)
    present = [populations[d] for d in set(rows["district"]) if d in populations]
    return sum(present) if present else sum(populations.values())


def _place_values(kpi: KpiDefinition, rows: pd.DataFrame | None,
                  populations: dict[str, int], place: str, window: Window,
                  now: int) -> dict[str, Any]:
    """Value, previous value and sparkline of one KPI for one place.

    The place's data covers the window from its first bucket to the end of its newest (or
    ``now``); a per-day KPI divides by that time, and the previous window is compared with
    only when covered enough, the rules the KPI engine follows.
    """
    entry: dict[str, Any] = {"value": None, "previous": None, "as_of": None, "spark": []}
    if rows is None or rows.empty:
        return entry  # no rows: every field stays empty
    counted = rows[rows["counted"]]
    current = counted[counted["current"]]
    earlier = counted[~counted["current"]]
    width = DAY if window.grain == "day" else HOUR
    previous = window.previous()
    first = float(counted["bucket"].min()) if len(counted) else None
    last = float(min(int(counted["bucket"].max()) + width, now)) if len(counted) else float(now)
    for name, part, span in (("value", current, window), ("previous", earlier, previous)):
        seconds, coverage = span_coverage(first, last, span.start, span.end, window.grain)
        if len(part) and (name == "value" or coverage.comparable):
            entry[name] = _reduce(kpi, len(part), part["value"].sum(),
                                  _population(place, part, populations), seconds / DAY)
    population = _population(place, current, populations)
    spark = current.groupby("bucket", sort=True)["value"].agg(["count", "sum"])
    for bucket, count, total in zip(spark.index, spark["count"], spark["sum"], strict=True):
        days = min(max(now - int(bucket), 1), width) / DAY  # the last bucket may be partial
        value = _reduce(kpi, count, total, population, days)
        if value is not None:
            entry["spark"].append([_iso(int(bucket)), value])
    return entry


def _freshness(part: pd.DataFrame, window: Window) -> dict[str, int]:
    """Newest data time per place: the newest hour (+1 h) for the city and for districts
    that reported within 48 hours of it; else the newest bucket's end in the window."""
    if part.empty:
        return {}
    newest = int(part["hour"].max())
    found = {"": newest + HOUR}
    width = DAY if window.grain == "day" else HOUR
    for district, rows in part.groupby("district"):
        if district == "":
            continue
        recent = rows["hour"].max()
        if recent >= newest - 48 * HOUR:
            found[str(district)] = int(recent) + HOUR
        elif rows["counted"].any():
            found[str(district)] = min(int(rows.loc[rows["counted"], "bucket"].max()) + width,
                                       window.end)
    return found


def naive_values(
    conn: Connection, kpis: Sequence[KpiDefinition], window: Window, tz: str, now: int
) -> dict[str, Any]:
    """Every rollup-based KPI from raw observations; returns values, rows read, DB time."""
    kpis = [k for k in kpis if k.source == "rollups"]
    started = time.perf_counter()
    frame = read_observations(conn, kpis, window)
    districts = pd.read_sql(text("SELECT id, population FROM districts"), conn)
    db_seconds = time.perf_counter() - started
    populations = {
        str(i): int(p or 0)
        for i, p in zip(districts["id"], districts["population"], strict=True)
    }
    frame["rkey"] = frame["type"] + "." + frame["metric"]
    frame["district"] = frame["district"].fillna("")
    frame["bucket"] = _bucket(frame["time"], window.grain, tz)
    # Like the rollups, a row counts when its bucket (hour or local day) starts in a window.
    frame["counted"] = frame["bucket"] >= window.previous().start
    frame["current"] = frame["bucket"] >= window.start
    frame["hour"] = frame["time"] - frame["time"] % HOUR
    now = min(now, window.end)
    values: Comparable = {}
    for kpi in kpis:
        part = frame[frame["rkey"] == kpi.metric]
        fresh = _freshness(part, window)
        groups = {"": part}  # the city: every row, located in a district or not
        groups.update((str(d), g) for d, g in part.groupby("district") if d != "")
        out: dict[str, dict[str, Any]] = {}
        for place in ["", *sorted(populations)]:
            out[place] = _place_values(kpi, groups.get(place), populations, place, window, now)
            out[place]["as_of"] = _iso(fresh.get(place))
        values[kpi.id] = out
    return {"result": values, "rows_read": int(len(frame) + len(districts)), "db_s": db_seconds,
            "queries": 2}


def app_values(table: KpiTable, kpis: Sequence[KpiDefinition]) -> Comparable:
    """The KPI engine's rollup-based KPI values in the naive side's shape."""
    wanted = {k.id for k in kpis if k.source == "rollups"}
    values: Comparable = {}
    for place, kpi_values in table.places.items():
        for value in kpi_values:
            if value.id in wanted:
                values.setdefault(value.id, {})[place or ""] = {
                    "value": value.value,
                    "previous": value.previous,
                    "as_of": value.as_of,
                    "spark": [[point["t"], point["v"]] for point in value.spark],
                }
    return values


def _close(a: float | None, b: float | None, rel: float) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= rel * max(abs(a), abs(b)) + 1e-12


def compare(app: Comparable, naive: Comparable, rel: float = 1e-6) -> dict[str, Any]:
    """Check both sides give the same numbers; returns counts and the first differences."""
    checked, differences = 0, []
    for kpi_id in sorted(set(app) | set(naive)):
        a_places, n_places = app.get(kpi_id, {}), naive.get(kpi_id, {})
        for place in sorted(set(a_places) | set(n_places)):
            a = a_places.get(place, {})
            n = n_places.get(place, {})
            pairs = [(f, a.get(f), n.get(f)) for f in ("value", "previous")]
            a_spark, n_spark = a.get("spark", []), n.get("spark", [])
            if [t for t, _ in a_spark] != [t for t, _ in n_spark]:
                differences.append(f"{kpi_id}/{place or 'city'}: sparkline buckets differ")
            else:
                points = zip(a_spark, n_spark, strict=True)
                pairs += [(f"spark {t}", v, w) for (t, v), (_, w) in points]
            if a.get("as_of") != n.get("as_of"):
                differences.append(f"{kpi_id}/{place or 'city'}: as_of {a.get('as_of')} "
                                   f"!= {n.get('as_of')}")
            checked += 1
            for field, x, y in pairs:
                checked += 1
                if not _close(x, y, rel):
                    differences.append(f"{kpi_id}/{place or 'city'} {field}: app {x} naive {y}")
    return {"checked": checked, "equal": not differences, "differences": differences[:10],
            "difference_count": len(differences), "kpis": len(app), "rel_tolerance": rel}


def count_value(values: Comparable) -> int:
    """How many non-empty KPI values (value or previous) a side produced."""
    return sum(
        (e["value"] is not None) + (e["previous"] is not None)
        for places in values.values() for e in places.values()
    )
