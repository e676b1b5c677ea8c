"""Domain page and domains index callbacks: thin; read the filters, call the read models.

What each reacts to, so nothing is resent needlessly:

- department -> the "not your domain" note and whether the content shows;
- district, department, period or compare -> title, KPI cards and summary tiles;
- district or department -> district outline and view, legend;
- the map's view (bounds, zoom), district or department -> the assets in view, clustered
  on the server;
- the grid's request for a block of rows (scrolling, paging, sorting) -> those rows only,
  searched and sorted on the server; search, filters or new data -> the grid asks again;
- a click on an asset -> its asset page, on a cluster -> zoom to it; the GeoJSON button ->
  the map's assets; the
  CSV button -> every row of the table as searched and sorted;
- the index's filters -> its domain cards; every filter -> the URL's query (no reload).
"""
from __future__ import annotations

import math

from typing import Any

import dash
from dash import ClientsideFunction, Input, Output, Patch, State, no_update
from dash.exceptions import MissingCallbackContextException

from callbacks.common import filters_from, register_period_range, register_url_sync
from dashboard.periods import is_custom
from dashboard.queries.domain import asset_features, asset_href, domain_assets
from dashboard.queries.domain_grid import SORT_KEYS, all_matching, grid_block
from dashboard.queries.domain_map import (
    POINTS_FROM_ZOOM,
    domain_map_view,
    domain_total,
    empty_view,
    map_note,
)
from dashboard.queries.domain_index import district_shapes, domain_allowed
from layouts import SELECTED_MARGIN, current_settings, geo_bounds, ids
from layouts.access import scoped_department
from layouts.domain import content_class, kpi_cards, pid, place_name, scope_note, subtitle, summary
from layouts.domain_parts import PAGE, csv_export, grid_rows, selection, state_legend
from layouts.domains import PAGE as INDEX_PAGE
from layouts.domains import cards, index_subtitle
from layouts.export import csv_file, geojson_file, safe_name
from layouts.tables import PAGE_ROWS

SPOT_DEGREES = 0.0005  # a cluster this small (about 50 m) holds assets on one spot
register_url_sync(PAGE, grid_sort=(pid("grid"), "getRowsRequest", tuple(SORT_KEYS)))
register_period_range(PAGE)
register_url_sync(INDEX_PAGE, ("district", "department", "period"))


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
    title = subtitle(filters, place_name(settings, filters.district), settings.timezone)
    if not domain_allowed(settings, domain, filters.department):
        return title, [], []
    data = domain_assets(settings, domain, filters.district)
    has_assets = data["total"] > 0 or domain_total(settings, domain) > 0
    tiles = summary(settings, domain, filters, data) if has_assets else []
    return title, kpi_cards(settings, domain, filters), tiles


@dash.callback(
    Output(pid("districts"), "hideout"),
    Output(pid("selection"), "data"),
    Output(pid("map"), "viewport"),
    Output(pid("legend"), "children"),
    Input(pid("district"), "value"),
    Input(pid("department"), "value"),
    State(pid("name"), "data"),
    Input(pid("live"), "data"),
    prevent_initial_call=True,
)
def update_assets(district: str | None, department: str | None,
                  domain: str, _live: str | None = None) -> tuple[Any, ...]:
    """The district outline and view, the legend's counts (the map's points follow the
    view it then shows: ``update_map_view``; the grid asks for its rows itself)."""
    settings = current_settings()
    district = district or None
    counts: dict[str, int] = {}
    if domain_allowed(settings, domain, scoped_department(department)):
        counts = domain_assets(settings, domain, district)["counts"]
    shapes = district_shapes(settings)
    features = shapes["features"]
    chosen = [f for f in features if f["properties"]["id"] == district]
    bounds = geo_bounds(chosen, SELECTED_MARGIN) if chosen else geo_bounds(features)
    hideout = Patch()
    hideout["selected"] = district
    viewport = {"bounds": bounds, "transition": "flyToBounds"} if bounds else no_update
    return hideout, selection(shapes, district), viewport, state_legend(counts)


@dash.callback(
    Output(pid("map-view"), "data"),
    Input(pid("map"), "bounds"),
    Input(pid("map"), "zoom"),
    Input(pid("district"), "value"),
    Input(pid("department"), "value"),
    State(pid("name"), "data"),
    Input(pid("live"), "data"),
    prevent_initial_call=True,
)
def update_map_view(bounds: Any, zoom: Any, district: str | None, department: str | None,
                    domain: str, _live: str | None = None) -> dict[str, Any]:
    """The assets in the map's view, clustered on the server, with the view they are for
    (the browser draws them only while the map still shows it: answers to a map that moved
    on may arrive after newer ones)."""
    settings = current_settings()
    if not domain_allowed(settings, domain, scoped_department(department)):
        view = empty_view()
    else:
        view = domain_map_view(settings, domain, district or None, _bounds(bounds),
                               _zoom(zoom))
    return {"data": view["data"], "note": map_note(view), "bounds": bounds, "zoom": zoom}


dash.clientside_callback(
    ClientsideFunction("citylens", "drawMapView"),
    Output(pid("points"), "data"),
    Output(pid("map-note"), "children"),
    Input(pid("map-view"), "data"),
    State(pid("map"), "bounds"),
    State(pid("map"), "zoom"),
    prevent_initial_call=True,
)


def _bounds(value: Any) -> list[list[float]] | None:
    """The map's ``bounds`` prop ([[south, west], [north, east]]) checked, or None."""
    try:
        (south, west), (north, east) = value
        corners = [[float(south), float(west)], [float(north), float(east)]]
    except (TypeError, ValueError):
        return None
    return corners if all(map(math.isfinite, corners[0] + corners[1])) else None


def _zoom(value: Any) -> float | None:
    try:
        zoom = float(value)
    except (TypeError, ValueError):
        return None
    return zoom if math.isfinite(zoom) else None


@dash.callback(
    Output(pid("nav"), "href"),
    Output(pid("map"), "viewport", allow_duplicate=True),
    Input(pid("points"), "clickData"),
    prevent_initial_call=True,
)
def asset_clicked(feature: dict[str, Any] | None) -> tuple[Any, Any]:
    """A click on an asset opens its asset page; a click on a cluster zooms to its assets."""
    props = (feature or {}).get("properties") or {}
    if props.get("cluster"):
        box = _bounds(props.get("bounds"))
        if box is None:
            return no_update, no_update
        (south, west), (north, east) = box
        if north - south < SPOT_DEGREES and east - west < SPOT_DEGREES:  # assets on one spot
            return no_update, {"center": [(south + north) / 2, (west + east) / 2],
                               "zoom": POINTS_FROM_ZOOM, "transition": "flyTo"}
        return no_update, {"bounds": box, "transition": "flyToBounds"}
    if not props.get("id"):
        return no_update, no_update
    return asset_href(props["id"]), no_update


@dash.callback(
    Output(pid("grid"), "getRowsResponse"),
    Input(pid("grid"), "getRowsRequest"),
    State(pid("search"), "value"),
    State(pid("district"), "value"),
    State(pid("department"), "value"),
    State(pid("name"), "data"),
    prevent_initial_call=True,
)
def grid_block_rows(request: dict[str, Any] | None, search: str | None, district: str | None,
                    department: str | None, domain: str) -> Any:
    """The block of grid rows the grid asks for, searched and sorted on the server (none
    for a department that may not see the domain)."""
    if not isinstance(request, dict):
        return no_update
    settings = current_settings()
    if not domain_allowed(settings, domain, scoped_department(department)):
        return {"rowData": [], "rowCount": 0}
    start, end = _int(request.get("startRow"), 0), _int(request.get("endRow"), PAGE_ROWS)
    block = grid_block(settings, domain, district or None, start, end,
                       request.get("sortModel") or [], search)
    return {"rowData": grid_rows(block["rows"], settings.timezone), "rowCount": block["count"]}


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


dash.clientside_callback(
    ClientsideFunction("citylens", "refreshPagedGrid"),
    Output(pid("grid"), "id"),
    Input(pid("search"), "value"),
    Input(pid("district"), "value"),
    Input(pid("department"), "value"),
    Input(pid("live"), "data"),
    State(pid("grid"), "id"),
    prevent_initial_call=True,
)


@dash.callback(
    Output(ids.page_id(PAGE, "download"), "data"),
    Input(ids.export_button(PAGE, "geojson"), "n_clicks"),
    Input(ids.export_button(PAGE, "csv"), "n_clicks"),
    State(pid("district"), "value"),
    State(pid("department"), "value"),
    State(pid("search"), "value"),
    State(pid("grid"), "getRowsRequest"),
    State(pid("name"), "data"),
    prevent_initial_call=True,
)
def export_assets(geojson_clicks: int | None, csv_clicks: int | None, district: str | None,
                  department: str | None, search: str | None,
                  request: dict[str, Any] | None, domain: str) -> Any:
    """The GeoJSON button: the map's assets (every one in the filters, with state and
    latest value); the CSV button: every row of the table, as searched and sorted, with
    raw readings under headers that carry their units and ISO 8601 UTC times
    (``domain_parts.csv_export``)."""
    try:
        trigger = dash.ctx.triggered_id
    except MissingCallbackContextException:  # called as a plain function (tests)
        trigger = ids.export_button(PAGE, "csv" if csv_clicks else "geojson")
    if not (geojson_clicks or csv_clicks):
        return no_update
    settings = current_settings()
    if not domain_allowed(settings, domain, scoped_department(department)):
        return no_update
    district = district or None
    name = safe_name("assets", domain, district)
    if trigger == ids.export_button(PAGE, "csv"):
        sort = (request or {}).get("sortModel") if isinstance(request, dict) else None
        fields, rows = csv_export(all_matching(settings, domain, district, sort or [], search))
        return csv_file(rows, fields, f"{name}.csv")
    data = domain_assets(settings, domain, district)
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
    """The domain cards (and the subtitle) for the index's filters (presets only)."""
    filters = _filters(district, department, period)
    if is_custom(filters.period):
        filters = filters.with_(period=None)
    return cards(current_settings(), filters), index_subtitle(filters.period)
