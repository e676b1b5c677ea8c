"""Rollups of service requests and cases, kept in step at ingest like a continuous aggregate.

Every stored request (kind ``requests``) or case (``cases``) contributes to the
``request_rollups`` row of its district x domain x department x bucket (UTC hours and local
days of the city's zone): what was opened, closed, closed on time, and the changes to the
open and overdue counts; and to the ``request_durations`` histogram of the bucket it closed
in.

A write reads the touched records before and after (``RequestTracker``) and adds the
difference, so an update (a request closing, a late correction) moves only the buckets its
old and new times fall in. ``rebuild_request_rollups`` recomputes everything from the raw
rows (after districts are redrawn, a service changes domain, or on upgrade).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, bindparam, delete, func, literal, null, select, text

from dashboard.model import NO_DISTRICT, Case, RequestDuration, RequestRollup, Service, ServiceRequest
from dashboard.store.frames import epoch_seconds
from dashboard.store.observations import day_starts

KINDS = ("requests", "cases")
GRAINS = ("hour", "day")
MEASURES = ("opened", "digital", "closed", "closed_due", "closed_on_time", "due_open_delta",
            "overdue_delta")
KEYS = ["bucket", "district_id", "domain", "department"]
DIGITAL_CHANNELS = ("web", "app")  # the channels a "made online" KPI counts
# Durations to close are counted to the nearest hour: a median read from the histogram is
# within half an hour of the exact one (0.02 days), whatever the duration.
BIN_SECONDS = 3600
ID_CHUNK = 5_000


def duration_bin(seconds: np.ndarray) -> np.ndarray:
    """The histogram bin of each duration in seconds: whole hours (negative ones count as 0)."""
    hours: np.ndarray = np.rint(np.maximum(np.asarray(seconds, dtype=float), 0.0) / BIN_SECONDS)
    return hours.astype(np.int64)


def bin_seconds(bins: np.ndarray) -> np.ndarray:
    """The duration in seconds that stands for each bin."""
    return np.asarray(bins, dtype=float) * BIN_SECONDS


def _select(kind: str) -> Any:
    """The columns a kind's rollups are made of: district, domain, department, made, closed,
    due, channel."""
    if kind == "requests":
        sr = ServiceRequest
        return (select(sr.id, sr.district_id, func.coalesce(Service.domain, "services"),
                       sr.department, sr.requested_at, sr.closed_at, sr.expected_at,
                       sr.channel)
                .outerjoin(Service, Service.service_code == sr.service_code), sr.id)
    return (select(Case.id, Case.district_id, literal("services"), Case.department,
                   Case.opened_at, Case.closed_at, null(), Case.channel), Case.id)


def records_frame(rows: Sequence[Any]) -> pd.DataFrame:
    """Raw records (id, district, domain, department, made, closed, due, channel) as a frame
    with epoch seconds (NaN when unset)."""
    frame = pd.DataFrame(list(rows), columns=["id", "district", "domain", "department", "made",
                                              "closed", "due", "channel"])
    for column in ("made", "closed", "due"):
        frame[column] = epoch_seconds(frame[column]) if len(frame) else np.array([], dtype=float)
    frame["district"] = frame["district"].fillna(NO_DISTRICT)
    frame["department"] = frame["department"].fillna("")
    frame["digital"] = frame["channel"].isin(DIGITAL_CHANNELS)
    return frame


def read_records(conn: Connection, kind: str, ids: Sequence[str] | None = None) -> pd.DataFrame:
    """The stored records of a kind (those of ``ids``, or all) as ``records_frame``."""
    stmt, key = _select(kind)
    if ids is None:
        return records_frame(conn.execute(stmt).all())
    rows: list[Any] = []
    stmt = stmt.where(key.in_(bindparam("ids", expanding=True)))
    listed = sorted(set(ids))
    for start in range(0, len(listed), ID_CHUNK):
        rows.extend(conn.execute(stmt, {"ids": listed[start:start + ID_CHUNK]}).all())
    return records_frame(rows)


def _events(records: pd.DataFrame) -> pd.DataFrame:
    """Each record's contributions as events: (time, district_id, domain, department,
    measures..., latest)."""
    made, closed, due = (records[c].to_numpy(dtype=float) for c in ("made", "closed", "due"))
    is_closed, has_due = ~np.isnan(closed), ~np.isnan(due)
    closed_at = np.where(is_closed, np.fmax(closed, made), np.nan)  # never before it was made
    overdue_from = np.fmax(made, due)
    overdue_counted = has_due & (~is_closed | (closed_at >= overdue_from))
    zero = np.zeros(len(records), dtype=np.int64)

    def event(times: np.ndarray, mask: np.ndarray, **measures: np.ndarray) -> pd.DataFrame:
        part = pd.DataFrame({"time": times, "district_id": records["district"].to_numpy(),
                             "domain": records["domain"].to_numpy(),
                             "department": records["department"].to_numpy()})
        for name in MEASURES:
            part[name] = measures.get(name, zero)
        part["latest"] = times if "latest" in measures else np.nan
        kept: pd.DataFrame = part[mask & ~np.isnan(times)]
        return kept

    one = np.ones(len(records), dtype=np.int64)
    on_time = (closed <= due).astype(np.int64)
    parts = [
        event(made, one.astype(bool), opened=one, digital=records["digital"].to_numpy(
            dtype=np.int64), due_open_delta=has_due.astype(np.int64), latest=made),
        event(closed, is_closed, closed=one, closed_due=has_due.astype(np.int64),
              closed_on_time=on_time * has_due, latest=closed),
        event(closed_at, is_closed & has_due, due_open_delta=-one),
        event(overdue_from, overdue_counted, overdue_delta=one),
        event(closed_at, overdue_counted & is_closed, overdue_delta=-one),
    ]
    events: pd.DataFrame = pd.concat(parts, ignore_index=True)
    return events


def _buckets(times: np.ndarray, grain: str, tz: str) -> np.ndarray:
    seconds = times.astype(np.int64)
    if grain == "hour":
        return seconds - seconds % 3600
    return day_starts(seconds, tz)


def contributions(records: pd.DataFrame, tz: str, sign: int = 1
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What ``records`` add to the rollups (grain, bucket, district, domain, department,
    measures, latest) and to the duration histograms (the same key, bin, count), times
    ``sign``."""
    events = _events(records)
    closed = records[~np.isnan(records["closed"].to_numpy(dtype=float))]
    durations = pd.DataFrame({
        "time": closed["closed"].to_numpy(dtype=float),
        "district_id": closed["district"].to_numpy(), "domain": closed["domain"].to_numpy(),
        "department": closed["department"].to_numpy(),
        "bin": duration_bin(closed["closed"].to_numpy(dtype=float)
                            - closed["made"].to_numpy(dtype=float)),
    })
    sums, bins = [], []
    for grain in GRAINS:
        frame = events.assign(grain=grain, bucket=_buckets(events["time"].to_numpy(), grain, tz))
        sums.append(frame.groupby(["grain", *KEYS], as_index=False).agg(
            **{m: (m, "sum") for m in MEASURES}, latest=("latest", "max")))
        hist = durations.assign(grain=grain, count=1,
                                bucket=_buckets(durations["time"].to_numpy(), grain, tz))
        bins.append(hist.groupby(["grain", *KEYS, "bin"], as_index=False).agg(
            count=("count", "sum")))
    rollups, histogram = pd.concat(sums, ignore_index=True), pd.concat(bins, ignore_index=True)
    rollups[list(MEASURES)] *= sign
    histogram["count"] *= sign
    if sign < 0:
        rollups["latest"] = np.nan  # a newest time seen stays seen
    return rollups, histogram


def _upsert_sql() -> tuple[Any, Any]:
    newer = ("CASE WHEN excluded.latest IS NULL THEN request_rollups.latest "
             "WHEN request_rollups.latest IS NULL OR excluded.latest > request_rollups.latest "
             "THEN excluded.latest ELSE request_rollups.latest END")
    columns = ["kind", "grain", *KEYS, *MEASURES, "latest"]
    added = ", ".join(f"{m} = request_rollups.{m} + excluded.{m}" for m in MEASURES)
    rollups = text(
        f"INSERT INTO request_rollups ({', '.join(columns)}) "
        f"VALUES ({', '.join(':' + c for c in columns)}) "
        f"ON CONFLICT (kind, grain, {', '.join(KEYS)}) "
        f"DO UPDATE SET {added}, latest = {newer}")
    durations = text(
        f"INSERT INTO request_durations (kind, grain, {', '.join(KEYS)}, bin, count) "
        f"VALUES (:kind, :grain, {', '.join(':' + k for k in KEYS)}, :bin, :count) "
        f"ON CONFLICT (kind, grain, {', '.join(KEYS)}, bin) "
        "DO UPDATE SET count = request_durations.count + excluded.count")
    return rollups, durations


def _records(frame: pd.DataFrame, kind: str, ints: Sequence[str]) -> list[dict[str, Any]]:
    """Rows for the driver: Python ints (None for a missing ``latest``), strings as they are."""
    columns: dict[str, list[Any]] = {c: frame[c].tolist() for c in ("grain", "district_id",
                                                                     "domain", "department")}
    columns.update({c: frame[c].astype("int64").tolist() for c in ints})
    if "latest" in frame:
        columns["latest"] = [None if math.isnan(v) else int(v) for v in frame["latest"].tolist()]
    names = list(columns)
    return [{"kind": kind, **dict(zip(names, values, strict=True))}
            for values in zip(*columns.values(), strict=True)]


def merge_contributions(conn: Connection, kind: str, rollups: pd.DataFrame,
                        histogram: pd.DataFrame) -> None:
    """Add changes (``contributions``, summed) to the stored rows, inserting new ones."""
    rollup_sql, duration_sql = _upsert_sql()
    if len(rollups):
        conn.execute(rollup_sql, _records(rollups, kind, ["bucket", *MEASURES]))
    if len(histogram):
        conn.execute(duration_sql, _records(histogram, kind, ["bucket", "bin", "count"]))


def _difference(before: pd.DataFrame, after: pd.DataFrame, tz: str
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rollup and histogram changes from records ``before`` to ``after``."""
    old_sums, old_bins = contributions(before, tz, -1)
    new_sums, new_bins = contributions(after, tz, 1)
    keys = ["grain", *KEYS]
    sums = pd.concat([old_sums, new_sums], ignore_index=True).groupby(keys, as_index=False).agg(
        **{m: (m, "sum") for m in MEASURES}, latest=("latest", "max"))
    moved = (sums[list(MEASURES)] != 0).any(axis=1) | sums["latest"].notna()
    bins = pd.concat([old_bins, new_bins], ignore_index=True).groupby(
        [*keys, "bin"], as_index=False)["count"].sum()
    return sums[moved], bins[bins["count"] != 0]


@dataclass
class RequestTracker:
    """Keeps a kind's rollups in step with a write: ``before`` reads the records about to
    be written, ``after`` reads them again and merges the difference."""

    kind: str
    tz: str
    ids: list[str]
    _before: pd.DataFrame | None = None

    def before(self, conn: Connection) -> None:
        """Read the records as they are before the write."""
        self._before = read_records(conn, self.kind, self.ids)

    def after(self, conn: Connection) -> None:
        """Read the written records and add their change to the rollups."""
        assert self._before is not None, "RequestTracker.before was not called"
        sums, bins = _difference(self._before, read_records(conn, self.kind, self.ids), self.tz)
        merge_contributions(conn, self.kind, sums, bins)


def rebuild_request_rollups(conn: Connection, tz: str, kinds: Sequence[str] = KINDS) -> None:
    """Recompute the rollups of ``kinds`` from every stored record."""
    for kind in kinds:
        for table in (RequestRollup, RequestDuration):
            conn.execute(delete(table).where(table.kind == kind))
        sums, bins = contributions(read_records(conn, kind), tz)
        merge_contributions(conn, kind, sums, bins)
