"""The GTFS static and GTFS-Realtime connectors, on real feeds and built messages."""
from __future__ import annotations

import zipfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import requests
from google.transit import gtfs_realtime_pb2
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from connectors import gtfs_rt
from connectors.base import SourceFormatError
from connectors.gtfs import GtfsConnector
from connectors.gtfs_rt import GtfsRtConnector, parse_feed
from connectors.registry import get_connector
from connectors.runner import run_source
from dashboard.model import Asset, Observation, Quarantine
from dashboard.settings import Settings

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "gtfs"
needs_fixtures = pytest.mark.skipif(
    not FIXTURES.is_dir(), reason=f"GTFS fixtures not found at {FIXTURES}")
UTC = timezone.utc


def assets(connector: Any) -> dict[str, dict[str, Any]]:
    stream, = connector.streams()
    return {a["id"]: a for raw in stream.read(None) for a in stream.map(raw).assets}


def counts(engine: Engine) -> tuple[int, int, int]:
    with engine.connect() as conn:
        return tuple(conn.execute(select(func.count()).select_from(t)).scalar_one()
                     for t in (Asset, Observation, Quarantine))  # type: ignore[return-value]


# --- static --------------------------------------------------------------------------

@needs_fixtures
def test_gtfs_zip_stops() -> None:
    found = assets(GtfsConnector({"location": str(FIXTURES / "gtfs.zip")}))
    assert len(found) == 71  # rows of stops.txt
    stop = found["urn:ngsi-ld:GtfsStop:gtfs:51581"]
    assert (stop["type"], stop["domain"], stop["name"], stop["lat"], stop["lon"]) == (
        "GtfsStop", "mobility", "Hennepin Ave & Franklin Ave / 22nd St", 44.961751, -93.292191)
    assert stop["attributes"]["routes"] == ["2"]
    assert stop["attributes"]["wheelchair_boarding"] == "1"


@needs_fixtures
def test_sample_feed_stops_and_routes() -> None:
    found = assets(GtfsConnector({"location": str(FIXTURES / "sample-feed-1.zip"),
                                  "feed_id": "demo"}))
    assert len(found) == 9
    airport = found["urn:ngsi-ld:GtfsStop:demo:BEATTY_AIRPORT"]
    assert (airport["name"], airport["lat"], airport["lon"]) == (
        "Nye County Airport (Demo)", 36.868446, -116.784582)
    assert airport["attributes"]["routes"] == ["10", "30", "50"]  # AB, STBA, AAMV
    assert found["urn:ngsi-ld:GtfsStop:demo:STAGECOACH"]["attributes"]["routes"] == ["30", "40"]


def _zip(path: Path, files: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text.encode("utf-8-sig"))
    return path


def test_bom_extra_columns_missing_files_and_bad_rows(tmp_path: Path) -> None:
    path = _zip(tmp_path / "f.zip", {"stops.txt": (
        "stop_id,stop_name,stop_lat,stop_lon,extra\nA,Alpha,1.5,2.5,x\nB,Beta,north,2,y\n")})
    stream, = GtfsConnector({"location": str(path)}).streams()
    raw = list(stream.read(None))
    good = stream.map(raw[0]).assets[0]
    assert (good["name"], good["lat"], good["attributes"]["routes"]) == ("Alpha", 1.5, [])
    with pytest.raises(ValueError, match="stop_lat is not a number"):
        stream.map(raw[1])


@pytest.mark.parametrize("content", [b"not a zip", None])
def test_broken_zip_is_a_format_error(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "broken.zip"
    if content is None:
        _zip(path, {"routes.txt": "route_id\n"})
    else:
        path.write_bytes(content)
    stream, = GtfsConnector({"location": str(path)}).streams()
    with pytest.raises(SourceFormatError) as caught:
        list(stream.read(None))
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


@needs_fixtures
def test_static_run_end_to_end_is_idempotent(fresh_engine: Engine) -> None:
    connector = get_connector("gtfs")({"location": str(FIXTURES / "sample-feed-1.zip")})
    first = run_source(fresh_engine, Settings(), connector, "gtfs-demo")
    assert (first.status, first.records_in, first.stored) == ("ok", 9, 9)
    again = run_source(fresh_engine, Settings(), connector, "gtfs-demo", full=True)
    assert again.status == "ok"
    assert counts(fresh_engine) == (9, 0, 0)


# --- realtime ------------------------------------------------------------------------

@needs_fixtures
def test_vehicle_positions() -> None:
    connector = GtfsRtConnector({"location": str(FIXTURES / "vehiclePositions.pb")})
    found = assets(connector)
    assert len(found) == 11
    bus = found["urn:ngsi-ld:Vehicle:gtfs:1011"]
    assert (bus["type"], bus["domain"]) == ("Vehicle", "mobility")
    assert (round(bus["lat"], 5), round(bus["lon"], 5)) == (44.97331, -93.23875)
    assert bus["attributes"]["route_id"] == "2-110"
    assert bus["attributes"]["current_status"] == "IN_TRANSIT_TO"


def trip_feed() -> bytes:
    feed = gtfs_realtime_pb2.FeedMessage()
    feed.header.gtfs_realtime_version = "2.0"
    feed.header.timestamp = 1_700_000_000
    good = feed.entity.add(id="t1")
    good.trip_update.trip.trip_id = "AB1"
    for stop, delay in (("BEATTY_AIRPORT", 60), ("BULLFROG", 120)):
        stu = good.trip_update.stop_time_update.add(stop_id=stop)
        stu.arrival.delay = delay
        stu.arrival.time = 1_700_000_600
    bad = feed.entity.add(id="t2")
    bad.trip_update.trip.trip_id = "AB2"
    bad.trip_update.stop_time_update.add(stop_id="").arrival.delay = 30  # no stop id
    feed.entity.add(id="a1").alert.header_text.translation.add(text="detour")
    return feed.SerializeToString()


def test_trip_updates_stored_and_bad_quarantined(fresh_engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "trips.pb"
    path.write_bytes(trip_feed())
    connector = get_connector("gtfs-rt")({"location": str(path), "feed_id": "demo"})
    report = run_source(fresh_engine, Settings(), connector, "rt")
    assert (report.records_in, report.stored, report.quarantined) == (2, 1, 1)
    assert report.watermark == "2023-11-14T22:13:20Z"
    with fresh_engine.connect() as conn:
        rows = conn.execute(select(Asset.id, Observation.value, Observation.time).join(
            Asset, Asset.pk == Observation.asset_pk).order_by(Asset.id)).all()
        reason = conn.execute(select(Quarantine.reason)).scalar_one()
    assert [(r[0], r[1]) for r in rows] == [("urn:ngsi-ld:GtfsStop:demo:BEATTY_AIRPORT", 60.0),
                                            ("urn:ngsi-ld:GtfsStop:demo:BULLFROG", 120.0)]
    assert "no stop_id" in reason
    run_source(fresh_engine, Settings(), connector, "rt", full=True)
    assert counts(fresh_engine)[:2] == (2, 2)  # nothing twice


@needs_fixtures
def test_vehicle_run_end_to_end(fresh_engine: Engine) -> None:
    connector = GtfsRtConnector({"location": str(FIXTURES / "vehiclePositions.pb")})
    report = run_source(fresh_engine, Settings(), connector, "vp")
    assert (report.status, report.stored, report.watermark) == ("ok", 11, report.watermark)
    again = run_source(fresh_engine, Settings(), connector, "vp")
    assert again.records_in == 0  # nothing newer than the watermark
    run_source(fresh_engine, Settings(), connector, "vp", full=True)
    assert counts(fresh_engine) == (11, 0, 0)


def test_vehicle_speed_observation() -> None:
    feed = gtfs_realtime_pb2.FeedMessage()
    feed.header.gtfs_realtime_version = "2.0"
    vehicle = feed.entity.add(id="e").vehicle
    vehicle.vehicle.id = "bus-7"
    vehicle.position.latitude, vehicle.position.longitude = 40.4, -3.7
    vehicle.position.speed = 12.5
    vehicle.timestamp = 1_700_000_000
    record, = gtfs_rt.records(parse_feed(feed.SerializeToString(), "x"), "x")
    mapped = gtfs_rt.map_vehicle(record, "gtfs")
    assert mapped.observations == [{
        "asset_id": "urn:ngsi-ld:Vehicle:gtfs:bus-7", "metric": "speed", "unit": "m/s",
        "time": datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC), "value": 12.5}]


def test_garbage_protobuf_is_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.pb"
    path.write_bytes(b"\xff\xff\xff garbage")
    with pytest.raises(SourceFormatError, match="bad.pb"):
        list(GtfsRtConnector({"location": str(path)}).streams()[0].read(None))


def test_unreachable_url_is_a_connection_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: Any, **__: Any) -> None:
        raise requests.ConnectionError("refused")

    monkeypatch.setattr(requests, "get", refuse)  # what the connector calls
    stream, = GtfsRtConnector({"location": "http://127.0.0.1:9/rt.pb"}).streams()
    with pytest.raises(ConnectionError, match="4 tries"):
        list(stream.read(None))


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_only_format_or_value_errors(data: bytes) -> None:
    stream = gtfs_rt.EntitiesStream(gtfs_rt.GtfsRtConfig(location="x"))
    try:
        for record in gtfs_rt.records(parse_feed(data, "x"), "x"):
            try:
                stream.map(record)
            except ValueError:
                pass
    except SourceFormatError:
        pass


@needs_fixtures
def test_mixed_feed_keeps_static_stops(fresh_engine: Engine, tmp_path: Path) -> None:
    static = GtfsConnector({"location": str(FIXTURES / "sample-feed-1.zip")})
    run_source(fresh_engine, Settings(), static, "static")
    feed = gtfs_realtime_pb2.FeedMessage()
    feed.header.gtfs_realtime_version, feed.header.timestamp = "2.0", 1_700_000_000
    update = feed.entity.add(id="t").trip_update
    update.trip.trip_id = "BFC1"
    update.stop_time_update.add(stop_id="BULLFROG").arrival.delay = 60
    vehicle = feed.entity.add(id="v").vehicle
    vehicle.vehicle.id = "bus-1"
    vehicle.position.latitude, vehicle.position.longitude = 36.9, -116.8
    path = tmp_path / "mixed.pb"
    path.write_bytes(feed.SerializeToString())
    report = run_source(fresh_engine, Settings(), GtfsRtConnector({"location": str(path)}), "rt")
    assert (report.status, report.stored) == ("ok", 2)
    with fresh_engine.connect() as conn:
        stop = conn.execute(select(Asset.name, Asset.lat, Asset.source_id).where(
            Asset.id == "urn:ngsi-ld:GtfsStop:gtfs:BULLFROG")).one()
    assert tuple(stop) == ("Bullfrog (Demo)", 36.88108, "static")


def test_an_empty_realtime_feed_is_a_one_line_failure(tmp_path: Path, fresh_engine: Any) -> None:
    """An empty ``.pb`` (or one without the header every feed carries) fails the run with
    one line, instead of passing as "ok" with 0 records; a feed with a header and no
    entity (nothing running at night) is a valid, empty run."""
    for body, words in ((b"", r"empty \(0 bytes\)"), (b"\x12\x00", "no header")):
        with pytest.raises(SourceFormatError, match=words):
            parse_feed(body, "feed.pb")
    empty = tmp_path / "empty.pb"
    empty.write_bytes(b"")
    report = run_source(fresh_engine, Settings(), GtfsRtConnector({"location": str(empty)}),
                        "rt")
    assert report.status == "failed" and "empty (0 bytes)" in (report.error or "")
    quiet = gtfs_realtime_pb2.FeedMessage()
    quiet.header.gtfs_realtime_version = "2.0"
    assert len(parse_feed(quiet.SerializeToString(), "night.pb").entity) == 0
