"""Bounded parsing (issue 16, "bombs"): deep XML and JSON, zip members that decompress to
huge sizes, many rows or one endless line, and CSV files with an endless line. Each bomb is
built here on the fly and must end in a one-line SourceFormatError naming the file and the
problem: the run fails with failure "format" and nothing is stored. Caps are module
constants, lowered here so the bombs stay small; one bomb uses the real default."""
from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from connectors import common, csv_source, gtfs, open311_parse
from connectors.base import Connector, SourceFormatError
from connectors.common import json_nesting_exceeds, load_json
from connectors.csv_source import CsvConnector
from connectors.districts import DistrictsConnector
from connectors.gtfs import BoundedMember, Caps, GtfsConnector, read_stops
from connectors.ngsi import NgsiConnector, _error_text
from connectors.ngsi_parse import parse_document, parse_notification
from connectors.open311 import Open311Connector
from connectors.open311_parse import parse_payload, parse_xml
from connectors.runner import run_source
from connectors.sensorthings import SensorThingsConnector
from connectors.sensorthings_parse import parse_collection
from dashboard.model import Asset, District, FeedRun, Observation, Quarantine, ServiceRequest
from dashboard.settings import Settings
from tests.conftest import CITYLENS_CLI

ROOT = Path(__file__).resolve().parents[1]
DEEP = 100_000  # levels of the deep bombs
STOPS_HEADER = b"stop_id,stop_name,stop_lat,stop_lon\n"


def deep(opener: str, closer: str, depth: int = DEEP, middle: str = "") -> str:
    """``depth`` openers, ``middle``, ``depth`` closers."""
    return opener * depth + middle + closer * depth


def failed_run(engine: Engine, connector: Connector, source_id: str) -> str:
    """Run ``connector``; check it failed on format with a one-line error and stored
    nothing (no rows, no quarantine); return the error."""
    report = run_source(engine, Settings(), connector, source_id, full=True)
    assert (report.status, report.failure) == ("failed", "format"), report.error
    assert (report.stored, report.quarantined) == (0, 0)
    assert report.error and "\n" not in report.error
    with engine.connect() as conn:
        for table in (Asset, Observation, ServiceRequest, District, Quarantine):
            assert conn.execute(select(func.count()).select_from(table)).scalar_one() == 0
        run = conn.execute(select(FeedRun.status, FeedRun.error)).one()
    assert (run.status, run.error) == ("failed", report.error)
    return report.error


def one_line_error(error: pytest.ExceptionInfo[SourceFormatError]) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


# --- JSON ----------------------------------------------------------------------------

def test_load_json_refuses_deep_arrays_and_objects_in_one_line() -> None:
    for text in (deep("[", "]"), deep('{"a":', "}", middle="1"), deep("[", "")):
        with pytest.raises(SourceFormatError) as caught:
            load_json(text.encode(), "feed.json")
        assert one_line_error(caught) == ("feed.json: not valid JSON: nested deeper than "
                                          "64 levels")


def test_load_json_limit_is_exact_and_settable(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_json(deep("[", "]", 64), "x") is not None
    with pytest.raises(SourceFormatError, match="nested deeper than 64 levels"):
        load_json(deep("[", "]", 65), "x")
    monkeypatch.setattr(common, "MAX_JSON_DEPTH", 3)
    assert load_json('{"a": [{"b": "[[[[{{{{\\"\\\\"}]}', "x") == {"a": [{"b": '[[[[{{{{"\\'}]}
    with pytest.raises(SourceFormatError, match="^x: not valid JSON: nested deeper than 3 levels$"):
        load_json('{"a": [{"b": []}]}', "x")
    with pytest.raises(SourceFormatError, match="^x: not valid JSON: Expecting"):
        load_json('{"a": [', "x")  # unbalanced: the parser's own words


def depth_of(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(depth_of, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth_of, value.values()), default=0)
    return 0


TRICKY_TEXT = st.text(alphabet='[]{}"\\,:ab é\n', max_size=8)
NESTED = st.recursive(st.none() | st.integers() | TRICKY_TEXT,
                      lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(TRICKY_TEXT, inner, max_size=3), max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(doc=NESTED, ascii_only=st.booleans(), utf16=st.booleans())
def test_nesting_scan_agrees_with_the_parsed_depth(doc: Any, ascii_only: bool,
                                                   utf16: bool) -> None:
    """Brackets, quotes and backslashes inside strings never count; UTF-16 input too."""
    text = json.dumps(doc, ensure_ascii=ascii_only)
    data: str | bytes = text.encode("utf-16") if utf16 else text
    depth = depth_of(doc)
    assert not json_nesting_exceeds(data, depth)
    if depth:
        assert json_nesting_exceeds(data, depth - 1)


@pytest.mark.parametrize("parse", [
    lambda data: parse_document(data, "entities.json"),
    lambda data: parse_notification(data),
    lambda data: parse_collection(data, "entities.json"),
    lambda data: parse_payload(data, "auto", "entities.json"),
], ids=["ngsi", "ngsi-notification", "sensorthings", "open311-json"])
def test_every_json_parser_refuses_deep_documents(parse: Any) -> None:
    for text in (deep("[", "]"), deep('{"a":', "}", middle="1")):
        with pytest.raises(SourceFormatError) as caught:
            parse(text.encode())
        assert one_line_error(caught).endswith("not valid JSON: nested deeper than 64 levels")


def test_ngsi_error_detail_of_a_deep_error_body_is_its_text() -> None:
    response = requests.Response()
    response._content = deep("[", "]").encode()
    response.url, response.status_code = "http://broker/v2/entities", 400
    assert _error_text(response) == "[" * 200


def deep_geojson(geometry_depth: int = 1, properties: str = '{"name": "x"}') -> str:
    coordinates = deep("[", "]", geometry_depth, "0, 0")
    return ('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": '
            f'{properties}, "geometry": {{"type": "Polygon", "coordinates": {coordinates}}}}}]}}')


@pytest.mark.parametrize("document", [
    deep_geojson(geometry_depth=DEEP),
    deep_geojson(properties=deep('{"a": ', "}", middle="1")),
], ids=["deep-coordinates", "deep-properties"])
def test_deep_geojson_districts_fail_the_run(fresh_engine: Engine, tmp_path: Path,
                                             document: str) -> None:
    path = tmp_path / "districts.geojson"
    path.write_text(document)
    error = failed_run(fresh_engine, DistrictsConnector({"location": str(path)}), "districts")
    assert error == f"{path}: not valid JSON: nested deeper than 64 levels"


@pytest.mark.parametrize(("make", "name"), [
    (lambda path: NgsiConnector({"location": path}), "entities.json"),
    (lambda path: SensorThingsConnector({"location": path, "datastream_id": "1",
                                         "metric": "no2"}), "observations.json"),
    (lambda path: Open311Connector({"location": path}), "requests.json"),
], ids=["ngsi", "sensorthings", "open311"])
def test_deep_json_files_fail_the_run(fresh_engine: Engine, tmp_path: Path, make: Any,
                                      name: str) -> None:
    path = tmp_path / name
    path.write_text(deep("[", "]"))
    error = failed_run(fresh_engine, make(str(path)), "deep")
    assert error == f"{path}: not valid JSON: nested deeper than 64 levels"


# --- XML -----------------------------------------------------------------------------

def nested_xml(depth: int) -> bytes:
    """``<service_requests><request><a><a>...`` ``depth`` elements deep."""
    inner = deep("<a>", "</a>", depth - 2, "x")
    return f"<service_requests><request>{inner}</request></service_requests>".encode()


def test_deep_open311_xml_fails_the_run(fresh_engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "requests.xml"
    path.write_text(deep("<a>", "</a>"))
    error = failed_run(fresh_engine, Open311Connector({"location": str(path)}), "open311")
    assert error == f"{path}: not valid XML: nested deeper than 64 levels"


def test_xml_depth_limit_is_exact_and_settable(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_xml(nested_xml(64), "r.xml").tag == "service_requests"
    with pytest.raises(SourceFormatError) as caught:
        parse_xml(nested_xml(65), "r.xml")
    assert one_line_error(caught) == "r.xml: not valid XML: nested deeper than 64 levels"
    monkeypatch.setattr(open311_parse, "MAX_XML_DEPTH", 4)
    [record] = parse_payload(nested_xml(4), "xml", "r.xml")
    assert record == {"a": {"a": "x"}}
    with pytest.raises(SourceFormatError, match="nested deeper than 4 levels"):
        parse_payload(nested_xml(5), "xml", "r.xml")


@pytest.mark.parametrize(("body", "problem"), [
    (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]>'
     b"<service_requests>&b;</service_requests>", "a DTD (<!DOCTYPE ...>) is not allowed"),
    (b'<!DOCTYPE r SYSTEM "http://example.org/r.dtd"><service_requests/>',
     "a DTD (<!DOCTYPE ...>) is not allowed"),
    (b"<service_requests><request>", "no element found: line 1, column 27"),
])
def test_xml_dtds_and_entities_are_refused_in_one_line(body: bytes, problem: str) -> None:
    with pytest.raises(SourceFormatError) as caught:
        parse_payload(body, "xml", "r.xml")
    assert one_line_error(caught) == f"r.xml: not valid XML: {problem}"


# --- GTFS static zip -----------------------------------------------------------------

def write_zip(path: Path, members: dict[str, Iterable[bytes]]) -> Path:
    """A zip whose members are written piece by piece (never whole in memory)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, pieces in members.items():
            with archive.open(name, "w", force_zip64=True) as member:
                for piece in pieces:
                    member.write(piece)
    return path


def zeros(count: int, block: int = 1 << 20) -> Iterable[bytes]:
    """``count`` bytes of b"0", a block at a time."""
    while count > 0:
        yield b"0" * min(block, count)
        count -= block


@pytest.fixture
def small_caps(monkeypatch: pytest.MonkeyPatch) -> None:
    """GTFS caps small enough for bombs of a few hundred KiB."""
    monkeypatch.setattr(gtfs, "MAX_MEMBER_BYTES", 256 * 1024)
    monkeypatch.setattr(gtfs, "MAX_MEMBER_ROWS", 1_000)
    monkeypatch.setattr(gtfs, "MAX_LINE_BYTES", 1024)


def test_cli_refuses_a_member_larger_than_the_default_cap(tmp_path: Path) -> None:
    """The real default (512 MiB), on a 513 MiB member of zeros (about 0.5 MB zipped)."""
    path = write_zip(tmp_path / "feed.zip", {
        "stops.txt": [STOPS_HEADER, *zeros(513 * 1024 * 1024, 16 << 20)]})
    env = {**os.environ, "CITYLENS_VAR_DIR": str(tmp_path / "var"), "CITYLENS_REDIS_URL": ""}
    env.pop("CITYLENS_DATABASE_URL", None)
    done = subprocess.run([*CITYLENS_CLI, "ingest", "gtfs", str(path)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert done.stderr == f"error: {path}: stops.txt is larger than 512 MiB decompressed\n"


@pytest.mark.usefixtures("small_caps")
@pytest.mark.parametrize(("members", "problem"), [
    ({"stops.txt": [STOPS_HEADER, b"1,a,0,0\n", *zeros(200 * 1024)]},
     "stops.txt: line 3 is longer than 1 KiB"),
    ({"stops.txt": [STOPS_HEADER, b"1,a,0,0\n" * 2_000]}, "stops.txt has more than 1,000 lines"),
    ({"stops.txt": [STOPS_HEADER, *[b"1,a,0,0\n" + b"0" * 1000 + b"\n"] * 300]},
     "stops.txt is larger than 256 KiB decompressed"),
    ({"stops.txt": [STOPS_HEADER, b"1,a,0,0\n"],
      "stop_times.txt": [b"trip_id,stop_id\n", b"t,1\n" * 2_000]},
     "stop_times.txt has more than 1,000 lines"),
    ({"stops.txt": [STOPS_HEADER, b"1,a,0,0\n"], "routes.txt": [b"route_id\n", *zeros(10_000)]},
     "routes.txt: line 2 is longer than 1 KiB"),
], ids=["long-line", "many-rows", "large", "many-stop-times", "long-route-line"])
def test_gtfs_bombs_fail_the_run_before_any_stop(fresh_engine: Engine, tmp_path: Path,
                                                 members: dict[str, list[bytes]],
                                                 problem: str) -> None:
    """Valid stops come first in each bomb: none of them is stored."""
    path = write_zip(tmp_path / "feed.zip", members)
    error = failed_run(fresh_engine, GtfsConnector({"location": str(path)}), "gtfs")
    assert error == f"{path}: {problem}"


def test_gtfs_caps_from_the_config(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "feed.zip", {"stops.txt": [STOPS_HEADER, b"1,a,0,0\n" * 50]})
    stream, = GtfsConnector({"location": str(path), "max_member_rows": 20}).streams()
    with pytest.raises(SourceFormatError) as caught:
        list(stream.read(None))
    assert one_line_error(caught) == f"{path}: stops.txt has more than 20 lines"
    path = write_zip(tmp_path / "long.zip", {"stops.txt": [STOPS_HEADER, b"1,a,0," + b"0" * 1500]})
    stream, = GtfsConnector({"location": str(path), "max_line_bytes": 1500}).streams()
    with pytest.raises(SourceFormatError, match="stops.txt: line 2 is longer than 1,500 bytes$"):
        list(stream.read(None))


@pytest.mark.parametrize("end", [b"\n", b"\r\n", b"\r"])
def test_a_feed_within_tight_caps_reads_whole(tmp_path: Path, end: bytes) -> None:
    """Caps count lines ending in LF, CRLF or CR alike; chunk edges do not matter."""
    rows = [b"stop_id,stop_name,stop_lat,stop_lon", *[b"%d,S,1.5,2.5" % i for i in range(300)]]
    path = write_zip(tmp_path / "feed.zip", {
        "stops.txt": [end.join(rows) + end],
        "routes.txt": [end.join([b"route_id,route_short_name", b"r,7"]) + end],
        "trips.txt": [end.join([b"route_id,trip_id", b"r,t"]) + end],
        "stop_times.txt": [end.join([b"trip_id,stop_id", b"t,0", b"t,299"]) + end],
    })
    stops = list(read_stops(str(path), Caps(member_bytes=len(rows) * 16 + 50, rows=302,
                                            line_bytes=36)))
    assert len(stops) == 300
    assert [s["routes"] for s in stops if s["routes"]] == [["7"], ["7"]]


def test_bounded_member_counts_bytes_whatever_the_zip_declares() -> None:
    member = BoundedMember(io.BytesIO(b"1,a,0,0\n" * 100), "feed.zip: stops.txt",
                           Caps(member_bytes=500, rows=1_000, line_bytes=64))
    with pytest.raises(SourceFormatError) as caught:
        member.drain()
    assert one_line_error(caught) == "feed.zip: stops.txt is larger than 500 bytes decompressed"
    assert member.size <= 500 + 64  # refused within one read of the cap


def test_a_member_that_declares_less_than_it_holds_is_refused(tmp_path: Path) -> None:
    """A zip whose directory understates a member's size: decompression stops at the
    declared size and the checksum gives it away (a format failure, not a bomb)."""
    path = tmp_path / "liar.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("stops.txt", STOPS_HEADER + b"1,a,0,0\n" * 10_000)
    data = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.find(signature) + offset
        data[at:at + 4] = struct.pack("<I", 100)
    path.write_bytes(bytes(data))
    with pytest.raises(SourceFormatError) as caught:
        list(read_stops(str(path)))
    assert one_line_error(caught) == (f"{path}: not a readable GTFS zip: BadZipFile: "
                                      "Bad CRC-32 for file 'stops.txt'")


# --- CSV -----------------------------------------------------------------------------

AIR = """entity: observations
type: AirQualityObserved
domain: environment
namespace: test
columns: {id: station, time: measured_at}
metrics:
  - {metric: no2, column: no2, unit: ug/m3}
"""
STATIONS = """entity: assets
type: AirQualityObserved
domain: environment
namespace: test
columns: {id: station, name: name}
"""


def csv_connector(tmp_path: Path, mapping: str, body: bytes) -> CsvConnector:
    (tmp_path / "mapping.yaml").write_text(mapping)
    (tmp_path / "export.csv").write_bytes(body)
    return CsvConnector({"location": str(tmp_path / "export.csv"),
                         "mapping": str(tmp_path / "mapping.yaml")})


@pytest.mark.parametrize(("mapping", "body"), [
    (AIR, b"station,measured_at,no2\nA,2026-01-01T10:00:00Z,12\nB,2026-01-01T10:00:00Z,"
          + b"9" * 5_000 + b"\nC,2026-01-01T10:00:00Z,3\n"),
    (STATIONS, b"station,name\nA,Alpha\nB," + b"x" * 5_000 + b"\nC,Gamma\n"),
], ids=["chunked-observations", "row-by-row-assets"])
def test_a_csv_line_longer_than_the_cap_fails_the_file(
        fresh_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mapping: str,
        body: bytes) -> None:
    monkeypatch.setattr(csv_source, "MAX_LINE_CHARS", 1024)
    connector = csv_connector(tmp_path, mapping, body)
    error = failed_run(fresh_engine, connector, "export")
    assert error == f"{tmp_path / 'export.csv'}: line 3 is longer than 1,024 characters"


def test_a_quoted_cell_may_span_lines_each_within_the_cap(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csv_source, "MAX_LINE_CHARS", 1024)
    cell = "\r\n".join(["y" * 1000] * 5)
    connector = csv_connector(tmp_path, STATIONS, f'station,name\nA,"{cell}"\nB,Beta\n'.encode())
    stream, = connector.streams()
    rows = list(stream.read(None))
    assert [(r["#row"], r["station"], len(r["name"])) for r in rows] == [
        (6, "A", len(cell)), (7, "B", 4)]


def test_the_default_csv_line_cap(tmp_path: Path) -> None:
    """The real default (16 MiB, the csv module's field limit), on a 17 MB line."""
    connector = csv_connector(tmp_path, STATIONS, b"station,name\n" + b"A," + b"x" * (17 << 20))
    stream, = connector.streams()
    with pytest.raises(SourceFormatError) as caught:
        list(stream.read(None))
    assert one_line_error(caught) == (f"{tmp_path / 'export.csv'}: line 2 is longer than "
                                      "16,777,216 characters")
