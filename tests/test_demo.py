"""The demo city generator's invariants, on the tiny scale in temporary SQLite files."""
from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import shape
from sqlalchemy import Engine, text

from connectors.demo import generate_demo
from dashboard.demo import SCALES, DemoSummary
from dashboard.demo.assets import build_assets
from dashboard.demo.clock import DAY, Context
from dashboard.demo.config import load_config
from dashboard.demo.geography import assign_districts, build_districts
from dashboard.demo.series import observation_batches
from dashboard.model import DOMAINS
from dashboard.settings import Settings
from dashboard.store import make_engine

END = datetime(2026, 3, 18, 9, 0, tzinfo=timezone.utc)
TZ = "Europe/Madrid"

Generated = tuple[Engine, DemoSummary]


def _generate(folder: Path, seed: int) -> Generated:
    folder.mkdir(parents=True, exist_ok=True)
    engine = make_engine(f"sqlite:///{folder / 'citylens.db'}")
    settings = Settings(var_dir=folder, database_url="", redis_url=None)
    return engine, generate_demo(engine, settings, scale="tiny", seed=seed, end=END)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Generated]:
    """The tiny demo city, seed 7."""
    engine, summary = _generate(tmp_path_factory.mktemp("demo_a"), 7)
    yield engine, summary
    engine.dispose()


def _rows(engine: Engine, sql: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(text(sql))]


def _checksum(engine: Engine) -> dict[str, str]:
    queries = {
        "observations": "SELECT asset_pk, metric, time, value, unit FROM observations "
                        "ORDER BY asset_pk, metric, time",
        "service_requests": "SELECT * FROM service_requests ORDER BY id",
        "citizens": "SELECT * FROM citizens ORDER BY id",
        "assets": "SELECT id, type, lat, lon, district_id, status, attributes FROM assets "
                  "ORDER BY id",
    }
    return {name: hashlib.sha256(repr(_rows(engine, sql)).encode()).hexdigest()
            for name, sql in queries.items()}


def test_summary_matches_the_store_and_the_scale(demo: Generated) -> None:
    engine, summary = demo
    counted = {table: _rows(engine, f"SELECT COUNT(*) FROM {table}")[0][0] for table in (
        "districts", "assets", "observations", "service_requests", "citizens", "cases",
        "participation", "notices")}
    assert counted == {
        "districts": summary.districts, "assets": summary.assets,
        "observations": summary.observations, "service_requests": summary.service_requests,
        "citizens": summary.citizens, "cases": summary.cases,
        "participation": summary.participation, "notices": summary.notices,
    }
    assert 8 <= summary.districts <= 12
    assert 100 <= summary.assets <= 150
    assert 200 <= summary.service_requests <= 1000
    assert summary.end == END and summary.start == END - timedelta(days=SCALES["tiny"].days)
    meta = json.loads(_rows(engine, "SELECT value FROM meta WHERE key = 'demo'")[0][0])
    assert meta == {"seed": 7, "scale": "tiny", "start": summary.start.isoformat(),
                    "end": END.isoformat(), "feeds": meta["feeds"]}
    assert Path(meta["feeds"], "sources.yaml").is_file()


def test_districts_are_polygons_that_do_not_overlap(demo: Generated) -> None:
    engine, _ = demo
    rows = _rows(engine, "SELECT id, geometry, population, area_km2 FROM districts ORDER BY id")
    polygons = {}
    for district_id, geometry, population, area in rows:
        geo = json.loads(geometry)
        assert geo["type"] == "Polygon"
        polygon = shape(geo)
        assert polygon.is_valid and polygon.area > 0 and area > 0.5 and population > 0
        lon, lat = polygon.centroid.x, polygon.centroid.y
        assert -3.92 < lon < -3.74 and 43.42 < lat < 43.50  # around Santander
        polygons[district_id] = polygon
    for (a, pa), (b, pb) in itertools.combinations(polygons.items(), 2):
        assert pa.intersection(pb).area < 1e-9 * min(pa.area, pb.area), (a, b)
    assert sum(r[2] for r in rows) == pytest.approx(175_000, rel=0.02)


def _district_polygons(engine: Engine) -> dict[str, shapely.Geometry]:
    return {i: shape(json.loads(g)) for i, g in _rows(engine, "SELECT id, geometry FROM districts")}


def test_every_located_thing_lies_in_its_district(demo: Generated) -> None:
    engine, _ = demo
    polygons = _district_polygons(engine)
    for table in ("assets", "service_requests"):
        rows = _rows(engine, f"SELECT district_id, lon, lat FROM {table}")
        assert rows
        for district_id, lon, lat in rows:
            assert shapely.contains_xy(polygons[district_id], lon, lat), (table, district_id)


def test_every_domain_is_used(demo: Generated) -> None:
    engine, _ = demo
    sql = "SELECT domain FROM assets UNION SELECT domain FROM services"
    used = {r[0] for r in _rows(engine, sql)}
    assert set(DOMAINS) <= used
    asset_domains = {r[0] for r in _rows(engine, "SELECT DISTINCT domain FROM assets")}
    assert set(DOMAINS) - {"services"} <= asset_domains


def test_no_duplicated_observation_key() -> None:
    config = load_config()
    districts = build_districts(config)
    groups = build_assets(config, SCALES["tiny"], districts, 7)
    pks = {g.type.type: np.arange(g.size) + 1000 * k for k, g in enumerate(groups)}
    ctx = Context(7, TZ, *config.centre, config.buildings)
    end = int(END.timestamp())
    frame = pd.concat(list(observation_batches(groups, pks, ctx, end - 14 * DAY, end)))
    assert not frame.duplicated(["asset_pk", "metric", "time"]).any()
    assert frame["value"].notna().all() and (frame["time"] % 900 == 0).all()


def test_stored_observations_are_unique_and_all_kept(demo: Generated) -> None:
    engine, summary = demo
    duplicates = _rows(engine, "SELECT asset_pk, metric, time FROM observations "
                               "GROUP BY asset_pk, metric, time HAVING COUNT(*) > 1")
    assert duplicates == []
    start, end = int(summary.start.timestamp()), int(summary.end.timestamp())
    span = _rows(engine, "SELECT MIN(time), MAX(time) FROM observations")[0]
    assert start <= span[0] and span[1] < end


def test_a_day_is_the_same_whatever_range_is_generated() -> None:
    config = load_config()
    districts = build_districts(config)
    groups = build_assets(config, SCALES["tiny"], districts, 7)
    pks = {g.type.type: np.arange(g.size) + 1000 * k for k, g in enumerate(groups)}
    ctx = Context(7, TZ, *config.centre, config.buildings)
    end = int(END.timestamp())
    key = ["asset_pk", "metric", "time"]
    whole = pd.concat(list(observation_batches(groups, pks, ctx, end - 10 * DAY, end)))
    tail = pd.concat(list(observation_batches(groups, pks, ctx, end - 3 * DAY - 5 * 3600, end,
                                              batch_rows=5_000)))
    part = whole[whole["time"] >= end - 3 * DAY - 5 * 3600]
    merged = part.merge(tail, on=key, how="outer", suffixes=("_whole", "_tail"), indicator=True)
    assert (merged["_merge"] == "both").all()
    assert np.allclose(merged["value_whole"], merged["value_tail"], atol=1e-9)


def test_rollups_count_every_raw_observation(demo: Generated) -> None:
    engine, _ = demo
    raw = dict(_rows(engine, "SELECT a.type || '.' || o.metric, COUNT(*) FROM observations o "
                             "JOIN assets a ON a.pk = o.asset_pk GROUP BY 1"))
    assert len(raw) >= 19  # every metric of every type
    for grain in ("hour", "day"):
        rolled = dict(_rows(engine, "SELECT metric, SUM(count) FROM rollups "
                                    f"WHERE grain = '{grain}' GROUP BY metric"))
        assert rolled == raw, grain


def test_service_request_times_are_consistent(demo: Generated) -> None:
    engine, summary = demo
    end = summary.end.replace(tzinfo=None)
    start = summary.start.replace(tzinfo=None)
    frame = pd.read_sql(
        "SELECT r.*, s.sla_hours FROM service_requests r JOIN services s USING (service_code)",
        engine, parse_dates=["requested_at", "updated_at", "closed_at", "expected_at"])
    assert set(frame["status"]) == {"open", "closed"}
    assert ((frame["status"] == "closed") == frame["closed_at"].notna()).all()
    closed = frame[frame["closed_at"].notna()]
    assert (closed["closed_at"] >= closed["requested_at"]).all()
    assert (closed["closed_at"] < end).all() and (closed["updated_at"] == closed["closed_at"]).all()
    assert ((frame["requested_at"] >= start) & (frame["requested_at"] < end)).all()
    assert ((frame["updated_at"] >= frame["requested_at"]) & (frame["updated_at"] <= end)).all()
    due = frame["requested_at"] + pd.to_timedelta(frame["sla_hours"], unit="h")
    assert (frame["expected_at"] == due).all()
    late = closed["closed_at"] > closed["expected_at"]
    assert 0.05 < late.mean() < 0.7  # some breach their SLA, most do not
    assert frame["id"].str.fullmatch(r"SR-\d{4}-\d{6}").all()
    assert set(frame["channel"]) <= {"web", "phone", "app", "kiosk", "in_person"}
    assert 0.05 < frame["citizen_id"].isna().mean() < 0.4


def test_cases_and_participation_are_consistent(demo: Generated) -> None:
    engine, _ = demo
    cases = pd.read_sql("SELECT * FROM cases", engine, parse_dates=["opened_at", "closed_at"])
    assert set(cases["kind"]) <= {"permit", "tax", "registration", "benefit"}
    assert ((cases["status"] == "open") == cases["closed_at"].isna()).all()
    done = cases.dropna(subset=["closed_at"])
    assert (done["closed_at"] >= done["opened_at"]).all()
    busiest = _rows(engine, "SELECT citizen_id, COUNT(DISTINCT department) FROM ("
                            "SELECT citizen_id, department FROM service_requests UNION ALL "
                            "SELECT citizen_id, department FROM cases) "
                            "WHERE citizen_id IS NOT NULL "
                            "GROUP BY citizen_id ORDER BY 2 DESC LIMIT 1")
    assert busiest[0][1] >= 3  # someone deals with several departments
    assert _rows(engine, "SELECT COUNT(*) FROM participation WHERE citizen_id IS NULL")[0][0] == 0


def test_same_seed_same_rows_other_seed_other_rows(demo: Generated, tmp_path: Path) -> None:
    engine, _ = demo
    again, _ = _generate(tmp_path / "again", 7)
    other, _ = _generate(tmp_path / "other", 8)
    try:
        first, second, third = _checksum(engine), _checksum(again), _checksum(other)
    finally:
        again.dispose()
        other.dispose()
    assert first == second
    assert all(first[name] != third[name] for name in first)
    # the bus company's feeds too, to the byte
    feeds = [Path(json.loads(_rows(e, "SELECT value FROM meta WHERE key = 'demo'")[0][0])[
        "feeds"]) / "transit" for e in (engine, again)]
    for name in ("gtfs.zip", "vehicle_positions.pb", "trip_updates.pb"):
        assert (feeds[0] / name).read_bytes() == (feeds[1] / name).read_bytes(), name


def test_series_have_rhythms_and_anomalies(demo: Generated) -> None:
    engine, _ = demo
    frame = pd.read_sql(
        "SELECT a.type, o.metric, o.time, o.value FROM observations o JOIN assets a "
        "ON a.pk = o.asset_pk WHERE o.metric IN ('intensity', 'powerConsumption', 'no2', "
        "'turbidity', 'fillingLevel')", engine)
    local = pd.to_datetime(frame["time"], unit="s", utc=True).dt.tz_convert(TZ)
    frame["hour"], frame["weekday"] = local.dt.hour, local.dt.day_of_week

    def mean(metric: str, hours: list[int], workday: bool = True) -> float:
        rows = frame[(frame["metric"] == metric) & frame["hour"].isin(hours)]
        return rows[(rows["weekday"] < 5) == workday]["value"].mean()

    assert mean("intensity", [8]) > 4 * mean("intensity", [3])  # rush hour vs night
    assert mean("intensity", [8]) > 1.3 * mean("intensity", [8], workday=False)
    assert mean("powerConsumption", [13]) == 0 < mean("powerConsumption", [23])
    assert mean("no2", [8, 9]) > 1.5 * mean("no2", [3, 4])
    by_metric = frame.groupby("metric")["value"]
    assert by_metric.max()["no2"] > 150 and by_metric.max()["turbidity"] > 4  # anomalies
    assert by_metric.max()["fillingLevel"] == 1.0 and by_metric.min()["fillingLevel"] < 0.1
    alerts = {r[0] for r in _rows(engine, "SELECT DISTINCT metric FROM alerts")}
    assert {"AirQualityObserved.no2", "WaterQualityObserved.turbidity"} <= alerts


def test_regenerating_is_idempotent_and_another_demo_is_refused(demo: Generated,
                                                                tmp_path: Path) -> None:
    engine, first = demo
    before = _checksum(engine)
    rollups_sql = "SELECT * FROM rollups ORDER BY metric, district_id, grain, bucket"
    rollups = _rows(engine, rollups_sql)
    again = generate_demo(engine, Settings(var_dir=tmp_path), scale="tiny", seed=7, end=END)
    assert again.observations == first.observations
    assert _checksum(engine) == before and _rows(engine, rollups_sql) == rollups
    with pytest.raises(ValueError, match="already holds a demo"):
        generate_demo(engine, Settings(var_dir=tmp_path), scale="tiny", seed=8, end=END)


def test_notices_are_current_or_upcoming_in_two_languages(demo: Generated) -> None:
    engine, summary = demo
    notices = pd.read_sql("SELECT * FROM notices", engine, parse_dates=["starts_at", "ends_at"])
    end = summary.end.replace(tzinfo=None)
    assert set(notices["kind"]) == {"news", "event"}
    assert (notices["ends_at"] > end).all() and (notices["starts_at"] > end).any()
    assert notices["district_id"].notna().all()
    for column in ("title", "body"):
        assert all(set(json.loads(text_)) == {"es", "en"} for text_ in notices[column])


@pytest.mark.parametrize("scale", list(SCALES))
def test_buses_run_on_land_at_every_scale(scale: str) -> None:
    from dashboard.demo.transit import route_layout, timetable
    from dashboard.demo.transit_live import realtime
    from google.transit import gtfs_realtime_pb2

    config = load_config()
    districts = build_districts(config)
    count = SCALES[scale].assets["GtfsStop"].count
    routes, members, xy = route_layout(config, count)
    assert sum(len(m) for m in members) == count and all(len(m) >= 2 for m in members)
    assert len(routes) >= 3
    assert (assign_districts(districts, xy[:, 0], xy[:, 1]) >= 0).all()  # stops in districts
    if scale not in ("tiny", "benchmark"):
        return
    stops = next(g for g in build_assets(config, SCALES[scale], districts, 7)
                 if g.type.type == "GtfsStop")
    _routes, table = timetable(config, stops)
    assert sum(len(t.stops) for t in table.trips) < 100_000  # small at the largest scale
    day = datetime(2026, 3, 18, tzinfo=timezone.utc)
    for hour in (2, 7, 13, 21):  # UTC: 3:00 (no bus), 8:00, 14:00 and 22:00 in Santander
        now = realtime(table, day + timedelta(hours=hour), 7, TZ, districts)
        feed = gtfs_realtime_pb2.FeedMessage()
        feed.ParseFromString(now.vehicle_positions)
        buses = [e.vehicle for e in feed.entity]
        assert len(buses) == now.vehicles and (hour == 2) == (not buses), hour
        assert len({b.vehicle.id for b in buses}) == len(buses)
        lon = np.array([b.position.longitude for b in buses])
        lat = np.array([b.position.latitude for b in buses])
        located = np.zeros(len(buses), dtype=bool)
        for district in districts:
            located |= shapely.contains_xy(district.polygon, lon, lat)
        assert located.all(), (hour, lon[~located], lat[~located])  # every bus in a district
