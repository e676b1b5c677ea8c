"""The Open311 GeoReport v2 connector, against real city payloads and a local server."""
from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.base import SourceFormatError
from connectors.open311 import Open311Config, Open311Connector, RequestsStream, ServicesStream
from connectors.open311_parse import map_request, parse_payload
from connectors.registry import get_connector
from tests.conftest import set_retry_policy

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "open311"
needs_fixtures = pytest.mark.skipif(
    not FIXTURES.is_dir(), reason=f"Open311 fixtures not found at {FIXTURES}"
)
UTC = timezone.utc


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def streams(location: str, services: str | None = None, **extra: Any) -> dict[str, Any]:
    connector = Open311Connector({"location": location, "services": services, **extra})
    return {s.name: s for s in connector.streams()}


def read_all(stream: Any, watermark: str | None = None) -> tuple[list[Any], list[str]]:
    """Map every record; return the good rows and the reasons of the bad ones."""
    rows, bad = [], []
    for raw in stream.read(watermark):
        try:
            mapped = stream.map(raw)
        except ValueError as error:
            bad.append(str(error))
        else:
            rows.extend(mapped.service_requests or mapped.services)
    return rows, bad


# --- real fixtures ------------------------------------------------------------------

@needs_fixtures
@pytest.mark.parametrize(("name", "count"), [
    ("bloomington_requests.json", 21),
    ("chicago_service_requests.json", 2),
    ("san_francisco_requests.xml", 56),
])
def test_every_request_fixture_maps(name: str, count: int) -> None:
    rows, bad = read_all(streams(str(FIXTURES / name))["requests"])
    assert (len(rows), bad) == (count, [])
    for row in rows:
        assert row["status"] in ("open", "closed")
        assert row["requested_at"].tzinfo == UTC
        assert row["citizen_id"] is None and row["district_id"] is None


@needs_fixtures
@pytest.mark.parametrize(("name", "count"), [
    ("bloomington_services.json", 46), ("san_francisco_services.xml", 38),
])
def test_every_service_fixture_maps(name: str, count: int) -> None:
    found = streams(str(FIXTURES / "chicago_service_requests.json"), str(FIXTURES / name))
    assert list(found) == ["services", "requests"]
    rows, bad = read_all(found["services"])
    assert (len(rows), bad) == (count, [])
    assert all(r["online"] and r["domain"] == "services" and r["sla_hours"] is None for r in rows)


@needs_fixtures
def test_bloomington_fields() -> None:
    rows = {r["id"]: r for r in read_all(streams(str(FIXTURES / "bloomington_requests.json"))
                                         ["requests"])[0]}
    first = rows["4fbd40b2b1fe2c4b02000001"]
    assert first["requested_at"] == utc(2012, 5, 23, 19, 55, 28)  # -04:00 converted
    assert first["updated_at"] == utc(2012, 5, 23, 19, 55, 30)
    assert (first["lat"], first["lon"], first["address"]) == (None, None, "")
    assert first["department"] == "Street Department" and first["channel"] == "unknown"
    assert first["description"].startswith("I'm not sure if this intersection")
    closed = rows["4fbd14bbb1fe2c5214000000"]
    assert closed["status"] == "closed" and closed["closed_at"] == utc(2012, 5, 23, 16, 47, 59)
    assert (closed["lat"], closed["lon"]) == (39.139614, -86.49149)
    assert rows["4fbd2b76b1fe2c195f000000"]["lat"] is None  # lat/long 0,0: not located


@needs_fixtures
def test_san_francisco_xml_fields() -> None:
    stream = streams(str(FIXTURES / "san_francisco_requests.xml"))["requests"]
    raws = {r["service_request_id"]: r for r in stream.read(None)}
    first = stream.map(raws["1129806"])
    row = first.service_requests[0]
    assert row["status"] == "open"  # "Open"
    assert row["updated_at"] is None  # xsi:nil
    assert row["requested_at"] == datetime(2012, 5, 22, 23, 57, 23, 970000, tzinfo=UTC)
    assert row["expected_at"] == utc(2012, 5, 31, 8, 30)
    assert row["department"] == "unknown" and row["status_notes"] == ""  # empty elements
    assert row["address"] == "SAN FRANCISCO , CA" and row["lat"] is None
    assert first.cursor == "2012-05-22T23:57:23Z"
    closed = stream.map(raws["1129755"]).service_requests[0]
    assert closed["status"] == "closed"
    assert closed["closed_at"] == datetime(2012, 5, 22, 22, 27, 21, 237000, tzinfo=UTC)
    assert (closed["lat"], closed["lon"]) == (37.738567, -122.49258)


@needs_fixtures
def test_naive_times_in_configured_zone() -> None:
    stream = streams(str(FIXTURES / "san_francisco_requests.xml"),
                     timezone="America/Los_Angeles")["requests"]
    raw = next(r for r in stream.read(None) if r["service_request_id"] == "1129806")
    mapped = stream.map(raw)
    assert mapped.service_requests[0]["requested_at"] == datetime(
        2012, 5, 23, 6, 57, 23, 970000, tzinfo=UTC)  # PDT is UTC-7
    assert mapped.cursor == "2012-05-23T06:57:23Z"


@needs_fixtures
def test_chicago_and_services_fields() -> None:
    rows = read_all(streams(str(FIXTURES / "chicago_service_requests.json"))["requests"])[0]
    locked = next(r for r in rows if r["id"] == "14-01100627")
    assert locked["status_notes"] == "Locked"
    assert locked["requested_at"] == utc(2014, 7, 12, 15, 48, 56)  # -05:00 converted
    sf = streams(str(FIXTURES / "chicago_service_requests.json"),
                 str(FIXTURES / "san_francisco_services.xml"))["services"]
    first = read_all(sf)[0][0]
    assert first == {
        "service_code": "001", "service_name": "Cans_Left_Out_24x7",
        "description": first["description"], "department": "Litter Receptacles",
        "group": "Litter Receptacles", "domain": "services", "sla_hours": None, "online": True,
    }
    assert first["description"].startswith("Garbage or recycling cans")


@needs_fixtures
@pytest.mark.parametrize("watermark", ["2012-05-23T16:00:00Z", "2012-05-23T12:00:00-04:00"])
def test_file_watermark_yields_only_newer(watermark: str) -> None:
    stream = streams(str(FIXTURES / "bloomington_requests.json"))["requests"]
    newer = list(stream.read(watermark))
    assert len(newer) == 11  # hand-counted: updated after 12:00 EDT on 23 May
    assert all(stream.map(r).cursor > "2012-05-23T16:00:00Z" for r in newer)
    assert list(stream.read("2012-05-23T19:55:30Z")) == []  # the newest record's cursor


# --- malformed input ----------------------------------------------------------------

@pytest.mark.parametrize(("name", "body", "problem"), [
    ("broken.json", b'[{"service_request_id": "1",', "not valid JSON"),
    ("broken.xml", b"<service_requests><request><status>open</status>", "not valid XML"),
    ("scalar.json", b"42", "not a list"),
    ("bomb.xml", b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]>'
                 b"<service_requests>&b;</service_requests>", "not valid XML"),
])
def test_unparseable_file_names_it(tmp_path: Path, name: str, body: bytes, problem: str) -> None:
    path = tmp_path / name
    path.write_bytes(body)
    with pytest.raises(SourceFormatError, match=problem) as caught:
        list(streams(str(path))["requests"].read(None))
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


@needs_fixtures
def test_bad_records_fail_alone(tmp_path: Path) -> None:
    records = json.loads((FIXTURES / "bloomington_requests.json").read_text())
    records[3]["status"] = "Pending"
    records[5]["lat"] = "abc"
    records[7]["long"] = 200
    del records[9]["service_request_id"]
    path = tmp_path / "requests.json"
    path.write_text(json.dumps({"service_requests": records}))
    rows, bad = read_all(streams(str(path))["requests"])
    assert len(rows) == 17
    assert bad == ["unknown status 'Pending' (expected open or closed)",
                   "lat is not a number: 'abc'", "long out of range: '200'",
                   "missing service_request_id"]


def test_missing_file_and_check(tmp_path: Path) -> None:
    missing = Open311Connector({"location": str(tmp_path / "nope.json")})
    assert not missing.check().ok
    with pytest.raises(FileNotFoundError):
        list(missing.streams()[0].read(None))
    (tmp_path / "r.json").write_text("[]")
    assert Open311Connector({"location": str(tmp_path / "r.json")}).check().ok


def test_registered_and_config_checked() -> None:
    assert get_connector("open311") is Open311Connector
    with pytest.raises(ValueError, match="unknown time zone"):
        Open311Config(location="x.json", timezone="Mars/Olympus")
    with pytest.raises(ValueError):
        Open311Config(location="x.json", colour="red")  # type: ignore[call-arg]


# --- HTTP ---------------------------------------------------------------------------

Handler = Callable[[BaseHTTPRequestHandler, dict[str, str]], None]


@pytest.fixture
def serve() -> Iterator[Callable[[Handler], str]]:
    """Start local servers answering with a handler; yield a function giving their URL."""
    servers: list[ThreadingHTTPServer] = []

    def start(handle: Handler) -> str:
        class _Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server name
                query = {k: v[-1] for k, v in parse_qs(urlparse(self.path).query).items()}
                handle(self, query)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/requests.json"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def answer(handler: BaseHTTPRequestHandler, status: int, body: bytes,
           kind: str = "application/json") -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", kind)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    set_retry_policy(monkeypatch, attempts=4, base_seconds=0.01)


def bloomington_server(seen: list[dict[str, str]]) -> Handler:
    """Pages of the Bloomington requests; start_date filters on requested time (the spec)."""
    records = json.loads((FIXTURES / "bloomington_requests.json").read_text())

    def handle(handler: BaseHTTPRequestHandler, query: dict[str, str]) -> None:
        seen.append(query)
        chosen = records
        if "start_date" in query:
            start = datetime.fromisoformat(query["start_date"])
            chosen = [r for r in records
                      if datetime.fromisoformat(r["requested_datetime"]) >= start]
        page, size = int(query.get("page", 1)), int(query.get("page_size", 1000))
        answer(handler, 200, json.dumps(chosen[(page - 1) * size: page * size]).encode())

    return handle


@needs_fixtures
@pytest.mark.parametrize(("page_size", "calls"), [(10, 3), (7, 4), (100, 1)])
def test_http_pages(serve: Callable[[Handler], str], page_size: int, calls: int) -> None:
    seen: list[dict[str, str]] = []
    url = serve(bloomington_server(seen))
    stream = streams(url, page_size=page_size, api_key="s3cret")["requests"]
    rows, bad = read_all(stream)
    assert (len(rows), bad, len({r["id"] for r in rows})) == (21, [], 21)
    assert [q["page"] for q in seen] == [str(n) for n in range(1, calls + 1)]
    assert all(q["api_key"] == "s3cret" and q["page_size"] == str(page_size) for q in seen)
    assert "start_date" not in seen[0]


@needs_fixtures
def test_http_watermark_and_max_pages(serve: Callable[[Handler], str]) -> None:
    seen: list[dict[str, str]] = []
    url = serve(bloomington_server(seen))
    stream = streams(url, page_size=10)["requests"]
    newer = list(stream.read("2012-05-23T16:00:00Z"))
    assert seen[0]["start_date"] == "2012-05-23T16:00:00Z"
    # requested on or after the start date (server) and updated after it (client)
    assert len(newer) == 10 and len(seen) == 2  # a full page, then an empty one
    seen.clear()
    assert len(list(streams(url, page_size=5, max_pages=2)["requests"].read(None))) == 10
    assert len(seen) == 2


@needs_fixtures
def test_http_xml_and_server_ignoring_pages(serve: Callable[[Handler], str]) -> None:
    body = (FIXTURES / "san_francisco_requests.xml").read_bytes()
    calls: list[dict[str, str]] = []
    url = serve(lambda h, q: (calls.append(q), answer(h, 200, body, "text/xml")))
    assert len(read_all(streams(url, page_size=56)["requests"])[0]) == 56
    assert len(calls) == 2  # full page, then the same records again: stop, no duplicates


def test_http_503_then_ok_is_retried(serve: Callable[[Handler], str], fast_retries: None) -> None:
    calls: list[dict[str, str]] = []

    def flaky(handler: BaseHTTPRequestHandler, query: dict[str, str]) -> None:
        calls.append(query)
        if len(calls) < 3:
            answer(handler, 503, b"busy")
        else:
            answer(handler, 200, b'[{"service_request_id": "1", "status": "open",'
                                 b' "requested_datetime": "2024-01-01T00:00:00Z"}]')

    rows, bad = read_all(streams(serve(flaky))["requests"])
    assert (len(rows), bad, len(calls)) == (1, [], 3)


def test_http_400_fails_at_once(serve: Callable[[Handler], str], fast_retries: None) -> None:
    calls: list[dict[str, str]] = []
    url = serve(lambda h, q: (calls.append(q), answer(h, 403, b"bad api_key s3cret")))
    with pytest.raises(ConnectionError, match="HTTP 403") as caught:
        list(streams(url, api_key="s3cret")["requests"].read(None))
    assert len(calls) == 1 and "s3cret" not in str(caught.value)
    assert not Open311Connector({"location": url}).check().ok


def test_closed_port_raises_after_retries(fast_retries: None) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/requests.json"
    with pytest.raises(ConnectionError, match="unreachable after 4 tries") as caught:
        list(streams(url, api_key="s3cret", timeout_seconds=2)["requests"].read(None))
    assert "s3cret" not in str(caught.value) and "\n" not in str(caught.value)
    check = Open311Connector({"location": url, "api_key": "s3cret"}).check()
    assert not check.ok and "s3cret" not in check.message


# --- properties ---------------------------------------------------------------------

FIELDS = ["service_request_id", "status", "status_notes", "service_name", "service_code",
          "description", "agency_responsible", "requested_datetime", "updated_datetime",
          "expected_datetime", "closed_datetime", "address", "lat", "long", "channel", "source"]
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text()
    | st.sampled_from(["open", "CLOSED", "2012-05-22 23:57:23.97", "2012-05-23T15:55:28-04:00",
                       "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+01:00", "1e999", "nan"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=5,
)
RECORDS = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), VALUES, max_size=12)
VALID = {"service_request_id": "1", "status": "open", "service_code": "42",
         "requested_datetime": "2012-05-23T15:55:28-04:00", "lat": 39.1, "long": -86.5}
NEAR_VALID = st.tuples(st.sampled_from(FIELDS), VALUES).map(lambda kv: VALID | {kv[0]: kv[1]})


@settings(max_examples=200, deadline=None)
@given(st.one_of(RECORDS, NEAR_VALID, st.text(), st.integers(), st.lists(st.text(), max_size=3)))
def test_map_raises_only_value_error(record: Any) -> None:
    stream = RequestsStream(Open311Config(location="x.json", timezone="Europe/Madrid"), "x.json")
    try:
        row = stream.map(record).service_requests[0]
    except ValueError:
        return
    assert row["status"] in ("open", "closed") and row["requested_at"].tzinfo == UTC
    assert len(row["id"]) <= 100 and len(row["channel"]) <= 20
    services = ServicesStream(Open311Config(location="x.json"), "s.json")
    try:
        services.map(record)
    except ValueError:
        pass


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("open311")


SF_XML = (FIXTURES / "san_francisco_requests.xml").read_bytes() if FIXTURES.is_dir() else b"<a/>"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(
    st.binary(max_size=300),
    st.binary(max_size=100).map(lambda b: b"<" + b),
    st.binary(max_size=100).map(lambda b: b"[" + b),
    st.tuples(st.integers(0, len(SF_XML)), st.binary(max_size=5))
    .map(lambda cut: SF_XML[:cut[0]] + cut[1] + SF_XML[cut[0] + len(cut[1]):]),
), st.sampled_from(["data.json", "data.xml", "data.txt"]))
def test_arbitrary_bytes_parse_or_raise_format_error(
    scratch: Path, data: bytes, name: str
) -> None:
    path = scratch / name
    path.write_bytes(data)
    stream = streams(str(path))["requests"]
    try:
        records = list(stream.read("2012-05-22T00:00:00Z"))
    except SourceFormatError as error:
        assert str(path) in str(error)
        return
    assert len(records) <= len(parse_payload(data, "auto", str(path)))  # watermark filter
    for record in records:
        try:
            map_request(record)
        except ValueError:
            pass


@needs_fixtures
def test_a_request_dated_9999_is_quarantined_and_the_next_run_still_reads(
        tmp_path: Path, fresh_engine: Any) -> None:
    """One request in year 9999 among real ones: quarantined with its reason, the rest
    stored, and the watermark stays on the real ones, so a later request is read."""
    from sqlalchemy import func, select

    from connectors.runner import run_source
    from dashboard.model import Quarantine, ServiceRequest
    from dashboard.settings import Settings

    records = json.loads((FIXTURES / "bloomington_requests.json").read_text())
    records[0]["requested_datetime"] = records[0]["updated_datetime"] = "9999-12-31T23:00:00Z"
    path = tmp_path / "requests.json"
    path.write_text(json.dumps({"service_requests": records}))
    settings = Settings(now=datetime(2026, 12, 4, tzinfo=timezone.utc))
    first = run_source(fresh_engine, settings, Open311Connector({"location": str(path)}),
                       "b311")
    assert first.quarantined == 1 and first.stored == len(records) - 1
    assert first.watermark is not None and not first.watermark.startswith("9999")
    later = dict(records[1], service_request_id="B-LATER",
                 requested_datetime="2026-12-01T10:00:00Z", updated_datetime="2026-12-01T10:00:00Z")
    path.write_text(json.dumps({"service_requests": [later]}))
    second = run_source(fresh_engine, settings, Open311Connector({"location": str(path)}),
                        "b311")
    assert second.stored == 1
    with fresh_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ServiceRequest).where(
            ServiceRequest.id == "B-LATER")).scalar_one() == 1
        reason = conn.execute(select(Quarantine.reason)).scalar_one()
    assert "9999-12-31" in reason and "plausible range" in reason
