"""Benchmark: the drill-down pages' read models on the benchmark city, uncached, with the
naive way of three of them measured in the same run; also the Citizen 360 aggregates.

    .venv/bin/python bench/pages.py [--database-url URL] [--var-dir var/bench] [--repeat 3]

Every read model runs with the query cache off (each call computes), so the figures are
what a page costs on the first view after an ingest. Naive ways: an asset's year of data
fetched raw and resampled in pandas; a domain's latest values by grouping every
observation of its metric; the services breakdowns from the whole requests table in pandas.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (  # noqa: E402
    default_url,
    ensure_demo,
    open_store,
    peak_rss_mb,
    reference_now,
    settings_for,
    store_facts,
)

from dashboard.auth import OFFICIAL  # noqa: E402
from dashboard.auth.users import Principal  # noqa: E402
from dashboard.kpis import load_kpis  # noqa: E402
from dashboard.periods import period_for  # noqa: E402
from dashboard.queries import district as district_queries  # noqa: E402
from dashboard.queries.alerts import alert_counts, alert_rows  # noqa: E402
from dashboard.queries.asset_series import asset_series  # noqa: E402
from dashboard.queries.citizen360 import open_profile, run_search  # noqa: E402
from dashboard.queries.domain import domain_assets  # noqa: E402
from dashboard.queries.engagement import (  # noqa: E402
    interactions,
    repeat_contacts,
    resolution_times,
)
from dashboard.queries.equity import equity_gap  # noqa: E402
from dashboard.queries.kiosk import data_version_of, kiosk_data  # noqa: E402
from dashboard.queries.services import RequestScope, breakdowns, headline, oldest_open  # noqa: E402
from dashboard.queries.services_trend_map import request_map, request_trend  # noqa: E402


def timed(run: Callable[[], Any], repeat: int) -> float:
    """Median seconds of ``repeat`` calls."""
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def naive_series(conn: Any, pk: int, metric: str, start: int, end: int, width: int) -> int:
    """Every raw reading of the asset's metric in the span, resampled in pandas."""
    rows = conn.execute(text("SELECT time, value FROM observations WHERE asset_pk = :pk "
                             "AND metric = :m AND time >= :s AND time < :e"),
                        {"pk": pk, "m": metric, "s": start, "e": end}).all()
    frame = pd.DataFrame(rows, columns=["time", "value"])
    return len(frame.groupby(frame["time"] - frame["time"] % width)["value"].agg(
        ["mean", "min", "max", "count"]))


def naive_latest(conn: Any, metric: str) -> int:
    """Newest reading per asset by grouping every observation of the metric."""
    rows = conn.execute(text("SELECT asset_pk, MAX(time) FROM observations WHERE metric = :m "
                             "GROUP BY asset_pk"), {"m": metric}).all()
    return len(rows)


def naive_breakdowns(conn: Any) -> int:
    """The whole requests table in pandas, grouped by department."""
    frame = pd.read_sql(text("SELECT * FROM service_requests"), conn)
    return len(frame.groupby("department").size())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None, help="default: sqlite in --var-dir")
    parser.add_argument("--var-dir", type=Path, default=Path("var/bench"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    url = args.database_url or default_url(args.var_dir)
    engine = open_store(url)
    demo = ensure_demo(engine, settings_for(url, args.var_dir), print)
    now = reference_now(engine, load_kpis(Path("data/kpis.yaml")), demo)
    settings = settings_for(url, args.var_dir, now).model_copy(update={"cache_ttl_seconds": 0})
    print(f"store {url}: {store_facts(engine, url)}; now {now.isoformat()}")

    metric = "fillingLevel"  # observations carry the bare attribute name
    with engine.connect() as conn:
        # the first waste container that has readings (a primary-key probe per container)
        pk, asset_id = conn.execute(text(
            "SELECT pk, id FROM assets a WHERE type = 'WasteContainer' AND EXISTS ("
            "SELECT 1 FROM observations o WHERE o.asset_pk = a.pk AND o.metric = :m) "
            "ORDER BY pk LIMIT 1"), {"m": metric}).one()
        district = conn.execute(text("SELECT id FROM districts ORDER BY id LIMIT 1")).scalar()
        busiest = conn.execute(text(
            "SELECT citizen_id FROM service_requests WHERE citizen_id IS NOT NULL "
            "GROUP BY citizen_id ORDER BY count(*) DESC LIMIT 1")).scalar()
    official = Principal("bench", OFFICIAL)
    year = period_for("12m", now)
    city, waste = RequestScope(), RequestScope(department="Residuos y Limpieza")
    since = now - timedelta(days=90)

    app: dict[str, Callable[[], Any]] = {
        "district: KPIs vs city, ranks (30 d)":
            lambda: district_queries.kpi_comparison(settings, district, "month"),
        "district: assets by domain": lambda: district_queries.assets_by_domain(
            settings, district, None),
        "domain: waste assets, latest state (city)": lambda: domain_assets(settings, "waste",
                                                                           None),
        "asset: series 12 m": lambda: asset_series(settings, asset_id, metric, "12m"),
        "asset: series all, vs previous": lambda: asset_series(settings, asset_id, metric,
                                                               "all", "previous"),
        "services: headline 90 d vs year": lambda: headline(settings, city, "90d", "year"),
        "services: breakdowns 90 d": lambda: breakdowns(settings, city, "90d"),
        "services: breakdowns 12 m, one department": lambda: breakdowns(settings, waste, "12m"),
        "services: weekly trend 12 m": lambda: request_trend(settings, city, "12m"),
        "services: map of open requests": lambda: request_map(settings, city),
        "services: oldest open": lambda: oldest_open(settings),
        "alerts: counts 30 d": lambda: alert_counts(settings, period_for("30d", now)),
        "alerts: rows 30 d": lambda: alert_rows(settings, period_for("30d", now)),
        "citizen 360: interactions 90 d": lambda: interactions(settings, since, now),
        "citizen 360: repeat contacts 90 d": lambda: repeat_contacts(settings, since, now),
        "citizen 360: resolution times 90 d": lambda: resolution_times(settings, since, now),
        # cache off: the 5 finished months are computed too (a page caches them for 6 h)
        "citizen 360: equity gap, month x 6": lambda: equity_gap(settings, "month", 6),
        # searches are audited: each run appends one entry (a bench store, not a city's)
        "citizen 360: search by name": lambda: run_search(
            engine, official, "maria garcia", "benchmark run", now),
        "citizen 360: search by phone digits": lambda: run_search(
            engine, official, "942 123", "benchmark run", now),
        "citizen 360: open the busiest profile": lambda: open_profile(
            engine, official, busiest, "benchmark run", now),
        # everything the public kiosk shows, read once per data version
        "kiosk: all slides' data": lambda: kiosk_data(settings),
        "kiosk: data version (polled every 30 s)": lambda: data_version_of(settings),
    }
    print(f"asset for the series: {asset_id} ({metric})")
    print(f"\n{'read model (uncached)':48} {'median s':>9}")
    figures: dict[str, float] = {}
    for name, run in app.items():
        figures[name] = timed(run, args.repeat)
        print(f"{name:48} {figures[name]:9.3f}")

    series = asset_series(settings, asset_id, metric, "12m") or {}
    width = int(series.get("width") or 3600)
    start, end = int(year.start.timestamp()), int(year.end.timestamp())  # type: ignore[union-attr]
    with engine.connect() as conn:
        naive = {
            "asset: series 12 m": lambda: naive_series(conn, pk, metric, start, end, width),
            "domain: waste assets, latest state (city)": lambda: naive_latest(conn, metric),
            "services: breakdowns 90 d": lambda: naive_breakdowns(conn),
        }
        print(f"\n{'naive way':48} {'median s':>9} {'ratio':>7}")
        for name, run in naive.items():
            seconds = timed(run, args.repeat)
            print(f"{name:48} {seconds:9.3f} {seconds / max(figures[name], 1e-9):6.1f}x")
    print(f"\npeak RSS {peak_rss_mb():.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
