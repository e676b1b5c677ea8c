"""Possible duplicates among requests a connector brings (``dashboard.store
.request_duplicates``, called by ``store_batch``), on SQLite and PostgreSQL: constructed
cases against a brute-force nearest search, requests of the same batch, other services,
closed ones, later ones, and a re-run that leaves staff's decisions alone."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Engine, select, update

from connectors.base import Mapped
from connectors.storing import store_batch
from dashboard.geo import metres_between
from dashboard.model import ServiceRequest as SR
from dashboard.settings import Settings

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
LAT, LON = 43.4620, -3.8000
NORTH_M = 1 / 111_000  # degrees of latitude in a metre (about)


def _row(request_id: str, metres_north: float, minutes_ago: int, code: str = "pothole",
         status: str = "open", lon: float = LON) -> dict[str, Any]:
    return {"id": request_id, "service_code": code, "service_name": code,
            "department": "Obras Públicas", "status": status, "channel": "phone",
            "requested_at": NOW - timedelta(minutes=minutes_ago),
            "closed_at": NOW if status == "closed" else None,
            "lat": LAT + metres_north * NORTH_M, "lon": lon}


def _store(engine: Engine, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        stored, refused = store_batch(conn, Settings(now=NOW),
                                      [({}, Mapped(service_requests=rows))], "test")
    assert not refused and stored == 1


def _marks(engine: Engine) -> dict[str, tuple[str | None, str | None]]:
    with engine.connect() as conn:
        return {r.id: (r.duplicate_of, r.duplicate_state) for r in conn.execute(
            select(SR.id, SR.duplicate_of, SR.duplicate_state))}


def test_constructed_cases(fresh_engine: Engine) -> None:
    _store(fresh_engine, [_row("A", 0, 120), _row("closed", 10, 130, status="closed"),
                          _row("light", 5, 140, code="streetlight_out")])
    _store(fresh_engine, [
        _row("B", 30, 60),  # 30 m from A: repeats it
        _row("C", 75, 50),  # 75 m from A, 45 m from B: repeats B (the batch's own)
        _row("D", 200, 40),  # far from everything
        _row("E", 205, 45, code="streetlight_out"),  # another service: only its own
        _row("F", -20, 200),  # near A but came in before it: A does not repeat F
    ])
    marks = _marks(fresh_engine)
    assert marks["B"] == ("A", "suspected") and marks["C"] == ("B", "suspected")
    assert marks["D"] == (None, None) and marks["E"] == (None, None)
    assert marks["F"] == (None, None) and marks["A"] == (None, None)


def test_a_rerun_keeps_staffs_decisions(fresh_engine: Engine) -> None:
    _store(fresh_engine, [_row("A", 0, 120)])
    _store(fresh_engine, [_row("B", 20, 60)])
    with fresh_engine.begin() as conn:
        conn.execute(update(SR).where(SR.id == "B").values(duplicate_state="rejected"))
    _store(fresh_engine, [_row("A", 0, 120), _row("B", 20, 60)])  # the feed sends both again
    assert _marks(fresh_engine)["B"] == ("A", "rejected")


def test_a_random_city_matches_a_brute_force_search(fresh_engine: Engine) -> None:
    rng = random.Random(7)
    first = [_row(f"s{i}", rng.uniform(-400, 400), rng.randint(100, 400),
                  code=rng.choice(["pothole", "graffiti"]), lon=LON + rng.uniform(-0.004, 0.004),
                  status=rng.choice(["open", "open", "closed"])) for i in range(150)]
    second = [_row(f"n{i}", rng.uniform(-400, 400), rng.randint(0, 99),
                   code=rng.choice(["pothole", "graffiti"]), lon=LON + rng.uniform(-0.004, 0.004))
              for i in range(150)]
    _store(fresh_engine, first)
    _store(fresh_engine, second)
    expected: dict[str, str] = {}
    for new, seen in [(r, first) for r in first] + [(r, first + second) for r in second]:
        if new["status"] != "open":
            continue
        earlier = [r for r in seen
                   if r["id"] != new["id"] and r["service_code"] == new["service_code"]
                   and r["status"] == "open" and r["requested_at"] <= new["requested_at"]]
        near = [(metres_between(new["lat"], new["lon"], r["lat"], r["lon"]), r["id"])
                for r in earlier]
        near = [pair for pair in near if pair[0] <= 50]
        if near:
            expected[new["id"]] = min(near)[1]
    marks = _marks(fresh_engine)
    found = {i: of for i, (of, _state) in marks.items() if of}
    assert found == expected and len(expected) > 5
