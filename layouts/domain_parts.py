"""Builders of the domain page (``layouts/domain.py``): state legend, summary, map, grid.

Pure functions of the shapes ``dashboard.queries.domain`` returns; they query nothing.
A state is always written in words (badge, tooltip, table), colour only adds to it.
"""
from __future__ import annotations

from typing import Any

import dash_leaflet as dl
from dash import html

from dashboard.kpis.scoring import relative_change
from dashboard.queries.domain import STATE_WORDS, STATES
from dashboard.queries.domain_map import initial_zoom
from dashboard.geojson_transfer import FORMAT
from dashboard.units import unit_label
from layouts import exact_time, format_number, format_percent, ids
from layouts.components import js
from layouts.tables import grid_columns, paged_grid, sorted_by

PAGE = "domain"
STATE_COLOURS = {"alert": "#c62828", "fault": "#b35900", "no data": "#6b7785",
                 "ok": "#1a7f37"}
STATE_ICONS = {"alert": "‼", "fault": "✕", "no data": "–", "ok": "✓"}
SELECTION_STYLE = {"color": "#10253f", "weight": 3, "opacity": 1, "fill": False}
GRID_COLUMNS = [("name", "Name"), ("type_label", "Type"), ("district", "District"),
                ("state_label", "State"), ("measure", "Measure"), ("value", "Latest value"),
                ("unit", "Unit"), ("last_seen_text", "Last seen"),
                ("open_alerts", "Open alerts")]


def state_legend(counts: dict[str, int] | None = None) -> list[Any]:
    """The map legend: one swatch and word per state (with counts when known)."""
    rows = [html.Li([html.Span(className="legend__swatch legend__swatch--round",
                               style={"background": STATE_COLOURS[s]}),
                     f"{STATE_WORDS[s]}" + (f" ({counts.get(s, 0)})" if counts else "")])
            for s in STATES]
    return [html.Div("Asset state", className="legend__title"),
            html.Ul(rows, className="legend__rows")]


def summary_children(data: dict[str, Any], raised: int, before: int | None,
                     compare_label: str | None, period_label: str) -> list[Any]:
    """Stat tiles: assets, how many in each state, open alerts, alerts raised in the period."""
    open_alerts = sum(a["open_alerts"] for a in data["assets"])
    tiles = [_tile("Assets", format_number(data["total"]), None)]
    tiles += [_tile(STATE_WORDS[s], format_number(data["counts"].get(s, 0)), s) for s in STATES]
    tiles.append(_tile("Open alerts", format_number(open_alerts), None))
    note = None
    if compare_label and before is not None:
        delta = relative_change(raised, before)
        arrow = "" if delta is None else ("▲ " if delta > 0 else "▼ " if delta < 0 else "● ")
        note = f"{arrow}{format_percent(delta)} vs {before} in the {compare_label}".strip()
    tiles.append(_tile(f"Alerts raised · {period_label}", format_number(raised), None, note))
    return tiles


def _tile(label: str, value: str, state: str | None, note: str | None = None) -> html.Div:
    mark = [html.Span(STATE_ICONS[state], className="domain-stat__icon",
                      **{"aria-hidden": "true"})] if state else []
    return html.Div([
        html.Div(mark + [label], className="domain-stat__label"),
        html.Div(value, className="domain-stat__value"),
        *([html.Div(note, className="domain-stat__note")] if note else []),
    ], className=f"domain-stat domain-stat--{(state or 'plain').replace(' ', '-')}")


def district_hideout(selected: str | None) -> dict[str, Any]:
    """What the district style reads: the selected district (the others are dimmed)."""
    return {"selected": selected}


def selection(districts: dict[str, Any], selected: str | None) -> dict[str, Any]:
    """The selected district alone, drawn above its neighbours as a dark outline."""
    return {"type": "FeatureCollection", "features": [
        f for f in districts["features"] if selected and f["properties"]["id"] == selected]}


def domain_map(districts: dict[str, Any], view: dict[str, Any], *,
               selected: str | None, bounds: list[list[float]] | None,
               tile_url: str = "", tile_attribution: str = "") -> html.Div:
    """District polygons as the base, the assets coloured by state on top (clustered on
    the server for the view the map shows: ``queries.domain_map.domain_map_view``), a
    scale bar. The map reports its view as it moves (``trackViewport``)."""
    hideout = {"colors": STATE_COLOURS}
    children: list[Any] = []
    if tile_url:
        children.append(dl.TileLayer(url=tile_url, attribution=tile_attribution))
    children += [
        dl.GeoJSON(id=ids.page_id(PAGE, "districts"), data=districts,
                   hideout=district_hideout(selected), style=js("domainDistrictStyle"),
                   onEachFeature=js("domainDistrictTip"), zoomToBoundsOnClick=False),
        dl.GeoJSON(id=ids.page_id(PAGE, "selection"), data=selection(districts, selected),
                   style=SELECTION_STYLE, interactive=False),
        dl.GeoJSON(id=ids.page_id(PAGE, "points"), data=view["data"], format=FORMAT,
                   hideout=hideout, pointToLayer=js("domainAssetPoint"),
                   onEachFeature=js("domainAssetTooltip")),
        dl.ScaleControl(position="bottomright", imperial=False),
    ]
    # The view is tracked from a known centre (dash-leaflet compares moves with it).
    place: dict[str, Any] = {"center": [20, 0], "zoom": 2}
    if bounds:
        (south, west), (north, east) = bounds
        place = {"bounds": bounds, "center": [(south + north) / 2, (west + east) / 2],
                 "zoom": round(initial_zoom(bounds))}
    return html.Div(dl.Map(id=ids.page_id(PAGE, "map"), children=children, zoomSnap=0.25,
                           scrollWheelZoom=False, attributionControl=bool(tile_url),
                           trackViewport=True, maxZoom=19,
                           boundsOptions={"padding": [12, 12]}, className="city-map__map",
                           style={"height": "100%", "width": "100%"}, **place),
                    className="city-map domain-map")


def grid_rows(assets: list[dict[str, Any]], tz: str) -> list[dict[str, Any]]:
    """Rows of the asset grid: what each column shows, the last-seen time local."""
    return [{**{k: a[k] for k in ("id", "href", "name", "type_label", "district",
                                  "state_label", "measure", "value", "unit", "open_alerts")},
             "last_seen_text": exact_time(a["last_seen"], tz) or "never"}
            for a in assets]


CSV_FIELDS = ("id", "name", "type", "district_id", "district", "state", "open_alerts",
              "last_seen")


def csv_export(assets: list[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """The assets as the CSV export writes them, in the grid's order: codes and raw values
    as stored, like the open-data API (a fill level as a ratio, not a rounded percentage),
    one column per reading named with its unit (``fillingLevel (ratio)``, ``no2 (µg/m³)``)
    and times in ISO 8601 UTC. Returns the header and the rows."""
    columns: dict[tuple[str, str], str] = {}  # (metric, unit) -> header, in first-seen order
    for asset in assets:
        for metric, unit in (asset.get("units") or {}).items():
            header = f"{metric.split('.', 1)[-1]} ({unit_label(unit) or 'no unit'})"
            columns.setdefault((metric, unit), header)
    rows = []
    for asset in assets:
        row = {field: asset[field] for field in CSV_FIELDS}
        units = asset.get("units") or {}
        for (metric, unit), header in columns.items():
            if units.get(metric) == unit:
                row[header] = asset["readings"].get(metric)
        rows.append(row)
    return [*CSV_FIELDS, *columns.values()], rows


def asset_grid(sort: str | None = None) -> html.Div:
    """The sortable, searchable grid of assets, paged from the server
    (``callbacks.domain.grid_block_rows``), most urgent first unless the URL's ``sort``
    (``field`` or ``-field``) names a column; names link to their asset page and wrap."""
    columns = sorted_by(grid_columns(GRID_COLUMNS, numeric=("value", "open_alerts"),
                                     links={"name": "href"}, wrap=("name", "district")), sort)
    for column in columns:
        column["filter"] = False  # the search box filters, on the server
        if column["field"] == "state_label":
            column["cellClassRules"] = {
                f"state-cell state-cell--{s.replace(' ', '-')}":
                    f"params.value == '{STATE_WORDS[s]}'" for s in STATES}
        if column["field"] == "name":
            column.update(minWidth=240, flex=2)
        if column["field"] in ("last_seen_text", "measure", "type_label"):
            column["minWidth"] = 190 if column["field"] == "last_seen_text" else 160
    return paged_grid(ids.page_id(PAGE, "grid"), ids.page_id(PAGE, "search"), columns,
                      label="Assets of this domain")
