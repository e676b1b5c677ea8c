"""Benchmark: the open-data export of observations, chunked (this CityLens: a streamed
cursor, Parquet and gzip CSV written batch by batch, one file per month) against the naive
way (one ``pd.read_sql`` of the whole table, then ``to_parquet``), in the same run, on the
same store. Each way runs in a fresh process, so its peak memory is its own; both files'
rows are checked equal before any figure is printed.

    .venv/bin/python bench/opendata_export.py [--rows 2000000] [--assets 200]
        [--database-url URL] [--var-dir var/bench] [--repeat 1] [--json]

Makes ``--rows`` hourly readings of ``--assets`` assets (four metrics each), through the
ingest (rollups kept), in ``opendata-bench.db`` under ``--var-dir`` or the given store.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import delete, func, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import in_fresh_process, peak_rss_mb  # noqa: E402

from dashboard.model import Asset, Observation  # noqa: E402
from dashboard.opendata.datasets import OBSERVATIONS  # noqa: E402
from dashboard.opendata.export import export_dataset  # noqa: E402
from dashboard.settings import Settings  # noqa: E402
from dashboard.store import init_store, make_engine  # noqa: E402
from dashboard.store.observations import ingest_observations  # noqa: E402

METRICS = ("no2", "pm10", "o3", "pm25")
START = 1_780_000_000 - 1_780_000_000 % 3600
NAIVE = ("SELECT a.id AS asset_id, o.metric, o.time, o.value, o.unit FROM observations o "
         "JOIN assets a ON a.pk = o.asset_pk")


def make_store(url: str, rows: int, assets: int) -> None:
    """``rows`` readings, hourly, ``assets`` assets x four metrics (made once per size)."""
    engine = make_engine(url)
    init_store(engine)
    with engine.begin() as conn:
        if conn.execute(select(func.count()).select_from(Observation)).scalar_one() == rows:
            return
        conn.execute(delete(Observation))
        conn.execute(delete(Asset).where(Asset.id.like("urn:bench:%")))
        conn.execute(insert(Asset), [{"id": f"urn:bench:{i}", "type": "AirQualityObserved",
                                      "domain": "environment", "name": f"S{i}"}
                                     for i in range(assets)])
        pks = np.array(conn.execute(select(Asset.pk).where(Asset.id.like("urn:bench:%"))
                                    .order_by(Asset.pk)).scalars().all())
    per_hour = len(pks) * len(METRICS)
    rng = np.random.default_rng(7)
    for first in range(0, rows, 200_000):
        index = np.arange(first, min(rows, first + 200_000))
        frame = pd.DataFrame({
            "asset_pk": pks[index % len(pks)],
            "metric": np.array(METRICS)[(index // len(pks)) % len(METRICS)],
            "time": START + (index // per_hour) * 3600,
            "value": rng.normal(30, 10, len(index)).round(1), "unit": "ugm3"})
        with engine.begin() as conn:
            ingest_observations(conn, frame, "UTC")
    engine.dispose()


def chunked(url: str, folder: str) -> dict[str, Any]:
    """This CityLens: ``export_dataset`` of observations, forced."""
    base = peak_rss_mb()
    settings = Settings(database_url=url, var_dir=Path(folder), redis_url=None)
    started = time.perf_counter()
    done = export_dataset(make_engine(url), settings, OBSERVATIONS, force=True)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "peak_mb": peak_rss_mb() - base, "rows": done.rows,
            "files": sorted(done.written)}


def naive(url: str, folder: str) -> dict[str, Any]:
    """The naive way: the whole table in one DataFrame, then one Parquet file."""
    base = peak_rss_mb()
    started = time.perf_counter()
    with make_engine(url).connect() as conn:
        frame = pd.read_sql(NAIVE, conn)
    frame["time"] = pd.to_datetime(frame["time"], unit="s", utc=True)
    frame.to_parquet(Path(folder) / "naive.parquet", index=False)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "peak_mb": peak_rss_mb() - base, "rows": len(frame)}


def same_rows(folder: Path, files: list[str]) -> bool:
    """Both ways' rows, sorted by key, are equal."""
    keys = [("asset_id", "ascending"), ("metric", "ascending"), ("time", "ascending")]
    ours = pa.concat_tables([pq.read_table(folder / "opendata" / f) for f in files
                             if f.endswith(".parquet")]).sort_by(keys)
    theirs = pq.read_table(folder / "naive.parquet").sort_by(keys)
    def seconds(table: pa.Table) -> pa.Array:
        return table.column("time").cast(pa.timestamp("s", "UTC")).cast(pa.int64())

    return seconds(ours).equals(seconds(theirs)) and all(
        ours.column(c).cast(pa.string() if c != "value" else pa.float64()).equals(
            theirs.column(c).cast(pa.string() if c != "value" else pa.float64()))
        for c in ("asset_id", "metric", "value", "unit"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--assets", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--var-dir", default="var/bench")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    folder = Path(args.var_dir).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    url = args.database_url or f"sqlite:///{folder / 'opendata-bench.db'}"
    make_store(url, args.rows, args.assets)
    runs = {"chunked": [], "naive": []}
    for _ in range(args.repeat):
        runs["chunked"].append(in_fresh_process(chunked, url, str(folder)))
        runs["naive"].append(in_fresh_process(naive, url, str(folder)))
    ours, theirs = runs["chunked"][-1], runs["naive"][-1]
    if ours["rows"] != theirs["rows"] or not same_rows(folder, ours["files"]):
        sys.exit(f"the two ways differ: {ours['rows']} rows against {theirs['rows']}")
    best = {way: min(r["seconds"] for r in found) for way, found in runs.items()}
    peak = {way: max(r["peak_mb"] for r in found) for way, found in runs.items()}
    report = {"rows": ours["rows"], "backend": url.split(":", 1)[0], "seconds": best,
              "peak_mb": peak, "files": len(ours["files"]),
              "memory_ratio": peak["naive"] / max(peak["chunked"], 1e-9),
              "time_ratio": best["naive"] / max(best["chunked"], 1e-9)}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{report['rows']:,} observations on {report['backend']}, rows checked equal")
    for way in ("chunked", "naive"):
        print(f"  {way:<8} {best[way]:7.2f} s   peak {peak[way]:8.1f} MB above the start")
    print(f"  the naive way takes {report['time_ratio']:.2f}x the time and "
          f"{report['memory_ratio']:.1f}x the memory; the chunked export also wrote "
          f"{report['files']} files (Parquet and gzip CSV per month)")


if __name__ == "__main__":
    main()
