"""Benchmark: the overview page's KPIs the app's way (rollups) against the naive way
(pandas over raw observations), on the benchmark city, in the same run.

    .venv/bin/python bench/kpi_overview.py [--database-url URL] [--var-dir var/bench]
        [--windows week,month,quarter] [--repeat 3] [--json]

Each side runs in its own freshly spawned interpreter, so its peak memory is its own.
The two sides' numbers are checked equal (1e-6 relative) before their times are compared.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (  # noqa: E402
    CountingConnection,
    code_fingerprint,
    default_url,
    ensure_demo,
    in_fresh_process,
    measured,
    open_store,
    prepare_database,
    reference_now,
    settings_for,
    store_facts,
)
from _naive import app_values, compare, count_value, naive_values  # noqa: E402

from dashboard.kpis import compute_kpi_table, load_kpis, window_for  # noqa: E402
from dashboard.kpis.engine import district_populations  # noqa: E402
from dashboard.kpis.requests import case_results, request_results  # noqa: E402
from dashboard.kpis.sources import rollup_results  # noqa: E402
from dashboard.store import make_engine  # noqa: E402

READERS = {"rollups": rollup_results, "service_requests": request_results,
           "cases": case_results}


def app_side(url: str, kpis_file: str, window: str, now_iso: str, tz: str,
             repeat: int) -> dict[str, Any]:
    """The overview's computation: every KPI of the catalogue, no query cache."""
    now = datetime.fromisoformat(now_iso)
    kpis = load_kpis(Path(kpis_file))
    span = window_for(window, now, tz)
    engine = make_engine(url)
    with engine.connect() as conn:

        def table() -> dict[str, Any]:
            counting = CountingConnection(conn)  # type: ignore[arg-type]
            result = compute_kpi_table(counting, kpis, span, now)  # type: ignore[arg-type]
            return {"result": result, "rows_read": counting.rows, "db_s": counting.seconds,
                    "queries": counting.queries}

        def part(source: str) -> Callable[[], dict[str, Any]]:
            chosen = [k for k in kpis if k.source == source]

            def run() -> dict[str, Any]:
                counting = CountingConnection(conn)  # type: ignore[arg-type]
                populations = district_populations(counting)  # type: ignore[arg-type]
                READERS[source](counting, chosen, span, populations,  # type: ignore[arg-type]
                                int(now.timestamp()))
                return {"rows_read": counting.rows, "db_s": counting.seconds,
                        "queries": counting.queries}

            return run

        figures = measured(table, repeat)
        figures["values"] = app_values(figures.pop("result"), kpis)
        figures["parts"] = {}  # same process: their memory figures are not used
        for source in READERS:
            timed = measured(part(source), repeat, heap=False)
            figures["parts"][source] = {
                k: timed[k] for k in ("median_s", "db_s", "rows_read", "queries")
            }
    engine.dispose()
    figures["window"] = {"start": span.start_dt().isoformat(), "end": span.end_dt().isoformat(),
                         "grain": span.grain}
    return figures


def naive_side(url: str, kpis_file: str, window: str, now_iso: str, tz: str,
               repeat: int) -> dict[str, Any]:
    """pandas over the raw observations of the window and the previous window."""
    now = datetime.fromisoformat(now_iso)
    kpis = load_kpis(Path(kpis_file))
    span = window_for(window, now, tz)
    engine = make_engine(url)
    with engine.connect() as conn:
        figures = measured(
            lambda: naive_values(conn, kpis, span, tz, int(now.timestamp())), repeat
        )
    engine.dispose()
    figures["values"] = figures.pop("result")
    return figures


def overview_side(url: str, var_dir: str, windows: list[str], now_iso: str) -> dict[str, Any]:
    """``queries.overview`` twice per window: computed, then from the in-process cache."""
    from dashboard import queries

    settings = settings_for(url, Path(var_dir), datetime.fromisoformat(now_iso))
    open_store(settings.resolved_database_url)
    out: dict[str, Any] = {}
    for window in windows:
        times = []
        for _ in range(2):
            started = time.perf_counter()
            queries.overview(settings, None, window)
            times.append(time.perf_counter() - started)
        out[window] = {"computed_s": times[0], "cached_s": times[1]}
    return out


def _mb(value: float) -> str:
    return f"{value:,.0f} MB" if value >= 10 else f"{value:.1f} MB"


def _x(value: float) -> str:
    return f"{value:,.0f}x" if value >= 10 else f"{value:.1f}x"


def _s(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 10 else f"{value:.1f} s"


def run_window(args: argparse.Namespace, window: str, now_iso: str, tz: str,
               say: Callable[[str], None]) -> dict[str, Any]:
    """Both sides of one window, checked against each other."""
    common = (args.database_url, str(args.kpis_file), window, now_iso, tz, args.repeat)
    app = in_fresh_process(app_side, *common)
    naive = in_fresh_process(naive_side, *common)
    app_values_, naive_values_ = app.pop("values"), naive.pop("values")
    check = compare(app_values_, naive_values_)
    check["non_empty_values"] = count_value(naive_values_)
    part = app["parts"]["rollups"]
    row = {
        "window": window, **app.pop("window"), "app": app, "naive": naive, "check": check,
        "ratio": naive["median_s"] / app["median_s"],
        "ratio_like_for_like": naive["median_s"] / part["median_s"],
    }
    say(f"\n{window} [{row['start']} .. {row['end']}) rollup grain {row['grain']}")
    say(f"  app   compute_kpi_table, all KPIs   {_s(app['median_s']):>9} (first "
        f"{_s(app['first_s'])}; DB {_s(app['db_s'])}, {app['rows_read']:,} rows in "
        f"{app['queries']} queries)")
    for source, figures in app["parts"].items():
        say(f"    of which {source + ' KPIs':<22} {_s(figures['median_s']):>9} (DB "
            f"{_s(figures['db_s'])}, {figures['rows_read']:,} rows in "
            f"{figures['queries']} queries)")
    say(f"  naive pandas over observations      {_s(naive['median_s']):>9} (first "
        f"{_s(naive['first_s'])}; DB {_s(naive['db_s'])}, {naive['rows_read']:,} rows)")
    say(f"  ratio naive/app {_x(row['ratio'])}; like for like (rollup KPIs only) "
        f"{_x(row['ratio_like_for_like'])}")
    say(f"  peak memory: app +{_mb(app['rss_growth_mb'])} RSS (heap peak "
        f"{_mb(app['heap_peak_mb'])}); naive +{_mb(naive['rss_growth_mb'])} RSS (heap peak "
        f"{_mb(naive['heap_peak_mb'])})")
    verdict = "EQUAL" if check["equal"] else f"DIFFERENT ({check['difference_count']})"
    say(f"  check: {check['kpis']} rollup KPIs x every place, {check['checked']:,} numbers and "
        f"freshness stamps compared at {check['rel_tolerance']:g} relative: {verdict}")
    for difference in check["differences"]:
        say(f"    {difference}")
    return row


def summary(
    rows: list[dict[str, Any]], overview: dict[str, Any], say: Callable[[str], None]
) -> None:
    """The final table."""
    head = (f"{'window':<8} {'app':>9} {'app(rollup)':>11} {'naive':>9} {'naive/app':>9} "
            f"{'like4like':>9} {'app rows':>9} {'naive rows':>11} {'app RSS+':>9} "
            f"{'naive RSS+':>10} {'overview':>9} {'cached':>8}  check")
    say("\n" + head + "\n" + "-" * len(head))
    for row in rows:
        app, naive, view = row["app"], row["naive"], overview.get(row["window"], {})
        rollup_s = app["parts"]["rollups"]["median_s"]
        say(f"{row['window']:<8} {_s(app['median_s']):>9} {_s(rollup_s):>11} "
            f"{_s(naive['median_s']):>9} {_x(row['ratio']):>9} {_x(row['ratio_like_for_like']):>9} "
            f"{app['rows_read']:>9,} {naive['rows_read']:>11,} {_mb(app['rss_growth_mb']):>9} "
            f"{_mb(naive['rss_growth_mb']):>10} {_s(view.get('computed_s', 0)):>9} "
            f"{_s(view.get('cached_s', 0)):>8}  "
            f"{'equal' if row['check']['equal'] else 'DIFFERENT'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None, help="default: sqlite in --var-dir")
    parser.add_argument("--var-dir", type=Path, default=Path("var/bench"))
    parser.add_argument("--windows", default="week,month,quarter")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    args.database_url = args.database_url or default_url(args.var_dir)
    windows = [w.strip() for w in args.windows.split(",") if w.strip()]
    out = sys.stderr if args.json else sys.stdout

    def say(message: str) -> None:
        print(message, file=out, flush=True)

    code = code_fingerprint()
    prepare_database(args.database_url)
    settings = settings_for(args.database_url, args.var_dir)
    args.kpis_file = settings.kpis_file
    engine = open_store(args.database_url)
    demo = ensure_demo(engine, settings, say)
    facts = store_facts(engine, args.database_url)
    say(f"store {engine.url.render_as_string(hide_password=True)}: "
        + ", ".join(f"{n:,} {t}" for t, n in facts["rows"].items())
        + f"; {facts['bytes'] / 1e9:.2f} GB on disk")
    kpis = load_kpis(settings.kpis_file)
    now = reference_now(engine, kpis, demo)
    engine.dispose()
    say(f"now = {now.isoformat()}; {len(kpis)} KPIs "
        f"({sum(k.source == 'rollups' for k in kpis)} from rollups); repeat {args.repeat}, "
        f"median; each side in a fresh process; engine code {code}")
    rows = [run_window(args, w, now.isoformat(), settings.timezone, say) for w in windows]
    overview = in_fresh_process(overview_side, args.database_url, str(args.var_dir), windows,
                                now.isoformat())
    summary(rows, overview, say)
    if code_fingerprint() != code:
        say("WARNING: dashboard/kpis, store or queries changed during the run; rerun it")
    say("\napp = compute_kpi_table (what the overview computes, no query cache); overview/cached"
        " = queries.overview computed then served from the in-process cache; naive = pd.read_sql"
        " of the window's and previous window's observations + groupby")
    if args.json:
        print(json.dumps({"database": engine.url.render_as_string(hide_password=True),
                          "code": code, "demo": demo, "store": facts, "now": now.isoformat(),
                          "repeat": args.repeat, "windows": rows, "overview": overview},
                         indent=2, default=str))
    return 0 if all(r["check"]["equal"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
