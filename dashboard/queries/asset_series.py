"""One asset's time series, resampled in SQL so a chart never gets more than MAX_POINTS.

Every read goes through the observations primary key (asset_pk, metric, time): one
index range per asset, metric and period. The bucket width is the smallest "nice" width
(raw rows, 5 min, 15 min, hour, 3 h, 6 h, day, week) giving at most ``MAX_POINTS``
buckets over the span; buckets are ``time - time % width`` (UTC-aligned) with the mean,
minimum, maximum and count of their readings.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, func, select

from dashboard.model import Asset, Observation
from dashboard.periods import COMPARISONS, Period, period_for
from dashboard.queries.base import cached
from dashboard.settings import Settings

MAX_POINTS = 2000
WEEK = 7 * 86400
GRAINS: tuple[tuple[str, int], ...] = (  # (name, width in seconds; 0 = raw readings)
    ("raw", 0), ("5 min", 300), ("15 min", 900), ("hour", 3600), ("3 h", 3 * 3600),
    ("6 h", 6 * 3600), ("day", 86400), ("week", WEEK),
)
COMPARE_LABELS = {"previous": "previous period", "year": "a year before"}
SERIES_FIELDS = ("time", "mean", "min", "max", "count")


def epoch(moment: datetime) -> int:
    """Epoch seconds of an aware datetime."""
    return int(moment.astimezone(timezone.utc).timestamp())


def bucket_count(start: int, end: int, width: int) -> int:
    """How many ``time - time % width`` buckets the half-open span [start, end) touches."""
    if end <= start:
        return 0
    return (end - 1) // width - start // width + 1


def _in_range(pk: int, metric: str, start: int, end: int) -> tuple[Any, ...]:
    ob = Observation
    return (ob.asset_pk == pk, ob.metric == metric, ob.time >= start, ob.time < end)


def more_rows_than(conn: Connection, pk: int, metric: str, start: int, end: int,
                   limit: int) -> bool:
    """Whether [start, end) holds more than ``limit`` readings (reads at most limit + 1
    index entries: ``LIMIT 1 OFFSET limit``, never a count of the whole range)."""
    stmt = (select(Observation.time).where(*_in_range(pk, metric, start, end))
            .order_by(Observation.time).limit(1).offset(limit))
    return conn.execute(stmt).first() is not None


def choose_grain(conn: Connection, pk: int, metric: str, start: int, end: int,
                 at_least: int = 0) -> tuple[str, int]:
    """(name, width): the smallest nice width >= ``at_least`` giving <= MAX_POINTS points."""
    if at_least == 0 and not more_rows_than(conn, pk, metric, start, end, MAX_POINTS):
        return GRAINS[0]
    for name, width in GRAINS[1:]:
        if width >= at_least and bucket_count(start, end, width) <= MAX_POINTS:
            return name, width
    weeks = max(at_least // WEEK, 2)  # spans of decades: whole weeks
    while bucket_count(start, end, weeks * WEEK) > MAX_POINTS:
        weeks += 1
    return f"{weeks} weeks", weeks * WEEK


def resample(conn: Connection, pk: int, metric: str, start: int, end: int,
             width: int) -> list[dict[str, Any]]:
    """Points ``{time, mean, min, max, count}`` of [start, end), oldest first; ``width`` 0
    gives the raw readings (count 1), otherwise one point per bucket with readings."""
    ob = Observation
    where = _in_range(pk, metric, start, end)
    if width == 0:
        stmt = select(ob.time, ob.value).where(*where).order_by(ob.time).limit(MAX_POINTS)
        return [{"time": int(t), "mean": float(v), "min": float(v), "max": float(v),
                 "count": 1} for t, v in conn.execute(stmt)]
    bucket = (ob.time - ob.time % width).label("bucket")
    buckets = (select(bucket, func.avg(ob.value), func.min(ob.value), func.max(ob.value),
                      func.count()).where(*where).group_by(bucket).order_by(bucket)
               .limit(MAX_POINTS))
    return [{"time": int(b), "mean": float(m), "min": float(lo), "max": float(hi),
             "count": int(n)} for b, m, lo, hi, n in conn.execute(buckets)]


def first_time(conn: Connection, pk: int, metric: str) -> int | None:
    """The asset's first reading of ``metric`` (MIN(time): one index seek)."""
    ob = Observation
    stmt = select(func.min(ob.time)).where(ob.asset_pk == pk, ob.metric == metric)
    found = conn.execute(stmt).scalar()
    return None if found is None else int(found)


def period_span(conn: Connection, pk: int, metric: str,
                period: Period) -> tuple[int, int] | None:
    """[start, end) epoch seconds of ``period``; "all" starts at the first reading
    (None when the asset has no reading of ``metric``)."""
    end = epoch(period.end)
    if period.start is not None:
        return epoch(period.start), end
    first = first_time(conn, pk, metric)
    if first is None or first >= end:
        return None
    return first, end


def series_of(conn: Connection, pk: int, metric: str, period: Period,
              compare: str | None = None) -> dict[str, Any]:
    """The resampled series of one asset's metric over ``period`` and, when asked, the
    compared period's series shifted onto the current time axis."""
    span = period_span(conn, pk, metric, period)
    result: dict[str, Any] = {
        "metric": metric, "preset": period.preset, "grain": "raw", "width": 0,
        "start": span[0] if span else epoch(period.end), "end": epoch(period.end),
        "points": [], "compare": None, "compare_label": "", "compared": [],
    }
    if span is None:
        return result
    start, end = span
    grain, width = choose_grain(conn, pk, metric, start, end)
    result.update(grain=grain, width=width, points=resample(conn, pk, metric, start, end, width))
    before = period.compared(compare) if compare in COMPARISONS else None
    if before is not None and before.start is not None:
        b_start, b_end = epoch(before.start), epoch(before.end)
        _, b_width = choose_grain(conn, pk, metric, b_start, b_end, at_least=width)
        shift = start - b_start
        result.update(compare=compare, compare_label=COMPARE_LABELS[compare or ""], compared=[
            {**p, "time": p["time"] + shift}
            for p in resample(conn, pk, metric, b_start, b_end, b_width)])
    return result


def asset_series(settings: Settings, asset_id: str, metric: str, preset: str,
                 compare: str | None = None) -> dict[str, Any] | None:
    """The chart data of one asset's metric for a period preset (None: unknown asset).

    Shape: {metric, preset, grain, width, start, end, points: [{time, mean, min, max,
    count}], compare, compare_label, compared: [points shifted onto this period]}.
    """
    period = period_for(preset, settings.current_time())
    compare = compare if compare in COMPARISONS and period.start is not None else None

    def compute(conn: Connection) -> dict[str, Any] | None:
        pk = conn.execute(select(Asset.pk).where(Asset.id == asset_id)).scalar()
        return None if pk is None else series_of(conn, pk, metric, period, compare)

    params = {"asset": asset_id, "metric": metric, "preset": preset, "compare": compare,
              "end": epoch(period.end)}
    return cached(settings, "asset_series", params, compute)
