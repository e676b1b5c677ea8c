"""Partitioned observations: the PostgreSQL ``observations`` table range-partitioned by
month with a BRIN index on time (migration 0009, ``dashboard/store/partitions.py``) beside
the previous release's one plain table (0008: primary key (asset_pk, metric, time), no time
index), in the same run, on two fresh schemas of the same database.

Both stores are loaded with the same readings: ``--assets`` air-quality sensors, one
``no2`` reading each every ``--step-minutes`` over ``--months`` months ending at NOW
(2026-11-23T20:00Z), month by month, in batches of about ``--batch`` rows through
``ingest_observations`` (each batch its own transaction, rollups kept as in production).
The partitioned store runs ``maintain`` (3 months ahead, no retention) at the start of each
month's load, as the daily task would have, so readings land in their month's partition;
then once more at NOW. Then ``VACUUM ANALYZE`` on both (what autovacuum would do), and:

1. ingest throughput of the whole load (readings/s);
2. the observations' size on disk (table and indexes; partitioned: the sum over its
   partitions) and bytes per reading;
3. one asset's week of raw readings (``asset_series.resample`` width 0) for ``--weeks``
   random (asset, week) pairs: ms per query;
4. one UTC day across every asset (``count(*), avg(value)`` on a time range) for
   ``--days`` random days: ms per query (plain: a full scan; partitioned: one partition,
   BRIN);
5. the newest reading of every asset, ``dashboard.queries.asset.latest_reading`` as it is
   now (imported at run time), and the same read straight from observations
   (``ORDER BY time DESC LIMIT 1``, the query before ``latest_readings``): ms for all;
6. retention of the 3 oldest months: plain ``DELETE`` in one transaction then ``VACUUM``
   (timed apart); partitioned ``maintain`` with ``--months - 3`` months of retention (its
   horizon checked with ``retention_horizon``), which drops whole partitions: seconds, rows
   deleted, bytes given back to the file system;
7. what is left of the plain store upgraded to this release (``upgrade_store``: migration
   0009 copies every reading into its month's partition, 0010 fills ``latest_readings``):
   seconds, readings per second.

Queries are the median of ``--repeat`` passes, both stores in each pass, the same random
picks (seed 7) for both; their answers are checked equal. Peak RSS is this process's (both
stores are loaded side by side in it). The schemas are dropped at the end, also on error.

    .venv/bin/python bench/partitions.py [--assets 300] [--months 12] [--step-minutes 60]
        [--batch 50000] [--weeks 50] [--days 20] [--repeat 5] [--pg-url URL] [--no-jit]
        [--json]

``--no-jit`` opens both stores' sessions with ``jit=off``, for the queries too (ingest turns
JIT off for its own transactions: compiling its stage lookup cost more than it saved). With
``--json`` the progress and table go to stderr, a JSON document to stdout.

The plain store is made at head and downgraded with Alembic to 0008_one_running_run; the
tables of later revisions that today's ingest writes besides observations (such as
``latest_readings``) are then created from the models, so both stores run the same ingest
code and differ only in the observations' layout.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, create_engine, insert, inspect, select, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._harness import peak_rss_mb, reset_peak_rss  # noqa: E402
from dashboard.model import Asset, Base, District  # noqa: E402
from dashboard.queries.asset_series import resample  # noqa: E402
from dashboard.store import init_store, make_engine  # noqa: E402
from dashboard.store.observations import ingest_observations  # noqa: E402
from dashboard.store.schema import upgrade_store  # noqa: E402
from dashboard.store.partitions import (  # noqa: E402
    DEFAULT,
    epoch,
    is_partitioned,
    maintain,
    month_of,
    retention_horizon,
    shift,
)

PG_URL = os.environ.get("CITYLENS_TEST_PG_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/test")
NOW = datetime(2026, 11, 23, 20, 0, tzinfo=timezone.utc)
TZ = "Europe/Madrid"
METRIC = "no2"
DISTRICTS = 3
DROPPED_MONTHS = 3
AHEAD_MONTHS = 3
PLAIN_REVISION = "0008_one_running_run"
DAY = 86_400
PLAIN, PARTITIONED = "plain (0008)", "partitioned (0009+)"
SIZE = text("SELECT pg_total_relation_size('observations'::regclass) + COALESCE((SELECT "
            "SUM(pg_total_relation_size(inhrelid)) FROM pg_inherits WHERE inhparent = "
            "'observations'::regclass), 0)")
ONE_DAY = text("SELECT count(*), avg(value) FROM observations WHERE time >= :a AND time < :b")
NEWEST_RAW = text("SELECT time, value, unit FROM observations WHERE asset_pk = :pk AND "
                  "metric = :m ORDER BY time DESC LIMIT 1")


class Stores:
    """Fresh schemas of one database, each with its engine; ``drop`` removes them all."""

    def __init__(self, base_url: str, settings: str = "") -> None:
        self.base_url = base_url
        self.settings = settings  # more ``-c name=value`` for every session
        self.admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
        self.schemas: list[str] = []
        self.engines: list[Engine] = []

    def new(self, label: str) -> Engine:
        name = f"citylens_bench_{label}_{uuid.uuid4().hex[:8]}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{name}"'))
        self.schemas.append(name)
        options = quote(f"-csearch_path={name} {self.settings}".strip())
        engine = make_engine(f"{self.base_url}?options={options}")
        self.engines.append(engine)
        return engine

    def drop(self) -> None:
        for engine in self.engines:
            engine.dispose()
        with self.admin.connect() as conn:
            for name in self.schemas:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        self.admin.dispose()


def make_plain(engine: Engine) -> list[str]:
    """The store at head, downgraded to 0008: observations one plain table again. Returns
    the later revisions' tables made from the models (ingest writes some of them)."""
    from alembic import command

    from dashboard.store.schema import _config

    init_store(engine)
    with engine.begin() as conn:
        command.downgrade(_config(conn), PLAIN_REVISION)
    with engine.begin() as conn:
        at_0008 = set(inspect(conn).get_table_names())
        Base.metadata.create_all(conn, checkfirst=True)
        assert not is_partitioned(conn), "the downgraded store still has partitions"
    return sorted(set(Base.metadata.tables) - at_0008)


def add_city(engine: Engine, assets: int) -> list[int]:
    """``DISTRICTS`` districts and ``assets`` air-quality sensors; their pks."""
    with engine.begin() as conn:
        conn.execute(insert(District), [
            {"id": f"d{n}", "name": f"District {n}", "geometry": {}, "population": 20_000}
            for n in range(DISTRICTS)])
        conn.execute(insert(Asset), [
            {"id": f"urn:ngsi-ld:AirQualityObserved:bench:{n:05d}",
             "type": "AirQualityObserved", "domain": "environment",
             "district_id": f"d{n % DISTRICTS}"} for n in range(assets)])
        return list(conn.execute(select(Asset.pk).order_by(Asset.pk)).scalars())


def first_moment(months: int) -> datetime:
    """NOW, ``months`` months earlier."""
    month = shift(month_of(NOW), -months)
    return NOW.replace(year=month.year, month=month.month)


def monthly_frames(pks: list[int], months: int, step: int,
                   batch: int) -> list[tuple[date, list[pd.DataFrame]]]:
    """Each month's readings (every asset, one every ``step`` seconds, time-ordered) in
    batches of about ``batch`` rows, oldest month first."""
    start = int(first_moment(months).timestamp())
    times = np.arange(start - start % step + step, int(NOW.timestamp()), step, dtype=np.int64)
    rng = np.random.default_rng(7)
    out = []
    month = month_of(first_moment(months))
    while epoch(month) < times[-1] + 1:
        chosen = times[(times >= epoch(month)) & (times < epoch(shift(month, 1)))]
        frame = pd.DataFrame({"asset_pk": np.tile(np.array(pks), len(chosen)),
                              "metric": METRIC, "time": np.repeat(chosen, len(pks))})
        frame["value"] = rng.gamma(4.0, 10.0, len(frame)).round(2)
        frame["unit"] = "ug/m3"
        pieces = max(1, round(len(frame) / batch))
        out.append((month, [frame.iloc[rows] for rows in
                            np.array_split(np.arange(len(frame)), pieces)]))
        month = shift(month, 1)
    return out


def at(month: date) -> datetime:
    return datetime(month.year, month.month, 1, tzinfo=timezone.utc)


def load(engines: dict[str, Engine], frames: list[tuple[date, list[pd.DataFrame]]],
         say: Callable[[str], None]) -> dict[str, dict[str, float]]:
    """Both stores loaded with the same batches, month by month, side by side."""
    spent = {name: {"ingest_s": 0.0, "maintain_s": 0.0, "readings": 0} for name in engines}
    for month, batches in frames:
        started = time.perf_counter()
        with engines[PARTITIONED].begin() as conn:  # the daily task, at the month's start
            maintain(conn, at(month), ahead_months=AHEAD_MONTHS, retention_months=0)
        spent[PARTITIONED]["maintain_s"] += time.perf_counter() - started
        for frame in batches:
            for name, engine in engines.items():
                started = time.perf_counter()
                with engine.begin() as conn:
                    ingest_observations(conn, frame, TZ)
                spent[name]["ingest_s"] += time.perf_counter() - started
                spent[name]["readings"] += len(frame)
        say(f"  {month:%Y-%m}: {sum(map(len, batches)):,} readings into each store")
    started = time.perf_counter()
    with engines[PARTITIONED].begin() as conn:
        done = maintain(conn, NOW, ahead_months=AHEAD_MONTHS, retention_months=0)
        waiting = conn.execute(text(f"SELECT count(*) FROM {DEFAULT}")).scalar()
    spent[PARTITIONED]["maintain_s"] += time.perf_counter() - started
    say(f"  maintain at NOW: {'; '.join(done.lines())}; {waiting} rows in {DEFAULT}")
    for figures in spent.values():
        figures["per_s"] = figures["readings"] / figures["ingest_s"]
    return spent


def vacuum(engine: Engine, analyze: bool = False) -> float:
    """``VACUUM [ANALYZE] observations`` (outside a transaction); its seconds."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        started = time.perf_counter()
        conn.execute(text(f"VACUUM {'ANALYZE ' if analyze else ''}observations"))
        return time.perf_counter() - started


def facts(engine: Engine) -> tuple[int, int, int]:
    """Rows, bytes on disk (table, indexes, every partition) and partitions."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT count(*) FROM observations")).scalar()
        size = conn.execute(SIZE).scalar()
        parts = conn.execute(text("SELECT count(*) FROM pg_inherits WHERE inhparent = "
                                  "'observations'::regclass")).scalar()
    return int(rows or 0), int(size or 0), int(parts or 0)


def rollup_facts(engine: Engine) -> tuple[int, int]:
    """Rollup rows and their bytes on disk (table and primary key): what the pages read,
    and what the retention keeps."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT count(*) FROM rollups")).scalar()
        size = conn.execute(text("SELECT pg_total_relation_size('rollups')")).scalar()
    return int(rows or 0), int(size or 0)


def passes(engines: dict[str, Engine], repeat: int,
           each: Callable[[Connection], Any]) -> dict[str, dict[str, Any]]:
    """``each(conn)`` ``repeat`` times on every store (stores alternate within a pass):
    per store the median and first seconds and the last answer."""
    seconds: dict[str, list[float]] = {name: [] for name in engines}
    answers: dict[str, Any] = {}
    for _ in range(repeat):
        for name, engine in engines.items():
            with engine.connect() as conn:
                started = time.perf_counter()
                answers[name] = each(conn)
                seconds[name].append(time.perf_counter() - started)
    return {name: {"median_s": statistics.median(seconds[name]), "first_s": seconds[name][0],
                   "seconds": seconds[name], "answer": answers[name]} for name in engines}


def alike(one: Any, other: Any) -> bool:
    """Equal answers, floats to 1e-9 relative (a sum's order differs between the plans)."""
    if isinstance(one, float) and isinstance(other, float):
        return math.isclose(one, other, rel_tol=1e-9)
    if isinstance(one, list | tuple) and isinstance(other, list | tuple):
        return len(one) == len(other) and all(map(alike, one, other))
    if isinstance(one, dict) and isinstance(other, dict):
        return one.keys() == other.keys() and all(alike(one[k], other[k]) for k in one)
    return bool(one == other)


def queries(engines: dict[str, Engine], pks: list[int], months: int, args: argparse.Namespace,
            say: Callable[[str], None]) -> dict[str, dict[str, Any]]:
    """Measures 3 to 5: the same random picks on both stores."""
    from dashboard.queries.asset import latest_reading  # as it is at run time

    rng = np.random.default_rng(7)
    start, end = int(first_moment(months).timestamp()), int(NOW.timestamp())
    weeks = [(int(rng.choice(pks)), int(rng.integers(start, end - 7 * DAY)))
             for _ in range(args.weeks)]
    days = [start - start % DAY + DAY * int(n)
            for n in rng.integers(1, (end - start) // DAY, args.days)]

    def week_reads(conn: Connection) -> int:
        return sum(len(resample(conn, pk, METRIC, a, a + 7 * DAY, 0)) for pk, a in weeks)

    def day_scans(conn: Connection) -> list[tuple[int, float]]:
        return [tuple(conn.execute(ONE_DAY, {"a": a, "b": a + DAY}).one()) for a in days]

    def latest(conn: Connection) -> list[Any]:
        return [latest_reading(conn, pk, METRIC) for pk in pks]

    def newest_raw(conn: Connection) -> list[Any]:
        return [tuple(conn.execute(NEWEST_RAW, {"pk": pk, "m": METRIC}).one()) for pk in pks]

    found = {}
    for key, each, count, label in (("week", week_reads, len(weeks), "one asset's week"),
                                    ("day", day_scans, len(days), "one day, every asset"),
                                    ("latest", latest, 1, "latest_reading, every asset"),
                                    ("newest_raw", newest_raw, 1,
                                     "newest from observations, every asset")):
        timed = passes(engines, args.repeat, each)
        answers = [row.pop("answer") for row in timed.values()]
        for row in timed.values():
            row["ms"] = row["median_s"] * 1000 / count
            row["equal"] = all(alike(answer, answers[0]) for answer in answers)
        found[key] = timed
        say(f"  {label}: " + ", ".join(f"{name} {row['ms']:,.2f} ms"
                                       for name, row in timed.items())
            + f" (answers equal: {timed[PLAIN]['equal']})")
    return found


def retention(engines: dict[str, Engine], months: int) -> dict[str, dict[str, Any]]:
    """Measure 6: the 3 oldest months of raw readings gone, each store its own way."""
    kept = months - DROPPED_MONTHS
    horizon = retention_horizon(NOW, kept)
    oldest = month_of(first_moment(months))
    assert horizon == epoch(shift(oldest, DROPPED_MONTHS)), (horizon, oldest)
    out: dict[str, dict[str, Any]] = {}
    for name, engine in engines.items():
        rows_before, bytes_before, parts_before = facts(engine)
        started = time.perf_counter()
        with engine.begin() as conn:
            if name == PLAIN:
                deleted = conn.execute(text("DELETE FROM observations WHERE time < :h"),
                                       {"h": horizon}).rowcount
                dropped: list[str] = []
            else:
                done = maintain(conn, NOW, ahead_months=AHEAD_MONTHS, retention_months=kept)
                deleted, dropped = done.deleted, [part for part, _ in done.dropped]
        seconds = time.perf_counter() - started
        vacuum_s = vacuum(engine) if name == PLAIN else 0.0
        rows_after, bytes_after, _ = facts(engine)
        out[name] = {"horizon": horizon, "delete_s": seconds, "vacuum_s": vacuum_s,
                     "seconds": seconds + vacuum_s, "rows_freed": rows_before - rows_after,
                     "rows_deleted": deleted, "partitions_dropped": dropped,
                     "bytes_before": bytes_before, "bytes_after": bytes_after,
                     "bytes_freed": bytes_before - bytes_after, "partitions": parts_before}
    return out


def upgrade_plain(engine: Engine, later_tables: list[str]) -> dict[str, Any]:
    """Measure 7: the previous release's store (what is left of it after measure 6)
    upgraded to this release, whose migration 0009 copies every reading into its month's
    partition (and 0010 fills ``latest_readings``): seconds and readings per second."""
    with engine.begin() as conn:  # made from the models for ingest; the migrations make them
        conn.execute(text("DROP TABLE IF EXISTS "
                          + ", ".join(f'"{t}"' for t in later_tables) + " CASCADE"))
    rows, _, _ = facts(engine)
    started = time.perf_counter()
    upgrade_store(engine)
    seconds = time.perf_counter() - started
    after, _, parts = facts(engine)
    assert after == rows and parts > 0, "the upgrade lost readings or made no partition"
    return {"rows": rows, "seconds": seconds, "per_s": rows / seconds, "partitions": parts}


def table(result: dict[str, Any]) -> list[str]:
    """The printed table: a row a measure, a column a store, partitioned / plain."""
    plain, part = result["stores"][PLAIN], result["stores"][PARTITIONED]
    mb = 2 ** 20
    rows: list[tuple[str, float | None, float | None, str]] = [
        ("1 ingest, readings/s", plain["ingest"]["per_s"], part["ingest"]["per_s"], ",.0f"),
        ("  ingest, s", plain["ingest"]["ingest_s"], part["ingest"]["ingest_s"], ",.1f"),
        ("  maintain during the load, s", None, part["ingest"]["maintain_s"], ",.2f"),
        ("2 size on disk, MB", plain["bytes"] / mb, part["bytes"] / mb, ",.1f"),
        ("  bytes per reading", plain["bytes_per_reading"], part["bytes_per_reading"], ",.1f"),
    ]
    for key, label, unit in (("week", "3 one asset's week, ms/query", ",.2f"),
                             ("day", "4 one day every asset, ms/query", ",.1f"),
                             ("latest", "5 latest_reading x assets, ms", ",.1f"),
                             ("newest_raw", "  newest from observations, ms", ",.1f")):
        q = result["queries"][key]
        rows.append((label, q[PLAIN]["ms"], q[PARTITIONED]["ms"], unit))
    r = result["retention"]
    rows += [
        ("6 retention -3 months, s", r[PLAIN]["seconds"], r[PARTITIONED]["seconds"], ",.2f"),
        ("  DELETE / maintain, s", r[PLAIN]["delete_s"], r[PARTITIONED]["delete_s"], ",.2f"),
        ("  VACUUM, s", r[PLAIN]["vacuum_s"], None, ",.2f"),
        ("  readings deleted", r[PLAIN]["rows_freed"], r[PARTITIONED]["rows_freed"], ",.0f"),
        ("  MB given back to the disk", r[PLAIN]["bytes_freed"] / mb,
         r[PARTITIONED]["bytes_freed"] / mb, ",.1f"),
    ]
    u = result["upgrade"]
    rows += [("7 upgrade to this release, s", u["seconds"], None, ",.1f"),
             ("  readings copied per s", u["per_s"], None, ",.0f")]
    head = f"{'measure':<34} {PLAIN:>14} {PARTITIONED:>20} {'part./plain':>12}"
    lines = [head, "-" * len(head)]
    for label, left, right, unit in rows:
        ratio = f"{right / left:.2f}x" if left and right is not None else ""
        lines.append(f"{label:<34} {'' if left is None else format(left, unit):>14} "
                     f"{'' if right is None else format(right, unit):>20} {ratio:>12}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assets", type=int, default=300)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--step-minutes", type=int, default=60)
    parser.add_argument("--batch", type=int, default=50_000, help="readings per transaction")
    parser.add_argument("--weeks", type=int, default=50, help="random (asset, week) reads")
    parser.add_argument("--days", type=int, default=20, help="random days across assets")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--no-jit", action="store_true",
                        help="both stores' sessions with jit=off (default: the server's)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--var-dir", help="not used: the stores are schemas of --pg-url")
    args = parser.parse_args(argv)
    if args.months <= DROPPED_MONTHS:
        parser.error(f"--months must be more than the {DROPPED_MONTHS} months retention drops")
    out = sys.stderr if args.json else sys.stdout

    def say(line: str) -> None:
        print(line, file=out, flush=True)

    reset_peak_rss()
    stores = Stores(args.pg_url, "-cjit=off" if args.no_jit else "")
    try:
        engines = {PLAIN: stores.new("plain"), PARTITIONED: stores.new("parts")}
        later_tables = make_plain(engines[PLAIN])
        init_store(engines[PARTITIONED])
        pks = [add_city(engine, args.assets) for engine in engines.values()]
        assert pks[0] == pks[1], "the two stores numbered their assets differently"
        frames = monthly_frames(pks[0], args.months, args.step_minutes * 60, args.batch)
        total = sum(len(f) for _, batches in frames for f in batches)
        say(f"{args.assets} sensors x one {METRIC} reading every {args.step_minutes} min x "
            f"{args.months} months to {NOW:%Y-%m-%dT%H:%MZ} = {total:,} readings, batches of "
            f"~{args.batch:,}, into each store ({', '.join(stores.schemas)})")
        ingest = load(engines, frames, say)
        stored: dict[str, dict[str, Any]] = {}
        for name, engine in engines.items():
            vacuum_s = vacuum(engine, analyze=True)
            rows, size, parts = facts(engine)
            rollup_rows, rollup_bytes = rollup_facts(engine)
            stored[name] = {"ingest": ingest[name], "rows": rows, "bytes": size,
                            "bytes_per_reading": size / max(rows, 1), "partitions": parts,
                            "vacuum_analyze_s": vacuum_s, "rollup_rows": rollup_rows,
                            "rollup_bytes": rollup_bytes}
            say(f"  {name}: {rows:,} readings, {size / 2**20:,.1f} MB, {parts} partitions; "
                f"{rollup_rows:,} rollup rows, {rollup_bytes / max(rollup_rows, 1):,.0f} "
                "bytes a row")
        assert all(s["rows"] == total for s in stored.values()), "a store lost readings"
        found = queries(engines, pks[0], args.months, args, say)
        kept = retention(engines, args.months)
        upgraded = upgrade_plain(engines[PLAIN], later_tables)
    finally:
        stores.drop()
    result = {"assets": args.assets, "months": args.months, "step_minutes": args.step_minutes,
              "readings": total, "repeat": args.repeat, "now": NOW.isoformat(),
              "jit": "off" if args.no_jit else "server default",
              "stores": stored, "queries": found, "retention": kept, "upgrade": upgraded,
              "peak_rss_mb": peak_rss_mb()}
    say("")
    for line in table(result):
        say(line)
    dropped = ", ".join(kept[PARTITIONED]["partitions_dropped"]) or "none"
    horizon = datetime.fromtimestamp(kept[PLAIN]["horizon"], timezone.utc)
    equal = all(q[PLAIN]["equal"] for q in found.values())
    say(f"retention horizon {horizon:%Y-%m-%d}; partitions dropped: {dropped}; answers "
        f"equal: {equal}; peak RSS {result['peak_rss_mb']:,.0f} MB (this process)")
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
