"""The kiosk's district map: district polygons filled by their air-quality band, drawn as a
static Plotly figure (no tiles, no base-map downloads, nothing to drag by accident). The
list beside it on the slide is its text equivalent."""
from __future__ import annotations

import math
from typing import Any

import plotly.graph_objects as go
from dash import dcc, html

from dashboard.i18n import gettext_for

# European Air Quality Index colours (EEA), and a grey for districts without a station.
BAND_COLOURS = {"good": "#50f0e6", "fair": "#50ccaa", "moderate": "#f0e641", "poor": "#ff5050",
                "very_poor": "#960032", "extremely_poor": "#7d2181", None: "#d5dbe3"}


def _rings(geometry: dict[str, Any]) -> list[list[list[float]]]:
    """The outer rings of a Polygon or MultiPolygon."""
    if geometry.get("type") == "Polygon":
        return [geometry["coordinates"][0]]
    if geometry.get("type") == "MultiPolygon":
        return [polygon[0] for polygon in geometry["coordinates"]]
    return []


def air_map(outlines: dict[str, Any], districts: list[dict[str, Any]], lang: str) -> html.Div:
    """Districts shaded by band, with their names; an image to screen readers (the list
    beside it says the same)."""
    _ = gettext_for(lang)
    bands = {d["district_id"]: d["band"] for d in districts}
    fig = go.Figure()
    lats: list[float] = []
    for feature in outlines.get("features", []):
        props = feature.get("properties") or {}
        colour = BAND_COLOURS.get(bands.get(props.get("id")), BAND_COLOURS[None])
        rings = _rings(feature.get("geometry") or {})
        for ring in rings:
            xs, ys = [p[0] for p in ring], [p[1] for p in ring]
            lats += ys
            fig.add_trace(go.Scatter(x=xs, y=ys, fill="toself", fillcolor=colour, mode="lines",
                                     line={"color": "#ffffff", "width": 2}, hoverinfo="skip",
                                     showlegend=False))
        if rings and rings[0]:  # the name at the middle of the first outline
            ring = rings[0]
            fig.add_annotation(x=sum(p[0] for p in ring) / len(ring),
                               y=sum(p[1] for p in ring) / len(ring), text=props.get("name", ""),
                               showarrow=False, font={"size": 18, "color": "#10202f"},
                               bgcolor="rgba(255,255,255,0.8)", borderpad=2)
    mid = (min(lats) + max(lats)) / 2 if lats else 43.46
    fig.update_layout(margin={"l": 0, "r": 0, "t": 0, "b": 0}, paper_bgcolor="rgba(0,0,0,0)",
                      plot_bgcolor="rgba(0,0,0,0)",
                      xaxis={"visible": False},
                      yaxis={"visible": False, "scaleanchor": "x",
                             "scaleratio": 1 / math.cos(math.radians(mid))})
    graph = dcc.Graph(figure=fig, className="kiosk-map__graph", responsive=True,
                      config={"staticPlot": True, "displayModeBar": False})
    return html.Div(graph, className="kiosk-map", role="img",
                    **{"aria-label": _("Map of the districts coloured by their air quality "
                                       "(listed beside it)")})
