"""Service requests (``/services``): the Open311 backlog and how fast requests are closed.

Open and overdue requests now (overdue = open past its service's SLA due time), received
and closed in the period, median and 90th-percentile time to close, breakdowns by
department, service, district and channel, the oldest open requests, a map and the trend.
The view is a function of the URL's query (``?district=..&department=..&period=..&compare=
..&service=..&channel=..``); ``callbacks/services.py`` keeps page and URL in step.
Citizen free text (descriptions) is shown as plain text only.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dash
from dash import dcc, html

from dashboard.auth.access import STAFF
from dashboard.periods import is_custom, period_label
from dashboard.queries.hotspots import hotspots
from dashboard.queries.services import (
    RequestScope,
    breakdowns,
    channel_options,
    headline,
    oldest_open,
    service_options,
)
from dashboard.queries.services_trend_map import (
    request_map,
    request_map_points,
    request_trend,
)
from dashboard.settings import Settings
from layouts import clean_query, current_settings
from layouts.export import download, export_button, safe_name
from layouts.filters import PageFilters, filter_bar, read_filters
from layouts.live import live_watch
from layouts.notify_button import department_notify
from layouts.places import map_selection, place_name
from layouts.services_map import map_note, requests_map
from layouts.services_parts import (
    HINT,
    PAGE,
    breakdown_children,
    headline_cards,
    hotspot_table,
    oldest_table,
    period_text,
    pid,
    trend_children,
)

ALL = ""
OLDEST_LIMIT = 20


@dataclass(frozen=True)
class ServicesView:
    """The page's state: the shared filters plus one service and one channel."""

    filters: PageFilters
    service: str | None = None
    channel: str | None = None

    @property
    def scope(self) -> RequestScope:
        return RequestScope(self.filters.district, self.filters.department, self.service,
                            self.channel)

    def narrowed_to(self, district: str) -> str:
        """This page's link narrowed to ``district``, every other choice kept (the
        district links of its tables: the requests of that district, not its page)."""
        filters = self.filters.with_(district=district)
        return f"/{PAGE}" + filters.query(service=self.service, channel=self.channel)

    def filename(self, what: str) -> str:
        f = self.filters
        return safe_name(PAGE, what, f.district, f.department, self.service, self.channel,
                         f.period)


def services_of(settings: Settings, department: str | None) -> list[dict[str, Any]]:
    """The catalogue's services, only the department's when one is chosen."""
    return [s for s in service_options(settings)
            if not department or s["department"] == department]


def read_view(settings: Settings, query: dict[str, Any]) -> ServicesView:
    """The view of a URL query; unknown values (or a service of another department) dropped."""
    filters = read_filters(settings, query, custom=True)
    service = clean_query(query.get("service"),
                          {s["id"] for s in services_of(settings, filters.department)})
    channel = clean_query(query.get("channel"), {c["id"] for c in channel_options(settings)})
    return ServicesView(filters, service, channel)


def view_of(settings: Settings, district: str | None, department: str | None,
            period: str | None, compare: str | None = None, service: str | None = None,
            channel: str | None = None) -> ServicesView:
    """The view of the controls' values (cleaned like a URL query)."""
    return read_view(settings, {"district": district, "department": department,
                                "period": period, "compare": compare, "service": service,
                                "channel": channel})


def service_choices(settings: Settings, department: str | None) -> list[dict[str, str]]:
    """Options of the service selector (for the chosen department, if any)."""
    return [{"label": "All services", "value": ALL}] + [
        {"label": s["name"], "value": s["id"]} for s in services_of(settings, department)]


def subtitle(settings: Settings, view: ServicesView, data: dict[str, Any]) -> str:
    """``Whole city · All departments · Last 30 days (24 Oct – 23 Nov 2026)``."""
    f = view.filters
    place = place_name(settings, f.district)
    parts = [place, f.department or "All departments"]
    if view.service:
        parts.append(next((s["name"] for s in service_options(settings)
                           if s["id"] == view.service), view.service))
    if view.channel:
        parts.append(next((c["name"] for c in channel_options(settings)
                           if c["id"] == view.channel), view.channel))
    current = data["current"]
    label = period_label(f.period, settings.timezone)
    parts.append(label if is_custom(f.period) else
                 period_text(label, current["start"], current["end"], settings.timezone))
    return " · ".join(parts)


def _select(name: str, label: str, value: str | None, options: list[dict[str, str]]) -> html.Div:
    cid = pid(name)
    return html.Div([html.Label(label, htmlFor=cid, className="filter-bar__label"),
                     dcc.Dropdown(id=cid, value=value or ALL, options=options, clearable=False,
                                  maxHeight=360, className=f"sr-filter sr-filter--{name}")],
                    className="filter-bar__field filter-bar__field--district")


def controls(settings: Settings, view: ServicesView) -> html.Div:
    """The shared filter bar plus the service and channel selectors."""
    return filter_bar(PAGE, settings, view.filters, custom=True, extra=(
        _select("service", "Service", view.service,
                service_choices(settings, view.filters.department)),
        _select("channel", "Channel", view.channel,
                [{"label": "All channels", "value": ALL}]
                + [{"label": c["name"], "value": c["id"]} for c in channel_options(settings)])))


def layout(**query: Any) -> html.Div:
    """The page for the URL query (every filter state in the URL renders on first load)."""
    settings = current_settings()
    view = read_view(settings, query)
    f, scope = view.filters, view.scope
    heads = headline(settings, scope, f.period, f.compare)
    located = request_map(settings, scope)
    channels = {c["id"]: c["name"] for c in channel_options(settings)}
    return html.Div(className="page services", children=[
        dcc.Location(id=pid("url"), refresh=False),
        dcc.Location(id=pid("nav"), refresh="callback-nav"),  # a request clicked on the map
        live_watch(pid("live"), settings),
        download(PAGE),
        html.Div(className="page-head", children=[html.Div([
            html.H1("Service requests", className="page-head__title"),
            html.P(subtitle(settings, view, heads), id=pid("subtitle"),
                   className="page-head__subtitle"),
            html.Div(department_notify(settings, f.department, f.district), id=pid("notify")),
        ])]),
        html.Div(controls(settings, view), className="sr-controls"),
        html.P(HINT, className="section-hint sr-hint"),
        html.Section(html.Div(headline_cards(heads), id=pid("headline"), className="sr-stats"),
                     className="sr-headline", **{"aria-label": "Headline numbers"}),
        html.Div(className="sr-row", children=[
            html.Section(trend_children(request_trend(settings, scope, f.period),
                                        view.filename("trend")),
                         id=pid("trend"), className="card sr-trend"),
            html.Section(className="card sr-map-card", children=[
                html.Div([html.Div([
                    html.H2("Open requests on the map", className="card__title"),
                    html.P(map_note(located), id=pid("map-note"), className="section-hint")]),
                    export_button(PAGE, "map", "GeoJSON")], className="sr-card-head"),
                requests_map(located, request_map_points(settings, scope),
                             selected=map_selection(settings, f.district),
                             tile_url=settings.tile_url,
                             tile_attribution=settings.tile_attribution),
            ]),
        ]),
        html.Section(className="card sr-section", children=[
            html.H2("Breakdowns", className="card__title"),
            html.P("Open and overdue now; received, closed, median time to close and the share "
                   "closed by the SLA due time in the period.", className="section-hint"),
            html.Div(breakdown_children(breakdowns(settings, scope, f.period), view.narrowed_to),
                     id=pid("breakdowns"), className="sr-breakdowns"),
        ]),
        html.Section(className="card sr-section", children=[
            html.Div([html.Div([
                html.H2("Oldest open requests", className="card__title"),
                html.P(f"The {OLDEST_LIMIT} open requests waiting longest. Descriptions are "
                       "written by citizens and shown exactly as text.",
                       className="section-hint")]),
                export_button(PAGE, "oldest", "CSV")], className="sr-card-head"),
            html.Div(oldest_table(oldest_open(settings, **view.scope.params(),
                                              limit=OLDEST_LIMIT), channels, view.narrowed_to),
                     id=pid("oldest")),
        ]),
        html.Section(className="card sr-section", children=[
            html.Div([html.Div([
                html.H2("Hotspots", className="card__title"),
                html.P("Places where requests repeat in the period: three or more in one "
                       "hexagonal cell of about 350 m (H3), told by the address most of them "
                       "give. Fixing the cause there saves the next reports.",
                       className="section-hint")]),
                export_button(PAGE, "hotspots", "CSV")], className="sr-card-head"),
            html.Div(hotspot_table(hotspots(settings, view.scope, f.period),
                                   view.narrowed_to), id=pid("hotspots")),
        ]),
    ])


# Registered after ``layout`` exists: with ``pages_folder=""`` Dash takes it from here.
dash.register_page(__name__, path="/services", name="Service requests",
                   title="CityLens · Service requests", order=3, layout=layout,
                   roles=STAFF, callback_ids={"services-": STAFF})
