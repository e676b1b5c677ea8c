"""Alerts: active and recent threshold alerts, filterable by district, department, domain,
severity and period; a daily chart of alerts raised, and a grid that exports what it shows.

The view is a function of the URL's query (``?district=..&department=..&period=..&compare=..
&state=..&domain=..&severity=..``); ``callbacks/alerts.py`` keeps page and URL in step.
"""
from __future__ import annotations

from typing import Any

import dash
from dash import dcc, html

from dashboard.auth.access import STAFF
from dashboard.kpis.scoring import relative_change
from dashboard.links import asset_href
from dashboard.periods import Period, period_for
from dashboard.queries.alerts import (
    SEVERITY_ORDER,
    STATES,
    active_elsewhere,
    alert_counts,
    alert_rows,
)
from dashboard.queries.departments import department_domains
from dashboard.settings import Settings
from layouts import (
    DOMAIN_STYLE,
    SEVERITY_COLOURS,
    SEVERITY_LABELS,
    clean_query,
    current_settings,
    domain_label,
    exact_time,
    format_number,
    format_percent,
    ids,
    text,
)
from layouts.components import alerts_elsewhere
from layouts.export import download, export_button, graph_config, safe_name
from layouts.filters import BRUSH_HINT, PageFilters, filter_bar, read_filters, shown_period
from layouts.live import live_watch
from layouts.notify_button import rule_notifications
from layouts.places import place_name
from layouts.tables import data_grid, grid_columns, sorted_by, table_alternative

PAGE = "alerts"
DEFAULT_PERIOD = "7d"
DEFAULT_STATE = "all"
# The CSV: one style for every export (raw values, the unit in its own column, ISO times).
EXPORT_COLUMNS = [("id", "id"), ("severity", "severity"), ("asset_id", "asset_id"),
                  ("asset_name", "asset_name"), ("domain", "domain"),
                  ("district_id", "district_id"), ("rule", "rule"), ("metric", "metric"),
                  ("stored_value", "value"), ("stored_unit", "unit"),
                  ("raised_at", "raised_at_utc"), ("cleared_at", "cleared_at_utc")]
SORTABLE = ("severity_label", "asset", "domain_label", "district_name", "what", "value", "unit",
            "raised", "cleared")
GRID_COLUMNS = [("severity_label", "Severity"), ("asset", "Asset"), ("domain_label", "Domain"),
                ("district_name", "District"), ("what", "Rule"), ("value", "Value"),
                ("unit", "Unit"),
                ("raised", "Raised"), ("cleared", "Cleared")]


def extra_controls(state: str, domain: str | None, severity: str | None,
                   domains: list[str]) -> tuple[html.Div, ...]:
    """State (active / raised / both), domain and severity selectors (fields of the
    page's filter bar)."""
    sid, did, vid = (ids.page_id(PAGE, n) for n in ("state", "domain", "severity"))
    return (
        html.Div([html.Span("Show", id=f"{sid}-label", className="filter-bar__label"),
                  dcc.RadioItems(id=sid, value=state, inline=True, className="segmented",
                                 inputClassName="segmented__input",
                                 labelClassName="segmented__option",
                                 options=[{"label": label, "value": key}
                                          for key, label in STATES.items()])],
                 className="filter-bar__field", role="group",
                 **{"aria-labelledby": f"{sid}-label"}),
        html.Div([html.Label("Domain", htmlFor=did, className="filter-bar__label"),
                  dcc.Dropdown(id=did, value=domain or "", clearable=False,
                               options=[{"label": "All domains", "value": ""}]
                               + [{"label": domain_label(d), "value": d} for d in domains])],
                 className="filter-bar__field filter-bar__field--district"),
        html.Div([html.Label("Severity", htmlFor=vid, className="filter-bar__label"),
                  dcc.Dropdown(id=vid, value=severity or "", clearable=False, searchable=False,
                               options=[{"label": "All severities", "value": ""}]
                               + [{"label": SEVERITY_LABELS[s][1], "value": s}
                                  for s in SEVERITY_ORDER])],
                 className="filter-bar__field filter-bar__compare"),
    )


def _scope(settings: Settings, filters: PageFilters, domain: str | None) -> set[str] | None:
    """Domains in view: the chosen one, within the department's when one is chosen."""
    allowed = department_domains(settings, filters.department)
    if domain:
        return {domain} if allowed is None or domain in allowed else set()
    return allowed


def grid_rows(rows: list[dict[str, Any]], tz: str) -> list[dict[str, Any]]:
    """Alert rows shaped for the grid (and its CSV): words, local times, links."""
    shaped = []
    for row in rows:
        shaped.append({
            "id": str(row["id"]), "severity": row["severity"],
            "severity_label": SEVERITY_LABELS.get(row["severity"], ("", row["severity"]))[1],
            "asset": row["asset_name"] or row["asset_id"], "asset_id": row["asset_id"],
            "href": asset_href(row["asset_id"]), "domain_label": domain_label(row["domain"]),
            "district_name": row["district_name"] or "No district",
            "what": text(row["rule_text"]) or row["metric"],
            "value": row.get("display_value", row["value"]), "unit": row.get("display_unit", ""),
            "raised": exact_time(row["raised_at"], tz),
            "cleared": exact_time(row["cleared_at"], tz) if row["cleared_at"] else "active",
            # the CSV's: as stored (the read model's times are ISO 8601 UTC already)
            "raised_at": row["raised_at"], "cleared_at": row["cleared_at"] or "",
            "stored_value": row["value"], "stored_unit": row.get("stored_unit") or "",
            "asset_name": row["asset_name"] or "", "domain": row["domain"],
            "district_id": row.get("district_id") or "", "rule": row.get("rule") or "",
            "metric": row["metric"],
        })
    return shaped



def _count_card(title: str, counts: dict[str, int], before: dict[str, int] | None,
                versus: str) -> html.Div:
    total = sum(counts.values())
    parts: list[Any] = [html.Div(title, className="alerts-count__title"),
                        html.Div(format_number(total), className="alerts-count__value")]
    parts.append(html.Ul([html.Li([html.Span(SEVERITY_LABELS[s][0], **{"aria-hidden": "true"}),
                                   f" {counts.get(s, 0)} {SEVERITY_LABELS[s][1].lower()}"],
                                  className=f"severity severity--{s}")
                          for s in SEVERITY_ORDER], className="alerts-count__split"))
    if before is not None:
        earlier = sum(before.values())
        delta = relative_change(total, earlier)
        if delta is None:
            word = f"{earlier} in the {versus}"
            cls = "delta--none"
        else:
            arrow = "▲" if delta > 0 else ("▼" if delta < 0 else "●")
            word = f"{arrow} {format_percent(delta)} vs {earlier} in the {versus}"
            cls = "delta--worse" if delta > 0 else ("delta--better" if delta < 0 else "delta--flat")
        parts.append(html.Div(word, className=f"alerts-count__delta {cls}"))
    return html.Div(parts, className="card alerts-count")


def daily_figure(daily: list[dict[str, Any]]) -> dict[str, Any]:
    """Alerts raised per day, stacked by severity."""
    days = [d["day"] for d in daily]
    data = [{"type": "bar", "name": SEVERITY_LABELS[s][1], "x": days, "y": [d[s] for d in daily],
             "marker": {"color": SEVERITY_COLOURS[s], "line": {"color": "#ffffff", "width": 1}}}
            for s in SEVERITY_ORDER]
    return {"data": data, "layout": {
        "barmode": "stack", "height": 260, "margin": {"l": 40, "r": 10, "t": 10, "b": 40},
        "legend": {"orientation": "h", "y": -0.25},
        "yaxis": {"title": "alerts raised", "fixedrange": True},
        "xaxis": {"type": "date"},
        "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"family": "Inter, Segoe UI, Arial, sans-serif", "size": 12}}}


def _unless(value: str, default: str) -> str | None:
    return None if value == default else value


def body(settings: Settings, filters: PageFilters, state: str, domain: str | None,
         severity: str | None, sort: str | None = None) -> list[Any]:
    """Counts, the daily chart and the grid for one filter state; the grid most urgent
    first (active, most severe, newest) unless ``sort`` (``field`` or ``-field``) names a
    column."""
    tz = settings.timezone
    period: Period = period_for(filters.period, settings.current_time())
    compared = period.compared(filters.compare)
    scope = _scope(settings, filters, domain)
    counts = alert_counts(settings, period, compared, district=filters.district, domains=scope)
    listed = alert_rows(settings, period, state=state, district=filters.district,
                        domains=scope, severity=severity)
    versus = {"previous": "previous period", "year": "same period a year before"}.get(
        filters.compare or "", "")
    rows = grid_rows(listed["rows"], tz)
    shown = f"{len(rows)} of {listed['total']}" if listed["truncated"] else str(len(rows))
    name = safe_name("alerts", filters.district, filters.department, filters.period)
    table_rows = [{"day": d["day"], **{s: d[s] for s in SEVERITY_ORDER}} for d in counts["daily"]]
    elsewhere = [{**e, "href": "/alerts" + filters.with_(district=e["district_id"]).query(
        DEFAULT_PERIOD, state=_unless(state, DEFAULT_STATE), domain=domain, severity=severity)}
        for e in (active_elsewhere(settings, filters.district, domains=scope, severity=severity)
                  if filters.district else [])]
    return [
        alerts_elsewhere(elsewhere),
        html.Div([
            _count_card("Active now", counts["active"], None, versus),
            _count_card(f"Raised · {shown_period(filters.period, tz)}", counts["raised"],
                        counts["raised_before"], versus),
        ], className="alerts-counts"),
        html.Section(className="card", children=[
            html.Div([html.H2("Alerts raised per day", className="card__title")],
                     className="card-head"),
            html.P(BRUSH_HINT, className="section-hint") if counts["daily"] else None,
            dcc.Graph(id=ids.page_id(PAGE, "daily"), figure=daily_figure(counts["daily"]),
                      config=graph_config(f"{name}-daily")) if counts["daily"]
            else html.P("No alerts were raised in this period.", className="section-hint"),
            table_alternative("Alerts raised per day by severity",
                              [("day", "Day")] + [(s, SEVERITY_LABELS[s][1])
                                                  for s in SEVERITY_ORDER], table_rows),
        ]),
        html.Section(className="card", children=[
            html.Div([html.H2(["Alerts ", html.Span(shown, className="count-pill")],
                              className="card__title"),
                      html.Div(export_button(PAGE, "csv", "CSV"), className="card-head__tools")],
                     className="card-head"),
            data_grid(ids.page_id(PAGE, "grid"), ids.page_id(PAGE, "search"),
                      sorted_by(grid_columns(GRID_COLUMNS, numeric=("value",),
                                             links={"asset": "href"},
                                             wrap=("asset", "district_name", "what", "raised",
                                                   "cleared")), sort),
                      rows, label="Alerts", export_name=f"{name}.csv",
                      export_columns=EXPORT_COLUMNS),
        ]),
        rule_notifications(settings, scope, filters.district),
    ]


def layout(**query: Any) -> html.Div:
    """The alerts page for the URL's query (unknown values fall back to defaults)."""
    settings = current_settings()
    filters = read_filters(settings, query, DEFAULT_PERIOD, custom=True)
    state = clean_query(query.get("state"), set(STATES)) or DEFAULT_STATE
    domain = clean_query(query.get("domain"), set(DOMAIN_STYLE))
    severity = clean_query(query.get("severity"), set(SEVERITY_ORDER))
    return html.Div(className="page alerts-page", children=[
        dcc.Location(id=ids.page_id(PAGE, "url"), refresh=False),
        live_watch(ids.page_id(PAGE, "live"), settings),
        download(PAGE),
        html.Div(className="page-head", children=[
            html.Div([html.H1("Alerts", className="page-head__title"),
                      html.P(subtitle(settings, filters), id=ids.page_id(PAGE, "subtitle"),
                             className="page-head__subtitle")]),
            filter_bar(PAGE, settings, filters, custom=True, extra=extra_controls(
                state, domain, severity, sorted(DOMAIN_STYLE, key=domain_label))),
        ]),
        html.Div(body(settings, filters, state, domain, severity,
                      clean_query(query.get("sort"))), id=ids.page_id(PAGE, "body")),
    ])


def subtitle(settings: Settings, filters: PageFilters) -> str:
    """``Whole city · all departments · thresholds from data/kpis.yaml``."""
    place = place_name(settings, filters.district)
    department = filters.department or "all departments"
    return f"{place} · {department} · thresholds from data/kpis.yaml, raised and cleared at ingest"


dash.register_page(__name__, path="/alerts", name="Alerts", title="CityLens · Alerts", order=4,
                   layout=layout, roles=STAFF, callback_ids={"alerts-": STAFF})
