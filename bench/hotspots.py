"""Hotspots of repeated requests over a period: this CityLens (cells kept at ingest in
``service_requests.h3_cell``; a GROUP BY in the database, then the addresses, services and
districts of the top cells only) against the previous way (every request of the period
read into Python and put into its H3 cell there), in the same run, on the same store:
``--requests`` requests over a year in a city, most of them around a few hundred busy
spots. Both ways' hotspots are checked equal before any time is compared.

    .venv/bin/python bench/hotspots.py [--requests 300000] [--repeat 3]
        [--database-url URL] [--json]
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import h3
from sqlalchemy import Connection, delete, insert, select

from dashboard.geo import HOTSPOT_RESOLUTION, hotspot_cell
from dashboard.model import District
from dashboard.model import ServiceRequest as SR
from dashboard.queries import hotspots as module
from dashboard.queries.services import RequestScope, in_period
from dashboard.periods import period_for
from dashboard.store import get_engine, init_store

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
CODES = [f"service_{n:02d}" for n in range(16)]
STREETS = [f"Calle {n}" for n in range(400)]


def _requests(count: int) -> list[dict[str, Any]]:
    rng = random.Random(7)
    spots = [(rng.uniform(43.42, 43.50), rng.uniform(-3.90, -3.76)) for _ in range(600)]
    rows = []
    for n in range(count):
        if rng.random() < 0.6:  # most requests come from a busy spot
            lat, lon = rng.choice(spots)
            lat, lon = lat + rng.gauss(0, 0.0004), lon + rng.gauss(0, 0.0004)
        else:
            lat, lon = rng.uniform(43.42, 43.50), rng.uniform(-3.90, -3.76)
        closed = rng.random() < 0.8
        requested = NOW - timedelta(minutes=rng.randint(0, 365 * 24 * 60))
        rows.append({"id": f"hb-{n}", "service_code": rng.choice(CODES),
                     "service_name": "", "department": "d", "channel": "phone",
                     "status": "closed" if closed else "open", "requested_at": requested,
                     "closed_at": requested + timedelta(hours=5) if closed else None,
                     "lat": lat, "lon": lon, "address": rng.choice(STREETS + [""]),
                     "district_id": None, "h3_cell": hotspot_cell(lat, lon)})
    return rows


def previous_way(conn: Connection, preset: str, limit: int = module.LIMIT
                 ) -> list[dict[str, Any]]:
    """The previous release's hotspots: every request of the period, celled in Python."""
    period = period_for(preset, NOW)
    stmt = (select(SR.lat, SR.lon, SR.address, SR.service_code, SR.service_name,
                   SR.district_id, SR.status, SR.closed_at)
            .where(*in_period(SR.requested_at, period), SR.lat.is_not(None),
                   SR.lon.is_not(None)))
    cells: dict[str, list[Any]] = {}
    for row in conn.execute(stmt):
        cells.setdefault(h3.latlng_to_cell(row.lat, row.lon, HOTSPOT_RESOLUTION), []
                         ).append(row)
    names = dict(conn.execute(select(District.id, District.name)).all())
    found = []
    for cell, rows in cells.items():
        if len(rows) < module.MIN_REQUESTS:
            continue
        addresses = Counter(r.address.strip() for r in rows if (r.address or "").strip())
        services = Counter(r.service_name or r.service_code for r in rows)
        districts = Counter(r.district_id for r in rows if r.district_id)
        district = districts.most_common(1)[0][0] if districts else ""
        lat, lon = h3.cell_to_latlng(cell)
        found.append({"place": addresses.most_common(1)[0][0] if addresses
                      else f"around {lat:.5f}, {lon:.5f}", "requests": len(rows),
                      "open": sum(1 for r in rows if r.closed_at is None
                                  and r.status != "closed"),
                      "services": ", ".join(f"{n} ({c})" for n, c in services.most_common(3)),
                      "district_id": district,
                      "district_name": names.get(district, "No district"),
                      "lat": round(lat, 5), "lon": round(lon, 5), "cell": cell})
    found.sort(key=lambda h: (-h["requests"], -h["open"], h["place"]))
    return found[:limit]


def _same(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> bool:
    """The same cells with the same counts and open counts (a tie between two equally
    common addresses or services may be told either way)."""
    def key(items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return sorted((h["cell"], h["requests"], h["open"]) for h in items)
    return key(ours) == key(theirs)


def run(url: str, count: int, repeat: int) -> list[dict[str, Any]]:
    engine = get_engine(url)
    init_store(engine)
    rows = _requests(count)
    with engine.begin() as conn:
        conn.execute(delete(SR).where(SR.id.like("hb-%")))
        for start in range(0, len(rows), 20_000):
            conn.execute(insert(SR), rows[start:start + 20_000])
    results = []
    for preset in ("30d", "90d", "12m"):
        with engine.connect() as conn:  # every hotspot, not the first 500 (ties at the cut)
            every = module.count_hotspots(conn, RequestScope(), period_for(preset, NOW),
                                          limit=10**9)
            assert _same(every, previous_way(conn, preset, limit=10**9)), \
                f"the two ways disagree ({preset})"
        ours_t, theirs_t = [], []
        for _ in range(repeat):
            with engine.connect() as conn:
                started = time.perf_counter()
                theirs = previous_way(conn, preset)
                theirs_t.append(time.perf_counter() - started)
            with engine.connect() as conn:
                started = time.perf_counter()
                ours = module.count_hotspots(conn, RequestScope(), period_for(preset, NOW))
                ours_t.append(time.perf_counter() - started)
            assert len(ours) == len(theirs)
        app, naive = statistics.median(ours_t), statistics.median(theirs_t)
        results.append({"store": url.split(":", 1)[0], "requests": count, "period": preset,
                        "hotspots": len(ours), "app_ms": round(app * 1000, 1),
                        "previous_ms": round(naive * 1000, 1), "ratio": round(naive / app, 1)})
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--var-dir", default="", help="where its SQLite store is made "
                        "(default: a temporary folder)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.var_dir or None) as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'hotspots.db'}"
        results = run(url, args.requests, args.repeat)
    if args.json:
        print(json.dumps(results))
        return
    for r in results:
        print(f"{r['store']} {r['requests']:,} requests, {r['period']:>3}: "
              f"{r['hotspots']} hotspots; this CityLens {r['app_ms']} ms, "
              f"previous way {r['previous_ms']} ms, ratio {r['ratio']}x")


if __name__ == "__main__":
    main()
