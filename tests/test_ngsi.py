"""The FIWARE NGSI v2 / NGSI-LD connector: Smart Data Models examples in every form, a
local broker with paging, notifications, the store end to end, malformed input."""
from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, insert, select

from connectors.base import Mapped, SourceFormatError
from connectors.ngsi import EntitiesStream, NgsiConfig, NgsiConnector, api_of, entities_url
from connectors.ngsi_parse import map_entity, parse_document, parse_notification
from connectors.registry import get_connector
from connectors.runner import run_source
from dashboard.model import (
    Asset,
    District,
    FeedRun,
    Observation,
    Rollup,
    Service,
    ServiceRequest,
)
from dashboard.settings import Settings
from dashboard.store import unit_of_work
from tests.conftest import set_retry_policy

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "fiware"
needs_fixtures = pytest.mark.skipif(
    not FIXTURES.is_dir(), reason=f"FIWARE fixtures not found at {FIXTURES}"
)
UTC = timezone.utc
AQ = "dataModel.Environment/AirQualityObserved"
AQ_URN = "urn:ngsi-ld:AirQualityObserved:Madrid-AmbientObserved-28079004-2016-03-15T11:00:00"

# Every example fixture: (assets, observations, service requests, services), counted by
# hand from the payloads. Numbers become observations when they have a time; booleans,
# identifiers (laneId) and ratings (lanternHeight, powerRating) never do.
EXPECTED: dict[str, tuple[int, int, int, int]] = {
    "dataModel.Device/Device/example.json": (1, 0, 0, 0),  # no time: numbers are attributes
    "dataModel.Device/Device/example.jsonld": (1, 0, 0, 0),
    "dataModel.Device/Device/example-normalized.json": (1, 0, 0, 0),
    "dataModel.Device/Device/example-normalized.jsonld": (1, 0, 0, 0),
    "dataModel.Device/DeviceMeasurement/example.json": (1, 1, 0, 0),  # numValue -> humidity
    "dataModel.Device/DeviceMeasurement/example.jsonld": (1, 1, 0, 0),
    "dataModel.Device/DeviceMeasurement/example-normalized.json": (1, 1, 0, 0),
    "dataModel.Device/DeviceMeasurement/example-normalized.jsonld": (1, 1, 0, 0),
    f"{AQ}/example.json": (1, 17, 0, 0),  # every number, precipitation 0 included
    f"{AQ}/example.jsonld": (1, 12, 0, 0),
    f"{AQ}/example-normalized.json": (1, 16, 0, 0),  # precipitation is a Boolean here
    f"{AQ}/example-normalized.jsonld": (1, 17, 0, 0),
    f"{AQ}/example-geojsonfeature.json": (1, 12, 0, 0),
    "dataModel.IssueTracking/service_requests/example.json": (0, 0, 1, 0),
    "dataModel.IssueTracking/service_requests/example.jsonld": (0, 0, 1, 0),
    "dataModel.IssueTracking/service_requests/example-normalized.json": (0, 0, 1, 0),
    "dataModel.IssueTracking/service_requests/example-normalized.jsonld": (0, 0, 1, 0),
    "dataModel.IssueTracking/services/example.json": (0, 0, 0, 1),
    "dataModel.IssueTracking/services/example.jsonld": (0, 0, 0, 1),
    "dataModel.IssueTracking/services/example-normalized.json": (0, 0, 0, 1),
    "dataModel.IssueTracking/services/example-normalized.jsonld": (0, 0, 0, 1),
    "dataModel.Parking/OffStreetParking/example.json": (1, 7, 0, 0),
    "dataModel.Parking/OffStreetParking/example.jsonld": (1, 7, 0, 0),
    "dataModel.Parking/OffStreetParking/example-normalized.json": (1, 6, 0, 0),
    "dataModel.Parking/OffStreetParking/example-normalized.jsonld": (1, 6, 0, 0),
    "dataModel.Parking/OffStreetParking/example-geojsonfeature.json": (1, 6, 0, 0),
    "dataModel.Parking/ParkingSpot/example.json": (1, 0, 0, 0),
    "dataModel.Parking/ParkingSpot/example.jsonld": (1, 0, 0, 0),
    "dataModel.Parking/ParkingSpot/example-normalized.json": (1, 0, 0, 0),
    "dataModel.Parking/ParkingSpot/example-normalized.jsonld": (1, 0, 0, 0),
    "dataModel.Parking/ParkingSpot/example-geojsonfeature.json": (1, 0, 0, 0),
    "dataModel.Streetlighting/Streetlight/example.json": (1, 6, 0, 0),
    "dataModel.Streetlighting/Streetlight/example.jsonld": (1, 6, 0, 0),
    "dataModel.Streetlighting/Streetlight/example-normalized.json": (1, 6, 0, 0),
    "dataModel.Streetlighting/Streetlight/example-normalized.jsonld": (1, 4, 0, 0),
    "dataModel.Transportation/TrafficFlowObserved/example.json": (1, 5, 0, 0),
    "dataModel.Transportation/TrafficFlowObserved/example.jsonld": (1, 5, 0, 0),
    "dataModel.Transportation/TrafficFlowObserved/example-normalized.json": (1, 5, 0, 0),
    "dataModel.Transportation/TrafficFlowObserved/example-normalized.jsonld": (1, 5, 0, 0),
    "dataModel.WasteManagement/WasteContainer/example.json": (1, 0, 0, 0),  # no time
    "dataModel.WasteManagement/WasteContainer/example.jsonld": (1, 0, 0, 0),
    "dataModel.WasteManagement/WasteContainer/example-normalized.json": (1, 0, 0, 0),
    "dataModel.WasteManagement/WasteContainer/example-normalized.jsonld": (1, 0, 0, 0),
    "dataModel.WasteManagement/WasteContainer/example-geojsonfeature.json": (1, 0, 0, 0),
}


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def stream(location: str | Path, **extra: Any) -> EntitiesStream:
    found = NgsiConnector({"location": str(location), **extra}).streams()
    assert len(found) == 1 and isinstance(found[0], EntitiesStream)
    return found[0]


def read_all(source: EntitiesStream, watermark: str | None = None) -> tuple[Mapped, list[str]]:
    """Map every record into one Mapped; return it and the reasons of the bad ones."""
    total, bad = Mapped(), []
    for raw in source.read(watermark):
        try:
            mapped = source.map(raw)
        except ValueError as error:
            bad.append(str(error))
            continue
        for part in ("assets", "observations", "service_requests", "services"):
            getattr(total, part).extend(getattr(mapped, part))
    return total, bad


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def by_metric(mapped: Mapped) -> dict[str, tuple[float, datetime, str | None]]:
    return {o["metric"]: (o["value"], o["time"], o["unit"]) for o in mapped.observations}


# --- every fixture ------------------------------------------------------------------

@needs_fixtures
def test_the_table_counts_every_example_fixture() -> None:
    found = {str(p.relative_to(FIXTURES)) for p in FIXTURES.rglob("example*")}
    assert found == set(EXPECTED)


@needs_fixtures
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_fixture_maps(name: str) -> None:
    mapped, bad = read_all(stream(FIXTURES / name))
    counts = (len(mapped.assets), len(mapped.observations), len(mapped.service_requests),
              len(mapped.services))
    assert (counts, bad) == (EXPECTED[name], [])
    for asset in mapped.assets:
        assert asset["id"].startswith("urn:") and asset["domain"]
        json.dumps(asset["attributes"], allow_nan=False)  # storable as JSON everywhere
    for obs in mapped.observations:
        assert obs["time"].tzinfo == UTC and math.isfinite(obs["value"])
        assert obs["asset_id"] == mapped.assets[0]["id"]


@needs_fixtures
def test_air_quality_key_values_and_normalized() -> None:
    key_values = stream(FIXTURES / AQ / "example.json")
    mapped = key_values.map(next(key_values.read(None)))
    asset = mapped.assets[0]
    assert asset["id"] == AQ_URN  # v2 id made a URN: the same as the NGSI-LD example's
    # no status attribute: the asset row leaves it out, and a new asset is stored as "ok"
    assert (asset["type"], asset["domain"], asset.get("status")) == (
        "AirQualityObserved", "environment", None)
    assert (asset["lat"], asset["lon"]) == (40.423852777777775, -3.712247222222222)
    assert asset["attributes"]["address"]["streetAddress"] == "Plaza de España"
    assert asset["attributes"]["airQualityLevel"] == "moderate"
    metrics = by_metric(mapped)
    at = utc(2016, 3, 15, 11)  # naive dateObserved read as UTC
    assert {m: metrics[m] for m in ("co", "no", "co2", "nox", "so2", "pm4")} == {
        "co": (500, at, None), "no": (45, at, None), "co2": (69, at, None),
        "nox": (139, at, None), "so2": (11, at, None), "pm4": (37, at, None)}
    assert metrics["precipitation"] == (0, at, None)  # a number in key-values
    assert mapped.cursor == "2016-03-15T11:00:00Z"

    normalized = stream(FIXTURES / AQ / "example-normalized.json")
    mapped = normalized.map(next(normalized.read(None)))
    metrics = by_metric(mapped)
    assert mapped.assets[0]["id"] == AQ_URN
    assert metrics["no2"] == (69, at, "µg/m3") and metrics["co"] == (500, at, "mg/m3")
    assert metrics["temperature"] == (12.2, at, None)  # no unitCode
    assert "precipitation" not in metrics  # a Boolean here: kept as an attribute
    assert mapped.assets[0]["attributes"]["precipitation"] is False


@needs_fixtures
def test_geojson_feature_interval_and_upper_case_pollutants() -> None:
    source = stream(FIXTURES / AQ / "example-geojsonfeature.json")
    mapped = source.map(next(source.read(None)))
    assert mapped.assets[0]["id"] == AQ_URN and mapped.assets[0]["lat"] == 40.423852777777775
    metrics = by_metric(mapped)
    at = utc(2016, 3, 15, 11)  # "11:00:00/12:00:00": an interval counts from its start
    assert metrics["NO2"] == (69, at, "µg/m3") and metrics["CO"] == (500, at, "mg/m3")
    assert metrics["windDirection"] == (186, at, None)
    assert "refPointOfInterest" in mapped.assets[0]["attributes"]


@needs_fixtures
def test_attribute_times_win_over_the_entity_time() -> None:
    for name in ("example-normalized.json", "example-normalized.jsonld"):
        source = stream(FIXTURES / "dataModel.Parking/OffStreetParking" / name)
        metrics = by_metric(source.map(next(source.read(None))))
        assert metrics["availableSpotNumber"][:2] == (132, utc(2018, 9, 21, 12))  # its own
        assert metrics["occupancy"][:2] == (0.68, utc(2021, 3, 11, 15, 51, 2))  # entity's
    source = stream(FIXTURES / "dataModel.Parking/OffStreetParking/example-geojsonfeature.json")
    mapped = source.map(next(source.read(None)))
    assert by_metric(mapped)["occupancy"][1] == utc(2018, 9, 21, 12, 0, 5)  # modifiedAt
    assert mapped.assets[0]["name"] == "Parque de estacionamento Trindade"
    assert mapped.assets[0]["domain"] == "parking"


@needs_fixtures
@pytest.mark.parametrize("form", ["example.json", "example.jsonld", "example-normalized.json",
                                  "example-normalized.jsonld"])
def test_every_form_of_an_entity_maps_alike(form: str) -> None:
    source = stream(FIXTURES / "dataModel.Transportation/TrafficFlowObserved" / form)
    mapped = source.map(next(source.read(None)))
    asset = mapped.assets[0]
    assert asset["id"] == ("urn:ngsi-ld:TrafficFlowObserved:"
                           "TrafficFlowObserved-Valladolid-osm-60821110")
    assert asset["domain"] == "mobility"
    assert (round(asset["lat"], 4), round(asset["lon"], 4)) == (41.6601, -4.7341)  # on the line
    assert asset["attributes"]["geometry"]["type"] == "LineString"
    assert asset["attributes"]["laneId"] == 1
    at = utc(2016, 12, 7, 11, 10)
    assert by_metric(mapped) == {
        "intensity": (197, at, None), "occupancy": (0.76, at, None),
        "averageVehicleSpeed": (52.6, at, None), "averageVehicleLength": (9.87, at, None),
        "averageHeadwayTime": (0.5, at, None)}


@needs_fixtures
def test_streetlight_device_and_measurement() -> None:
    source = stream(FIXTURES / "dataModel.Streetlighting/Streetlight/example.json")
    mapped = source.map(next(source.read(None)))
    at = utc(2021, 1, 11, 10, 21, 2)  # observationDateTime +05:30
    assert by_metric(mapped)["powerConsumption"] == (10, at, None)
    assert mapped.assets[0]["attributes"]["lanternHeight"] == 10
    assert (mapped.assets[0]["domain"], mapped.assets[0]["status"]) == ("lighting", "ok")

    source = stream(FIXTURES / "dataModel.Device/Device/example-normalized.jsonld")
    asset = source.map(next(source.read(None))).assets[0]
    assert asset["id"] == "urn:ngsi-ld:Device:device-9845A"
    assert asset["domain"] == "waste"  # controlledProperty fillingLevel wins over temperature
    assert asset["attributes"]["batteryLevel"] == 0.75  # a number without a time
    assert asset["attributes"]["dateFirstUsed"] == "2014-09-11T11:00:00Z"
    overridden = stream(FIXTURES / "dataModel.Device/Device/example.json",
                        domains={"Device": "safety"})
    assert overridden.map(next(overridden.read(None))).assets[0]["domain"] == "safety"

    source = stream(FIXTURES / "dataModel.Device/DeviceMeasurement/example-normalized.json")
    mapped = source.map(next(source.read(None)))
    assert by_metric(mapped) == {"humidity": (55.2, utc(2021, 9, 3, 7, 33, 18), "UDT0000016")}
    assert mapped.assets[0]["domain"] == "environment"


@needs_fixtures
def test_parking_spot_status_and_waste_container_without_time() -> None:
    source = stream(FIXTURES / "dataModel.Parking/ParkingSpot/example-normalized.json")
    mapped = source.map(next(source.read(None)))
    assert mapped.assets[0]["id"] == "urn:ngsi-ld:ParkingSpot:santander:daoiz_velarde_1_5:3"
    assert (mapped.assets[0]["status"], mapped.assets[0]["name"]) == ("free", "A-13")
    assert mapped.cursor == "2018-09-21T12:00:00Z"  # the status's timestamp metadata
    source = stream(FIXTURES / "dataModel.WasteManagement/WasteContainer/example.json")
    mapped = source.map(next(source.read(None)))
    assert mapped.observations == [] and mapped.cursor is None
    assert mapped.assets[0]["attributes"]["binCapacity"] == 43


@needs_fixtures
@pytest.mark.parametrize("form", ["example.json", "example.jsonld", "example-normalized.json",
                                  "example-normalized.jsonld"])
def test_service_requests_and_services(form: str) -> None:
    source = stream(FIXTURES / "dataModel.IssueTracking/service_requests" / form)
    mapped = source.map(next(source.read(None)))
    row = mapped.service_requests[0]
    assert (row["id"], row["status"], row["service_code"]) == ("638344", "closed", "234")
    assert row["requested_at"] == utc(2010, 4, 14, 14, 37, 38)  # -08:00
    assert row["expected_at"] == utc(2010, 4, 15, 14, 37, 38)  # "-08:00Z" read too
    assert row["closed_at"] == row["updated_at"]
    assert (row["lat"], row["lon"]) == (40.62785133667262, -3.164485591715449)
    assert row["address"] == "Calle San Juan Bautista, 2"
    assert row["department"] == "Ayuntamiento de Ciudad" and row["citizen_id"] is None
    assert mapped.cursor == "2010-04-14T14:37:38Z"
    source = stream(FIXTURES / "dataModel.IssueTracking/services" / form)
    service = source.map(next(source.read(None))).services[0]
    assert (service["service_code"], service["service_name"]) == ("234", "Aceras")
    assert (service["group"], service["online"]) == ("street", True)


# --- files: collections, filters, watermarks, broken files --------------------------

@needs_fixtures
def test_feature_collection_and_type_filter(tmp_path: Path) -> None:
    features = [fixture(str(p.relative_to(FIXTURES)))
                for p in sorted(FIXTURES.rglob("example-geojsonfeature.json"))]
    path = tmp_path / "features.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    mapped, bad = read_all(stream(path))
    assert (len(mapped.assets), len(mapped.observations), bad) == (4, 12 + 6, [])
    mapped, _ = read_all(stream(path, type="ParkingSpot,WasteContainer"))
    assert sorted(a["type"] for a in mapped.assets) == ["ParkingSpot", "WasteContainer"]


def test_file_watermark_keeps_newer_and_timeless(tmp_path: Path) -> None:
    entities = [{"id": f"s{n}", "type": "NoiseLevelObserved", "LAeq": 50 + n,
                 "dateObserved": f"2024-05-0{n}T10:00:00+02:00"} for n in range(1, 6)]
    entities.append({"id": "static", "type": "NoiseLevelObserved", "name": "Plaza"})
    path = tmp_path / "noise.json"
    path.write_text(json.dumps(entities))
    source = stream(path)
    newer = [r["id"] for r in source.read("2024-05-03T08:00:00Z")]
    assert newer == ["s4", "s5", "static"]  # s3 is exactly the watermark
    assert [r["id"] for r in source.read("2024-05-03T09:00:00+01:00")] == newer
    zoned = stream(path, timezone="Europe/Madrid")
    entities[0]["dateObserved"] = "2024-05-01T10:00:00"  # naive: in the configured zone
    path.write_text(json.dumps(entities))
    assert zoned.map(entities[0]).observations[0]["time"] == utc(2024, 5, 1, 8)


@pytest.mark.parametrize(("body", "problem"), [
    (b'[{"id": "a", "type": "X",', "not valid JSON"),
    (b"\xff\xfe garbage", "not valid JSON"),
    (b"42", "not NGSI entities"),
    (b'{"hello": "world"}', "not an NGSI entity"),
    (b'{"type": "FeatureCollection", "features": {}}', "no features list"),
])
def test_broken_file_is_a_format_error(tmp_path: Path, body: bytes, problem: str) -> None:
    path = tmp_path / "broken.json"
    path.write_bytes(body)
    with pytest.raises(SourceFormatError, match=problem) as caught:
        list(stream(path).read(None))
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_broken_file_fails_the_run_as_format(fresh_engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"id": "a", "type": ')
    report = run_source(fresh_engine, Settings(), NgsiConnector({"location": str(path)}), "n1")
    assert (report.status, report.failure) == ("failed", "format")


# --- notifications ------------------------------------------------------------------

@needs_fixtures
def test_notifications_v2_and_ld() -> None:
    entity = fixture(f"{AQ}/example-normalized.json")
    body = json.dumps({"subscriptionId": "5aeb0ee97d4ef10a12a0262f", "data": [entity]})
    entities = parse_notification(body.encode())
    assert entities == [entity]
    assert len(map_entity(entities[0]).observations) == 16
    ld = {"id": "urn:ngsi-ld:Notification:1", "type": "Notification",
          "subscriptionId": "urn:ngsi-ld:Subscription:1", "notifiedAt": "2024-01-01T00:00:00Z",
          "data": [fixture(f"{AQ}/example-normalized.jsonld"),
                   fixture("dataModel.Parking/ParkingSpot/example-normalized.jsonld")]}
    entities = parse_notification(ld)
    assert [map_entity(e).assets[0]["type"] for e in entities] == [
        "AirQualityObserved", "ParkingSpot"]
    geo = ld | {"data": {"type": "FeatureCollection",
                         "features": [fixture(f"{AQ}/example-geojsonfeature.json")]}}
    assert map_entity(parse_notification(geo)[0]).assets[0]["id"] == AQ_URN


@pytest.mark.parametrize(("body", "problem"), [
    (b"{not json", "not valid JSON"),
    ("[]", "not an object"),
    ({"data": []}, "no subscriptionId"),
    ({"type": "Notification"}, "no data list"),
    ({"subscriptionId": "s", "data": {"id": "x"}}, "no data list"),
])
def test_bad_notifications_raise_value_error(body: Any, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_notification(body)


def test_notification_keeps_bad_entities_for_quarantine() -> None:
    entities = parse_notification({"subscriptionId": "s", "data": [42, {"id": "a"}]})
    assert entities == [42, {"id": "a"}]
    for entity in entities:
        with pytest.raises(ValueError):
            map_entity(entity)


# --- configuration ------------------------------------------------------------------

def test_registered_and_config_checked() -> None:
    assert get_connector("ngsi") is NgsiConnector
    with pytest.raises(ValueError, match="unknown time zone"):
        NgsiConfig(location="x.json", timezone="Mars/Olympus")
    with pytest.raises(ValueError, match="unknown domains"):
        NgsiConfig(location="x.json", domains={"Device": "security"})
    with pytest.raises(ValueError, match="unknown domain"):
        NgsiConfig(location="x.json", default_domain="other")
    with pytest.raises(ValueError):
        NgsiConfig(location="x.json", colour="red")  # type: ignore[call-arg]


@pytest.mark.parametrize(("location", "api", "url"), [
    ("http://orion:1026", "auto", "http://orion:1026/v2/entities"),
    ("http://orion:1026/v2/", "auto", "http://orion:1026/v2/entities"),
    ("http://orion:1026/v2/entities", "auto", "http://orion:1026/v2/entities"),
    ("http://broker/ngsi-ld/v1", "auto", "http://broker/ngsi-ld/v1/entities"),
    ("https://broker:443", "ld", "https://broker:443/ngsi-ld/v1/entities"),
    ("https://h/ngsi-ld/v1/entities", "auto", "https://h/ngsi-ld/v1/entities"),
])
def test_entities_url(location: str, api: str, url: str) -> None:
    config = NgsiConfig(location=location, api=api)
    assert entities_url(config) == url
    assert api_of(config) == ("ld" if "ngsi-ld" in url else "v2")


def test_file_check(tmp_path: Path) -> None:
    assert not NgsiConnector({"location": str(tmp_path / "none.json")}).check().ok
    (tmp_path / "e.json").write_text("[]")
    assert NgsiConnector({"location": str(tmp_path / "e.json")}).check().ok


# --- a local broker -----------------------------------------------------------------

class Broker:
    """Serves entities as Orion (``/v2/entities``) and an NGSI-LD broker
    (``/ngsi-ld/v1/entities``) do: offset/limit paging, counts, type filter."""

    def __init__(self, v2: list[Any], ld: list[Any], *, counts: bool = True) -> None:
        self.v2, self.ld, self.counts = v2, ld, counts
        self.requests: list[tuple[str, dict[str, str], dict[str, str]]] = []
        self.failures: list[tuple[int, bytes]] = []  # answered first, one per request

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.requests.append((parts.path, query, dict(handler.headers.items())))
        if self.failures:
            status, body = self.failures.pop(0)
            return answer(handler, status, body)
        if parts.path == "/v2/entities":
            entities, header = self.v2, ("Fiware-Total-Count"
                                         if query.get("options") == "count" else None)
        elif parts.path == "/ngsi-ld/v1/entities":
            entities, header = self.ld, ("NGSILD-Results-Count"
                                         if query.get("count") == "true" else None)
        else:
            return answer(handler, 404, b'{"error": "NotFound", "description": "no such path"}')
        if "type" in query:
            wanted = query["type"].split(",")
            entities = [e for e in entities if e.get("type") in wanted]
        offset, limit = int(query.get("offset", 0)), int(query.get("limit", 20))
        page = json.dumps(entities[offset:offset + limit]).encode()
        answer(handler, 200, page, {header: str(len(entities))} if header and self.counts else {})


def answer(handler: BaseHTTPRequestHandler, status: int, body: bytes,
           headers: dict[str, str] | None = None) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)


@pytest.fixture
def serve() -> Iterator[Callable[[Broker], str]]:
    """Start a local broker on 127.0.0.1 (a free port) in a thread; yield its base URL."""
    servers: list[ThreadingHTTPServer] = []

    def start(broker: Broker) -> str:
        class _Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server name
                broker.handle(self)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    set_retry_policy(monkeypatch, attempts=4, base_seconds=0.01)


def forms(suffix: str) -> list[str]:
    return sorted(n for n in EXPECTED if n.endswith(suffix))


def broker_of_fixtures() -> Broker:
    """The normalized fixtures: NGSI v2 ones at /v2, NGSI-LD ones at /ngsi-ld/v1."""
    return Broker([fixture(n) for n in forms("example-normalized.json")],
                  [fixture(n) for n in forms("example-normalized.jsonld")])


def expected_total(names: list[str]) -> tuple[int, int, int, int]:
    sums = [sum(EXPECTED[n][i] for n in names) for i in range(4)]
    return sums[0], sums[1], sums[2], sums[3]


@needs_fixtures
@pytest.mark.parametrize(("api", "path", "suffix"), [
    ("v2", "/v2/entities", "example-normalized.json"),
    ("ld", "/ngsi-ld/v1/entities", "example-normalized.jsonld"),
])
def test_broker_pages_with_counts(serve: Callable[[Broker], str], api: str, path: str,
                                  suffix: str) -> None:
    broker = broker_of_fixtures()
    base = serve(broker)
    location = base + ("/ngsi-ld/v1" if api == "ld" else "")
    source = stream(location, page_size=2, service="santander", service_path="/parking",
                    tenant="city", token="s3cret", context="https://example.org/ctx.jsonld")
    mapped, bad = read_all(source)
    names = forms(suffix)
    assert len(names) == 10 and bad == []
    counts = (len(mapped.assets), len(mapped.observations), len(mapped.service_requests),
              len(mapped.services))
    assert counts == expected_total(names)
    assert [q["offset"] for _, q, _ in broker.requests] == ["0", "2", "4", "6", "8"]
    assert {p for p, _, _ in broker.requests} == {path}
    query, headers = broker.requests[0][1], broker.requests[0][2]
    assert query["limit"] == "2" and "type" not in query
    assert headers["Authorization"] == "Bearer s3cret"
    if api == "v2":
        assert (query["options"], query["attrs"]) == ("count", "dateModified,*")
        assert (headers["Fiware-Service"], headers["Fiware-ServicePath"]) == (
            "santander", "/parking")
        assert "NGSILD-Tenant" not in headers
    else:
        assert (query["count"], query["options"]) == ("true", "sysAttrs")
        assert headers["NGSILD-Tenant"] == "city" and "Fiware-Service" not in headers
        assert headers["Link"].startswith("<https://example.org/ctx.jsonld>; rel=")


@needs_fixtures
def test_broker_without_counts_stops_on_a_short_page(serve: Callable[[Broker], str]) -> None:
    broker = broker_of_fixtures()
    broker.counts = False
    source = stream(serve(broker) + "/ngsi-ld/v1/entities", page_size=3)
    assert len(list(source.read(None))) == 10
    assert [q["offset"] for _, q, _ in broker.requests] == ["0", "3", "6", "9"]  # 9: one left
    broker.requests.clear()
    assert len(list(stream(serve(broker), page_size=5).read(None))) == 10
    assert [q["offset"] for _, q, _ in broker.requests] == ["0", "5", "10"]  # 10: empty


@needs_fixtures
def test_broker_type_filter_and_watermark(serve: Callable[[Broker], str]) -> None:
    broker = broker_of_fixtures()
    base = serve(broker)
    source = stream(base, page_size=2, type="AirQualityObserved,OffStreetParking")
    mapped, _ = read_all(source)
    assert sorted(a["type"] for a in mapped.assets) == ["AirQualityObserved", "OffStreetParking"]
    assert broker.requests[0][1]["type"] == "AirQualityObserved,OffStreetParking"
    assert len(broker.requests) == 1  # a short page after the filter
    newer = [r["type"] for r in stream(base, page_size=4).read("2018-01-01T00:00:00Z")]
    # newer than 2018, or without any time (they are read again each run)
    assert newer == ["Device", "DeviceMeasurement", "services", "OffStreetParking",
                     "ParkingSpot", "Streetlight", "WasteContainer"]


@needs_fixtures
def test_broker_ignoring_offset_is_read_once(serve: Callable[[Broker], str]) -> None:
    broker = broker_of_fixtures()
    broker.counts = False

    def same_page(handler: BaseHTTPRequestHandler) -> None:
        broker.requests.append((handler.path, {}, {}))
        answer(handler, 200, json.dumps(broker.v2[:2]).encode())

    broker.handle = same_page  # type: ignore[method-assign]
    assert len(list(stream(serve(broker), page_size=2).read(None))) == 2
    assert len(broker.requests) == 2  # the repeat is noticed and reading stops


def test_broker_503_is_retried_and_400_fails_at_once(
    serve: Callable[[Broker], str], fast_retries: None
) -> None:
    entity = {"id": "n1", "type": "NoiseLevelObserved", "LAeq": {"type": "Number", "value": 61},
              "dateObserved": {"type": "DateTime", "value": "2024-01-01T10:00:00Z"}}
    broker = Broker([entity], [])
    broker.failures = [(503, b"busy"), (502, b"")]
    url = serve(broker)
    mapped, bad = read_all(stream(url))
    assert (len(mapped.observations), bad, len(broker.requests)) == (1, [], 3)
    broker.requests.clear()
    broker.failures = [(400, b'{"error": "BadRequest", "description": "Invalid type"}')]
    with pytest.raises(ConnectionError, match="HTTP 400 BadRequest Invalid type") as caught:
        list(stream(url, token="s3cret").read(None))
    assert len(broker.requests) == 1 and "s3cret" not in str(caught.value)
    check = NgsiConnector({"location": url}).check()
    assert check.ok and "HTTP 200" in check.message
    broker.failures = [(401, b'{"title": "Unauthorized", "detail": "token expired"}')]
    check = NgsiConnector({"location": url + "/ngsi-ld/v1"}).check()
    assert not check.ok and "token expired" in check.message


def test_closed_port_is_unavailable(fast_retries: None) -> None:
    with ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as server:
        port = server.server_address[1]  # bound then closed: nothing listens there
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(ConnectionError, match="unreachable after 4 tries"):
        list(stream(url, timeout_seconds=2).read(None))
    assert not NgsiConnector({"location": url, "timeout_seconds": 2}).check().ok


# --- the store, end to end ----------------------------------------------------------

AROUND_MADRID = {"type": "Polygon", "coordinates": [[[-4, 40], [-3, 40], [-3, 41], [-4, 41],
                                                      [-4, 40]]]}


def _count(engine: Engine, model: type) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(model)).scalar_one()


@needs_fixtures
def test_run_source_end_to_end(fresh_engine: Engine, tmp_path: Path) -> None:
    with unit_of_work(fresh_engine) as conn:
        conn.execute(insert(District), [{"id": "madrid", "name": "Madrid",
                                         "geometry": AROUND_MADRID}])
    path = tmp_path / "city.json"
    path.write_text(json.dumps([fixture(n) for n in sorted(EXPECTED)]))
    connector, settings = NgsiConnector({"location": str(path)}), Settings()
    report = run_source(fresh_engine, settings, connector, "fiware")
    assert (report.records_in, report.stored, report.quarantined, report.status) == (
        44, 44, 0, "ok")
    assert report.watermark == "2021-09-03T07:33:18Z"  # the newest time of any entity
    # the forms of one entity are one asset (same URN); their observations are unique on
    # (asset, metric, time): 23 air quality (lower-case names, no2, five upper-case ones in
    # the GeoJSON example), 13 parking, 6 streetlight, 5 traffic, 1 device measurement
    counts = [_count(fresh_engine, m) for m in (Asset, Observation, ServiceRequest, Service)]
    assert counts == [9, 48, 1, 1]
    with fresh_engine.connect() as conn:
        hourly = conn.execute(select(func.sum(Rollup.count)).where(Rollup.grain == "hour"))
        assert hourly.scalar_one() == 48
        assert conn.execute(select(func.count()).select_from(Rollup).where(
            Rollup.metric == "AirQualityObserved.no2", Rollup.district_id == "madrid",
        )).scalar_one() == 2  # an hour and a day bucket
        madrid = conn.execute(select(Asset.id).where(Asset.district_id == "madrid"))
        assert set(madrid.scalars()) == {
            AQ_URN, "urn:ngsi-ld:Streetlight:streetlight:guadalajara:4567",
            "urn:ngsi-ld:WasteContainer:wastecontainer:Fleming:12a"}
        request = conn.execute(select(ServiceRequest)).one()
        assert (request.id, request.district_id, request.source_id) == (
            "638344", "madrid", "fiware")
        assert conn.execute(select(Asset.last_seen).where(Asset.id == AQ_URN)).scalar_one()

    again = run_source(fresh_engine, settings, connector, "fiware", full=True)
    assert (again.stored, again.quarantined, again.status) == (44, 0, "ok")
    assert [_count(fresh_engine, m) for m in (Asset, Observation, ServiceRequest)] == [9, 48, 1]
    with fresh_engine.connect() as conn:
        hourly = conn.execute(select(func.sum(Rollup.count)).where(Rollup.grain == "hour"))
        assert hourly.scalar_one() == 48  # idempotent: rollups not counted twice

    incremental = run_source(fresh_engine, settings, connector, "fiware")
    # the entities without any time are read every run: 4 Device, 4 services, the 2
    # key-values ParkingSpots (the others carry status times), 5 WasteContainer
    assert incremental.records_in == 15
    assert incremental.watermark == "2021-09-03T07:33:18Z"
    with fresh_engine.connect() as conn:
        runs = conn.execute(select(FeedRun.status).order_by(FeedRun.id)).scalars().all()
    assert runs == ["ok", "ok", "ok"]


def test_bad_entities_are_quarantined(fresh_engine: Engine, tmp_path: Path) -> None:
    good = {"id": "n1", "type": "NoiseLevelObserved", "LAeq": 61,
            "dateObserved": "2024-01-01T10:00:00Z"}
    bad = [good | {"dateObserved": "yesterday"}, good | {"id": ""}, 42,
           good | {"location": {"type": "Point", "coordinates": [200, 0]}}]
    path = tmp_path / "noise.json"
    path.write_text(json.dumps([good, *bad]))
    report = run_source(fresh_engine, Settings(), NgsiConnector({"location": str(path)}), "n")
    assert (report.stored, report.quarantined, report.status) == (1, 4, "partial")


def test_other_locations() -> None:
    base = {"id": "x", "type": "WeatherObserved"}
    v2_point = map_entity(base | {"location": {"type": "geo:point", "value": "40.4, -3.7"}})
    assert (v2_point.assets[0]["lat"], v2_point.assets[0]["lon"]) == (40.4, -3.7)
    text = map_entity(base | {"location": "Plaza Mayor"}).assets[0]
    assert (text["lat"], text["attributes"]["location"]) == (None, "Plaza Mayor")
    null_island = map_entity(base | {"location": {"type": "Point", "coordinates": [0, 0]}})
    assert null_island.assets[0]["lat"] is None
    with pytest.raises(ValueError, match="latitude out of range"):
        map_entity(base | {"location": {"type": "Point", "coordinates": [-3.7, 91]}})
    with pytest.raises(ValueError, match="not a GeoJSON geometry"):
        map_entity(base | {"location": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}})


def test_expanded_names_multi_attributes_and_string_numbers() -> None:
    entity = {
        "id": "urn:ngsi-ld:WeatherObserved:w1",
        "type": "https://smartdatamodels.org/dataModel.Weather/WeatherObserved",
        "https://smartdatamodels.org/dataModel.Weather/temperature": [
            {"type": "Property", "value": 99, "datasetId": "urn:ngsi-ld:Dataset:backup"},
            {"type": "Property", "value": 21.5, "observedAt": "2024-01-01T10:00:00Z",
             "unitCode": "CEL"}],
        "humidity": {"type": "Number", "value": "0.61",
                     "metadata": {"TimeInstant": {"type": "DateTime",
                                                  "value": "2024-01-01T11:00:00Z"}}},
        "code": {"type": "Text", "value": "0042"},
    }
    mapped = map_entity(entity)
    assert mapped.assets[0]["type"] == "WeatherObserved"
    assert by_metric(mapped) == {"temperature": (21.5, utc(2024, 1, 1, 10), "°C"),
                                 "humidity": (0.61, utc(2024, 1, 1, 11), None)}
    assert mapped.assets[0]["attributes"] == {"code": "0042"}  # text stays text
    assert mapped.cursor == "2024-01-01T11:00:00Z"


def test_deeply_nested_values_are_refused_not_crashed() -> None:
    entity = {"id": "a", "type": "X", "deep": json.loads("[" * 500 + "]" * 500)}
    with pytest.raises(ValueError, match="nested deeper than 32"):
        map_entity(entity)


# --- properties ---------------------------------------------------------------------

KEYS = ["id", "type", "value", "object", "@value", "observedAt", "metadata", "unitCode",
        "coordinates", "location", "dateObserved", "dateModified", "status", "name",
        "properties", "geometry", "controlledProperty", "service_request_id",
        "requested_datetime", "numValue", "timestamp", "languageMap", "datasetId"]
SCALARS = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
           | st.sampled_from(["Feature", "Point", "Property", "Number", "Relationship",
                              "geo:point", "service_requests", "DeviceMeasurement", "open",
                              "2016-03-15T11:00:00/2016-03-15T12:00:00", "1e999", "40.4, -3.7",
                              "9999-12-31T23:59:59-23:59", "2010-04-15T06:37:38-08:00Z"]))
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=5), max_leaves=12)


def _near_valid() -> st.SearchStrategy[Any]:
    """A fixture entity with one attribute (or the id/type) replaced by any JSON."""
    if not FIXTURES.is_dir():
        return JSON
    entities = [fixture(n) for n in sorted(EXPECTED)]
    return st.tuples(st.sampled_from(entities), st.sampled_from(KEYS + ["co", "no2", "status"]),
                     JSON).map(lambda t: {**t[0], t[1]: t[2]})


def _check_storable(mapped: Mapped) -> None:
    for asset in mapped.assets:
        assert len(asset["id"]) <= 200 and len(asset["type"]) <= 80 and "." not in asset["type"]
        # a partial entity leaves out what it does not carry (the stored values stay)
        assert len(asset.get("name", "")) <= 200 and len(asset.get("status", "")) <= 40
        json.dumps(asset.get("attributes", {}), allow_nan=False).encode("utf-8")
    for obs in mapped.observations:
        assert len(obs["metric"]) <= 60 and math.isfinite(obs["value"])
        assert obs["time"].tzinfo is not None and (obs["unit"] is None or len(obs["unit"]) <= 20)
        assert len(mapped.assets[0]["type"]) + 1 + len(obs["metric"]) <= 120


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(JSON, _near_valid()))
def test_map_raises_only_value_error(record: Any) -> None:
    source = EntitiesStream(NgsiConfig(location="x.json", timezone="Europe/Madrid"))
    try:
        mapped = source.map(record)
    except ValueError:
        return
    _check_storable(mapped)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ngsi")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=200), JSON.map(lambda v: json.dumps(v).encode())))
def test_arbitrary_files_read_or_raise_format_error(scratch: Path, data: bytes) -> None:
    path = scratch / "data.json"
    path.write_bytes(data)
    try:
        records = list(stream(path).read("2016-01-01T00:00:00Z"))
    except SourceFormatError as error:
        assert str(path) in str(error)
        return
    assert len(records) <= len(parse_document(data, str(path)))
    for record in records:
        try:
            map_entity(record)
        except ValueError:
            pass


def test_a_partial_update_keeps_what_it_does_not_carry(fresh_engine: Engine) -> None:
    """A broker's notification of one attribute (no name, no location) updates that
    reading and keeps the asset's name, place, district, status and attributes."""
    from connectors.storing import store_batch
    from dashboard.model import Asset, District
    from dashboard.store import unit_of_work

    source = EntitiesStream(NgsiConfig(location="x.json", timezone="Europe/Madrid"))
    full = {"id": "urn:ngsi-ld:WasteContainer:santander:0004", "type": "WasteContainer",
            "name": "Contenedor Calle Alta 84", "status": "ok", "serialNumber": "W-4",
            "location": {"type": "Point", "coordinates": [0.5, 0.5]},
            "fillingLevel": 0.4, "dateObserved": "2026-11-01T10:00:00Z"}
    partial = {"id": full["id"], "type": "WasteContainer", "fillingLevel": 0.9,
               "dateObserved": "2026-11-01T11:00:00Z"}
    with unit_of_work(fresh_engine) as conn:
        conn.execute(insert(District), [{"id": "d1", "name": "Centro", "geometry": {
            "type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}}])
        for record in (full, partial):
            stored, refused = store_batch(conn, Settings(), [(record, source.map(record))])
            assert stored == 1 and not refused
    with fresh_engine.connect() as conn:
        asset = conn.execute(select(Asset).where(Asset.id == full["id"])).one()
    assert (asset.name, asset.lat, asset.lon, asset.district_id, asset.status) == (
        "Contenedor Calle Alta 84", 0.5, 0.5, "d1", "ok")
    assert asset.attributes == {"serialNumber": "W-4"}


def test_partial_updates_add_to_the_attributes(fresh_engine: Engine) -> None:
    """Attributes a partial update carries are added or changed; the others stay, whether
    the updates come in one batch or in several."""
    from connectors.storing import store_batch
    from dashboard.model import Asset
    from dashboard.store import unit_of_work

    source = EntitiesStream(NgsiConfig(location="x.json", timezone="Europe/Madrid"))
    urn = "urn:ngsi-ld:WasteContainer:santander:0007"
    full = {"id": urn, "type": "WasteContainer", "name": "Contenedor 7", "serialNumber": "W-7",
            "color": "green", "fillingLevel": 0.4, "dateObserved": "2026-11-01T10:00:00Z"}
    updates = [{"id": urn, "type": "WasteContainer", "color": "grey", "fillingLevel": 0.5,
                "dateObserved": "2026-11-01T11:00:00Z"},
               {"id": urn, "type": "WasteContainer", "lid": "open", "fillingLevel": 0.6,
                "dateObserved": "2026-11-01T12:00:00Z"}]
    with unit_of_work(fresh_engine) as conn:
        store_batch(conn, Settings(), [(full, source.map(full))])
        store_batch(conn, Settings(), [(u, source.map(u)) for u in updates])  # one batch
        late = {"id": urn, "type": "WasteContainer", "serialNumber": "W-7b",
                "fillingLevel": 0.7, "dateObserved": "2026-11-01T13:00:00Z"}
        store_batch(conn, Settings(), [(late, source.map(late))])
    with fresh_engine.connect() as conn:
        asset = conn.execute(select(Asset).where(Asset.id == urn)).one()
    assert asset.name == "Contenedor 7"
    assert asset.attributes == {"serialNumber": "W-7b", "color": "grey", "lid": "open"}


def test_a_reading_that_is_not_a_finite_number_is_quarantined_with_its_reason() -> None:
    """NaN, ±Infinity and numbers beyond a float in a reading quarantine the entity with
    the attribute named, instead of being dropped without a trace."""
    source = EntitiesStream(NgsiConfig(location="x.json", timezone="Europe/Madrid"))
    base = {"id": "urn:ngsi-ld:AirQualityObserved:x:1", "type": "AirQualityObserved",
            "dateObserved": "2026-11-01T10:00:00Z"}
    for value in (float("nan"), float("inf"), float("-inf"),
                  {"type": "Number", "value": "1e999"}):
        with pytest.raises(ValueError, match="no2: .* is not a finite number"):
            source.map({**base, "no2": value})
    assert by_metric(source.map({**base, "no2": 41.5}))["no2"][0] == 41.5


def test_a_reading_outside_its_plausible_range_is_quarantined(fresh_engine: Engine,
                                                              tmp_path) -> None:
    """The KPI catalogue's ``plausible`` ranges (per "Type.attribute", or an attribute for
    every type) quarantine a lying sensor's reading with its reason; the rest is stored."""
    from connectors.storing import store_batch
    from dashboard.kpis.definitions import load_plausible_ranges
    from dashboard.store import unit_of_work

    source = EntitiesStream(NgsiConfig(location="x.json", timezone="Europe/Madrid"))
    at = "2026-11-01T10:00:00Z"
    entities = [
        {"id": "urn:ngsi-ld:WasteContainer:x:1", "type": "WasteContainer",
         "fillingLevel": 7.0, "dateObserved": at},
        {"id": "urn:ngsi-ld:WasteContainer:x:2", "type": "WasteContainer",
         "fillingLevel": 0.7, "dateObserved": at},
        {"id": "urn:ngsi-ld:WeatherObserved:x:3", "type": "WeatherObserved",
         "temperature": -200, "dateObserved": at},
        {"id": "urn:ngsi-ld:WeatherObserved:x:4", "type": "WeatherObserved",
         "temperature": 21.5, "dateObserved": at},
    ]
    with unit_of_work(fresh_engine) as conn:
        stored, refused = store_batch(conn, Settings(), [(e, source.map(e)) for e in entities])
    assert stored == 2
    assert [(raw["id"][-1], reason) for raw, reason in refused] == [
        ("1", "reading fillingLevel = 7 is outside its plausible range 0 .. 1.5"),
        ("3", "reading temperature = -200 is outside its plausible range -90 .. 70")]
    own = tmp_path / "kpis.yaml"
    own.write_text("kpis: []\nplausible:\n  WasteContainer.fillingLevel: [0, 10]\n")
    with unit_of_work(fresh_engine) as conn:
        stored, refused = store_batch(conn, Settings(kpis_file=own),
                                      [(e, source.map(e)) for e in entities[:1]])
    assert (stored, refused) == (1, [])  # the city's own catalogue decides
    own.write_text("kpis: []\nplausible:\n  temperature: [70, -90]\n")
    with pytest.raises(ValueError, match="plausible range of temperature must be"):
        load_plausible_ranges(own)
