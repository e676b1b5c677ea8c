"""Benchmark: a CSV observation export through the ``csv`` connector, chunked vs row by row.

    .venv/bin/python bench/csv_export.py [--rows 200000] [--var-dir var/bench] [--json]

Writes a sensor log (7 sensors, a row every 10 minutes, three metrics a row, one row in a
thousand unreadable), then runs it as a source into an empty SQLite store twice: through
the chunk mapper (the default) and through the row mapper alone. Both must store and
quarantine the same counts and the same sum of values (checked).
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select

from connectors.csv_source import CsvConnector, CsvStream
from connectors.runner import run_source
from dashboard.model import Observation
from dashboard.settings import Settings
from dashboard.store import init_store, make_engine

MAPPING = {
    "entity": "observations", "type": "AirQualityObserved", "domain": "environment",
    "namespace": "bench", "timezone": "Europe/Madrid",
    "columns": {"id": "sensor", "time": "when", "lat": "lat", "lon": "lon", "name": "sensor"},
    "metrics": [{"metric": "no2", "column": "no2", "unit": "ugm3"},
                {"metric": "pm10", "column": "pm10", "optional": True},
                {"metric": "ratio", "column": "pm10", "divide_by": "cap", "scale": 100}],
}


def write_export(path: Path, rows: int) -> None:
    """The sensor log: ISO times with offsets, a bad reading every thousand rows."""
    with path.open("w", encoding="utf-8") as handle:
        handle.write("sensor,when,no2,pm10,cap,lat,lon\n")
        for i in range(rows):
            moment = datetime.fromtimestamp(1_780_000_000 + 600 * i, timezone.utc)
            value = "n/a" if i % 1000 == 500 else f"{(i % 50) / 2}"
            handle.write(f"S{i % 7},{moment.isoformat()},{value},{i % 30},60,43.46,-3.80\n")


def run(folder: Path, export: Path, mapping: Path, chunked: bool) -> dict[str, Any]:
    engine = make_engine(f"sqlite:///{folder / ('chunks.db' if chunked else 'rows.db')}")
    init_store(engine)
    original = CsvStream.read_chunks
    if not chunked:
        CsvStream.read_chunks = (  # type: ignore[method-assign]
            lambda self, watermark, plausible=None: None)
    try:
        started = time.perf_counter()
        report = run_source(engine, Settings(var_dir=folder), CsvConnector(
            {"location": str(export), "mapping": str(mapping)}), "bench")
        seconds = time.perf_counter() - started
    finally:
        CsvStream.read_chunks = original  # type: ignore[method-assign]
    with engine.connect() as conn:
        readings, total = conn.execute(
            select(func.count(), func.sum(Observation.value))).one()
    engine.dispose()
    return {"path": "chunks" if chunked else "rows", "seconds": round(seconds, 2),
            "rows_per_second": round(report.records_in / seconds),
            "stored": report.stored, "quarantined": report.quarantined,
            "readings": readings, "sum": round(total, 6)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--var-dir", type=Path, default=Path("var/bench"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    folder = args.var_dir / "csv_export"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.db"):
        old.unlink()
    export, mapping = folder / "log.csv", folder / "log.yaml"
    write_export(export, args.rows)
    mapping.write_text(yaml.safe_dump(MAPPING), encoding="utf-8")
    results = [run(folder, export, mapping, chunked) for chunked in (True, False)]
    same = {k: results[0][k] for k in ("stored", "quarantined", "readings", "sum")}
    if same != {k: results[1][k] for k in same}:
        sys.exit(f"the two paths differ: {results}")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if args.json:
        print(json.dumps({"rows": args.rows, "results": results, "peak_rss_mb": peak_mb}))
        return
    print(f"{args.rows:,} rows ({results[0]['readings']:,} readings), same result both ways")
    for r in results:
        print(f"  {r['path']:>6}: {r['seconds']:6.2f} s  {r['rows_per_second']:>8,} rows/s")
    print(f"  peak RSS {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
