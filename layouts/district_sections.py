"""Builders of the district page's sections: KPI chart and table, assets, requests, alerts.

Pure functions of the shapes ``dashboard.queries.district`` returns; no queries here.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from dash import dcc, html

from layouts import (
    STATUS_COLOURS,
    STATUS_LABELS,
    domain_label,
    exact_time,
    format_change,
    format_number,
    status_of,
    text,
    time_ago,
)
from layouts.components import no_source_tag, source_noun, status_badge, trend_span
from layouts.export import graph_config, safe_name

KPI_CSV_FIELDS = ("kpi_id", "kpi", "domain", "unit", "district_value", "city_value",
                  "gap_to_city", "gap_unit", "target", "direction", "score", "city_score",
                  "status", "previous_value",
                  "change_vs_previous", "change_unit", "year_ago_value", "change_vs_year_ago",
                  "year_change_unit", "covered", "window_total", "coverage_unit", "rank",
                  "ranked")
ASSET_CSV_FIELDS = ("domain", "domain_name", "assets", "not_ok", "open_alerts", "last_seen")


def ordinal(n: int) -> str:
    """``1st``, ``2nd``, ``3rd``, ``4th``, ``11th``, ``22nd``."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def rank_text(rank: int | None, ranked: int) -> str:
    """``rank 2 of 9`` or ``not ranked`` (no value for this district)."""
    return f"rank {rank} of {ranked}" if rank is not None else "not ranked"


def with_unit(value: float | None, decimals: int, unit: str) -> str:
    """``12.5 µg/m³`` (or an en dash without a value)."""
    if value is None:
        return "–"
    return f"{format_number(value, decimals)} {unit}".strip()


def gap_cell(row: dict[str, Any], whole: str | None = None) -> html.Span:
    """``+8 pp vs city · better``: the district's value minus the city's (``city_gap``; its
    municipality's, ``whole``, in a metropolis), coloured and worded by the KPI's
    direction."""
    gap = row.get("city_gap")
    if gap is None:
        return html.Span("–", className="trend trend--none")
    better = row.get("city_gap_better")
    size = format_change(gap, row.get("city_gap_unit"), row["decimals"])
    if better is None:
        return html.Span(f"level with {whole or 'the city'} ({'+' if gap >= 0 else '−'}{size})",
                         className="trend trend--flat")
    return html.Span([f"{'+' if gap > 0 else '−'}{size} vs {whole or 'city'} ",
                      html.Span("better" if better else "worse", className="trend__word")],
                     className=f"trend trend--{'improving' if better else 'worsening'}")


def change_cell(row: dict[str, Any], versus: str, *, year: bool = False) -> html.Span:
    """▲/▼ with the size of a KPI row's change (against the previous window, or a year ago
    with ``year``) and whether it is good news, in words."""
    if year:
        return trend_span(row.get("year_change"), row.get("year_improving"), versus,
                          "no earlier data", unit=row.get("year_change_unit"),
                          decimals=row["decimals"])
    return trend_span(row.get("change"), row.get("improving"), versus, "no earlier data",
                      unit=row.get("change_unit"), decimals=row["decimals"])


# ---- KPI comparison -------------------------------------------------------------------------
def score_figure(rows: list[dict[str, Any]], place: str,
                 whole: str | None = None) -> dict[str, Any]:
    """Horizontal bars of the district's score per KPI, the city's (its municipality's,
    ``whole``) score as markers and the 1.00 target line. Bars are grouped by status so
    the legend names it in words."""
    names = [text(r["name"]) + (f" (no {source_noun(r)} here)" if r.get("no_source") else
                                " (no data)" if r["score"] is None else "") for r in rows]
    data: list[dict[str, Any]] = []
    for status in ("on", "near", "off"):
        chosen = [(n, r) for n, r in zip(names, rows, strict=True)
                  if status_of(r["score"]) == status]
        if not chosen:
            continue
        data.append({
            "type": "bar", "orientation": "h", "name": f"{place}: {STATUS_LABELS[status][1]}",
            "y": [n for n, _ in chosen], "x": [round(r["score"], 3) for _, r in chosen],
            "marker": {"color": STATUS_COLOURS[status]},
            "customdata": [[with_unit(r["value"], r["decimals"], r["unit"])] for _, r in chosen],
            "hovertemplate": "%{y}<br>" + place + ": %{x:.2f} (%{customdata[0]})<extra></extra>",
        })
    city = [(n, r) for n, r in zip(names, rows, strict=True) if r["city_score"] is not None]
    data.append({
        "type": "scatter", "mode": "markers", "name": f"{whole or 'City'} score",
        "y": [n for n, _ in city], "x": [round(r["city_score"], 3) for _, r in city],
        "marker": {"symbol": "line-ns", "size": 22, "line": {"width": 3, "color": "#17212d"},
                   "color": "#17212d"},
        "customdata": [[with_unit(r["city_value"], r["decimals"], r["unit"])] for _, r in city],
        "hovertemplate": "%{y}<br>" + (whole or "City")
                         + ": %{x:.2f} (%{customdata[0]})<extra></extra>",
    })
    order = list(reversed(names))  # first KPI on top
    return {"data": data, "layout": {
        "height": max(110 + 28 * len(rows), 230), "barmode": "overlay", "bargap": 0.35,
        "margin": {"l": 10, "r": 20, "t": 36, "b": 50},
        "xaxis": {"range": [0, 2.05], "title": {"text": "Score (1.00 = on target, capped at 2)"},
                  "tickvals": [0, 0.5, 1, 1.5, 2],
                  "ticktext": ["0", "0.5", "1 = target", "1.5", "2"],
                  "gridcolor": "#e3e8ee", "zeroline": False, "fixedrange": True},
        "yaxis": {"categoryorder": "array", "categoryarray": order, "automargin": True,
                  "fixedrange": True, "tickfont": {"size": 12}},
        "shapes": [{"type": "line", "x0": 1, "x1": 1, "yref": "paper", "y0": 0, "y1": 1,
                    "line": {"color": "#535e6b", "width": 1.5, "dash": "dash"}}],
        "legend": {"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom"},
        "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"family": "system-ui, sans-serif", "color": "#17212d"},
    }}


def score_chart(graph_id: str, rows: list[dict[str, Any]], place: str,
                district: str, period: str, whole: str | None = None) -> Any:
    """The score chart (PNG via the mode bar); the table below it is its text alternative."""
    if not rows:
        return html.Div("No KPI for the chosen department.", className="empty-note")
    graph = dcc.Graph(id=graph_id, figure=score_figure(rows, place, whole),
                      config=graph_config(safe_name("district", district, "scores", period)),
                      className="district-chart")
    return html.Figure([graph, html.Figcaption(
        "The table below gives every number of this chart.", className="visually-hidden")],
        className="district-figure", **{"aria-describedby": f"{graph_id}-table"})


def kpi_table(table_id: str, rows: list[dict[str, Any]], place: str, *,
              year_ago: bool, whole: str | None = None) -> html.Table | html.Div:
    """Every KPI of the district with all the chart's numbers (its accessible alternative),
    in the rows' order (``kpi_comparison``: worst first), each with its gap to the city (to
    its municipality, ``whole``, in a metropolis)."""
    if not rows:
        return html.Div("No KPI to compare.", className="empty-note")
    heads = ["KPI", place, whole or "City", f"Gap to {whole or 'city'}", "Target",
             f"Score ({place} / {whole or 'city'})", "Status",
             "vs previous window"] + (["vs a year ago"] if year_ago else []) + ["Rank"]
    body = []
    for r in rows:
        comparator = "≤" if r["direction"] == "lower" else "≥"
        cells = [
            html.Th([html.Div(text(r["name"]), className="district-kpi__name"),
                     html.Div(domain_label(r["domain"]), className="district-kpi__domain")],
                    scope="row"),
            html.Td(with_unit(r["value"], r["decimals"], r["unit"]), className="num"),
            html.Td(with_unit(r["city_value"], r["decimals"], r["unit"]), className="num"),
            html.Td(gap_cell(r, whole)),
            html.Td(f"{comparator} {with_unit(r['target'], r['decimals'], r['unit'])}",
                    className="num"),
            html.Td(f"{format_number(r['score'], 2)} / {format_number(r['city_score'], 2)}",
                    className="num"),
            html.Td(no_source_tag(r) if r.get("no_source")
                    else status_badge(status_of(r["score"]))),
            html.Td(change_cell(r, "previous window")),
        ]
        if year_ago:
            before = with_unit(r["year_ago"], r["decimals"], r["unit"])
            cells.append(html.Td(
                [change_cell(r, "a year ago", year=True),
                 html.Div(f"was {before}", className="district-kpi__domain")]
                if r["year_ago"] is not None else "no data a year before"))
        cells.append(html.Td(rank_text(r["rank"], r["ranked"])))
        body.append(html.Tr(cells))
    return html.Table([
        html.Caption(f"{place} against {whole or 'the city'} and the targets, per KPI"),
        html.Thead(html.Tr([html.Th(h, scope="col") for h in heads])),
        html.Tbody(body),
    ], id=table_id, className="data-table district-kpi-table")


def kpi_csv_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The KPI comparison table as plain CSV rows (fields ``KPI_CSV_FIELDS``)."""
    return [{
        "kpi_id": r["id"], "kpi": text(r["name"]), "domain": r["domain"], "unit": r["unit"],
        "district_value": r["value"], "city_value": r["city_value"],
        "gap_to_city": r.get("city_gap"), "gap_unit": r.get("city_gap_unit"),
        "target": r["target"],
        "direction": r["direction"], "score": r["score"], "city_score": r["city_score"],
        "status": (f"No {source_noun(r)} in this district" if r.get("no_source")
                   else STATUS_LABELS[status_of(r["score"])][1]),
        "previous_value": r["previous"],
        "change_vs_previous": r.get("change"), "change_unit": r.get("change_unit"),
        "year_ago_value": r["year_ago"], "change_vs_year_ago": r["year_change"],
        "year_change_unit": r.get("year_change_unit"),
        "covered": (r.get("coverage") or {}).get("covered"),
        "window_total": (r.get("coverage") or {}).get("total"),
        "coverage_unit": (r.get("coverage") or {}).get("unit"),
        "rank": r["rank"], "ranked": r["ranked"],
    } for r in rows]


# ---- assets, requests, alerts ---------------------------------------------------------------
def assets_table(rows: list[dict[str, Any]], link_query: str, now: datetime,
                 tz: str) -> html.Table | html.Div:
    """Assets per domain, each domain linked to its page filtered to the district."""
    if not rows:
        return html.Div("No assets in this district for the chosen department.",
                        className="empty-note")
    heads = ("Domain", "Assets", "Not OK", "Open alerts", "Last seen")
    body = [html.Tr([
        html.Th(dcc.Link(domain_label(r["domain"]), href=f"/domain/{r['domain']}{link_query}"),
                scope="row"),
        html.Td(format_number(r["assets"]), className="num"),
        html.Td(format_number(r["not_ok"]), className="num"),
        html.Td(format_number(r["open_alerts"]), className="num"),
        html.Td(time_ago(r["last_seen"], now) if r["last_seen"] else "never",
                title=exact_time(r["last_seen"], tz)),
    ]) for r in rows]
    total = html.Tr([html.Th("Total", scope="row"),
                     *[html.Td(format_number(sum(r[k] for r in rows)), className="num")
                       for k in ("assets", "not_ok", "open_alerts")], html.Td("")])
    return html.Table([html.Caption("Assets in the district, per domain"),
                       html.Thead(html.Tr([html.Th(h, scope="col") for h in heads])),
                       html.Tbody(body), html.Tfoot(total)],
                      className="data-table district-assets-table")


def asset_csv_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The assets-by-domain table as plain CSV rows (fields ``ASSET_CSV_FIELDS``)."""
    return [{**r, "domain_name": domain_label(r["domain"])} for r in rows]


def request_tiles(rows: list[dict[str, Any]], place: str, whole: str | None = None) -> html.Div:
    """One small tile per request KPI: the district's value, the city's (its
    municipality's, ``whole``), target, rank."""
    if not rows:
        return html.Div("No request KPI is configured.", className="empty-note")
    tiles = []
    for r in rows:
        comparator = "≤" if r["direction"] == "lower" else "≥"
        tiles.append(html.Div(className="district-tile", children=[
            html.H3(text(r["name"]), className="district-tile__name"),
            html.Div([html.Span(with_unit(r["value"], r["decimals"], r["unit"]),
                                className="district-tile__value"),
                      status_badge(status_of(r["score"]))], className="district-tile__main"),
            html.Div(f"{whole or 'City'} {with_unit(r['city_value'], r['decimals'], r['unit'])}"
                     " · target "
                     f"{comparator} {with_unit(r['target'], r['decimals'], r['unit'])}",
                     className="district-tile__meta"),
            html.Div([change_cell(r, "previous window"),
                      html.Span(f" · {rank_text(r['rank'], r['ranked'])}")],
                     className="district-tile__meta"),
        ], role="group", **{"aria-label": f"{text(r['name'])} in {place}"}))
    return html.Div(tiles, className="district-tiles")
