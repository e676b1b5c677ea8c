"""Matching an alert storm to subscriptions: this CityLens's way (``matching.match_events``:
subscriptions indexed by what they are to, and who wants an event worked out once per
event shape) against the naive way (every event compared with every subscription), in the
same run on the same store: ``--users`` staff (a fifth of them department heads) holding
``--subscriptions`` subscriptions of every kind, and ``--events`` alert and SLA events to
match. Both ways' notifications and waiting deliveries are checked equal before any time
is compared; time and memory are measured in separate rounds (tracemalloc slows Python).
Then the messages are gathered (``deliveries.gather``: a digest per subscription). Prints
the median times, peak memory and the ratio.

    .venv/bin/python bench/notify_matching.py [--users 200] [--subscriptions 600]
        [--events 5000] [--repeat 3] [--database-url URL] [--json]
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update

from dashboard.model import (
    Asset,
    Delivery,
    DeliveryItem,
    District,
    Notification,
    NotificationEvent,
    Service,
    Subscription,
    User,
)
from dashboard.notify import matching
from dashboard.notify.deliveries import gather
from dashboard.notify.events import ALERT_RAISED, SLA_BREACHED
from dashboard.notify.scope import NOTHING
from dashboard.queries.departments import department_options
from dashboard.settings import Settings
from dashboard.store import get_engine, init_store

NOW = datetime(2026, 12, 7, 8, 0, tzinfo=timezone.utc)
DOMAINS = ["waste", "environment", "mobility", "lighting", "water", "parking"]
DEPARTMENTS = {f"Dept {d}": d for d in DOMAINS}
DISTRICTS = [f"d{n:02d}" for n in range(20)]
RULES = ["WasteContainer.fillingLevel>0.95", "AirQualityObserved.no2>200",
         "NoiseLevelObserved.LAeq>80", "TrafficFlowObserved.occupancy>0.9"]


def _city(engine: Engine, rng: random.Random, users: int, subscriptions: int,
          events: int) -> None:
    with engine.begin() as conn:
        for table in (DeliveryItem, Notification, Delivery, Subscription, NotificationEvent,
                      User, Service, Asset, District):
            conn.execute(delete(table))
        conn.execute(insert(District), [{"id": d, "name": d, "geometry": {}}
                                        for d in DISTRICTS])
        conn.execute(insert(Service), [{"service_code": f"s-{domain}", "service_name": domain,
                                        "department": name, "domain": domain}
                                       for name, domain in DEPARTMENTS.items()])
        names = [f"user{n:05d}" for n in range(users)]
        heads = set(names[: users // 5])
        conn.execute(insert(User), [{
            "username": n, "password_hash": "-", "disabled": False, "email": f"{n}@x.example",
            "language": "en", "briefing": "off",
            "role": "department_head" if n in heads else "official",
            "departments": [rng.choice(list(DEPARTMENTS))] if n in heads else [],
            "districts": []} for n in names])
        kinds = ["district", "department", "alert_rule"]
        rows, seen = [], set()
        while len(rows) < subscriptions:
            user, kind = rng.choice(names), rng.choice(kinds)
            target = {"district": lambda: rng.choice(DISTRICTS),
                      "department": lambda: rng.choice(list(DEPARTMENTS)),
                      "alert_rule": lambda: rng.choice(RULES)}[kind]()
            channel = rng.choice(["in_app", "email"])
            if (user, kind, target, channel) in seen:
                continue
            seen.add((user, kind, target, channel))
            rows.append({"username": user, "kind": kind, "target": target, "district_id": "",
                         "channel": channel, "webhook_url": None, "throttle_minutes": 60,
                         "created_at": NOW})
        conn.execute(insert(Subscription), rows)
        made = []
        for n in range(events):
            domain = rng.choice(DOMAINS)
            if rng.random() < 0.8:
                made.append({"key": f"a:{n}", "kind": ALERT_RAISED, "rule": rng.choice(RULES),
                             "domain": domain, "severity": "warning", "department": None,
                             "payload": {"asset_id": f"urn:{n}", "asset_name": f"A {n}",
                                         "value": 1.0}})
            else:
                made.append({"key": f"s:{n}", "kind": SLA_BREACHED, "rule": None,
                             "domain": None, "severity": None,
                             "department": f"Dept {domain}",
                             "payload": {"request_id": f"r{n}", "service_name": domain}})
        conn.execute(insert(NotificationEvent), [{
            **e, "occurred_at": NOW, "created_at": NOW, "matched_at": None, "kpi": None,
            "district_id": rng.choice(DISTRICTS)} for e in made])


def _reset(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(delete(DeliveryItem))
        conn.execute(delete(Notification))
        conn.execute(delete(Delivery))
        conn.execute(update(NotificationEvent).values(matched_at=None))


def _match_all(engine: Engine, settings: Settings, *, traced: bool = False,
               match: Callable[..., int] = matching.match_events) -> tuple[float, int]:
    """Match every event (batches of ``matching.BATCH``): seconds, and with ``traced``
    the peak bytes Python allocated (tracemalloc slows the run: timed runs go untraced)."""
    if traced:
        tracemalloc.start()
    started = time.perf_counter()
    while True:
        with engine.begin() as conn:
            if not match(conn, settings, NOW):
                break
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] if traced else 0
    if traced:
        tracemalloc.stop()
    return seconds, peak


def _outcome(engine: Engine) -> tuple[set[tuple[str, int]], set[tuple[int, int]]]:
    with engine.connect() as conn:
        told = set(conn.execute(select(Notification.username, Notification.event_id)).all())
        waiting = set(conn.execute(select(DeliveryItem.subscription_id,
                                          DeliveryItem.event_id)).all())
    return {tuple(t) for t in told}, {tuple(w) for w in waiting}  # type: ignore[misc]


def naive_match_events(conn: Any, settings: Settings, now: datetime) -> int:
    """The naive way: every unmatched event compared with every subscription, one by one
    (what ``matching.match_events`` did first), writing the same rows the same way."""
    events = conn.execute(
        select(NotificationEvent).where(NotificationEvent.matched_at.is_(None))
        .order_by(NotificationEvent.id).limit(matching.BATCH)).all()
    if not events:
        return 0
    subs, reach = matching._subscribers(conn, settings)  # noqa: SLF001 - the same inputs
    domains_of = {d["id"]: set(d["domains"]) for d in department_options(settings)}
    told: list[tuple[str, int]] = []
    waiting: list[tuple[int, int]] = []
    for event in events:
        for sub in subs:
            if (sub.created_at <= event.created_at
                    and matching.subscription_matches(sub, event, domains_of)
                    and reach.get(sub.username, NOTHING).covers(event)):
                told.append((sub.username, event.id))
                if sub.channel != "in_app":
                    waiting.append((sub.id, event.id))
    matching.record_matches(conn, [e.id for e in events], told, waiting, now)
    return len(events)


def run(url: str, users: int, subscriptions: int, events: int, repeat: int) -> dict[str, Any]:
    engine = get_engine(url)
    init_store(engine)
    settings = Settings(database_url=url, redis_url=None)
    _city(engine, random.Random(11), users, subscriptions, events)
    app_times, naive_times, app_peaks, naive_peaks = [], [], [], []
    for n in range(repeat + 1):  # the last round measures memory, untimed
        traced = n == repeat
        _reset(engine)
        seconds, peak = _match_all(engine, settings, traced=traced, match=naive_match_events)
        (naive_peaks if traced else naive_times).append(peak if traced else seconds)
        naive = _outcome(engine)
        _reset(engine)
        seconds, peak = _match_all(engine, settings, traced=traced)
        (app_peaks if traced else app_times).append(peak if traced else seconds)
        ours = _outcome(engine)
        assert ours == naive, "the two ways disagree"
    started = time.perf_counter()
    with engine.begin() as conn:
        messages = gather(conn, settings, NOW + timedelta(minutes=5))
    gather_seconds = time.perf_counter() - started
    app, naive_median = statistics.median(app_times), statistics.median(naive_times)
    return {"store": url.split(":", 1)[0], "users": users, "subscriptions": subscriptions,
            "events": events, "notifications": len(ours[0]), "waiting": len(ours[1]),
            "app_ms": round(app * 1000), "naive_ms": round(naive_median * 1000),
            "ratio": round(naive_median / app, 1),
            "app_peak_mb": round(max(app_peaks) / 2**20, 1),
            "naive_peak_mb": round(max(naive_peaks) / 2**20, 1),
            "messages": messages, "gather_ms": round(gather_seconds * 1000)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--subscriptions", type=int, default=600)
    parser.add_argument("--events", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--var-dir", default="", help="where its SQLite store is made "
                        "(default: a temporary folder)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.var_dir or None) as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'notify.db'}"
        result = run(url, args.users, args.subscriptions, args.events, args.repeat)
    if args.json:
        print(json.dumps(result))
        return
    print(f"{result['store']}: {result['events']:,} events, {result['subscriptions']:,} "
          f"subscriptions of {result['users']:,} users -> {result['notifications']:,} in-app "
          f"notifications, {result['waiting']:,} waiting for e-mail")
    print(f"  this CityLens (indexed, once a shape): {result['app_ms']:,} ms, "
          f"peak {result['app_peak_mb']} MB")
    print(f"  naive (every subscription per event):  {result['naive_ms']:,} ms, "
          f"peak {result['naive_peak_mb']} MB")
    print(f"  ratio naive/this: {result['ratio']}x")
    print(f"  then {result['messages']:,} messages gathered in {result['gather_ms']:,} ms")


if __name__ == "__main__":
    main()
