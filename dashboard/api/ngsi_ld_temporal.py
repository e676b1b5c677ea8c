"""NGSI-LD temporal representation of an asset's measured attributes (its observations).

``timerel`` (before / after / between with ``timeAt``/``endTimeAt``) bounds the instances:
before is ``time < timeAt``, after ``time >= timeAt``, between ``timeAt <= time <
endTimeAt``. Instances are read from the observations primary key (asset, metric, time),
at most ``MAX_INSTANCES`` per attribute (``lastN`` the newest N). Aggregation
(``aggrMethods``, ``aggrPeriodDuration``) is computed in SQL over the same range, in
periods starting at ``timeAt`` (else at the first reading, aligned to the period), at most
``MAX_BUCKETS`` periods per attribute; a longer span is refused.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, distinct, func, literal_column, select

from dashboard.api.ngsi_ld_entities import iso, unit_code
from dashboard.model import Observation
from dashboard.queries.asset_series import bucket_count, epoch, first_time

MAX_INSTANCES = 1000
MAX_BUCKETS = 1000
AGGREGATES = ("totalCount", "distinctCount", "sum", "sumsq", "min", "max", "avg")
TIMERELS = ("before", "after", "between")
_DURATION = re.compile(r"P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?")


class TemporalError(ValueError):
    """A temporal query that cannot be answered; the message names the parameter."""


@dataclass(frozen=True)
class TemporalQuery:
    """Which instances (epoch-second bounds, half open; None: unbounded) and how."""

    start: int | None = None
    end: int | None = None
    last_n: int | None = None
    methods: tuple[str, ...] | None = None
    width: int = 0  # aggregation period in seconds; 0: the whole span is one period
    values_only: bool = False  # options=temporalValues


def duration_seconds(text: str) -> int:
    """An ISO 8601 duration of weeks, days, hours, minutes and seconds, in seconds (years
    and months have no fixed length: refused)."""
    found = _DURATION.fullmatch(text)
    if found is None or text in ("P", "PT") or text.endswith("T"):
        raise TemporalError(f"aggrPeriodDuration: {text!r} is not an ISO 8601 duration of "
                            "weeks, days, hours, minutes or seconds (e.g. PT1H, P1D)")
    weeks, days, hours, minutes, seconds = (int(p or 0) for p in found.groups())
    return (((weeks * 7 + days) * 24 + hours) * 60 + minutes) * 60 + seconds


def time_bounds(timerel: str | None, time_at: datetime | None,
                end_time_at: datetime | None) -> tuple[int | None, int | None]:
    """[start, end) epoch seconds of a ``timerel`` and its times."""
    if timerel is None:
        if time_at is not None or end_time_at is not None:
            raise TemporalError("timerel: required with timeAt and endTimeAt")
        return None, None
    if timerel not in TIMERELS:
        raise TemporalError(f"timerel: {timerel!r} is not one of {', '.join(TIMERELS)}")
    if time_at is None:
        raise TemporalError("timeAt: required with timerel")
    if timerel == "before":
        return None, epoch(time_at)
    if timerel == "after":
        return epoch(time_at), None
    if end_time_at is None:
        raise TemporalError("endTimeAt: required with timerel=between")
    if end_time_at <= time_at:
        raise TemporalError("endTimeAt: must be after timeAt")
    return epoch(time_at), epoch(end_time_at)


def _where(pk: int, metric: str, start: int | None, end: int | None) -> list[Any]:
    ob = Observation
    where = [ob.asset_pk == pk, ob.metric == metric]
    if start is not None:
        where.append(ob.time >= start)
    if end is not None:
        where.append(ob.time < end)
    return where


def instances(conn: Connection, pk: int, metric: str,
              query: TemporalQuery) -> tuple[list[tuple[int, float, str | None]], bool]:
    """((time, value, unit) oldest first, truncated): at most ``MAX_INSTANCES``, or the
    newest ``lastN``."""
    ob = Observation
    stmt = select(ob.time, ob.value, ob.unit).where(*_where(pk, metric, query.start, query.end))
    if query.last_n is not None:
        rows = conn.execute(stmt.order_by(ob.time.desc()).limit(query.last_n)).all()
        return [(int(t), float(v), u) for t, v, u in reversed(rows)], False
    rows = conn.execute(stmt.order_by(ob.time).limit(MAX_INSTANCES + 1)).all()
    return [(int(t), float(v), u) for t, v, u in rows[:MAX_INSTANCES]], len(rows) > MAX_INSTANCES


def _span(conn: Connection, pk: int, metric: str, query: TemporalQuery) -> tuple[int, int] | None:
    """[start, end) of the aggregation: the query's bounds, else the readings' (one index
    seek each); None when the asset has no reading in it."""
    start, end = query.start, query.end
    if start is None:
        first = first_time(conn, pk, metric)
        if first is None:
            return None
        start = first - first % query.width if query.width else first
    if end is None:
        newest = conn.execute(select(func.max(Observation.time)).where(
            *_where(pk, metric, start, None))).scalar()
        if newest is None:
            return None
        end = int(newest) + 1
    return (start, end) if end > start else None


def aggregated(conn: Connection, pk: int, metric: str,
               query: TemporalQuery) -> dict[str, list[list[Any]]]:
    """Each method's ``[value, startAt, endAt]`` per period that has readings."""
    methods = query.methods or ()
    span = _span(conn, pk, metric, query)
    if span is None:
        return {m: [] for m in methods}
    start, end = span
    width = query.width or end - start
    if bucket_count(0, end - start, width) > MAX_BUCKETS:
        raise TemporalError(f"aggrPeriodDuration: {metric} would have more than "
                            f"{MAX_BUCKETS} periods; ask for a longer period or a shorter "
                            "time span")
    ob, value = Observation, Observation.value
    offset = ob.time - literal_column(str(int(start)))
    bucket: Any = (literal_column(str(int(start))) + offset - offset % literal_column(str(width)))
    columns = {"totalCount": func.count(value), "distinctCount": func.count(distinct(value)),
               "sum": func.sum(value), "sumsq": func.sum(value * value),
               "min": func.min(value), "max": func.max(value), "avg": func.avg(value)}
    stmt = (select(bucket.label("bucket"), *(columns[m] for m in methods))
            .where(*_where(pk, metric, start, end)).group_by(bucket).order_by(bucket))
    found: dict[str, list[list[Any]]] = {m: [] for m in methods}
    for row in conn.execute(stmt):
        opened = int(row[0])
        closed = min(opened + width, end)
        for method, result in zip(methods, row[1:], strict=True):
            number = int(result) if method.endswith("Count") else float(result)
            found[method].append([number, iso(opened), iso(closed)])
    return found


def temporal_attribute(conn: Connection, pk: int, metric: str,
                       query: TemporalQuery) -> tuple[Any, bool]:
    """(one attribute's temporal representation, whether its instances were cut)."""
    if query.methods:
        return {"type": "Property", **aggregated(conn, pk, metric, query)}, False
    found, truncated = instances(conn, pk, metric, query)
    if query.values_only:
        return {"type": "Property", "values": [[v, iso(t)] for t, v, _ in found]}, truncated
    result = []
    for when, value, unit in found:
        instance: dict[str, Any] = {"type": "Property", "value": value, "observedAt": iso(when)}
        code = unit_code(unit)
        if code:
            instance["unitCode"] = code
        result.append(instance)
    return result, truncated
