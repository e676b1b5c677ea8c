"""The ``csv`` and ``sql`` connectors and their shared mapping (``connectors.tabular``):
real exports (NYC 311, Aarhus parking), European CSV conventions, quarantine, bad
mappings, and incremental reads from real PostgreSQL and SQLite databases."""
from __future__ import annotations

import itertools
import math
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy import Engine, create_engine, func, select, text

from connectors.base import SourceFormatError
from connectors.csv_source import CsvConnector
from connectors.registry import get_connector
from connectors.runner import run_source
from connectors.sql_source import SqlConfig, SqlConnector
from connectors.tabular import RowMapper, TabularMapping, load_mapping
from dashboard.model import Asset, FeedRun, Observation, Quarantine, Rollup, ServiceRequest, Source
from dashboard.store import init_store, make_engine
from tests.conftest import PG_URL, service_missing

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures"
NYC = FIXTURES / "legacy" / "311_Service_Requests_first25rows.csv"
AARHUS = FIXTURES / "iot" / "aarhus_parking_head3000_verbatim.csv"
MAPPINGS = ROOT / "data" / "mappings"
needs_fixtures = pytest.mark.skipif(not NYC.is_file() or not AARHUS.is_file(),
                                    reason=f"fixtures not found under {FIXTURES}")
UTC = timezone.utc

AIR = """entity: observations
type: AirQualityObserved
domain: environment
namespace: test
timezone: Europe/Madrid
columns: {id: station, time: measured_at}
metrics:
  - {metric: no2, column: no2, unit: ug/m3}
"""


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def epoch(*parts: int) -> int:
    return int(utc(*parts).timestamp())


def count(engine: Engine, model: type, *where: Any) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def write(path: Path, content: str, encoding: str = "utf-8") -> Path:
    path.write_text(content, encoding=encoding)
    return path


def csv_source(tmp_path: Path, rows: str, mapping: str) -> CsvConnector:
    return CsvConnector({"location": str(write(tmp_path / "export.csv", rows)),
                         "mapping": str(write(tmp_path / "mapping.yaml", mapping))})


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Engine]:
    """An empty SQLite store (the SQL-source tests are about the source database)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    init_store(engine)
    yield engine
    engine.dispose()


def test_both_kinds_are_registered() -> None:
    assert get_connector("csv") is CsvConnector
    assert get_connector("sql") is SqlConnector


# --- the real exports -----------------------------------------------------------------

@needs_fixtures
def test_nyc_311_export_is_stored_idempotently_and_incrementally(fresh_engine, settings) -> None:
    connector = CsvConnector({"location": str(NYC), "mapping": str(MAPPINGS / "nyc311.yaml")})
    assert connector.check().ok
    report = run_source(fresh_engine, settings, connector, "nyc311")
    # 26 data rows, one request each; 3 have no coordinates and are stored unlocated.
    assert (report.records_in, report.stored, report.quarantined, report.status) == (
        26, 26, 0, "ok")
    assert count(fresh_engine, ServiceRequest) == 26
    assert count(fresh_engine, ServiceRequest, ServiceRequest.lat.is_not(None)) == 23
    assert count(fresh_engine, ServiceRequest, ServiceRequest.status == "open") == 26
    with fresh_engine.connect() as conn:
        first = conn.execute(select(ServiceRequest).where(ServiceRequest.id == "61276295")).one()
        unlocated = conn.execute(
            select(ServiceRequest.lat, ServiceRequest.address)
            .where(ServiceRequest.id == "61279486")).one()
    # created 2024-05-27T02:08:51 New York time (EDT, UTC-4)
    assert first.requested_at == utc(2024, 5, 27, 6, 8, 51)
    assert (first.service_code, first.department, first.description, first.channel) == (
        "Street Condition", "DOT", "Pothole", "unknown")
    assert first.lat == pytest.approx(40.84735682050765) and first.closed_at is None
    assert unlocated.lat is None
    # latest resolution_action_updated_date: 2024-05-27T02:10:24 EDT
    assert report.watermark == "2024-05-27T06:10:24.000000Z"

    again = run_source(fresh_engine, settings, connector, "nyc311")
    assert (again.records_in, again.stored, again.status) == (0, 0, "ok")
    full = run_source(fresh_engine, settings, connector, "nyc311", full=True)
    assert (full.records_in, full.stored) == (26, 26)
    assert count(fresh_engine, ServiceRequest) == 26


@needs_fixtures
def test_aarhus_parking_becomes_garages_and_their_occupancy(fresh_engine, settings) -> None:
    connector = CsvConnector({"location": str(AARHUS),
                              "mapping": str(MAPPINGS / "aarhus_parking.yaml")})
    report = run_source(fresh_engine, settings, connector, "aarhus")
    # 3,000 rows of 8 garages; no (garage, time) repeats, so 3,000 x 3 metrics.
    assert (report.records_in, report.stored, report.quarantined) == (3000, 3000, 0)
    assert count(fresh_engine, Asset) == 8
    assert count(fresh_engine, Observation) == 9000
    hour = Rollup.grain == "hour"
    with fresh_engine.connect() as conn:
        garage = conn.execute(select(Asset).where(
            Asset.id == "urn:ngsi-ld:OffStreetParking:aarhus:SCANDCENTER")).one()
        values = dict(conn.execute(
            select(Observation.metric, Observation.value)
            .where(Observation.asset_pk == garage.pk,
                   Observation.time == epoch(2014, 5, 22, 7, 9, 4))).all())  # 09:09 CEST
        occupancy = conn.execute(select(func.sum(Rollup.count)).where(
            hour, Rollup.metric == "OffStreetParking.occupancy")).scalar_one()
    assert (garage.type, garage.domain, garage.name, garage.lat, garage.district_id) == (
        "OffStreetParking", "parking", "SCANDCENTER", None, None)
    assert garage.attributes == {"totalSpotNumber": 1240}
    assert values == {"occupiedSpotNumber": 869, "totalSpotNumber": 1240,
                      "occupancy": pytest.approx(869 / 1240)}
    assert occupancy == 3000

    again = run_source(fresh_engine, settings, connector, "aarhus")
    assert (again.records_in, again.stored, again.status) == (0, 0, "ok")
    run_source(fresh_engine, settings, connector, "aarhus", full=True)
    assert count(fresh_engine, Observation) == 9000
    with fresh_engine.connect() as conn:
        total = conn.execute(select(func.sum(Rollup.count)).where(hour)).scalar_one()
    assert total == 9000  # rollups not counted twice


# --- file conventions, quarantine ------------------------------------------------------

MADRID = """entity: observations
delimiter: ";"
decimal: ","
thousands: "."
encoding: cp1252
timezone: Europe/Madrid
time_format: "%d/%m/%Y %H:%M"
type: AirQualityObserved
domain: environment
namespace: madrid
columns: {id: estacion, time: fecha, lat: latitud, lon: longitud}
metrics:
  - {metric: no2, column: "NO2 (µg/m3)", unit: ug/m3}
  - {metric: pm10, column: PM10, unit: ug/m3, optional: true}
"""


def test_decimal_comma_semicolon_and_madrid_dst(tmp_path: Path, store, settings) -> None:
    rows = ("estacion;fecha;latitud;longitud;NO2 (µg/m3);PM10\n"
            "28079004;30/03/2024 23:30;40,4238;-3,7122;1.234,5;\n"    # CET, UTC+1
            "28079004;31/03/2024 03:30;40,4238;-3,7122;12,5;20\n"     # after the spring change
            "28079004;27/10/2024 02:30;40,4238;-3,7122;7;8,25\n")     # repeated hour: first
    write(tmp_path / "export.csv", rows, encoding="cp1252")
    connector = CsvConnector({"location": str(tmp_path / "export.csv"),
                              "mapping": str(write(tmp_path / "mapping.yaml", MADRID))})
    report = run_source(store, settings, connector, "madrid")
    assert (report.stored, report.quarantined) == (3, 0)
    with store.connect() as conn:
        found = conn.execute(select(Observation.metric, Observation.time, Observation.value)
                             .order_by(Observation.time, Observation.metric)).all()
        asset = conn.execute(select(Asset.id, Asset.lat, Asset.lon)).one()
    assert [tuple(r) for r in found] == [
        ("no2", epoch(2024, 3, 30, 22, 30), 1234.5),
        ("no2", epoch(2024, 3, 31, 1, 30), 12.5),
        ("pm10", epoch(2024, 3, 31, 1, 30), 20.0),
        ("no2", epoch(2024, 10, 27, 0, 30), 7.0),
        ("pm10", epoch(2024, 10, 27, 0, 30), 8.25),
    ]
    assert tuple(asset) == ("urn:ngsi-ld:AirQualityObserved:madrid:28079004", 40.4238, -3.7122)
    assert report.watermark == "2024-10-27T00:30:00.000000Z"


def test_broken_rows_are_quarantined_with_reasons(tmp_path: Path, store, settings) -> None:
    rows = ("station,measured_at,no2\n"
            "A,2024-01-01T00:00:00,1.5\n"
            ",2024-01-01T01:00:00,2\n"
            "B,yesterday,3\n"
            "C,2024-01-01T02:00:00,abc\n"
            "D,2024-01-01T03:00:00,4,surprise\n"
            "E,2024-01-01T04:00:00,inf\n"
            "F,2024-01-01 05:00:00+02:00,6\n")
    report = run_source(store, settings, csv_source(tmp_path, rows, AIR), "air")
    assert (report.records_in, report.stored, report.quarantined, report.status) == (
        7, 2, 5, "partial")
    assert count(store, Observation) == 2
    with store.connect() as conn:
        reasons = [r for r, in conn.execute(select(Quarantine.reason).order_by(Quarantine.id))]
        payload = conn.execute(select(Quarantine.payload).order_by(Quarantine.id)).first()[0]
    assert reasons == [
        "rows: row 3: id ('station') is empty",
        "rows: row 4: time ('measured_at'): not a time: 'yesterday'",
        "rows: row 5: 'no2': not a number: 'abc'",
        "rows: row 6: 1 more cells than the header has columns",
        "rows: row 7: 'no2': not a number: 'inf'",
    ]
    assert '"measured_at": "2024-01-01T01:00:00"' in payload  # the raw row is kept
    assert report.watermark == "2024-01-01T03:00:00.000000Z"  # F, at 05:00+02:00


def test_an_export_is_read_lazily(tmp_path: Path) -> None:
    """Rows stream out one at a time: the first rows of a long file come out before a
    broken byte 200 KB further on is even read."""
    good = "".join(f"S{i},2024-01-01T00:00:00,{i}\n" for i in range(10_000))
    path = tmp_path / "export.csv"
    path.write_bytes(b"station,measured_at,no2\n" + good.encode() + b"X,\xff\xfe,1\n")
    connector = CsvConnector({"location": str(path),
                              "mapping": str(write(tmp_path / "m.yaml", AIR))})
    stream, = connector.streams()
    first = list(itertools.islice(stream.read(None), 2))
    assert [r["station"] for r in first] == ["S0", "S1"]
    with pytest.raises(SourceFormatError, match="not utf-8-sig text.*encoding"):
        for _ in stream.read(None):
            pass


def test_excel_workbooks_are_read_with_their_types(tmp_path: Path, store, settings) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Title line of a legacy report"])
    sheet.append(["station", "measured_at", "no2"])
    sheet.append([28079004.0, datetime(2024, 7, 1, 12, 0), 41.5])  # Excel's float ids
    sheet.append(["28079008", "2024-07-01 13:00", "39,5"])  # text cells
    book.save(tmp_path / "export.xlsx")
    mapping = write(tmp_path / "m.yaml", AIR + "skip_rows: 1\ndecimal: \",\"\n")
    connector = CsvConnector({"location": str(tmp_path / "export.xlsx"), "mapping": str(mapping)})
    report = run_source(store, settings, connector, "xlsx")
    assert (report.stored, report.quarantined) == (2, 0)
    with store.connect() as conn:
        found = conn.execute(select(Asset.id, Observation.time, Observation.value)
                             .join(Asset, Asset.pk == Observation.asset_pk)
                             .order_by(Observation.time)).all()
    assert [tuple(r) for r in found] == [
        ("urn:ngsi-ld:AirQualityObserved:test:28079004", epoch(2024, 7, 1, 10), 41.5),
        ("urn:ngsi-ld:AirQualityObserved:test:28079008", epoch(2024, 7, 1, 11), 39.5),
    ]


# --- bad mappings ---------------------------------------------------------------------

@pytest.mark.parametrize(("content", "problem"), [
    ("entity: complaints\ncolumns: {id: a}\n", "entity"),
    (AIR + "colums: {id: a}\n", "colums: Extra inputs are not permitted"),
    (AIR.replace("Europe/Madrid", "Europe/Atlantis"), "unknown time zone 'Europe/Atlantis'"),
    (AIR.replace("domain: environment", "domain: weather"), "unknown domain 'weather'"),
    (AIR.split("metrics:")[0], "observations need at least one entry in 'metrics'"),
    (AIR.replace("{id: station,", "{id: station, lat: y,"), "both 'lat' and 'lon'"),
    (AIR.replace("{id: station,", "{"), "'id' is required"),
    (AIR.replace("time: measured_at", "when: measured_at"), "unknown fields ['when']"),
    ("entity: service_requests\ncolumns: {id: a, requested_at: b}\ntype: X\n",
     "apply to assets and observations"),
    (AIR + "cursor_type: integer\n", "cursor_type: integer needs a cursor_column"),
    ("entity: [observations\n", "not valid YAML"),
    ("- entity\n", "must be a YAML mapping"),
])
def test_a_bad_mapping_names_the_file_and_the_problem(tmp_path, content, problem) -> None:
    path = write(tmp_path / "broken.yaml", content)
    with pytest.raises(SourceFormatError) as caught:
        load_mapping(path)
    assert str(path) in str(caught.value) and problem in str(caught.value)


def test_a_bad_mapping_fails_the_run_as_a_format_error(tmp_path, store, settings) -> None:
    connector = csv_source(tmp_path, "station,measured_at,no2\nA,2024-01-01,1\n",
                           "entity: observations\n")
    assert not connector.check().ok
    report = run_source(store, settings, connector, "air")
    assert (report.status, report.failure) == ("failed", "format")
    assert "mapping.yaml: bad mapping: columns: Field required" in report.error
    missing = CsvConnector({"location": str(tmp_path / "export.csv"),
                            "mapping": str(tmp_path / "nowhere.yaml")})
    assert "no such mapping file" in run_source(store, settings, missing, "air2").error


def test_a_column_missing_from_the_export_is_a_format_error(tmp_path, store, settings) -> None:
    connector = csv_source(tmp_path, "station;measured_at;no2\nA;2024-01-01;1\n", AIR)
    report = run_source(store, settings, connector, "air")
    assert (report.status, report.failure, report.records_in) == ("failed", "format", 0)
    assert "export.csv: no column 'station'" in report.error  # ";" but the mapping says ","


# --- property: any cell content gives ValueError or a record that fits ----------------

REQUESTS = TabularMapping.model_validate({
    "entity": "service_requests", "timezone": "America/New_York",
    "columns": {"id": "id", "requested_at": "t", "closed_at": "c", "status": "s",
                "lat": "y", "lon": "x", "channel": "ch", "department": "d"},
    "status_map": {"Done": "closed"}})
OBSERVATIONS = TabularMapping.model_validate({
    "entity": "observations", "type": "X", "domain": "water", "decimal": ",",
    "time_format": "%d/%m/%Y %H:%M", "cursor_column": "n", "cursor_type": "integer",
    "columns": {"id": "id", "time": "t", "lat": "y", "lon": "x", "name": "d"},
    "attributes": {"kind": "ch"},
    "metrics": [{"metric": "a", "column": "v"},
                {"metric": "b", "column": "v", "divide_by": "w", "optional": True}]})
COLUMNS = ["id", "t", "c", "s", "y", "x", "ch", "d", "v", "w", "n", "#row", "#extra"]
CELLS = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", " ", "nan", "NaN", "inf", "-inf", "1e400", "0", "-0", "12,5",
                     "1.234,5", "40.4", "2024-03-31 02:30", "31/03/2024 02:30",
                     "05/27/2024 02:08:51 AM", "0001-01-01T00:00:00+14:00", "now", "Done",
                     "urn:x", "9" * 30, "\x00"]),
    st.none(), st.integers(), st.floats(), st.booleans(), st.datetimes(),
    st.lists(st.text(max_size=3), max_size=2),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(row=st.dictionaries(st.sampled_from(COLUMNS), CELLS))
def test_any_cells_map_or_raise_value_error(row: dict[str, Any]) -> None:
    for mapping in (REQUESTS, OBSERVATIONS):
        try:
            mapped = RowMapper(mapping).map(row)
        except ValueError:
            continue
        for request in mapped.service_requests:
            assert request["status"] in ("open", "closed") and request["id"]
            assert request["requested_at"].tzinfo == UTC
        for obs in mapped.observations:
            assert math.isfinite(obs["value"]) and obs["time"].tzinfo == UTC
        assert all(len(a["id"]) <= 200 for a in mapped.assets)


def test_times_and_numbers_of_one_row() -> None:
    mapper = RowMapper(OBSERVATIONS)
    row = {"id": "7", "t": "31/03/2024 03:30", "v": "1,5", "w": "0,5", "n": "42", "y": "", "x": ""}
    mapped = mapper.map(row)
    assert [(o["metric"], o["value"]) for o in mapped.observations] == [("a", 1.5), ("b", 3.0)]
    assert mapped.observations[0]["time"] == utc(2024, 3, 31, 3, 30)  # no timezone: UTC
    assert mapped.cursor == "00000000000000000042"
    with pytest.raises(ValueError, match="'w' is zero"):
        mapper.map(row | {"w": "0"})
    with pytest.raises(ValueError, match="has a '.' but the decimal mark is ','"):
        mapper.map(row | {"v": "1.5"})


# --- sql ------------------------------------------------------------------------------

def sql_connector(tmp_path: Path, location: str, mapping: str = AIR, **extra: Any) -> SqlConnector:
    path = write(tmp_path / "mapping.yaml", mapping)
    return SqlConnector({"location": location, "mapping": str(path), "page_size": 2, **extra})


@pytest.fixture
def pg_schema() -> Iterator[tuple[Engine, str]]:
    schema = f"citylens_sqlsrc_{uuid.uuid4().hex[:8]}"
    try:
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as error:  # noqa: BLE001 - any failure to reach the server
        service_missing("PostgreSQL at " + PG_URL, error)
    yield admin, schema
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("column_type", ["timestamp", "timestamptz"])
def test_sql_on_postgresql_reads_after_the_cursor(tmp_path, pg_schema, store, settings,
                                                  column_type) -> None:
    admin, schema = pg_schema
    with admin.connect() as conn:
        conn.execute(text(f'CREATE TABLE "{schema}".readings (id serial PRIMARY KEY, '
                          f'station text, measured_at {column_type}, no2 numeric(6, 2))'))
    insert = text(f'INSERT INTO "{schema}".readings (station, measured_at, no2) '
                  "VALUES (:station, :at, :no2)")
    if column_type == "timestamp":
        # naive local Madrid times, across the spring DST change
        rows = [{"station": f"S{i % 3}", "at": f"2024-03-31 0{i // 3}:30", "no2": 10 + i}
                for i in range(7)]
    else:
        rows = [{"station": f"S{i % 3}", "at": f"2024-03-31 0{i // 3}:30+00", "no2": 10 + i}
                for i in range(7)]
    with admin.connect() as conn:
        conn.execute(insert, rows)
    extra = ({"table": f"{schema}.readings"} if column_type == "timestamp" else
             {"query": f'SELECT station, measured_at, no2 FROM "{schema}".readings;'})
    connector = sql_connector(tmp_path, PG_URL, AIR + "cursor_column: measured_at\n", **extra)
    assert connector.check().ok
    first = run_source(store, settings, connector, "pg", connector.display_location())
    assert (first.records_in, first.stored, first.status) == (7, 7, "ok")
    with admin.connect() as conn:
        conn.execute(insert, [
            {"station": "S0", "at": rows[-1]["at"].replace("02:30", "05:30"), "no2": 1.25},
            {"station": "S1", "at": rows[-1]["at"].replace("02:30", "05:30"), "no2": 2.5}])
    second = run_source(store, settings, connector, "pg", connector.display_location())
    assert (second.records_in, second.stored) == (2, 2)
    assert run_source(store, settings, connector, "pg").records_in == 0
    assert count(store, Observation) == 9
    with store.connect() as conn:
        times = conn.execute(select(Observation.time).order_by(Observation.time)).scalars().all()
    if column_type == "timestamp":  # 00:30 and 01:30 CET, 02:30 does not exist, 05:30 CEST
        assert sorted(set(times)) == [epoch(2024, 3, 30, 23, 30), epoch(2024, 3, 31, 0, 30),
                                      epoch(2024, 3, 31, 1, 30), epoch(2024, 3, 31, 3, 30)]
    else:
        assert sorted(set(times))[-1] == epoch(2024, 3, 31, 5, 30)


def sqlite_source(path: Path, rows: list[tuple[Any, ...]]) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE IF NOT EXISTS readings (id INTEGER PRIMARY KEY, "
                   "station TEXT, measured_at TEXT, no2 REAL)")
        db.executemany("INSERT INTO readings (station, measured_at, no2) VALUES (?, ?, ?)", rows)
    db.close()


def test_sql_on_sqlite_with_a_time_cursor(tmp_path, store, settings) -> None:
    source = tmp_path / "legacy.db"
    sqlite_source(source, [(f"S{i % 3}", f"2024-05-01 10:{i // 3:02d}:00.500", 1.0 + i)
                           for i in range(8)] + [("S7", None, 3.0)])
    connector = sql_connector(tmp_path, f"sqlite:///{source}", table="readings")
    first = run_source(store, settings, connector, "lite")
    assert (first.records_in, first.stored, first.quarantined) == (9, 8, 1)  # NULL cursor: shown
    with store.connect() as conn:
        assert conn.execute(select(Quarantine.reason)).scalar_one() == (
            "rows: time ('measured_at') is empty")
    assert first.watermark == "2024-05-01T08:02:00.500000Z"  # Madrid summer time, UTC+2
    sqlite_source(source, [("S2", "2024-05-01 10:02:00.750", 9.0),
                           ("S9", "2024-05-01 11:00:00.000", 10.0)])
    second = run_source(store, settings, connector, "lite")
    assert (second.records_in, second.stored) == (2, 2)
    assert run_source(store, settings, connector, "lite").records_in == 0
    assert count(store, Observation) == 10


@pytest.mark.parametrize("page_size", [1, 2, 3, 5, 50])
def test_sql_pages_neither_lose_nor_repeat_ties(tmp_path, page_size) -> None:
    """Runs of equal cursor values across page edges (4, 1, 6, 2, 3 rows per minute)."""
    source = tmp_path / "legacy.db"
    runs = [4, 1, 6, 2, 3]
    sqlite_source(source, [(f"S{minute}-{k}", f"2024-05-01 10:{minute:02d}:00", 1.0)
                           for minute, size in enumerate(runs) for k in range(size)])
    connector = sql_connector(tmp_path, f"sqlite:///{source}", table="readings",
                              page_size=page_size)
    stream, = connector.streams()
    everything = [row["station"] for row in stream.read(None)]
    assert sorted(everything) == sorted(f"S{m}-{k}" for m, n in enumerate(runs) for k in range(n))
    after = [row["station"] for row in stream.read("2024-05-01T08:01:00Z")]  # 10:01 in Madrid
    assert sorted(after) == sorted(f"S{m}-{k}" for m in (2, 3, 4) for k in range(runs[m]))


def test_sql_with_an_integer_cursor_and_a_query(tmp_path, store, settings) -> None:
    source = tmp_path / "legacy.db"
    sqlite_source(source, [(f"S{i}", f"2024-05-01T10:0{i}:00", 1.0 + i) for i in range(5)])
    mapping = AIR + "cursor_column: id\ncursor_type: integer\n"
    query = "SELECT id, station, measured_at, no2 FROM readings WHERE no2 < 100"
    connector = sql_connector(tmp_path, f"sqlite:///{source}", mapping, query=query)
    first = run_source(store, settings, connector, "ids")
    assert (first.records_in, first.watermark) == (5, "00000000000000000005")
    sqlite_source(source, [("S5", "2024-05-01T09:00:00", 6.0), ("S6", "2024-05-01T09:30", 7.0)])
    assert run_source(store, settings, connector, "ids").records_in == 2


def test_sql_problems_are_reported_and_passwords_never_printed(tmp_path, store, settings) -> None:
    secret = "hunter2-secret"
    url = f"postgresql+psycopg://reader:{secret}@127.0.0.1:9/parking"
    connector = sql_connector(tmp_path, url, table="readings")
    assert secret not in repr(connector.config) + str(connector.config.model_dump(mode="json"))
    assert connector.display_location() == (
        "postgresql+psycopg://reader:***@127.0.0.1:9/parking (table readings)")
    check = connector.check()
    assert not check.ok and secret not in check.message
    report = run_source(store, settings, connector, "down")
    assert (report.status, report.failure) == ("failed", "unavailable")
    assert secret not in report.error
    with store.connect() as conn:
        stored = conn.execute(select(Source.location, Source.config)).one()
        run = conn.execute(select(FeedRun.error)).scalar_one()
    assert secret not in f"{stored.location} {stored.config} {run}"
    assert stored.location == "postgresql+psycopg://reader:***@127.0.0.1:9/parking"
    with pytest.raises(ValidationError) as caught:
        SqlConfig(location=f"no url {secret}", mapping="m.yaml", table="t")
    assert secret not in str(caught.value)
    with pytest.raises(ValidationError, match="exactly one of 'table' and 'query'"):
        SqlConfig(location="sqlite://", mapping="m.yaml", table="t", query="SELECT 1")
    source = tmp_path / "legacy.db"
    sqlite_source(source, [])
    missing = sql_connector(tmp_path, f"sqlite:///{source}", table="no_such_table")
    report = run_source(store, settings, missing, "lite")
    assert (report.failure, "no such table: no_such_table" in report.error) == ("format", True)
    nowhere = sql_connector(tmp_path, f"sqlite:///{tmp_path / 'nowhere.db'}", table="t")
    assert "no such SQLite file" in run_source(store, settings, nowhere, "x").error
    assert not (tmp_path / "nowhere.db").exists()
