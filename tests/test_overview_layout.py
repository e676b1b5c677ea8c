"""The mayor's overview without a browser: layouts as component trees, callbacks as functions.

The numbers come from a tiny demo city generated once for the module, with "now" fixed
so freshness texts and windows are reproducible.
"""
from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import dash_leaflet as dl
import pytest
from dash import Patch, dcc, html, no_update

from dashboard import queries
from dashboard.settings import Settings
from tests.conftest import sign_in
from tests.tree import by_id, text_of, walk, with_class

NOW = datetime(2026, 11, 23, 20, 0, tzinfo=timezone.utc)
ROOT = Path(__file__).resolve().parents[1]


# ---- helpers ------------------------------------------------------------------------------
def kpi(**overrides: Any) -> dict[str, Any]:
    """A KPI dict of the ``queries.overview`` shape."""
    base = {
        "id": "air_no2", "name": {"en": "Nitrogen dioxide", "es": "Dióxido de nitrógeno"},
        "domain": "environment", "value": 50.0, "unit": "µg/m³", "target": 40.0,
        "direction": "lower", "score": 0.8, "previous": 45.0, "trend": 0.1,
        "improving": False, "as_of": (NOW - timedelta(minutes=12)).isoformat(),
        "sources": ["observations:AirQualityObserved.no2"], "decimals": 1, "stale": False,
        "spark": [{"t": (NOW - timedelta(hours=h)).isoformat(), "v": 40 + h} for h in range(5)],
    }
    merged = {**base, **overrides}
    # The card shows ``change`` (here relative, like ``trend``) unless a test sets its own.
    return {"change": merged["trend"], "change_unit": "%", **merged}


# ---- fixtures -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo_settings(tiny_city: Settings) -> Settings:
    """Settings of the tiny demo city (seed 7) ending at NOW (the shared ``tiny_city``)."""
    assert tiny_city.current_time() == NOW
    return tiny_city


@pytest.fixture(scope="module")
def app(demo_settings: Settings) -> Any:
    from app import create_app

    return create_app(demo_settings)


@pytest.fixture
def ctx(app: Any) -> Iterator[None]:
    """Run inside the app, so pages and callbacks see its settings."""
    with app.server.app_context():
        yield


# ---- shared builders (sample dicts) -------------------------------------------------------
def test_kpi_card_off_target_shows_value_target_trend_and_freshness() -> None:
    from layouts import ids
    from layouts.components import kpi_card

    card = kpi_card(kpi(), "en", window="week", now=NOW, tz="Europe/Madrid")
    assert card.id == ids.kpi_card("air_no2")
    assert card.className.split() == ["kpi-card", "kpi-card--off"]
    words = text_of(card)
    for expected in ("Nitrogen dioxide", "50.0", "µg/m³", "Off target", "▲", "10%",
                     "worsening", "Target ≤ 40 µg/m³", "as of 12 min ago"):
        assert expected in words
    fresh = with_class(card, "freshness")[0]
    assert fresh.title == "2026-11-23 20:48 CET"
    graph = next(c for c in walk(card) if isinstance(c, dcc.Graph))
    assert graph.config["staticPlot"] is True and graph.config["displayModeBar"] is False


def test_kpi_card_statuses_and_trend_semantics() -> None:
    from layouts.components import kpi_card

    near = kpi_card(kpi(score=0.95, trend=-0.05, improving=True), now=NOW)
    assert "kpi-card--near" in near.className
    assert "Near target" in text_of(near) and "▼" in text_of(near)
    assert "improving" in text_of(near)
    on = kpi_card(kpi(direction="higher", score=1.2, target=30, value=36.0), now=NOW)
    assert "kpi-card--on" in on.className and "Target ≥ 30" in text_of(on)
    empty = kpi_card(kpi(value=None, score=None, trend=None, improving=None, spark=[],
                         as_of=None, stale=True), now=NOW)
    assert "kpi-card--none" in empty.className
    assert "No data" in text_of(empty) and "–" in text_of(empty) and "Stale" in text_of(empty)
    assert not any(isinstance(c, dcc.Graph) for c in walk(empty))


def test_a_kpi_card_without_a_station_says_so_instead_of_stale() -> None:
    """No air-quality station in a district: the card says so, not "Stale" nor "no data
    yet"; a station that stopped reporting still shows "Stale"."""
    from layouts.components import kpi_card, source_noun

    nothing = kpi(value=None, score=None, trend=None, improving=None, spark=[], as_of=None,
                  stale=False, no_source=True)
    card = text_of(kpi_card(nothing, now=NOW, place="this district"))
    assert "No air-quality station in this district" in card
    assert "Stale" not in card and "no data yet" not in card
    assert "No air-quality station in the city" in text_of(kpi_card(nothing, now=NOW))
    stopped = kpi_card(kpi(value=None, score=None, trend=None, improving=None, spark=[],
                           as_of=(NOW - timedelta(days=2)).isoformat(), stale=True,
                           no_source=False), now=NOW, place="this district")
    assert "Stale" in text_of(stopped) and "No air-quality station" not in text_of(stopped)
    assert source_noun({"sources": ["observations:NoiseLevelObserved.LAeq"]}) == "noise sensor"
    assert source_noun({"sources": ["observations:SomethingNew.x"]}) == "sensor"
    assert source_noun({"sources": ["service_requests"]}) == "sensor"


def test_district_cards_name_missing_stations_from_the_real_assets(
        ctx: None, demo_settings: Settings) -> None:
    """On the tiny city, a district's air and noise cards say "No … in this district"
    exactly where plain SQL finds no asset of that kind in it, "Stale" never there."""
    from sqlalchemy import text as sql

    from dashboard.store import get_engine
    from layouts.overview import layout

    with get_engine(demo_settings.resolved_database_url).connect() as conn:
        located = set(conn.execute(sql("SELECT DISTINCT type, district_id FROM assets")).all())
    checked = 0
    for district in [d["id"] for d in queries.district_options(demo_settings)]:
        tree = layout(district=district)
        for kpi_id, kind, noun in (("air_no2", "AirQualityObserved", "air-quality station"),
                                   ("noise_laeq", "NoiseLevelObserved", "noise sensor")):
            card = text_of(by_id(tree, {"type": "overview-kpi-card", "kpi": kpi_id}))
            missing = (kind, district) not in located
            assert (f"No {noun} in this district" in card) is missing, (district, kpi_id)
            if missing:
                assert "Stale" not in card
                checked += 1
    assert checked  # the tiny city has districts without a station


def test_sparkline_is_a_small_static_figure() -> None:
    from layouts.components import sparkline_figure

    figure = sparkline_figure(kpi()["spark"], "off")
    assert figure["layout"]["height"] <= 50
    assert figure["layout"]["xaxis"]["visible"] is False
    assert all(trace["hoverinfo"] == "skip" for trace in figure["data"])
    assert figure["data"][0]["y"] == [40, 41, 42, 43, 44]


def test_city_score_badge_has_the_stable_id_and_says_the_trend() -> None:
    from layouts.components import city_score_badge

    badge = city_score_badge({"value": 1.04, "previous": 0.98, "trend": 0.06, "kpis_scored": 15},
                             place="City", window="month", kpi_count=17, now=NOW)
    assert badge.id == "city-score"
    words = text_of(badge)
    assert "1.04" in words and "On target" in words and "0.06 improving" in words
    assert "previous 30 days" in words and "15 of 17 KPIs scored" in words
    worse = city_score_badge({"value": 0.85, "previous": 0.9, "trend": -0.05, "kpis_scored": 3})
    assert "score-card--off" in worse.className and "worsening" in text_of(worse)


def test_alerts_list_keeps_order_and_names_severity() -> None:
    from layouts.components import alerts_list

    alerts = [
        {"id": 1, "asset_id": "urn:a", "asset_name": "Station A", "metric": "m", "rule": "r",
         "rule_text": {"en": "NO₂ above 200"}, "severity": "critical",
         "raised_at": (NOW - timedelta(hours=3)).isoformat(), "value": 212.4,
         "district_id": "d1", "district_name": "Centro"},
        {"id": 2, "asset_id": "urn:b", "asset_name": "Bin B", "metric": "fill", "rule": "full",
         "severity": "warning", "raised_at": NOW.isoformat(), "value": 1.0,
         "district_id": None, "district_name": None},
    ]
    listing = alerts_list(alerts, now=NOW)
    items = listing.children
    assert [text_of(i).split(" ")[2] for i in items] == ["Critical", "Warning"]
    assert "NO₂ above 200 · value 212.4" in text_of(items[0]) and "3 h ago" in text_of(items[0])
    assert "No district" in text_of(items[1])
    assert "No active alerts" in text_of(alerts_list([], now=NOW))


def test_district_labels_and_bounds() -> None:
    from layouts import geo_bounds
    from layouts.city_map import label_districts

    square = {"type": "Polygon", "coordinates": [[[-3.8, 43.4], [-3.7, 43.4], [-3.7, 43.5],
                                                  [-3.8, 43.4]]]}
    collection = {"type": "FeatureCollection", "features": [{
        "type": "Feature", "geometry": square,
        "properties": {"id": "d1", "name": "<Centro>", "score": 0.95, "value": 0.95, "unit": ""},
    }]}
    labelled = label_districts(collection)["features"][0]["properties"]
    assert "&lt;Centro&gt;" in labelled["label"] and "0.95 !" in labelled["label"]
    assert labelled["status"] == "Near target"
    assert geo_bounds(collection["features"]) == [[43.4, -3.8], [43.5, -3.7]]
    assert collection["features"][0]["properties"].get("label") is None  # input untouched


def test_a_label_point_lies_well_inside_even_a_concave_district() -> None:
    """The label goes at the pole of inaccessibility: inside a U-shaped district, whose
    centroid falls in the gap between its arms, and clear of its edges."""
    from shapely.geometry import Point, shape

    from dashboard.geo import label_point

    u_shape = {"type": "Polygon", "coordinates": [[
        [-3.80, 43.40], [-3.70, 43.40], [-3.70, 43.50], [-3.72, 43.50], [-3.72, 43.42],
        [-3.78, 43.42], [-3.78, 43.50], [-3.80, 43.50], [-3.80, 43.40]]]}
    polygon = shape(u_shape)
    assert not polygon.contains(polygon.centroid)
    lat, lon = label_point(u_shape)
    assert polygon.contains(Point(lon, lat))
    assert polygon.exterior.distance(Point(lon, lat)) > 0.008  # about half an arm's width
    assert label_point({"type": "Polygon", "coordinates": []}) is None
    assert label_point(None) is None


def test_every_district_on_the_map_carries_its_label_point(demo_settings: Settings) -> None:
    from shapely.geometry import Point, shape

    features = queries.district_scores(demo_settings, "week", None)["features"]
    assert len(features) >= 10
    for feature in features:
        lat, lon = feature["properties"]["label_at"]
        assert shape(feature["geometry"]).contains(Point(lon, lat)), feature["properties"]["name"]


# ---- the page from the demo store ---------------------------------------------------------
def test_layout_has_the_stable_hooks(ctx: None, demo_settings: Settings) -> None:
    from layouts.overview import layout

    tree = layout()
    data = queries.overview(demo_settings, None, "week")
    assert re.search(r"\d\.\d\d", text_of(by_id(tree, "city-score")))
    assert isinstance(by_id(tree, "district-filter"), dcc.Dropdown)
    assert by_id(tree, "district-filter").value == ""
    assert isinstance(by_id(tree, "window-filter"), dcc.RadioItems)
    assert by_id(tree, "window-filter").value == "week"
    assert isinstance(by_id(tree, "city-map"), dl.Map)
    assert len(with_class(tree, "kpi-card")) == len(data["kpis"]) >= 12
    polygons = by_id(tree, "overview-district-layer")
    assert len(polygons.data["features"]) == len(queries.district_options(demo_settings))
    assert all("label" in f["properties"] for f in polygons.data["features"])


def test_the_map_card_explains_the_asset_markers(ctx: None, demo_settings: Settings) -> None:
    """Under the district-score legend: "Assets on the map" with what a marker's ring and a
    numbered bubble mean; switching layers on names each one's colour, the very colour its
    layer draws with."""
    from callbacks.overview import legend_assets
    from layouts.overview import layout

    tree = layout()
    legend = by_id(tree, "overview-asset-legend")
    words = text_of(legend)
    assert words.startswith("Assets on the map")
    assert "working" in words and "reports a fault" in words and "nearby assets grouped" in words
    assert "switch domains on under Layers" in words
    layers = {o.name: o.children.hideout["color"]
              for o in walk(by_id(tree, "overview-layers-control")) if isinstance(o, dl.Overlay)}
    assert len(layers) >= 2
    chosen = sorted(layers)[:2]
    shown = legend_assets(chosen + ["Not a layer", None])  # type: ignore[list-item]
    swatches = {row.children[1]: row.children[0].style["background"]
                for row in walk(shown) if isinstance(row, html.Li)
                and isinstance(row.children, list) and isinstance(row.children[1], str)}
    assert {name: swatches[name] for name in chosen} == {name: layers[name] for name in chosen}
    assert "Not a layer" not in text_of(shown)
    assert "switch domains on" not in text_of(shown)
    assert "switch domains on" in text_of(legend_assets([]))


def test_layout_without_tiles_has_no_tile_layer_and_with_tiles_has_attribution(
    app: Any, demo_settings: Settings
) -> None:
    from layouts import SETTINGS_KEY
    from layouts.overview import layout

    with app.server.app_context():
        assert not [c for c in walk(layout()) if isinstance(c, dl.TileLayer)]
        tiled = demo_settings.model_copy(update={"tile_url": "http://tiles.local/{z}/{x}/{y}.png",
                                                 "tile_attribution": "© Local tiles"})
        app.server.config[SETTINGS_KEY] = tiled
        try:
            tiles = [c for c in walk(layout()) if isinstance(c, dl.TileLayer)]
        finally:
            app.server.config[SETTINGS_KEY] = demo_settings
    assert len(tiles) == 1 and tiles[0].attribution == "© Local tiles"


def test_layout_reads_the_query_string(ctx: None, demo_settings: Settings) -> None:
    from layouts.overview import layout

    district = queries.district_options(demo_settings)[0]
    tree = layout(district=district["id"], window="month", kpi="air_no2")
    assert by_id(tree, "district-filter").value == district["id"]
    assert by_id(tree, "window-filter").value == "month"
    assert by_id(tree, "overview-map-kpi").value == "air_no2"
    assert by_id(tree, "overview-place-title").children == district["name"]
    assert by_id(tree, "overview-district-layer").hideout["selected"] == district["id"]
    outline = by_id(tree, "overview-selection-layer").data["features"]
    assert [f["properties"]["id"] for f in outline] == [district["id"]]
    assert "Nitrogen dioxide" in text_of(by_id(tree, "overview-map-legend"))
    assert f"{district['name']} score" in text_of(by_id(tree, "city-score"))


def test_layout_reads_the_pages_period_words_and_old_window_links(ctx: None) -> None:
    """``?period=90d`` as every page's links say it; ``?window=quarter`` from older links."""
    from layouts.overview import layout

    for query, window in (({"period": "90d"}, "quarter"), ({"window": "quarter"}, "quarter"),
                          ({"period": "12m", "window": "day"}, "year"),
                          ({"period": "all"}, "week")):
        assert by_id(layout(**query), "window-filter").value == window, query


def test_a_custom_range_of_local_days_drives_the_whole_overview(ctx: None,
                                                                 demo_settings: Settings) -> None:
    """Picking two dates makes the period those whole local days: cards, score, map, URL
    and links follow; a preset empties the picker; a forged period is the default."""
    from callbacks.overview import (
        choose_period,
        period_after_pick,
        shade_districts,
        sync_url,
        update_numbers,
    )
    from layouts.overview import layout

    spec, start, end = choose_period("week", "2026-11-09", "2026-11-15")
    assert (start, end) == (no_update, no_update)
    assert spec == "2026-11-08T23:00Z/2026-11-15T23:00Z"  # Madrid's midnights (CET)
    title, subtitle, badge, cards, _ = update_numbers("", spec, "")
    assert subtitle == "Chosen period · 09 Nov – 15 Nov 2026"
    data = queries.overview(demo_settings, None, spec)
    assert data["window_start"] == "2026-11-08T23:00:00+00:00"
    assert len(cards) == len(data["kpis"]) and any(k["value"] is not None for k in data["kpis"])
    assert "days just before" in text_of(badge) or "No earlier" in text_of(badge)
    assert shade_districts(spec, None)  # the map's shading over the same days
    assert sync_url("", spec, "") == "?period=2026-11-08T23%3A00Z%2F2026-11-15T23%3A00Z"
    tree = layout(period=spec)  # a shared link opens the same range, the dates picked
    assert by_id(tree, "window-filter").value == spec
    picker = by_id(tree, "overview-range")
    assert (picker.start_date, picker.end_date) == ("2026-11-09", "2026-11-15")
    assert choose_period("month", None, None) == (no_update, None, None)  # a preset
    assert period_after_pick(True, spec, None, None)[0] == "week"  # picker emptied: default
    assert period_after_pick(True, "week", "2026-11-15", "2026-11-09")[0] is no_update
    assert by_id(layout(period="2026-11-08T23:00Z/x"), "window-filter").value == "week"
    assert update_numbers("", "'; DROP/x", "")[1].startswith("Last 7 days")  # forged


def test_layout_ignores_unknown_query_values(ctx: None) -> None:
    from layouts.overview import layout

    tree = layout(district="atlantis", window="decade", kpi="happiness", extra="x")
    assert by_id(tree, "district-filter").value == ""
    assert by_id(tree, "window-filter").value == "week"
    assert by_id(tree, "overview-map-kpi").value == ""


# ---- callbacks as plain functions ---------------------------------------------------------
def test_url_mirrors_the_selection() -> None:
    from callbacks.overview import sync_url

    assert sync_url("santander-01", "month", "air_no2") == (
        "?district=santander-01&period=30d&kpi=air_no2")
    assert sync_url("", "week", "") == "?period=7d"
    assert sync_url("", "week", "", "Aguas") == "?period=7d&department=Aguas"


def test_update_numbers_for_a_district(ctx: None, demo_settings: Settings) -> None:
    from callbacks.overview import update_numbers

    district = queries.district_options(demo_settings)[1]
    title, subtitle, badge, cards, _ = update_numbers(district["id"], "day", "")
    assert title == district["name"] and subtitle.startswith("Last 24 hours")
    assert badge.id == "city-score"
    assert len(cards) == len(queries.overview(demo_settings, district["id"], "day")["kpis"])


def test_shading_by_a_kpi_changes_the_legend(ctx: None) -> None:
    from callbacks.overview import shade_districts

    data, legend = shade_districts("week", "air_no2")
    assert "Nitrogen dioxide" in text_of(legend)
    assert all("µg/m³" in f["properties"]["label"] or f["properties"]["value"] is None
               for f in data["features"])
    _, legend = shade_districts("week", "")
    assert "District score" in text_of(legend)


def test_selecting_a_district_patches_the_outline_and_fits_the_map(
    ctx: None, demo_settings: Settings
) -> None:
    from callbacks.overview import select_district

    district = queries.district_options(demo_settings)[2]["id"]
    hideout, outline, viewport = select_district(district, "week")
    assert [f["properties"]["id"] for f in outline["features"]] == [district]
    assert isinstance(hideout, Patch)
    assert hideout.to_plotly_json()["operations"] == [
        {"operation": "Assign", "location": ["selected"], "params": {"value": district}}]
    (south, west), (north, east) = viewport["bounds"]
    assert south < north and west < east and viewport["transition"] == "flyToBounds"
    shape = next(f for f in queries.district_scores(demo_settings, "week", None)["features"]
                 if f["properties"]["id"] == district)
    ring = shape["geometry"]["coordinates"][0]
    ring = ring[0] if isinstance(ring[0][0], list) else ring  # MultiPolygon's first polygon
    assert all(south < lat < north and west < lon < east for lon, lat in ring)
    _, nothing, city = select_district("", "week")
    assert nothing["features"] == [] and city["bounds"] != viewport["bounds"]


def test_asset_layers_are_sent_only_when_switched_on(ctx: None, demo_settings: Settings) -> None:
    from callbacks.overview import load_assets
    from layouts import domain_label

    domains = sorted(queries.asset_domains(demo_settings))
    layer_ids = [{"type": "overview-asset-layer", "domain": d} for d in domains]
    assert load_assets([], "", layer_ids, {}) == ([no_update] * len(domains), no_update)
    shown = domains[0]
    data, loaded = load_assets([domain_label(shown)], "", layer_ids, {})
    assert loaded == {shown: ""}
    assert isinstance(data[0], (str, dict)) and data[1:] == [no_update] * (len(domains) - 1)
    again = load_assets([domain_label(shown)], "", layer_ids, loaded)  # toggled off and on
    assert again == ([no_update] * len(domains), no_update)
    district = queries.district_options(demo_settings)[0]["id"]
    _, moved = load_assets([domain_label(shown)], district, layer_ids, loaded)
    assert moved == {shown: district}


def test_clicking_a_district_opens_its_page_with_the_period_and_department() -> None:
    from callbacks.overview import district_clicked

    clicked = {"type": "Feature", "properties": {"id": "santander-04"}}
    assert district_clicked(clicked, "month", "") == "/district/santander-04?period=30d"
    assert district_clicked(clicked, "week", "Aguas") == (
        "/district/santander-04?department=Aguas&period=7d")
    assert district_clicked(None, "week", "") is no_update


def test_alerts_follow_the_district(ctx: None, demo_settings: Settings) -> None:
    from callbacks.overview import update_alerts

    heading, listing, more = update_alerts("", "", "week")
    assert "Active alerts" in text_of(heading)
    count = len(queries.active_alerts(demo_settings, None, 20))
    assert text_of(heading).split()[-1].rstrip("+") == str(count)
    assert more.href == "/alerts?period=7d"


def test_a_department_keeps_its_domains_kpis_and_alerts(ctx: None,
                                                         demo_settings: Settings) -> None:
    from callbacks.overview import update_alerts, update_numbers
    from dashboard.queries.departments import department_domains

    domains = department_domains(demo_settings, "Residuos y Limpieza")
    _, _, badge, cards, _ = update_numbers("", "week", "Residuos y Limpieza")
    every = queries.overview(demo_settings, None, "week")["kpis"]
    mine = queries.overview(demo_settings, None, "week", "Residuos y Limpieza")["kpis"]
    # its domains' sensor KPIs, and the request KPIs (it handles no cases)
    requests_ = {"sr_within_sla", "sr_median_days", "sr_overdue_open", "digital_share"}
    assert [card.id["kpi"] for card in cards] == [k["id"] for k in mine] == [
        k["id"] for k in every
        if k["domain"] in domains and k["sources"] != ["service_requests"] and k["sources"]
        != ["cases"] or k["id"] in requests_]
    assert {"sr_within_sla", "digital_share"} <= {k["id"] for k in mine}
    assert "case_median_days" not in {k["id"] for k in mine}
    assert "City · Residuos y Limpieza score" in text_of(badge)
    for card in cards:
        link = next(c for c in walk(card) if isinstance(c, dcc.Link))
        assert link.href.startswith("/domain/") and "department=Residuos+y+Limpieza" in link.href
    _, listing, more = update_alerts("", "Residuos y Limpieza", "week")
    wanted = queries.active_alerts(demo_settings, None, 20, domains=domains)
    assert all(a["domain"] in domains for a in wanted)
    assert "department=Residuos+y+Limpieza" in more.href


# ---- the app ----------------------------------------------------------------------------------
def test_app_serves_the_page_and_registers_the_callbacks(app: Any) -> None:
    client = app.server.test_client()
    assert client.get("/").status_code == 302  # the dashboard is for signed-in staff
    sign_in(client, "mayor")
    page = client.get("/")
    assert page.status_code == 200 and b"CityLens" in page.data
    outputs = " ".join(d["output"] for d in client.get("/_dash-dependencies").get_json())
    for expected in ("overview-url.search", "overview-nav.href", "city-map.viewport",
                     "overview-district-layer.hideout", "overview-kpi-grid.children"):
        assert expected in outputs
    assert client.get("/assets/map.js").status_code == 200


def test_layouts_never_import_callbacks() -> None:
    for path in (ROOT / "layouts").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n.split(".")[0] == "callbacks" for n in names), path.name



def test_the_kpis_export_what_the_cards_show(ctx: None, app: Any) -> None:
    """The KPI cards' "↓ CSV" is the open-data API's CSV for the same place, period and
    department, in the layout and after the filters change; the file holds every KPI shown
    with raw values."""
    import csv
    import io

    from callbacks.overview import update_numbers
    from layouts import ids
    from layouts.overview import layout

    link = by_id(layout(), ids.OVERVIEW_KPI_EXPORT)
    assert link.href == "/api/v1/kpis?format=csv&window=week"
    *_, cards, href = update_numbers("santander-02", "month", "Residuos y Limpieza")
    assert href == ("/api/v1/kpis?format=csv&district=santander-02&window=month&"
                    "department=Residuos+y+Limpieza")
    *_, custom = update_numbers("", "2026-11-01/2026-11-10", "")
    assert custom.startswith("/api/v1/kpis?format=csv&period=")
    answer = app.server.test_client().get(href)  # public: the open-data API
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    shown = [c for c in walk(cards) if str(getattr(c, "className", "")).startswith("kpi-card ")
             or getattr(c, "className", "") == "kpi-card"]
    assert rows and len(rows) == len(shown), (len(rows), len(shown))
