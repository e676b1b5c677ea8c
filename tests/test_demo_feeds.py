"""The demo city is produced through the connectors: the generator writes the payloads a
city's systems would hand over (GeoJSON, Open311 XML and JSON, NGSI v2 entities, CSV
exports and telemetry logs) and ``sources.yaml``; the connectors ingest them."""
from __future__ import annotations

import csv
import io
import json
import subprocess
import zipfile
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from xml.etree import ElementTree

import pytest
import yaml
from google.transit import gtfs_realtime_pb2
from sqlalchemy import Engine, text

from connectors.demo import generate_demo
from connectors.gtfs import GtfsConnector
from connectors.gtfs_rt import parse_feed
from dashboard.demo.generate import feeds_folder
from dashboard.settings import Settings
from dashboard.store import make_engine
from tests.conftest import CITYLENS_CLI

END = datetime(2026, 3, 30, 12, 0, tzinfo=timezone.utc)  # the span crosses the DST change


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, Path]]:
    var = tmp_path_factory.mktemp("feeds_city")
    engine = make_engine(f"sqlite:///{var / 'citylens.db'}")
    settings = Settings(var_dir=var, database_url="", redis_url=None)
    generate_demo(engine, settings, scale="tiny", seed=3, end=END)
    yield engine, feeds_folder(settings, "tiny", 3)
    engine.dispose()


def _one(engine: Engine, sql: str) -> object:
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar()


def test_every_feed_is_a_source_of_a_real_kind_and_ran_clean(city) -> None:
    engine, folder = city
    entries = yaml.safe_load((folder / "sources.yaml").read_text())["sources"]
    kinds = {e["kind"] for e in entries}
    assert kinds == {"districts", "csv", "ngsi", "open311", "gtfs", "gtfs-rt"}
    with engine.connect() as conn:
        runs = conn.execute(text(
            "SELECT source_id, status, records_in, stored, quarantined FROM feed_runs")).all()
    assert {r.source_id for r in runs} == {e["id"] for e in entries}
    assert all(r.status == "ok" and r.stored == r.records_in > 0 and r.quarantined == 0
               for r in runs), runs
    assert _one(engine, "SELECT count(*) FROM quarantine") == 0


def test_the_payloads_are_the_formats_they_claim(city) -> None:
    _, folder = city
    services = ElementTree.parse(folder / "services.xml").getroot()
    assert services.tag == "services" and services.find("service/service_code") is not None
    requests = json.loads((folder / "requests.json").read_text())
    assert {"service_request_id", "requested_datetime", "status", "lat", "long"} <= set(
        requests[0])
    devices = json.loads((folder / "devices.json").read_text())
    assert all(isinstance(v, dict) and "type" in v and "value" in v
               for entity in devices for k, v in entity.items() if k not in ("id", "type"))
    with (folder / "telemetry" / "AirQualityObserved.csv").open(newline="") as handle:
        header, first = next(csv.reader(handle)), next(csv.reader(handle))
    assert header[:2] == ["entity_id", "observed_at"] and "no2" in header
    assert first[0].startswith("urn:ngsi-ld:AirQualityObserved:")
    assert first[1][-6:] in ("+01:00", "+02:00")  # local time with its offset


def test_what_the_connectors_stored_is_the_whole_city(city) -> None:
    engine, _ = city
    # Requests keep their citizen through Open311's account_id, and every one exists.
    linked = _one(engine, "SELECT count(*) FROM service_requests WHERE citizen_id IS NOT NULL")
    assert linked > 0
    assert _one(engine, "SELECT count(*) FROM service_requests r LEFT JOIN citizens c "
                        "ON c.id = r.citizen_id WHERE r.citizen_id IS NOT NULL "
                        "AND c.id IS NULL") == 0
    # The telemetry logs only name their sensors: the registry's names and places stay.
    assert _one(engine, "SELECT count(*) FROM assets WHERE name = '' OR name LIKE 'urn:%' "
                        "OR lat IS NULL OR district_id IS NULL") == 0
    assert _one(engine, "SELECT count(*) FROM assets WHERE last_seen IS NOT NULL") > 0
    # The service list's extensions (department, SLA) came through the XML.
    assert _one(engine, "SELECT count(*) FROM services WHERE sla_hours IS NULL") == 0
    # Consent flags from yes/no columns, cases recoded from the source system's statuses.
    assert _one(engine, "SELECT count(*) FROM citizens WHERE consent LIKE '%true%'") > 0
    assert _one(engine, "SELECT count(DISTINCT status) FROM cases") >= 2
    assert _one(engine, "SELECT count(*) FROM cases WHERE status NOT IN "
                        "('open', 'resolved', 'rejected')") == 0


def test_running_the_demo_sources_again_stores_nothing_twice(city) -> None:
    engine, folder = city
    before = _one(engine, "SELECT count(*) || '/' || sum(value) FROM observations")
    requests = _one(engine, "SELECT count(*) FROM service_requests")
    url = str(engine.url)
    result = subprocess.run(
        [*CITYLENS_CLI, "sources", "run", "--config",
         str(folder / "sources.yaml"), "--json"],
        capture_output=True, text=True, env={"CITYLENS_DATABASE_URL": url, "PATH": "/usr/bin"},
        check=False, timeout=300)
    assert result.returncode == 0, result.stderr
    assert _one(engine, "SELECT count(*) || '/' || sum(value) FROM observations") == before
    assert _one(engine, "SELECT count(*) FROM service_requests") == requests


# ---- the bus company's feeds: GTFS and GTFS-Realtime ------------------------------------

def _gtfs(folder: Path, member: str) -> list[dict[str, str]]:
    with zipfile.ZipFile(folder / "transit" / "gtfs.zip") as archive:
        return list(csv.DictReader(io.TextIOWrapper(archive.open(member), encoding="utf-8")))


def test_the_gtfs_feed_passes_the_gtfs_connector_whole(city) -> None:
    engine, folder = city
    connector = GtfsConnector({"location": str(folder / "transit" / "gtfs.zip"),
                               "feed_id": "santander"})
    stream, = connector.streams()
    assert connector.check().ok
    mapped = [stream.map(record) for record in stream.read(None)]  # none raises
    stops = {a["id"]: a for m in mapped for a in m.assets}
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT id, district_id FROM assets "
                                   "WHERE type = 'GtfsStop'")).all()
        run = conn.execute(text("SELECT records_in, stored, quarantined FROM feed_runs "
                                "WHERE source_id = 'demo-gtfs' ORDER BY id LIMIT 1")).one()
    assert set(stops) == {r.id for r in stored} and len(stops) == 10  # the tiny scale's
    assert all(r.district_id for r in stored)
    assert tuple(run) == (10, 10, 0)
    assert all(a["attributes"]["routes"] for a in stops.values())  # every stop is served
    # the feed holds together: trips of known routes, stop times of known trips and stops,
    # in order, on a service that runs over the whole demo span
    routes = {r["route_id"] for r in _gtfs(folder, "routes.txt")}
    trips = {t["trip_id"]: t for t in _gtfs(folder, "trips.txt")}
    ids = {r["stop_id"] for r in _gtfs(folder, "stops.txt")}
    assert routes == {"1", "2", "7"} and {t["route_id"] for t in trips.values()} == routes
    times: dict[str, list[tuple[int, str]]] = {}
    for row in _gtfs(folder, "stop_times.txt"):
        assert row["stop_id"] in ids and row["trip_id"] in trips
        times.setdefault(row["trip_id"], []).append((int(row["stop_sequence"]),
                                                     row["arrival_time"]))
    assert set(times) == set(trips)
    assert all([t for _n, t in sorted(calls)] == sorted(t for _n, t in calls)
               for calls in times.values())
    service, = _gtfs(folder, "calendar.txt")
    assert service["start_date"] <= "20260316" and service["end_date"] > "20260330"


def _realtime(folder: Path, name: str) -> gtfs_realtime_pb2.FeedMessage:
    return parse_feed((folder / "transit" / name).read_bytes(), name)


def test_the_realtime_feeds_follow_the_timetable_and_the_demo_clock(city) -> None:
    engine, folder = city
    trips = {t["trip_id"]: t for t in _gtfs(folder, "trips.txt")}
    calls: dict[str, set[str]] = {}
    for row in _gtfs(folder, "stop_times.txt"):
        calls.setdefault(row["trip_id"], set()).add(row["stop_id"])
    positions = _realtime(folder, "vehicle_positions.pb")
    updates = _realtime(folder, "trip_updates.pb")
    assert positions.header.timestamp == updates.header.timestamp == END.timestamp()
    buses = [e.vehicle for e in positions.entity]
    assert len(buses) >= 3  # Monday, 14:00 in Santander: buses on every route
    for bus in buses:
        trip = trips[bus.trip.trip_id]  # a trip of the static feed...
        assert bus.trip.route_id == trip["route_id"]  # ... of its route
        assert bus.vehicle.id == trip["block_id"] and bus.stop_id in calls[trip["trip_id"]]
        assert END.timestamp() - 60 < bus.timestamp < END.timestamp()
    assert {b.trip.route_id for b in buses} == {"1", "2", "7"}
    assert len({b.vehicle.id for b in buses}) == len(buses)  # a bus runs one trip at a time
    reported = 0
    for entity in updates.entity:
        update = entity.trip_update
        assert update.trip.route_id == trips[update.trip.trip_id]["route_id"]
        for stop in update.stop_time_update:
            assert stop.stop_id in calls[update.trip.trip_id]
            assert END.timestamp() - 3600 <= stop.arrival.time < END.timestamp()
            reported += 1
    assert reported
    with engine.connect() as conn:
        vehicles = conn.execute(text("SELECT COUNT(*) FROM assets WHERE type = 'Vehicle' "
                                     "AND district_id IS NOT NULL")).scalar()
        delays = conn.execute(text(
            "SELECT COUNT(*) FROM observations o JOIN assets a ON a.pk = o.asset_pk "
            "WHERE a.type = 'GtfsStop' AND o.metric = 'delay' AND o.time >= :since"),
            {"since": int(END.timestamp()) - 3600}).scalar()
    assert vehicles == len(buses) and delays >= reported


def test_the_kiosk_has_buses_and_the_bus_kpi_a_value(city, tmp_path: Path) -> None:
    from dashboard.kpis.definitions import load_kpis
    from dashboard.queries import overview
    from dashboard.queries.kiosk import kiosk_data

    engine, folder = city
    settings = Settings(var_dir=folder.parents[1], database_url=str(engine.url),
                        redis_url=None, now=END)
    transit = kiosk_data(settings)["transit"]
    assert transit["available"] and transit["vehicles_in_service"] >= 3
    assert [r["route"] for r in transit["routes"]] == ["1", "2", "7"]
    assert all(r["stops"] > 0 for r in transit["routes"])
    transit_kpis = {k.id for k in load_kpis(settings.kpis_file)
                    if k.metric and k.metric.split(".")[0] in {"GtfsStop", "Vehicle"}}
    assert transit_kpis == {"bus_delay"}
    values = {k["id"]: k["value"] for k in overview(settings, None, "week")["kpis"]}
    assert all(values[k] is not None for k in transit_kpis)
