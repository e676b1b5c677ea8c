"""Hypothesis feeds malformed payloads to every parser: whole documents (JSON nested
deeper than any parser recurses, huge and non-finite numbers, wrong shapes, truncated
text, XML for Open311, protobuf bytes for GTFS-RT, GeoJSON for districts) must be read or
refused with a one-line SourceFormatError, and each record they yield must map or raise
one of the errors the runner quarantines — never anything else, and what maps fits the
store."""
from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.base import BAD_RECORD_ERRORS, Mapped, SourceFormatError, Stream
from connectors.districts import DistrictsConfig, DistrictStream
from connectors.gtfs_rt import GtfsRtConfig, parse_feed, records
from connectors.gtfs_rt import EntitiesStream as GtfsRtStream
from connectors.ngsi import EntitiesStream as NgsiStream
from connectors.ngsi import NgsiConfig
from connectors.ngsi_parse import parse_document, parse_notification
from connectors.open311 import Open311Connector
from connectors.open311_parse import parse_payload
from connectors.sensorthings import SensorThingsConnector
from connectors.sensorthings_parse import parse_collection
from connectors.storing import _check

SCALARS = (st.none() | st.booleans() | st.integers() | st.text(max_size=30)
           | st.floats(allow_nan=True, allow_infinity=True)
           | st.sampled_from(["2026-11-01T10:00:00Z", "9999-12-31T23:59:59Z", "0001-01-01",
                              "1e999", "-1e400", "NaN", "", "urn:ngsi-ld:X:1", "Point"]))
KEYS = st.sampled_from(["id", "type", "value", "location", "coordinates", "dateObserved",
                        "no2", "name", "data", "features", "geometry", "properties",
                        "service_request_id", "requested_datetime", "lat", "long",
                        "service_code", "result", "phenomenonTime", "@iot.id", "value"]) \
    | st.text(max_size=12)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(KEYS, inner, max_size=6), max_leaves=25)


def deep(depth: int, opener: str = "[", closer: str = "]") -> bytes:
    """A JSON (or XML) document nested ``depth`` levels deep."""
    return (opener * depth + closer * depth).encode()


def json_bytes(doc: Any) -> bytes:
    return json.dumps(doc, allow_nan=True).encode()


DOCUMENTS = st.one_of(
    JSON.map(json_bytes),
    JSON.map(json_bytes).flatmap(lambda b: st.integers(0, len(b)).map(lambda n: b[:n])),
    st.integers(1_000, 200_000).map(deep),
    st.integers(1_000, 200_000).map(lambda n: deep(n, '{"a":', "}").replace(b"}", b"", 1)
                                    + b"1" + b"}" * 0),
    st.binary(max_size=200),
)


def read_and_map(parse: Callable[[], Iterable[Any]], stream: Stream) -> None:
    """Parse; map every record; check what maps."""
    try:
        raws = list(parse())
    except SourceFormatError as error:
        assert "\n" not in str(error)
        return
    for raw in raws:
        try:
            mapped = stream.map(raw)
        except BAD_RECORD_ERRORS:
            continue
        assert isinstance(mapped, Mapped)
        _check(mapped)


FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@FUZZ
@given(data=DOCUMENTS)
def test_ngsi_documents_and_notifications(data: bytes) -> None:
    stream = NgsiStream(NgsiConfig(location="x.json", timezone="Europe/Madrid"))
    read_and_map(lambda: parse_document(data, "fuzz.json"), stream)
    read_and_map(lambda: parse_notification(data), stream)


@FUZZ
@given(data=DOCUMENTS)
def test_open311_json(data: bytes) -> None:
    for stream in Open311Connector({"location": "x.json"}).streams():  # services, requests
        read_and_map(lambda: parse_payload(data, "json", "fuzz.json"), stream)


XML_TAGS = st.sampled_from(["service_requests", "request", "service_request_id", "status",
                            "requested_datetime", "lat", "long", "service_code", "services",
                            "service"])
XML = st.recursive(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="<>&"),
            max_size=20),
    lambda inner: st.builds(lambda tag, body: f"<{tag}>{''.join(body)}</{tag}>", XML_TAGS,
                            st.lists(inner, max_size=4)), max_leaves=20)
XML_DOCUMENTS = st.one_of(
    XML.map(lambda x: f"<?xml version='1.0'?><service_requests>{x}</service_requests>".encode()),
    XML.map(str.encode).flatmap(lambda b: st.integers(0, len(b)).map(lambda n: b[:n])),
    st.integers(1_000, 200_000).map(lambda n: deep(n, "<a>", "</a>")),
    st.just(b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'aaaa'><!ENTITY b '&a;&a;&a;'>]>"
            b"<service_requests><request><status>&b;</status></request></service_requests>"),
)


@FUZZ
@given(data=XML_DOCUMENTS)
def test_open311_xml(data: bytes) -> None:
    for stream in Open311Connector({"location": "x.xml"}).streams():
        read_and_map(lambda: parse_payload(data, "xml", "fuzz.xml"), stream)


@FUZZ
@given(data=DOCUMENTS)
def test_sensorthings_collections(data: bytes) -> None:
    [stream] = SensorThingsConnector({"location": "x.json", "datastream_id": "1",
                                      "metric": "no2"}).streams()
    about = stream.file_datastream()  # what a file read attaches to each Observation

    def observations() -> list[Any]:
        return [{**raw, "Datastream": about} if isinstance(raw, dict) else raw
                for raw in parse_collection(data, "fuzz.json")[0]]

    read_and_map(observations, stream)


@FUZZ
@given(data=st.binary(max_size=400))
def test_gtfs_realtime_bytes(data: bytes) -> None:
    stream = GtfsRtStream(GtfsRtConfig(location="x.pb"))
    read_and_map(lambda: records(parse_feed(data, "fuzz.pb"), "fuzz.pb"), stream)


@FUZZ
@given(data=DOCUMENTS)
def test_district_geojson(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "districts.geojson"
        path.write_bytes(data)
        stream = DistrictStream(DistrictsConfig(location=str(path)))
        read_and_map(lambda: stream.read(None), stream)
