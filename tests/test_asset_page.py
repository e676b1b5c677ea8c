"""Asset drill-down: read models against plain SQL, resampling, layout trees, callbacks.

The tiny city is read-only; resampling and alert tests use a small store of their own
(``dense``): one sensor with a reading every 10 minutes for 400 days, and alerts.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd
import pytest
import yaml
from sqlalchemy import insert, text

from dashboard.model import Alert, Asset, District
from dashboard.periods import PRESETS, period_for
from dashboard.queries.asset import (
    alerts_between,
    asset_alerts,
    asset_detail,
    flatten_attributes,
    metric_names,
    thresholds,
)
from dashboard.queries.asset_series import (
    GRAINS,
    MAX_POINTS,
    bucket_count,
    choose_grain,
    epoch,
    series_of,
)
from dashboard.settings import Settings
from dashboard.store import get_engine
from dashboard.store.observations import ingest_observations
from tests.conftest import TINY_NOW

AIR = "urn:ngsi-ld:AirQualityObserved:santander:0004"  # has pm10 alerts in the tiny city
DENSE = "urn:ngsi-ld:TestSensor:dense:0001"
NOWHERE = "urn:ngsi-ld:TestSensor:dense:0002"  # no location, no readings
DENSE_NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
STEP, DAYS = 600, 400


def walk(node: Any) -> Iterator[Any]:
    """Every component of a tree (and strings)."""
    yield node
    if isinstance(node, (list, tuple)):
        for child in node:
            yield from walk(child)
    elif node is not None and not isinstance(node, str):
        yield from walk(getattr(node, "children", None))


def texts(node: Any) -> str:
    return " ".join(n for n in walk(node) if isinstance(n, str))


def by_id(node: Any, wanted: str) -> Any:
    return next(n for n in walk(node) if getattr(n, "id", None) == wanted)


def reading(t: int) -> float:
    return round(10 + (t // STEP) % 37 + ((t // 3600) % 5) * 0.5, 3)


@pytest.fixture(scope="module")
def dense(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A store of our own: one dense sensor, one without location or readings, 3 alerts."""
    settings = Settings(var_dir=tmp_path_factory.mktemp("asset-dense"), database_url="",
                        redis_url=None, now=DENSE_NOW)
    engine = get_engine(settings.resolved_database_url)
    end = epoch(DENSE_NOW)
    with engine.begin() as conn:
        conn.execute(insert(District).values(id="d1", name="North", population=10, geometry={
            "type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}))
        conn.execute(insert(Asset), [
            {"id": DENSE, "type": "WasteContainer", "domain": "waste", "name": "Dense bin",
             "lat": 0.5, "lon": 0.4, "district_id": "d1", "status": "ok",
             "attributes": {"address": {"streetAddress": "Calle 1"}, "cargoVolume": 3200}},
            {"id": NOWHERE, "type": "WasteContainer", "domain": "waste", "name": "Lost bin",
             "lat": None, "lon": None, "district_id": None, "status": "defectiveLid",
             "attributes": {}}])
        start = end - DAYS * 86400
        ingest_observations(conn, pd.DataFrame(
            [{"asset_pk": 1, "metric": "fillingLevel", "time": t, "value": reading(t),
              "unit": "ratio"} for t in range(start, end, STEP)]
            + [{"asset_pk": 1, "metric": "temperature", "time": t, "value": 20.0, "unit": "°C"}
               for t in range(end - 86400, end, 3600)]), "Europe/Madrid")
        day = timedelta(days=1)
        conn.execute(insert(Alert), [
            {"asset_pk": 1, "metric": "WasteContainer.fillingLevel",
             "rule": "WasteContainer.fillingLevel>0.95", "severity": "warning",
             "raised_at": DENSE_NOW - 3 * day, "cleared_at": DENSE_NOW - 2 * day, "value": 46.0},
            {"asset_pk": 1, "metric": "WasteContainer.fillingLevel",
             "rule": "WasteContainer.fillingLevel>0.95", "severity": "warning",
             "raised_at": DENSE_NOW - 5 * timedelta(hours=1), "cleared_at": None, "value": 47.0},
            {"asset_pk": 1, "metric": "WasteContainer.fillingLevel",
             "rule": "WasteContainer.fillingLevel>0.95", "severity": "warning",
             "raised_at": DENSE_NOW - 60 * day, "cleared_at": DENSE_NOW - 59 * day,
             "value": 45.0}])
    return settings


def raw_rows(settings: Settings, pk: int, metric: str, start: int, end: int) -> list[Any]:
    engine = get_engine(settings.resolved_database_url)
    with engine.connect() as conn:
        return conn.execute(text(
            "SELECT time, value FROM observations WHERE asset_pk = :pk AND metric = :m "
            "AND time >= :s AND time < :e ORDER BY time"),
            {"pk": pk, "m": metric, "s": start, "e": end}).all()


# ---- read models ------------------------------------------------------------------------

def test_metric_listing_equals_select_distinct_for_every_tiny_asset(tiny_city: Settings) -> None:
    engine = get_engine(tiny_city.resolved_database_url)
    with engine.connect() as conn:
        pks = conn.execute(text("SELECT pk FROM assets ORDER BY pk")).scalars().all()
        assert pks
        for pk in pks:
            distinct = conn.execute(text("SELECT DISTINCT metric FROM observations "
                                         "WHERE asset_pk = :pk ORDER BY metric"),
                                    {"pk": pk}).scalars().all()
            assert metric_names(conn, pk) == distinct


def test_metrics_and_latest_readings_are_seeks_of_the_latest_readings_key(
        tiny_city: Settings) -> None:
    engine = get_engine(tiny_city.resolved_database_url)
    with engine.connect() as conn:
        plans = [" ".join(str(r[-1]) for r in conn.execute(text(f"EXPLAIN QUERY PLAN {sql}")))
                 for sql in ("SELECT metric FROM latest_readings WHERE asset_pk = 1 "
                             "ORDER BY metric",
                             "SELECT time, value, unit FROM latest_readings "
                             "WHERE asset_pk = 1 AND metric = 'no2'")]
    assert "PRIMARY KEY (asset_pk=?)" in plans[0] and "TEMP B-TREE" not in plans[0]
    assert "PRIMARY KEY (asset_pk=? AND metric=?)" in plans[1]


def test_detail_has_latest_reading_of_each_metric(tiny_city: Settings) -> None:
    detail = asset_detail(tiny_city, AIR)
    assert detail is not None and detail["type"] == "AirQualityObserved"
    engine = get_engine(tiny_city.resolved_database_url)
    with engine.connect() as conn:
        for found in detail["metrics"]:
            time, value, unit = conn.execute(text(
                "SELECT time, value, unit FROM observations WHERE asset_pk = :pk AND "
                "metric = :m ORDER BY time DESC LIMIT 1"),
                {"pk": detail["pk"], "m": found["metric"]}).one()
            assert (found["time"], found["value"], found["unit"]) == (time, value, unit)
    assert ["address.streetAddress", "Calle Isabel II 54"] in detail["attributes"]
    assert asset_detail(tiny_city, "urn:ngsi-ld:Nothing:0") is None


def test_attributes_are_flattened_as_text() -> None:
    rows = flatten_attributes({"a": {"b": {"c": 1}}, "ok": True, "tags": ["x", "y"], "n": None})
    assert rows == [["a.b.c", "1"], ["n", ""], ["ok", "yes"], ["tags", "x, y"]]


def test_bucket_width_choice(dense: Settings) -> None:
    assert bucket_count(0, 3600, 900) == 4 and bucket_count(100, 3700, 3600) == 2
    expected = {"24h": "raw", "7d": "raw", "30d": "hour", "90d": "3 h", "12m": "6 h",
                "all": "6 h"}
    engine = get_engine(dense.resolved_database_url)
    with engine.connect() as conn:
        for preset, grain in expected.items():
            series = series_of(conn, 1, "fillingLevel", period_for(preset, DENSE_NOW))
            assert series["grain"] == grain, preset
            start, end, width = series["start"], series["end"], series["width"]
            rows = len(raw_rows(dense, 1, "fillingLevel", start, end))
            if width == 0:
                assert rows <= MAX_POINTS
                continue
            # the smallest nice width: the next smaller one would give too many points
            assert bucket_count(start, end, width) <= MAX_POINTS
            smaller = [w for _, w in GRAINS if w < width][-1]
            assert (rows if smaller == 0 else bucket_count(start, end, smaller)) > MAX_POINTS
        start, end = epoch(DENSE_NOW) - 30 * 86400, epoch(DENSE_NOW)
        assert bucket_count(start, end, 900) > MAX_POINTS >= bucket_count(start, end, 3600)
        assert choose_grain(conn, 1, "fillingLevel", start, end, at_least=86400)[0] == "day"


def test_resampling_never_exceeds_max_points(dense: Settings) -> None:
    engine = get_engine(dense.resolved_database_url)
    with engine.connect() as conn:
        for preset in PRESETS:
            for compare in (None, "previous", "year"):
                series = series_of(conn, 1, "fillingLevel", period_for(preset, DENSE_NOW),
                                   compare)
                assert 0 < len(series["points"]) <= MAX_POINTS, (preset, compare)
                assert len(series["compared"]) <= MAX_POINTS


@pytest.mark.parametrize("preset", ["30d", "90d", "12m"])
def test_resampled_buckets_equal_plain_computation(dense: Settings, preset: str) -> None:
    engine = get_engine(dense.resolved_database_url)
    with engine.connect() as conn:
        series = series_of(conn, 1, "fillingLevel", period_for(preset, DENSE_NOW))
    width, points = series["width"], series["points"]
    rows = raw_rows(dense, 1, "fillingLevel", series["start"], series["end"])
    assert sum(p["count"] for p in points) == len(rows)
    for point in (points[0], points[len(points) // 2], points[-1]):
        values = [v for t, v in rows if t - t % width == point["time"]]
        assert point["count"] == len(values)
        assert point["mean"] == pytest.approx(sum(values) / len(values))
        assert (point["min"], point["max"]) == (min(values), max(values))


def test_all_spans_from_the_first_observation(dense: Settings) -> None:
    first = raw_rows(dense, 1, "fillingLevel", 0, 2**40)[0][0]
    engine = get_engine(dense.resolved_database_url)
    with engine.connect() as conn:
        series = series_of(conn, 1, "fillingLevel", period_for("all", DENSE_NOW))
        short = series_of(conn, 1, "temperature", period_for("all", DENSE_NOW))
    assert series["start"] == first and series["end"] == epoch(DENSE_NOW)
    assert series["points"][0]["time"] == first - first % series["width"]
    assert short["grain"] == "raw" and len(short["points"]) == 24


def test_previous_period_is_shifted_onto_the_current_axis(dense: Settings) -> None:
    period = period_for("30d", DENSE_NOW)
    engine = get_engine(dense.resolved_database_url)
    with engine.connect() as conn:
        series = series_of(conn, 1, "fillingLevel", period, "previous")
    assert series["compare_label"] == "previous period"
    shift = 30 * 86400
    first = series["compared"][0]
    values = [v for t, v in raw_rows(dense, 1, "fillingLevel", first["time"] - shift,
                                      first["time"] - shift + series["width"])]
    assert first["mean"] == pytest.approx(sum(values) / len(values))
    assert all(series["start"] <= p["time"] < series["end"] for p in series["compared"])


def test_thresholds_come_from_kpis_yaml(tiny_city: Settings) -> None:
    rules = yaml.safe_load(Path(tiny_city.kpis_file).read_text(encoding="utf-8"))["alerts"]
    pm10 = next(r for r in rules if r["metric"] == "AirQualityObserved.pm10")
    found = thresholds(tiny_city, "AirQualityObserved", "pm10")
    assert [(t["operator"], t["threshold"], t["severity"]) for t in found] == [
        (">", pm10["above"], pm10["severity"])]
    assert found[0]["rule"]["en"] == pm10["rule"]["en"]
    assert thresholds(tiny_city, "AirQualityObserved", "o3") == []


def test_alerts_of_the_asset_during_the_period(dense: Settings) -> None:
    week = asset_alerts(dense, DENSE, "7d")
    assert [a["value"] for a in week] == [47.0, 46.0]  # newest first; the 60-day-old one out
    assert week[0]["cleared_at"] is None and week[1]["cleared_at"] is not None
    assert week[0]["rule_text"]["en"] == "Container full"
    engine = get_engine(dense.resolved_database_url)
    with engine.connect() as conn:
        assert len(alerts_between(conn, 1, None, DENSE_NOW)) == 3
        assert alerts_between(conn, 2, None, DENSE_NOW) == []


# ---- layout -----------------------------------------------------------------------------

def test_path_template_hands_over_the_id(in_app: None) -> None:
    from dash._pages import _path_to_page

    from layouts.asset import asset_href

    href = asset_href("urn:ngsi-ld:WasteContainer:santander:0042")
    assert href == "/asset/urn:ngsi-ld:WasteContainer:santander:0042"
    page, variables = _path_to_page(href.strip("/"))
    assert page["module"] == "layouts.asset"
    assert variables == {"asset_id": "urn:ngsi-ld:WasteContainer:santander:0042"}
    assert asset_href("urn:x:a b/c") == "/asset/urn:x:a%20b%2Fc"


def test_layout_renders_header_attributes_map_and_chart(in_app: None) -> None:
    from layouts.asset import layout, pid

    page = layout(asset_id=quote(AIR, safe=""), period="7d", metric="pm10")
    shown = texts(page)
    assert "Estación de calidad del aire Calle Isabel II 54" in shown
    assert "address.streetAddress" in shown and "Calle Isabel II 54" in shown
    assert "OK" in shown and "demo-devices" in shown and "Centro" in shown
    hrefs = {getattr(n, "href", None) for n in walk(page)}
    assert "/district/santander-01" in hrefs
    assert "/domain/environment?district=santander-01" in hrefs
    assert by_id(page, pid("map")) is not None
    figure = by_id(page, pid("graph")).figure
    names = [t["name"] for t in figure["data"]]
    assert "reading" in names and "alert raised" in names
    assert any(s["type"] == "line" and s["y0"] == 50 for s in figure["layout"]["shapes"])
    assert any(s["type"] == "rect" for s in figure["layout"]["shapes"])  # a cleared alert
    assert by_id(page, pid("metric")).value == "pm10"
    assert "Show the numbers as a table" in shown


def test_unknown_id_renders_not_found(in_app: None) -> None:
    from layouts.asset import layout

    page = layout(asset_id="urn:ngsi-ld:Nothing:santander:9999")
    assert "No asset with id “urn:ngsi-ld:Nothing:santander:9999”" in texts(page)
    assert "/" in {getattr(n, "href", None) for n in walk(page)}


def test_no_location_and_table_cap(dense: Settings) -> None:
    from layouts.asset import location_card, series_parts
    from layouts.filters import PageFilters

    lost = asset_detail(dense, NOWHERE)
    assert lost is not None and lost["metrics"] == []
    assert "No location recorded" in texts(location_card(dense, lost))
    detail = asset_detail(dense, DENSE)
    assert detail is not None
    _, note, table = series_parts(dense, detail, "fillingLevel", PageFilters(period="30d"))
    rows = [n for n in walk(table) if type(n).__name__ == "Tr"]
    assert len(rows) == 500 + 1  # header row + the capped rows
    assert "latest 500 of 720 points" in texts(table) and "hour" in "".join(note)


# ---- callbacks --------------------------------------------------------------------------

def test_callbacks_follow_period_metric_and_compare(in_app: None) -> None:
    from callbacks.asset import update_series

    week = update_series("7d", "", "pm10", AIR)
    day = update_series("24h", "", "pm10", AIR)
    other = update_series("7d", "", "no2", AIR)
    compared = update_series("7d", "previous", "pm10", AIR)
    assert len(week[0]["data"][0]["x"]) > len(day[0]["data"][0]["x"])
    assert week[0]["data"][0]["y"] != other[0]["data"][0]["y"]
    assert "previous period" in [t["name"] for t in compared[0]["data"]]
    assert week[3] == "Time series · Last 7 days"
    assert "PM10 above 50" in texts(week[4])


def test_export_csv_rows_equal_the_shown_series(in_app: None) -> None:
    from callbacks.asset import export_series, update_series

    figure = update_series("7d", "", "pm10", AIR)[0]
    shown = next(t for t in figure["data"] if t["name"] == "reading")
    payload = export_series(1, "7d", "", "pm10", AIR)
    rows = list(csv.DictReader(io.StringIO(payload["content"])))
    assert payload["filename"].endswith(".csv") and len(rows) == len(shown["y"])
    assert [float(r["mean"]) for r in rows] == shown["y"]
    assert {r["grain"] for r in rows} == {"raw"} and {r["count"] for r in rows} == {"1"}
    first = datetime.fromisoformat(rows[0]["time"])
    assert first >= period_for("7d", TINY_NOW).start
