"""KPI engine: hand-checked values and city score, windows, scoring rules, definitions."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Connection, insert, select

from dashboard.kpis import compute_kpi_table, load_kpis, window_for
from dashboard.kpis.scoring import SCORE_CAP, city_score, is_improving, kpi_score
from dashboard.model import Asset, District, Service, ServiceRequest
from dashboard.store.request_rollups import rebuild_request_rollups
from dashboard.store.observations import ingest_observations

TZ = "Europe/Madrid"
NOW = datetime(2026, 1, 15, 12, 30, tzinfo=timezone.utc)
KPIS_YAML = """
kpis:
  - id: no2
    name: {en: NO2, es: NO2}
    domain: environment
    source: rollups
    metric: AirQualityObserved.no2
    aggregation: mean
    unit: ug/m3
    target: 40
    direction: lower
  - id: on_time
    name: {en: On time, es: En plazo}
    domain: services
    source: service_requests
    aggregation: share_closed_within_sla
    unit: "%"
    target: 80
    direction: higher
  - id: median_days
    name: {en: Median days, es: Mediana de días}
    domain: services
    source: service_requests
    aggregation: median_days_to_close
    unit: days
    target: 4
    direction: lower
"""


def _epoch(day: int, hour: int) -> int:
    return int(datetime(2026, 1, day, hour, tzinfo=timezone.utc).timestamp())


def _dt(day: int, hour: int = 9) -> datetime:
    return datetime(2026, 1, day, hour, tzinfo=timezone.utc)


@pytest.fixture
def kpis(tmp_path: Path):
    path = tmp_path / "kpis.yaml"
    path.write_text(KPIS_YAML, encoding="utf-8")
    return load_kpis(path)


@pytest.fixture
def city(conn: Connection) -> Connection:
    """Two districts with a hand-countable week of data (window: Jan 8 13:00 - Jan 15 13:00)."""
    conn.execute(insert(District), [
        {"id": "d1", "name": "North", "geometry": {}, "population": 1000},
        {"id": "d2", "name": "South", "geometry": {}, "population": 3000},
    ])
    conn.execute(insert(Asset), [
        {"id": f"urn:a:{d}", "type": "AirQualityObserved", "domain": "environment",
         "district_id": d} for d in ("d1", "d2")
    ])
    pk = dict(conn.execute(select(Asset.district_id, Asset.pk)).all())
    observations = pd.DataFrame([
        (pk["d1"], _epoch(14, 10), 20.0), (pk["d1"], _epoch(14, 11), 40.0),
        (pk["d2"], _epoch(12, 8), 60.0),
        (pk["d1"], _epoch(2, 14), 50.0),  # previous window only (which it covers from Jan 2)
    ], columns=["asset_pk", "time", "value"]).assign(metric="no2")
    ingest_observations(conn, observations, TZ)
    conn.execute(insert(Service), [{"service_code": "pothole", "service_name": "Pothole",
                                    "department": "Works", "sla_hours": 72.0}])
    requests = [  # (district, requested day, closed day, due day)
        ("d1", 10, 11, 12), ("d1", 10, 13, 14),
        ("d2", 9, 14, 10), ("d2", 6, 13, 14),
        ("d2", 1, 3, 4),  # closed before the window: ignored
    ]
    conn.execute(insert(ServiceRequest), [
        {"id": f"SR-{i}", "service_code": "pothole", "department": "Works", "status": "closed",
         "requested_at": _dt(r), "closed_at": _dt(c), "expected_at": _dt(e), "district_id": d}
        for i, (d, r, c, e) in enumerate(requests)
    ])
    rebuild_request_rollups(conn, TZ)  # written straight to the table, not by a connector
    return conn


def test_hand_checked_values_and_city_score(city: Connection, kpis) -> None:
    table = compute_kpi_table(city, kpis, window_for("week", NOW, TZ), NOW)
    values = {p: {k.id: k for k in table.for_place(p)} for p in (None, "d1", "d2")}
    # NO2: d1 (20+40)/2 = 30, d2 60, city (20+40+60)/3 = 40; lower is better, target 40.
    assert values["d1"]["no2"].value == pytest.approx(30.0)
    assert values["d2"]["no2"].value == pytest.approx(60.0)
    assert values[None]["no2"].value == pytest.approx(40.0)
    assert values[None]["no2"].score == pytest.approx(1.0)
    assert values["d1"]["no2"].score == pytest.approx(40 / 30)
    # Previous week: 50 -> 40 is a 20 % fall, an improvement for a lower-is-better KPI.
    assert values[None]["no2"].previous == pytest.approx(50.0)
    assert values[None]["no2"].trend == pytest.approx(-0.2)
    assert values[None]["no2"].improving is True
    # On time: closed in the window d1 2/2, d2 1/2 (day 14 > due day 10), city 3/4.
    assert values["d1"]["on_time"].value == pytest.approx(100.0)
    assert values["d2"]["on_time"].value == pytest.approx(50.0)
    assert values[None]["on_time"].value == pytest.approx(75.0)
    assert values[None]["on_time"].score == pytest.approx(75 / 80)
    # Median days to close: d1 [1, 3] -> 2, d2 [5, 7] -> 6, city [1, 3, 5, 7] -> 4.
    assert values["d1"]["median_days"].value == pytest.approx(2.0)
    assert values["d2"]["median_days"].value == pytest.approx(6.0)
    assert values[None]["median_days"].value == pytest.approx(4.0)
    # City score (CityScore): mean of 40/40, 75/80 and 4/4.
    assert table.score(None) == pytest.approx((1.0 + 0.9375 + 1.0) / 3)
    assert table.score("d1") == pytest.approx((40 / 30 + 1.25 + 2.0) / 3)
    assert table.score("d2") == pytest.approx((40 / 60 + 0.625 + 4 / 6) / 3)


def test_freshness_sources_and_sparkline(city: Connection, kpis) -> None:
    table = compute_kpi_table(city, kpis, window_for("week", NOW, TZ), NOW)
    no2 = next(k for k in table.for_place(None) if k.id == "no2")
    assert no2.as_of == datetime(2026, 1, 14, 12, tzinfo=timezone.utc).isoformat()
    assert no2.sources == ["observations:AirQualityObserved.no2"]
    assert no2.stale is True  # newest reading is a day old; sensors go stale after 6 h
    assert [p["v"] for p in no2.spark] == [60.0, 20.0, 40.0]  # hourly buckets, in time order


def test_a_place_without_a_station_has_no_source_and_is_not_stale(city: Connection,
                                                                   kpis) -> None:
    """A district with no air-quality station at all says so (no_source) and is not stale;
    a district whose station stopped reporting stays stale; request KPIs always have a
    source (requests can come from anywhere)."""
    city.execute(insert(District), [{"id": "d3", "name": "East", "geometry": {},
                                     "population": 500}])
    later = NOW + timedelta(days=2)  # d1's and d2's stations have both stopped by then
    table = compute_kpi_table(city, kpis, window_for("week", later, TZ), later)
    no2 = {p: next(k for k in table.for_place(p) if k.id == "no2") for p in (None, "d1", "d3")}
    assert (no2["d3"].no_source, no2["d3"].stale, no2["d3"].value) == (True, False, None)
    assert (no2["d1"].no_source, no2["d1"].stale) == (False, True)
    assert (no2[None].no_source, no2[None].stale) == (False, True)
    assert not any(k.no_source for k in table.for_place("d3") if k.id != "no2")
    assert next(k for k in table.for_place("d3") if k.id == "no2").as_dict()["no_source"]


def test_a_city_without_any_station_has_no_source(conn: Connection, kpis) -> None:
    conn.execute(insert(District), [{"id": "d1", "name": "North", "geometry": {},
                                     "population": 1000}])
    table = compute_kpi_table(conn, kpis, window_for("week", NOW, TZ), NOW)
    assert [(k.id, k.no_source, k.stale) for k in table.for_place(None)] == [
        ("no2", True, False), ("on_time", False, True), ("median_days", False, True)]


def test_empty_store_gives_no_values_not_errors(conn: Connection, kpis) -> None:
    table = compute_kpi_table(conn, kpis, window_for("month", NOW, TZ), NOW)
    assert [k.value for k in table.for_place(None)] == [None, None, None]
    assert table.score(None) is None


@pytest.mark.parametrize(
    ("value", "target", "direction", "expected"),
    [(30, 40, "lower", 40 / 30), (50, 40, "higher", 1.25), (0, 40, "lower", SCORE_CAP),
     (400, 40, "higher", SCORE_CAP), (None, 40, "lower", None), (80, 40, "lower", 0.5)],
)
def test_kpi_score(value, target, direction, expected) -> None:
    assert kpi_score(value, target, direction) == (
        expected if expected is None else pytest.approx(expected)
    )


def test_city_score_ignores_missing_values() -> None:
    assert city_score([1.0, None, 0.5]) == pytest.approx(0.75)
    assert city_score([None]) is None


def test_improving_depends_on_direction() -> None:
    assert is_improving(0.1, "higher") is True
    assert is_improving(0.1, "lower") is False
    assert is_improving(0.001, "lower") is None


def test_month_window_spans_whole_local_days_across_dst() -> None:
    now = datetime(2026, 4, 10, 12, tzinfo=timezone.utc)  # DST began on 29 March
    window = window_for("month", now, TZ)
    assert window.end_dt() == datetime(2026, 4, 10, 22, tzinfo=timezone.utc)  # local midnight
    assert window.start_dt() == datetime(2026, 3, 11, 23, tzinfo=timezone.utc)  # CET midnight
    assert window.grain == "day"
    assert window_for("day", now, TZ).length == 86400


def test_unknown_window_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown window"):
        window_for("decade", NOW, TZ)


def test_shipped_catalogue_is_broad(tmp_path: Path) -> None:
    from dashboard.settings import DATA_DIR

    shipped = load_kpis(DATA_DIR / "kpis.yaml")
    assert len(shipped) >= 12
    assert len({k.domain for k in shipped}) >= 6
    assert {"share_closed_within_sla", "median_days_to_close"} <= {k.aggregation for k in shipped}
    assert all(k.name["en"] and k.name["es"] for k in shipped)


def test_bad_definition_names_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(KPIS_YAML.replace("aggregation: mean", "aggregation: share_digital"))
    with pytest.raises(ValueError, match="does not apply to source 'rollups'"):
        load_kpis(path)
    assert timedelta  # keep the import honest for readers of the window test


WATER_YAML = """
kpis:
  - id: water
    name: {en: Water per resident, es: Agua por habitante}
    domain: water
    source: rollups
    metric: WaterConsumptionObserved.consumption
    aggregation: sum_per_resident_day
    scale: 1000
    unit: L/day
    target: 130
    direction: lower
"""


def test_per_resident_day_divides_by_the_time_the_data_covers(city: Connection,
                                                              tmp_path: Path) -> None:
    path = tmp_path / "water.yaml"
    path.write_text(WATER_YAML, encoding="utf-8")
    conn = city
    conn.execute(insert(Asset), [{"id": "urn:w:1", "type": "WaterConsumptionObserved",
                                  "domain": "water", "district_id": "d1"}])
    pk = conn.execute(select(Asset.pk).where(Asset.id == "urn:w:1")).scalar_one()
    ingest_observations(conn, pd.DataFrame({
        "asset_pk": pk, "metric": "consumption",
        "time": [_epoch(14, 10), _epoch(15, 11)], "value": [2.0, 1.0],
    }), TZ)
    table = compute_kpi_table(conn, load_kpis(path), window_for("week", NOW, TZ), NOW)
    # The meter's data covers 14 Jan 10:00 to the end of its newest hour (15 Jan 12:00), not
    # the whole week: 3 m3 = 3,000 litres over 26 hours. Only d1 (1,000 residents) has a
    # meter, so the city's figure is d1's, not spread over the 4,000 residents of both.
    covered_days = 26 / 24
    assert table.for_place(None)[0].value == pytest.approx(3000 / 1000 / covered_days)
    assert table.for_place("d1")[0].value == pytest.approx(3000 / 1000 / covered_days)
    assert table.for_place(None)[0].coverage == {
        "covered": 26, "total": 168, "unit": "hour", "share": round(26 / 168, 4),
        "partial": True}
    # The last hourly spark point (11:00-12:00) is complete: 1,000 L per resident-hour.
    last = table.for_place("d1")[0].spark[-1]
    assert last["v"] == pytest.approx(1000 / 1000 / (1 / 24))


def test_previous_month_starts_at_a_local_midnight_across_dst() -> None:
    window = window_for("month", datetime(2026, 4, 10, 12, tzinfo=timezone.utc), TZ)
    previous = window.previous()
    assert previous.end == window.start
    # The window starts on 12 March (local); 30 whole local days before: 10 February, CET.
    assert previous.start_dt() == datetime(2026, 2, 9, 23, tzinfo=timezone.utc)
    assert previous.days == 30
    assert window.days == pytest.approx(30 - 1 / 24)  # the spring-forward night is short
