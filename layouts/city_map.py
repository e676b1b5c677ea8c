"""The overview's city map: district polygons shaded by score (the base map: no tiles
needed), the selected district's outline, and one toggleable layer of assets per domain.

Pure functions of plain dicts (the shapes ``dashboard.queries`` returns) that return
Dash components or their data.
"""
from __future__ import annotations

from html import escape
from typing import Any

import dash_leaflet as dl
from dash import html

from dashboard.geojson_transfer import FORMAT, encode
from layouts import (
    DOMAIN_STYLE,
    NO_DATA_COLOUR,
    SCORE_CLASSES,
    STATUS_LABELS,
    domain_label,
    format_number,
    ids,
    status_of,
)
from layouts.components import js

SELECTION_STYLE = {"color": "#10253f", "weight": 3.5, "opacity": 1, "fill": False}
# Municipality boundaries of a metropolitan deployment: a dark dashed line over the
# districts' white edges.
MUNICIPALITY_STYLE = {"color": "#10253f", "weight": 2.5, "opacity": 0.9, "fill": False,
                      "dashArray": "6 4"}


def map_legend(title: str, municipalities: bool = False) -> list[Any]:
    """Legend of the district colour scale (the same classes ``map.js`` uses), and of the
    municipality boundaries when the map draws them."""
    rows = [html.Li([html.Span(className="legend__swatch", style={"background": colour}), label])
            for _, colour, label in SCORE_CLASSES]
    rows.append(html.Li([html.Span(className="legend__swatch",
                                   style={"background": NO_DATA_COLOUR}), "no data"]))
    if municipalities:
        rows.append(html.Li([html.Span(className="legend__line legend__line--dashed"),
                             "municipality boundary"]))
    return [html.Div(title, className="legend__title"), html.Ul(rows, className="legend__rows")]


ASSET_RING_COLOUR = "#455a64"  # the neutral fill of the legend's ring examples


def asset_legend(shown: list[str] | None = None) -> list[Any]:
    """Legend of the asset layers (what ``assetPoint``/``assetCluster`` in ``map.js`` draw):
    a marker's fill is its domain's colour (one row per layer switched on, by its name in
    the Layers control), its ring tells whether the asset reports a fault, a numbered
    bubble is a group of nearby assets."""
    by_label = {label: colour for label, colour in DOMAIN_STYLE.values()}
    domains = [html.Li([html.Span(className="legend__swatch legend__swatch--round",
                                  style={"background": by_label[name]}), name])
               for name in sorted(n for n in set(shown or []) if n in by_label)]
    if not domains:
        domains = [html.Li("none: switch domains on under Layers",
                           className="legend__hint")]
    marks = [
        html.Li([html.Span(className="legend__swatch legend__swatch--round",
                           style={"background": ASSET_RING_COLOUR}), "working"]),
        html.Li([html.Span(className="legend__swatch legend__swatch--round "
                                     "legend__swatch--fault",
                           style={"background": ASSET_RING_COLOUR}),
                 "reports a fault"]),
        html.Li([html.Span("12", className="legend__cluster",
                           style={"background": ASSET_RING_COLOUR}),
                 "nearby assets grouped"]),
    ]
    return [html.Div("Assets on the map", className="legend__title"),
            html.Ul(domains + marks, className="legend__rows")]


def label_districts(collection: dict[str, Any], decimals: int = 2) -> dict[str, Any]:
    """Add a ready-to-show ``label`` (name, value, status) to each district feature."""
    features = []
    for feature in collection.get("features", []):
        props = dict(feature.get("properties") or {})
        status = status_of(props.get("score"))
        if props.get("value") is None:
            shown = "no data"
        else:
            unit = f" {props['unit']}" if props.get("unit") else ""
            shown = f"{format_number(props['value'], decimals)}{unit} {STATUS_LABELS[status][0]}"
        props["label"] = (f'<span class="district-label__name">{escape(str(props.get("name", "")))}'
                          f'</span><span class="district-label__value">{escape(shown)}</span>')
        props["status"] = STATUS_LABELS[status][1]
        features.append({**feature, "properties": props})
    return {"type": "FeatureCollection", "features": features}


def selection_outline(districts: dict[str, Any], selected: str | list[str] | None
                      ) -> dict[str, Any]:
    """The selected district (or a municipality's districts) alone, drawn above its
    neighbours as an outline."""
    chosen = set(selected) if isinstance(selected, list) else {selected} if selected else set()
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": f["geometry"], "properties": {"id": f["properties"]["id"]}}
        for f in districts.get("features", []) if f["properties"]["id"] in chosen]}


def district_hideout(selected: str | list[str] | None) -> dict[str, Any]:
    """What the district style function reads: class bounds, colours, the selection."""
    return {"bounds": [b for b, _, _ in SCORE_CLASSES[:-1]],
            "colors": [c for _, c, _ in SCORE_CLASSES],
            "noData": NO_DATA_COLOUR, "selected": selected}


def asset_payload(collection: dict[str, Any]) -> tuple[str | dict[str, Any] | None, str]:
    """Trim an asset layer to what the map shows and encode it (geobuf when available)."""
    keep = ("id", "name", "type", "status")
    slim = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": f["geometry"],
         "properties": {k: f["properties"].get(k) for k in keep}}
        for f in collection.get("features", [])]}
    return encode(slim), FORMAT


def asset_layer(domain: str, collection: dict[str, Any] | None = None, *,
                checked: bool = False) -> dl.Overlay:
    """One toggleable, clustered layer of a domain's assets (data may come later)."""
    label, colour = DOMAIN_STYLE.get(domain, (domain_label(domain), "#455a64"))
    data, fmt = asset_payload(collection) if collection else (None, FORMAT)
    return dl.Overlay(name=label, checked=checked, children=dl.GeoJSON(
        id=ids.asset_layer(domain), data=data, format=fmt, cluster=True,
        superClusterOptions={"radius": 90, "maxZoom": 17}, zoomToBoundsOnClick=True,
        pointToLayer=js("assetPoint"), clusterToLayer=js("assetCluster"), style=js("assetStyle"),
        onEachFeature=js("assetTooltip"), hideout={"color": colour, "label": label},
    ))


def city_map(districts: dict[str, Any], domains: list[str], *,
             selected: str | list[str] | None, bounds: list[list[float]] | None,
             legend_title: str,
             tile_url: str = "", tile_attribution: str = "",
             municipalities: dict[str, Any] | None = None) -> html.Div:
    """The city map: district polygons (the base map without tiles), the municipalities'
    boundaries in a metropolitan deployment, and asset layers.

    Asset layers start empty and unchecked; their data is sent when one is switched on.
    """
    children: list[Any] = []
    if tile_url:
        children.append(dl.TileLayer(url=tile_url, attribution=tile_attribution))
    children.append(dl.GeoJSON(
        id=ids.OVERVIEW_DISTRICT_LAYER, data=districts, hideout=district_hideout(selected),
        style=js("districtStyle"), onEachFeature=js("districtLabel"),
        hoverStyle=js("districtHover"), zoomToBoundsOnClick=False,
    ))
    drawn = bool(municipalities and municipalities.get("features"))
    if drawn:
        children.append(dl.GeoJSON(id=ids.OVERVIEW_MUNICIPALITY_LAYER, data=municipalities,
                                   style=MUNICIPALITY_STYLE, interactive=False))
    children.append(dl.GeoJSON(
        id=ids.OVERVIEW_SELECTION_LAYER, data=selection_outline(districts, selected),
        style=SELECTION_STYLE, interactive=False,
    ))
    children.append(dl.LayersControl(
        id=ids.OVERVIEW_LAYERS_CONTROL, position="topright", collapsed=True, overlays=[],
        children=[asset_layer(d) for d in sorted(domains, key=domain_label)],
    ))
    children.append(dl.ScaleControl(position="bottomright", imperial=False))
    view = {"bounds": bounds} if bounds else {"center": [20, 0], "zoom": 2}  # no districts yet
    leaflet = dl.Map(id=ids.CITY_MAP, children=children, zoomSnap=0.25, scrollWheelZoom=False,
                     trackViewport=False, attributionControl=bool(tile_url),
                     boundsOptions={"padding": [12, 12]}, className="city-map__map",
                     style={"height": "100%", "width": "100%"}, **view)
    empty = [] if districts.get("features") else [
        html.Div("No district boundaries loaded yet.", className="city-map__empty")]
    return html.Div(className="city-map-wrap", children=[
        html.Div([leaflet, *empty], className="city-map"),
        html.Div(map_legend(legend_title, drawn), id=ids.OVERVIEW_MAP_LEGEND,
                 className="legend"),
        html.Div(asset_legend(), id=ids.OVERVIEW_ASSET_LEGEND, className="legend legend--assets"),
    ])
