"""The open-data API (/api/v1) on a tiny demo city: values, paging, errors, no personal data."""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, insert, select
from typer.testing import CliRunner

from app import create_app
from connectors.demo import generate_demo
from dashboard.api import register_api
from dashboard.api.blueprint import SETTINGS_KEY
from dashboard.cli import app as cli_app
from dashboard.model import Alert, Asset, Citizen, District, Service, ServiceRequest
from dashboard.settings import Settings, get_settings
from dashboard.store import bump_data_version, get_engine
from dashboard.store.observations import ingest_observations
from dashboard.store.version import set_meta

NOW = datetime(2026, 3, 16, 10, 0, tzinfo=timezone.utc)
API = "/api/v1"


@pytest.fixture(scope="module")
def demo_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A tiny demo city (plus one open alert, so the alert endpoints have something)."""
    var_dir: Path = tmp_path_factory.mktemp("api-var")
    settings = Settings(var_dir=var_dir, redis_url=None, now=NOW)
    engine = get_engine(settings.resolved_database_url)
    generate_demo(engine, settings, scale="tiny", seed=7, end=NOW)
    with engine.begin() as conn:
        pk, district = conn.execute(
            select(Asset.pk, Asset.district_id).where(Asset.domain == "environment").limit(1)
        ).one()
        conn.execute(insert(Alert).values(
            asset_pk=pk, metric="AirQualityObserved.no2", rule="test_rule", severity="warning",
            raised_at=NOW - timedelta(hours=2), cleared_at=None, value=250.0,
            district_id=district,
        ))
        bump_data_version(conn)  # cached read models see the new alert
    return settings


def api_server(settings: Settings) -> Flask:
    """A bare Flask server with just the API, as ``create_app`` registers it.

    Requests go here rather than to ``create_app(...).server``: Dash moves the globally
    registered callbacks into the first app that serves a request, which would leave the
    page tests' app (same process) without them.
    """
    server = Flask("citylens-api-test")
    register_api(server, settings)
    return server


@pytest.fixture(scope="module")
def client(demo_settings: Settings) -> FlaskClient:
    return api_server(demo_settings).test_client()


def test_create_app_serves_the_api(demo_settings: Settings) -> None:
    server = create_app(demo_settings).server  # no request: see api_server
    assert "api_v1" in server.blueprints
    assert server.config[SETTINGS_KEY] is demo_settings
    rules = {r.rule for r in server.url_map.iter_rules() if r.endpoint.startswith("api_v1.")}
    assert {"/api/v1/openapi.json", "/api/v1/kpis", "/api/v1/service-requests"} <= rules


def _get(client: FlaskClient, path: str, **params: Any) -> Any:
    response = client.get(API + path, query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response


def _bad(client: FlaskClient, path: str, parameter: str | None, expected: int = 400,
         **params: Any) -> str:
    response = client.get(API + path, query_string=params)
    assert response.status_code == expected, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["parameter"] == parameter
    assert error["message"]
    return error["message"]


def _cli_kpis(settings: Settings, *args: str) -> dict[str, Any]:
    env = {"CITYLENS_VAR_DIR": str(settings.var_dir), "CITYLENS_NOW": NOW.isoformat(),
           "CITYLENS_REDIS_URL": "", "CITYLENS_DATABASE_URL": ""}
    try:
        done = CliRunner().invoke(cli_app, ["kpis", "--json", *args], env=env)
    finally:
        get_settings.cache_clear()
    assert done.exit_code == 0, done.output
    return json.loads(done.stdout)


def test_districts_are_geojson_with_ten_features(client: FlaskClient) -> None:
    response = _get(client, "/districts")
    assert response.mimetype == "application/geo+json"
    body = response.get_json()
    assert body["type"] == "FeatureCollection"
    assert len(body["features"]) == 10
    for feature in body["features"]:
        assert feature["type"] == "Feature"
        assert feature["geometry"]["type"] in {"Polygon", "MultiPolygon"}
        props = feature["properties"]
        assert set(props) == {"id", "name", "population", "area_km2"}
        assert props["population"] > 0 and props["area_km2"] > 0


@pytest.mark.parametrize("window", ["week", "month", "year"])
def test_kpis_equal_the_cli(client: FlaskClient, demo_settings: Settings, window: str) -> None:
    api = _get(client, "/kpis", window=window).get_json()
    assert api == _cli_kpis(demo_settings, "--window", window)
    assert len(api["kpis"]) >= 12 and api["city_score"] is not None


def test_kpis_for_a_district_equal_the_cli(client: FlaskClient, demo_settings: Settings) -> None:
    district = _get(client, "/districts").get_json()["features"][0]["id"]
    api = _get(client, "/kpis", district=district, window="day", lang="es").get_json()
    assert api == _cli_kpis(demo_settings, "--district", district, "--window", "day",
                            "--lang", "es")
    assert api["district"] == district


def test_a_year_of_weeks_of_data_is_partial_with_nothing_to_compare(client: FlaskClient) -> None:
    body = _get(client, "/kpis", window="year").get_json()
    assert body["city_score"] is not None
    assert body["city_score_previous"] is None and body["city_score_change"] is None
    assert body["kpis_partial"] == body["kpis_scored"] > 0
    water = next(k for k in body["kpis"] if k["id"] == "water_per_resident")
    month = next(k for k in _get(client, "/kpis", window="month").get_json()["kpis"]
                 if k["id"] == "water_per_resident")
    assert water["value"] == pytest.approx(month["value"])  # not spread over 365 days
    assert water["coverage"]["partial"] and water["coverage"]["total"] == 365
    rows = list(csv.DictReader(io.StringIO(_get(client, "/kpis", window="year",
                                                format="csv").get_data(as_text=True))))
    row = next(r for r in rows if r["id"] == "water_per_resident")
    assert row["covered_of"] == "365" and row["coverage_unit"] == "day"
    assert row["partial"] == "True"


def test_kpis_take_the_pages_period_words(client: FlaskClient,
                                          demo_settings: Settings) -> None:
    """``period=90d`` (as the pages say it) is the 90-day window; it wins over ``window``."""
    by_period = _get(client, "/kpis", period="90d").get_json()
    assert by_period == _get(client, "/kpis", window="quarter").get_json()
    assert _get(client, "/kpis", period="7d", window="year").get_json()["window"] == "week"
    assert by_period == _cli_kpis(demo_settings, "--period", "90d")
    _bad(client, "/kpis", "period", period="quarter")


def test_kpis_over_a_custom_range(client: FlaskClient, demo_settings: Settings) -> None:
    """``period=START/END``: local dates (both days included) or ISO times; the same range
    as a preset's window gives the preset's numbers; a bad or future range is one line."""
    week = _get(client, "/kpis", window="week").get_json()
    start = datetime.fromisoformat(week["window_start"])
    before = f"{(start - timedelta(days=7)):%Y-%m-%dT%H:%MZ}/{start:%Y-%m-%dT%H:%MZ}"
    earlier = _get(client, "/kpis", period=before).get_json()  # the week before, as a range
    compared = [(k, e) for k, e in zip(week["kpis"], earlier["kpis"], strict=True)
                if k["previous"] is not None]
    assert compared and all(e["value"] == pytest.approx(k["previous"]) for k, e in compared)
    days = _get(client, "/kpis", period="2026-03-01/2026-03-14").get_json()
    assert days["window_start"] == "2026-02-28T23:00:00+00:00"  # local midnight (CET)
    assert days["window_end"] == "2026-03-14T23:00:00+00:00"  # after the last day
    assert any(k["value"] is not None for k in days["kpis"])
    assert {k["coverage"]["unit"] for k in days["kpis"] if k["coverage"]} == {"day"}
    assert days == _cli_kpis(demo_settings, "--period", "2026-03-01/2026-03-14")
    csv_file = _get(client, "/kpis", period="2026-03-01/2026-03-14", format="csv")
    assert "kpis-city-2026-02-28T2300Z-2026-03-14T2300Z.csv" in csv_file.headers[
        "Content-Disposition"]
    for bad in ("2026-03-14/2026-03-01", "2027-01-01/2027-01-31", "2026-13-01/2026-13-02",
                "soon/later"):
        _bad(client, "/kpis", "period", period=bad)


def test_kpis_of_a_department_count_its_own_requests(client: FlaskClient,
                                                    demo_settings: Settings) -> None:
    """``department=``: the KPIs it answers for, its request KPIs over its own requests (as
    the CLI says); an unknown department is a one-line 400."""
    department = "Residuos y Limpieza"
    mine = _get(client, "/kpis", department=department, window="month").get_json()
    every = _get(client, "/kpis", window="month").get_json()
    assert mine["department"] == department and every["department"] is None
    assert mine == _cli_kpis(demo_settings, "--department", department, "--window", "month")
    ids = {k["id"] for k in mine["kpis"]}
    assert "waste_fill" in ids and "water_per_resident" not in ids
    assert "case_median_days" not in ids  # it handles no cases
    digital = next(k for k in mine["kpis"] if k["id"] == "digital_share")
    start, end = (datetime.fromisoformat(mine[k]) for k in ("window_start", "window_end"))
    made = _sql_count(demo_settings, ServiceRequest.department == department,
                      ServiceRequest.requested_at >= start, ServiceRequest.requested_at < end)
    online = _sql_count(demo_settings, ServiceRequest.department == department,
                        ServiceRequest.requested_at >= start, ServiceRequest.requested_at < end,
                        ServiceRequest.channel.in_(["web", "app"]))
    assert made and digital["value"] == pytest.approx(100 * online / made)
    csv_file = _get(client, "/kpis", department=department, window="month", format="csv")
    assert "kpis-city-ResiduosyLimpieza-month.csv" in csv_file.headers["Content-Disposition"]
    _bad(client, "/kpis", "department", department="Nobody")


def test_kpis_as_csv(client: FlaskClient) -> None:
    response = _get(client, "/kpis", format="csv")
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    as_json = _get(client, "/kpis").get_json()["kpis"]
    assert [r["id"] for r in rows] == [k["id"] for k in as_json]
    first = next(k for k in as_json if k["value"] is not None)
    row = next(r for r in rows if r["id"] == first["id"])
    assert float(row["value"]) == pytest.approx(first["value"])


def _sql_count(settings: Settings, *conditions: Any) -> int:
    with get_engine(settings.resolved_database_url).connect() as conn:
        stmt = select(func.count()).select_from(ServiceRequest).where(*conditions)
        return int(conn.execute(stmt).scalar_one())


def test_service_requests_are_paged(client: FlaskClient, demo_settings: Settings) -> None:
    first = _get(client, "/service-requests", page_size=50).get_json()
    assert first["total"] == _sql_count(demo_settings) > 100
    assert first["page"] == 1 and first["page_size"] == 50 and len(first["items"]) == 50
    assert first["next"] and "page=2" in first["next"]
    second = client.get(first["next"]).get_json()
    assert second["page"] == 2
    assert not {i["id"] for i in first["items"]} & {i["id"] for i in second["items"]}
    times = [i["requested_at"] for i in first["items"] + second["items"]]
    assert times == sorted(times, reverse=True)
    last_page = -(-first["total"] // 50)
    last = _get(client, "/service-requests", page_size=50, page=last_page).get_json()
    assert last["next"] is None and 0 < len(last["items"]) <= 50
    beyond = _get(client, "/service-requests", page_size=50, page=last_page + 1).get_json()
    assert beyond["items"] == [] and beyond["next"] is None


def test_service_request_filters_match_sql(client: FlaskClient, demo_settings: Settings) -> None:
    sample = _get(client, "/service-requests", page_size=1).get_json()["items"][0]
    start, end = NOW - timedelta(days=30), NOW - timedelta(days=5)
    query = {"status": "closed", "service": sample["service_code"],
             "district": sample["district_id"], "from": start.isoformat(),
             "to": end.date().isoformat(), "page_size": 1000}
    body = _get(client, "/service-requests", **query).get_json()
    end_day = datetime(end.year, end.month, end.day, tzinfo=timezone.utc)
    expected = _sql_count(
        demo_settings, ServiceRequest.status == "closed",
        ServiceRequest.service_code == sample["service_code"],
        ServiceRequest.district_id == sample["district_id"],
        ServiceRequest.requested_at >= start, ServiceRequest.requested_at <= end_day,
    )
    assert body["total"] == len(body["items"]) == expected
    for item in body["items"]:
        assert item["status"] == "closed" and item["service_code"] == sample["service_code"]
        assert item["district_id"] == sample["district_id"]
        assert start.isoformat() <= item["requested_at"] <= end_day.isoformat()
    open_total = _get(client, "/service-requests", status="open").get_json()["total"]
    assert open_total == _sql_count(demo_settings, ServiceRequest.status == "open")


def test_service_requests_publish_only_public_fields(client: FlaskClient) -> None:
    items = _get(client, "/service-requests", page_size=200).get_json()["items"]
    for item in items:
        assert set(item) == {"id", "service_code", "service_name", "department", "status",
                             "channel", "requested_at", "updated_at", "closed_at",
                             "expected_at", "district_id", "lat", "lon"}
        for key in ("lat", "lon"):
            if item[key] is not None:
                assert round(item[key], 3) == item[key]


def test_service_requests_as_csv(client: FlaskClient) -> None:
    response = _get(client, "/service-requests", page_size=20, format="csv")
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    as_json = _get(client, "/service-requests", page_size=20).get_json()["items"]
    assert [r["id"] for r in rows] == [i["id"] for i in as_json]
    assert "citizen_id" not in rows[0] and "address" not in rows[0]


@pytest.fixture
def formula_client(tmp_path: Path) -> FlaskClient:
    """A store of its own whose source text tries to be spreadsheet formulas, next to
    negative numbers (a longitude, a winter temperature) that must stay numbers."""
    settings = Settings(var_dir=tmp_path / "var", redis_url=None, now=NOW)
    square = {"type": "Polygon", "coordinates": [[[-4, 43], [-3, 43], [-3, 44], [-4, 44],
                                                  [-4, 43]]]}
    when = NOW - timedelta(days=1)
    with get_engine(settings.resolved_database_url).begin() as conn:
        set_meta(conn, "data_version", "5150301")  # the in-process cache is keyed by version
        conn.execute(insert(District), [{"id": "d1", "name": "North", "geometry": square}])
        conn.execute(insert(Service), [{"service_code": "noise",
                                        "service_name": '=HYPERLINK("http://evil","x")',
                                        "department": "@SUM(1+1)"}])
        conn.execute(insert(ServiceRequest), [{
            "id": "+34-1", "service_code": "noise", "service_name": '=HYPERLINK("http://evil","x")',
            "department": "@SUM(1+1)", "status": "open", "channel": "-web",
            "requested_at": when, "lat": 43.46, "lon": -3.81, "district_id": "d1"}])
        pk = conn.execute(insert(Asset).values(
            id="urn:ngsi-ld:WeatherObserved:x:1", type="WeatherObserved", domain="environment",
            name="=cmd|' /C calc'!A0", lat=43.46, lon=-3.81, district_id="d1")
        ).inserted_primary_key[0]
        ingest_observations(conn, pd.DataFrame([{"asset_pk": pk, "metric": "temperature",
                                                 "time": int(when.timestamp()),
                                                 "value": -3.5}]), settings.timezone)
    return api_server(settings).test_client()


def test_csv_cells_never_run_as_spreadsheet_formulas(formula_client: FlaskClient) -> None:
    text = _get(formula_client, "/service-requests", format="csv").get_data(as_text=True)
    row = next(csv.DictReader(io.StringIO(text)))
    assert row["service_name"] == '\'=HYPERLINK("http://evil","x")'
    assert (row["department"], row["id"], row["channel"]) == ("'@SUM(1+1)", "'+34-1", "'-web")
    assert (row["lat"], row["lon"]) == ("43.46", "-3.81")  # numbers stay numbers
    json_item = _get(formula_client, "/service-requests").get_json()["items"][0]
    assert json_item["service_name"].startswith("=")  # JSON is data, not a spreadsheet
    points = _get(formula_client, "/assets/urn:ngsi-ld:WeatherObserved:x:1/observations",
                  metric="temperature", format="csv").get_data(as_text=True)
    assert list(csv.DictReader(io.StringIO(points)))[0]["value"] == "-3.5"


def test_alerts_filter(client: FlaskClient) -> None:
    every = _get(client, "/alerts").get_json()
    assert every["count"] == len(every["items"]) >= 1
    alert = every["items"][0]
    assert alert["domain"] == "environment" and alert["severity"] == "warning"
    same = _get(client, "/alerts", domain="environment", district=alert["district_id"],
                severity="warning").get_json()
    assert alert["id"] in {a["id"] for a in same["items"]}
    assert _get(client, "/alerts", severity="critical").get_json()["items"] == [
        a for a in every["items"] if a["severity"] == "critical"]
    assert _get(client, "/alerts", domain="water").get_json()["items"] == [
        a for a in every["items"] if a["domain"] == "water"]
    rows = list(csv.DictReader(io.StringIO(
        _get(client, "/alerts", format="csv").get_data(as_text=True))))
    assert [int(r["id"]) for r in rows] == [a["id"] for a in every["items"]]


def test_assets_and_observations(client: FlaskClient) -> None:
    layer = _get(client, "/assets", domain="environment").get_json()
    assert layer["features"]
    asset = layer["features"][0]["properties"]["id"]
    assert len(_get(client, "/assets").get_json()["features"]) > len(layer["features"])
    raw = _get(client, f"/assets/{asset}/observations", metric="no2",
               **{"from": "2026-03-15", "to": "2026-03-16"}).get_json()
    assert raw["points"] and not raw["truncated"]
    hourly = _get(client, f"/assets/{asset}/observations", metric="no2", grain="hour",
                  **{"from": "2026-03-15", "to": "2026-03-16"}).get_json()
    assert sum(p["count"] for p in hourly["points"]) == len(raw["points"])
    assert all(p["min"] <= p["mean"] <= p["max"] for p in hourly["points"])
    _bad(client, "/assets/urn:nope/observations", None, expected=404, metric="no2")
    _bad(client, f"/assets/{asset}/observations", "metric")
    _bad(client, f"/assets/{asset}/observations", "metric", metric="no_such_metric")


@pytest.mark.parametrize(("path", "params", "parameter"), [
    ("/kpis", {"window": "decade"}, "window"),
    ("/kpis", {"district": "atlantis"}, "district"),
    ("/kpis", {"format": "xml"}, "format"),
    ("/kpis", {"colour": "red"}, "colour"),
    ("/alerts", {"severity": "panic"}, "severity"),
    ("/alerts", {"domain": "space"}, "domain"),
    ("/alerts", {"limit": "0"}, "limit"),
    ("/service-requests", {"status": "pending"}, "status"),
    ("/service-requests", {"service": "no_such_service"}, "service"),
    ("/service-requests", {"district": "atlantis"}, "district"),
    ("/service-requests", {"from": "2026-03-10", "to": "2026-03-01"}, "from"),
    ("/service-requests", {"from": "yesterday"}, "from"),
    ("/service-requests", {"to": "2026-13-45"}, "to"),
    ("/service-requests", {"page": "0"}, "page"),
    ("/service-requests", {"page": "two"}, "page"),
    ("/service-requests", {"page_size": "1001"}, "page_size"),
    ("/service-requests", {"citizen_id": "x"}, "citizen_id"),
    ("/districts", {"x": "1"}, "x"),
    ("/assets", {"domain": "space"}, "domain"),
])
def test_bad_parameters_are_400_naming_them(
    client: FlaskClient, path: str, params: dict[str, str], parameter: str
) -> None:
    _bad(client, path, parameter, **params)


def test_repeated_parameter_is_400(client: FlaskClient) -> None:
    response = client.get(API + "/kpis?window=day&window=week")
    assert response.status_code == 400
    assert response.get_json()["error"]["parameter"] == "window"


@pytest.fixture(scope="module")
def personal_data(demo_settings: Settings) -> Iterator[list[str]]:
    """Every citizen id, name, email and phone in the store."""
    with get_engine(demo_settings.resolved_database_url).connect() as conn:
        rows = conn.execute(select(Citizen.id, Citizen.name, Citizen.email, Citizen.phone))
        values = [v for row in rows for v in row if v]
    assert len(values) > 100
    yield values


def test_no_personal_data_in_any_response(client: FlaskClient, personal_data: list[str]) -> None:
    bodies = [client.get(API + p).get_data(as_text=True)
              for p in ("/districts", "/kpis", "/kpis?format=csv", "/alerts", "/assets",
                        "/alerts?format=csv")]
    url: str | None = f"{API}/service-requests?page_size=100"
    pages = 0
    while url:
        response = client.get(url)
        assert response.status_code == 200
        bodies.append(response.get_data(as_text=True))
        url = response.get_json()["next"]
        pages += 1
    assert pages >= 2
    bodies.append(_get(client, "/service-requests", page_size=1000, format="csv")
                  .get_data(as_text=True))
    text = "\n".join(bodies)
    # JSON escapes non-ASCII; decode the JSON bodies too so names with accents are found
    decoded = "\n".join(json.dumps(json.loads(b), ensure_ascii=False) for b in bodies
                        if b.lstrip().startswith("{"))
    leaked = [v for v in personal_data if v in text or v in decoded]
    assert not leaked, leaked[:5]


def test_unknown_api_paths_get_a_json_404(client: FlaskClient) -> None:
    response = client.get(API + "/nothing/here")
    assert response.status_code == 404 and response.is_json
    assert "openapi.json" in response.get_json()["error"]["message"]
    assert client.get(API + "/districts").status_code == 200  # real routes still win


def test_the_api_has_a_front_door(client: FlaskClient, demo_settings: Settings) -> None:
    """/api/v1/ lists every documented endpoint with links to the OpenAPI document and a
    reference page rendered from it; any other /api path is a JSON 404 pointing there."""
    from app import create_app
    from dashboard.api.openapi import openapi_document

    index = client.get(API + "/")
    assert index.status_code == 200 and index.is_json
    body = index.get_json()
    assert (body["openapi"], body["reference"]) == (API + "/openapi.json", API + "/docs")
    documented = {(m.upper(), API + p) for p, ops in openapi_document()["paths"].items()
                  for m in ops}
    assert {(e["method"], e["path"]) for e in body["endpoints"]} == documented
    assert all(e["summary"] for e in body["endpoints"])
    page = client.get(API + "/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert all(f"<code>{path}</code>" in html for _, path in documented)
    assert "<script" not in html and "Response format." in html  # a parameter's meaning
    # the whole app, as a browser meets it: no dashboard HTML 404 under /api
    app = create_app(demo_settings).server.test_client()
    for path in ("/api/", "/api/v2/kpis", "/api/v1/nothing"):
        answer = app.get(path)
        assert answer.status_code == 404 and answer.is_json, path
        assert "/api/v1/" in answer.get_json()["error"]["message"]
    assert app.get("/api/v1", follow_redirects=True).is_json
