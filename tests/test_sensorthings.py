"""The OGC SensorThings API connector, against real FROST payloads and a local server."""
from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlparse

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy import Engine, func, select

from connectors import sensorthings
from connectors.base import SourceFormatError
from connectors.registry import get_connector
from connectors.runner import run_source
from connectors.sensorthings import SensorThingsConnector
from dashboard.model import Asset, Observation, Quarantine
from dashboard.settings import Settings

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "sensorthings"
REAL = FIXTURES / "observationsDataFixtureRealExample.json"
PAGE = FIXTURES / "observationsRawDataResponseFixture.json"
needs_fixtures = pytest.mark.skipif(
    not FIXTURES.is_dir(), reason=f"SensorThings fixtures not found at {FIXTURES}"
)
UTC = timezone.utc
FILE_CONFIG = {"datastream_id": 1, "metric": "Air Temperature", "unit": "°C",
               "lat": 52.94, "lon": -1.2}


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def file_stream(path: Path, **extra: Any) -> Any:
    stream, = SensorThingsConnector({"location": str(path), **FILE_CONFIG, **extra}).streams()
    return stream


def rows(stream: Any, watermark: str | None = None) -> list[dict[str, Any]]:
    return [o for raw in stream.read(watermark) for o in stream.map(raw).observations]


# --- files --------------------------------------------------------------------------

@needs_fixtures
def test_real_example_maps_every_observation() -> None:
    stream = file_stream(REAL, name="BGS temperature")
    found = rows(stream)
    assert len(found) == 101 and len({o["time"] for o in found}) == 101
    first = stream.map(next(iter(stream.read(None))))
    assert first.observations == [{
        "asset_id": "urn:ngsi-ld:Device:sta:file:1", "metric": "air_temperature",
        "time": utc(2023, 3, 28, 12, 15), "value": 8.81, "unit": "°C"}]
    assert first.cursor == "2023-03-28T12:15:00Z"
    asset, = first.assets
    assert (asset["type"], asset["domain"], asset["name"], asset["lat"], asset["lon"]) == (
        "Device", "environment", "BGS temperature", 52.94, -1.2)
    assert min(o["time"] for o in found) == utc(2023, 1, 22, 9, 30)
    assert max(o["time"] for o in found) == utc(2023, 4, 23, 16, 45)
    assert (min(o["value"] for o in found), max(o["value"] for o in found)) == (4.38, 17.94)
    assert round(sum(o["value"] for o in found), 2) == 890.85
    assert next(o["value"] for o in found if o["time"] == utc(2023, 4, 22, 17, 15)) == 17.0
    assert len(rows(stream, "2023-03-28T12:15:00Z")) == 61  # hand-counted, strictly newer


@needs_fixtures
def test_collection_page_does_not_follow_remote_next_link(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sensorthings.requests, "get", None)  # a file is never read over HTTP
    found = rows(file_stream(PAGE, metric="Air Pressure", unit="hPa", host="sensors.bgs.ac.uk"))
    assert [(o["time"], o["value"]) for o in found] == [
        (utc(2023, 3, 28, 10, 30), 1009.86), (utc(2023, 3, 28, 12, 15), 1008.17),
        (utc(2023, 3, 28, 18, 15), 1005.7)]
    assert {(o["asset_id"], o["metric"], o["unit"]) for o in found} == {
        ("urn:ngsi-ld:Device:sta:sensors-bgs-ac-uk:1", "air_pressure", "hPa")}


@pytest.mark.parametrize(("body", "problem"), [
    (b'{"value": [', "not valid JSON"), (b"42", "not a collection"),
    (b'{"count": 1}', "no 'value' list"),
])
def test_unparseable_file_names_it(tmp_path: Path, body: bytes, problem: str) -> None:
    path = tmp_path / "obs.json"
    path.write_bytes(body)
    with pytest.raises(SourceFormatError, match=problem) as caught:
        list(file_stream(path).read(None))
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_bad_observations_fail_alone(tmp_path: Path) -> None:
    good = {"@iot.id": 1, "phenomenonTime": "2024-01-01T00:00:00Z/2024-01-01T01:00:00+01:00",
            "result": "3.5"}
    path = tmp_path / "obs.json"
    path.write_text(json.dumps([good, {**good, "result": "n/a"}, {**good, "result": True},
                                {**good, "phenomenonTime": "yesterday"}, "text"]))
    stream, reasons, mapped = file_stream(path), [], []
    for raw in stream.read(None):
        try:
            mapped.extend(stream.map(raw).observations)
        except ValueError as error:
            reasons.append(str(error))
    assert [(o["time"], o["value"]) for o in mapped] == [(utc(2024, 1, 1), 3.5)]  # interval end
    assert reasons == ["result is not a number: 'n/a'", "result is not a number: 'True'",
                       "phenomenonTime is not an ISO-8601 time: 'yesterday'",
                       "Observation is not an object: str"]


def test_config_is_checked() -> None:
    assert get_connector("sensorthings") is SensorThingsConnector
    with pytest.raises(ValidationError, match="datastream_id and metric"):
        SensorThingsConnector({"location": "obs.json"})
    with pytest.raises(ValidationError, match="unknown domain"):
        SensorThingsConnector({"location": "http://h/v1.1", "domain": "weather"})
    server = SensorThingsConnector({"location": "http://h/v1.1", "password": "s3cret"})
    assert "s3cret" not in repr(server.config)
    assert [s.name for s in server.streams()] == ["datastreams", "observations"]


# --- a local server -----------------------------------------------------------------

def _observations(start: datetime, values: list[Any]) -> list[dict[str, Any]]:
    return [{"@iot.id": f"{start:%d%H}-{n}", "result": value,
             "phenomenonTime": (start + timedelta(hours=n)).strftime("%Y-%m-%dT%H:%M:%S.000Z")}
            for n, value in enumerate(values)]


def _datastream(ds_id: int, name: str, prop: str, symbol: str) -> dict[str, Any]:
    return {"@iot.id": ds_id, "name": name, "ObservedProperty": {"name": prop},
            "unitOfMeasurement": {"name": prop, "symbol": symbol, "definition": ""}}


def _located(lon: float, lat: float) -> list[dict[str, Any]]:
    return [{"@iot.id": lon, "location": {"type": "Point", "coordinates": [lon, lat]}}]


class FakeSta:
    """A SensorThings server: pages of 3, nextLinks, and the phenomenonTime filter."""

    PAGE_SIZE = 3

    def __init__(self) -> None:
        self.things = [
            {"@iot.id": 1, "name": "Plaza Mayor", "Locations": _located(-3.70738, 40.41548),
             "Datastreams": [_datastream(1, "Temperature", "Air Temperature", "°C"),
                             _datastream(2, "Humidity", "Relative Humidity", "%")]},
            {"@iot.id": 2, "name": "Retiro", "Locations": _located(-3.68444, 40.41528),
             "Datastreams": [_datastream(3, "NO2", "NO2", "µg/m³")]},
            {"@iot.id": 3, "name": "Spare", "Locations": [], "Datastreams": []},
            {"@iot.id": 4, "name": "Van", "Locations": [],
             "Datastreams": [_datastream(4, "Noise", "Noise Level", "dB")]},
        ]
        base = utc(2024, 5, 1)
        self.observations = {
            1: _observations(base, [14.5, 15, 15.5, 16, 16.5, 17, 18]),  # 00:00 .. 06:00
            2: _observations(base, [60, 61, 62, 63, 64]),
            3: _observations(base, [21, "n/a", 23, 24]),
            4: _observations(base, [55.5, 56]),
        }
        self.observations[3][2]["phenomenonTime"] = "2024-05-01T01:30:00Z/2024-05-01T02:00:00Z"
        self.queries: list[tuple[str, dict[str, str]]] = []
        self.url = ""

    def answer(self, path: str, query: dict[str, str]) -> tuple[int, Any]:
        self.queries.append((path, query))
        if path.rstrip("/") == "/v1.1":  # the service root
            return 200, {"value": [{"name": "Things", "url": f"{self.url}/v1.1/Things"}]}
        if path == "/v1.1/Things":
            return 200, self.page(path, self.things, query)
        if path.startswith("/v1.1/Datastreams(") and path.endswith(")/Observations"):
            ds_id = path.removeprefix("/v1.1/Datastreams(").removesuffix(")/Observations")
            found = self.observations.get(int(ds_id))
            if found is None:
                return 404, {"message": "no such Datastream"}
            chosen = sorted(found, key=lambda o: o["phenomenonTime"].split("/")[-1])
            if "$filter" in query:
                after = datetime.fromisoformat(query["$filter"].split(" gt ")[1])
                chosen = [o for o in chosen if datetime.fromisoformat(
                    o["phenomenonTime"].split("/")[-1]) > after]
            return 200, self.page(path, chosen, query)
        return 404, {"message": "not found"}

    def page(self, path: str, entities: list[Any], query: dict[str, str]) -> dict[str, Any]:
        skip = int(query.get("$skip", 0))
        body: dict[str, Any] = {"value": entities[skip:skip + self.PAGE_SIZE]}
        if skip + self.PAGE_SIZE < len(entities):
            rest = {k: v for k, v in query.items() if k != "$skip"}
            link = "&".join(f"{k}={quote(v)}" for k, v in (rest | {
                "$skip": str(skip + self.PAGE_SIZE)}).items())
            body["@iot.nextLink"] = f"{self.url}{path}?{link}"
        return body


@pytest.fixture
def sta() -> Iterator[FakeSta]:
    """A FakeSta served on 127.0.0.1 (port 0, in a thread); its service root in ``url``."""
    fake = FakeSta()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server name
            parts = urlparse(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            status, doc = fake.answer(parts.path, query)
            body = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield fake
    server.shutdown()
    server.server_close()


def _count(engine: Engine, model: type) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(model)).scalar_one()


def test_server_end_to_end(fresh_engine: Engine, sta: FakeSta) -> None:
    connector = SensorThingsConnector({"location": f"{sta.url}/v1.1/"})
    assert connector.check().ok
    first = run_source(fresh_engine, Settings(), connector, "sta", connector.config.location)
    assert (first.status, first.records_in, first.stored, first.quarantined) == (
        "partial", 4 + 18, 4 + 17, 1)  # 4 datastreams; "n/a" is not a number
    assert first.watermark == "2024-05-01T06:00:00Z"
    assert sum(p == "/v1.1/Things" for p, _ in sta.queries) == 2  # 4 Things, pages of 3
    assert sum(p == "/v1.1/Datastreams(1)/Observations" for p, _ in sta.queries) == 3
    assert all(q["$orderby"] == "phenomenonTime asc" and "$filter" not in q
               for p, q in sta.queries if p.endswith("Observations"))
    slug = "127-0-0-1-" + sta.url.rsplit(":", 1)[1]
    with fresh_engine.connect() as conn:
        assets = {a.id: a for a in conn.execute(select(Asset)).all()}
        stored = conn.execute(
            select(Asset.id, Observation.metric, Observation.time, Observation.value,
                   Observation.unit).join(Asset, Asset.pk == Observation.asset_pk)).all()
        reasons = conn.execute(select(Quarantine.reason)).scalars().all()
    plaza = assets[f"urn:ngsi-ld:Device:sta:{slug}:1"]
    assert (plaza.type, plaza.domain, plaza.name) == ("Device", "environment",
                                                      "Plaza Mayor - Temperature")
    assert (plaza.lat, plaza.lon, plaza.source_id) == (40.41548, -3.70738, "sta")
    assert plaza.attributes["observedProperty"] == "Air Temperature"
    assert plaza.attributes["unitOfMeasurement"]["symbol"] == "°C"
    assert assets[f"urn:ngsi-ld:Device:sta:{slug}:3"].lat == 40.41528
    assert assets[f"urn:ngsi-ld:Device:sta:{slug}:4"].lat is None  # a Thing without Location
    assert len(assets) == 4 and len(stored) == 17
    t0 = int(utc(2024, 5, 1).timestamp())
    assert (f"urn:ngsi-ld:Device:sta:{slug}:1", "air_temperature", t0 + 6 * 3600, 18.0,
            "°C") in stored
    assert (f"urn:ngsi-ld:Device:sta:{slug}:3", "no2", t0 + 2 * 3600, 23.0,
            "µg/m³") in stored  # an interval's end
    assert reasons == ["observations: result is not a number: 'n/a'"]

    sta.observations[1] += _observations(utc(2024, 5, 1, 10), [19, 20])
    sta.observations[2] += _observations(utc(2024, 5, 1, 5), [65])  # not after the watermark
    sta.observations[4] += _observations(utc(2024, 5, 1, 7), [57])
    sta.queries.clear()
    second = run_source(fresh_engine, Settings(), connector, "sta", connector.config.location)
    assert (second.status, second.records_in, second.stored) == ("ok", 4 + 3, 4 + 3)
    assert second.watermark == "2024-05-01T11:00:00Z"
    assert {q.get("$filter") for p, q in sta.queries if p.endswith("Observations")} == {
        "phenomenonTime gt 2024-05-01T06:00:00Z"}
    assert _count(fresh_engine, Observation) == 20

    again = run_source(fresh_engine, Settings(), connector, "sta", full=True)
    assert (again.records_in, again.quarantined) == (4 + 22, 1)
    assert (_count(fresh_engine, Asset), _count(fresh_engine, Observation)) == (4, 21)


def test_next_link_to_another_host_is_not_followed(sta: FakeSta) -> None:
    original = sta.page

    def elsewhere(path: str, entities: list[Any], query: dict[str, str]) -> dict[str, Any]:
        body = original(path, entities, query)
        if "@iot.nextLink" in body:
            body["@iot.nextLink"] = "http://sensors.example.invalid/v1.1/Things?$skip=3"
        return body

    sta.page = elsewhere  # type: ignore[method-assign]
    datastreams, _ = SensorThingsConnector({"location": f"{sta.url}/v1.1"}).streams()
    assert [d["@iot.id"] for d in datastreams.read(None)] == [1, 2, 3]  # the first page only


def test_max_pages_and_one_datastream(sta: FakeSta) -> None:
    config = {"location": f"{sta.url}/v1.1", "datastream_id": 1, "max_pages": 2}
    datastreams, observations = SensorThingsConnector(config).streams()
    assert [d["@iot.id"] for d in datastreams.read(None)] == [1]
    assert len(list(observations.read(None))) == 6  # 2 pages of 3 of the 7


def test_server_errors(sta: FakeSta) -> None:
    calls: list[str] = []

    def busy(path: str, query: dict[str, str]) -> tuple[int, Any]:
        calls.append(path)
        return 503, {"message": "busy"}

    sta.answer = busy  # type: ignore[method-assign]
    datastreams, _ = SensorThingsConnector({"location": f"{sta.url}/v1.1"}).streams()
    with pytest.raises(ConnectionError, match="unreachable after 4 tries"):
        list(datastreams.read(None))
    assert len(calls) == 4
    sta.answer = lambda path, query: (200, "not a collection")  # type: ignore[method-assign]
    with pytest.raises(SourceFormatError, match="not a collection"):
        list(SensorThingsConnector({"location": f"{sta.url}/v1.1"}).streams()[0].read(None))


def test_server_down_fails_the_run(fresh_engine: Engine) -> None:
    with socket.socket() as sock:
        port = sock.bind(("127.0.0.1", 0)) or sock.getsockname()[1]
    connector = SensorThingsConnector({"location": f"http://127.0.0.1:{port}/v1.1",
                                       "timeout_seconds": 2})
    assert not connector.check().ok
    report = run_source(fresh_engine, Settings(), connector, "down")
    assert (report.status, report.failure, report.stored) == ("failed", "unavailable", 0)
    assert "unreachable after 4 tries" in (report.error or "")


# --- properties ---------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text()
    | st.sampled_from(["2024-05-01T00:00:00Z", "a/2024-05-01T00:00:00+02:00", "1e999", "nan",
                       "9999-12-31T23:59:59-23:59", "Point"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=6,
)
FIELDS = ["@iot.id", "phenomenonTime", "result", "Datastream", "name", "ObservedProperty",
          "unitOfMeasurement", "Thing", "Locations", "location", "coordinates", "type", "symbol"]
OBJECTS = st.recursive(
    st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=5),
    lambda inner: st.dictionaries(st.sampled_from(FIELDS), inner | JSON, max_size=5),
    max_leaves=8,
)
VALID = {"@iot.id": 9, "phenomenonTime": "2024-05-01T00:00:00Z", "result": 1.5,
         "Datastream": {"@iot.id": 2, "ObservedProperty": {"name": "NO2"},
                        "Thing": {"Locations": _located(2.0, 41.0)}}}
NEAR_VALID = st.tuples(st.sampled_from(FIELDS), JSON | OBJECTS).map(
    lambda kv: VALID | {kv[0]: kv[1]})
FILE = SensorThingsConnector({"location": "obs.json", **FILE_CONFIG}).streams()[0]
SERVER = SensorThingsConnector({"location": "http://h/v1.1"}).streams()


@settings(max_examples=300, deadline=None)
@given(st.one_of(JSON, OBJECTS, NEAR_VALID))
def test_map_raises_only_value_error(record: Any) -> None:
    for stream in (FILE, *SERVER):
        try:
            mapped = stream.map(record)
        except ValueError:
            continue
        for asset in mapped.assets:
            assert len(asset["id"]) <= 200 and asset["type"] == "Device"
            assert asset["lat"] is None or -90 <= asset["lat"] <= 90
        for row in mapped.observations:
            assert row["time"].tzinfo is not None and row["value"] == row["value"]
            assert 0 < len(row["metric"]) <= 60 and mapped.cursor
