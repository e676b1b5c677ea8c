"""Possible duplicates of a connector's batch of new requests: this CityLens's one read of
the batch's box and a binary search per service (``find_duplicates``) against the naive
way, one indexed box query per request (``nearest_open_request``, what a single posted
request uses), in the same run, on the same store: ``--open`` open requests spread over a
city of 16 services, then batches of ``--batch`` new ones. Both ways' answers are checked
equal before any time is compared. Prints the median per batch and the ratio.

    .venv/bin/python bench/request_duplicates.py [--open 200000] [--batch 5000] [--repeat 3]
        [--database-url URL] [--json]
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert

from dashboard.model import ServiceRequest
from dashboard.queries.duplicates import nearest_open_request
from dashboard.store import get_engine, init_store
from dashboard.store.request_duplicates import find_duplicates

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
CODES = [f"service_{n:02d}" for n in range(16)]
SOUTH, NORTH, WEST, EAST = 43.42, 43.50, -3.90, -3.76  # a city of about 11 x 9 km


def _request(rng: random.Random, request_id: str, minutes_ago: int) -> dict[str, Any]:
    return {"id": request_id, "service_code": rng.choice(CODES), "service_name": "x",
            "department": "d", "status": "open", "channel": "phone",
            "requested_at": NOW - timedelta(minutes=minutes_ago),
            "lat": rng.uniform(SOUTH, NORTH), "lon": rng.uniform(WEST, EAST)}


def _naive(conn: Any, batch: list[dict[str, Any]]) -> dict[str, str]:
    """One box query per new request (earlier requests of the batch are not seen: the
    batch is compared with the store only, as both ways are here)."""
    found = {}
    for row in batch:
        nearest = nearest_open_request(conn, row["service_code"], row["lat"], row["lon"])
        if nearest:
            found[row["id"]] = nearest[0]
    return found


def run(url: str, open_count: int, batch_size: int, repeat: int) -> dict[str, Any]:
    engine = get_engine(url)
    init_store(engine)
    rng = random.Random(7)
    stored = [_request(rng, f"old-{n}", rng.randint(600, 60_000)) for n in range(open_count)]
    with engine.begin() as conn:  # a store of its own: an earlier run's requests go first
        conn.execute(delete(ServiceRequest).where(ServiceRequest.id.like("old-%")
                                                  | ServiceRequest.id.like("new-%")))
        for start in range(0, len(stored), 20_000):
            conn.execute(insert(ServiceRequest), stored[start:start + 20_000])
    app_times, naive_times, flagged = [], [], 0
    for n in range(repeat):
        batch = [_request(rng, f"new-{n}-{i}", rng.randint(0, 500)) for i in range(batch_size)]
        with engine.connect() as conn:
            started = time.perf_counter()
            naive = _naive(conn, batch)
            naive_times.append(time.perf_counter() - started)
        with engine.connect() as conn:
            started = time.perf_counter()
            ours = find_duplicates(conn, batch)
            app_times.append(time.perf_counter() - started)
        # The naive way sees the store only; this one sees the batch's earlier requests
        # too: where it chose one of those, the naive way's answer is not comparable.
        within_batch = {new for new, old in ours.items() if old.startswith("new-")}
        assert {k: v for k, v in ours.items() if k not in within_batch} == \
            {k: v for k, v in naive.items() if k not in within_batch}, "the two ways disagree"
        flagged += len(ours)
    app, naive_median = statistics.median(app_times), statistics.median(naive_times)
    return {"store": url.split(":", 1)[0], "open_requests": open_count, "batch": batch_size,
            "flagged_per_batch": flagged / repeat, "app_ms": round(app * 1000, 1),
            "naive_ms": round(naive_median * 1000, 1), "ratio": round(naive_median / app, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--open", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--var-dir", default="", help="where its SQLite store is made "
                        "(default: a temporary folder)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.var_dir or None) as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'duplicates.db'}"
        result = run(url, args.open, args.batch, args.repeat)
    if args.json:
        print(json.dumps(result))
        return
    print(f"{result['store']}: {result['open_requests']:,} open requests, batches of "
          f"{result['batch']:,} ({result['flagged_per_batch']:.0f} flagged a batch)")
    print(f"  this CityLens (one read, binary search): {result['app_ms']} ms a batch")
    print(f"  naive (a box query per request):        {result['naive_ms']} ms a batch")
    print(f"  ratio naive/this: {result['ratio']}x")


if __name__ == "__main__":
    main()
