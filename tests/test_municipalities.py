"""The municipality level of a metropolitan deployment: a municipality's KPIs are computed
from its districts exactly as the city's are from all of them."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text, update

from dashboard.kpis import compute_kpi_table, load_kpis, window_for
from dashboard.model import Asset, District
from dashboard.settings import Settings
from dashboard.store import make_engine
from tests.conftest import TINY_NOW

ROLLUP_TABLES = ("rollups", "request_rollups", "request_durations")


def _copy(settings: Settings, folder: Path) -> str:
    source = Path(settings.resolved_database_url.removeprefix("sqlite:///"))
    target = folder / "city.db"
    shutil.copy(source, target)
    return f"sqlite:///{target}"


@pytest.mark.parametrize("window", ["day", "week", "month"])
def test_a_municipality_is_its_districts_as_the_city_is_all_of_them(
        tiny_city: Settings, tmp_path: Path, window: str) -> None:
    """The oracle: the KPIs of the municipality of half the districts, in the whole store,
    equal the city's KPIs in a copy of the store that holds only those districts and
    what lies in them (their rollups, assets and residents)."""
    whole = make_engine(_copy(tiny_city, tmp_path))
    with whole.begin() as conn:
        ids = sorted(conn.scalars(select(District.id)))
        north = ids[: len(ids) // 2]
        conn.execute(update(District).where(District.id.in_(north))
                     .values(municipality_id="norte", municipality_name="Norte"))
    (tmp_path / "only").mkdir()
    shutil.copy(tmp_path / "city.db", tmp_path / "only" / "city.db")
    only = make_engine(f"sqlite:///{tmp_path / 'only' / 'city.db'}")
    with only.begin() as conn:
        for table in ROLLUP_TABLES:
            conn.execute(text(f"DELETE FROM {table} WHERE district_id IS NULL OR "
                              f"district_id NOT IN ({', '.join(repr(i) for i in north)})"))
        # what lies outside is gone: its assets read as a kind no KPI reads, its
        # districts house no one (rows kept for the foreign keys)
        conn.execute(update(Asset).where(Asset.district_id.not_in(north)
                                         | Asset.district_id.is_(None))
                     .values(type="Elsewhere", district_id=None))
        conn.execute(update(District).where(District.id.not_in(north)).values(population=0))
    kpis = load_kpis(tiny_city.kpis_file)
    span = window_for(window, TINY_NOW, tiny_city.timezone)
    with whole.connect() as conn:
        municipality = compute_kpi_table(conn, kpis, span, TINY_NOW, within=north)
        city = compute_kpi_table(conn, kpis, span, TINY_NOW)
    with only.connect() as conn:
        expected = compute_kpi_table(conn, kpis, span, TINY_NOW)
    assert set(municipality.places) == {None, *north}
    got = [v.as_dict() for v in municipality.for_place(None)]
    want = [v.as_dict() for v in expected.for_place(None)]
    assert got == want and any(v["value"] is not None for v in got)
    for district in north:  # each district is itself, whatever the level
        assert ([v.as_dict() for v in municipality.for_place(district)]
                == [v.as_dict() for v in city.for_place(district)])
    # and it is not simply the city again
    assert [v.value for v in municipality.for_place(None)] != \
        [v.value for v in city.for_place(None)]


def test_the_command_line_reads_a_municipality_and_refuses_an_unknown_one(
        tmp_path: Path) -> None:
    import json
    import os
    import subprocess

    from tests.conftest import CITYLENS_CLI

    root = Path(__file__).resolve().parents[1]
    fixture = root.parent / "shared" / "fixtures" / "districts" / "bern-districts.geojson"
    if not fixture.exists():
        pytest.skip(f"fixture {fixture} is absent (../shared/fixtures not beside the project)")
    env = {**os.environ, "CITYLENS_VAR_DIR": str(tmp_path / "var"), "CITYLENS_REDIS_URL": ""}
    env.pop("CITYLENS_DATABASE_URL", None)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*CITYLENS_CLI, *args], env=env, cwd=root, capture_output=True,
                              text=True, timeout=120)

    loaded = cli("districts", "load", str(fixture), "--municipality", "Bern", "--json")
    assert loaded.returncode == 0, loaded.stderr
    answer = cli("kpis", "--municipality", "bern", "--json")
    assert answer.returncode == 0, answer.stderr
    data = json.loads(answer.stdout)
    assert data["municipality"] == "bern" and data["kpis"]
    district = cli("kpis", "--municipality", "bern", "--district", "bern-innere-stadt", "--json")
    assert district.returncode == 0, district.stderr
    unknown = cli("kpis", "--municipality", "zurich")
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == "error: unknown municipality 'zurich'"

    from app import create_app

    client = create_app(Settings(var_dir=tmp_path / "var", database_url="", redis_url=None,
                                 now=TINY_NOW)).server.test_client()
    api = client.get("/api/v1/kpis?municipality=bern").get_json()
    assert api["municipality"] == "bern" and [k["id"] for k in api["kpis"]] == \
        [k["id"] for k in data["kpis"]]
    refused = client.get("/api/v1/kpis?municipality=zurich")
    assert refused.status_code == 400 and refused.get_json()["error"]["parameter"] == \
        "municipality"


@pytest.fixture(scope="module")
def metro(tiny_city: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The tiny city as a metropolis: its first half of districts make the municipality
    "Norte", the rest "Sur" (a copy of the store; the shared one stays a single city)."""
    folder = tmp_path_factory.mktemp("metro")
    url = _copy(tiny_city, folder)
    engine = make_engine(url)
    with engine.begin() as conn:
        ids = sorted(conn.scalars(select(District.id)))
        half = len(ids) // 2
        conn.execute(update(District).where(District.id.in_(ids[:half]))
                     .values(municipality_id="norte", municipality_name="Norte"))
        conn.execute(update(District).where(District.id.in_(ids[half:]))
                     .values(municipality_id="sur", municipality_name="Sur"))
    engine.dispose()
    return Settings(var_dir=folder, database_url=url, redis_url=None, now=TINY_NOW)


@pytest.fixture(scope="module")
def metro_app(metro: Settings) -> Any:
    from app import create_app

    return create_app(metro)


def test_the_overview_chooses_a_municipality_and_mirrors_it_in_the_url(
        metro: Settings, metro_app: Any) -> None:
    from dashboard import queries
    from tests.tree import by_id, text_of

    with metro_app.server.app_context():
        from callbacks.overview import select_district, sync_url, update_alerts, update_numbers
        from layouts.overview import layout

        norte = next(m for m in queries.municipality_options(metro) if m["id"] == "norte")
        tree = layout(municipality="norte")
        selector = by_id(tree, "district-filter")
        assert selector.value == "municipality:norte"
        labels = [o["label"] for o in selector.options]
        assert labels[:2] == ["Whole city", "Norte (whole municipality)"]
        assert sum(label.startswith("Norte · ") for label in labels) == len(norte["districts"])
        assert by_id(tree, "overview-place-title").children == "Norte"
        assert by_id(tree, "overview-district-layer").hideout["selected"] == norte["districts"]
        outline = by_id(tree, "overview-selection-layer").data["features"]
        assert sorted(f["properties"]["id"] for f in outline) == sorted(norte["districts"])
        assert "Norte score" in text_of(by_id(tree, "city-score"))
        assert "municipality=norte" in by_id(tree, "overview-kpi-export").href

        title, _, _, cards, export = update_numbers("municipality:norte", "week", "")
        expected = queries.overview(metro, None, "week", None, "norte")
        city = queries.overview(metro, None, "week")
        assert title == "Norte" and len(cards) == len(expected["kpis"])
        assert [k["value"] for k in expected["kpis"]] != [k["value"] for k in city["kpis"]]
        assert export.endswith("municipality=norte") or "municipality=norte&" in export
        assert sync_url("municipality:norte", "week", "") == "?municipality=norte&period=7d"
        hideout, outline, _ = select_district("municipality:norte", "week")
        assert sorted(f["properties"]["id"] for f in outline["features"]) == \
            sorted(norte["districts"])
        alerts = text_of(update_alerts("municipality:norte"))
        assert "Active alerts" in alerts
        # a forged value is the whole city
        assert update_numbers("municipality:atlantis", "week", "")[0] == "Whole city"
        assert by_id(layout(municipality="atlantis"), "district-filter").value == ""


def test_alerts_of_a_municipality_are_those_of_its_districts(metro: Settings) -> None:
    from dashboard import queries

    everything = queries.active_alerts(metro, None, 500)
    found = []
    for municipality in queries.municipality_options(metro):
        mine = queries.active_alerts(metro, None, 500, districts=municipality["districts"])
        assert mine == [a for a in everything if a["district_id"] in municipality["districts"]]
        found += mine
    assert everything and sorted(a["id"] for a in found) == \
        sorted(a["id"] for a in everything if a["district_id"])


def test_a_district_page_names_its_municipality_in_the_breadcrumbs(
        metro: Settings, metro_app: Any) -> None:
    from dashboard import queries
    from tests.tree import text_of, walk

    with metro_app.server.app_context():
        from layouts.district import layout

        norte = next(m for m in queries.municipality_options(metro) if m["id"] == "norte")
        tree = layout(norte["districts"][0])
        crumbs = [c for c in walk(tree) if getattr(c, "className", "") == "breadcrumbs"][0]
        assert text_of(crumbs).startswith("Overview Norte Districts")
        links = [c.href for c in walk(crumbs) if getattr(c, "href", None)]
        assert "/?municipality=norte" in links


def test_ngsi_ld_publishes_each_municipalitys_kpis(metro: Settings, metro_app: Any) -> None:
    from dashboard import queries

    client = metro_app.server.test_client()
    answer = client.get("/ngsi-ld/v1/entities?type=KeyPerformanceIndicator&limit=1000"
                        "&idPattern=.*:municipality:norte$&options=keyValues")
    assert answer.status_code == 200
    entities = {e["id"].split(":")[-3]: e for e in answer.get_json()}
    expected = queries.overview(metro, None, "week", None, "norte")["kpis"]
    assert set(entities) == {k["id"] for k in expected}
    for kpi in expected:
        entity = entities[kpi["id"]]
        assert entity["area"] == "Norte"
        assert entity.get("kpiValue") == kpi["value"]


def test_the_staff_pages_filter_by_a_municipality(metro: Settings, metro_app: Any) -> None:
    """Alerts, domain and services pages take ``?municipality=``: their selector offers it,
    their subtitle names it, and every row they read lies in its districts."""
    from dashboard import queries
    from dashboard.periods import period_for
    from dashboard.queries.alerts import alert_rows
    from dashboard.queries.domain import domain_assets
    from dashboard.queries.services import oldest_open
    from layouts.filters import PageFilters, read_filters
    from tests.tree import by_id, text_of

    norte = next(m for m in queries.municipality_options(metro) if m["id"] == "norte")
    inside = set(norte["districts"])
    token = "municipality:norte"
    with metro_app.server.app_context():
        from layouts import alerts, domain, domains, services

        assert read_filters(metro, {"municipality": "norte"}).district == token
        assert read_filters(metro, {"municipality": "atlantis"}).district is None
        assert read_filters(metro, {"district": token}).district is None  # ids only there
        assert PageFilters(district=token).query() == "?municipality=norte"

        assert by_id(domains.layout(municipality="norte"), "domains-district").value == token
        for tree, page in ((alerts.layout(municipality="norte"), "alerts"),
                           (services.layout(municipality="norte"), "services"),
                           (domain.layout("waste", municipality="norte"), "domain")):
            selector = by_id(tree, f"{page}-district")
            assert selector.value == token
            assert {"label": "Norte (whole municipality)", "value": token} in selector.options
            assert "Norte" in text_of(by_id(tree, f"{page}-subtitle"))

        assets = domain_assets(metro, "waste", token)["assets"]
        assert assets and {a["district_id"] for a in assets} <= inside
        every = domain_assets(metro, "waste", None)["assets"]
        assert len(assets) == sum(a["district_id"] in inside for a in every) < len(every)
        requests = oldest_open(metro, district=token, limit=500)
        assert requests and {r["district_id"] for r in requests} <= inside
        rows = alert_rows(metro, period_for("30d", TINY_NOW), district=token)["rows"]
        assert {r["district_id"] for r in rows} <= inside


def test_the_open_data_kpi_file_has_each_municipalitys_daily_values(metro: Settings) -> None:
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    import pandas as pd

    from dashboard.kpis.windows import Window, local_midnight
    from dashboard.opendata.datasets import DATASETS
    from dashboard.opendata.export import export_dataset, opendata_dir

    engine = make_engine(metro.resolved_database_url)
    export_dataset(engine, metro, DATASETS["kpis"], force=True)
    rows = pd.read_parquet(opendata_dir(metro) / "kpis.parquet")
    norte = rows[rows["place"] == "municipality:norte"]
    assert len(norte) and norte["district_id"].isna().all()
    day = max(norte["date"])
    zone = ZoneInfo(metro.timezone)
    window = Window("day", local_midnight(day, zone), local_midnight(day + timedelta(days=1), zone),
                    "day", metro.timezone)
    with engine.connect() as conn:
        ids = sorted(conn.scalars(select(District.id).where(District.municipality_id == "norte")))
        expected = compute_kpi_table(conn, load_kpis(metro.kpis_file), window,
                                     metro.current_time(), within=ids).for_place(None)
    got = norte[norte["date"] == day].set_index("kpi")["value"].to_dict()
    assert got == pytest.approx({v.id: v.value for v in expected if v.value is not None})
    # the districts' and the city's rows are there as before, once each
    assert set(rows["place"]) >= {"city", "municipality:sur", *ids}
    assert not rows.duplicated(["date", "kpi", "place"]).any()


def test_the_overview_map_draws_each_municipalitys_boundary(metro: Settings,
                                                            metro_app: Any) -> None:
    """One outline per municipality, the union of its districts' drawn outlines, so it
    runs along their edges; none in a single city."""
    import shapely
    from shapely.geometry import shape

    from dashboard import queries
    from tests.tree import by_id, text_of

    outlines = queries.municipality_outlines(metro)
    assert [f["id"] for f in outlines["features"]] == ["norte", "sur"]
    districts = {f["id"]: shape(f["geometry"])
                 for f in queries.district_outlines(metro)["features"]}
    for feature in outlines["features"]:
        mine = next(m for m in queries.municipality_options(metro) if m["id"] == feature["id"])
        union = shapely.union_all([districts[d] for d in mine["districts"]])
        assert shape(feature["geometry"]).symmetric_difference(union).area < 1e-12
    with metro_app.server.app_context():
        from layouts.overview import layout

        tree = layout()
        assert by_id(tree, "overview-municipality-layer").data == outlines
        assert "municipality boundary" in text_of(by_id(tree, "overview-map-legend"))


def test_a_single_city_draws_no_municipality_boundary(tiny_city: Settings) -> None:
    from dashboard import queries

    assert queries.municipality_outlines(tiny_city)["features"] == []
    assert queries.municipality_options(tiny_city) == []


def test_a_district_of_a_municipality_is_compared_with_it_and_ranked_among_its_districts(
        metro: Settings, metro_app: Any) -> None:
    from dashboard import queries
    from dashboard.queries.district import kpi_comparison
    from tests.tree import by_id, text_of

    norte = next(m for m in queries.municipality_options(metro) if m["id"] == "norte")
    district = norte["districts"][0]
    found = kpi_comparison(metro, district, "week")
    whole = queries.overview(metro, None, "week", None, "norte")
    own = queries.overview(metro, district, "week")
    assert found["compared_with"] == "Norte" and found["districts"] == len(norte["districts"])
    assert found["city_score"] == whole["city_score"]["value"]
    assert found["score"] == own["city_score"]["value"]  # the district is itself at any level
    values = {k["id"]: k["value"] for k in whole["kpis"]}
    assert all(r["city_value"] == values[r["id"]] for r in found["rows"])
    assert all(r["ranked"] <= len(norte["districts"]) for r in found["rows"])
    with metro_app.server.app_context():
        from layouts.district import layout

        tree = layout(district)
        score = text_of(by_id(tree, "district-score"))
        assert "Norte score" in score and "districts of Norte" in score
        assert "Gap to Norte" in text_of(by_id(tree, "district-chart-table"))
