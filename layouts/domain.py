"""Domain pages (``/domain/<domain>``): the domain's KPIs, a map of its assets coloured by
their latest state, and a sortable, searchable table of them.

The view is a function of the URL (``?district=..&department=..&period=..&compare=..``);
``callbacks/domain.py`` keeps it and the URL in step. A department that is not
responsible for the domain sees a note and nothing of the domain.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import dash
from dash import dcc, html

from dashboard import queries
from dashboard.auth.access import STAFF
from dashboard.model import DOMAINS
from dashboard.periods import COMPARISONS, period_for, period_label
from dashboard.queries.departments import department_options
from dashboard.queries.district import with_year_ago
from dashboard.queries.domain import alerts_raised, domain_assets
from dashboard.queries.domain_map import (
    domain_map_view,
    domain_total,
    empty_view,
    initial_zoom,
    map_note,
)
from dashboard.queries.domain_index import district_shapes, domain_allowed
from dashboard.settings import Settings
from layouts import (
    DEFAULT_LANG,
    SELECTED_MARGIN,
    clean_query,
    current_settings,
    domain_label,
    geo_bounds,
    ids,
    places,
)
from layouts.components import kpi_card
from layouts.domain_parts import (
    PAGE,
    asset_grid,
    domain_map,
    state_legend,
    summary_children,
)
from layouts.export import download, export_button
from layouts.filters import PageFilters, filter_bar, kpi_window_of, read_filters
from layouts.live import live_watch
from layouts.notify_button import kpi_notify

# Hidden parts stay laid out off-screen (a Leaflet map cannot start in a zero-size box).
PARKED = "domain-parked"


def pid(name: str) -> str:
    """This page's component id ``domain-<name>``."""
    return ids.page_id(PAGE, name)


def subtitle(filters: PageFilters, place: str, tz: str) -> str:
    """``Whole city · Last 30 days`` (or the custom range) for the current filters."""
    return f"{place} · {period_label(filters.period, tz)}"


def content_class(allowed: bool) -> str:
    """The content's classes: parked off-screen when the department may not see it."""
    return "domain-content" if allowed else f"domain-content {PARKED}"


def place_name(settings: Settings, district: str | None) -> str:
    """The place's name (a district's or a municipality's), or "Whole city"."""
    return places.place_name(settings, district)


def kpi_cards(settings: Settings, domain: str, filters: PageFilters) -> list[Any]:
    """The domain's KPI cards for the place and the period's KPI window; with a department,
    the KPIs it answers for (its request KPIs counting its own requests), or the city's
    when it answers for none of this domain's."""
    window = kpi_window_of(settings, filters.period)
    now, tz = settings.current_time(), settings.timezone
    department = filters.department
    kpis = [k for k in queries.overview(settings, filters.district, window, department)["kpis"]
            if k.get("domain") == domain]
    if not kpis and department:
        department = None
        kpis = [k for k in queries.overview(settings, filters.district, window)["kpis"]
                if k.get("domain") == domain]
    if filters.compare == "year":
        kpis = with_year_ago(settings, window, filters.district, kpis, department)
    where = place_name(settings, filters.district)
    cards = [kpi_card(k, DEFAULT_LANG, window=window, now=now, tz=tz,
                      place="this district" if filters.district else "the city",
                      notify=kpi_notify(k, filters.district, where)) for k in kpis]
    return cards or [html.P("No KPIs are defined for this domain (data/kpis.yaml).",
                            className="empty-note")]


def summary(settings: Settings, domain: str, filters: PageFilters,
            data: dict[str, Any]) -> list[Any]:
    """Summary tiles for the filters (alerts raised over the period, with its comparison)."""
    period = period_for(filters.period, settings.current_time())
    raised = alerts_raised(settings, domain, filters.district, period.start, period.end)
    other = period.compared(filters.compare)
    before = (alerts_raised(settings, domain, filters.district, other.start, other.end)
              if other else None)
    return summary_children(data, raised, before,
                            COMPARISONS.get(filters.compare or ""),
                            period_label(filters.period, settings.timezone))


def scope_note(settings: Settings, domain: str, department: str | None) -> list[Any]:
    """Empty when the department may see the domain; else a clear note with its domains."""
    if domain_allowed(settings, domain, department):
        return []
    own = next((d for d in department_options(settings) if d["id"] == department), None)
    domains = own["domains"] if own else []
    links = [dcc.Link(domain_label(d), href=f"/domain/{d}?{urlencode({'department': department})}",
                      className="domain-link") for d in domains]
    return [html.Div(className="card domain-notice", role="status", children=[
        html.H2(f"{domain_label(domain)} is not a domain of {department}",
                className="card__title"),
        html.P("A department sees only the domains it is responsible for. Choose "
               "“All departments” above, or open one of its domains:"),
        html.Div(links or [html.Span("This department has no domains.")],
                 className="domain-links"),
    ])]


def request_links(settings: Settings, domain: str, department: str | None) -> list[Any]:
    """Links to the service requests of the departments that own the domain's services."""
    owners = [d["id"] for d in department_options(settings) if domain in d["domains"]]
    if department:
        owners = [d for d in owners if d == department]
    return [dcc.Link(f"Requests of {owner}", className="domain-link",
                     href=f"/services?{urlencode({'department': owner})}") for owner in owners]


def not_found(domain: str | None) -> html.Div:
    """A clear message with links to the known domains."""
    return html.Div(className="page domain-page", children=[
        html.Div(html.H1("Domain not found", className="page-head__title"),
                 className="page-head"),
        html.Div(className="card domain-notice", role="alert", children=[
            html.P(f"There is no domain called “{domain or ''}”. The domains are:"),
            html.Div([dcc.Link(domain_label(d), href=f"/domain/{d}", className="domain-link")
                      for d in DOMAINS], className="domain-links"),
        ]),
    ])


def asset_sections(settings: Settings, domain: str, filters: PageFilters,
                   data: dict[str, Any], has_assets: bool, allowed: bool = True,
                   sort: str | None = None) -> list[Any]:
    """The map card and the table card (hidden, but present, when the domain has none;
    empty when the user's department may not see the domain), the table sorted by the
    URL's ``sort``."""
    districts = district_shapes(settings)
    selection = places.map_selection(settings, filters.district)
    chosen = places.selected_features(districts["features"], selection)
    bounds = geo_bounds(chosen, SELECTED_MARGIN) if chosen else geo_bounds(districts["features"])
    view = (domain_map_view(settings, domain, filters.district, bounds, initial_zoom(bounds))
            if allowed else empty_view())
    parked = "" if has_assets else f" {PARKED}"
    return [
        html.Section(className=f"card domain-map-card{parked}", children=[
            html.Div([html.H2("Map of assets by latest state", className="card__title"),
                      html.Div(export_button(PAGE, "geojson", "GeoJSON"),
                               className="card-head__tools")], className="card-head"),
            domain_map(districts, view, selected=selection, bounds=bounds,
                       tile_url=settings.tile_url, tile_attribution=settings.tile_attribution),
            html.Div(state_legend(data["counts"]), id=pid("legend"), className="legend"),
            html.P(map_note(view), id=pid("map-note"), className="section-hint"),
        ], **{"aria-label": "Map of assets"}),
        html.Section(className=f"card domain-table-card{parked}", children=[
            html.Div([html.H2("Assets", className="card__title"),
                      html.Div(export_button(PAGE, "csv", "CSV"),
                               className="card-head__tools")], className="card-head"),
            asset_grid(sort),
        ]),
    ]


def layout(domain: str | None = None, **query: Any) -> html.Div:
    """The page of one domain for the URL's query (unknown values fall back to defaults)."""
    if domain not in DOMAINS:
        return not_found(domain)
    settings = current_settings()
    filters = read_filters(settings, query, custom=True)
    allowed = domain_allowed(settings, domain, filters.department)
    data = domain_assets(settings, domain, filters.district if allowed else None)
    has_assets = domain_total(settings, domain) > 0
    if not allowed:  # a department head sees nothing of a domain that is not theirs
        data = {**data, "assets": [], "total": 0, "counts": {}}
    links = request_links(settings, domain, filters.department)
    empty = [] if has_assets else [html.P("No assets in this domain yet.",
                                          className="empty-note domain-empty")]
    return html.Div(id=pid("page"), className="page domain-page", children=[
        dcc.Location(id=pid("url"), refresh=False),
        dcc.Location(id=pid("nav"), refresh="callback-nav"),
        dcc.Store(id=pid("name"), data=domain),
        dcc.Store(id=pid("map-view")),  # the map's features for the view they were asked for
        live_watch(pid("live"), settings),
        download(PAGE),
        html.Div(className="page-head", children=[
            html.Div([
                html.Nav(dcc.Link("All domains", href="/domains" + PageFilters(
                    district=filters.district, department=filters.department,
                    period=filters.period).query().rstrip("?")),
                    className="domain-back", **{"aria-label": "Breadcrumb"}),
                html.H1(domain_label(domain), className="page-head__title"),
                html.P(subtitle(filters, place_name(settings, filters.district),
                                settings.timezone),
                       id=pid("subtitle"), className="page-head__subtitle"),
            ]),
            filter_bar(PAGE, settings, filters, custom=True),
        ]),
        html.Div(scope_note(settings, domain, filters.department), id=pid("scope")),
        html.Div(id=pid("content"), className=content_class(allowed), children=[
            html.Section(summary(settings, domain, filters, data) if allowed and has_assets
                         else [], id=pid("summary"), className="domain-summary",
                         **{"aria-label": "Summary"}),
            html.Section(className="kpi-section domain-kpis", children=[
                html.Div(html.H2("Key indicators", className="section-title"),
                         className="section-head"),
                html.Div(kpi_cards(settings, domain, filters) if allowed else [],
                         id=pid("kpis"), className="kpi-grid"),
            ]),
            *([html.Section(className="card domain-requests", children=[
                html.H2("Citizen requests", className="card__title"),
                html.P("This domain's work arrives as citizen requests; see them by "
                       "department:"),
                html.Div(links, className="domain-links")])] if links and not has_assets
              else []),
            *empty,
            html.Div(asset_sections(settings, domain, filters, data, has_assets, allowed,
                                    clean_query(query.get("sort"))),
                     className="domain-assets"),
        ]),
    ])


# Registered after ``layout`` exists: with ``pages_folder=""`` Dash takes it from here.
dash.register_page(__name__, path="/domain/<domain>", path_template="/domain/<domain>",
                   name="Domains",
                   title="CityLens · Domain", order=2, layout=layout,
                   roles=STAFF, callback_ids={"domain-": STAFF})
