"""The oracle: KPI values read from the maintained rollups equal a direct recomputation from
the raw readings, coverage included, on small random cities that are live and partial.

Hypothesis builds cities with districts that have no station, readings outside any
district, feeds that begin late or fall silent, gaps, readings sent out of order and late,
values corrected by a later batch, and a ``now`` next to a daylight-saving change. For every
window (day, week, month, quarter, year, and custom ranges of local days and of
hours) and place (the city and each district), the
engine's value, previous value and coverage must be what the raw rows say.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, insert, select

from dashboard.kpis import compute_kpi_table, window_for
from dashboard.kpis.coverage import COMPARABLE_FROM
from dashboard.kpis.definitions import KpiDefinition
from dashboard.kpis.windows import Window
from dashboard.model import Asset, District
from dashboard.store import init_store, make_engine
from dashboard.store.observations import ingest_observations
from tests.conftest import kpi_windows

TZ = "Europe/Madrid"
HOUR, DAY = 3600, 86400
# Next to the spring-forward and fall-back nights of 2026 in Madrid, and an ordinary day.
NOWS = [datetime(2026, 3, 30, 9, 40, tzinfo=timezone.utc),
        datetime(2026, 10, 25, 1, 15, tzinfo=timezone.utc),
        datetime(2026, 7, 14, 17, 5, tzinfo=timezone.utc)]
KPIS = (
    KpiDefinition(id="no2", name={"en": "NO2", "es": "NO2"}, domain="environment",
                  source="rollups", metric="AirQualityObserved.no2", aggregation="mean",
                  unit="µg/m³", target=40, direction="lower"),
    KpiDefinition(id="water", name={"en": "Water", "es": "Agua"}, domain="water",
                  source="rollups", metric="WaterConsumptionObserved.consumption",
                  aggregation="sum_per_resident_day", scale=1000, unit="L/day", target=130,
                  direction="lower"),
)
METRIC_OF = {"AirQualityObserved": "no2", "WaterConsumptionObserved": "consumption"}
POPULATIONS = {"d1": 1000, "d2": 2500, "d3": 400}


@dataclass(frozen=True)
class Feed:
    """One sensor: its type and district (None: outside every district), and its readings
    as (seconds before ``now``, value)."""

    type: str
    district: str | None
    readings: list[tuple[int, float]]


def feeds() -> st.SearchStrategy[list[Feed]]:
    """A few sensors, each beginning at its own time (up to ~14 months back), reporting with
    gaps, some in districts without any other sensor."""
    reading = st.tuples(st.integers(60, 420 * DAY), st.floats(0, 500, allow_nan=False).map(
        lambda v: round(v, 3)))

    def feed(kind: str) -> st.SearchStrategy[Feed]:
        return st.builds(Feed, st.just(kind), st.sampled_from(["d1", "d2", None]),
                         st.lists(reading, min_size=1, max_size=40))

    return st.lists(st.one_of(feed("AirQualityObserved"), feed("WaterConsumptionObserved")),
                    min_size=1, max_size=5)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path: Path = tmp_path_factory.mktemp("oracle") / "oracle.db"
    engine = make_engine(f"sqlite:///{path}")
    init_store(engine)
    yield engine
    engine.dispose()


# ---- the oracle: straight from the raw rows ------------------------------------------------

def _bucket(epoch: int, grain: str) -> int:
    if grain == "hour":
        return epoch - epoch % HOUR
    local = datetime.fromtimestamp(epoch, ZoneInfo(TZ))
    return int(datetime(local.year, local.month, local.day, tzinfo=ZoneInfo(TZ)).timestamp())


def _coverage(first: int | None, last: int, start: int, end: int, unit: str
              ) -> tuple[float, dict[str, object]]:
    size = HOUR if unit == "hour" else DAY
    total = max(1, round((end - start) / size))
    seconds = 0.0 if first is None else max(0.0, min(end, last) - max(start, first))
    covered = min(total, math.ceil(seconds / size - 1e-9)) if seconds else 0
    return seconds, {"covered": covered, "total": total, "unit": unit,
                     "share": round(covered / total, 4),
                     "partial": covered / total < 0.9}


def _value(kpi: KpiDefinition, rows: pd.DataFrame, seconds: float) -> float | None:
    if rows.empty:
        return None
    if kpi.aggregation == "mean":
        return float(rows["value"].mean() * kpi.scale)
    present = [POPULATIONS[d] for d in set(rows["district"]) if d in POPULATIONS]
    population = sum(present) if present else sum(POPULATIONS.values())
    if not seconds:
        return None
    return float(rows["value"].sum() * kpi.scale / population / (seconds / DAY))


def oracle(raw: pd.DataFrame, kpi: KpiDefinition, place: str | None, window: Window,
           now: int) -> dict[str, object]:
    """Value, comparable previous value and coverage of one KPI at one place, computed
    directly from the stored readings."""
    metric_type = kpi.metric.split(".")[0] if kpi.metric else ""
    rows = raw[(raw["type"] == metric_type)]
    if place is not None:
        rows = rows[rows["district"] == place]
    previous = window.previous()
    rows = rows[(rows["time"] >= previous.start) & (rows["time"] < window.end)]
    width = HOUR if window.grain == "hour" else DAY
    buckets = [_bucket(int(t), window.grain) for t in rows["time"]]
    first = min(buckets) if buckets else None
    last = min(max(buckets) + width, now) if buckets else now
    seconds, coverage = _coverage(first, last, window.start, window.end, window.grain)
    before_seconds, before = _coverage(first, last, previous.start, previous.end, window.grain)
    current = rows[rows["time"] >= window.start]
    earlier = rows[rows["time"] < window.start]
    previous_value = (_value(kpi, earlier, before_seconds)
                      if before["share"] >= COMPARABLE_FROM else None)
    return {"value": _value(kpi, current, seconds), "previous": previous_value,
            "coverage": coverage}


def _same(got: float | None, want: object) -> bool:
    if got is None or want is None:
        return got is None and want is None
    return got == pytest.approx(want, rel=1e-9, abs=1e-9)


# ---- the property ----------------------------------------------------------------------------

def _store(conn, city: list[Feed], now: int, order: list[int], corrections: int
           ) -> pd.DataFrame:
    """Insert districts and sensors, ingest the readings in ``order`` (out of order and in
    several batches), correct a few values with a later batch; return the stored readings."""
    conn.execute(insert(District), [{"id": d, "name": d, "geometry": {}, "population": p}
                                    for d, p in POPULATIONS.items()])
    rows = []
    for n, feed in enumerate(city):
        conn.execute(insert(Asset), [{"id": f"urn:s:{n}", "type": feed.type,
                                      "domain": "environment", "district_id": feed.district}])
        pk = conn.execute(select(Asset.pk).where(Asset.id == f"urn:s:{n}")).scalar_one()
        for ago, value in feed.readings:
            rows.append({"asset_pk": pk, "metric": METRIC_OF[feed.type], "time": now - ago,
                         "value": value, "type": feed.type, "district": feed.district})
    frame = pd.DataFrame(rows).drop_duplicates(["asset_pk", "metric", "time"], keep="last")
    frame = frame.iloc[[i % len(frame) for i in order] if order else list(range(len(frame)))]
    frame = frame.drop_duplicates(["asset_pk", "metric", "time"])
    for chunk in np.array_split(np.arange(len(frame)), 3):
        part = frame.iloc[chunk]
        if len(part):
            ingest_observations(conn, part.loc[:, ["asset_pk", "metric", "time", "value"]], TZ)
    fixed = frame.head(corrections).assign(value=lambda f: f["value"] + 7.5)
    if len(fixed):
        ingest_observations(conn, fixed.loc[:, ["asset_pk", "metric", "time", "value"]], TZ)
        frame = pd.concat([fixed, frame.iloc[len(fixed):]])
    return frame.assign(district=frame["district"].where(frame["district"].notna(), None))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(city=feeds(), now=st.sampled_from(NOWS),
       order=st.lists(st.integers(0, 10_000), max_size=60), corrections=st.integers(0, 3))
def test_maintained_kpis_equal_a_recomputation_from_raw_rows(
        engine: Engine, city: list[Feed], now: datetime, order: list[int],
        corrections: int) -> None:
    epoch = int(now.timestamp())
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            raw = _store(conn, city, epoch, order, corrections)
            for name in kpi_windows(now, TZ):
                window = window_for(name, now, TZ)
                table = compute_kpi_table(conn, KPIS, window, now)
                for place in (None, *POPULATIONS):
                    for got in table.for_place(place):
                        kpi = next(k for k in KPIS if k.id == got.id)
                        want = oracle(raw, kpi, place, window, epoch)
                        where = f"{got.id} in {place or 'the city'} over the {name}"
                        assert _same(got.value, want["value"]), (where, got.value, want)
                        assert _same(got.previous, want["previous"]), (where, got, want)
                        if got.coverage is not None:
                            assert got.coverage == want["coverage"], where
                        else:
                            assert want["value"] is None, where
        finally:
            transaction.rollback()
