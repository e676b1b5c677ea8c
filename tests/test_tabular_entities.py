"""Tabular mappings of citizens, cases, participation and notices (``connectors.tabular``
and ``connectors.tabular_entities``), stored through the real ``csv``/``sql`` connectors and
the runner on SQLite and PostgreSQL: values, references to citizens and districts
(``connectors.storing_refs``), quarantine reasons, idempotency and bad mappings."""
from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, func, select

from connectors.base import Mapped, SourceFormatError
from connectors.csv_source import CsvConnector
from connectors.runner import RunReport, run_source
from connectors.sql_source import SqlConnector
from connectors.storing import store_batch
from connectors.tabular import RowMapper, TabularMapping, load_mapping
from dashboard.model import (
    Asset,
    Case,
    Citizen,
    District,
    Notice,
    Participation,
    Quarantine,
    ServiceRequest,
)
from dashboard.settings import Settings
from dashboard.store import unit_of_work, upsert

UTC = timezone.utc
# Two districts: "centro" covers lon 0..1, lat 0..1; "norte" lon 0..1, lat 1..2.
CENTRO = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}
NORTE = {"type": "Polygon", "coordinates": [[[0, 1], [1, 1], [1, 2], [0, 2], [0, 1]]]}

CITIZENS = """entity: citizens
columns: {id: dni_hash, name: nombre, email: correo, phone: telefono, district_id: distrito,
          birth_year: nacimiento}
consent: {newsletter: boletin, surveys: encuestas}
"""
CITIZEN_ROWS = ("dni_hash,nombre,correo,telefono,distrito,nacimiento,boletin,encuestas\n"
                "C-1,Ana García,Ana.Garcia@Example.ORG,+34 600 000 001,centro,1984,sí,No\n"
                "C-2,Luis Pérez,,,norte,1990,TRUE,\n"
                "C-3,Marta Ruiz,marta@example.org,,,,0,1\n")
CASES = """entity: cases
timezone: Europe/Madrid
columns: {id: expediente, citizen_id: persona, kind: tipo, department: servicio,
          status: estado, channel: canal, opened_at: alta, closed_at: cierre}
status_map: {Tramitado: resolved, Denegado: rejected, "En curso": open}
"""
CASE_ROWS = ("expediente,persona,tipo,servicio,estado,canal,alta,cierre\n"
             "E-1,C-1,permit,Urbanismo,Tramitado,Online,2024-03-01 10:00,2024-03-05 12:30\n"
             "E-2,C-2,tax,Hacienda,En curso,PRESENCIAL,2024-06-01 10:00,2024-06-02 09:00\n"
             "E-3,C-999,benefit,Servicios sociales,Denegado,web,2024-06-03 10:00,\n"
             "E-4,,registration,Padrón,DENEGADO,,2024-06-04 10:00,2024-06-04 11:00\n")
NOTICES = """entity: notices
timezone: Europe/Madrid
columns: {id: id, kind: tipo, title_es: titulo, title_en: title, body_es: texto,
          body_en: text, starts_at: inicio, ends_at: fin, place: lugar, lat: lat, lon: lon,
          district_id: distrito}
"""
NOTICE_ROWS = (
    "id,tipo,titulo,title,texto,text,inicio,fin,lugar,lat,lon,distrito\n"
    "N-1,Event,Fiesta del barrio,Neighbourhood party,Música y comida,Music and food,"
    "2024-07-06 18:00,2024-07-06 23:00,Plaza Mayor,0.5,0.5,\n"
    "N-2,news,Corte de agua,,Calle Sol sin agua,,2024-07-01 08:00,,,,,norte\n"
    "N-3,news,,,Sin título,,2024-07-02 08:00,,,,,\n"
    "N-4,party,Baile,Dance,,,2024-07-03 08:00,,,,,\n"
    "N-5,event,Concierto,Concert,,,2024-07-05 20:00,2024-07-05 19:00,,,,\n")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def write(path: Path, content: str) -> Path:
    path.write_text(content, encoding="utf-8")
    return path


def run_csv(engine: Engine, settings: Settings, tmp_path: Path, name: str, rows: str,
            mapping: str, *, full: bool = False) -> RunReport:
    """Run the csv connector on ``rows`` with ``mapping`` as source ``name``."""
    connector = CsvConnector({"location": str(write(tmp_path / f"{name}.csv", rows)),
                              "mapping": str(write(tmp_path / f"{name}.yaml", mapping))})
    return run_source(engine, settings, connector, name, full=full)


def add_districts(engine: Engine) -> None:
    with unit_of_work(engine) as conn:
        upsert(conn, District.__table__, [
            {"id": "centro", "name": "Centro", "geometry": CENTRO},
            {"id": "norte", "name": "Norte", "geometry": NORTE},
        ])


def rows_of(engine: Engine, model: type) -> dict[str, Any]:
    """The table's rows by id."""
    with engine.connect() as conn:
        return {row.id: row for row in conn.execute(select(model)).all()}


def reasons(engine: Engine, source: str) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(Quarantine.reason).where(Quarantine.source_id == source)
                                 .order_by(Quarantine.id)).scalars())


def count(engine: Engine, model: type) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(model)).scalar_one()


@pytest.fixture
def city(fresh_engine: Engine) -> Engine:
    """A fresh store with the two districts."""
    add_districts(fresh_engine)
    return fresh_engine


# --- each entity ----------------------------------------------------------------------

def test_citizens_are_stored_with_contact_and_consent(city, settings, tmp_path) -> None:
    report = run_csv(city, settings, tmp_path, "padron", CITIZEN_ROWS, CITIZENS)
    assert (report.records_in, report.stored, report.quarantined, report.status) == (
        3, 3, 0, "ok")
    assert report.watermark is None  # citizens have no time: no cursor unless one is given
    found = rows_of(city, Citizen)
    ana, luis, marta = found["C-1"], found["C-2"], found["C-3"]
    assert (ana.name, ana.email, ana.phone, ana.district_id, ana.birth_year) == (
        "Ana García", "ana.garcia@example.org", "+34 600 000 001", "centro", 1984)
    assert ana.consent == {"newsletter": True, "surveys": False}
    assert (luis.email, luis.phone, luis.birth_year, luis.consent) == (
        None, None, 1990, {"newsletter": True})  # a blank consent cell: flag absent
    assert (marta.district_id, marta.birth_year, marta.consent) == (
        None, None, {"newsletter": False, "surveys": True})


def test_a_bad_consent_cell_is_quarantined_naming_its_column(city, settings, tmp_path) -> None:
    rows = CITIZEN_ROWS + "C-4,Eva,,,,1970,quizás,1\nC-5,Paco,,,,1850,1,1\n"
    report = run_csv(city, settings, tmp_path, "padron", rows, CITIZENS)
    assert (report.records_in, report.stored, report.quarantined, report.status) == (
        5, 3, 2, "partial")
    assert reasons(city, "padron") == [
        "rows: row 5: consent newsletter ('boletin'): not yes or no: 'quizás'",
        "rows: row 6: birth_year ('nacimiento'): not a year of birth: 1850",
    ]
    assert sorted(rows_of(city, Citizen)) == ["C-1", "C-2", "C-3"]


def test_cases_map_their_status_and_an_unknown_citizen_is_quarantined(
        city, settings, tmp_path) -> None:
    run_csv(city, settings, tmp_path, "padron", CITIZEN_ROWS, CITIZENS)
    report = run_csv(city, settings, tmp_path, "expedientes", CASE_ROWS, CASES)
    assert (report.records_in, report.stored, report.quarantined, report.status) == (
        4, 3, 1, "partial")
    assert reasons(city, "expedientes") == ["cases: unknown citizen 'C-999'"]
    found = rows_of(city, Case)
    assert sorted(found) == ["E-1", "E-2", "E-4"]
    permit, tax, registration = found["E-1"], found["E-2"], found["E-4"]
    assert (permit.citizen_id, permit.kind, permit.department, permit.status, permit.channel) == (
        "C-1", "permit", "Urbanismo", "resolved", "online")
    # Madrid: CET (UTC+1) in March, CEST (UTC+2) in June
    assert (permit.opened_at, permit.closed_at) == (utc(2024, 3, 1, 9), utc(2024, 3, 5, 11, 30))
    assert (tax.status, tax.channel, tax.opened_at, tax.closed_at) == (
        "open", "presencial", utc(2024, 6, 1, 8), None)  # open: no closing time
    assert (registration.citizen_id, registration.status, registration.channel) == (
        None, "rejected", "unknown")
    assert report.watermark == "2024-06-04T08:00:00.000000Z"  # the newest opened_at


def test_an_unmapped_case_status_is_quarantined(city, settings, tmp_path) -> None:
    rows = ("expediente,persona,tipo,servicio,estado,canal,alta,cierre\n"
            "E-9,,permit,Urbanismo,Archivado,,2024-03-01 10:00,\n")
    report = run_csv(city, settings, tmp_path, "expedientes", rows, CASES)
    assert report.quarantined == 1
    assert reasons(city, "expedientes") == [
        "rows: row 2: status ('estado'): unknown status 'Archivado' "
        "(map it to open or resolved or rejected in status_map)"]


def test_participation_is_stored_and_an_unknown_district_is_quarantined(
        city, settings, tmp_path) -> None:
    run_csv(city, settings, tmp_path, "padron", CITIZEN_ROWS, CITIZENS)
    mapping = """entity: participation
columns: {id: id, citizen_id: persona, topic: tema, channel: canal, district_id: distrito,
          time: fecha}
constants: {kind: survey}
"""
    rows = ("id,persona,tema,canal,distrito,fecha\n"
            "P-1,C-3,Presupuestos participativos 2024,WEB,centro,2024-05-01T10:00:00Z\n"
            "P-2,,Movilidad,App,sur,2024-05-02T10:00:00+02:00\n"
            "P-3,C-1," + "x" * 250 + ",kiosk,,2024-05-03 10:00\n")
    report = run_csv(city, settings, tmp_path, "decide", rows, mapping)
    assert (report.records_in, report.stored, report.quarantined) == (3, 2, 1)
    assert reasons(city, "decide") == ["participation: unknown district 'sur'"]
    found = rows_of(city, Participation)
    budget, long_topic = found["P-1"], found["P-3"]
    assert (budget.citizen_id, budget.kind, budget.topic, budget.channel, budget.district_id,
            budget.time) == ("C-3", "survey", "Presupuestos participativos 2024", "web",
                             "centro", utc(2024, 5, 1, 10))
    assert (len(long_topic.topic), long_topic.district_id, long_topic.time) == (
        200, None, utc(2024, 5, 3, 10))  # naive: the mapping's zone (UTC)
    assert report.watermark == "2024-05-03T10:00:00.000000Z"


def test_notices_keep_their_titles_per_language_and_get_a_district(
        city, settings, tmp_path) -> None:
    report = run_csv(city, settings, tmp_path, "tablon", NOTICE_ROWS, NOTICES)
    assert (report.records_in, report.stored, report.quarantined) == (5, 2, 3)
    assert reasons(city, "tablon") == [
        "rows: row 4: no title: every title_<lang> cell is empty",
        "rows: row 5: kind ('tipo'): 'party' is not news or event",
        "rows: row 6: ends_at ('fin') is before starts_at ('inicio')",
    ]
    found = rows_of(city, Notice)
    party, water = found["N-1"], found["N-2"]
    assert (party.kind, party.title, party.body) == (
        "event", {"es": "Fiesta del barrio", "en": "Neighbourhood party"},
        {"es": "Música y comida", "en": "Music and food"})
    assert (party.starts_at, party.ends_at, party.place) == (
        utc(2024, 7, 6, 16), utc(2024, 7, 6, 21), "Plaza Mayor")
    assert (party.lat, party.lon, party.district_id) == (0.5, 0.5, "centro")  # point-in-polygon
    assert (water.kind, water.title, water.body, water.ends_at, water.district_id) == (
        "news", {"es": "Corte de agua"}, {"es": "Calle Sol sin agua"}, None, "norte")
    assert (water.lat, water.place) == (None, "")


def test_service_requests_take_a_citizen(city, settings, tmp_path) -> None:
    run_csv(city, settings, tmp_path, "padron", CITIZEN_ROWS, CITIZENS)
    mapping = """entity: service_requests
columns: {id: id, requested_at: fecha, citizen_id: vecino, lat: lat, lon: lon}
"""
    rows = ("id,fecha,vecino,lat,lon\n"
            "R-1,2024-05-01T10:00:00Z,C-2,1.5,0.5\n"
            "R-2,2024-05-01T11:00:00Z,,,\n"
            "R-3,2024-05-01T12:00:00Z,C-404,,\n")
    report = run_csv(city, settings, tmp_path, "quejas", rows, mapping)
    assert (report.stored, report.quarantined) == (2, 1)
    assert reasons(city, "quejas") == ["service_requests: unknown citizen 'C-404'"]
    found = rows_of(city, ServiceRequest)
    assert (found["R-1"].citizen_id, found["R-1"].district_id) == ("C-2", "norte")
    assert (found["R-2"].citizen_id, found["R-2"].district_id) == (None, None)


def test_running_twice_stores_nothing_twice(city, settings, tmp_path) -> None:
    def snapshot() -> tuple[list[Any], ...]:
        return tuple(sorted(tuple(r) for r in rows_of(city, model).values())
                     for model in (Citizen, Case, Notice))

    run_csv(city, settings, tmp_path, "padron", CITIZEN_ROWS, CITIZENS)
    run_csv(city, settings, tmp_path, "expedientes", CASE_ROWS, CASES)
    run_csv(city, settings, tmp_path, "tablon", NOTICE_ROWS, NOTICES)
    first = snapshot()
    again = run_csv(city, settings, tmp_path, "padron", CITIZEN_ROWS, CITIZENS)
    assert (again.records_in, again.stored) == (3, 3)  # no cursor: read whole, upserted
    incremental = run_csv(city, settings, tmp_path, "expedientes", CASE_ROWS, CASES)
    assert incremental.records_in == 0  # nothing opened after the watermark
    full = run_csv(city, settings, tmp_path, "expedientes", CASE_ROWS, CASES, full=True)
    assert (full.records_in, full.stored, full.quarantined) == (4, 3, 1)
    run_csv(city, settings, tmp_path, "tablon", NOTICE_ROWS, NOTICES, full=True)
    assert snapshot() == first
    assert (count(city, Citizen), count(city, Case), count(city, Notice)) == (3, 3, 2)


def test_a_citizen_cursor_column_makes_citizens_incremental(city, settings, tmp_path) -> None:
    mapping = CITIZENS + "cursor_column: modificado\n"
    rows = ("dni_hash,nombre,correo,telefono,distrito,nacimiento,boletin,encuestas,modificado\n"
            "C-1,Ana,,,,,,,2024-01-01T00:00:00Z\nC-2,Luis,,,,,,,2024-02-01T00:00:00Z\n")
    first = run_csv(city, settings, tmp_path, "padron", rows, mapping)
    assert (first.stored, first.watermark) == (2, "2024-02-01T00:00:00.000000Z")
    rows += "C-3,Marta,,,,,,,2024-03-01T00:00:00Z\n"
    second = run_csv(city, settings, tmp_path, "padron", rows, mapping)
    assert (second.records_in, second.stored) == (1, 1)


# --- references within one batch (the store directly) ---------------------------------

def test_a_batch_may_name_its_own_citizens(conn: Connection, settings) -> None:
    upsert(conn, District.__table__, [{"id": "d-ref", "name": "D", "geometry": CENTRO}])
    opened = utc(2024, 1, 1)
    citizen = {"id": "c-new", "name": "N", "consent": {}, "district_id": "d-ref"}
    stray = {"id": "c-stray", "name": "S", "consent": {}, "district_id": "d-missing"}
    records = [
        ("r1", Mapped(citizens=[citizen])),
        ("r2", Mapped(cases=[{"id": "k1", "citizen_id": "c-new", "kind": "permit",
                              "department": "x", "status": "open", "opened_at": opened}])),
        ("r3", Mapped(citizens=[stray])),
        ("r4", Mapped(participation=[{"id": "p1", "citizen_id": "c-stray", "kind": "survey",
                                      "topic": "t", "time": opened}])),
    ]
    stored, refused = store_batch(conn, settings, records, "refs")
    assert stored == 2
    assert refused == [("r3", "citizens: unknown district 'd-missing'"),
                       ("r4", "participation: unknown citizen 'c-stray'")]
    assert conn.execute(select(Case.citizen_id).where(Case.id == "k1")).scalar_one() == "c-new"


# --- one row, no store -------------------------------------------------------------------

def test_text_limits_and_lower_case() -> None:
    mapper = RowMapper(TabularMapping.model_validate(
        {"entity": "citizens", "columns": {"id": "id", "name": "n", "email": "e", "phone": "p"}}))
    mapped = mapper.map({"id": "c", "n": "N" * 300, "e": " X@Y.ES ", "p": "9" * 50})
    person, = mapped.citizens
    assert (len(person["name"]), person["email"], len(person["phone"])) == (200, "x@y.es", 40)
    assert mapped.cursor is None
    assert mapper.required_columns() == ["id", "n", "e", "p"]
    with pytest.raises(ValueError, match="^id longer than 64 characters$"):
        mapper.map({"id": "c" * 65})


# --- bad mappings ----------------------------------------------------------------------

@pytest.mark.parametrize(("content", "problem"), [
    ("entity: citizens\ncolumns: {id: a, topic: b}\n",
     "unknown fields ['topic'] for citizens; known: id, name, email"),
    ("entity: notices\ncolumns: {id: a, kind: k, starts_at: s, title_esp: t}\n",
     "unknown fields ['title_esp'] for notices"),
    (CASES + "consent: {newsletter: b}\n", "consent applies to citizens, not cases"),
    (CITIZENS + "status_map: {x: open}\n",
     "status_map applies to service_requests and cases, not citizens"),
    (CASES.replace("Tramitado: resolved", "Tramitado: closed"),
     "status_map: ['closed'] are not statuses of cases"),
    ("entity: service_requests\ncolumns: {id: a, requested_at: b}\nstatus_map: {x: rejected}\n",
     "status_map: ['rejected'] are not statuses of service_requests"),
    (CASES.replace("opened_at: alta", "closed_at: alta").replace(", closed_at: cierre", ""),
     "'opened_at' is required for cases"),
    ("entity: participation\ncolumns: {id: a}\n", "'time' is required for participation"),
    ("entity: notices\ncolumns: {id: a, kind: k, starts_at: s, body_es: b}\n",
     "notices need a title"),
    ("entity: notices\ncolumns: {id: a, starts_at: s, title_es: t}\n", "notices need 'kind'"),
    ("entity: notices\ncolumns: {id: a, starts_at: s, title_es: t}\nconstants: {kind: party}\n",
     "kind 'party' is not news or event"),
    (CITIZENS + "domain: services\n", "apply to assets and observations, not citizens"),
    (CITIZENS.replace("newsletter", "news letter"), "are not names"),
    ("entity: cases\ncolumns: {id: a, opened_at: b}\nconstants: {closed_at: x}\n",
     "times cannot be constants"),
])
def test_a_bad_mapping_of_an_entity_is_explained(tmp_path, content, problem) -> None:
    path = write(tmp_path / "bad.yaml", content)
    with pytest.raises(SourceFormatError) as caught:
        load_mapping(path)
    assert problem in str(caught.value)


def test_the_mapping_examples_of_the_docs_load(tmp_path) -> None:
    docs = (Path(__file__).resolve().parents[1] / "docs" / "connectors.md").read_text("utf-8")
    examples = [block.split("```")[0] for block in docs.split("```yaml\n")[1:]]
    entities = set()
    for number, example in enumerate(examples):
        entities.add(load_mapping(write(tmp_path / f"{number}.yaml", example)).entity)
    assert {"citizens", "notices"} <= entities


# --- sql -------------------------------------------------------------------------------

def test_sql_reads_participation_incrementally(tmp_path, fresh_engine, settings) -> None:
    source = tmp_path / "legacy.db"

    def add(rows: list[tuple[str, str, str]]) -> None:
        with sqlite3.connect(source) as db:
            db.execute("CREATE TABLE IF NOT EXISTS votes (ref TEXT, asunto TEXT, cuando TEXT)")
            db.executemany("INSERT INTO votes VALUES (?, ?, ?)", rows)
        db.close()

    add([("V-1", "Parques", "2024-05-01 10:00:00"), ("V-2", "Tráfico", "2024-05-02 10:00:00")])
    mapping = write(tmp_path / "votes.yaml", """entity: participation
timezone: Europe/Madrid
columns: {id: ref, topic: asunto, time: cuando}
constants: {kind: consultation, channel: Kiosk}
""")
    connector = SqlConnector({"location": f"sqlite:///{source}", "table": "votes",
                              "mapping": str(mapping)})
    first = run_source(fresh_engine, settings, connector, "votes")
    assert (first.records_in, first.stored, first.watermark) == (
        2, 2, "2024-05-02T08:00:00.000000Z")
    add([("V-3", "Parques", "2024-05-03 10:00:00")])
    second = run_source(fresh_engine, settings, connector, "votes")
    assert (second.records_in, second.stored) == (1, 1)
    found = rows_of(fresh_engine, Participation)
    assert sorted(found) == ["V-1", "V-2", "V-3"]
    assert (found["V-3"].kind, found["V-3"].channel, found["V-3"].time) == (
        "consultation", "kiosk", utc(2024, 5, 3, 8))


REGISTRY = """entity: assets
type: OffStreetParking
domain: parking
columns: {id: code, name: nombre, lat: lat, lon: lon, status: estado}
attributes: {capacity: plazas}
"""
COUNTS = """entity: observations
type: OffStreetParking
domain: parking
columns: {id: code, name: code, time: hora}
attributes: {operator: empresa}
metrics:
  - {metric: occupiedSpotNumber, column: ocupadas}
"""


def test_a_feed_without_places_keeps_the_places_another_gave(city, settings, tmp_path) -> None:
    """A registry gives car parks their place, status and capacity; a counts export that
    has no coordinates nor status (and a blank cell) updates its readings and attributes
    and keeps the rest: place, district, status, capacity."""
    registry = ("code,nombre,lat,lon,estado,plazas\n"
                "P1,Parking Centro,0.5,0.5,closed,400\nP2,Parking Norte,1.5,0.5,ok,250\n")
    run_csv(city, settings, tmp_path, "registro", registry, REGISTRY)
    counts = ("code,hora,ocupadas,empresa\nP1,2026-05-01 10:00,120,Aparca SA\n"
              "P2,2026-05-01 10:00,80,\n")
    report = run_csv(city, settings, tmp_path, "conteos", counts, COUNTS)
    assert (report.stored, report.quarantined) == (2, 0)
    found = rows_of(city, Asset)
    p1, p2 = found["urn:ngsi-ld:OffStreetParking:P1"], found["urn:ngsi-ld:OffStreetParking:P2"]
    assert (p1.lat, p1.lon, p1.district_id, p1.status) == (0.5, 0.5, "centro", "closed")
    assert (p2.lat, p2.lon, p2.district_id, p2.status) == (1.5, 0.5, "norte", "ok")
    assert p1.attributes == {"capacity": 400, "operator": "Aparca SA"}
    assert p2.attributes == {"capacity": 250}
