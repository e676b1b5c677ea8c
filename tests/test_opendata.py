"""Open data (docs/opendata.md): the bulk files read back to the store's rows, no personal
field in any of them, the DCAT-AP 3 catalogue in Turtle and JSON-LD, downloads with
validators, failed and unchanged exports, the schedule. On SQLite and PostgreSQL."""
from __future__ import annotations

import gzip
import hashlib
import io
import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pyarrow.parquet as pq
import pytest
import shapely
from flask import Flask
from flask.testing import FlaskClient
from rdflib import Graph, URIRef
from rdflib.compare import isomorphic
from shapely.geometry import shape
from sqlalchemy import Engine, func, insert, select
from typer.testing import CliRunner

from connectors.demo import generate_demo
from dashboard.api.opendata import register_opendata
from dashboard.api.reads import REQUEST_FIELDS
from dashboard.cli import app as cli_app
from dashboard.kpis import compute_kpi_table, load_kpis
from dashboard.kpis.windows import Window, local_midnight
from dashboard.model import (
    Asset,
    Citizen,
    District,
    LatestReading,
    Observation,
    Service,
    ServiceRequest,
)
from dashboard.opendata import export_once
from dashboard.opendata.export import manifests
from dashboard.opendata.sinks import ParquetSink
from dashboard.settings import Settings, get_settings
from dashboard.store import bump_data_version, get_engine
from dashboard.store.observations import ingest_observations
from tests.conftest import pg_store

NOW = datetime(2026, 11, 23, 20, 0, tzinfo=timezone.utc)
SECRETS = ("Zebedee Sentinel", "zebedee.sentinel@example.org", "600111222",
           "Calle Sentinela 99", "Sentinel free text 7731", "CIT-SENTINEL")
SENTINEL = "SR-SENTINEL-1"
OCTOBER = [int(datetime(2026, 10, d, 12, tzinfo=timezone.utc).timestamp()) for d in (3, 4, 5)]


def _personal_request(engine: Engine) -> None:
    """A request whose resident, address and text are in the store (never published)."""
    with engine.begin() as conn:
        service = conn.execute(select(Service.service_code, Service.department)).first()
        assert service is not None
        conn.execute(insert(Citizen).values(id="CIT-SENTINEL", name=SECRETS[0], email=SECRETS[1],
                                            phone="+34 600111222"))
        conn.execute(insert(ServiceRequest).values(
            id=SENTINEL, service_code=service[0], service_name="x", department=service[1],
            description=SECRETS[4], status="open", status_notes=SECRETS[4], channel="web",
            requested_at=NOW - timedelta(hours=1), lat=43.4623456, lon=-3.8099876,
            address=SECRETS[3], citizen_id="CIT-SENTINEL", moderation="approved"))
        bump_data_version(conn, ["requests", "citizens"])


def _october_readings(engine: Engine, settings: Settings) -> None:
    """Three readings of October: observations span two months."""
    with engine.begin() as conn:
        pk = conn.execute(select(Asset.pk).where(Asset.domain == "environment")
                          .order_by(Asset.pk)).scalars().first()
        ingest_observations(conn, pd.DataFrame({
            "asset_pk": pk, "metric": "no2", "value": [11.0, 12.0, 13.0], "unit": "µg/m3",
            "time": OCTOBER}), settings.timezone)
        bump_data_version(conn, ["type:AirQualityObserved"])


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def city(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[tuple[Settings, Engine]]:
    """A tiny demo city with a personal request and October readings, exported once."""
    var_dir: Path = tmp_path_factory.mktemp(f"opendata-{request.param}")
    if request.param == "sqlite":
        settings = Settings(var_dir=var_dir, redis_url=None, now=NOW)
        engine = get_engine(settings.resolved_database_url)
        yield from _made(settings, engine)
        return
    with pg_store("citylens_opendata") as (url, engine):
        settings = Settings(var_dir=var_dir, database_url=url, redis_url=None, now=NOW)
        yield from _made(settings, engine)


def _made(settings: Settings, engine: Engine) -> Iterator[tuple[Settings, Engine]]:
    generate_demo(engine, settings, scale="tiny", seed=7, end=NOW)
    _personal_request(engine)
    _october_readings(engine, settings)
    assert export_once(engine, settings).ran
    yield settings, engine


@pytest.fixture(scope="module")
def client(city: tuple[Settings, Engine]) -> FlaskClient:
    server = Flask("citylens-opendata-test")
    register_opendata(server, city[0])
    return server.test_client()


def _download(client: FlaskClient, name: str) -> bytes:
    response = client.get(f"/opendata/{name}")
    assert response.status_code == 200, (name, response.status_code)
    return response.get_data()


def _parquet(client: FlaskClient, name: str) -> pd.DataFrame:
    return pd.read_parquet(io.BytesIO(_download(client, name)))


def _csv(client: FlaskClient, name: str) -> pd.DataFrame:
    raw = _download(client, name)
    if name.endswith(".gz"):
        raw = gzip.decompress(raw)
    return pd.read_csv(io.BytesIO(raw), keep_default_na=False, na_values=[""])


def _geojson(client: FlaskClient, name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(_download(client, name))
    assert document["type"] == "FeatureCollection"
    return document


def _files(settings: Settings, dataset: str) -> list[str]:
    return [f.name for d, m in manifests(settings) if d.name == dataset and m for f in m.files]


# --- the files hold the store's rows -------------------------------------------------

def test_districts_read_back(city: tuple[Settings, Engine], client: FlaskClient) -> None:
    settings, engine = city
    with engine.connect() as conn:
        stored = {d.id: d for d in conn.execute(select(District)).all()}
    frames = [_parquet(client, "districts.parquet"), _csv(client, "districts.csv")]
    features = _geojson(client, "districts.geojson")["features"]
    assert len(features) == len(stored) == 10
    for frame in frames:
        assert list(frame.columns) == ["id", "name", "population", "area_km2",
                                       "municipality_id", "municipality_name", "geometry"]
        assert sorted(frame["id"]) == sorted(stored)
    first = stored[sorted(stored)[0]]
    parquet, text = frames[0].set_index("id").loc[first.id], frames[1].set_index("id").loc[
        first.id]
    assert parquet["population"] == text["population"] == first.population
    assert parquet["name"] == first.name and parquet["area_km2"] == pytest.approx(first.area_km2)
    original = shape(first.geometry)
    assert shapely.from_wkb(parquet["geometry"]).equals(original)
    assert shapely.from_wkt(text["geometry"]).equals(original)
    assert shape(features[0]["geometry"]).equals(original)
    geo = pq.read_schema(io.BytesIO(_download(client, "districts.parquet"))).metadata[b"geo"]
    assert json.loads(geo)["primary_column"] == "geometry"


def test_assets_read_back_with_their_latest_readings(city: tuple[Settings, Engine],
                                                     client: FlaskClient) -> None:
    _, engine = city
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(Asset)).scalar_one()
        asset = conn.execute(select(Asset).where(Asset.domain == "environment")
                             .order_by(Asset.pk)).first()
        assert asset is not None
        latest = {m: (v, u) for m, v, u in conn.execute(
            select(LatestReading.metric, LatestReading.value, LatestReading.unit)
            .where(LatestReading.asset_pk == asset.pk))}
    parquet, text = _parquet(client, "assets.parquet"), _csv(client, "assets.csv")
    features = _geojson(client, "assets.geojson")["features"]
    assert len(parquet) == len(text) == len(features) == count
    row = parquet.set_index("id").loc[asset.id]
    assert (row["lat"], row["lon"], row["name"], row["district_id"], row["type"]) == (
        asset.lat, asset.lon, asset.name, asset.district_id, asset.type)
    readings = json.loads(row["latest_readings"])
    assert {m: (r["value"], r["unit"]) for m, r in readings.items()} == latest
    assert json.loads(text.set_index("id").loc[asset.id]["latest_readings"]) == readings
    feature = next(f for f in features if f["id"] == asset.id)
    assert feature["geometry"]["coordinates"] == [asset.lon, asset.lat]


def test_observations_read_back_month_by_month(city: tuple[Settings, Engine],
                                               client: FlaskClient) -> None:
    settings, engine = city
    names = _files(settings, "observations")
    assert names == ["observations-2026-10.csv.gz", "observations-2026-10.parquet",
                     "observations-2026-11.csv.gz", "observations-2026-11.parquet"]
    with engine.connect() as conn:
        total, value_sum = conn.execute(select(func.count(), func.sum(Observation.value))
                                        ).one()
        sample = conn.execute(select(Asset.id, Observation.metric, Observation.time,
                                     Observation.value, Observation.unit)
                              .join(Asset, Asset.pk == Observation.asset_pk)
                              .where(Observation.time > OCTOBER[-1])
                              .order_by(Observation.time.desc()).limit(5)).all()
    parquet = pd.concat([_parquet(client, n) for n in names if n.endswith(".parquet")])
    text = pd.concat([_csv(client, n) for n in names if n.endswith(".csv.gz")])
    assert len(parquet) == len(text) == total
    assert parquet["value"].sum() == pytest.approx(value_sum)
    assert list(parquet.columns) == ["asset_id", "metric", "time", "value", "unit"]
    assert str(parquet["time"].dt.tz) == "UTC"
    october = _parquet(client, "observations-2026-10.parquet")
    assert sorted(october["value"]) == [11.0, 12.0, 13.0]
    keyed = parquet.set_index(["asset_id", "metric", "time"])
    text["time"] = pd.to_datetime(text["time"], utc=True)
    keyed_text = text.set_index(["asset_id", "metric", "time"])
    for asset_id, metric, time, value, unit in sample:
        key = (asset_id, metric, pd.Timestamp(time, unit="s", tz="UTC"))
        assert keyed.loc[key, "value"] == keyed_text.loc[key, "value"] == value
        assert keyed.loc[key, "unit"] == unit


def test_service_requests_are_the_public_fields_only(city: tuple[Settings, Engine],
                                                     client: FlaskClient) -> None:
    _, engine = city
    with engine.connect() as conn:
        ids = set(conn.execute(select(ServiceRequest.id)).scalars())
    parquet, text = _parquet(client, "service_requests.parquet"), _csv(
        client, "service_requests.csv")
    for frame in (parquet, text):
        assert list(frame.columns) == list(REQUEST_FIELDS)
        assert set(frame["id"]) == ids and len(frame) == len(ids)
    row = parquet.set_index("id").loc[SENTINEL]
    assert (row["lat"], row["lon"]) == (43.462, -3.81)
    assert (parquet["lat"].dropna().round(3) == parquet["lat"].dropna()).all()


def test_no_personal_field_in_any_file(city: tuple[Settings, Engine],
                                       client: FlaskClient) -> None:
    settings, _ = city
    names = [n for d, m in manifests(settings) if m for n in (f.name for f in m.files)]
    assert len(names) == 14
    for name in names:
        if name.endswith(".parquet"):
            body = _parquet(client, name).drop(columns=["geometry"], errors="ignore").to_csv()
        else:
            raw = _download(client, name)
            body = (gzip.decompress(raw) if name.endswith(".gz") else raw).decode()
        for secret in SECRETS:
            assert secret not in body, (name, secret)
        assert "citizen" not in body.split("\n", 1)[0] and "address" not in body


def test_kpis_are_the_engines_daily_values(city: tuple[Settings, Engine],
                                           client: FlaskClient) -> None:
    settings, engine = city
    parquet, text = _parquet(client, "kpis.parquet"), _csv(client, "kpis.csv")
    assert len(parquet) == len(text) > 0
    day = date(2026, 11, 20)
    zone = ZoneInfo(settings.timezone)
    window = Window("day", local_midnight(day, zone), local_midnight(day + timedelta(days=1),
                                                                     zone), "day",
                    settings.timezone)
    with engine.connect() as conn:
        table = compute_kpi_table(conn, load_kpis(settings.kpis_file), window, NOW)
    expected = {(v.id, place or "city"): v.value for place, values in table.places.items()
                for v in values if v.value is not None}
    found = parquet[parquet["date"] == day]
    assert {(r.kpi, r.place): r.value for r in found.itertuples()} == pytest.approx(expected)
    assert set(found["place"]) >= {"city"} and found["unit"].notna().all()
    assert found["coverage_share"].between(0, 1).all()


# --- the catalogue -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def graphs(client: FlaskClient) -> tuple[Graph, Graph]:
    turtle = client.get("/api/v1/catalog", headers={"Accept": "text/turtle"})
    jsonld = client.get("/api/v1/catalog")
    assert turtle.mimetype == "text/turtle" and jsonld.mimetype == "application/ld+json"
    assert client.get("/api/v1/catalog.ttl").get_data() == turtle.get_data()
    assert client.get("/api/v1/catalog?format=ttl").get_data() == turtle.get_data()
    assert client.get("/api/v1/catalog.jsonld").get_data() == jsonld.get_data()
    return (Graph().parse(data=turtle.get_data(as_text=True), format="turtle"),
            Graph().parse(data=jsonld.get_data(as_text=True), format="json-ld"))


def test_turtle_and_jsonld_are_the_same_graph(graphs: tuple[Graph, Graph]) -> None:
    turtle, jsonld = graphs
    assert len(turtle) > 300 and isomorphic(turtle, jsonld)


PREFIXES = """PREFIX dcat: <http://www.w3.org/ns/dcat#> PREFIX dct: <http://purl.org/dc/terms/>
PREFIX foaf: <http://xmlns.com/foaf/0.1/> PREFIX vcard: <http://www.w3.org/2006/vcard/ns#>
PREFIX spdx: <http://spdx.org/rdf/terms#> PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>
PREFIX gsp: <http://www.opengis.net/ont/geosparql#> PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
"""


def _ask(graph: Graph, query: str) -> list[Any]:
    return list(graph.query(PREFIXES + query))


def test_mandatory_properties_are_present(graphs: tuple[Graph, Graph]) -> None:
    g = graphs[0]
    catalogs = _ask(g, "SELECT ?c WHERE { ?c a dcat:Catalog }")
    assert len(catalogs) == 1
    datasets = _ask(g, "SELECT ?d WHERE { ?d a dcat:Dataset }")
    assert len(datasets) == 5
    distributions = _ask(g, "SELECT ?x WHERE { ?x a dcat:Distribution }")
    assert len(distributions) == 14
    missing = {
        "catalogue": """SELECT ?c WHERE { ?c a dcat:Catalog . FILTER NOT EXISTS {
            ?c dct:title ?t ; dct:description ?s ; dct:publisher ?p } }""",
        "dataset": """SELECT ?d WHERE { ?d a dcat:Dataset . FILTER NOT EXISTS {
            ?d dct:title ?t ; dct:description ?s } }""",
        "distribution": """SELECT ?x WHERE { ?x a dcat:Distribution . FILTER NOT EXISTS {
            ?x dcat:accessURL ?u } }""",
        "agent": """SELECT ?a WHERE { ?o dct:publisher ?a . FILTER NOT EXISTS {
            ?a a foaf:Agent ; foaf:name ?n } }""",
        "data service": """SELECT ?s WHERE { ?s a dcat:DataService . FILTER NOT EXISTS {
            ?s dct:title ?t ; dcat:endpointURL ?e } }""",
        "English and Spanish": """SELECT ?d WHERE { ?d a dcat:Dataset . FILTER NOT EXISTS {
            ?d dct:title ?en, ?es ; dct:description ?den, ?des .
            FILTER(lang(?en) = "en" && lang(?es) = "es" && lang(?den) = "en"
                   && lang(?des) = "es") } }""",
    }
    for what, query in missing.items():
        assert _ask(g, query) == [], what


def test_recommended_properties_have_their_node_types_and_datatypes(
        graphs: tuple[Graph, Graph]) -> None:
    g = graphs[0]
    wrong = {
        "temporal": """SELECT ?d WHERE { ?d a dcat:Dataset ; dct:temporal ?t .
            FILTER NOT EXISTS { ?t a dct:PeriodOfTime ; dcat:startDate ?s ; dcat:endDate ?e .
            FILTER(datatype(?s) IN (xsd:date, xsd:dateTime)
                   && datatype(?e) IN (xsd:date, xsd:dateTime)) } }""",
        "spatial": """SELECT ?d WHERE { ?d a dcat:Dataset . FILTER NOT EXISTS {
            ?d dct:spatial ?l . ?l a dct:Location ; dcat:bbox ?b ; dcat:centroid ?c .
            FILTER(datatype(?b) = gsp:wktLiteral && datatype(?c) = gsp:wktLiteral) } }""",
        "contact": """SELECT ?d WHERE { ?d a dcat:Dataset . FILTER NOT EXISTS {
            ?d dcat:contactPoint ?v . ?v a vcard:Organization ; vcard:hasEmail ?m .
            FILTER(isIRI(?m) && STRSTARTS(STR(?m), "mailto:")) } }""",
        "theme": """SELECT ?d WHERE { ?d a dcat:Dataset . FILTER NOT EXISTS { ?d dcat:theme ?t .
            FILTER(STRSTARTS(STR(?t),
                   "http://publications.europa.eu/resource/authority/data-theme/")) } }""",
        "dates": """SELECT ?x WHERE { { ?x a dcat:Dataset } UNION { ?x a dcat:Distribution }
            FILTER NOT EXISTS { ?x dct:modified ?m . FILTER(datatype(?m) = xsd:dateTime) } }""",
        "frequency and rights": """SELECT ?d WHERE { ?d a dcat:Dataset . FILTER NOT EXISTS {
            ?d dct:accrualPeriodicity ?f ; dct:accessRights ?r ; dct:issued ?i ;
               dct:identifier ?id ; dcat:keyword ?k .
            ?f a dct:Frequency . ?r a dct:RightsStatement .
            FILTER(STRENDS(STR(?r), "access-right/PUBLIC")) } }""",
        "distribution": """SELECT ?x WHERE { ?x a dcat:Distribution . FILTER NOT EXISTS {
            ?x dcat:downloadURL ?u ; dct:format ?f ; dcat:mediaType ?m ; dct:license ?l ;
               dcat:byteSize ?b ; spdx:checksum ?c ; dct:title ?t .
            ?c a spdx:Checksum ; spdx:algorithm spdx:checksumAlgorithm_sha256 ;
               spdx:checksumValue ?v .
            ?f a dct:MediaTypeOrExtent . ?m a dct:MediaType . ?l a dct:LicenseDocument .
            FILTER(datatype(?b) = xsd:nonNegativeInteger && datatype(?v) = xsd:hexBinary
                   && STRSTARTS(STR(?f),
                                "http://publications.europa.eu/resource/authority/file-type/")
                   && STRSTARTS(STR(?m), "http://www.iana.org/assignments/media-types/")) } }""",
        "service": """SELECT ?s WHERE { ?s a dcat:DataService . FILTER NOT EXISTS {
            ?s dcat:endpointDescription ?o ; dcat:servesDataset ?d . ?d a dcat:Dataset } }""",
        "catalogue": """SELECT ?c WHERE { ?c a dcat:Catalog . FILTER NOT EXISTS {
            ?c foaf:homepage ?h ; dct:language ?l ; dct:license ?x ; dct:modified ?m ;
               dct:spatial ?s ; dcat:dataset ?d . ?l a dct:LinguisticSystem .
            ?s a dct:Location . ?p a foaf:Agent ; dct:type ?t } }""",
    }
    for what, query in wrong.items():
        assert _ask(g, query) == [], what


def test_checksums_and_sizes_in_the_catalogue_match_the_files(
        graphs: tuple[Graph, Graph], client: FlaskClient) -> None:
    rows = _ask(graphs[1], """SELECT ?u ?b ?v WHERE { ?x a dcat:Distribution ;
        dcat:downloadURL ?u ; dcat:byteSize ?b ; spdx:checksum [ spdx:checksumValue ?v ] }""")
    assert len(rows) == 14
    for url, size, checksum in rows:
        assert isinstance(url, URIRef)
        body = _download(client, "/".join(str(url).split("/")[-1:]))
        assert len(body) == int(size)
        assert hashlib.sha256(body).hexdigest() == str(checksum)


# --- serving ---------------------------------------------------------------------------

def test_a_download_has_validators_and_answers_conditional_gets(client: FlaskClient) -> None:
    response = client.get("/opendata/districts.geojson")
    assert response.mimetype == "application/geo+json"
    assert response.headers["Content-Disposition"] == 'attachment; filename=districts.geojson'
    etag, modified = response.headers["ETag"], response.headers["Last-Modified"]
    assert etag.strip('"') == hashlib.sha256(response.get_data()).hexdigest()
    assert client.get("/opendata/districts.geojson",
                      headers={"If-None-Match": etag}).status_code == 304
    assert client.get("/opendata/districts.geojson",
                      headers={"If-Modified-Since": modified}).status_code == 304
    types = {"service_requests.parquet": "application/vnd.apache.parquet",
             "kpis.csv": "text/csv", "observations-2026-11.csv.gz": "application/gzip"}
    for name, media in types.items():
        assert client.get(f"/opendata/{name}").mimetype == media
    catalog = client.get("/api/v1/catalog.ttl")
    assert client.get("/api/v1/catalog.ttl", headers={
        "If-None-Match": catalog.headers["ETag"]}).status_code == 304
    assert client.get("/api/v1/catalog?format=xml").status_code == 400


@pytest.mark.parametrize("path", ["/opendata/..%2f..%2fcitylens.db", "/opendata/../citylens.db",
                                  "/opendata/..%2fcitylens.db", "/opendata/%2e%2e/citylens.db",
                                  "/opendata/districts.manifest.json",
                                  "/opendata/.districts.csv.1.part", "/opendata//etc/passwd"])
def test_nothing_outside_the_published_files_is_served(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code in (404, 308), path
    assert b"SQLite" not in response.get_data()


# --- exporting ---------------------------------------------------------------------------

def test_the_beat_schedule_sends_the_export() -> None:
    from connectors.queue import OPENDATA_TASK, beat_schedule

    entry = beat_schedule([], Path("sources.yaml"))["opendata"]
    assert entry["task"] == OPENDATA_TASK == "citylens.opendata"
    assert entry["schedule"] == timedelta(seconds=get_settings().opendata_every_seconds)


def test_the_cli_reports_status_and_exports_one_dataset(city: tuple[Settings, Engine]) -> None:
    settings, _ = city
    env = {"CITYLENS_VAR_DIR": str(settings.var_dir), "CITYLENS_NOW": NOW.isoformat(),
           "CITYLENS_REDIS_URL": "", "CITYLENS_DATABASE_URL": settings.database_url}
    try:
        runner = CliRunner()
        status = runner.invoke(cli_app, ["opendata", "status", "--json"], env=env)
        done = runner.invoke(cli_app, ["opendata", "export", "--dataset", "districts",
                                       "--force"], env=env)
        bad = runner.invoke(cli_app, ["opendata", "export", "--dataset", "nope"], env=env)
    finally:
        get_settings.cache_clear()
    assert status.exit_code == 0, status.output
    assert json.loads(status.stdout)["districts"]["rows"] == 10
    assert done.exit_code == 0 and "districts: 3 files, 10 rows" in done.stdout, done.output
    assert bad.exit_code == 2


def _digests(settings: Settings) -> dict[str, str]:
    folder = settings.var_dir / "opendata"
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def test_an_export_failing_midway_leaves_the_previous_files(
        city: tuple[Settings, Engine], monkeypatch: pytest.MonkeyPatch) -> None:
    settings, engine = city
    before = _digests(settings)

    def broken(self: ParquetSink, batch: Any) -> None:
        raise OSError("disk full (test)")

    monkeypatch.setattr(ParquetSink, "write", broken)
    with pytest.raises(OSError, match="disk full"):
        export_once(engine, settings, force=True)
    assert _digests(settings) == before  # no file changed, no temporary left behind


def test_another_exporter_holding_the_lease_is_waited_for(city: tuple[Settings, Engine]
                                                           ) -> None:
    from dashboard.notify.leases import give_up_lease, take_lease
    from dashboard.opendata.cycle import HOLD_FOR, LEASE

    settings, engine = city
    assert take_lease(engine, LEASE, "elsewhere:1", NOW, HOLD_FOR)
    try:
        assert not export_once(engine, settings, force=True).ran
    finally:
        give_up_lease(engine, LEASE, "elsewhere:1", NOW)


def test_an_unchanged_store_exports_nothing_and_a_change_only_its_datasets(
        city: tuple[Settings, Engine]) -> None:
    settings, engine = city
    assert export_once(engine, settings).line().count("unchanged") == 5
    before = _digests(settings)
    with engine.begin() as conn:
        pk = conn.execute(select(Asset.pk).where(Asset.type == "AirQualityObserved")
                          .order_by(Asset.pk)).scalars().first()
        ingest_observations(conn, pd.DataFrame({
            "asset_pk": [pk], "metric": ["no2"], "value": [99.5], "unit": ["µg/m3"],
            "time": [OCTOBER[0] + 3600]}), settings.timezone)
        bump_data_version(conn, ["type:AirQualityObserved", "domain:environment"])
    done = {e.dataset: e for e in export_once(engine, settings).exported}
    assert sorted(done["observations"].written) == ["observations-2026-10.csv.gz",
                                                    "observations-2026-10.parquet"]
    assert done["observations"].rows == 4
    assert not done["districts"].written and not done["service_requests"].written
    assert done["assets"].written and done["kpis"].written
    after = _digests(settings)
    assert after["observations-2026-11.parquet"] == before["observations-2026-11.parquet"]
    assert after["districts.parquet"] == before["districts.parquet"]


def test_the_one_box_loop_exports(tmp_path: Path, fresh_engine: Engine) -> None:
    from connectors.sources import run_forever

    settings = Settings(var_dir=tmp_path / "var", now=NOW, notify_every_seconds=10**6)
    run_forever(fresh_engine, settings, [], lambda report: None, sleep=lambda s: None,
                rounds=1)
    exported = {d.name: m for d, m in manifests(settings)}
    assert all(m is not None for m in exported.values()), exported
