"""Domain page and domains index callbacks: thin; read the filters, call the read models.

What each reacts to, so nothing is resent needlessly:

- department -> the "not your domain" note and whether the content shows;
- district, department, period or compare -> title, KPI cards and summary tiles;
- district or department -> map points, district outline and view, legend;
- the grid's request for a block of rows (scrolling, paging, sorting) -> those rows only,
  searched and sorted on the server; search, filters or new data -> the grid asks again;
- a click on an asset point -> its asset page; the GeoJSON button -> the map's assets; the
  CSV button -> every row of the table as searched and sorted;
- the index's filters -> its domain cards; every filter -> the URL's query (no reload).
"""
from __future__ import annotations

from typing import Any

import dash
from dash import ClientsideFunction, Input, Output, Patch, State, no_update
from dash.exceptions import MissingCallbackContextException

from callbacks.common import filters_from, register_url_sync
from dashboard.queries.domain import asset_features, asset_href, domain_assets
from dashboard.queries.domain_grid import all_matching, grid_block
from dashboard.queries.domain_map import domain_layers, domain_total, layer_payload
from dashboard.queries.domain_index import district_shapes, domain_allowed
from layouts import SELECTED_MARGIN, current_settings, geo_bounds, ids
from layouts.access import scoped_department
from layouts.domain import content_class, kpi_cards, pid, place_name, scope_note, subtitle, summary
from layouts.domain_parts import GRID_COLUMNS, PAGE, grid_rows, selection, state_legend
from layouts.domains import PAGE as INDEX_PAGE
from layouts.domains import cards, index_subtitle
from layouts.export import csv_file, geojson_file, safe_name
from layouts.tables import PAGE_ROWS

register_url_sync(PAGE)
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
    Input(pid("district"), "value"),
    Input(pid("department"), "value"),
    State(pid("name"), "data"),
    Input(pid("live"), "data"),
    prevent_initial_call=True,
)
def update_assets(district: str | None, department: str | None,
                  domain: str, _live: str | None = None) -> tuple[Any, ...]:
    """The map's points (coloured by state), the district outline and view (the grid asks
    for its rows itself: ``grid_block_rows``)."""
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
            state_legend(data["counts"]), note)


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
    latest value); the CSV button: every row of the table, as searched and sorted."""
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
    if trigger == ids.export_button(PAGE, "csv"):
        sort = (request or {}).get("sortModel") if isinstance(request, dict) else None
        rows = grid_rows(all_matching(settings, domain, district, sort or [], search),
                         settings.timezone)
        return csv_file(rows, ["id", *(field for field, _ in GRID_COLUMNS)],
                        f"{safe_name('assets', domain, district)}.csv")
    data = domain_assets(settings, domain, district)
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
