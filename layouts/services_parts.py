"""Builders of the service-requests page: headline numbers, trend, breakdown and oldest tables.

Pure functions of the dicts ``dashboard.queries.services`` returns. Citizen free text
(request descriptions) only ever goes into plain ``html`` components, which escape it.
"""
from __future__ import annotations

from collections.abc import Callable

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dash import dcc, html

from dashboard.kpis.scoring import relative_change
from dashboard.links import request_href
from dashboard.periods import COMPARISONS
from layouts import date_span, format_number, format_percent, ids, parse_time
from layouts.export import export_button, graph_config
from layouts.filters import BRUSH_HINT
from layouts.tables import table_alternative

PAGE = "services"
DESCRIPTION_LIMIT = 140
DAYS_FROM_HOURS = 48  # durations of 48 h and more are shown in days
BREAKDOWN_TITLES = {"department": "By department", "service": "By service",
                    "district": "By district", "channel": "By channel"}
BREAKDOWN_FIELDS = ("id", "name", "open", "overdue", "received", "closed",
                    "median_hours_to_close", "closed_within_sla")
OLDEST_FIELDS = ("id", "service_code", "service_name", "district_id", "district_name",
                 "channel", "requested_at", "expected_at", "age_days", "overdue_hours",
                 "description")
RECEIVED_COLOUR, CLOSED_COLOUR = "#1f5fa8", "#1a7f37"
HINT = ("Open and overdue are a snapshot now, whatever the period: overdue = still open "
        "after its service's SLA due time (requests without a due time are never overdue). "
        "Received = requested in the period; closed = closed in the period; time to close = "
        "closed minus requested, for the requests closed in the period (median and 90th "
        "percentile).")


def pid(name: str) -> str:
    """This page's component id ``services-<name>``."""
    return ids.page_id(PAGE, name)


def format_hours(hours: float | None) -> str:
    """``36 h`` below 48 hours, ``3.2 days`` from 48 hours on, an en dash for none."""
    if hours is None:
        return "–"
    if abs(hours) >= DAYS_FROM_HOURS:
        return f"{hours / 24:.1f} days"
    return f"{hours:.1f} h" if abs(hours) < 10 else f"{hours:.0f} h"


def shorten(text: str | None, limit: int = DESCRIPTION_LIMIT) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis (the full text goes in a title)."""
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def period_text(label: str, start: str | None, end: str, tz: str) -> str:
    """``Last 30 days (24 Oct – 23 Nov 2026)`` in the city's time zone."""
    begin, finish = parse_time(start), parse_time(end)
    if begin is None or finish is None:
        return label
    zone = ZoneInfo(tz)
    begin, finish = begin.astimezone(zone), (finish - timedelta(seconds=1)).astimezone(zone)
    if finish - begin <= timedelta(days=1):
        return f"{label} (to {finish:%d %b %Y, %H:%M})"
    return f"{label} ({date_span(begin, finish)})"


# ---- headline numbers ------------------------------------------------------------------
def _comparison(current: float | None, before: float | None, better: str | None,
                shown: str, compare: str) -> html.Div:
    """``▼ 12% · better`` over ``previous period: 120`` (better/worse only where it has a
    sense: received requests are demand, neither better nor worse)."""
    versus = COMPARISONS.get(compare, compare)
    if before is None:
        return html.Div(f"No data for the {versus}", className="trend trend--none sr-compare")
    base = html.Div(f"{versus.capitalize()}: {shown}", className="sr-compare__base")
    if current is None or current == before:
        word = "no value now" if current is None else "● same"
        return html.Div([html.Div(word), base], className="trend trend--flat sr-compare")
    up = current > before
    word, cls = "", "flat"
    if better is not None:
        good = up if better == "higher" else not up
        word, cls = ("better", "improving") if good else ("worse", "worsening")
    ratio = relative_change(current, before)
    if ratio is None:
        size = "from none"
    elif abs(ratio) >= 10:  # 1,000% and more reads better as a multiple
        size = f"{current / before:,.0f}×"
    else:
        size = format_percent(ratio)
    return html.Div([
        html.Div([html.Span("▲" if up else "▼", **{"aria-hidden": "true"}),
                  f" {'up' if up else 'down'} {size}",
                  html.Span(f" · {word}" if word else "", className="trend__word")]),
        base,
    ], className=f"trend trend--{cls} sr-compare")


def _stat(label: str, value: str, note: Any = None, compared: Any = None,
          modifier: str = "") -> html.Div:
    return html.Div([
        html.Div(label, className="sr-stat__label"),
        html.Div(value, className="sr-stat__value"),
        html.Div(note, className="sr-stat__note") if note else None,
        compared,
    ], className=f"sr-stat {modifier}".strip())


def headline_cards(data: dict[str, Any]) -> list[html.Div]:
    """Open, overdue, received, closed, median and p90 time to close (with comparison)."""
    now, before, compare = data["current"], data.get("compared"), data.get("compare")
    share = now["overdue"] / now["open"] if now["open"] else None
    overdue_note = (f"{format_percent(share)} of open past the SLA due time"
                    if share is not None else "nothing open")

    def versus(key: str, better: str | None, hours: bool = False) -> Any:
        if not before or not compare:
            return None
        old = before.get(key)
        shown = format_hours(old) if hours else format_number(old)
        return _comparison(now.get(key), old, better, shown, compare)

    overdue_mod = "sr-stat--alert" if now["overdue"] else ""
    return [
        _stat("Open now", format_number(now["open"]), "backlog at this moment"),
        _stat("Overdue now", format_number(now["overdue"]),
              [html.Span("✕ " if now["overdue"] else "✓ ", **{"aria-hidden": "true"}),
               overdue_note], modifier=overdue_mod),
        _stat("Received", format_number(now["received"]), "requested in the period",
              versus("received", None)),
        _stat("Closed", format_number(now["closed"]), "closed in the period",
              versus("closed", "higher")),
        _stat("Median time to close", format_hours(now["median_hours_to_close"]),
              "half are closed faster", versus("median_hours_to_close", "lower", hours=True)),
        _stat("90th percentile", format_hours(now["p90_hours_to_close"]),
              "9 in 10 are closed faster", versus("p90_hours_to_close", "lower", hours=True)),
    ]


# ---- trend ------------------------------------------------------------------------------
def trend_figure(trend: dict[str, Any]) -> dict[str, Any]:
    """Received (bars) and closed (line) per bucket, as a plain figure dict."""
    xs = [r["bucket"] for r in trend["rows"]]
    return {"data": [
        {"type": "bar", "name": "Received", "x": xs, "y": [r["received"] for r in trend["rows"]],
         "marker": {"color": RECEIVED_COLOUR}, "opacity": 0.85},
        {"type": "scatter", "mode": "lines+markers", "name": "Closed", "x": xs,
         "y": [r["closed"] for r in trend["rows"]], "line": {"color": CLOSED_COLOUR, "width": 2.5},
         "marker": {"size": 5}},
    ], "layout": {
        "height": 340, "margin": {"l": 48, "r": 12, "t": 10, "b": 40}, "hovermode": "x unified",
        "legend": {"orientation": "h", "y": 1.12, "x": 0},
        "yaxis": {"title": {"text": "Requests"}, "rangemode": "tozero", "gridcolor": "#e3e8ee",
                  "fixedrange": True},
        "xaxis": {"type": "date", "gridcolor": "#f0f2f5"},
        "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"family": "inherit", "size": 12, "color": "#17212d"},
    }}


def trend_children(trend: dict[str, Any], filename: str) -> list[Any]:
    """Chart heading (with its grain), the chart and its table alternative."""
    grain = trend["grain_label"]
    empty = not any(r["received"] or r["closed"] for r in trend["rows"])
    return [
        html.H2(f"Received and closed, {grain}", className="card__title"),
        html.P(f"Buckets in local time ({trend['timezone']}); the first and last may be "
               f"partial. {BRUSH_HINT}", className="section-hint"),
        html.Div("No requests in this period.", className="empty-note") if empty else None,
        dcc.Graph(id=pid("trend-graph"), figure=trend_figure(trend), config=graph_config(filename),
                  className="sr-trend__graph", style={"height": "340px"}),
        table_alternative(f"Requests received and closed, {grain}",
                          [("bucket", "Starting"), ("received", "Received"),
                           ("closed", "Closed")], trend["rows"]),
    ]


# ---- tables -------------------------------------------------------------------------------
def _num(value: Any) -> html.Td:
    return html.Td(format_number(value) if value is not None else "–", className="num")


def district_page(district_id: str) -> str:
    """The district's own page (where a request table links a district by default)."""
    return f"/district/{district_id}"


def breakdown_table(dimension: str, rows: list[dict[str, Any]],
                    district_href: Callable[[str], str] = district_page) -> html.Div:
    """One breakdown (department, service, district or channel) as an accessible table;
    a district links to ``district_href`` of its id."""
    title = BREAKDOWN_TITLES[dimension]
    head = html.Thead(html.Tr([html.Th(h, scope="col", className="num" if i else None)
                               for i, h in enumerate((dimension.capitalize(), "Open", "Overdue",
                                                      "Received", "Closed", "Median to close",
                                                      "Closed in SLA"))]))
    body = []
    for row in rows:
        name: Any = row["name"]
        if dimension == "district" and row["id"]:
            name = dcc.Link(row["name"], href=district_href(row["id"]))
        sla = row.get("closed_within_sla")
        body.append(html.Tr([
            html.Th(name, scope="row"), _num(row["open"]), _num(row["overdue"]),
            _num(row["received"]), _num(row["closed"]),
            html.Td(format_hours(row["median_hours_to_close"]), className="num"),
            html.Td(f"{sla * 100:.0f}%" if sla is not None else "–", className="num"),
        ]))
    if not body:
        body = [html.Tr(html.Td("No requests match these filters.", colSpan=7))]
    return html.Div([
        html.Div([html.H3(title, className="sr-table__title"),
                  export_button(PAGE, f"by-{dimension}", "CSV")], className="sr-table__head"),
        html.Div(html.Table([html.Caption(f"Service requests {title.lower()}",
                                          className="visually-hidden"), head, html.Tbody(body)],
                            className="data-table sr-table"), className="table-scroll"),
    ], className=f"sr-breakdown sr-breakdown--{dimension}")


def breakdown_children(data: dict[str, list[dict[str, Any]]],
                       district_href: Callable[[str], str] = district_page) -> list[html.Div]:
    """The four breakdown tables."""
    return [breakdown_table(d, data.get(d, []), district_href) for d in BREAKDOWN_TITLES]


def _due(row: dict[str, Any]) -> html.Td:
    late = row.get("overdue_hours")
    if late is None:
        return html.Td("no due time", className="sr-due sr-due--none")
    if late > 0:
        return html.Td(html.Span([html.Span("✕", **{"aria-hidden": "true"}),
                                  f" overdue by {format_hours(late)}"],
                                 className="status-badge status-badge--off"), className="sr-due")
    return html.Td(f"due in {format_hours(-late)}", className="sr-due")


def oldest_table(rows: list[dict[str, Any]], channel_names: dict[str, str],
                 district_href: Callable[[str], str] = district_page) -> Any:
    """The oldest open requests; the description is citizen text, shown as plain text."""
    if not rows:
        return html.Div("No open requests match these filters.", className="empty-note")
    head = html.Thead(html.Tr([html.Th(h, scope="col") for h in (
        "Request", "Service", "District", "Age", "Due", "Channel", "Description")]))
    body = []
    for row in rows:
        district: Any = row["district_name"]
        if row.get("district_id"):
            district = dcc.Link(row["district_name"], href=district_href(row["district_id"]))
        description = row.get("description") or ""
        body.append(html.Tr([
            html.Th(dcc.Link(row["id"], href=request_href(row["id"])), scope="row",
                    className="sr-oldest__id"),
            html.Td(row["service_name"]), html.Td(district),
            html.Td(f"{row['age_days']:.1f} days", className="num"), _due(row),
            html.Td(channel_names.get(row["channel"], row["channel"])),
            html.Td(shorten(description), title=description, className="sr-oldest__text"),
        ]))
    return html.Div(html.Table([html.Caption("Oldest open requests", className="visually-hidden"),
                                head, html.Tbody(body)], className="data-table sr-oldest"),
                    className="table-scroll")


HOTSPOTS_SHOWN = 15


def hotspot_table(rows: list[dict[str, Any]],
                  district_href: Callable[[str], str] = district_page) -> Any:
    """Places with repeated requests (the first ``HOTSPOTS_SHOWN``; the CSV has all): the
    address most of them give (residents' text, shown as text), how many, how many still
    open, the leading services, the district."""
    if not rows:
        return html.Div("No place has three or more requests in this period and these "
                        "filters.", className="empty-note")
    head = html.Thead(html.Tr([html.Th(h, scope="col") for h in (
        "Place", "Requests", "Open", "Services", "District")]))
    body = []
    for row in rows[:HOTSPOTS_SHOWN]:
        district: Any = row["district_name"]
        if row.get("district_id"):
            district = dcc.Link(row["district_name"], href=district_href(row["district_id"]))
        body.append(html.Tr([
            html.Th(row["place"], scope="row", title=f"H3 cell {row['cell']}"),
            html.Td(f"{row['requests']:,}", className="num"),
            html.Td(f"{row['open']:,}", className="num"),
            html.Td(row["services"]), html.Td(district)]))
    more = (html.P(f"The {HOTSPOTS_SHOWN} busiest of {len(rows):,} places; the CSV lists "
                   "them all.", className="section-hint")
            if len(rows) > HOTSPOTS_SHOWN else None)
    return html.Div([html.Table([html.Caption("Hotspots", className="visually-hidden"),
                                 head, html.Tbody(body)], className="data-table sr-hotspots"),
                     more], className="table-scroll")
