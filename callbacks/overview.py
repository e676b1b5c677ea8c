"""Overview page callbacks: thin; read the selectors, call ``dashboard.queries``, shape props.

What each reacts to, so nothing is recomputed or resent needlessly:

- district, window or department -> title, period, city score, KPI cards;
- district or department -> alerts; dimming (a ``Patch``), the selection outline and the map view;
- window or map KPI -> district shading and legend;
- a layer switched on (or the district, for layers on) -> that layer's assets only;
- a click on a district -> that district's page (``/district/<id>``);
- any selector -> the URL's query string (no reload).
"""
from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import quote, urlencode

import dash
from dash import ALL, Input, Output, Patch, State, no_update
from dash.exceptions import MissingCallbackContextException

from dashboard import queries
from dashboard.periods import is_custom, local_days_spec
from dashboard.queries.departments import department_domains
from layouts import (
    SELECTED_MARGIN,
    clean_query,
    current_settings,
    domain_label,
    geo_bounds,
    ids,
)
from layouts.access import scoped_department
from layouts.city_map import (
    asset_legend,
    asset_payload,
    label_districts,
    map_legend,
    selection_outline,
)
from layouts.overview import (
    ALERT_LIMIT,
    DEFAULT_WINDOW,
    alerts_children,
    alerts_elsewhere_of,
    chosen_window,
    drill_query,
    kpi_decimals,
    kpi_export_href,
    legend_title,
    numbers_children,
    period_param,
    period_text,
)
from layouts.places import Place, parse_place, place_districts, place_title, read_place

RANGE = ids.page_id("overview", "range")  # the custom range picker (layouts.filters)


def _window(value: str | None) -> str:
    """The period control's value as a KPI window (a forged value falls back to the
    default)."""
    if not value or not is_custom(value):  # a window name: no settings needed
        return chosen_window(value, None) or DEFAULT_WINDOW
    return chosen_window(value, current_settings()) or DEFAULT_WINDOW


@dash.callback(
    Output(ids.WINDOW_FILTER, "value"),
    Output(RANGE, "start_date"),
    Output(RANGE, "end_date"),
    Input(ids.WINDOW_FILTER, "value"),
    Input(RANGE, "start_date"),
    Input(RANGE, "end_date"),
    prevent_initial_call=True,
)
def choose_period(window: str | None, start_date: str | None, end_date: str | None
                  ) -> tuple[Any, Any, Any]:
    """Both dates picked: the period is those whole local days; a preset chosen: the
    picker empties; the picker emptied while it set the period: back to the default."""
    try:
        trigger = dash.ctx.triggered_id
    except MissingCallbackContextException:  # called as a plain function (tests)
        trigger = RANGE if start_date or end_date else ids.WINDOW_FILTER
    return period_after_pick(trigger == RANGE, window, start_date, end_date)


def period_after_pick(picked: bool, window: str | None, start_date: str | None,
                      end_date: str | None) -> tuple[Any, Any, Any]:
    """(period, start date, end date) after the picker (``picked``) or the period control
    changed; ``no_update`` where nothing changes."""
    if not picked:
        if window and is_custom(window):
            return no_update, no_update, no_update
        return no_update, None, None
    if start_date and end_date:
        settings = current_settings()
        try:
            spec = local_days_spec(date.fromisoformat(start_date[:10]),
                                   date.fromisoformat(end_date[:10]), settings.timezone,
                                   settings.current_time())
        except ValueError:
            return no_update, no_update, no_update
        return (spec if spec != window else no_update), no_update, no_update
    if not start_date and not end_date and window and is_custom(window):
        return DEFAULT_WINDOW, no_update, no_update
    return no_update, no_update, no_update


def _place(value: str | None) -> Place:
    """The place the selector's value names (a forged one: the city)."""
    settings = current_settings()
    return read_place(value, queries.district_options(settings),
                      queries.municipality_options(settings))


def query_string(district: str | None, window: str | None, kpi: str | None,
                 department: str | None = None, compare: str | None = None) -> str:
    """``?district=..&period=..&kpi=..&department=..&compare=..`` (``municipality=..``
    instead of the district for a municipality) for the current selection (empty parts
    left out): the period in the words every page's links use (``7d``)."""
    place = parse_place(district)
    params = {"municipality": place.municipality, "district": place.district,
              "period": period_param(_window(window)),
              "kpi": kpi or None, "department": scoped_department(department),
              "compare": compare or None}
    return "?" + urlencode({k: v for k, v in params.items() if v})


@dash.callback(
    Output(ids.OVERVIEW_URL, "search"),
    Input(ids.DISTRICT_FILTER, "value"),
    Input(ids.WINDOW_FILTER, "value"),
    Input(ids.OVERVIEW_MAP_KPI, "value"),
    Input(ids.OVERVIEW_DEPARTMENT, "value"),
    Input(ids.OVERVIEW_COMPARE, "value"),
    prevent_initial_call=True,
)
def sync_url(district: str | None, window: str | None, kpi: str | None,
             department: str | None = None, compare: str | None = None) -> str:
    """Mirror the selection in the URL (the Location has ``refresh=False``: no reload)."""
    return query_string(district, window, kpi, department, compare)


@dash.callback(
    Output(ids.OVERVIEW_PLACE_TITLE, "children"),
    Output(ids.OVERVIEW_SUBTITLE, "children"),
    Output(ids.OVERVIEW_SCORE_PANEL, "children"),
    Output(ids.OVERVIEW_KPI_GRID, "children"),
    Output(ids.OVERVIEW_KPI_EXPORT, "href"),
    Input(ids.DISTRICT_FILTER, "value"),
    Input(ids.WINDOW_FILTER, "value"),
    Input(ids.OVERVIEW_DEPARTMENT, "value"),
    Input(ids.OVERVIEW_COMPARE, "value"),
    Input(ids.OVERVIEW_LIVE, "data"),
    prevent_initial_call=True,
)
def update_numbers(district: str | None, window: str | None,
                   department: str | None = None, compare: str | None = None,
                   _live: str | None = None) -> tuple[Any, ...]:
    """Title, period, city score and KPI cards for the selected place, window, department
    and comparison (the previous window, or ``year``: the same window a year before);
    redrawn too when the data changed (``_live``: the new data version)."""
    settings = current_settings()
    window = _window(window)
    chosen = _place(district)
    data = queries.overview(settings, chosen.district, window, scoped_department(department),
                            chosen.municipality)
    place = place_title(chosen, queries.district_options(settings),
                        queries.municipality_options(settings))
    badge, cards = numbers_children(settings, data, place, settings.current_time(),
                                    scoped_department(department),
                                    "year" if compare == "year" else None)
    subtitle = period_text(window, data["window_start"], data["window_end"], settings.timezone)
    export = kpi_export_href(chosen.district, window, scoped_department(department),
                             chosen.municipality)
    return place, subtitle, badge, cards, export


@dash.callback(
    Output(ids.OVERVIEW_ALERTS, "children"),
    Input(ids.DISTRICT_FILTER, "value"),
    Input(ids.OVERVIEW_DEPARTMENT, "value"),
    State(ids.WINDOW_FILTER, "value"),
    State(ids.OVERVIEW_COMPARE, "value"),
    Input(ids.OVERVIEW_LIVE, "data"),
    prevent_initial_call=True,
)
def update_alerts(district: str | None, department: str | None = None,
                  window: str | None = None, compare: str | None = None,
                  _live: str | None = None) -> list[Any]:
    """The active alerts of the selected place and department (not of the window), also
    when the data changed."""
    settings = current_settings()
    domains = department_domains(settings, scoped_department(department))
    chosen = _place(district)
    covered = place_districts(chosen, queries.municipality_options(settings))
    alerts = queries.active_alerts(settings, chosen.district, ALERT_LIMIT, domains=domains,
                                   districts=covered if chosen.municipality else None)
    department = scoped_department(department)
    query = drill_query(chosen.district, _window(window), department, compare or None)
    elsewhere = alerts_elsewhere_of(settings, chosen.district, domains, _window(window),
                                    department, compare or None)
    return alerts_children(alerts, settings.current_time(), settings.timezone, query,
                           elsewhere)


@dash.callback(
    Output(ids.OVERVIEW_DISTRICT_LAYER, "data"),
    Output(ids.OVERVIEW_MAP_LEGEND, "children"),
    Input(ids.WINDOW_FILTER, "value"),
    Input(ids.OVERVIEW_MAP_KPI, "value"),
    Input(ids.OVERVIEW_DEPARTMENT, "value"),
    Input(ids.OVERVIEW_LIVE, "data"),
    prevent_initial_call=True,
)
def shade_districts(window: str | None, kpi: str | None,
                    department: str | None = None, _live: str | None = None
                    ) -> tuple[Any, Any]:
    """District polygons shaded by the district score (of the department's KPIs when one
    is chosen) or by the chosen KPI's score."""
    settings = current_settings()
    catalogue = queries.kpi_catalogue(settings)
    kpi = clean_query(kpi, {k["id"] for k in catalogue})
    shapes = queries.district_scores(settings, _window(window), kpi,
                                     scoped_department(department))
    decimals = kpi_decimals(catalogue, kpi)
    return label_districts(shapes, decimals), map_legend(
        legend_title(catalogue, kpi), bool(queries.municipality_options(settings)))


@dash.callback(
    Output(ids.OVERVIEW_DISTRICT_LAYER, "hideout"),
    Output(ids.OVERVIEW_SELECTION_LAYER, "data"),
    Output(ids.CITY_MAP, "viewport"),
    Input(ids.DISTRICT_FILTER, "value"),
    State(ids.WINDOW_FILTER, "value"),
    prevent_initial_call=True,
)
def select_district(district: str | None, window: str | None) -> tuple[Any, Any, Any]:
    """Dim the others (a one-key ``Patch``), outline the district (or the municipality's
    districts) and fit the map to it."""
    settings = current_settings()
    shapes = queries.district_scores(settings, _window(window), None)
    features = shapes["features"]
    place = _place(district)
    covered = place_districts(place, queries.municipality_options(settings)) or []
    chosen = [f for f in features if f["properties"]["id"] in covered]
    selected: str | list[str] | None = covered if place.municipality else place.district
    hideout = Patch()
    hideout["selected"] = selected
    bounds = geo_bounds(chosen, SELECTED_MARGIN) if chosen else geo_bounds(features)
    viewport = {"bounds": bounds, "transition": "flyToBounds"} if bounds else no_update
    return hideout, selection_outline(shapes, selected), viewport


@dash.callback(
    Output(ids.OVERVIEW_ASSET_LEGEND, "children"),
    Input(ids.OVERVIEW_LAYERS_CONTROL, "overlays"),
    prevent_initial_call=True,
)
def legend_assets(overlays: list[str] | None) -> list[Any]:
    """The asset legend names the colours of the layers switched on."""
    return asset_legend([o for o in overlays or [] if isinstance(o, str)])


@dash.callback(
    Output({"type": ids.ASSET_LAYER_TYPE, "domain": ALL}, "data"),
    Output(ids.OVERVIEW_ASSETS_LOADED, "data"),
    Input(ids.OVERVIEW_LAYERS_CONTROL, "overlays"),
    Input(ids.DISTRICT_FILTER, "value"),
    State({"type": ids.ASSET_LAYER_TYPE, "domain": ALL}, "id"),
    State(ids.OVERVIEW_ASSETS_LOADED, "data"),
    prevent_initial_call=True,
)
def load_assets(overlays: list[str] | None, district: str | None,
                layer_ids: list[dict[str, str]] | None,
                loaded: dict[str, str] | None) -> tuple[Any, Any]:
    """Send a domain's assets only when its layer is on and does not hold them already.

    ``loaded`` remembers which place each layer holds ("" = whole city), so toggling a
    layer off and on, or changing the window, never resends points.
    """
    shown = set(overlays or [])
    district = _place(district).district  # a municipality's layers hold the whole city's
    place = district or ""
    loaded = dict(loaded or {})
    sent = False
    out: list[Any] = []
    for layer_id in layer_ids or []:  # a forged request may send none, or odd ones
        domain = layer_id.get("domain") if isinstance(layer_id, dict) else None
        if not isinstance(domain, str):
            out.append(no_update)
            continue
        if domain_label(domain) not in shown or loaded.get(domain) == place:
            out.append(no_update)
            continue
        layer = queries.asset_layer(current_settings(), domain, district or None)
        out.append(asset_payload(layer)[0])
        loaded[domain] = place
        sent = True
    return out, (loaded if sent else no_update)


@dash.callback(
    Output(ids.OVERVIEW_NAV, "href"),
    Input(ids.OVERVIEW_DISTRICT_LAYER, "clickData"),
    State(ids.WINDOW_FILTER, "value"),
    State(ids.OVERVIEW_DEPARTMENT, "value"),
    State(ids.OVERVIEW_COMPARE, "value"),
    prevent_initial_call=True,
)
def district_clicked(feature: dict[str, Any] | None, window: str | None = None,
                     department: str | None = None, compare: str | None = None) -> Any:
    """A click on a district polygon opens that district's page (same period, department)."""
    district = ((feature or {}).get("properties") or {}).get("id")
    if not district:
        return no_update
    query = drill_query(None, _window(window), scoped_department(department),
                        compare or None)
    return f"/district/{quote(district)}{query}"
