"""The previous way to compute the request and case KPIs, for ``bench/request_kpis.py``:
every request row the window, its previous window and the sparkline touch, fetched and
converted to epoch seconds in Python, then numpy per place (what CityLens did before the
request rollups kept at ingest).

Its definitions differ from the rollups' in three small ways, so the benchmark prints the
largest difference instead of asserting equality: durations are exact (the rollups count
them to the hour), the overdue share is a snapshot at ``now`` (the rollups: at the end of
the current hour), and counts stop at ``now`` (the rollups: at the end of the window).
Where a feed begins and what part of a window it covers (``feed_start``, ``Span``) are the
app's own.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, func, or_, select

from dashboard.kpis.definitions import KpiDefinition
from dashboard.kpis.requests import Span, feed_start
from dashboard.kpis.sources import CITY, DAY, SourceResult, _group_keys, _put
from dashboard.kpis.windows import Window
from dashboard.model import Case, Service, ServiceRequest
from dashboard.store.frames import epoch_seconds, rows_frame
from dashboard.store.request_rollups import DIGITAL_CHANNELS

Reducer = Callable[["Rows", int, int, int], float | None]
SPARK_MIN_DAYS = 7


def _spark_edges(window: Window) -> list[int]:
    days = max(SPARK_MIN_DAYS, round(window.days))
    return [window.end - (days - i) * DAY for i in range(days + 1)]


def _since(window: Window) -> datetime:
    """How far back a KPI must read: the previous window and the whole sparkline."""
    since = min(window.previous().start, _spark_edges(window)[0])
    return datetime.fromtimestamp(since, timezone.utc)


def _frame(rows: Any, columns: list[str], times: tuple[str, ...]) -> pd.DataFrame:
    """Rows as a frame with epoch-second time columns and "" for no district."""
    frame = rows_frame(rows, columns)
    for column in times:
        frame[column] = epoch_seconds(frame[column]) if len(frame) else np.array([], dtype=float)
    frame["district"] = frame["district"].fillna("")
    return frame


def _fetch_requests(conn: Connection, window: Window) -> pd.DataFrame:
    since_dt, end_dt = _since(window), window.end_dt()
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
    columns = ["district", "requested", "closed", "expected", "channel", "domain"]
    return _frame(conn.execute(stmt), columns, ("requested", "closed", "expected"))


@dataclass(frozen=True)
class Rows:
    """Requests (or cases) of one place as numpy arrays: epoch seconds, NaN when unset."""

    requested: np.ndarray
    closed: np.ndarray
    expected: np.ndarray
    digital: np.ndarray
    latest: np.ndarray

    @classmethod
    def of(cls, frame: pd.DataFrame, time_column: str) -> Rows:
        size = len(frame)
        expected = frame["expected"] if "expected" in frame else np.full(size, np.nan)
        channel = frame["channel"] if "channel" in frame else pd.Series([""] * size)
        return cls(
            requested=np.asarray(frame["requested"], dtype=float),
            closed=np.asarray(frame["closed"], dtype=float),
            expected=np.asarray(expected, dtype=float),
            digital=np.asarray(channel.isin(DIGITAL_CHANNELS), dtype=bool),
            latest=np.asarray(frame[time_column], dtype=float),
        )


def _closed_in(rows: Rows, start: int, end: int) -> np.ndarray:
    return (rows.closed >= start) & (rows.closed < end)


def _within_sla(rows: Rows, start: int, end: int, _pop: int) -> float | None:
    mask = _closed_in(rows, start, end) & ~np.isnan(rows.expected)
    if not mask.any():
        return None
    return float(np.mean(rows.closed[mask] <= rows.expected[mask]) * 100)


def _median_days(rows: Rows, start: int, end: int, _pop: int) -> float | None:
    mask = _closed_in(rows, start, end)
    if not mask.any():
        return None
    return float(np.median(rows.closed[mask] - rows.requested[mask]) / DAY)


def _open_overdue(rows: Rows, _start: int, end: int, _pop: int) -> float | None:
    still_open = np.isnan(rows.closed) | (rows.closed >= end)
    mask = (rows.requested < end) & still_open & ~np.isnan(rows.expected)
    if not mask.any():
        return None
    return float(np.mean(rows.expected[mask] < end) * 100)


def _made_in(rows: Rows, start: int, end: int) -> np.ndarray:
    return (rows.requested >= start) & (rows.requested < end)


def _digital(rows: Rows, start: int, end: int, _pop: int) -> float | None:
    mask = _made_in(rows, start, end)
    if not mask.any():
        return None
    return float(np.mean(rows.digital[mask]) * 100)


def _per_1000(rows: Rows, start: int, end: int, population: int) -> float | None:
    """Requests made per 1,000 residents per 30 days, over ``[start, end)``: the caller
    narrows the span to the time the feed covers (from its first record, up to now)."""
    if not population or end <= start:
        return None
    made = int(np.count_nonzero(_made_in(rows, start, end)))
    return float(made / population * 1000 * 30 * DAY / (end - start))


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
    feed_start: float | None,
    now: int,
) -> dict[str, SourceResult]:
    current = Span.of(window, feed_start, now)
    previous = Span.of(window.previous(), feed_start, now)
    edges = _spark_edges(window)
    city_population = sum(populations.values())
    results: dict[str, SourceResult] = {}
    places: dict[str, list[tuple[str | None, Rows]]] = {}
    for kpi in kpis:
        domain = kpi.filter.get("domain", "")
        if domain not in places:
            rows = frame[frame["domain"] == domain] if domain else frame
            places[domain] = [(k, Rows.of(g, time_column)) for k, g in _group_keys(rows)]
        reducer = REDUCERS[kpi.aggregation]
        result = SourceResult()
        for key, group in places[domain]:
            pop = city_population if key is CITY else populations.get(key, 0)
            result.coverage[key] = current.coverage
            if current.coverage.covered:
                _put(result.current, key, reducer(group, current.start, current.end, pop))
            if previous.coverage.comparable:
                _put(result.previous, key, reducer(group, previous.start, previous.end, pop))
            result.spark[key] = [
                (a, v)
                for a, b in zip(edges[:-1], edges[1:], strict=True)
                if feed_start is not None and b > feed_start and a < now
                and (v := reducer(group, max(a, int(feed_start)), min(b, now), pop)) is not None
            ]
            newest = np.nanmax(group.latest) if np.isfinite(group.latest).any() else np.nan
            if np.isfinite(newest):
                result.as_of[key] = int(newest)
        results[kpi.id] = result
    return results


def naive_request_results(
    conn: Connection,
    kpis: Sequence[KpiDefinition],
    window: Window,
    populations: dict[str, int],
    now: int | None = None,
) -> dict[str, SourceResult]:
    """Values of the service-request KPIs for the window and its previous one, over the
    time the request feed covers (from its first request, up to ``now``)."""
    if not kpis:
        return {}
    frame = _fetch_requests(conn, window)
    frame["latest"] = np.fmax(frame["requested"].to_numpy(), frame["closed"].to_numpy())
    start = feed_start(conn, ServiceRequest.requested_at)
    return _results(frame, kpis, window, populations, "latest", start,
                    window.end if now is None else now)


def naive_case_results(
    conn: Connection,
    kpis: Sequence[KpiDefinition],
    window: Window,
    populations: dict[str, int],
    now: int | None = None,
) -> dict[str, SourceResult]:
    """Values of the case (procedure) KPIs: resolution times of cases closed in the window."""
    if not kpis:
        return {}
    stmt = select(Case.district_id, Case.opened_at, Case.closed_at).where(
        Case.closed_at >= _since(window), Case.closed_at < window.end_dt()
    )
    frame = _frame(conn.execute(stmt), ["district", "requested", "closed"], ("requested", "closed"))
    frame["domain"] = "services"
    start = feed_start(conn, Case.closed_at)
    return _results(frame, kpis, window, populations, "closed", start,
                    window.end if now is None else now)
