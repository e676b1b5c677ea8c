"""Raw KPI values per district and for the city, read from rollups, service requests and cases.

Each reader makes a bounded, indexed query for the window and its previous window (never a
scan of raw observations) and returns, per KPI, the value for the city (key ``None``) and
each district, the previous window's value, a sparkline and the newest data time.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import Connection, bindparam, text

from dashboard.kpis.definitions import KpiDefinition
from dashboard.kpis.windows import Window
from dashboard.model import NO_DISTRICT

CITY: None = None
DIGITAL_CHANNELS = ("web", "app")
DAY = 86400


@dataclass
class SourceResult:
    """One KPI's raw numbers: per district key (None is the city)."""

    current: dict[str | None, float] = field(default_factory=dict)
    previous: dict[str | None, float] = field(default_factory=dict)
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
) -> dict[str, SourceResult]:
    """Values of the rollup-based KPIs for the window, its previous one, and sparklines."""
    metrics = sorted({k.metric for k in kpis if k.metric})
    if not metrics:
        return {}
    previous = window.previous()
    rows = conn.execute(
        text(
            "SELECT metric, district_id, bucket, count, sum FROM rollups "
            "WHERE metric IN :metrics AND grain = :grain AND bucket >= :start AND bucket < :end"
        ).bindparams(bindparam("metrics", expanding=True)),
        {"metrics": metrics, "grain": window.grain, "start": previous.start, "end": window.end},
    ).all()
    frame = pd.DataFrame(rows, columns=["metric", "district", "bucket", "count", "sum"])
    fresh = conn.execute(
        text(
            "SELECT metric, district_id, MAX(bucket) FROM rollups WHERE metric IN :metrics "
            "AND grain = 'hour' AND bucket >= :start AND bucket < :end "
            "GROUP BY metric, district_id"
        ).bindparams(bindparam("metrics", expanding=True)),
        {"metrics": metrics, "start": previous.start, "end": window.end},
    ).all()
    city_population = sum(populations.values())
    results: dict[str, SourceResult] = {}
    for kpi in kpis:
        part = frame[frame["metric"] == kpi.metric]
        result = SourceResult()
        for key, group in _group_keys(part):
            population = city_population if key is None else populations.get(key, 0)
            reduce = _rollup_reducer(kpi, population)
            cur = group[group["bucket"] >= window.start]
            prev = group[group["bucket"] < window.start]
            _put(result.current, key, reduce(cur, window.days))
            _put(result.previous, key, reduce(prev, previous.days))
            bucket_days = 1.0 if window.grain == "day" else 1 / 24
            result.spark[key] = [
                (int(bucket), value)
                for bucket, rows_ in cur.groupby("bucket", sort=True)
                if (value := reduce(rows_, bucket_days)) is not None
            ]
        for metric, district, bucket in fresh:
            if metric != kpi.metric:
                continue
            end = int(bucket) + 3600
            result.as_of[CITY] = max(result.as_of.get(CITY, 0), end)
            if district:
                result.as_of[district] = max(result.as_of.get(district, 0), end)
        results[kpi.id] = result
    return results


def _rollup_reducer(
    kpi: KpiDefinition, population: int
) -> Callable[[pd.DataFrame, float], float | None]:
    def mean(rows: pd.DataFrame, _days: float) -> float | None:
        count = rows["count"].sum()
        return float(rows["sum"].sum() / count * kpi.scale) if count else None

    def per_resident_day(rows: pd.DataFrame, days: float) -> float | None:
        if rows.empty or not population or not days:
            return None
        return float(rows["sum"].sum() * kpi.scale / population / days)

    return mean if kpi.aggregation == "mean" else per_resident_day


def _put(target: dict[str | None, float], key: str | None, value: float | None) -> None:
    if value is not None and np.isfinite(value):
        target[key] = float(value)
