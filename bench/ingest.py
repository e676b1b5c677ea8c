"""Benchmark: observation ingest (``ingest_observations``) on SQLite and PostgreSQL.

    .venv/bin/python bench/ingest.py [--rows 500000] [--var-dir var/bench]
        [--postgres-url URL | --no-postgres] [--changed-share 0.001] [--json]

Per backend, into an empty store of its own: a batch of new rows, the same batch again
(the idempotent path: nothing stored or counted twice, checked), and the batch with a
small share of values changed (the update path, whose rollup buckets are recomputed).
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
from sqlalchemy import Engine, func, insert, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import pg_schema, prepare_database  # noqa: E402

from dashboard.model import Asset, District, Observation, Rollup  # noqa: E402
from dashboard.store import make_engine, unit_of_work  # noqa: E402
from dashboard.store.engine import init_store  # noqa: E402
from dashboard.store.observations import ingest_observations  # noqa: E402

PG_DEFAULT = ("postgresql+psycopg://postgres@127.0.0.1:5432/test"
              "?options=-csearch_path%3Dcitylens_bench_ingest")
TZ = "Europe/Madrid"
START = 1_767_225_600  # 2026-01-01T00:00Z
TYPES = {"AirQualityObserved": "no2", "NoiseLevelObserved": "LAeq",
         "WasteContainer": "fillingLevel", "Streetlight": "powerConsumption"}


def empty_store(url: str) -> Engine:
    """An engine on an empty store: a fresh SQLite file, or emptied tables of the bench's
    own PostgreSQL schema (refuses any schema not named citylens_bench*)."""
    engine = make_engine(url)
    if engine.dialect.name == "sqlite":
        path = Path(engine.url.database or "")
        engine.dispose()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        engine = make_engine(url)
    else:
        schema = pg_schema(url) or ""
        if not schema.startswith("citylens_bench"):
            raise SystemExit(f"refusing to empty schema {schema!r}: use citylens_bench_*")
    init_store(engine)
    with unit_of_work(engine) as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE observations, latest_readings, rollups, alerts, assets, "
                              "districts CASCADE"))
        else:
            for table in ("observations", "latest_readings", "rollups", "alerts", "assets",
                          "districts"):
                conn.execute(text(f"DELETE FROM {table}"))
    return engine


def make_batch(engine: Engine, rows: int, seed: int = 7) -> pd.DataFrame:
    """Districts, assets and a batch of ``rows`` hourly observations (100 hours per asset)."""
    hours = 100
    assets = max(1, rows // hours)
    with unit_of_work(engine) as conn:
        conn.execute(insert(District), [
            {"id": f"d{i:02d}", "name": f"District {i}", "geometry": {}, "population": 20_000}
            for i in range(10)
        ])
        conn.execute(insert(Asset), [
            {"id": f"urn:ngsi-ld:{t}:bench:{i:06d}", "type": t, "domain": "environment",
             "district_id": f"d{i % 10:02d}" if i % 25 else None, "attributes": {}}
            for i, t in ((i, list(TYPES)[i % len(TYPES)]) for i in range(assets))
        ])
        found = conn.execute(select(Asset.pk, Asset.type).order_by(Asset.pk)).all()
    pks = np.array([pk for pk, _ in found])
    metrics = np.array([TYPES[t] for _, t in found])
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "asset_pk": np.repeat(pks, hours),
        "metric": np.repeat(metrics, hours),
        "time": np.tile(START + 3600 * np.arange(hours, dtype=np.int64), len(pks)),
    }).head(rows)
    frame["value"] = rng.gamma(4.0, 10.0, len(frame)).round(3)
    return frame


def _state(engine: Engine) -> tuple[int, int, float]:
    with engine.connect() as conn:
        observations = conn.execute(select(func.count()).select_from(Observation)).scalar()
        rollups, total = conn.execute(
            select(func.count(), func.sum(Rollup.sum)).where(Rollup.grain == "hour")
        ).one()
    return int(observations or 0), int(rollups or 0), float(total or 0.0)


def _timed(engine: Engine, frame: pd.DataFrame, step: str) -> dict[str, Any]:
    started = time.perf_counter()
    with unit_of_work(engine) as conn:
        result = ingest_observations(conn, frame, TZ)
    seconds = time.perf_counter() - started
    return {"step": step, "rows": len(frame), "seconds": seconds,
            "rows_per_s": len(frame) / seconds, "new": result.new,
            "updated": result.updated, "unchanged": result.unchanged}


def run_backend(name: str, url: str, rows: int, changed_share: float) -> list[dict[str, Any]]:
    """The three ingest steps on one backend, with the idempotence check."""
    prepare_database(url)
    engine = empty_store(url)
    frame = make_batch(engine, rows)
    steps = [_timed(engine, frame, "new batch")]
    before = _state(engine)
    steps.append(_timed(engine, frame, "same batch again"))
    after = _state(engine)
    steps[-1]["idempotent"] = (before[:2] == after[:2] and abs(before[2] - after[2]) <= 1e-6 *
                               abs(before[2]) and steps[-1]["new"] == steps[-1]["updated"] == 0)
    changed = frame.copy()
    picked = np.random.default_rng(1).random(len(changed)) < changed_share
    changed.loc[picked, "value"] += 1.0
    steps.append(_timed(engine, changed, f"{picked.mean():.1%} values changed"))
    engine.dispose()
    for step in steps:
        step["backend"] = name
    return steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--var-dir", type=Path, default=Path("var/bench"))
    parser.add_argument("--postgres-url", default=PG_DEFAULT)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--changed-share", type=float, default=0.001)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    out = sys.stderr if args.json else sys.stdout
    backends = {"sqlite": f"sqlite:///{(args.var_dir / 'ingest.db').resolve()}"}
    if not args.no_postgres:
        backends["postgresql"] = args.postgres_url
    results: list[dict[str, Any]] = []
    for name, url in backends.items():
        print(f"{name}: {args.rows:,} observation rows into an empty store ...", file=out,
              flush=True)
        try:
            results.extend(run_backend(name, url, args.rows, args.changed_share))
        except Exception as error:  # noqa: BLE001 - report an unreachable server, go on
            if name == "sqlite":
                raise
            print(f"  skipped: {type(error).__name__}: {error}", file=out)
    head = (f"{'backend':<11} {'step':<22} {'rows':>9} {'seconds':>8} {'rows/s':>9}  "
            "new/updated/unchanged")
    print("\n" + head + "\n" + "-" * len(head), file=out)
    for r in results:
        note = {True: "  idempotent: yes", False: "  idempotent: NO"}.get(r.get("idempotent"), "")
        print(f"{r['backend']:<11} {r['step']:<22} {r['rows']:>9,} {r['seconds']:>8.2f} "
              f"{r['rows_per_s']:>9,.0f}  {r['new']:,}/{r['updated']:,}/{r['unchanged']:,}{note}",
              file=out)
    if args.json:
        print(json.dumps({"rows": args.rows, "results": results}, indent=2))
    return 0 if all(r.get("idempotent", True) for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
