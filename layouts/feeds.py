"""Feed health (``/feeds``): every source's last run, lag, counts, run history, quarantine."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import dash
from dash import dcc, html

from dashboard import feed_health
from dashboard.auth.access import ADMINS, STAFF, allowed
from dashboard.auth.web import current_principal
from layouts import clean_query, current_settings, exact_time, ids, time_ago

REFRESH_MS = 60_000
FEED_STATUS = {  # run status -> (icon, words, badge modifier shared with KPI badges)
    "ok": ("✓", "OK", "on"), "partial": ("!", "Partial", "near"),
    "failed": ("✕", "Failed", "off"), "running": ("…", "Running", "none"),
    "interrupted": ("✕", "Interrupted", "off"), "never run": ("–", "Never run", "none"),
    "reset": ("↺", "Watermark reset", "none"), "replay": ("↻", "Quarantine replayed", "none"),
}
NOTE_STATUSES = {"reset", "replay"}  # their text is an operator's note, not an error
RUN_COLOURS = {"ok": "#1a7f37", "partial": "#b35900", "failed": "#c62828", "running": "#6b7785",
               "interrupted": "#c62828", "reset": "#6b7785",
               "replay": "#6b7785"}


def feed_badge(status: str, stale: bool) -> html.Span:
    """The run status in words and icon (never colour alone), plus a stale marker."""
    icon, words, modifier = FEED_STATUS.get(status, FEED_STATUS["never run"])
    parts: list[Any] = [html.Span([html.Span(icon, **{"aria-hidden": "true"}), " ", words],
                                  className=f"status-badge status-badge--{modifier}")]
    if stale and status != "failed":
        parts.append(html.Span("STALE", className="tag tag--stale", title="No recent data"))
    return html.Span(parts, className="feed-status")


def lag_text(seconds: float | None) -> str:
    """``4 min`` / ``3 h`` / ``2 days`` behind real time."""
    if seconds is None:
        return "unknown"
    if seconds < 3600:
        return f"{max(int(seconds // 60), 0)} min"
    if seconds < 172_800:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 86400)} days"


def _short(text: str | None, limit: int = 140) -> str:
    """A long error cut to ``limit`` characters (the whole text is in the title)."""
    if not text:
        return ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def runs_figure(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """A tiny bar chart of records per run, coloured by run status."""
    return {
        "data": [{"type": "bar", "x": list(range(len(runs))),
                  "y": [max(r["records_in"], 1) for r in runs],
                  "marker": {"color": [RUN_COLOURS.get(r["status"], "#6b7785") for r in runs]},
                  "hoverinfo": "skip"}],
        "layout": {"margin": {"l": 0, "r": 0, "t": 0, "b": 0}, "height": 28, "width": 120,
                   "xaxis": {"visible": False}, "yaxis": {"visible": False, "type": "log"},
                   "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
                   "bargap": 0.25, "showlegend": False},
    }


def sources_table(sources: list[dict[str, Any]], now: datetime, tz: str) -> html.Table:
    """One row per source; every chart has its numbers beside it for screen readers."""
    head = html.Thead(html.Tr([html.Th(h, scope="col") for h in (
        "Source", "Status", "Last run", "Behind real time", "In", "Stored", "Quarantined",
        "Recent runs")]))
    rows = []
    for s in sources:
        runs_label = ", ".join(f"{r['status']} {r['records_in']}" for r in s["runs"][-5:])
        rows.append(html.Tr(className="feeds-row", children=[
            html.Th([html.Div(s["id"], className="feeds-row__id"),
                     html.Div(f"{s['kind']} · {s['location']}", className="feeds-row__where")],
                    scope="row"),
            html.Td([feed_badge(s["status"], s["stale"]),
                     html.Div(_short(s["last_error"]), title=s["last_error"] or "",
                              className="feeds-row__note" if s["status"] in NOTE_STATUSES
                              else "feeds-row__error")]),
            html.Td(time_ago(s["last_started"], now), title=exact_time(s["last_started"], tz)),
            html.Td(lag_text(s["lag_seconds"]), title=exact_time(s["newest_data"], tz)),
            html.Td(f"{s['records_in']:,}", className="num"),
            html.Td(f"{s['stored']:,}", className="num"),
            html.Td(dcc.Link(f"{s['quarantined_total']:,}", href=f"/feeds?source={s['id']}")
                    if s["quarantined_total"] else "0", className="num"),
            html.Td([html.Div(dcc.Graph(figure=runs_figure(s["runs"]),
                                        config={"staticPlot": True}, className="feeds-runs"),
                              **{"aria-hidden": "true"}),
                     html.Span(f"Last runs: {runs_label}", className="visually-hidden")]),
        ]))
    if not rows:
        rows = [html.Tr(html.Td("No sources yet: run citylens ingest … or citylens sources run.",
                                colSpan=8))]
    return html.Table([head, html.Tbody(rows)], className="data-table feeds-table")


def summary(sources: list[dict[str, Any]]) -> html.P:
    """``7 sources · 5 OK · 1 stale · 1 failed``."""
    failed = sum(s["status"] == "failed" for s in sources)
    stale = sum(s["stale"] and s["status"] != "failed" for s in sources)
    return html.P(f"{len(sources)} sources · {len(sources) - failed - stale} up to date · "
                  f"{stale} stale · {failed} failed", className="page-head__subtitle")


def quarantine_table(records: list[dict[str, Any]], now: datetime) -> html.Div:
    """Quarantined records: when, source, reason and the raw payload, always as plain text."""
    if not records:
        return html.Div("Nothing in quarantine.", className="empty-note")
    return html.Table(className="data-table quarantine-table", children=[
        html.Thead(html.Tr([html.Th(h, scope="col") for h in ("Received", "Source", "Reason",
                                                                "Payload")])),
        html.Tbody([html.Tr([
            html.Td(time_ago(r["received"], now)), html.Td(r["source"]),
            html.Td(r["reason"]), html.Td(html.Pre(r["payload"], className="payload")),
        ]) for r in records]),
    ])


def quarantine_section(settings: Any, sources: list[dict[str, Any]], source: str | None,
                       now: datetime) -> html.Section:
    """The quarantine for administrators; for other roles only a count (quarantined records
    are raw source rows and may hold personal data)."""
    head = html.H2("Quarantine", className="card__title")
    if not allowed(current_principal(), ADMINS):
        held = sum(int(s.get("quarantined_total") or 0) for s in sources)
        return html.Section(className="card", children=[head, html.P(
            f"{held:,} records in quarantine. They are raw source rows and may hold personal "
            "data, so only administrators see them.", className="section-hint")])
    return html.Section(className="card", children=[
        head,
        html.P("Records that could not be stored, with the reason; the rest of their batch "
               "was stored.", className="section-hint"),
        dcc.Dropdown(id=ids.FEEDS_QUARANTINE_SOURCE, value=source, placeholder="All sources",
                     options=[{"label": s["id"], "value": s["id"]} for s in sources],
                     clearable=True, className="feeds-source-filter"),
        html.Div(quarantine_table(feed_health.quarantined(settings, source), now),
                 id=ids.FEEDS_QUARANTINE, className="table-scroll"),
    ])


def layout(source: str | None = None, **_: Any) -> html.Div:
    """The feed-health page; ``?source=ID`` opens that source's quarantine."""
    settings = current_settings()
    now = settings.current_time()
    sources = feed_health.feed_health(settings)
    source = clean_query(source, {s["id"] for s in sources})
    return html.Div(className="page feeds", children=[
        dcc.Location(id=ids.FEEDS_URL, refresh=False),
        dcc.Interval(id=ids.FEEDS_REFRESH, interval=REFRESH_MS),
        html.Div(className="page-head", children=[html.Div([
            html.H1("Feed health", className="page-head__title"),
            html.Div(summary(sources), id=ids.FEEDS_SUMMARY),
        ])]),
        html.Section(className="card", children=[
            html.H2("Sources", className="card__title"),
            html.Div(sources_table(sources, now, settings.timezone), id=ids.FEEDS_TABLE,
                     className="table-scroll"),
        ]),
        quarantine_section(settings, sources, source, now),
    ])


# Registered after ``layout`` exists: with ``pages_folder=""`` Dash takes it from here.
dash.register_page(__name__, path="/feeds", name="Feed health", order=2,
                   title="Feed health · CityLens", layout=layout, roles=STAFF,
                   # quarantined records are raw source rows (may hold personal data)
                   callback_ids={"feeds-": STAFF, ids.FEEDS_QUARANTINE: ADMINS})
