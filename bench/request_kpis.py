"""Benchmark: the service-request and case KPIs read from their rollups (kept at ingest)
against the previous way (every request row of the windows through Python), on the
benchmark city, in the same run.

    .venv/bin/python bench/request_kpis.py [--database-url URL] [--var-dir var/bench]
        [--windows day,week,month,quarter,year] [--repeat 3] [--json]

Per window: each way's median seconds, seconds in the database, rows fetched and queries,
the ratio, and the largest difference between the two ways' values (their definitions
differ slightly: ``bench/_naive_requests.py`` says how), so neither is fast by being wrong.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (  # noqa: E402
    CountingConnection,
    default_url,
    ensure_demo,
    measured,
    open_store,
    prepare_database,
    reference_now,
    settings_for,
    store_facts,
)
from _naive_requests import naive_case_results, naive_request_results  # noqa: E402

from dashboard.kpis import load_kpis, window_for  # noqa: E402
from dashboard.kpis.engine import district_populations  # noqa: E402
from dashboard.kpis.requests import case_results, request_results  # noqa: E402
from dashboard.kpis.sources import SourceResult  # noqa: E402

WAYS: dict[str, tuple[Callable[..., dict[str, SourceResult]], ...]] = {
    "rollups": (request_results, case_results),
    "previous": (naive_request_results, naive_case_results),
}


def _values(results: dict[str, SourceResult]) -> dict[tuple[str, str, Any], float]:
    out: dict[tuple[str, str, Any], float] = {}
    for kpi_id, result in results.items():
        for part in ("current", "previous"):
            for place, value in getattr(result, part).items():
                out[(kpi_id, part, place)] = value
    return out


def run_window(conn: Any, kpis: list[Any], name: str, now: datetime, tz: str, repeat: int
               ) -> dict[str, Any]:
    window = window_for(name, now, tz)
    by_source = [[k for k in kpis if k.source == s] for s in ("service_requests", "cases")]
    row: dict[str, Any] = {"window": name}
    for way, readers in WAYS.items():
        def run(readers: tuple[Callable[..., dict[str, SourceResult]], ...] = readers
                ) -> dict[str, Any]:
            counting = CountingConnection(conn)
            populations = district_populations(counting)  # type: ignore[arg-type]
            results: dict[str, SourceResult] = {}
            for reader, chosen in zip(readers, by_source, strict=True):
                results.update(reader(counting, chosen, window, populations,
                                      int(now.timestamp())))
            return {"result": _values(results), "rows_read": counting.rows,
                    "db_s": counting.seconds, "queries": counting.queries}

        row[way] = measured(run, repeat, heap=False)
    fast, slow = row["rollups"].pop("result"), row["previous"].pop("result")
    differences = {key: abs(fast.get(key, float("nan")) - slow.get(key, float("nan")))
                   for key in set(fast) | set(slow)}
    worst = max(differences.items(), key=lambda item: -1 if item[1] != item[1] else item[1],
                default=(None, 0.0))
    row["values"] = len(fast)
    row["only_one_way"] = sorted(str(k) for k in set(fast) ^ set(slow))[:5]
    row["largest_difference"] = {"value": worst[1], "where": str(worst[0])}
    row["ratio"] = row["previous"]["median_s"] / max(row["rollups"]["median_s"], 1e-9)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None, help="default: sqlite in --var-dir")
    parser.add_argument("--var-dir", type=Path, default=Path("var/bench"))
    parser.add_argument("--windows", default="day,week,month,quarter,year")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    url = args.database_url or default_url(args.var_dir)
    out = sys.stderr if args.json else sys.stdout

    def say(message: str) -> None:
        print(message, file=out, flush=True)

    prepare_database(url)
    settings = settings_for(url, args.var_dir)
    engine = open_store(url)
    demo = ensure_demo(engine, settings, say)
    facts = store_facts(engine, url)
    say(f"store {engine.url.render_as_string(hide_password=True)}: "
        + ", ".join(f"{n:,} {t}" for t, n in facts["rows"].items()))
    kpis = [k for k in load_kpis(settings.kpis_file)
            if k.source in ("service_requests", "cases")]
    now = reference_now(engine, load_kpis(settings.kpis_file), demo)
    say(f"now = {now.isoformat()}; {len(kpis)} request and case KPIs; repeat {args.repeat}, "
        "median; city and every district, window and previous window, sparklines")
    rows = []
    with engine.connect() as conn:
        for name in [w.strip() for w in args.windows.split(",") if w.strip()]:
            row = run_window(conn, kpis, name, now, settings.timezone, args.repeat)
            rows.append(row)
            fast, slow = row["rollups"], row["previous"]
            say(f"{name:<8} rollups {fast['median_s'] * 1000:8.1f} ms "
                f"({fast['rows_read']:>7,} rows, {fast['queries']:>3} queries)   previous "
                f"{slow['median_s'] * 1000:8.1f} ms ({slow['rows_read']:>9,} rows)   "
                f"{row['ratio']:6.1f}x   largest difference "
                f"{row['largest_difference']['value']:.3g} at {row['largest_difference']['where']}")
    engine.dispose()
    if args.json:
        print(json.dumps({"store": facts, "now": now.isoformat(), "windows": rows},
                         indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
