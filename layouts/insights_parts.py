"""Pieces of the Citizen insights page (``layouts/insights.py``): how residents reach the
city by district and channel, the digital divide by district and age band, and repeat
contacts with time to resolution by district.

Builders take read-model results (``dashboard.queries.engagement``) and return components
or plain Plotly figure dicts; they hold no data. Every chart has a table beside it, and a
digital-divide group of fewer than ``MIN_GROUP`` interactions is shown as "<5" only.
"""
from __future__ import annotations

from typing import Any

from dash import dcc, html

from dashboard.queries.engagement import AGE_BANDS, DIGITAL_CHANNELS
from layouts import format_number, ids
from layouts.export import graph_config
from layouts.tables import html_table, table_alternative

PAGE = "insights"
MIN_GROUP = 5  # groups smaller than this are hidden ("<5") so they cannot point to a person
SMALL = f"<{MIN_GROUP}"
FONT = {"family": "Inter, Segoe UI, Arial, sans-serif", "size": 12, "color": "#17212d"}
# channel -> (label, colour); digital first. The colours are Okabe and Ito's palette for
# colour-blind readers (every pair told apart with deuteranopia and protanopia too:
# tests/test_palettes.py); the stacked segments are also parted by white lines.
CHANNEL_STYLE: dict[str, tuple[str, str]] = {
    "web": ("Web", "#0072b2"), "app": ("App", "#56b4e9"), "kiosk": ("Kiosk", "#009e73"),
    "email": ("E-mail", "#cc79a7"), "social": ("Social media", "#f0e442"),
    "phone": ("Phone", "#e69f00"), "in_person": ("In person", "#d55e00"),
}
UNKNOWN_STYLE = ("Unknown", "#6b7785")


def channel_label(channel: str) -> str:
    """Human name of a channel (``in_person`` -> ``In person``)."""
    return CHANNEL_STYLE.get(channel, (channel.replace("_", " ").capitalize(), ""))[0]


def digital_channel_words() -> str:
    """``web, app, kiosk, e-mail and social media`` (the module's DIGITAL_CHANNELS)."""
    names = [channel_label(c).lower() for c in DIGITAL_CHANNELS]
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]


def percent(share: float | None, decimals: int = 0) -> str:
    """A share (0..1) as ``42%``, or an en dash for none."""
    return "–" if share is None else f"{share * 100:.{decimals}f}%"


def days_text(value: float | None) -> str:
    """``1.5 d``, or an en dash for none."""
    return "–" if value is None else f"{format_number(value, 1)} d"


def small_or(total: int, shown: str) -> str:
    """``shown``, or "<5" when the group has fewer than ``MIN_GROUP`` interactions."""
    return SMALL if total < MIN_GROUP else shown


def _base_layout(height: int, **more: Any) -> dict[str, Any]:
    return {"height": height, "font": FONT, "paper_bgcolor": "rgba(0,0,0,0)",
            "plot_bgcolor": "rgba(0,0,0,0)", **more}


def _ordered_channels(channels: list[str]) -> list[str]:
    known = [c for c in CHANNEL_STYLE if c in channels]
    return known + sorted(c for c in channels if c not in CHANNEL_STYLE)


# --- interactions per 1,000 residents by district and channel ---------------------------

def channel_figure(data: dict[str, Any]) -> dict[str, Any]:
    """Stacked horizontal bars: one per district (highest rate on top), one colour per
    channel; each bar's total is written at its end (nothing only on hover)."""
    districts = [d for d in data["districts"] if d["per_1000"] is not None]
    names = [d["district_name"] for d in districts]
    rate = {(r["district_id"], r["channel"]): r["per_1000"] or 0.0 for r in data["rows"]}
    traces = []
    for channel in _ordered_channels(data["channels"]):
        label, colour = CHANNEL_STYLE.get(channel, UNKNOWN_STYLE)
        traces.append({"type": "bar", "orientation": "h", "name": label, "y": names,
                       "x": [rate.get((d["district_id"], channel), 0.0) for d in districts],
                       "marker": {"color": colour, "line": {"color": "#ffffff", "width": 1}},
                       "hovertemplate": "%{y}: %{x:.2f}"})
    notes = [{"x": d["per_1000"], "y": d["district_name"], "text": format_number(d["per_1000"], 2),
              "showarrow": False, "xanchor": "left", "xshift": 4, "font": FONT}
             for d in districts]
    return {"data": traces, "layout": _base_layout(
        70 + 30 * len(names), barmode="stack", annotations=notes,
        margin={"l": 130, "r": 50, "t": 10, "b": 40},
        legend={"orientation": "h", "y": -0.12, "traceorder": "normal"},
        xaxis={"title": "interactions per 1,000 residents", "fixedrange": True},
        yaxis={"autorange": "reversed", "fixedrange": True, "automargin": True})}


def channel_rows(data: dict[str, Any]) -> tuple[list[tuple[str, str]], list[dict[str, Any]]]:
    """Columns and rows of the interactions table: district, residents, interactions, the
    rate per 1,000 and the rate of each channel."""
    channels = _ordered_channels(data["channels"])
    columns = [("district", "District"), ("population", "Residents"),
               ("total", "Interactions"), ("per_1000", "Per 1,000 residents")]
    columns += [(f"ch_{c}", f"{channel_label(c)} per 1,000") for c in channels]
    rate = {(r["district_id"], r["channel"]): r["per_1000"] for r in data["rows"]}
    rows = []
    for d in data["districts"]:
        row = {"district": d["district_name"], "population": d["population"],
               "total": d["total"], "per_1000": format_number(d["per_1000"], 2)}
        row.update({f"ch_{c}": format_number(rate.get((d["district_id"], c)) or 0.0, 2)
                    for c in channels})
        rows.append(row)
    return columns, rows


def interactions_section(data: dict[str, Any], period_words: str, name: str) -> html.Section:
    """Section 2: the stacked chart and its table."""
    columns, rows = channel_rows(data)
    has_data = any(d["total"] for d in data["districts"])
    return html.Section(className="card insights-section", children=[
        html.H2("Interactions per 1,000 residents, by district and channel",
                className="card__title"),
        html.P(f"Requests, procedures (cases) and participation per 1,000 residents over the "
               f"{period_words} (not scaled to a month). Longest bar first; the number at "
               "the end of each bar is its total.", className="section-hint"),
        sized_graph("channels", channel_figure(data), f"{name}-channels")
        if has_data else html.P("No interactions in this period.", className="empty-note"),
        table_alternative("Interactions per 1,000 residents by district and channel",
                          columns, rows),
    ])


# --- the digital divide -----------------------------------------------------------------

def share_figure(labels: list[str], shares: list[float], *, horizontal: bool,
                 axis_title: str) -> dict[str, Any]:
    """Bars of digital shares (0..1) with the percentage written on each bar."""
    values = [round(s * 100, 1) for s in shares]
    bar: dict[str, Any] = {"type": "bar", "marker": {"color": "#0b4f8a"},
                           "text": [percent(s) for s in shares], "textposition": "outside",
                           "cliponaxis": False, "hovertemplate": "%{text}",
                           "name": "digital share"}
    axis = {"title": axis_title, "range": [0, 110], "fixedrange": True, "ticksuffix": "%"}
    if horizontal:
        bar.update({"orientation": "h", "x": values, "y": labels})
        layout = _base_layout(60 + 28 * len(labels), xaxis=axis,
                              yaxis={"autorange": "reversed", "fixedrange": True,
                                     "automargin": True},
                              margin={"l": 130, "r": 30, "t": 10, "b": 40})
    else:
        bar.update({"x": labels, "y": values})
        layout = _base_layout(260, yaxis=axis, xaxis={"fixedrange": True, "type": "category"},
                              margin={"l": 50, "r": 10, "t": 20, "b": 40})
    return {"data": [bar], "layout": {**layout, "showlegend": False}}


def sized_graph(name: str, figure: dict[str, Any], filename: str) -> dcc.Graph:
    """A chart whose box is as tall as its figure (so a grid cell cannot squash it)."""
    return dcc.Graph(id=ids.page_id(PAGE, name), figure=figure, config=graph_config(filename),
                     style={"height": f"{figure['layout']['height']}px"},
                     className="insights-graph")


def divide_rows(groups: list[dict[str, Any]], key: str,
                label: str) -> tuple[list[tuple[str, str]], list[dict[str, Any]]]:
    """Table columns and rows of digital vs assisted groups; small groups show "<5"."""
    columns = [(key, label), ("total", "Interactions"), ("digital", "Digital"),
               ("assisted", "Assisted"), ("share", "Digital share")]
    rows = [{key: g[key], "total": small_or(g["total"], format_number(g["total"])),
             "digital": small_or(g["total"], format_number(g["digital"])),
             "assisted": small_or(g["total"], format_number(g["assisted"])),
             "share": small_or(g["total"], percent(g["digital_share"]))} for g in groups]
    return columns, rows


def _shade(share: float) -> str:
    """A light blue whose depth follows the share (text stays dark: AA contrast)."""
    light, deep = (240, 243, 247), (132, 176, 222)
    mix = [round(a + (b - a) * max(0.0, min(share, 1.0))) for a, b in zip(light, deep, strict=True)]
    return "#{:02x}{:02x}{:02x}".format(*mix)


def heat_table(data: dict[str, Any]) -> html.Table:
    """District x age band table of digital shares; deeper blue = more digital (the
    percentage is written in every cell); groups under ``MIN_GROUP`` show "<5"."""
    cells = {(c["district_id"], c["band"]): c for c in data["cells"]}
    head = html.Thead(html.Tr([html.Th("District", scope="col")]
                              + [html.Th(b, scope="col") for b in AGE_BANDS]
                              + [html.Th("All ages", scope="col")]))
    body = []
    for district in sorted(data["districts"], key=lambda d: d["district_name"]):
        row: list[Any] = [html.Th(district["district_name"], scope="row")]
        for group in [cells.get((district["district_id"], b)) for b in AGE_BANDS] + [district]:
            row.append(_heat_cell(group))
        body.append(html.Tr(row))
    return html.Table([html.Caption("Digital share by district and age band"), head,
                       html.Tbody(body)], className="data-table insights-heat")


def _heat_cell(group: dict[str, Any] | None) -> html.Td:
    total = group["total"] if group else 0
    if total < MIN_GROUP or group is None or group["digital_share"] is None:
        return html.Td(SMALL if total else "–", className="insights-heat__small")
    return html.Td(percent(group["digital_share"]),
                   style={"backgroundColor": _shade(group["digital_share"])})


def divide_section(data: dict[str, Any], name: str) -> html.Section:
    """Section 3: digital share by district and by age band, and the heat-map table."""
    shown = sorted((d for d in data["districts"] if d["total"] >= MIN_GROUP),
                   key=lambda d: -(d["digital_share"] or 0))
    bands = [b for b in data["age_bands"] if b["total"] >= MIN_GROUP]
    by_name = sorted(data["districts"], key=lambda d: d["district_name"])
    d_cols, d_rows = divide_rows([{**d, "district": d["district_name"]} for d in by_name],
                                 "district", "District")
    b_cols, b_rows = divide_rows(data["age_bands"], "band", "Age band")
    hidden = len(data["districts"]) - len(shown)
    return html.Section(className="card insights-section", children=[
        html.H2("Digital divide", className="card__title"),
        html.P(f"Share of interactions made through a digital channel ({digital_channel_words()}"
               f"); the rest are assisted (phone, in person). Age in {data['reference_year']}. "
               f"Groups of fewer than {MIN_GROUP} interactions are shown as “{SMALL}” so that "
               "a small group cannot point to a person.", className="section-hint"),
        html.Div(className="insights-split", children=[
            html.Div([html.H3("By district", className="insights-h3"),
                      sized_graph("divide-district",
                                  share_figure([d["district_name"] for d in shown],
                                               [d["digital_share"] for d in shown],
                                               horizontal=True, axis_title="digital share"),
                                  f"{name}-digital-district")
                      if shown else html.P("No district has enough interactions to show.",
                                           className="empty-note"),
                      html.P(f"{hidden} district(s) with fewer than {MIN_GROUP} interactions "
                             "are not drawn.", className="section-hint") if hidden else None,
                      table_alternative("Digital and assisted interactions by district",
                                        d_cols, d_rows)]),
            html.Div([html.H3("By age band", className="insights-h3"),
                      sized_graph("divide-age",
                                  share_figure([b["band"] for b in bands],
                                               [b["digital_share"] for b in bands],
                                               horizontal=False, axis_title="digital share"),
                                  f"{name}-digital-age")
                      if bands else html.P("No age band has enough interactions to show.",
                                           className="empty-note"),
                      table_alternative("Digital and assisted interactions by age band",
                                        b_cols, b_rows)]),
        ]),
        html.H3("District by age band", className="insights-h3"),
        html.Div(heat_table(data), className="insights-scroll"),
    ])


# --- repeat contacts and time to resolution ---------------------------------------------------

RESOLUTION_COLUMNS = [
    ("district", "District"), ("requests", "Requests made"), ("repeat", "Repeat share"),
    ("r_closed", "Requests closed"), ("r_median", "Median days"), ("r_p90", "90th pct. days"),
    ("c_closed", "Procedures closed"), ("c_median", "Median days"), ("c_p90", "90th pct. days"),
]


def _resolution_row(name: str, repeat: dict[str, Any], request: dict[str, Any],
                    case: dict[str, Any]) -> dict[str, Any]:
    return {"district": name, "requests": repeat["requests"],
            "repeat": small_or(repeat["requests"], percent(repeat["share"], 1)),
            "r_closed": request["closed"], "r_median": days_text(request["median_days"]),
            "r_p90": days_text(request["p90_days"]), "c_closed": case["closed"],
            "c_median": days_text(case["median_days"]), "c_p90": days_text(case["p90_days"])}


def resolution_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per district (by name), then the whole city."""
    requests = {d["district_id"]: d for d in data["resolution"]["requests"]["districts"]}
    cases = {d["district_id"]: d for d in data["resolution"]["cases"]["districts"]}
    rows = [_resolution_row(d["district_name"], d, requests[d["district_id"]],
                            cases[d["district_id"]])
            for d in sorted(data["repeats"]["districts"], key=lambda d: d["district_name"])]
    rows.append(_resolution_row("Whole city", data["repeats"]["city"],
                                data["resolution"]["requests"]["city"],
                                data["resolution"]["cases"]["city"]))
    return rows


def resolution_section(data: dict[str, Any], period_words: str) -> html.Section:
    """Section 4: repeat contacts and days to resolve requests and procedures, by district."""
    days = data["repeats"]["days"]
    return html.Section(className="card insights-section", children=[
        html.H2("Repeat contacts and time to resolution", className="card__title"),
        html.P(f"Requests made in the {period_words}; a repeat is a request of the same "
               f"citizen for the same service within {days} days of an earlier one. Days to "
               f"resolve count the requests and procedures closed in the {period_words}, "
               f"from request (or opening) to closing. A repeat share of fewer than "
               f"{MIN_GROUP} requests is shown as “{SMALL}”.", className="section-hint"),
        html.Div(html_table("Repeat contacts and days to resolve, by district",
                            RESOLUTION_COLUMNS, resolution_rows(data)),
                 className="insights-scroll"),
    ])
