"""Asset drill-down (``/asset/<asset_id>``): attributes, status, location, time series.

The view is a function of the URL: the asset id in the path (URL-quoted, ``:`` kept)
and ``?period=..&compare=..&metric=..`` in the query; ``callbacks/asset.py`` keeps the
chart and the URL in step. Link to it with ``asset_href(asset_id)``.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote

import dash
import dash_leaflet as dl
from dash import dcc, html

from dashboard.auth import DEPARTMENT_HEAD
from dashboard.auth.access import STAFF
from dashboard.auth.web import current_principal
from dashboard.links import asset_href
from dashboard.periods import period_label
from dashboard.queries.asset import asset_alerts, asset_detail, rule_metric, thresholds
from dashboard.queries.asset_series import MAX_POINTS, asset_series
from dashboard.queries.departments import department_domains
from dashboard.settings import Settings
from dashboard.units import shown, unit_label
from layouts import (
    clean_query,
    current_settings,
    domain_label,
    exact_time,
    format_number,
    geo_bounds,
    ids,
    text,
    time_ago,
)
from layouts.asset_chart import (
    alerts_block,
    decimals_for,
    metric_label,
    series_figure,
    series_table,
)
from layouts.export import download, export_button, graph_config, safe_name
from layouts.filters import PageFilters, filter_bar, read_filters

PAGE = "asset"
HEALTHY = {"ok", "active"}
DISTRICT_STYLE = {"color": "#0b4f8a", "weight": 2, "fillColor": "#9fb8d3", "fillOpacity": 0.35}


def pid(name: str) -> str:
    """This page's component id ``asset-<name>``."""
    return ids.page_id(PAGE, name)


def status_words(status: str) -> str:
    """``defectiveLamp`` -> ``Defective lamp``; ``ok`` -> ``OK``."""
    if status.lower() == "ok":
        return "OK"
    return metric_label(status)


def status_pill(status: str, open_alerts: int = 0) -> html.Span:
    """The asset's status as icon and words (healthy vs anything else); an asset with an
    active alert is never shown as plainly "OK"."""
    healthy = status in HEALTHY and not open_alerts
    words = status_words(status)
    if open_alerts:
        words += f" · {open_alerts} active alert{'s' if open_alerts > 1 else ''}"
    icon = "✓" if healthy else ("‼" if open_alerts else "✕")
    return html.Span([html.Span(icon, className="status-badge__icon",
                                **{"aria-hidden": "true"}), html.Span(words)],
                     className=f"status-badge status-badge--{'on' if healthy else 'off'}",
                     title=f"Status: {status}")


def default_metric(settings: Settings, detail: dict[str, Any], wanted: str | None) -> str | None:
    """The metric in the URL if the asset has it, else the first with an alert rule."""
    names = [m["metric"] for m in detail["metrics"]]
    if wanted in names:
        return wanted
    ruled = [n for n in names if thresholds(settings, detail["type"], n)]
    return (ruled or names or [None])[0]


def not_found(asset_id: str | None) -> html.Div:
    """The page for an id no asset has."""
    return html.Div(className="page asset-page", id=pid("page"), children=[
        html.Div(className="card asset-missing", role="alert", children=[
            html.H1("Asset not found", className="page-head__title"),
            html.P(f"No asset with id “{asset_id or ''}”. It may have been renamed or removed."),
            dcc.Link("← Back to the city overview", href="/"),
        ]),
    ])


def _fact(label: str, value: Any) -> html.Div:
    return html.Div([html.Dt(label), html.Dd(value)], className="asset-facts__item")


def head(settings: Settings, detail: dict[str, Any], filters: PageFilters,
         now: datetime) -> html.Div:
    """Name, type, domain and district links, status, last seen, source; the filter bar."""
    district = detail["district_id"]
    domain_href = f"/domain/{detail['domain']}" + (f"?district={district}" if district else "")
    where: list[Any] = [detail["type"], " · ",
                        dcc.Link(domain_label(detail["domain"]), href=domain_href), " · "]
    where.append(dcc.Link(detail["district_name"] or district, href=f"/district/{district}")
                 if district else "No district")
    seen = detail["last_seen"]
    return html.Div(className="page-head", children=[
        html.Div(className="asset-head", children=[
            html.H1(detail["name"], className="page-head__title"),
            html.P(where, className="page-head__subtitle"),
            html.Dl(className="asset-facts", children=[
                _fact("Status", status_pill(detail["status"],
                                            len(detail.get("open_alerts") or []))),
                _fact("Last seen", html.Span([time_ago(seen, now), html.Span(
                    f" · {exact_time(seen, settings.timezone)}", className="asset-muted")])
                    if seen else "never"),
                _fact("Source", detail["source_id"] or "unknown"),
                _fact("Id", html.Code(detail["id"])),
            ]),
        ]),
        filter_bar(PAGE, settings, filters, district=False, department=False, custom=True),
    ])


def attributes_card(detail: dict[str, Any]) -> html.Section:
    """The asset's JSON attributes as a definition list (nested keys dotted)."""
    pairs = detail["attributes"]
    body: Any = html.P("No attributes.", className="asset-muted") if not pairs else html.Dl(
        [part for name, value in pairs for part in (html.Dt(name), html.Dd(value))],
        className="asset-attributes")
    return html.Section([html.H2("Attributes", className="card__title"), body],
                        className="card asset-card", **{"aria-label": "Attributes"})


def location_card(settings: Settings, detail: dict[str, Any]) -> html.Section:
    """A small map: the district's polygon as the base (no tiles needed) and the point."""
    lat, lon = detail["lat"], detail["lon"]
    title = html.H2("Location", className="card__title")
    if lat is None or lon is None:
        return html.Section([title, html.P("No location recorded for this asset.",
                                           className="asset-muted")],
                            className="card asset-card", **{"aria-label": "Location"})
    children: list[Any] = []
    if settings.tile_url:
        children.append(dl.TileLayer(url=settings.tile_url, attribution=settings.tile_attribution))
    features = []
    if detail["district_geometry"]:
        features.append({"type": "Feature", "geometry": detail["district_geometry"],
                         "properties": {"name": detail["district_name"]}})
        children.append(dl.GeoJSON(data={"type": "FeatureCollection", "features": features},
                                   style=DISTRICT_STYLE, interactive=False))
    children.append(dl.CircleMarker(center=[lat, lon], radius=9, color="#ffffff", weight=2,
                                    fillColor="#b3261e", fillOpacity=1,
                                    children=dl.Tooltip(detail["name"])))
    point = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]}}
    bounds = geo_bounds(features or [point], 0.1)
    if bounds and bounds[0] == bounds[1]:
        bounds = [[lat - 0.005, lon - 0.005], [lat + 0.005, lon + 0.005]]
    leaflet = dl.Map(id=pid("map"), children=children, bounds=bounds, scrollWheelZoom=False,
                     trackViewport=False,
                     attributionControl=bool(settings.tile_url), className="asset-map",
                     style={"height": "240px", "width": "100%"})
    caption = f"{lat:.5f}, {lon:.5f}" + (f" · {detail['district_name']}"
                                         if detail["district_name"] else "")
    return html.Section([title, leaflet, html.P(caption, className="asset-muted")],
                        className="card asset-card", **{"aria-label": "Location"})


def readings_card(settings: Settings, detail: dict[str, Any], filters: PageFilters,
                  chosen: str | None, now: datetime, *, list_only: bool = False) -> Any:
    """The latest reading of each metric, each linking to its chart (``list_only``: the
    list without the card, for callbacks)."""
    items = []
    for reading in detail["metrics"]:
        metric = reading["metric"]
        number, unit = shown(reading["value"], reading["unit"])
        value = format_number(number, decimals_for([number]))
        iso = datetime.fromtimestamp(reading["time"], timezone.utc).isoformat()
        items.append(html.Li(className="asset-reading" + (
            " asset-reading--chosen" if metric == chosen else ""), children=[
            dcc.Link(metric_label(metric), href=asset_href(detail["id"])
                     + filters.query(metric=metric), className="asset-reading__name"),
            html.Span([value, html.Span(f" {unit}", className="asset-muted")],
                      className="asset-reading__value"),
            html.Span(time_ago(iso, now), title=exact_time(iso, settings.timezone),
                      className="asset-muted asset-reading__time"),
        ]))
    body: Any = html.Ul(items, className="asset-readings") if items else html.P(
        "No readings yet.", className="asset-muted")
    if list_only:
        return body
    return html.Section([html.H2("Latest readings", className="card__title"),
                         html.Div(body, id=pid("readings"))],
                        className="card asset-card", **{"aria-label": "Latest readings"})


def series_parts(settings: Settings, detail: dict[str, Any], metric: str | None,
                 filters: PageFilters) -> tuple[dict[str, Any], list[Any], list[Any]]:
    """(figure, note, table alternative) of the chosen metric over the filters' period."""
    tz = settings.timezone
    if metric is None:
        return ({"data": [], "layout": {"height": 120, "xaxis": {"visible": False},
                                        "yaxis": {"visible": False}}},
                ["This asset has no readings yet."], [])
    series = asset_series(settings, detail["id"], metric, filters.period, filters.compare)
    assert series is not None  # the asset exists: the caller looked it up
    unit = unit_label(next((m["unit"] for m in detail["metrics"] if m["metric"] == metric), ""))
    label = metric_label(metric)
    rules = thresholds(settings, detail["type"], metric)
    full = rule_metric(detail["type"], metric)
    alerts = [a for a in asset_alerts(settings, detail["id"], filters.period)
              if a["metric"] == full]
    figure = series_figure(series, label=label, unit=unit, rules=rules, alerts=alerts, tz=tz)
    count = len(series["points"])
    if not count:
        note: list[Any] = [f"No readings of {label} in this period."]
    elif series["width"]:
        note = [f"{count} points: the mean of each {series['grain']} with its min–max band "
                f"(resampled to at most {MAX_POINTS} points)."]
    else:
        note = [f"{count} raw readings."]
    if series["compared"]:
        note.append(f" Dotted: {series['compare_label']}, shifted onto this period.")
    elif series["compare"]:
        note.append(f" No readings {series['compare_label']} to compare with.")
    if rules:
        note.append(" Thresholds: " + "; ".join(
            f"{r['severity']} {r['operator']} {r['threshold']:g} ({text(r['rule'])})"
            for r in rules) + ".")
    if series["points"]:
        note.append(" Zooming in (drag, or the 1 d / 7 d / 1 m buttons) narrows the page to "
                    "that range and fetches it at finer detail.")
    return figure, note, series_table(series, label, unit, tz)


def alerts_part(settings: Settings, detail: dict[str, Any], filters: PageFilters) -> Any:
    """The asset's alerts during the period, as a list."""
    labels = {m["metric"]: metric_label(m["metric"]) for m in detail["metrics"]}
    return alerts_block(asset_alerts(settings, detail["id"], filters.period),
                        now=settings.current_time(), tz=settings.timezone, labels=labels)


def series_card(settings: Settings, detail: dict[str, Any], metric: str | None,
                filters: PageFilters) -> html.Section:
    """Metric selector, export, the chart with its note and table alternative."""
    figure, note, table = series_parts(settings, detail, metric, filters)
    options = [{"label": f"{metric_label(m['metric'])} ({unit_label(m['unit'])})" if m["unit"]
                else metric_label(m["metric"]), "value": m["metric"]} for m in detail["metrics"]]
    filename = safe_name(detail["id"].removeprefix("urn:ngsi-ld:"), metric)
    return html.Section(className="card asset-series", **{"aria-label": "Time series"}, children=[
        html.Div(className="asset-series__head", children=[
            html.H2(f"Time series · {period_label(filters.period, settings.timezone)}",
                    id=pid("series-title"),
                    className="card__title"),
            html.Div(className="asset-series__tools", children=[
                html.Label("Metric", htmlFor=pid("metric"), className="filter-bar__label"),
                dcc.Dropdown(id=pid("metric"), options=options, value=metric, clearable=False,
                             searchable=False, className="asset-series__metric"),
                export_button(PAGE, "series", "CSV"),
            ]),
        ]),
        html.P(note, id=pid("note"), className="asset-note"),
        dcc.Graph(id=pid("graph"), figure=figure, config=graph_config(filename),
                  className="asset-graph"),
        html.Div(table, id=pid("table")),
    ])


def visible_detail(settings: Settings, asset_id: str | None) -> dict[str, Any] | None:
    """The asset's detail when the signed-in user may see it (None otherwise, as for an
    unknown asset): a department head only sees assets of their departments' domains."""
    detail = asset_detail(settings, asset_id) if asset_id else None
    who = current_principal()
    if detail is None or who.role != DEPARTMENT_HEAD:
        return detail
    domains: set[str] = set()
    for department in who.departments:
        domains |= department_domains(settings, department) or set()
    return detail if detail["domain"] in domains else None


def layout(asset_id: str | None = None, **query: Any) -> html.Div:
    """The page of ``asset_id`` (URL-quoted in the path) for ``?period=&compare=&metric=``."""
    settings = current_settings()
    asset_id = unquote(asset_id or "")
    detail = visible_detail(settings, asset_id)
    if detail is None:
        return not_found(asset_id)
    now = settings.current_time()
    filters = read_filters(settings, query, custom=True)
    filters = PageFilters(period=filters.period, compare=filters.compare)
    metric = default_metric(settings, detail, clean_query(query.get("metric")))
    return html.Div(className="page asset-page", id=pid("page"), children=[
        dcc.Location(id=pid("url"), refresh=False),
        dcc.Store(id=pid("id"), data=detail["id"]),
        download(PAGE),
        head(settings, detail, filters, now),
        html.Div(className="asset-top", children=[
            attributes_card(detail), location_card(settings, detail),
            readings_card(settings, detail, filters, metric, now),
        ]),
        series_card(settings, detail, metric, filters),
        html.Section(className="card asset-alerts-card", **{"aria-label": "Alerts"}, children=[
            html.H2("Alerts in this period", className="card__title"),
            html.Div(alerts_part(settings, detail, filters), id=pid("alerts")),
        ]),
    ])


def page_title(asset_id: str | None = None, **_: Any) -> str:
    """The browser tab's title: the asset's id."""
    return f"CityLens · {unquote(asset_id)}" if asset_id else "CityLens · Asset"


# ``hidden``: Dash infers ``path="/asset/none"`` from the template, so the shell's nav
# would list it; the shell skips hidden pages.
dash.register_page(__name__, path_template="/asset/<asset_id>", name="Asset",
                   title=page_title, order=90, layout=layout, hidden=True,
                   roles=STAFF, callback_ids={"asset-": STAFF})
