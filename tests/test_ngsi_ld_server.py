"""CityLens as a read-only NGSI-LD context source (/ngsi-ld/v1), on SQLite and PostgreSQL.

The store is filled through CityLens's own NGSI connector from the Smart Data Models
examples (real ids and attribute names), 80 waste containers and ten days of one station's
NO₂ readings; a resident's service request sits beside them. The answers are checked
against the models' JSON schemas, CityLens's own connector reading them back, shapely,
pandas and the KPI engine, and scanned for anything personal.
"""
from __future__ import annotations

import json
import random
import re
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from pyproj import Geod
from shapely.geometry import Point, Polygon, shape
from sqlalchemy import Engine, insert, select
from werkzeug.serving import make_server

from app import create_app
from connectors.ngsi import NgsiConnector
from connectors.runner import run_source
from dashboard.api.ngsi_ld import register_ngsi_ld
from dashboard.api.ngsi_ld_entities import WITHHELD
from dashboard.api.ngsi_ld_kpis import KPI_TYPE, kpi_id
from dashboard.kpis import compute_kpi_table, load_kpis, window_for
from dashboard.model import (
    Asset,
    Citizen,
    District,
    LatestReading,
    Observation,
    ServiceRequest,
)
from dashboard.settings import Settings
from dashboard.store import init_store, make_engine, unit_of_work
from tests.conftest import pg_store
from tests.sdm_common_schema import format_checker, registry

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "fiware"
needs_fixtures = pytest.mark.skipif(
    not FIXTURES.is_dir(), reason=f"FIWARE fixtures not found at {FIXTURES}")
UTC = timezone.utc
NOW = datetime(2026, 3, 16, 10, 0, tzinfo=UTC)
LD = "/ngsi-ld/v1"
ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
MODELS = {  # type -> its folder in the fixtures
    "WasteContainer": "dataModel.WasteManagement/WasteContainer",
    "ParkingSpot": "dataModel.Parking/ParkingSpot",
    "OffStreetParking": "dataModel.Parking/OffStreetParking",
    "AirQualityObserved": "dataModel.Environment/AirQualityObserved",
    "Streetlight": "dataModel.Streetlighting/Streetlight",
    "TrafficFlowObserved": "dataModel.Transportation/TrafficFlowObserved",
    "Device": "dataModel.Device/Device",
}
SANTANDER = Polygon([(-3.86, 43.42), (-3.74, 43.42), (-3.74, 43.50), (-3.86, 43.50)])
MADRID = Polygon([(-4, 40), (-3, 40), (-3, 41), (-4, 41)])
CENTRE = (-3.81, 43.46)  # lon, lat of the test bins' centre
STATION = "urn:ngsi-ld:AirQualityObserved:test:station"
HISTORY_START = NOW - timedelta(days=10)
PERSONAL = ("Marisol Quintanilla Prueba", "marisol.q@example.org", "+34 600 123 987",
            "La farola de mi portal lleva una semana apagada",
            "Calle Secreta 13, 2ºB")


def _example(kind: str) -> dict[str, Any]:
    found = json.loads((FIXTURES / MODELS[kind] / "example.json").read_text())
    return dict(found[0] if isinstance(found, list) else found)


def urn(entity_id: str, kind: str) -> str:
    """The asset id the connector gives an entity (a URN is kept)."""
    return entity_id if entity_id.lower().startswith("urn:") else f"urn:ngsi-ld:{kind}:{entity_id}"


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def city_entities() -> list[dict[str, Any]]:
    """The examples, a service request, 80 bins around CENTRE and the station's history."""
    rng = random.Random(21)
    found = [_example(kind) for kind in MODELS]
    found.append(json.loads((FIXTURES / "dataModel.IssueTracking/service_requests/"
                             "example.json").read_text()))
    for i in range(80):
        lon, lat = CENTRE[0] + rng.uniform(-0.03, 0.03), CENTRE[1] + rng.uniform(-0.02, 0.02)
        found.append({"id": f"urn:ngsi-ld:WasteContainer:test:{i:03d}", "type": "WasteContainer",
                      "name": f"Bin {i:03d}", "status": rng.choice(["ok", "lidOpen"]),
                      "location": {"type": "Point", "coordinates": [lon, lat]},
                      "fillingLevel": round(rng.random(), 2),
                      "dateObserved": _iso(NOW - timedelta(minutes=i))})
    for k in range(10 * 72):  # every 20 minutes for ten days
        found.append({"id": STATION, "type": "AirQualityObserved", "name": "Test station",
                      "location": {"type": "Point", "coordinates": [-3.80, 43.47]},
                      "no2": float(rng.randint(10, 60)),
                      "dateObserved": _iso(HISTORY_START + timedelta(minutes=20 * k))})
    return found


DISTRICTS = [{"id": "santander", "name": "Santander", "population": 170_000,
              "geometry": SANTANDER.__geo_interface__},
             {"id": "madrid", "name": "Madrid", "population": 3_300_000,
              "geometry": MADRID.__geo_interface__}]


def _json_geometry(value: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(value))  # shapely's tuples as JSON lists


def fill(engine: Engine, settings: Settings, folder: Path) -> None:
    """Districts, everything of ``city_entities`` through the NGSI connector, and a
    resident with a request (personal data that must never be served)."""
    with unit_of_work(engine) as conn:
        conn.execute(insert(District), [{**d, "geometry": _json_geometry(d["geometry"])}
                                        for d in DISTRICTS])
    path = folder / "city.json"
    path.write_text(json.dumps(city_entities()))
    report = run_source(engine, settings, NgsiConnector({"location": str(path)}), "city")
    assert report.status == "ok", report
    with unit_of_work(engine) as conn:
        name, email, phone, description, address = PERSONAL
        conn.execute(insert(Citizen).values(id="cit-1", name=name, email=email, phone=phone,
                                            district_id="santander"))
        conn.execute(insert(ServiceRequest).values(
            id="SR-1", service_code="streetlight", department="Alumbrado",
            description=description, address=address, status="open",
            requested_at=NOW - timedelta(days=2), lat=43.461, lon=-3.812,
            district_id="santander", citizen_id="cit-1"))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def city(request: pytest.FixtureRequest,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A filled store on SQLite or PostgreSQL, as Settings (its clock at NOW)."""
    if not FIXTURES.is_dir():
        pytest.skip(f"FIWARE fixtures not found at {FIXTURES}")
    folder = tmp_path_factory.mktemp("ngsi-ld")
    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'city.db'}"
        engine = make_engine(url)
        init_store(engine)
        settings = Settings(var_dir=folder, database_url=url, redis_url=None, now=NOW)
        fill(engine, settings, folder)
        yield settings
        engine.dispose()
        return
    with pg_store("citylens_ngsild") as (url, engine):
        settings = Settings(var_dir=folder, database_url=url, redis_url=None, now=NOW)
        fill(engine, settings, folder)
        yield settings


def server_of(settings: Settings) -> Flask:
    """A bare Flask server with just the NGSI-LD endpoints (see tests/test_api.py)."""
    server = Flask("citylens-ngsi-ld-test")
    register_ngsi_ld(server, settings)
    return server


@pytest.fixture(scope="module")
def client(city: Settings) -> FlaskClient:
    return server_of(city).test_client()


def get(client: FlaskClient, path: str, status: int = 200, **params: Any) -> Any:
    response = client.get(LD + path, query_string=params)
    assert response.status_code == status, response.get_data(as_text=True)[:400]
    return response


def bad(client: FlaskClient, path: str, status: int = 400, kind: str = "BadRequestData",
        **params: Any) -> str:
    response = get(client, path, status, **params)
    assert response.mimetype == "application/json"
    problem = response.get_json()
    assert problem["type"] == ERRORS + kind and problem["title"], problem
    return str(problem["detail"])


def ids(response: Any) -> list[str]:
    return [e["id"] for e in response.get_json()]


def stored_assets(settings: Settings) -> dict[str, dict[str, Any]]:
    """Every asset as plain values (type, name, place, status, attributes and the latest
    readings), read straight from the store."""
    engine = make_engine(settings.resolved_database_url)
    with engine.connect() as conn:
        assets = {row.id: {"pk": row.pk, "type": row.type, "name": row.name, "lat": row.lat,
                           "lon": row.lon, "district": row.district_id, "status": row.status,
                           "attributes": row.attributes or {}, "readings": {}}
                  for row in conn.execute(select(Asset))}
        by_pk = {a["pk"]: a for a in assets.values()}
        for pk, metric, when, value, unit in conn.execute(select(
                LatestReading.asset_pk, LatestReading.metric, LatestReading.time,
                LatestReading.value, LatestReading.unit)):
            by_pk[pk]["readings"][metric] = (int(when), value, unit)
    engine.dispose()
    return assets


# --- (a) key-values answers are Smart Data Models entities -------------------------------

@needs_fixtures
@pytest.mark.parametrize("kind", sorted(MODELS))
def test_key_values_validate_against_the_smart_data_model(client: FlaskClient,
                                                          kind: str) -> None:
    example = _example(kind)
    entity_id = urn(example["id"], kind)
    served = get(client, "/entities", id=entity_id, options="keyValues").get_json()
    assert len(served) == 1 and served[0]["id"] == entity_id and served[0]["type"] == kind
    schema = json.loads((FIXTURES / MODELS[kind] / "schema.json").read_text())
    validator = Draft202012Validator(schema, registry=registry(FIXTURES),
                                     format_checker=format_checker())
    # no error the model's own example does not have (AirQualityObserved's example gives
    # tsp 73.3 where its schema says integer)
    own = {(tuple(e.absolute_path), e.message) for e in validator.iter_errors(example)}
    errors = {(tuple(e.absolute_path), e.message) for e in validator.iter_errors(served[0])}
    assert errors <= own, errors - own
    # the attribute names CityLens ingested, served back (entity times become observedAt
    # and dateObserved; status is CityLens's own)
    times = {"dateObserved", "observationDateTime", "dateModified", "TimeInstant"}
    names = set(served[0]) - {"id", "type", "status", "dateObserved"}
    if example.get("location", {}).get("type") not in (None, "Point"):
        assert served[0]["geometry"] == example["location"]  # the line or area, kept whole
        names.remove("geometry")
    expected = set(example) - WITHHELD  # an owner, a plate, an IP address: never served
    assert names == expected - {"id", "type", "status", "deviceState"} - times or (
        kind == "Device" and names == expected - {"id", "type"} - times)
    assert not set(served[0]) & WITHHELD
    if "location" in example and example["location"]["type"] == "Point":
        assert served[0]["location"] == {"type": "Point",
                                         "coordinates": example["location"]["coordinates"]}


@needs_fixtures
def test_the_schemas_catch_a_wrong_location_or_id(client: FlaskClient) -> None:
    """The stand-in for common-schema.json is strict enough to matter."""
    example = _example("ParkingSpot")
    served = get(client, "/entities", id=urn(example["id"], "ParkingSpot"),
                 options="keyValues").get_json()[0]
    schema = json.loads((FIXTURES / MODELS["ParkingSpot"] / "schema.json").read_text())
    validator = Draft202012Validator(schema, registry=registry(FIXTURES),
                                     format_checker=format_checker())
    assert validator.is_valid(served)
    for wrong in ({"location": {"type": "Point", "coordinates": [43.46, 95.0]}},
                  {"location": {"type": "Point", "coordinates": "-3.8,43.4"}},
                  {"location": {"type": "Point", "coordinates": [-3.8, 43.4], "x": 1}},
                  {"location": [-3.8, 43.4]}, {"id": "not an id"}, {"id": ""}):
        assert not validator.is_valid({**served, **wrong}), wrong


# --- (b) CityLens's own NGSI-LD connector reads back the same city -------------------------

@pytest.fixture
def served(city: Settings) -> Iterator[str]:
    """The NGSI-LD endpoints served on a side port; their base URL."""
    http = make_server("127.0.0.1", 0, server_of(city), threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_port}{LD}"
    http.shutdown()
    thread.join()


def test_citylens_reads_itself_back(city: Settings, served: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'copy.db'}"
    engine = make_engine(url)
    init_store(engine)
    with unit_of_work(engine) as conn:
        conn.execute(insert(District), [{**d, "geometry": _json_geometry(d["geometry"])}
                                        for d in DISTRICTS])
    original = stored_assets(city)
    types = ",".join(sorted({a["type"] for a in original.values()}))
    connector = NgsiConnector({"location": served, "api": "ld", "type": types,
                               "page_size": 37})
    report = run_source(engine, Settings(var_dir=tmp_path, database_url=url,
                                         redis_url=None, now=NOW), connector, "citylens")
    assert (report.status, report.quarantined) == ("ok", 0), report
    engine.dispose()
    copy = stored_assets(Settings(var_dir=tmp_path, database_url=url, redis_url=None))
    assert set(copy) == set(original) and len(copy) == 80 + len(MODELS) + 1
    for asset_id, mine in original.items():
        theirs = copy[asset_id]
        for key in ("type", "name", "lat", "lon", "district", "status", "readings"):
            assert theirs[key] == mine[key], (asset_id, key)
        # every attribute comes back but those withheld (an owner, a plate, an address on
        # the network), which never leave
        assert theirs["attributes"] == {k: v for k, v in mine["attributes"].items()
                                        if k not in WITHHELD}, asset_id


# --- (c) filters ------------------------------------------------------------------------------

def _bins(city: Settings) -> dict[str, dict[str, Any]]:
    return {i: a for i, a in stored_assets(city).items() if a["type"] == "WasteContainer"}


def test_type_id_and_id_pattern(client: FlaskClient, city: Settings) -> None:
    assets = stored_assets(city)
    both = get(client, "/entities", type="ParkingSpot,Streetlight", count="true")
    assert {e["type"] for e in both.get_json()} == {"ParkingSpot", "Streetlight"}
    assert both.headers["NGSILD-Results-Count"] == "2"
    chosen = sorted(assets)[3:6]
    assert sorted(ids(get(client, "/entities", id=",".join(chosen)))) == chosen
    pattern = r"^urn:ngsi-ld:WasteContainer:test:0[0-2]\d$"
    found = ids(get(client, "/entities", idPattern=pattern, limit=1000))
    assert found == sorted(i for i in assets if re.search(pattern, i)) and len(found) == 30
    assert get(client, "/entities", type="Nothing").get_json() == []
    bad(client, "/entities", idPattern="(a+)+$")
    bad(client, "/entities", idPattern="[unclosed")


def _kv(client: FlaskClient, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = get(client, "/entities", options="keyValues", limit=1000,
                                      **params).get_json()
    return found


@pytest.mark.parametrize("q, expected", [
    ('fillingLevel>0.5;status=="lidOpen"',
     lambda a: a["readings"]["fillingLevel"][1] > 0.5 and a["status"] == "lidOpen"),
    ('status=="lidOpen"|fillingLevel<0.2',
     lambda a: a["status"] == "lidOpen" or a["readings"]["fillingLevel"][1] < 0.2),
    ("fillingLevel==0.2..0.4", lambda a: 0.2 <= a["readings"]["fillingLevel"][1] <= 0.4),
    ("fillingLevel!=0.2..0.4", lambda a: not 0.2 <= a["readings"]["fillingLevel"][1] <= 0.4),
    ('name=="Bin 001","Bin 007",Bin 042', lambda a: a["name"] in ("Bin 001", "Bin 007", "Bin 042")),
    ("name~=Bin 0[1-3]5", lambda a: re.search("Bin 0[1-3]5", a["name"]) is not None),
    ('name!~="^Bin 0[0-4]"', lambda a: re.match("Bin 0[0-4]", a["name"]) is None),
    ('(status=="ok"|status=="lidOpen");fillingLevel>=0.9',
     lambda a: a["readings"]["fillingLevel"][1] >= 0.9),
    ('status=="ok";(fillingLevel<0.1|fillingLevel>0.95)',
     lambda a: a["status"] == "ok" and not 0.1 <= a["readings"]["fillingLevel"][1] <= 0.95),
    ("fillingLevel.observedAt>=2026-03-16T09:30:00Z",
     lambda a: a["readings"]["fillingLevel"][0] >= NOW.timestamp() - 1800),
    ("fillingLevel", lambda a: True),
])
def test_q_selects_what_python_selects(client: FlaskClient, city: Settings, q: str,
                                       expected: Any) -> None:
    bins = {i: a for i, a in _bins(city).items() if "fillingLevel" in a["readings"]}
    want = sorted(i for i, a in bins.items() if expected(a))
    got = sorted(e["id"] for e in _kv(client, type="WasteContainer", q=q))
    assert got == want and 0 < len(want)


def test_q_reads_into_values(client: FlaskClient) -> None:
    madrid = _kv(client, q='address.addressLocality=="Madrid"')
    assert [e["type"] for e in madrid] == ["AirQualityObserved"]
    assert _kv(client, q='address[addressLocality]=="Madrid"') == madrid
    assert [e["type"] for e in _kv(client, q='category=="onStreet"')] == ["ParkingSpot"]
    assert _kv(client, q="co>=500;co<=500")[0]["co"] == 500


@pytest.mark.parametrize("q", ["fillingLevel>", "(status==1", "status==1)", "status=1",
                               "location==1", "name~=(a+)+", "name~=[x", ";status==1",
                               'name=="open', "fillingLevel==1..", "a b==1", ""])
def test_bad_q_is_a_400(client: FlaskClient, q: str) -> None:
    if q == "":
        bad(client, "/entities", q=q)  # an empty q is no filter at all
        return
    assert "q" in bad(client, "/entities", type="WasteContainer", q=q)


def _points(city: Settings) -> dict[str, Point]:
    return {i: Point(a["lon"], a["lat"]) for i, a in stored_assets(city).items()
            if a["lat"] is not None}


GEOD = Geod(ellps="WGS84")


def test_near_is_the_geodesic_answer(client: FlaskClient, city: Settings) -> None:
    points = _points(city)
    metres = {i: GEOD.inv(CENTRE[0], CENTRE[1], p.x, p.y)[2] for i, p in points.items()}
    centre = json.dumps(list(CENTRE))
    near = set(ids(get(client, "/entities", georel="near;maxDistance==1500",
                       geometry="Point", coordinates=centre, limit=1000)))
    assert {i for i, m in metres.items() if m < 1500 * 0.995} <= near
    assert not {i for i, m in metres.items() if m > 1500 * 1.005} & near
    assert 5 < len(near) < 80
    far = set(ids(get(client, "/entities", georel="near;minDistance==1500",
                      geometry="Point", coordinates=centre, limit=1000)))
    assert not near & far and len(near) + len(far) == len(points)


def test_within_intersects_disjoint_are_shapely_answers(client: FlaskClient,
                                                         city: Settings) -> None:
    points = _points(city)
    triangle = Polygon([(-3.84, 43.44), (-3.78, 43.445), (-3.80, 43.49)])
    coordinates = json.dumps(_json_geometry(triangle.__geo_interface__)["coordinates"])
    for relation, test in (("within", lambda p: p.within(triangle)),
                           ("intersects", lambda p: p.intersects(triangle)),
                           ("disjoint", lambda p: p.disjoint(triangle))):
        found = ids(get(client, "/entities", georel=relation, geometry="Polygon",
                        coordinates=coordinates, limit=1000))
        assert found == sorted(i for i, p in points.items() if test(p)), relation
        assert found
    line = json.dumps([[-3.9, 43.0], [-3.0, 41.0]])
    assert get(client, "/entities", georel="intersects", geometry="LineString",
               coordinates=line).get_json() == []
    both = _json_geometry({"type": "MultiPolygon", "coordinates": [
        [list(MADRID.exterior.coords)], [list(triangle.exterior.coords)]]})
    found = set(ids(get(client, "/entities", georel="within", geometry="MultiPolygon",
                        coordinates=json.dumps(both["coordinates"]), limit=1000)))
    assert found == {i for i, p in points.items() if p.within(shape(both))}


@pytest.mark.parametrize("params", [
    {"georel": "near", "geometry": "Point", "coordinates": "[-3.8,43.4]"},
    {"georel": "near;maxDistance==x", "geometry": "Point", "coordinates": "[-3.8,43.4]"},
    {"georel": "within", "geometry": "Point"},
    {"georel": "around", "geometry": "Point", "coordinates": "[-3.8,43.4]"},
    {"georel": "within", "geometry": "Circle", "coordinates": "[-3.8,43.4]"},
    {"georel": "within", "geometry": "Polygon", "coordinates": "[[-3.8,43.4]]"},
    {"georel": "within", "geometry": "Point", "coordinates": "[200,43.4]"},
    {"georel": "within", "geometry": "Point", "coordinates": "not json"},
    {"geometry": "Point", "coordinates": "[-3.8,43.4]"},
])
def test_bad_geo_queries_are_400(client: FlaskClient, params: dict[str, str]) -> None:
    bad(client, "/entities", type="WasteContainer", **params)


def test_attrs_and_paging(client: FlaskClient, city: Settings) -> None:
    only = _kv(client, type="WasteContainer", attrs="fillingLevel,name")
    assert only and all(set(e) == {"id", "type", "fillingLevel", "name"} for e in only)
    assert [e["id"] for e in _kv(client, attrs="binColor")] == [
        urn(_example("WasteContainer")["id"], "WasteContainer")]
    everything = sorted(_bins(city))
    pages, offset = [], 0
    while True:
        page = get(client, "/entities", type="WasteContainer", limit=7, offset=offset,
                   count="true")
        assert page.headers["NGSILD-Results-Count"] == str(len(everything))
        if not page.get_json():
            break
        pages += ids(page)
        offset += 7
    assert pages == everything
    assert len(ids(get(client, "/entities", type="WasteContainer"))) == 20  # the default
    only_count = get(client, "/entities", type="WasteContainer", limit=0, count="true")
    assert only_count.get_json() == [] and only_count.headers["NGSILD-Results-Count"] == "81"
    q_count = get(client, "/entities", type="WasteContainer", q='status=="ok"', limit=2,
                  count="true")
    expected = sum(1 for a in _bins(city).values() if a["status"] == "ok")
    assert q_count.headers["NGSILD-Results-Count"] == str(expected) and len(ids(q_count)) == 2
    bad(client, "/entities", type="WasteContainer", limit=1001)
    bad(client, "/entities", type="WasteContainer", limit=0)
    bad(client, "/entities", type="WasteContainer", offset=-1)
    bad(client, "/entities", type="WasteContainer", count="maybe")
    twice = client.get(f"{LD}/entities?type=A&type=B")
    assert twice.status_code == 400 and "more than once" in twice.get_json()["detail"]
    assert "unknown parameter" in bad(client, "/entities", type="A", pick="name")


def test_representations(client: FlaskClient) -> None:
    station = {"id": STATION}
    plain = get(client, "/entities", **station)
    assert plain.mimetype == "application/json" and "@context" not in plain.get_json()[0]
    assert plain.headers["Link"] == (
        '<https://smart-data-models.github.io/data-models/context.jsonld>; '
        'rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"')
    entity = plain.get_json()[0]
    assert entity["no2"]["type"] == "Property" and entity["no2"]["observedAt"].endswith("Z")
    assert entity["location"]["type"] == "GeoProperty" and "modifiedAt" not in entity
    ld = client.get(f"{LD}/entities", query_string=station,
                    headers={"Accept": "application/ld+json"})
    assert ld.mimetype == "application/ld+json" and "Link" not in ld.headers
    assert ld.get_json()[0]["@context"] == [
        "https://smart-data-models.github.io/data-models/context.jsonld",
        "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"]
    geo = client.get(f"{LD}/entities", query_string={"type": "WasteContainer",
                                                     "options": "keyValues"},
                     headers={"Accept": "application/geo+json"})
    assert geo.mimetype == "application/geo+json" and "Link" in geo.headers
    collection = geo.get_json()
    assert collection["type"] == "FeatureCollection" and len(collection["features"]) == 20
    first = collection["features"][0]
    assert first["type"] == "Feature" and first["geometry"]["type"] == "Point"
    assert first["properties"]["type"] == "WasteContainer"
    assert first["properties"]["location"] == first["geometry"]
    for accept in ("*/*", "application/*", "text/html, application/json;q=0.1"):
        answer = client.get(f"{LD}/entities", query_string=station, headers={"Accept": accept})
        assert answer.mimetype == "application/json", accept
    refused = client.get(f"{LD}/entities", query_string=station,
                         headers={"Accept": "text/html"})
    assert refused.status_code == 406 and refused.mimetype == "application/json"
    assert refused.get_json()["type"].startswith(ERRORS)
    system = get(client, "/entities", options="sysAttrs", **station).get_json()[0]
    assert system["modifiedAt"] == system["no2"]["modifiedAt"] == system["no2"]["observedAt"]


def test_one_entity_and_errors(client: FlaskClient) -> None:
    one = get(client, f"/entities/{STATION}", options="keyValues").get_json()
    assert one["id"] == STATION and one["name"] == "Test station"
    assert isinstance(one["no2"], float) and one["location"]["type"] == "Point"
    assert set(get(client, f"/entities/{STATION}", attrs="no2").get_json()) == {
        "id", "type", "no2"}
    feature = client.get(f"{LD}/entities/{STATION}",
                         headers={"Accept": "application/geo+json"}).get_json()
    assert feature["type"] == "Feature" and feature["id"] == STATION
    bad(client, "/entities/urn:ngsi-ld:Nothing:1", 404, "ResourceNotFound")
    bad(client, "/entities/urn:ngsi-ld:Nothing:%00", 404, "ResourceNotFound")
    bad(client, "/temporal/entities/urn:ngsi-ld:Nothing:%00", 404, "ResourceNotFound")
    bad(client, "/entities", id="urn:x\x00")
    bad(client, "/entities", 400)  # no filter at all
    bad(client, "/nothing", 404, "ResourceNotFound")
    refused = client.post(f"{LD}/entities", json={"id": "x", "type": "T"})
    assert refused.status_code == 405
    assert refused.get_json()["type"] == ERRORS + "OperationNotSupported"


# --- (d) temporal -----------------------------------------------------------------------------

def _history(city: Settings) -> pd.Series:
    engine = make_engine(city.resolved_database_url)
    with engine.connect() as conn:
        pk = conn.execute(select(Asset.pk).where(Asset.id == STATION)).scalar_one()
        rows = conn.execute(select(Observation.time, Observation.value).where(
            Observation.asset_pk == pk, Observation.metric == "no2")).all()
    engine.dispose()
    times = pd.to_datetime([t for t, _ in rows], unit="s", utc=True)
    return pd.Series([v for _, v in rows], index=times).sort_index()


@pytest.mark.parametrize("period, rule, start, end", [
    ("PT1H", "1h", NOW - timedelta(days=3), NOW - timedelta(days=1)),
    ("P1D", "24h", HISTORY_START, NOW),
    ("P1D", "24h", datetime(2026, 3, 7, tzinfo=UTC), datetime(2026, 3, 16, tzinfo=UTC)),
    ("PT6H", "6h", NOW - timedelta(days=4), NOW),
])
def test_aggregates_equal_a_pandas_resample(client: FlaskClient, city: Settings, period: str,
                                            rule: str, start: datetime, end: datetime) -> None:
    methods = "totalCount,distinctCount,sum,sumsq,min,max,avg"
    body = get(client, f"/temporal/entities/{STATION}", timerel="between",
               timeAt=_iso(start), endTimeAt=_iso(end), aggrMethods=methods,
               aggrPeriodDuration=period, options="aggregatedValues").get_json()
    series = _history(city)
    series = series[(series.index >= start) & (series.index < end)]
    grouped = series.resample(rule, origin=pd.Timestamp(start))
    expected = pd.DataFrame({
        "totalCount": grouped.count(), "distinctCount": grouped.nunique(),
        "sum": grouped.sum(), "sumsq": grouped.apply(lambda s: float((s * s).sum())),
        "min": grouped.min(), "max": grouped.max(), "avg": grouped.mean()})
    expected = expected[expected["totalCount"] > 0]
    no2 = body["no2"]
    assert no2["type"] == "Property" and len(expected) > 5
    for method in methods.split(","):
        got = no2[method]
        assert [b[1] for b in got] == [_iso(t.to_pydatetime()) for t in expected.index]
        assert [b[0] for b in got] == pytest.approx(list(expected[method]), rel=1e-9)
    step = pd.Timedelta(rule)
    assert all(b[2] == _iso(min(t + step, pd.Timestamp(end)).to_pydatetime())
               for b, t in zip(no2["avg"], expected.index, strict=True))


def test_instances_last_n_and_values(client: FlaskClient, city: Settings) -> None:
    series = _history(city)
    last = get(client, f"/temporal/entities/{STATION}", lastN=5).get_json()["no2"]
    assert [i["value"] for i in last] == list(series.iloc[-5:])
    assert [i["observedAt"] for i in last] == [_iso(t.to_pydatetime()) for t in series.index[-5:]]
    after = NOW - timedelta(hours=5)
    values = get(client, f"/temporal/entities/{STATION}", timerel="after",
                 timeAt=_iso(after), options="temporalValues").get_json()["no2"]
    kept = series[series.index >= after]
    assert values == {"type": "Property",
                      "values": [[v, _iso(t.to_pydatetime())] for t, v in kept.items()]}
    before = get(client, f"/temporal/entities/{STATION}", timerel="before",
                 timeAt=_iso(HISTORY_START + timedelta(hours=1))).get_json()["no2"]
    assert len(before) == 3
    cut = get(client, f"/temporal/entities/{STATION}")
    assert len(cut.get_json()["no2"]) == 720 and "NGSILD-Warning" not in cut.headers
    listed = get(client, "/temporal/entities", type="AirQualityObserved", attrs="no2",
                 lastN=2, count="true")
    assert listed.headers["NGSILD-Results-Count"] == "1"  # only the station measures no2
    assert [e["id"] for e in listed.get_json()] == [STATION]
    assert [i["value"] for i in listed.get_json()[0]["no2"]] == list(series.iloc[-2:])


@pytest.mark.parametrize("params", [
    {"timerel": "between", "timeAt": "2026-03-01T00:00:00Z", "endTimeAt": "2026-03-16T00:00:00Z",
     "aggrMethods": "avg", "aggrPeriodDuration": "PT1M"},  # 21,600 periods
    {"aggrMethods": "sum", "aggrPeriodDuration": "PT5M"},  # the whole history: 2,880
    {"timerel": "between", "timeAt": "2026-03-01T00:00:00Z"},
    {"timerel": "during", "timeAt": "2026-03-01T00:00:00Z"},
    {"timerel": "after"},
    {"timerel": "after", "timeAt": "yesterday"},
    {"aggrMethods": "median"},
    {"aggrMethods": "avg", "aggrPeriodDuration": "P1M"},
    {"aggrPeriodDuration": "PT1H"},
    {"options": "aggregatedValues"},
    {"lastN": "0"},
    {"lastN": "5", "aggrMethods": "avg"},
])
def test_bad_temporal_queries_are_400(client: FlaskClient, params: dict[str, str]) -> None:
    bad(client, f"/temporal/entities/{STATION}", **params)


def test_temporal_not_found_and_media(client: FlaskClient) -> None:
    bad(client, "/temporal/entities/urn:ngsi-ld:Nothing:1", 404, "ResourceNotFound")
    bad(client, f"/temporal/entities/{kpi_id('air_no2', None)}", 404, "ResourceNotFound")
    bad(client, "/temporal/entities", timerel="after", timeAt="2026-03-01T00:00:00Z")
    ld = client.get(f"{LD}/temporal/entities/{STATION}", query_string={"lastN": 1},
                    headers={"Accept": "application/ld+json"})
    assert ld.status_code == 200 and "@context" in ld.get_json()
    geo = client.get(f"{LD}/temporal/entities/{STATION}",
                     headers={"Accept": "application/geo+json"})
    assert geo.status_code == 406


# --- (e) KPIs -----------------------------------------------------------------------------

def test_kpi_entities_carry_the_engines_values(client: FlaskClient, city: Settings) -> None:
    kpis = load_kpis(city.kpis_file)
    engine = make_engine(city.resolved_database_url)
    with engine.connect() as conn:
        table = compute_kpi_table(conn, kpis, window_for("week", NOW, city.timezone), NOW)
    engine.dispose()
    served = {e["id"]: e for e in get(client, "/entities", type=KPI_TYPE, limit=1000,
                                      count="true").get_json()}
    expected = {kpi_id(v.id, place): v for place, values in table.places.items()
                for v in values}
    assert set(served) == set(expected)
    assert len(served) == len(kpis) * (len(DISTRICTS) + 1)
    valued = 0
    for entity_id, value in expected.items():
        entity = served[entity_id]
        assert entity["type"] == KPI_TYPE and entity["name"]["value"] == value.name["en"]
        assert entity["calculationFrequency"]["value"] == "weekly"
        if value.value is None:
            assert "kpiValue" not in entity
        else:
            assert entity["kpiValue"]["value"] == pytest.approx(value.value)
            valued += 1
    assert valued >= 3  # the air and waste KPIs of the city and Santander at least
    air = served[kpi_id("air_no2", "santander")]
    assert air["area"]["value"] == "Santander"
    one = get(client, f"/entities/{kpi_id('air_no2', None)}", options="keyValues").get_json()
    assert one["kpiValue"] == pytest.approx(table.places[None][0].value)
    assert one["calculationPeriod"] == {"from": "2026-03-09", "to": "2026-03-16"}


# --- (f) nothing personal ---------------------------------------------------------------------

def test_no_answer_holds_personal_data(client: FlaskClient) -> None:
    request_text = json.loads((FIXTURES / "dataModel.IssueTracking/service_requests/"
                               "example.json").read_text())
    secrets = [*PERSONAL, "cit-1", "SR-1", request_text["description"],
               request_text["address_string"], request_text["status_notes"]]
    answers = []
    for path, params in (
        ("/entities", {"idPattern": ".*", "limit": 1000}),
        ("/entities", {"idPattern": ".*", "limit": 1000, "options": "keyValues,sysAttrs"}),
        ("/entities", {"type": "service_requests,ServiceRequest,Citizen,Case,Participation"}),
        ("/entities", {"q": 'description~=.', "limit": 1000}),
        ("/entities", {"georel": "near;maxDistance==2000", "geometry": "Point",
                       "coordinates": "[-3.812,43.461]", "limit": 1000}),
        ("/temporal/entities", {"idPattern": ".*", "lastN": 3, "limit": 100}),
    ):
        for accept in ("application/json", "application/ld+json", "application/geo+json"):
            response = client.get(LD + path, query_string=params, headers={"Accept": accept})
            if response.status_code in (200, 404, 406):
                answers.append(response.get_data(as_text=True))
    for path in ("SR-1", "cit-1", "urn:ngsi-ld:ServiceRequest:638344", "service-request:638344"):
        bad(client, f"/entities/{path}", 404, "ResourceNotFound")  # the answer names only the id
    text = "\n".join(json.dumps(json.loads(a), ensure_ascii=False) for a in answers)
    assert len(text) > 50_000
    assert not [s for s in secrets if s in text]
    assert "service_requests" not in text


def test_the_app_serves_it_to_everyone(city: Settings) -> None:
    server = create_app(city).server  # no request: see tests/test_api.py's api_server
    rules = {r.rule for r in server.url_map.iter_rules() if r.endpoint.startswith("ngsi_ld.")}
    assert {f"{LD}/entities", f"{LD}/entities/<path:entity_id>", f"{LD}/temporal/entities",
            f"{LD}/temporal/entities/<path:entity_id>"} <= rules
