"""KPI values from service requests (Open311) and cases (e-government procedures).

One bounded query per source fetches only what the window, its previous window and the
sparkline need (indexed on requested_at / closed_at / status); the arithmetic is numpy.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from sqlalchemy import Connection, func, or_, select

from dashboard.kpis.definitions import KpiDefinition
from dashboard.kpis.sources import CITY, DAY, DIGITAL_CHANNELS, SourceResult, _group_keys, _put
from dashboard.kpis.windows import Window
from dashboard.model import Case, Service, ServiceRequest

Reducer = Callable[[pd.DataFrame, int, int, int], float | None]
SPARK_MIN_DAYS = 7


def _epoch(values: pd.Series) -> np.ndarray:
    """Epoch seconds as floats (NaN where there is no time)."""
    stamps = pd.to_datetime(values, utc=True)
    seconds = (stamps - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)
    return seconds.to_numpy(dtype="float64", na_value=np.nan)


def _spark_edges(window: Window) -> list[int]:
    days = max(SPARK_MIN_DAYS, round(window.days))
    return [window.end - (days - i) * DAY for i in range(days + 1)]


def _fetch_requests(conn: Connection, since: int, window: Window) -> pd.DataFrame:
    since_dt = pd.Timestamp(since, unit="s", tz="UTC").to_pydatetime()
    end_dt = window.end_dt()
    sr = ServiceRequest
    stmt = (
        select(
            sr.district_id,
            sr.requested_at,
            sr.closed_at,
            sr.expected_at,
            sr.channel,
            func.coalesce(Service.domain, "services").label("domain"),
        )
        .outerjoin(Service, Service.service_code == sr.service_code)
        .where(sr.requested_at < end_dt)
        .where(or_(sr.requested_at >= since_dt, sr.closed_at >= since_dt, sr.status == "open"))
    )
    rows = conn.execute(stmt).all()
    frame = pd.DataFrame(
        rows, columns=["district", "requested", "closed", "expected", "channel", "domain"]
    )
    for column in ("requested", "closed", "expected"):
        frame[column] = _epoch(frame[column]) if len(frame) else np.array([], dtype=float)
    frame["district"] = frame["district"].fillna("")
    return frame


def _closed_in(rows: pd.DataFrame, start: int, end: int) -> pd.DataFrame:
    return rows[(rows["closed"] >= start) & (rows["closed"] < end)]


def _within_sla(rows: pd.DataFrame, start: int, end: int, _pop: int) -> float | None:
    closed = _closed_in(rows, start, end)
    closed = closed[closed["expected"].notna()]
    if closed.empty:
        return None
    return float((closed["closed"] <= closed["expected"]).mean() * 100)


def _median_days(rows: pd.DataFrame, start: int, end: int, _pop: int) -> float | None:
    closed = _closed_in(rows, start, end)
    if closed.empty:
        return None
    return float(np.median((closed["closed"] - closed["requested"]).to_numpy()) / DAY)


def _open_overdue(rows: pd.DataFrame, _start: int, end: int, _pop: int) -> float | None:
    open_at_end = rows[
        (rows["requested"] < end) & (rows["closed"].isna() | (rows["closed"] >= end))
    ]
    open_at_end = open_at_end[open_at_end["expected"].notna()]
    if open_at_end.empty:
        return None
    return float((open_at_end["expected"] < end).mean() * 100)


def _digital(rows: pd.DataFrame, start: int, end: int, _pop: int) -> float | None:
    made = rows[(rows["requested"] >= start) & (rows["requested"] < end)]
    if made.empty:
        return None
    return float(made["channel"].isin(DIGITAL_CHANNELS).mean() * 100)


def _per_1000(rows: pd.DataFrame, start: int, end: int, population: int) -> float | None:
    if not population:
        return None
    made = rows[(rows["requested"] >= start) & (rows["requested"] < end)]
    return float(len(made) / population * 1000 * 30 * DAY / (end - start))


REDUCERS: dict[str, Reducer] = {
    "share_closed_within_sla": _within_sla,
    "median_days_to_close": _median_days,
    "share_open_overdue": _open_overdue,
    "share_digital": _digital,
    "per_1000_residents_30d": _per_1000,
}


def _results(
    frame: pd.DataFrame,
    kpis: Sequence[KpiDefinition],
    window: Window,
    populations: dict[str, int],
    time_column: str,
) -> dict[str, SourceResult]:
    previous = window.previous()
    edges = _spark_edges(window)
    city_population = sum(populations.values())
    results: dict[str, SourceResult] = {}
    for kpi in kpis:
        rows = frame
        if kpi.filter.get("domain"):
            rows = rows[rows["domain"] == kpi.filter["domain"]]
        reducer = REDUCERS[kpi.aggregation]
        result = SourceResult()
        for key, group in _group_keys(rows):
            pop = city_population if key is CITY else populations.get(key, 0)
            _put(result.current, key, reducer(group, window.start, window.end, pop))
            _put(result.previous, key, reducer(group, previous.start, previous.end, pop))
            result.spark[key] = [
                (a, v)
                for a, b in zip(edges[:-1], edges[1:], strict=True)
                if (v := reducer(group, a, b, pop)) is not None
            ]
            newest = np.nanmax(group[time_column].to_numpy()) if len(group) else np.nan
            if np.isfinite(newest):
                result.as_of[key] = int(newest)
        results[kpi.id] = result
    return results


def request_results(
    conn: Connection,
    kpis: Sequence[KpiDefinition],
    window: Window,
    populations: dict[str, int],
) -> dict[str, SourceResult]:
    """Values of the service-request KPIs for the window and its previous one."""
    if not kpis:
        return {}
    since = min(window.previous().start, _spark_edges(window)[0])
    frame = _fetch_requests(conn, since, window)
    frame["latest"] = np.fmax(frame["requested"].to_numpy(), frame["closed"].to_numpy())
    return _results(frame, kpis, window, populations, "latest")


def case_results(
    conn: Connection,
    kpis: Sequence[KpiDefinition],
    window: Window,
    populations: dict[str, int],
) -> dict[str, SourceResult]:
    """Values of the case (procedure) KPIs: resolution times of cases closed in the window."""
    if not kpis:
        return {}
    since = min(window.previous().start, _spark_edges(window)[0])
    since_dt = pd.Timestamp(since, unit="s", tz="UTC").to_pydatetime()
    stmt = select(Case.district_id, Case.opened_at, Case.closed_at).where(
        Case.closed_at >= since_dt, Case.closed_at < window.end_dt()
    )
    frame = pd.DataFrame(conn.execute(stmt).all(), columns=["district", "requested", "closed"])
    for column in ("requested", "closed"):
        frame[column] = _epoch(frame[column]) if len(frame) else np.array([], dtype=float)
    frame["district"] = frame["district"].fillna("")
    return _results(frame, kpis, window, populations, "closed")
