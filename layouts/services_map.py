"""The service-requests map: district polygons as the base (no tiles needed), open requests
as clustered points, or districts shaded by their open count when there are too many.

Reuses the map functions of ``assets/map.js``: ``districtStyle`` (fill by class bounds in
the hideout), ``districtLabel`` (permanent labels, escaped here) and the clustered point
functions of the asset layers (a dark ring marks an overdue request).
"""
from __future__ import annotations

import math
from html import escape
from typing import Any

import dash_leaflet as dl
from dash import html

from dashboard.geojson_transfer import FORMAT

from layouts import SELECTED_MARGIN, format_number, geo_bounds
from layouts.components import js
from layouts.places import selected_features
from layouts.services_parts import pid

COUNT_COLOURS = ["#08519c", "#3182bd", "#6baed6", "#c6dbef"]  # most open requests first
BASE_FILL = "#e3e8ef"
POINT_COLOUR = "#ad1457"
POINT_LABEL = "open requests"


def count_bounds(counts: list[int]) -> list[int]:
    """Descending lower bounds of the upper classes (quarters of the largest count)."""
    top = max(counts, default=0)
    bounds: list[int] = []
    for share in (0.75, 0.5, 0.25):
        bound = max(1, math.ceil(top * share))
        if top > 0 and (not bounds or bound < bounds[-1]):
            bounds.append(bound)
    return bounds


def district_data(result: dict[str, Any]) -> dict[str, Any]:
    """District features with a ready label, a ``score`` (open count when aggregated)."""
    aggregated = result["mode"] == "districts"
    features = []
    for feature in result["districts"]["features"]:
        props = dict(feature["properties"])
        count = f"{format_number(props['open'])} open"
        props["label"] = (f'<span class="district-label__name">{escape(str(props["name"]))}'
                          f'</span><span class="district-label__value">{escape(count)}</span>')
        props["status"] = f"{props['open']} open, {props['overdue']} overdue"
        props["score"] = props["open"] if aggregated else None
        features.append({**feature, "properties": props})
    return {"type": "FeatureCollection", "features": features}


def district_hideout(result: dict[str, Any], selected: str | list[str] | None
                     ) -> dict[str, Any]:
    """What ``districtStyle`` reads: count classes when aggregated, a plain base otherwise."""
    if result["mode"] != "districts":
        return {"bounds": [], "colors": [BASE_FILL], "noData": BASE_FILL, "selected": selected}
    bounds = count_bounds([f["properties"]["open"] for f in result["districts"]["features"]])
    colours = COUNT_COLOURS[: len(bounds)] + [COUNT_COLOURS[-1]]
    return {"bounds": bounds, "colors": colours, "noData": BASE_FILL, "selected": selected}


def map_view(result: dict[str, Any], selected: str | list[str] | None
             ) -> list[list[float]] | None:
    """Bounds of the selected district or municipality (with a margin) or of every
    district."""
    features = result["districts"]["features"]
    chosen = selected_features(features, selected)
    return geo_bounds(chosen, SELECTED_MARGIN) if chosen else geo_bounds(features)


def map_legend(result: dict[str, Any]) -> list[Any]:
    """What the colours and marks mean, in words (never colour alone)."""
    if result["mode"] == "points":
        return [html.Div("Open requests", className="legend__title"), html.Ul([
            html.Li([html.Span(className="legend__swatch sr-swatch--point"), "one request"]),
            html.Li([html.Span(className="legend__swatch sr-swatch--overdue"),
                     "dark ring: overdue"]),
            html.Li([html.Span("12", className="sr-swatch--cluster"),
                     "group of nearby requests (click to zoom)"]),
        ], className="legend__rows")]
    hideout = district_hideout(result, None)
    bounds, colours = hideout["bounds"], hideout["colors"]
    rows = []
    for i, colour in enumerate(colours):
        if i == 0 and bounds:
            label = f"{bounds[0]} or more"
        elif i < len(bounds):
            label = f"{bounds[i]}–{bounds[i - 1] - 1}"
        else:
            label = f"fewer than {bounds[-1]}" if bounds else "none"
        rows.append(html.Li([html.Span(className="legend__swatch",
                                       style={"background": colour}), label]))
    return [html.Div("Open requests per district", className="legend__title"),
            html.Ul(rows, className="legend__rows")]


def map_note(result: dict[str, Any]) -> str:
    """``94 open requests · 25 overdue`` and how they are drawn."""
    parts = [f"{format_number(result['open'])} open requests",
             f"{format_number(result['overdue'])} overdue"]
    if result["mode"] == "districts":
        parts.append(f"more than {format_number(result['limit'])}: counted per district")
    if result.get("unassigned"):
        parts.append(f"{format_number(result['unassigned'])} outside every district")
    return " · ".join(parts)


def requests_map(result: dict[str, Any], points: Any, *, selected: str | list[str] | None,
                 tile_url: str = "", tile_attribution: str = "") -> html.Div:
    """The map card's body: the Leaflet map and its legend; ``points`` is the encoded
    points layer (``queries.services_trend_map.request_map_points``)."""
    children: list[Any] = []
    if tile_url:
        children.append(dl.TileLayer(url=tile_url, attribution=tile_attribution))
    children.append(dl.GeoJSON(
        id=pid("map-districts"), data=district_data(result),
        hideout=district_hideout(result, selected), style=js("districtStyle"),
        onEachFeature=js("districtLabel"), hoverStyle=js("districtHover"),
        zoomToBoundsOnClick=False))
    children.append(dl.GeoJSON(
        id=pid("map-points"), data=points, format=FORMAT, cluster=True,
        superClusterOptions={"radius": 60, "maxZoom": 17}, zoomToBoundsOnClick=True,
        pointToLayer=js("assetPoint"), clusterToLayer=js("assetCluster"),
        style=js("assetStyle"), onEachFeature=js("assetTooltip"),
        hideout={"color": POINT_COLOUR, "label": POINT_LABEL}))
    children.append(dl.ScaleControl(position="bottomright", imperial=False))
    bounds = map_view(result, selected)
    view = {"bounds": bounds} if bounds else {"center": [20, 0], "zoom": 2}
    leaflet = dl.Map(id=pid("map"), children=children, zoomSnap=0.25, scrollWheelZoom=False,
                     trackViewport=False,  # with bounds and no center, tracking fails
                     attributionControl=bool(tile_url), boundsOptions={"padding": [12, 12]},
                     className="sr-map__map", style={"height": "100%", "width": "100%"}, **view)
    return html.Div([
        html.Div(leaflet, className="sr-map"),
        html.Div(map_legend(result), id=pid("map-legend"), className="legend sr-map__legend"),
    ], className="sr-map-wrap")
