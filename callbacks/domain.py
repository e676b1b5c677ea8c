"""Domain page and domains index callbacks: thin; read the filters, call the read models.

What each reacts to, so nothing is resent needlessly:

- department -> the "not your domain" note and whether the content shows;
- district, department, period or compare -> title, KPI cards and summary tiles;
- district or department -> map points, district outline and view, legend, grid rows;
- a click on an asset point -> its asset page; the GeoJSON button -> the map's assets;
- the index's filters -> its domain cards; every filter -> the URL's query (no reload).
"""
from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, Patch, State, no_update
from dash.exceptions import MissingCallbackContextException

from callbacks.common import filters_from, register_grid_tools, register_url_sync
from dashboard.queries.domain import asset_features, asset_href, domain_assets
from dashboard.queries.domain_map import domain_layers, domain_total, layer_payload
from dashboard.queries.domain_index import district_shapes, domain_allowed
from layouts import SELECTED_MARGIN, current_settings, geo_bounds, ids
from layouts.access import scoped_department
from layouts.domain import content_class, kpi_cards, pid, place_name, scope_note, subtitle, summary
from layouts.domain_parts import (
    PAGE,
    grid_rows,
    selection,
    state_legend,
    table_note,
)
from layouts.domains import PAGE as INDEX_PAGE
from layouts.domains import cards, index_subtitle
from layouts.export import geojson_file, safe_name

register_url_sync(PAGE)
register_url_sync(INDEX_PAGE, ("district", "department", "period"))
register_grid_tools(PAGE, pid("grid"), pid("search"), "csv")


def _filters(district: str | None, department: str | None, period: str | None = None,
             compare: str | None = None) -> Any:
    return filters_from({"district": district, "department": department,
                         "period": period, "compare": compare})


@dash.callback(
    Output(pid("scope"), "children"),
    Output(pid("content"), "className"),
    Output(pid("map"), "invalidateSize"),
    Input(pid("department"), "value"),
    State(pid("name"), "data"),
    prevent_initial_call=True,
)
def update_scope(department: str | None, domain: str) -> tuple[Any, Any, Any]:
    """A department that is not responsible for the domain sees a note, nothing else
    (the map re-measures itself when it comes back on screen)."""
    settings = current_settings()
    allowed = domain_allowed(settings, domain, scoped_department(department))
    return (scope_note(settings, domain, scoped_department(department)), content_class(allowed),
            f"department:{department or ''}")


@dash.callback(
    Output(pid("subtitle"), "children"),
    Output(pid("kpis"), "children"),
    Output(pid("summary"), "children"),
    Input(pid("district"), "value"),
    Input(pid("department"), "value"),
    Input(pid("period"), "value"),
    Input(pid("compare"), "value"),
    State(pid("name"), "data"),
    Input(pid("live"), "data"),
    prevent_initial_call=True,
)
def update_numbers(district: str | None, department: str | None, period: str | None,
                   compare: str | None, domain: str, _live: str | None = None
                   ) -> tuple[Any, Any, Any]:
    """Title, the domain's KPI cards and the summary tiles for the filters (and again when
    the data changed)."""
    settings = current_settings()
    filters = _filters(district, department, period, compare)
    title = subtitle(filters, place_name(settings, filters.district))
    if not domain_allowed(settings, domain, filters.department):
        return title, [], []
    data = domain_assets(settings, domain, filters.district)
    has_assets = data["total"] > 0 or domain_total(settings, domain) > 0
    tiles = summary(settings, domain, filters, data) if has_assets else []
    return title, kpi_cards(settings, domain, filters), tiles


@dash.callback(
    Output(pid("points"), "data"),
    Output(pid("clusters"), "data"),
    Output(pid("districts"), "hideout"),
    Output(pid("selection"), "data"),
    Output(pid("map"), "viewport"),
    Output(pid("legend"), "children"),
    Output(pid("map-note"), "children"),
    Output(pid("grid"), "rowData"),
    Output(pid("table-note"), "children"),
    Input(pid("district"), "value"),
    Input(pid("department"), "value"),
    State(pid("name"), "data"),
    Input(pid("live"), "data"),
    prevent_initial_call=True,
)
def update_assets(district: str | None, department: str | None,
                  domain: str, _live: str | None = None) -> tuple[Any, ...]:
    """The map's points (coloured by state), the district outline and view, the grid."""
    settings = current_settings()
    district = district or None
    if domain_allowed(settings, domain, scoped_department(department)):
        data = domain_assets(settings, domain, district)
        layers = domain_layers(settings, domain, district)
    else:
        data = {"assets": [], "total": 0, "counts": {}}
        layers = layer_payload(asset_features([], domain))
    points, clusters, note = layers["points"], layers["clusters"], layers["note"]
    shapes = district_shapes(settings)
    features = shapes["features"]
    chosen = [f for f in features if f["properties"]["id"] == district]
    bounds = geo_bounds(chosen, SELECTED_MARGIN) if chosen else geo_bounds(features)
    hideout = Patch()
    hideout["selected"] = district
    viewport = {"bounds": bounds, "transition": "flyToBounds"} if bounds else no_update
    return (points, clusters, hideout, selection(shapes, district), viewport,
            state_legend(data["counts"]), note,
            grid_rows(data["assets"], settings.timezone), table_note(data["total"]))


@dash.callback(
    Output(pid("nav"), "href"),
    Input(pid("points"), "clickData"),
    Input(pid("clusters"), "clickData"),
    prevent_initial_call=True,
)
def asset_clicked(point: dict[str, Any] | None, clustered: dict[str, Any] | None) -> Any:
    """A click on an asset point opens its asset page (a click on a cluster zooms in)."""
    try:
        trigger = dash.ctx.triggered_id
    except MissingCallbackContextException:  # called as a plain function (tests)
        trigger = None
    feature = clustered if trigger == pid("clusters") else (point or clustered)
    props = (feature or {}).get("properties") or {}
    if props.get("cluster") or not props.get("id"):
        return no_update
    return asset_href(props["id"])


@dash.callback(
    Output(ids.page_id(PAGE, "download"), "data"),
    Input(ids.export_button(PAGE, "geojson"), "n_clicks"),
    State(pid("district"), "value"),
    State(pid("department"), "value"),
    State(pid("name"), "data"),
    prevent_initial_call=True,
)
def export_geojson(clicks: int | None, district: str | None, department: str | None,
                   domain: str) -> Any:
    """The map's assets (every one in the filters, with state and latest value) as GeoJSON."""
    if not clicks:
        return no_update
    settings = current_settings()
    if not domain_allowed(settings, domain, scoped_department(department)):
        return no_update
    data = domain_assets(settings, domain, district or None)
    name = safe_name("assets", domain, district)
    return geojson_file(asset_features(data["assets"], domain), f"{name}.geojson")


@dash.callback(
    Output(ids.page_id(INDEX_PAGE, "cards"), "children"),
    Output(ids.page_id(INDEX_PAGE, "subtitle"), "children"),
    Input(ids.page_id(INDEX_PAGE, "district"), "value"),
    Input(ids.page_id(INDEX_PAGE, "department"), "value"),
    Input(ids.page_id(INDEX_PAGE, "period"), "value"),
    prevent_initial_call=True,
)
def update_index(district: str | None, department: str | None,
                 period: str | None) -> tuple[Any, Any]:
    """The domain cards (and the subtitle) for the index's filters."""
    filters = _filters(district, department, period)
    return cards(current_settings(), filters), index_subtitle(filters.period)
