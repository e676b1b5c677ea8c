"""Service-requests page callbacks: thin; read the controls, call the read models, shape props.

What each reacts to, so nothing is recomputed needlessly:

- any filter -> the URL's query string (no reload; ``register_url_sync``);
- department -> the service selector's options (a service of another department is reset);
- every filter -> subtitle and headline numbers (the comparison only changes these);
- scope + period -> trend and breakdowns;
- scope only (the backlog is a snapshot now) -> map and oldest open requests;
- a click on a district of the map -> the district filter (cross-filtering the page);
- a zoom (brush) on the trend's time axis or the date-range picker -> a custom period
  (``register_period_range``), which every period-dependent section follows;
- an export button -> CSV of a table or GeoJSON of the map, from the same read models.
"""
from __future__ import annotations

from typing import Any

import dash
from dash import ALL, Input, Output, State, no_update

from callbacks.common import register_period_range, register_url_sync
from dashboard.links import request_href
from dashboard.queries.hotspots import HOTSPOT_FIELDS, hotspots
from dashboard.queries.services import breakdowns, channel_options, headline, oldest_open
from dashboard.queries.services_trend_map import (
    map_export,
    request_map,
    request_map_points,
    request_trend,
)
from layouts import current_settings, ids
from layouts.access import scoped_department
from layouts.export import csv_file, geojson_file
from layouts.places import map_selection
from layouts.services import OLDEST_LIMIT, ServicesView, service_choices, subtitle, view_of
from layouts.services_map import (
    district_data,
    district_hideout,
    map_legend,
    map_note,
    map_view,
)
from layouts.services_parts import (
    BREAKDOWN_FIELDS,
    OLDEST_FIELDS,
    PAGE,
    breakdown_children,
    headline_cards,
    hotspot_table,
    oldest_table,
    pid,
    trend_children,
)

register_url_sync(PAGE, extra=("service", "channel"))
register_period_range(PAGE, (pid("trend-graph"),))

SCOPE = [Input(pid(n), "value") for n in ("district", "department", "service", "channel")]


@dash.callback(
    Output(pid("service"), "options"),
    Output(pid("service"), "value"),
    Input(pid("department"), "value"),
    State(pid("service"), "value"),
    prevent_initial_call=True,
)
def services_for_department(department: str | None, service: str | None) -> tuple[Any, Any]:
    """Only the department's services; a chosen service of another department is reset."""
    options = service_choices(current_settings(), scoped_department(department))
    keep = any(o["value"] == service for o in options)
    return options, (no_update if keep else "")


@dash.callback(
    Output(pid("subtitle"), "children"),
    Output(pid("headline"), "children"),
    Input(pid("district"), "value"),
    Input(pid("department"), "value"),
    Input(pid("period"), "value"),
    Input(pid("compare"), "value"),
    Input(pid("service"), "value"),
    Input(pid("channel"), "value"),
    Input(pid("live"), "data"),
    prevent_initial_call=True,
)
def update_headline(district: str | None, department: str | None, period: str | None,
                    compare: str | None, service: str | None,
                    channel: str | None, _live: str | None = None) -> tuple[Any, Any]:
    """Subtitle and headline numbers, with the comparison period when one is chosen."""
    settings = current_settings()
    view = view_of(settings, district, department, period, compare, service, channel)
    data = headline(settings, view.scope, view.filters.period, view.filters.compare)
    return subtitle(settings, view, data), headline_cards(data)


@dash.callback(
    Output(pid("trend"), "children"),
    Output(pid("breakdowns"), "children"),
    Output(pid("hotspots"), "children"),
    *SCOPE,
    Input(pid("period"), "value"),
    Input(pid("live"), "data"),
    prevent_initial_call=True,
)
def update_period_views(district: str | None, department: str | None, service: str | None,
                        channel: str | None, period: str | None,
                        _live: str | None = None) -> tuple[Any, Any, Any]:
    """Trend chart (and its table), the four breakdowns and the hotspots for the scope and
    period."""
    settings = current_settings()
    view = view_of(settings, district, department, period, None, service, channel)
    trend = request_trend(settings, view.scope, view.filters.period)
    return (trend_children(trend, view.filename("trend")),
            breakdown_children(breakdowns(settings, view.scope, view.filters.period),
                               view.narrowed_to),
            hotspot_table(hotspots(settings, view.scope, view.filters.period),
                          view.narrowed_to))


@dash.callback(
    Output(pid("map-districts"), "data"),
    Output(pid("map-districts"), "hideout"),
    Output(pid("map-points"), "data"),
    Output(pid("map"), "viewport"),
    Output(pid("map-legend"), "children"),
    Output(pid("map-note"), "children"),
    Output(pid("oldest"), "children"),
    *SCOPE,
    Input(pid("live"), "data"),
    prevent_initial_call=True,
)
def update_backlog_views(district: str | None, department: str | None, service: str | None,
                         channel: str | None, _live: str | None = None) -> tuple[Any, ...]:
    """The map (points or district counts) and the oldest open requests of the scope."""
    settings = current_settings()
    view = view_of(settings, district, department, None, None, service, channel)
    located = request_map(settings, view.scope)
    selection = map_selection(settings, view.filters.district)
    bounds = map_view(located, selection)
    viewport = {"bounds": bounds, "transition": "flyToBounds"} if bounds else no_update
    channels = {c["id"]: c["name"] for c in channel_options(settings)}
    oldest = oldest_open(settings, **view.scope.params(), limit=OLDEST_LIMIT)
    return (district_data(located), district_hideout(located, selection),
            request_map_points(settings, view.scope), viewport, map_legend(located),
            map_note(located),
            oldest_table(oldest, channels, view.narrowed_to))


def export_file(what: str, view: ServicesView) -> dict[str, Any] | None:
    """The download for one export button: ``by-<dimension>``, ``oldest`` or ``map``."""
    settings = current_settings()
    scope, period = view.scope, view.filters.period
    if what.startswith("by-"):
        rows = breakdowns(settings, scope, period).get(what[3:])
        if rows is None:
            return None
        return csv_file(rows, BREAKDOWN_FIELDS, view.filename(what) + ".csv")
    if what == "oldest":
        rows = oldest_open(settings, **scope.params(), limit=OLDEST_LIMIT)
        return csv_file(rows, OLDEST_FIELDS, view.filename("oldest-open") + ".csv")
    if what == "hotspots":
        return csv_file(hotspots(settings, scope, period), HOTSPOT_FIELDS,
                        view.filename("hotspots") + ".csv")
    if what == "map":
        return geojson_file(map_export(request_map(settings, scope)),
                            view.filename("open-requests") + ".geojson")
    return None


@dash.callback(
    Output(pid("download"), "data"),
    Input(ids.export_button(PAGE, ALL), "n_clicks"),
    State(pid("district"), "value"),
    State(pid("department"), "value"),
    State(pid("period"), "value"),
    State(pid("service"), "value"),
    State(pid("channel"), "value"),
    prevent_initial_call=True,
)
def export(clicks: list[int | None], district: str | None, department: str | None,
           period: str | None, service: str | None, channel: str | None) -> Any:
    """Send the clicked export's file (nothing when no button was really clicked)."""
    trigger = dash.ctx.triggered_id
    fired = dash.ctx.triggered[0].get("value") if dash.ctx.triggered else None
    if not isinstance(trigger, dict) or not fired:  # a button (re)appearing is no click
        return no_update
    view = view_of(current_settings(), district, department, period, None, service, channel)
    return export_file(str(trigger.get("what")), view) or no_update


@dash.callback(
    Output(pid("district"), "value"),
    Input(pid("map-districts"), "clickData"),
    State(pid("district"), "value"),
    prevent_initial_call=True,
)
def district_clicked(feature: dict[str, Any] | None, current: str | None) -> Any:
    """Cross-filter: a click on a district of the map filters the whole page to it; a click
    on the district already chosen goes back to the whole city."""
    district = ((feature or {}).get("properties") or {}).get("id")
    if not district:
        return no_update
    return "" if district == current else district


@dash.callback(
    Output(pid("nav"), "href"),
    Input(pid("map-points"), "clickData"),
    prevent_initial_call=True,
)
def request_clicked(feature: dict[str, Any] | None) -> Any:
    """A click on a request opens its page (a cluster zooms in by itself)."""
    props = (feature or {}).get("properties") or {}
    request_id = props.get("id")
    if props.get("cluster") or not isinstance(request_id, str) or not request_id:
        return no_update
    return request_href(request_id)
