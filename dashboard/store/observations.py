"""Observation ingest: bulk load through a staging table, rollups maintained incrementally.

A batch goes into a temporary staging table by the dialect's fastest path (executemany on
SQLite, COPY on PostgreSQL). Then, in SQL: rows that are new add to the hour and day
rollups; rows whose value changed update the observation and their rollup buckets are
recomputed from the raw rows (a bounded, indexed query); unchanged rows are ignored.
Running the same batch twice therefore stores and counts nothing twice. Each asset's newest
reading of each metric is kept in ``latest_readings`` as well. A bucket that
begins before the raw readings kept (``dashboard.store.partitions``: the retention dropped
the older ones) is adjusted by the change of value instead: its sum follows, its count stays,
its minimum and maximum widen to take the new value in.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, bindparam, select, text

from dashboard.model import NO_DISTRICT, Asset
from dashboard.store.partitions import kept_from

STAGE = "_stage_obs"
STAGE_COLUMNS = ("asset_pk", "metric", "time", "value", "unit", "rkey", "district", "hour", "day")
REQUIRED = ("asset_pk", "metric", "time", "value")


@dataclass(frozen=True)
class IngestResult:
    """What an observation batch did to the store."""

    received: int
    new: int
    updated: int
    types: tuple[str, ...] = ()  # asset types of the batch (version scopes ``type:<T>``)
    domains: tuple[str, ...] = ()  # their domains (version scopes ``domain:<d>``)

    @property
    def scopes(self) -> set[str]:
        """The data-version scopes this batch touched (``dashboard.store.version``)."""
        return {f"type:{t}" for t in self.types} | {f"domain:{d}" for d in self.domains}

    @property
    def unchanged(self) -> int:
        return self.received - self.new - self.updated


def day_starts(epoch_seconds: np.ndarray, tz: str) -> np.ndarray:
    """Epoch second of the local midnight that starts each timestamp's day in ``tz``."""
    stamps = pd.to_datetime(pd.Series(epoch_seconds), unit="s", utc=True).dt.tz_convert(tz)
    midnights = stamps.dt.normalize().dt.tz_convert("UTC")
    return midnights.dt.as_unit("s").astype("int64").to_numpy()


def _asset_facts(conn: Connection, asset_pks: np.ndarray) -> pd.DataFrame:
    unique = [int(pk) for pk in np.unique(asset_pks)]
    rows: list[Any] = []
    stmt = select(Asset.pk, Asset.type, Asset.district_id, Asset.domain).where(
        Asset.pk.in_(bindparam("pks", expanding=True))
    )
    for start in range(0, len(unique), 20_000):
        rows.extend(conn.execute(stmt, {"pks": unique[start : start + 20_000]}).all())
    facts = pd.DataFrame(rows, columns=["asset_pk", "type", "district", "domain"])
    missing = set(unique) - set(facts["asset_pk"].tolist())
    if missing:
        raise ValueError(f"observations refer to unknown asset pks: {sorted(missing)[:5]}")
    facts["district"] = facts["district"].fillna(NO_DISTRICT)
    return facts


def _prepare(conn: Connection, frame: pd.DataFrame, tz: str) -> pd.DataFrame:
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise ValueError(f"observation batch lacks columns: {missing}")
    batch = frame.loc[:, [c for c in (*REQUIRED, "unit") if c in frame.columns]].copy()
    if "unit" not in batch:
        batch["unit"] = None
    batch = batch.dropna(subset=["value"])
    batch["asset_pk"] = batch["asset_pk"].astype("int64")
    batch["time"] = batch["time"].astype("int64")
    batch["value"] = batch["value"].astype("float64")
    batch = batch.drop_duplicates(subset=["asset_pk", "metric", "time"], keep="last")
    facts = _asset_facts(conn, batch["asset_pk"].to_numpy())
    batch = batch.merge(facts, on="asset_pk", how="left")
    batch["rkey"] = batch["type"] + "." + batch["metric"]
    times = batch["time"].to_numpy()
    batch["hour"] = times - times % 3600
    batch["day"] = day_starts(times, tz)
    return batch.loc[:, [*STAGE_COLUMNS, "type", "domain"]]


def _create_stage(conn: Connection) -> None:
    conn.execute(
        text(
            f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} ("
            "asset_pk INTEGER, metric VARCHAR(60), time BIGINT, value DOUBLE PRECISION, "
            "unit VARCHAR(20), rkey VARCHAR(120), district VARCHAR(64), hour BIGINT, "
            "day BIGINT, state INTEGER DEFAULT 0, old DOUBLE PRECISION)"
        )
    )
    conn.execute(text(f"DELETE FROM {STAGE}"))


def _load_stage(conn: Connection, batch: pd.DataFrame) -> None:
    rows = list(
        zip(
            batch["asset_pk"].tolist(),
            batch["metric"].tolist(),
            batch["time"].tolist(),
            batch["value"].tolist(),
            [None if pd.isna(unit) else unit for unit in batch["unit"].tolist()],
            batch["rkey"].tolist(),
            batch["district"].tolist(),
            batch["hour"].tolist(),
            batch["day"].tolist(),
            strict=True,
        )
    )
    raw = conn.connection.driver_connection
    assert raw is not None  # an open Connection always has its driver's connection
    columns = ", ".join(STAGE_COLUMNS)
    if conn.dialect.name == "postgresql":
        with raw.cursor() as cursor, cursor.copy(f"COPY {STAGE} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        marks = ", ".join("?" for _ in STAGE_COLUMNS)
        cursor = raw.cursor()
        cursor.executemany(f"INSERT INTO {STAGE} ({columns}) VALUES ({marks})", rows)
        cursor.close()


def _merge_rollups(conn: Connection, grain: str) -> None:
    """Add the staged new rows (state=1) to the rollups of one grain."""
    smaller = "LEAST" if conn.dialect.name == "postgresql" else "MIN"
    larger = "GREATEST" if conn.dialect.name == "postgresql" else "MAX"
    conn.execute(
        text(
            "INSERT INTO rollups (metric, district_id, grain, bucket, count, sum, min, max) "
            f"SELECT rkey, district, '{grain}', {grain}, COUNT(*), SUM(value), MIN(value), "
            f"MAX(value) FROM {STAGE} WHERE state = 1 GROUP BY rkey, district, {grain} "
            "ON CONFLICT (metric, district_id, grain, bucket) DO UPDATE SET "
            "count = rollups.count + excluded.count, sum = rollups.sum + excluded.sum, "
            f"min = {smaller}(rollups.min, excluded.min), "
            f"max = {larger}(rollups.max, excluded.max)"
        )
    )


def _bucket_end(grain: str, bucket: int, tz: str) -> int:
    if grain == "hour":
        return bucket + 3600
    # A local day lasts 23 to 25 hours: 26 hours on is always inside the next day.
    return int(day_starts(np.array([bucket + 26 * 3600]), tz)[0])


def _recompute_changed_buckets(conn: Connection, tz: str, raw_from: int) -> None:
    """Rebuild the rollup buckets touched by changed values from the raw observations.

    Reads only the bucket's rows, through the observations' primary key per asset. A
    bucket that begins before ``raw_from`` (older raw readings are gone) is adjusted.
    """
    for grain in ("hour", "day"):
        buckets = conn.execute(
            text(f"SELECT DISTINCT rkey, district, {grain} FROM {STAGE} WHERE state = 2")
        ).all()
        for rkey, district, bucket in buckets:
            if bucket < raw_from:
                _adjust_bucket(conn, grain, rkey, district, bucket)
                continue
            asset_type, metric = rkey.split(".", 1)
            stats = conn.execute(
                text(
                    "SELECT COUNT(*), SUM(o.value), MIN(o.value), MAX(o.value) "
                    "FROM observations o JOIN assets a ON a.pk = o.asset_pk "
                    "WHERE a.type = :type AND COALESCE(a.district_id, '') = :district "
                    "AND o.metric = :metric AND o.time >= :start AND o.time < :end"
                ),
                {"type": asset_type, "district": district, "metric": metric,
                 "start": bucket, "end": _bucket_end(grain, bucket, tz)},
            ).one()
            conn.execute(
                text(
                    "UPDATE rollups SET count = :c, sum = :s, min = :lo, max = :hi "
                    "WHERE metric = :m AND district_id = :d AND grain = :g AND bucket = :b"
                ),
                {"c": stats[0], "s": stats[1], "lo": stats[2], "hi": stats[3],
                 "m": rkey, "d": district, "g": grain, "b": bucket},
            )


def _adjust_bucket(conn: Connection, grain: str, rkey: str, district: str, bucket: int) -> None:
    """Move a rollup bucket by its staged changes of value (``old`` -> ``value``)."""
    smaller = "LEAST" if conn.dialect.name == "postgresql" else "MIN"
    larger = "GREATEST" if conn.dialect.name == "postgresql" else "MAX"
    delta, low, high = conn.execute(
        text(f"SELECT SUM(value - old), MIN(value), MAX(value) FROM {STAGE} WHERE state = 2 "
             f"AND rkey = :m AND district = :d AND {grain} = :b"),
        {"m": rkey, "d": district, "b": bucket}).one()
    conn.execute(
        text(f"UPDATE rollups SET sum = sum + :delta, min = {smaller}(min, :lo), "
             f"max = {larger}(max, :hi) "
             "WHERE metric = :m AND district_id = :d AND grain = :g AND bucket = :b"),
        {"delta": delta, "lo": low, "hi": high, "m": rkey, "d": district, "g": grain,
         "b": bucket})


def _keep_latest(conn: Connection) -> None:
    """Bring ``latest_readings`` up to the batch: each (asset, metric)'s newest new or
    changed reading replaces the one kept unless that one is newer."""
    conn.execute(text(
        "INSERT INTO latest_readings (asset_pk, metric, time, value, unit) "
        "SELECT asset_pk, metric, time, value, unit FROM (SELECT asset_pk, metric, time, "
        "value, unit, ROW_NUMBER() OVER (PARTITION BY asset_pk, metric ORDER BY time DESC) "
        f"AS newest FROM {STAGE} WHERE state > 0) AS batch WHERE newest = 1 "
        "ON CONFLICT (asset_pk, metric) DO UPDATE SET time = excluded.time, "
        "value = excluded.value, unit = excluded.unit "
        "WHERE excluded.time >= latest_readings.time"))


def ingest_observations(conn: Connection, frame: pd.DataFrame, tz: str) -> IngestResult:
    """Upsert a batch of observations and keep the hour/day rollups in step.

    ``frame`` has columns asset_pk, metric, time (epoch seconds, UTC), value and
    optionally unit. Runs inside the caller's transaction.
    """
    if frame.empty:
        return IngestResult(0, 0, 0)
    batch = _prepare(conn, frame, tz)
    if batch.empty:  # every value was blank
        return IngestResult(0, 0, 0)
    if conn.dialect.name == "postgresql":
        # Planned and run once per batch: compiling them (JIT) costs more than it saves,
        # the more so with a scan per monthly partition.
        conn.execute(text("SET LOCAL jit = off"))
    _create_stage(conn)
    _load_stage(conn, batch)
    # The batch's time span, written into the statements so that PostgreSQL plans them
    # against the monthly partitions of that span only (integers computed here).
    span = f"BETWEEN {int(batch['time'].min())} AND {int(batch['time'].max())}"
    match = (
        f"FROM observations o WHERE o.asset_pk = {STAGE}.asset_pk AND o.metric = {STAGE}.metric "
        f"AND o.time = {STAGE}.time AND o.time {span}"
    )
    conn.execute(
        text(
            f"UPDATE {STAGE} SET state = CASE "
            f"WHEN NOT EXISTS (SELECT 1 {match}) THEN 1 "
            f"WHEN EXISTS (SELECT 1 {match} AND o.value <> {STAGE}.value) THEN 2 "
            "ELSE 0 END"
        )
    )
    counts: dict[int, int] = dict(
        conn.execute(text(f"SELECT state, COUNT(*) FROM {STAGE} GROUP BY state")).all()
    )
    for grain in ("hour", "day"):
        _merge_rollups(conn, grain)
    conn.execute(
        text(
            "INSERT INTO observations (asset_pk, metric, time, value, unit) "
            f"SELECT asset_pk, metric, time, value, unit FROM {STAGE} WHERE state = 1"
        )
    )
    if counts.get(2):
        raw_from = kept_from(conn)
        if raw_from:
            conn.execute(text(f"UPDATE {STAGE} SET old = (SELECT o.value {match}) "
                              "WHERE state = 2"))
        conn.execute(
            text(
                "UPDATE observations SET value = s.value FROM "
                f"(SELECT asset_pk, metric, time, value FROM {STAGE} WHERE state = 2) AS s "
                "WHERE observations.asset_pk = s.asset_pk AND observations.metric = s.metric "
                f"AND observations.time = s.time AND observations.time {span}"
            )
        )
        _recompute_changed_buckets(conn, tz, raw_from)
    if counts.get(1) or counts.get(2):
        _keep_latest(conn)
    return IngestResult(len(batch), int(counts.get(1, 0)), int(counts.get(2, 0)),
                        tuple(sorted(set(batch["type"]))),
                        tuple(sorted(set(batch["domain"].dropna()))))
