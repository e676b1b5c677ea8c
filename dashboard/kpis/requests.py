"""KPI values of service requests (Open311) and cases, read from their maintained rollups.

Counts are summed in SQL from ``request_rollups`` over the window's buckets (UTC hours for
the 24-hour and 7-day windows, local days for longer ones); medians are picked in SQL from
the duration histograms (``request_durations``); the overdue snapshot at any time is the
running sum of the open/overdue changes before it. A page reads a few hundred aggregated
rows: no request row and no timestamp passes through Python.

What each aggregation means (``tests/test_request_kpi_oracle.py`` recomputes them from the
raw rows):

- ``share_closed_within_sla``: of the requests closed in the window that had a due date,
  the share closed by it;
- ``median_days_to_close``: the median time from request to closing of those closed in the
  window, each time counted to the nearest hour;
- ``share_open_overdue``: of the requests with a due date still open at the end of the
  window (the end of the current hour, for the current window), the share past it;
- ``share_digital``: the share of the requests made in the window filed on the web or app;
- ``per_1000_residents_30d``: requests made in the window per 1,000 residents, per 30 days
  of the time the feed covers (from its first record, up to now).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import Connection, TextClause, bindparam, func, select, text

from dashboard.kpis.coverage import Coverage, span_coverage
from dashboard.kpis.definitions import KpiDefinition
from dashboard.kpis.sources import CITY, DAY, SourceResult, _put
from dashboard.kpis.windows import HOUR, Window, local_midnight
from dashboard.model import NO_DISTRICT, Case, ServiceRequest
from dashboard.store.observations import day_starts
from dashboard.store.request_rollups import MEASURES, bin_seconds

SPARK_MIN_DAYS = 7
OPENED, DIGITAL, CLOSED, CLOSED_DUE, ON_TIME, DUE_OPEN, OVERDUE = range(len(MEASURES))
Place = str | None


@dataclass(frozen=True)
class Numbers:
    """What one place's KPIs over one span are computed from: the summed rollup measures
    (``MEASURES`` order; the two delta columns hold the open/overdue snapshot at the span's
    end) and the median duration to close in seconds (None: nothing closed)."""

    sums: np.ndarray
    median: float | None = None


Reducer = Callable[[Numbers, int, float], float | None]


def _share(part: float, whole: float) -> float | None:
    return float(part / whole * 100) if whole > 0 else None


def _per_1000(numbers: Numbers, population: int, seconds: float) -> float | None:
    if not population or seconds <= 0:
        return None
    return float(numbers.sums[OPENED] / population * 1000 * 30 * DAY / seconds)


def _median_days(numbers: Numbers, _population: int, _seconds: float) -> float | None:
    if numbers.sums[CLOSED] <= 0 or numbers.median is None:
        return None
    return numbers.median / DAY


REDUCERS: dict[str, Reducer] = {
    "share_closed_within_sla": lambda n, _p, _s: _share(n.sums[ON_TIME], n.sums[CLOSED_DUE]),
    "median_days_to_close": _median_days,
    "share_open_overdue": lambda n, _p, _s: _share(n.sums[OVERDUE], n.sums[DUE_OPEN]),
    "share_digital": lambda n, _p, _s: _share(n.sums[DIGITAL], n.sums[OPENED]),
    "per_1000_residents_30d": _per_1000,
}


def spark_edges(window: Window) -> list[int]:
    """The sparkline's day edges, ending with the window's end: at least a week of them;
    local midnights for a window of local days."""
    days = max(SPARK_MIN_DAYS, round(window.days))
    if window.grain == "hour":
        return [window.end - (days - i) * DAY for i in range(days + 1)]
    zone = ZoneInfo(window.tz)
    last = datetime.fromtimestamp(window.end, zone).date()
    return [local_midnight(last - timedelta(days=days - i), zone) for i in range(days + 1)]


def feed_start(conn: Connection, column: Any) -> float | None:
    """When a source's feed began: its earliest record's time (None when it has none)."""
    first = conn.execute(select(func.min(column))).scalar()
    if first is None:
        return None
    if isinstance(first, str):  # SQLite without the column's type processing
        first = datetime.fromisoformat(first)
    if first.tzinfo is None:
        first = first.replace(tzinfo=timezone.utc)
    return float(first.timestamp())


@dataclass(frozen=True)
class Span:
    """The part of a window the feed covers, as ``[start, end)``, and its coverage in days."""

    start: int
    end: int
    coverage: Coverage

    @classmethod
    def of(cls, window: Window, feed_start: float | None, now: int) -> Span:
        begun = window.start if feed_start is None else max(window.start, int(feed_start))
        _, coverage = span_coverage(feed_start, float(now), window.start, window.end, "day")
        return cls(begun, min(window.end, max(now, begun)), coverage)


@dataclass(frozen=True)
class Rollups:
    """Reads one kind's rollups (``requests`` or ``cases``) at one grain, for one domain
    (None: every domain), one department (None: every department) and the districts
    ``within`` (None: the whole city; a municipality's districts)."""

    conn: Connection
    kind: str
    grain: str
    domain: str | None
    tz: str
    department: str | None = None
    within: tuple[str, ...] | None = None

    def _where(self, grain: str | None = None) -> tuple[str, dict[str, Any]]:
        where = "kind = :kind AND grain = :grain"
        params: dict[str, Any] = {"kind": self.kind, "grain": grain or self.grain}
        if self.domain:
            where += " AND domain = :domain"
            params["domain"] = self.domain
        if self.department is not None:
            where += " AND department = :department"
            params["department"] = self.department
        if self.within is not None:
            where += " AND district_id IN :within"
            params["within"] = list(self.within)
        return where, params

    def _sql(self, statement: str) -> TextClause:
        sql = text(statement)
        return sql.bindparams(bindparam("within", expanding=True)) if self.within is not None \
            else sql

    def sums(self, start: int, end: int, by_day_from: int | None = None
             ) -> list[tuple[int, str, np.ndarray, int | None]]:
        """(slot, district, measures, latest) summed over buckets in ``[start, end)``; the
        slot is the bucket's day since ``by_day_from`` (hour grain), the bucket itself (day
        grain), or 0 when ``by_day_from`` is None."""
        where, params = self._where()
        if by_day_from is None:
            slot = "0"
        elif self.grain == "hour":
            slot, params["first"] = f"(bucket - :first) / {DAY}", by_day_from
        else:
            slot = "bucket"
        measures = ", ".join(f"SUM({m})" for m in MEASURES)
        group = "district_id" if by_day_from is None else f"{slot}, district_id"
        rows = self.conn.execute(self._sql(
            f"SELECT {slot} AS slot, district_id, {measures}, MAX(latest) FROM request_rollups "
            f"WHERE {where} AND bucket >= :start AND bucket < :end GROUP BY {group}"
        ), {**params, "start": start, "end": end}).all()
        return [(int(r[0]), r[1], np.array(r[2:-1], dtype=float),
                 None if r[-1] is None else int(r[-1])) for r in rows]

    def snapshot(self, at: int) -> dict[str, np.ndarray]:
        """Per district, the open-with-due-date and overdue counts at ``at`` (an hour
        boundary): the day buckets before its local midnight plus the hours since."""
        midnight = int(day_starts(np.array([at]), self.tz)[0])
        parts = [("hour", midnight, at), ("day", None, midnight)]
        if midnight % HOUR:  # a zone whose midnight is not a whole UTC hour: hours only
            parts = [("hour", None, at)]
        totals: dict[str, np.ndarray] = {}
        for grain, start, end in parts:
            where, params = self._where(grain)
            if start is not None:
                where += " AND bucket >= :start"
                params["start"] = start
            for district, due_open, overdue in self.conn.execute(self._sql(
                f"SELECT district_id, SUM(due_open_delta), SUM(overdue_delta) "
                f"FROM request_rollups WHERE {where} AND bucket < :end GROUP BY district_id"
            ), {**params, "end": end}):
                totals[district] = totals.get(district, np.zeros(2)) + np.array(
                    [float(due_open or 0), float(overdue or 0)])
        return totals

    def medians(self, start: int, end: int, by: tuple[str, ...]) -> dict[tuple[Any, ...], float]:
        """Median duration to close (seconds) of what closed in ``[start, end)``, per
        ``by`` (a subset of ``("slot", "district_id")``; the slot is the bucket's day as in
        ``sums``, from ``start``), picked from the histograms in SQL."""
        where, params = self._where()
        columns = {"slot": f"(bucket - :start) / {DAY}" if self.grain == "hour" else "bucket",
                   "district_id": "district_id"}
        chosen = [f"{columns[b]} AS {b}" for b in by]
        keys = ", ".join(by)
        partition = f"PARTITION BY {keys} " if by else ""
        rows = self.conn.execute(self._sql(
            f"WITH h AS (SELECT {''.join(c + ', ' for c in chosen)}bin, "
            f"CAST(SUM(count) AS BIGINT) AS c FROM request_durations WHERE {where} "
            f"AND bucket >= :start AND bucket < :end "
            f"GROUP BY {''.join(columns[b] + ', ' for b in by)}bin HAVING SUM(count) > 0), "
            f"r AS (SELECT {''.join(b + ', ' for b in by)}bin, c, "
            f"CAST(SUM(c) OVER ({partition}ORDER BY bin ROWS BETWEEN UNBOUNDED PRECEDING "
            f"AND CURRENT ROW) AS BIGINT) AS cum, CAST(SUM(c) OVER ({partition.strip()}) "
            f"AS BIGINT) AS tot FROM h) "
            f"SELECT {''.join(b + ', ' for b in by)}bin, c, cum, tot FROM r "
            f"WHERE cum >= (tot + 1) / 2 AND cum - c < tot / 2 + 1"
        ), {**params, "start": start, "end": end}).all()
        picked: dict[tuple[Any, ...], list[Any]] = {}
        for row in rows:
            picked.setdefault(tuple(row[:len(by)]), []).append(row[len(by):])
        return {key: _median_of(found) for key, found in picked.items()}


def _median_of(rows: list[Any]) -> float:
    """The median from the histogram rows around it: (bin, count, cumulative, total)."""
    rows = sorted(rows, key=lambda r: r[0])
    total = int(rows[0][3])
    low = next(r[0] for r in rows if int(r[2]) >= (total + 1) // 2)
    high = next(r[0] for r in rows if int(r[2]) >= total // 2 + 1)
    return float(bin_seconds(np.array([low, high])).mean())


class Places:
    """Per place (the city, None, and each district) per slot: summed measures and the
    newest time seen."""

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self.sums: dict[Place, np.ndarray] = {}
        self.latest: dict[Place, int] = {}

    def add(self, slot: int, district: str, measures: np.ndarray, latest: int | None) -> None:
        keys: list[Place] = [CITY] if district == NO_DISTRICT else [CITY, district]
        for key in keys:
            if key not in self.sums:
                self.sums[key] = np.zeros((self.slots, len(MEASURES)))
            self.sums[key][slot] += measures
            if latest is not None:
                self.latest[key] = max(self.latest.get(key, latest), latest)


def _by_place(snapshot: dict[str, np.ndarray]) -> dict[Place, np.ndarray]:
    places: dict[Place, np.ndarray] = {CITY: np.zeros(2)}
    for district, counts in snapshot.items():
        places[CITY] = places[CITY] + counts
        if district != NO_DISTRICT:
            places[district] = counts
    return places


def _medians_by_place(found: dict[tuple[Any, ...], float], city: dict[tuple[Any, ...], float],
                      slot_of: Callable[[Any], int] | None) -> dict[tuple[Place, int], float]:
    """``{(place, slot): median}`` from per-district and city-wide median rows."""
    out: dict[tuple[Place, int], float] = {}
    for key, value in found.items():
        slot = slot_of(key[0]) if slot_of else 0
        out[(key[-1], slot)] = value
    for key, value in city.items():
        out[(CITY, slot_of(key[0]) if slot_of else 0)] = value
    return out


@dataclass
class Reading:
    """Everything one kind x domain's KPIs need for one window, read from the rollups."""

    edges: list[int]
    current: Places  # per spark slot
    window: Places  # one slot: the window itself (its start need not be a slot's edge)
    previous: Places  # one slot: the previous window
    snapshots: dict[Place, np.ndarray]  # per place: (slots + 1) x 2, at each edge
    now_snapshot: dict[Place, np.ndarray]
    previous_snapshot: dict[Place, np.ndarray]
    medians: dict[tuple[Place, int], float]
    window_medians: dict[Place, float]
    previous_medians: dict[Place, float]

    def places(self, districts: Sequence[str]) -> list[Place]:
        """The city, then every district: those given (a district without a request has
        none per resident) and any other with requests."""
        found = {*self.current.sums, *self.previous.sums, *self.snapshots, *districts}
        return [CITY, *sorted(p for p in found - {NO_DISTRICT} if p is not None)]


def _read(rollups: Rollups, window: Window, now: int, *, overdue: bool, medians: bool
          ) -> Reading:
    edges = spark_edges(window)
    first, slots = edges[0], len(edges) - 1

    def slot_of(key: Any) -> int:
        """The spark slot of a query's slot key: a day number (hour grain) or a bucket."""
        if window.grain == "hour":
            return int(key)
        return int(np.searchsorted(edges, key, "right") - 1)

    current = Places(slots)
    for slot, district, measures, latest in rollups.sums(first, window.end, first):
        index = slot_of(slot)
        if 0 <= index < slots:
            current.add(index, district, measures, latest)
    whole = Places(1)
    for _, district, measures, latest in rollups.sums(window.start, window.end):
        whole.add(0, district, measures, latest)
    previous_window = window.previous()
    previous = Places(1)
    for _, district, measures, latest in rollups.sums(previous_window.start,
                                                       previous_window.end):
        previous.add(0, district, measures, latest)
    snapshots: dict[Place, np.ndarray] = {}
    now_snapshot: dict[Place, np.ndarray] = {}
    previous_snapshot: dict[Place, np.ndarray] = {}
    if overdue:
        base = _by_place(rollups.snapshot(first))
        for place in {*base, *current.sums}:
            deltas = current.sums.get(place, np.zeros((slots, len(MEASURES))))
            running = np.vstack([np.zeros(2), np.cumsum(deltas[:, [DUE_OPEN, OVERDUE]], axis=0)])
            snapshots[place] = base.get(place, np.zeros(2)) + running
        hour_end = min(window.end, now - now % HOUR + HOUR)
        now_snapshot = (_by_place(rollups.snapshot(hour_end)) if hour_end < window.end
                        else {p: s[-1] for p, s in snapshots.items()})
        previous_snapshot = (
            {p: s[edges.index(window.start)] for p, s in snapshots.items()}
            if window.start in edges else _by_place(rollups.snapshot(window.start)))
    found: dict[tuple[Place, int], float] = {}
    window_medians: dict[Place, float] = {}
    previous_medians: dict[Place, float] = {}
    if medians:
        found = _medians_by_place(rollups.medians(first, window.end, ("slot", "district_id")),
                                  rollups.medians(first, window.end, ("slot",)), slot_of)
        for target, span in ((window_medians, window), (previous_medians, previous_window)):
            each = _medians_by_place(rollups.medians(span.start, span.end, ("district_id",)),
                                     rollups.medians(span.start, span.end, ()), None)
            target.update({place: value for (place, _), value in each.items()})
    return Reading(edges, current, whole, previous, snapshots, now_snapshot,
                   previous_snapshot, found, window_medians, previous_medians)


def _numbers(sums: np.ndarray, snapshot: np.ndarray | None, median: float | None) -> Numbers:
    values = sums.copy()
    values[[DUE_OPEN, OVERDUE]] = snapshot if snapshot is not None else 0
    return Numbers(values, median)


def _results(
    conn: Connection,
    kind: str,
    kpis: Sequence[KpiDefinition],
    window: Window,
    populations: dict[str, int],
    feed_start: float | None,
    now: int,
    department: str | None,
    within: tuple[str, ...] | None = None,
) -> dict[str, SourceResult]:
    current = Span.of(window, feed_start, now)
    previous = Span.of(window.previous(), feed_start, now)
    city_population = sum(populations.values())
    readings: dict[str | None, Reading] = {}
    results: dict[str, SourceResult] = {}
    for kpi in kpis:
        domain = kpi.filter.get("domain") or None
        if domain not in readings:
            wanted = {k.aggregation for k in kpis if (k.filter.get("domain") or None) == domain}
            readings[domain] = _read(Rollups(conn, kind, window.grain, domain, window.tz,
                                             department, within), window, now,
                                     overdue="share_open_overdue" in wanted,
                                     medians="median_days_to_close" in wanted)
        reading = readings[domain]
        reducer = REDUCERS[kpi.aggregation]
        result = SourceResult()
        for place in reading.places(list(populations)):
            population = city_population if place is CITY else populations.get(place, 0)
            slots = reading.current.sums.get(place, np.zeros((len(reading.edges) - 1,
                                                             len(MEASURES))))
            result.coverage[place] = current.coverage
            if current.coverage.covered:
                summed = reading.window.sums.get(place, np.zeros((1, len(MEASURES))))[0]
                numbers = _numbers(summed, reading.now_snapshot.get(place),
                                   reading.window_medians.get(place))
                _put(result.current, place, reducer(numbers, population,
                                                    current.end - current.start))
            if previous.coverage.comparable:
                before = reading.previous.sums.get(place, np.zeros((1, len(MEASURES))))[0]
                numbers = _numbers(before, reading.previous_snapshot.get(place),
                                   reading.previous_medians.get(place))
                _put(result.previous, place, reducer(numbers, population,
                                                     previous.end - previous.start))
            result.spark[place] = _spark(reading, place, slots, reducer, population,
                                         feed_start, now)
            newest = max(reading.current.latest.get(place, -1),
                         reading.window.latest.get(place, -1),
                         reading.previous.latest.get(place, -1))
            if newest >= 0:
                result.as_of[place] = newest
        results[kpi.id] = result
    return results


def _spark(reading: Reading, place: Place, slots: np.ndarray, reducer: Reducer,
           population: int, feed_start: float | None, now: int) -> list[tuple[int, float]]:
    """(slot start, value) of the days the feed covers, up to now."""
    if feed_start is None:
        return []
    points: list[tuple[int, float]] = []
    edges = reading.edges
    snapshots = reading.snapshots.get(place)
    for i, (a, b) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        if b <= feed_start or a >= now:
            continue
        snapshot = None
        if snapshots is not None:
            snapshot = (reading.now_snapshot.get(place) if i == len(edges) - 2
                        else snapshots[i + 1])
        numbers = _numbers(slots[i], snapshot, reading.medians.get((place, i)))
        value = reducer(numbers, population, min(b, now) - max(a, int(feed_start)))
        if value is not None and np.isfinite(value):
            points.append((a, float(value)))
    return points


def request_results(
    conn: Connection,
    kpis: Sequence[KpiDefinition],
    window: Window,
    populations: dict[str, int],
    now: int | None = None,
    department: str | None = None,
    within: tuple[str, ...] | None = None,
) -> dict[str, SourceResult]:
    """Values of the service-request KPIs for the window and its previous one, over the
    time the request feed covers (from its first request, up to ``now``); with
    ``department``, of the requests that department handles only."""
    if not kpis:
        return {}
    start = feed_start(conn, ServiceRequest.requested_at)
    return _results(conn, "requests", kpis, window, populations, start,
                    window.end if now is None else now, department, within)


def case_results(
    conn: Connection,
    kpis: Sequence[KpiDefinition],
    window: Window,
    populations: dict[str, int],
    now: int | None = None,
    department: str | None = None,
    within: tuple[str, ...] | None = None,
) -> dict[str, SourceResult]:
    """Values of the case (procedure) KPIs: resolution times of cases closed in the window
    (of one department's cases with ``department``)."""
    if not kpis:
        return {}
    start = feed_start(conn, Case.closed_at)
    return _results(conn, "cases", kpis, window, populations, start,
                    window.end if now is None else now, department, within)
