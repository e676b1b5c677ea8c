"""The demo city is produced through the connectors: the generator writes the payloads a
city's systems would hand over (GeoJSON, Open311 XML and JSON, NGSI v2 entities, CSV
exports and telemetry logs) and ``sources.yaml``; the connectors ingest them."""
from __future__ import annotations

import csv
import json
import subprocess
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from xml.etree import ElementTree

import pytest
import yaml
from sqlalchemy import Engine, text

from connectors.demo import generate_demo
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
    assert kinds == {"districts", "csv", "ngsi", "open311"}
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
