"""The domains index (``/domains``): one card per domain with its asset count, open
alerts and KPI status, each linking to ``/domain/<domain>`` with the same filters.

A chosen department sees only its own domains.
"""
from __future__ import annotations

from typing import Any

import dash
from dash import dcc, html

from dashboard.auth.access import STAFF
from dashboard.periods import PRESETS
from dashboard.queries.domain_index import domain_index
from dashboard.settings import Settings
from layouts import (
    DOMAIN_STYLE,
    current_settings,
    domain_label,
    format_number,
    ids,
    status_of,
)
from layouts.components import status_badge
from layouts.filters import PageFilters, filter_bar, kpi_window_of, read_filters

PAGE = "domains"


def pid(name: str) -> str:
    """This page's component id ``domains-<name>``."""
    return ids.page_id(PAGE, name)


def index_subtitle(period: str) -> str:
    """The subtitle: what the cards show, over which period."""
    return f"Assets, open alerts and KPI status per domain · {PRESETS[period][0]}"


def kpi_summary(kpis: list[dict[str, Any]]) -> str:
    """``3 KPIs: 1 on target, 2 off target`` (or that the domain has none)."""
    if not kpis:
        return "No KPIs defined"
    counts: dict[str, int] = {}
    for kpi in kpis:
        status = status_of(kpi.get("score"))
        counts[status] = counts.get(status, 0) + 1
    words = {"on": "on target", "near": "near target", "off": "off target", "none": "no data"}
    parts = [f"{counts[s]} {words[s]}" for s in ("on", "near", "off", "none") if counts.get(s)]
    return f"{len(kpis)} KPI{'s' if len(kpis) != 1 else ''}: " + ", ".join(parts)


def domain_card(entry: dict[str, Any], filters: PageFilters) -> html.Article:
    """One domain: name (a link), assets, open alerts, KPI status."""
    domain = entry["domain"]
    colour = DOMAIN_STYLE.get(domain, ("", "#455a64"))[1]
    href = f"/domain/{domain}" + filters.query().rstrip("?")
    alerts = entry["open_alerts"]
    return html.Article(className="card domain-card", style={"borderTopColor": colour}, children=[
        html.H2(dcc.Link(domain_label(domain), href=href, className="domain-card__link"),
                className="card__title"),
        html.Dl(className="domain-card__facts", children=[
            html.Div([html.Dt("Assets"), html.Dd(format_number(entry["assets"]))]),
            html.Div([html.Dt("Open alerts"),
                      html.Dd(format_number(alerts),
                              className="domain-card__alerts" if alerts else None)]),
            html.Div([html.Dt("KPI score"),
                      html.Dd(format_number(entry["score"], 2))]),
        ]),
        html.Div([status_badge(status_of(entry["score"])),
                  html.Span(kpi_summary(entry["kpis"]), className="domain-card__kpis")],
                 className="domain-card__status"),
    ])


def cards(settings: Settings, filters: PageFilters) -> list[Any]:
    """The domain cards for the filters (only the department's domains when one is chosen)."""
    entries = domain_index(settings, filters.district, filters.department,
                           kpi_window_of(settings, filters.period))
    if not entries:
        return [html.P("This department is responsible for no domain.", className="empty-note")]
    return [domain_card(e, filters) for e in entries]


def layout(**query: Any) -> html.Div:
    """Every domain as a card, for the URL's filters."""
    settings = current_settings()
    filters = read_filters(settings, query)
    return html.Div(id=pid("page"), className="page domains-page", children=[
        dcc.Location(id=pid("url"), refresh=False),
        html.Div(className="page-head", children=[
            html.Div([
                html.H1("Domains", className="page-head__title"),
                html.P(index_subtitle(filters.period), id=pid("subtitle"),
                       className="page-head__subtitle"),
            ]),
            filter_bar(PAGE, settings, filters, compare=False),
        ]),
        html.Div(cards(settings, filters), id=pid("cards"), className="domain-cards"),
    ])


dash.register_page(__name__, path="/domains", name="Domains", title="CityLens · Domains",
                   order=2, layout=layout, roles=STAFF,
                   callback_ids={"domains-": STAFF})
