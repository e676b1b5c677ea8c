"""Service-requests page without a browser: layouts as component trees, callbacks as plain
functions, exports as files, and citizen free text that must stay text."""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import dash_leaflet as dl
import pytest
from dash import dcc, html, no_update
from flask import Flask
from sqlalchemy import insert

from dashboard.model import District, Service, ServiceRequest
from dashboard.queries.services import RequestScope, breakdowns, oldest_open, request_summary
from dashboard.settings import Settings
from dashboard.store import get_engine
from dashboard.store.version import set_meta
from layouts import SETTINGS_KEY
from tests.conftest import TINY_NOW
from tests.tree import by_id, text_of, walk

ROOT = Path(__file__).resolve().parents[1]
MY_FILES = ("layouts/services.py", "layouts/services_parts.py", "layouts/services_map.py",
            "callbacks/services.py", "dashboard/queries/services.py",
            "dashboard/queries/services_trend_map.py")


def stat_values(cards: list[Any]) -> dict[str, str]:
    """Headline card label -> shown value."""
    found = {}
    for card in cards:
        parts = {c.className: text_of(c) for c in walk(card) if getattr(c, "className", None)}
        found[parts["sr-stat__label"]] = parts["sr-stat__value"]
    return found


def department_with_most(settings: Settings) -> str:
    rows = breakdowns(settings, RequestScope(), "30d")["department"]
    return rows[0]["id"]


# ---- layout for a URL -----------------------------------------------------------------------
def test_layout_renders_the_url_state(in_app: None, tiny_city: Settings) -> None:
    from dashboard.queries.services import service_options
    from layouts.services import layout

    department = department_with_most(tiny_city)
    service = next(s["id"] for s in service_options(tiny_city) if s["department"] == department)
    tree = layout(district="santander-01", department=department, period="7d",
                  compare="previous", service=service, channel="phone")
    assert by_id(tree, "services-district").value == "santander-01"
    assert by_id(tree, "services-department").value == department
    assert by_id(tree, "services-period").value == "7d"
    assert by_id(tree, "services-compare").value == "previous"
    assert by_id(tree, "services-service").value == service
    assert by_id(tree, "services-channel").value == "phone"
    assert {o["value"] for o in by_id(tree, "services-service").options} - {""} <= {
        s["id"] for s in service_options(tiny_city) if s["department"] == department}
    subtitle = text_of(by_id(tree, "services-subtitle"))
    assert subtitle.startswith("Centro · " + department) and "Last 7 days" in subtitle
    for section in ("url", "download", "headline", "trend", "trend-graph", "map",
                    "map-districts", "map-points", "breakdowns", "oldest"):
        by_id(tree, f"services-{section}")
    assert isinstance(by_id(tree, "services-url"), dcc.Location)
    assert "Previous period" in text_of(by_id(tree, "services-headline"))


def test_unknown_query_values_fall_back(in_app: None) -> None:
    from layouts.services import layout

    tree = layout(district="nowhere", department="Nope", period="5y", compare="x",
                  service="unicorns", channel="pigeon")
    for name, value in (("district", ""), ("department", ""), ("period", "30d"),
                        ("compare", ""), ("service", ""), ("channel", "")):
        assert by_id(tree, f"services-{name}").value == value
    assert "Whole city · All departments" in text_of(by_id(tree, "services-subtitle"))


def test_headline_shows_the_read_model(in_app: None, tiny_city: Settings) -> None:
    from layouts.services import layout

    department = department_with_most(tiny_city)
    summary = request_summary(tiny_city, department=department, period="7d")
    tree = layout(department=department, period="7d")
    shown = stat_values(by_id(tree, "services-headline").children)
    assert shown["Open now"] == f"{summary['open']:,}"
    assert shown["Overdue now"] == f"{summary['overdue']:,}"
    assert shown["Received"] == f"{summary['received']:,}"
    assert shown["Closed"] == f"{summary['closed']:,}"
    assert "Previous period" not in text_of(by_id(tree, "services-headline"))


def test_chart_has_png_export_and_a_table_alternative(in_app: None) -> None:
    from layouts.services import layout

    trend = by_id(layout(period="7d"), "services-trend")
    graph = by_id(trend, "services-trend-graph")
    assert graph.config["toImageButtonOptions"]["format"] == "png"
    tables = [c for c in walk(trend) if isinstance(c, html.Table)]
    assert len(tables) == 1
    assert len(tables[0].children[2].children) == len(graph.figure["data"][0]["x"])
    assert "per day" in text_of(trend)


def test_map_draws_districts_and_clustered_points(in_app: None, tiny_city: Settings) -> None:
    from layouts.services import layout

    tree = layout()
    districts, points = by_id(tree, "services-map-districts"), by_id(tree, "services-map-points")
    assert isinstance(by_id(tree, "services-map"), dl.Map)
    assert len(districts.data["features"]) == 10 and points.cluster is True
    assert points.data is not None
    assert "Open requests" in text_of(by_id(tree, "services-map-legend"))
    assert "one request" in text_of(by_id(tree, "services-map-legend"))


def test_district_branch_shades_and_labels_counts(tiny_city: Settings) -> None:
    from dashboard.queries.services_trend_map import request_map
    from layouts.services_map import district_data, district_hideout, map_legend, map_note

    result = request_map(tiny_city, RequestScope(), limit=5)
    data, hideout = district_data(result), district_hideout(result, None)
    assert all(f["properties"]["score"] == f["properties"]["open"] for f in data["features"])
    assert hideout["bounds"] == sorted(hideout["bounds"], reverse=True) and hideout["bounds"]
    assert len(hideout["colors"]) == len(hideout["bounds"]) + 1
    assert "per district" in text_of(map_legend(result))
    assert "counted per district" in map_note(result)


# ---- callbacks as plain functions -------------------------------------------------------------
def test_changing_the_department_updates_the_headline(in_app: None, tiny_city: Settings) -> None:
    from callbacks.services import update_headline

    department = department_with_most(tiny_city)
    subtitle, cards = update_headline("", department, "30d", "previous", "", "")
    summary = request_summary(tiny_city, department=department)
    assert department in subtitle
    assert stat_values(cards)["Open now"] == f"{summary['open']:,}"
    assert "Previous period" in text_of(cards)
    _, city = update_headline("", "", "30d", "", "", "")
    assert stat_values(city)["Open now"] == f"{request_summary(tiny_city)['open']:,}"


def test_changing_the_district_updates_map_and_oldest(in_app: None, tiny_city: Settings) -> None:
    from callbacks.services import update_backlog_views, update_period_views

    data, hideout, points, viewport, legend, note, oldest = update_backlog_views(
        "santander-02", "", "", "")
    summary = request_summary(tiny_city, district="santander-02")
    assert hideout["selected"] == "santander-02" and viewport["bounds"]
    assert note.startswith(f"{summary['open']} open requests")
    links = {c.children: c.href for c in walk(oldest) if isinstance(c, dcc.Link)}
    districts = {t for t, h in links.items() if not h.startswith("/request/")}
    assert districts == {"Puertochico"}  # every row's district, and each request's own page
    assert {h for h in links.values() if h.startswith("/request/")} == {
        f"/request/{t}" for t in links if t.startswith("SR-")}
    trend, tables, _ = update_period_views("santander-02", "", "", "", "7d")
    district_table = tables[2]
    assert "Puertochico" in text_of(district_table)
    assert "Centro" not in text_of(district_table)


def test_department_change_resets_a_foreign_service(in_app: None, tiny_city: Settings) -> None:
    from callbacks.services import services_for_department
    from dashboard.queries.services import service_options

    services = service_options(tiny_city)
    one = services[0]
    options, value = services_for_department(one["department"], one["id"])
    assert value is no_update and {o["value"] for o in options} >= {"", one["id"]}
    other = next(s for s in services if s["department"] != one["department"])
    options, value = services_for_department(other["department"], one["id"])
    assert value == "" and one["id"] not in {o["value"] for o in options}


def test_channel_filter_through_the_callbacks(in_app: None, tiny_city: Settings) -> None:
    from callbacks.services import update_backlog_views

    *_, oldest = update_backlog_views("", "", "", "kiosk")
    rows = oldest_open(tiny_city, channel="kiosk")
    cells = [text_of(c) for c in walk(oldest) if isinstance(c, html.Th) and c.scope == "row"]
    assert cells == [r["id"] for r in rows]


# ---- exports -------------------------------------------------------------------------------------
def test_csv_exports_hold_the_table_rows(in_app: None, tiny_city: Settings) -> None:
    from callbacks.services import export_file
    from layouts.services import view_of

    view = view_of(tiny_city, None, None, "7d")
    table = export_file("by-department", view)
    assert table["filename"].endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(table["content"])))
    want = breakdowns(tiny_city, RequestScope(), "7d")["department"]
    assert [(r["id"], int(r["open"]), int(r["received"])) for r in rows] == [
        (w["id"], w["open"], w["received"]) for w in want]
    oldest = list(csv.DictReader(io.StringIO(export_file("oldest", view)["content"])))
    assert [r["id"] for r in oldest] == [r["id"] for r in oldest_open(tiny_city)]
    assert "citizen_id" not in oldest[0] and "address" not in oldest[0]
    assert export_file("by-nothing", view) is None and export_file("what", view) is None


def test_geojson_export_is_the_map_data(in_app: None, tiny_city: Settings) -> None:
    from callbacks.services import export_file
    from layouts.services import view_of

    found = export_file("map", view_of(tiny_city, "santander-03", None, "30d"))
    collection = json.loads(found["content"])
    assert found["filename"].endswith(".geojson") and collection["type"] == "FeatureCollection"
    assert len(collection["features"]) == request_summary(tiny_city, district="santander-03")[
        "open"]
    assert {f["properties"]["district_id"] for f in collection["features"]} == {"santander-03"}


# ---- citizen free text ---------------------------------------------------------------------------
@pytest.fixture
def hostile_city(tmp_path: Path, tiny_app: Any) -> Iterator[Settings]:
    """A store of its own with requests whose descriptions try to be HTML or formulas."""
    settings = Settings(var_dir=tmp_path / "var", database_url="", redis_url=None, now=TINY_NOW)
    square = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}
    when = TINY_NOW - timedelta(days=3)
    with get_engine(settings.resolved_database_url).begin() as conn:
        set_meta(conn, "data_version", "918273")  # the in-process cache is keyed by version
        conn.execute(insert(District), [{"id": "d1", "name": "North", "geometry": square,
                                         "population": 10, "area_km2": 1.0}])
        conn.execute(insert(Service), [{"service_code": "noise", "service_name": "Noise",
                                        "department": "Police", "sla_hours": 2.0}])
        base = {"service_code": "noise", "service_name": "Noise", "department": "Police",
                "status": "open", "channel": "web", "requested_at": when, "lat": 0.5,
                "lon": 0.5, "district_id": "d1", "address": "Secret street 1",
                "citizen_id": None, "expected_at": when + timedelta(hours=2)}
        conn.execute(insert(ServiceRequest), [
            {**base, "id": "X-1", "description": "<script>alert('x')</script> " + "a" * 200},
            {**base, "id": "X-2", "description": "=HYPERLINK(\"http://evil\")"},
        ])
    flask_app = Flask("hostile")
    flask_app.config[SETTINGS_KEY] = settings
    with flask_app.app_context():
        yield settings


def test_citizen_text_stays_text(hostile_city: Settings) -> None:
    from callbacks.services import export_file
    from layouts.services import layout, view_of

    tree = layout()
    cells = [c for c in walk(by_id(tree, "services-oldest"))
             if "sr-oldest__text" in (getattr(c, "className", "") or "")]
    script = next(c for c in cells if "<script>" in c.title)
    assert isinstance(script, html.Td) and isinstance(script.children, str)
    assert script.children.startswith("<script>") and len(script.children) <= 140
    assert script.title.endswith("a" * 200)
    assert not any(getattr(c, "dangerously_allow_html", False) for c in walk(tree))
    assert "Secret street" not in json.dumps(tree.to_plotly_json(), default=str)
    oldest = export_file("oldest", view_of(hostile_city, None, None, "30d"))["content"]
    assert "'=HYPERLINK" in oldest and "Secret street" not in oldest


def test_no_html_injection_anywhere_in_the_page_code() -> None:
    for name in MY_FILES:
        source = (ROOT / name).read_text()
        assert "dangerously_allow_html" not in source and "dcc.Markdown" not in source, name


def test_hours_and_days_formatting() -> None:
    from layouts.services_parts import _comparison, format_hours, shorten

    assert "up 12,000×" in text_of(_comparison(12_000, 1, "higher", "1", "previous"))
    median = _comparison(30.0, 40.0, "lower", "40 h", "previous")
    assert "down 25%" in text_of(median) and "better" in text_of(median)
    assert "worse" in text_of(_comparison(50.0, 40.0, "lower", "40 h", "year"))
    received = text_of(_comparison(50, 40, None, "40", "previous"))
    assert "up 25%" in received and "better" not in received and "worse" not in received

    assert format_hours(None) == "–"
    assert format_hours(2.25) == "2.2 h" and format_hours(36.4) == "36 h"
    assert format_hours(48) == "2.0 days" and format_hours(100) == "4.2 days"
    assert shorten("a" * 10) == "a" * 10 and len(shorten("b" * 300)) == 140


def test_a_district_click_on_the_map_filters_the_page() -> None:
    from callbacks.services import district_clicked

    clicked = {"type": "Feature", "properties": {"id": "santander-02", "name": "Centro"}}
    assert district_clicked(clicked, "") == "santander-02"
    assert district_clicked(clicked, "santander-02") == ""  # again: back to the whole city
    assert district_clicked(None, "santander-02") is no_update


def test_district_links_narrow_this_page_to_the_district(in_app: None,
                                                         tiny_city: Settings) -> None:
    """On /services a district in the breakdown and the oldest requests links to /services
    narrowed to that district, the other choices kept; elsewhere (the district page's own
    oldest requests) it still links to the district's page."""
    from callbacks.services import update_period_views
    from layouts.services import layout
    from layouts.services_parts import oldest_table

    tree = layout(department="", period="7d", channel="phone")
    links = [n.href for n in walk(tree) if isinstance(n, dcc.Link)
             and "district=" in str(getattr(n, "href", ""))]
    assert links, "no district link on /services"
    assert all(h.startswith("/services?district=santander-") and "period=7d" in h
               and "channel=phone" in h for h in links), links
    assert not any(str(getattr(n, "href", "")).startswith("/district/") for n in walk(tree)
                   if isinstance(n, dcc.Link))
    _, breakdowns_now, _ = update_period_views("", "", "", "", "90d")
    hrefs = [n.href for n in walk(breakdowns_now) if isinstance(n, dcc.Link)]
    assert hrefs and all(h.startswith("/services?district=") and "period=90d" in h
                         for h in hrefs), hrefs
    row = {"id": "SR-1", "service_name": "x", "district_id": "d1", "district_name": "Centro",
           "age_days": 1.0, "overdue_hours": None, "channel": "web", "description": ""}
    [request, district] = [n for n in walk(oldest_table([row], {})) if isinstance(n, dcc.Link)]
    assert district.href == "/district/d1"  # the default, as the district page uses it
    assert request.href == "/request/SR-1"
