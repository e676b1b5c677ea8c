"""Raw KPI values per district and for the city, read from rollups, service requests and cases.

Each reader makes a bounded, indexed query for the window and its previous window (never a
scan of raw observations) and returns, per KPI, the value for the city (key ``None``) and
each district, the previous window's value, a sparkline and the newest data time.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import BindParameter, Connection, bindparam, text

from dashboard.kpis.coverage import Coverage, span_coverage
from dashboard.kpis.definitions import KpiDefinition
from dashboard.kpis.windows import Window
from dashboard.model import NO_DISTRICT
from dashboard.store.frames import rows_frame

CITY: None = None
DAY = 86400


@dataclass
class SourceResult:
    """One KPI's raw numbers: per district key (None is the city). ``previous`` holds only
    values whose window was covered enough to compare with (``Coverage.comparable``)."""

    current: dict[str | None, float] = field(default_factory=dict)
    previous: dict[str | None, float] = field(default_factory=dict)
    coverage: dict[str | None, Coverage] = field(default_factory=dict)
    spark: dict[str | None, list[tuple[int, float]]] = field(default_factory=dict)
    as_of: dict[str | None, int] = field(default_factory=dict)


def _group_keys(frame: pd.DataFrame) -> list[tuple[str | None, pd.DataFrame]]:
    """The whole frame for the city, then one slice per real district."""
    groups: list[tuple[str | None, pd.DataFrame]] = [(CITY, frame)]
    for district, part in frame.groupby("district", sort=True):
        if district and district != NO_DISTRICT:
            groups.append((str(district), part))
    return groups


# --- rollups -------------------------------------------------------------------------

def rollup_results(
    conn: Connection,
    kpis: Sequence[KpiDefinition],
    window: Window,
    populations: dict[str, int],
    now: int | None = None,
    within: tuple[str, ...] | None = None,
) -> dict[str, SourceResult]:
    """Values of the rollup-based KPIs for the window, its previous one, and sparklines;
    with ``within``, of those districts only (a municipality), whose whole is the place
    ``None``.

    A place's data covers the window from its first reading (since the previous window's
    start) to the end of its newest reading's bucket, or ``now`` while it keeps reporting
    (``coverage``). Per-day KPIs divide by that time, so neither a feed that began late nor
    the current hour is read as a drop; the city's per-resident KPIs divide by the
    population of the districts that have readings.
    """
    metrics = sorted({k.metric for k in kpis if k.metric})
    if not metrics:
        return {}
    previous = window.previous()
    sql = ("SELECT metric, district_id, bucket, count, sum FROM rollups "
           "WHERE metric IN :metrics AND grain = :grain AND bucket >= :start AND bucket < :end "
           "AND count > 0")
    params: dict[str, Any] = {"metrics": metrics, "grain": window.grain,
                              "start": previous.start, "end": window.end}
    binds: list[BindParameter[Any]] = [bindparam("metrics", expanding=True)]
    if within is not None:
        sql += " AND district_id IN :within"
        params["within"] = list(within)
        binds.append(bindparam("within", expanding=True))
    rows = conn.execute(text(sql).bindparams(*binds), params).all()
    frame = rows_frame(rows, ["metric", "district", "bucket", "count", "sum"])
    fresh = _freshness(conn, metrics, window.end, within)
    width = 86400 if window.grain == "day" else 3600
    now = window.end if now is None else min(now, window.end)
    results: dict[str, SourceResult] = {}
    for kpi in kpis:
        result = SourceResult()
        part = frame[frame["metric"] == kpi.metric]
        for key, group in _group_keys(part):
            _place_values(kpi, result, key, group, window, populations, now, width)
        for key, group in _group_keys(part):  # coarse fallback: newest bucket in the frame
            if len(group):
                result.as_of[key] = min(int(group["bucket"].max()) + width, window.end)
        result.as_of.update(fresh.get(kpi.metric or "", {}))
        results[kpi.id] = result
    return results


def _population(key: str | None, group: pd.DataFrame, populations: dict[str, int]) -> int:
    """A district's population; for the city, that of the districts with readings in
    ``group`` (all districts when none of the readings has one)."""
    if key is not None:
        return populations.get(key, 0)
    present = [populations[d] for d in set(group["district"]) if d in populations]
    return sum(present) if present else sum(populations.values())


def _place_values(
    kpi: KpiDefinition, result: SourceResult, key: str | None, group: pd.DataFrame,
    window: Window, populations: dict[str, int], now: int, width: int,
) -> None:
    """One place's value, coverage, comparable previous value and sparkline of a KPI."""
    sums = group.groupby("bucket", sort=True)[["count", "sum"]].sum()
    buckets = sums.index.to_numpy()
    counts, sums_of = sums["count"].to_numpy(), sums["sum"].to_numpy()
    cur = buckets >= window.start
    previous = window.previous()
    first = float(buckets[0]) if len(buckets) else None
    last = float(min(int(buckets[-1]) + width, now)) if len(buckets) else float(now)
    seconds, result.coverage[key] = span_coverage(first, last, window.start, window.end,
                                                  window.grain)
    population = _population(key, group[group["bucket"] >= window.start], populations)
    _put(result.current, key, _reduce(kpi, counts[cur].sum(), sums_of[cur].sum(), population,
                                      seconds / 86400))
    before_seconds, before = span_coverage(first, last, previous.start, previous.end,
                                           window.grain)
    if before.comparable:
        before_population = _population(key, group[group["bucket"] < window.start], populations)
        _put(result.previous, key, _reduce(kpi, counts[~cur].sum(), sums_of[~cur].sum(),
                                           before_population, before_seconds / 86400))
    spans = np.clip(now - buckets[cur], 1, width) / 86400  # the current bucket may be partial
    spark = _reduce_each(kpi, counts[cur], sums_of[cur], population, spans)
    result.spark[key] = [
        (int(b), float(v)) for b, v in zip(buckets[cur], spark, strict=True) if np.isfinite(v)
    ]


def _freshness(conn: Connection, metrics: list[str], end: int,
               within: tuple[str, ...] | None = None) -> dict[str, dict[Any, int]]:
    """Newest data time per metric (key None: the city, or the districts ``within``) and
    district, from hour rollups.

    Two index lookups per metric: the newest hour overall, then each district's newest
    hour within the 48 hours before it (older districts fall back to the window frame).
    """
    found: dict[str, dict[Any, int]] = {}
    among = "" if within is None else " AND district_id IN :within"
    binds: list[BindParameter[Any]] = [] if within is None else [
        bindparam("within", expanding=True)]
    extra = {} if within is None else {"within": list(within)}
    for metric in metrics:
        newest = conn.execute(
            text("SELECT MAX(bucket) FROM rollups WHERE metric = :m AND grain = 'hour' "
                 f"AND bucket < :end{among}").bindparams(*binds),
            {"m": metric, "end": end, **extra},
        ).scalar()
        if newest is None:
            continue
        rows = conn.execute(
            text("SELECT district_id, MAX(bucket) FROM rollups WHERE metric = :m "
                 f"AND grain = 'hour' AND bucket >= :since AND bucket < :end{among} "
                 "GROUP BY district_id").bindparams(*binds),
            {"m": metric, "since": int(newest) - 48 * 3600, "end": end, **extra},
        ).all()
        times = {d: int(b) + 3600 for d, b in rows if d}
        times[CITY] = int(newest) + 3600
        found[metric] = times
    return found


def _reduce(
    kpi: KpiDefinition, count: float, total: float, population: int, days: float
) -> float | None:
    """A rollup KPI's value from summed counts and sums over a span of ``days``."""
    if not count:
        return None
    if kpi.aggregation == "mean":
        return float(total / count * kpi.scale)
    if not population or not days:
        return None
    return float(total * kpi.scale / population / days)  # sum_per_resident_day


def _reduce_each(
    kpi: KpiDefinition, counts: np.ndarray, totals: np.ndarray, population: int,
    days: np.ndarray,
) -> np.ndarray:
    """``_reduce`` per bucket, vectorised (NaN where a bucket has no data)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if kpi.aggregation == "mean":
            return np.where(counts > 0, totals / counts * kpi.scale, np.nan)
        if not population:
            return np.full(len(counts), np.nan)
        return np.where(counts > 0, totals * kpi.scale / population / days, np.nan)


def _put(target: dict[str | None, float], key: str | None, value: float | None) -> None:
    if value is not None and np.isfinite(value):
        target[key] = float(value)
