"""The oracle for request and case KPIs: values read from the rollups kept at ingest equal a
direct recomputation from the raw rows, previous values, sparklines and coverage included.

Hypothesis builds small cities whose request feed begins late, with requests outside every
district, without a due date, closed before they were made (bad data), sent out of order in
several batches through the connectors' store, then updated by a later batch (closed,
re-dated, moved to another district); and a ``now`` next to a daylight-saving change. For
every window (day, week, month, quarter, year, and custom ranges of local days and of
hours) and place, for the whole city's requests or one department's, each KPI is
recomputed with pandas from the stored rows.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, insert

from connectors.base import Mapped
from connectors.storing import store_batch
from dashboard.kpis import compute_kpi_table, window_for
from dashboard.kpis.coverage import COMPARABLE_FROM, PARTIAL_BELOW
from dashboard.kpis.definitions import KpiDefinition
from dashboard.kpis.windows import Window
from dashboard.model import District, Service
from dashboard.settings import Settings
from dashboard.store import init_store, make_engine
from tests.conftest import kpi_windows

TZ = "Europe/Madrid"
HOUR, DAY = 3600, 86400
NOWS = [datetime(2026, 3, 30, 9, 40, tzinfo=timezone.utc),
        datetime(2026, 10, 25, 1, 15, tzinfo=timezone.utc),
        datetime(2026, 7, 14, 17, 5, tzinfo=timezone.utc)]
POPULATIONS = {"d1": 1000, "d2": 2500, "d3": 400}
DOMAIN_OF = {"pothole": "services", "noise": "safety"}
DEPARTMENTS = ["Works", "Parks", ""]  # "": a request whose department is not named


def _kpi(kpi_id: str, source: str, aggregation: str, unit: str, **extra: object
         ) -> KpiDefinition:
    return KpiDefinition(id=kpi_id, name={"en": kpi_id, "es": kpi_id}, domain="services",
                         source=source, aggregation=aggregation, unit=unit, target=10,
                         direction="higher", **extra)  # type: ignore[arg-type]


KPIS = (
    _kpi("sla", "service_requests", "share_closed_within_sla", "%"),
    _kpi("median", "service_requests", "median_days_to_close", "days"),
    _kpi("overdue", "service_requests", "share_open_overdue", "%"),
    _kpi("digital", "service_requests", "share_digital", "%"),
    _kpi("safety", "service_requests", "per_1000_residents_30d", "/1,000",
         filter={"domain": "safety"}),
    _kpi("cases", "cases", "median_days_to_close", "days"),
)


@dataclass(frozen=True)
class Request:
    """A request as sent: where, what, when (seconds before now), closed and due after it
    (None: open, or no due date; a negative closing delay is bad data), by which channel,
    handled by which department."""

    district: str | None
    service: str
    ago: int
    closed_after: int | None
    due_after: int | None
    channel: str
    department: str


def requests() -> st.SearchStrategy[list[Request]]:
    request = st.builds(
        Request, st.sampled_from(["d1", "d2", None]), st.sampled_from(list(DOMAIN_OF)),
        st.integers(60, 420 * DAY),
        st.one_of(st.none(), st.integers(-2 * HOUR, 60 * DAY)),
        st.one_of(st.none(), st.integers(HOUR, 10 * DAY)),
        st.sampled_from(["web", "app", "phone"]), st.sampled_from(DEPARTMENTS))
    return st.lists(request, min_size=1, max_size=30)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path: Path = tmp_path_factory.mktemp("request-oracle") / "oracle.db"
    engine = make_engine(f"sqlite:///{path}")
    init_store(engine)
    yield engine
    engine.dispose()


# ---- the oracle: straight from the raw rows ------------------------------------------------

def _midnight(day: datetime) -> int:
    zone = ZoneInfo(TZ)
    return int(datetime(day.year, day.month, day.day, tzinfo=zone).timestamp())


def _edges(window: Window) -> list[int]:
    days = max(7, round(window.days))
    if window.grain == "hour":
        return [window.end - (days - i) * DAY for i in range(days + 1)]
    last = datetime.fromtimestamp(window.end, ZoneInfo(TZ))
    return [_midnight(last - timedelta(days=days - i)) for i in range(days + 1)]


def _coverage(feed_start: float | None, now: int, start: int, end: int) -> dict[str, object]:
    total = max(1, round((end - start) / DAY))
    seconds = 0.0 if feed_start is None else max(0.0, min(end, now) - max(start, feed_start))
    covered = min(total, math.ceil(seconds / DAY - 1e-9)) if seconds else 0
    return {"covered": covered, "total": total, "unit": "day",
            "share": round(covered / total, 4), "partial": covered / total < PARTIAL_BELOW}


def _value(kpi: KpiDefinition, rows: pd.DataFrame, start: int, end: int, at: int,
           population: int, seconds: float) -> float | None:
    """One KPI over ``[start, end)`` from raw rows (made, closed, due epoch s; channel);
    the overdue share is a snapshot at ``at``."""
    made, closed, due = rows["made"], rows["closed"], rows["due"]
    closed_in = rows[(closed >= start) & (closed < end)]
    made_in = rows[(made >= start) & (made < end)]
    if kpi.aggregation == "share_closed_within_sla":
        dated = closed_in[closed_in["due"].notna()]
        return float((dated["closed"] <= dated["due"]).mean() * 100) if len(dated) else None
    if kpi.aggregation == "median_days_to_close":
        if closed_in.empty:
            return None
        hours = np.rint(np.maximum(closed_in["closed"] - closed_in["made"], 0) / HOUR)
        return float(np.median(hours) * HOUR / DAY)
    if kpi.aggregation == "share_open_overdue":
        still_open = (closed.isna() | (closed >= at)) & (made < at) & due.notna()
        return float((due[still_open] < at).mean() * 100) if still_open.any() else None
    if kpi.aggregation == "share_digital":
        return float(made_in["channel"].isin(["web", "app"]).mean() * 100) if len(made_in) else None
    if not population or seconds <= 0:
        return None
    return float(len(made_in) / population * 1000 * 30 * DAY / seconds)


def _span(window: Window, feed_start: float | None, now: int) -> float:
    begun = window.start if feed_start is None else max(window.start, int(feed_start))
    return min(window.end, max(now, begun)) - begun


def oracle(raw: pd.DataFrame, kpi: KpiDefinition, place: str | None, window: Window,
           now: int, feed_start: float | None) -> dict[str, object]:
    """Value, comparable previous value, coverage and sparkline of one KPI at one place."""
    rows = raw if place is None else raw[raw["district"] == place]
    if kpi.filter.get("domain"):
        rows = rows[rows["domain"] == kpi.filter["domain"]]
    population = sum(POPULATIONS.values()) if place is None else POPULATIONS[place]
    previous = window.previous()
    hour_end = min(window.end, now - now % HOUR + HOUR)
    coverage = _coverage(feed_start, now, window.start, window.end)
    before = _coverage(feed_start, now, previous.start, previous.end)
    value = (_value(kpi, rows, window.start, window.end, hour_end, population,
                    _span(window, feed_start, now)) if coverage["covered"] else None)
    earlier = (_value(kpi, rows, previous.start, previous.end, previous.end, population,
                      _span(previous, feed_start, now))
               if before["covered"] / before["total"] >= COMPARABLE_FROM else None)
    spark = []
    edges = _edges(window)
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        if feed_start is None or b <= feed_start or a >= now:
            continue
        point = _value(kpi, rows, a, b, min(b, hour_end), population,
                       min(b, now) - max(a, int(feed_start)))
        if point is not None:
            spark.append((a, point))
    return {"value": value, "previous": earlier, "coverage": coverage, "spark": spark}


def _same(got: float | None, want: object) -> bool:
    if got is None or want is None:
        return got is None and want is None
    return got == pytest.approx(want, rel=1e-9, abs=1e-9)


# ---- storing through the connectors' store ---------------------------------------------------

def _iso(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, timezone.utc)


def _row(n: int, request: Request, now: int) -> dict[str, object]:
    made = now - request.ago
    closed = None if request.closed_after is None else made + request.closed_after
    return {"id": f"SR-{n}", "service_code": request.service, "department": request.department,
            "status": "open" if closed is None else "closed", "channel": request.channel,
            "requested_at": _iso(made), "closed_at": _iso(closed),
            "expected_at": _iso(None if request.due_after is None else made + request.due_after),
            "district_id": request.district}


def _store(conn, city: list[Request], cases: list[Request], now: int, order: list[int],
           updates: list[tuple[int, int, str | None]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Store the requests and cases in ``order`` in three batches, then apply ``updates``
    (request index, new closing delay or -1 to reopen, new district) in a later batch;
    return the stored requests and cases as raw frames."""
    conn.execute(insert(District), [{"id": d, "name": d, "geometry": {}, "population": p}
                                    for d, p in POPULATIONS.items()])
    conn.execute(insert(Service), [{"service_code": code, "service_name": code,
                                    "department": "Works", "domain": domain}
                                   for code, domain in DOMAIN_OF.items()])
    # the store's clock: late enough that every generated close (up to 60 days after a
    # request) is in its past, whatever today's date is (not the KPIs' ``now``)
    config = Settings(timezone=TZ, now=datetime.fromtimestamp(now, timezone.utc)
                      + timedelta(days=61))
    rows = {f"SR-{n}": _row(n, r, now) for n, r in enumerate(city)}
    ids = list(rows)
    ordered = [ids[i % len(ids)] for i in order] + ids
    sent = list(dict.fromkeys(ordered))
    for chunk in np.array_split(np.array(sent), 3):
        batch = [({}, Mapped(service_requests=[rows[i]])) for i in chunk]
        store_batch(conn, config, batch)
    changed = []
    for index, delay, district in updates:
        row = dict(rows[ids[index % len(ids)]])
        made = row["requested_at"].timestamp()  # type: ignore[union-attr]
        row["closed_at"] = None if delay < 0 else _iso(made + delay)
        row["status"] = "open" if delay < 0 else "closed"
        row["district_id"] = district
        rows[row["id"]] = row  # type: ignore[index]
        changed.append(({}, Mapped(service_requests=[row])))
    if changed:
        store_batch(conn, config, changed)
    case_rows = []
    for n, case in enumerate(cases):
        row = _row(n, case, now)
        case_rows.append({"id": f"C-{n}", "kind": "permit", "department": case.department,
                          "status": row["status"], "district_id": case.district,
                          "opened_at": row["requested_at"], "closed_at": row["closed_at"]})
    if case_rows:
        store_batch(conn, config, [({}, Mapped(cases=case_rows))])
    return _frame(rows.values(), "requested_at"), _frame(case_rows, "opened_at")


def _frame(rows, made: str) -> pd.DataFrame:
    def epoch(value: datetime | None) -> float:
        return np.nan if value is None else value.timestamp()

    return pd.DataFrame([{
        "district": r["district_id"], "domain": DOMAIN_OF.get(r.get("service_code"), "services"),
        "made": epoch(r[made]), "closed": epoch(r["closed_at"]),
        "due": epoch(r.get("expected_at")), "channel": r.get("channel", ""),
        "department": r["department"]} for r in rows],
        columns=["district", "domain", "made", "closed", "due", "channel", "department"])


def _check(table, raw: pd.DataFrame, raw_cases: pd.DataFrame, starts: dict[str, float | None],
           window: Window, now: int, when: str, department: str | None) -> None:
    """Every KPI of every place in ``table`` equals the oracle's (a department's: over the
    requests and cases it handles; the feed's coverage is the whole feed's)."""
    if department is not None:
        raw, raw_cases = (raw[raw["department"] == department],
                          raw_cases[raw_cases["department"] == department])
    for place in (None, *POPULATIONS):
        for got in table.for_place(place):
            kpi = next(k for k in KPIS if k.id == got.id)
            rows = raw_cases if kpi.source == "cases" else raw
            want = oracle(rows, kpi, place, window, now, starts[kpi.source])
            where = f"{got.id} in {place or 'the city'} {when}"
            assert _same(got.value, want["value"]), (where, got.value, want)
            assert _same(got.previous, want["previous"]), (where, got, want)
            if got.coverage is None:
                assert want["value"] is None and not want["spark"], where
                continue
            assert got.coverage == want["coverage"], where
            spark = [(datetime.fromisoformat(p["t"]).timestamp(), p["v"]) for p in got.spark]
            assert [t for t, _ in spark] == [t for t, _ in want["spark"]], where
            assert all(_same(v, w) for (_, v), (_, w) in zip(
                spark, want["spark"], strict=True)), (where, spark, want["spark"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(city=requests(), cases=requests(), now=st.sampled_from(NOWS),
       order=st.lists(st.integers(0, 1_000), max_size=30),
       updates=st.lists(st.tuples(st.integers(0, 100), st.integers(-1, 30 * DAY),
                                  st.sampled_from(["d1", "d3", None])), max_size=4),
       department=st.sampled_from([None, "Works", "Parks"]))
def test_request_kpis_from_rollups_equal_a_recomputation_from_raw_rows(
        engine: Engine, city: list[Request], cases: list[Request], now: datetime,
        order: list[int], updates: list[tuple[int, int, str | None]],
        department: str | None) -> None:
    epoch = int(now.timestamp())
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            raw, raw_cases = _store(conn, city, cases, epoch, order, updates)
            starts = {"service_requests": raw["made"].min(),
                      "cases": raw_cases["closed"].min() if raw_cases["closed"].notna().any()
                      else None}
            for name in kpi_windows(now, TZ):
                window = window_for(name, now, TZ)
                table = compute_kpi_table(conn, KPIS, window, now, department)
                _check(table, raw, raw_cases, starts, window, epoch,
                       f"over the {name} for {department or 'every department'}", department)
        finally:
            transaction.rollback()
