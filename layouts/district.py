"""District drill-down (``/district/<district_id>``): one district against the city.

Its KPIs against the city's and the targets (chart + table, rank among districts), its
assets by domain, its service-request KPIs, its open alerts and a small map. The view is
a function of the path and the query (``?department=..&period=..&compare=..``);
``callbacks/district.py`` updates it when a filter changes and keeps the URL in step.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import dash
import dash_leaflet as dl
from dash import dcc, html

from dashboard.auth.access import STAFF
from dashboard.periods import is_custom
from dashboard.queries import district as dq
from dashboard.queries import district_options
from dashboard.queries.departments import department_domains
from dashboard.queries.services import CHANNEL_LABELS, oldest_open, request_summary
from dashboard.settings import Settings
from layouts import (
    current_settings,
    domain_label,
    format_number,
    geo_bounds,
    ids,
    parse_time,
    status_of,
)
from layouts.components import alerts_list, status_badge
from layouts.district_sections import (
    assets_table,
    kpi_table,
    ordinal,
    request_tiles,
    score_chart,
)
from layouts.export import download, export_button
from layouts.filters import PageFilters, filter_bar, kpi_window_of, read_filters, shown_period
from layouts.live import live_watch
from layouts.notify_button import notify_me
from layouts.services_parts import format_hours, oldest_table

PAGE = "district"
ALERT_LIMIT = 10
WINDOW_PHRASES = {"day": "last 24 hours", "week": "last 7 days", "month": "last 30 days",
                  "quarter": "last 90 days", "year": "last 12 months"}
NEIGHBOUR_STYLE = {"color": "#8c97a5", "weight": 1, "fillColor": "#dde2e8", "fillOpacity": 0.6}
DISTRICT_STYLE = {"color": "#0c2740", "weight": 3, "fillColor": "#0b4f8a", "fillOpacity": 0.35}


def pid(name: str) -> str:
    """This page's component id ``district-<name>``."""
    return ids.page_id(PAGE, name)


def subtitle(kpis: dict[str, Any], filters: PageFilters, tz: str,
             domains: set[str] | None) -> str:
    """``KPIs over the last 30 days (24 Oct – 23 Nov 2026)`` plus what is compared/filtered."""
    window = kpis["window"]
    start, end = parse_time(kpis["window_start"]), parse_time(kpis["window_end"])
    words = ("KPIs over the chosen period" if is_custom(window)
             else f"KPIs over the {WINDOW_PHRASES.get(window, window)}")
    if filters.period == "all":
        words += " (the longest KPI window)"
    if start and end:
        zone = ZoneInfo(tz)
        first, last = start.astimezone(zone), (end - timedelta(seconds=1)).astimezone(zone)
        begun = f"{first:%d %b}" if first.year == last.year else f"{first:%d %b %Y}"
        words += f" · {begun} – {last:%d %b %Y}"
    if filters.compare == "year":
        words += " · compared with the same window a year before"
    if domains is not None:
        shown = ", ".join(sorted(domain_label(d) for d in domains)) or "no domain"
        words += f" · {filters.department}: {shown}"
    return words


SCORE_LEVEL = 0.005  # score gaps and changes smaller than this round to 0.00: level


def city_gap_words(score: float | None, city: float | None, whole: str = "the city") -> str:
    """`` · 0.08 below the city`` / ``above`` / `` · level with the city`` ('' unknown);
    ``whole``: what the district is compared with (its municipality in a metropolis)."""
    if score is None or city is None:
        return ""
    gap = score - city
    if abs(gap) < SCORE_LEVEL:
        return f" · level with {whole}"
    return f" · {format_number(abs(gap), 2)} {'above' if gap > 0 else 'below'} {whole}"


def score_trend(score: float | None, change: float | None, compare: str | None) -> Any:
    """The score's like-for-like change against the previous period, in score points (a
    score is already a ratio, so not as a percentage of itself); nothing unless comparing
    with it."""
    if compare != "previous":
        return None
    if score is None or change is None:
        return html.Span("no earlier data", className="trend trend--none")
    if abs(change) < SCORE_LEVEL:
        return html.Span("● steady vs the previous period", className="trend trend--flat")
    word = "improving" if change > 0 else "worsening"
    return html.Span([html.Span("▲" if change > 0 else "▼", **{"aria-hidden": "true"}),
                      f" {format_number(abs(change), 2)} {word} vs the previous period"],
                     className=f"trend trend--{word}")


def score_children(kpis: dict[str, Any], compare: str | None = None,
                   department: str | None = None) -> list[Any]:
    """The district's score, the city's and the gap between them, the rank among districts,
    and (comparing with the previous period) the change in score points; of the KPIs
    ``department`` answers for when one is chosen."""
    score, city = kpis["score"], kpis["city_score"]
    whole = kpis.get("compared_with")  # its municipality, in a metropolitan deployment
    among = f" of {whole}" if whole else ""
    rank = kpis["score_rank"]
    rank_words = (f"{ordinal(rank)} of {kpis['score_ranked']} districts{among} by score"
                  if rank else
                  f"not ranked (no score) among {kpis['districts']} districts{among}")
    return [
        html.Div("District score", className="score-card__label"),
        html.Div([html.Span(format_number(score, 2), className="score-card__value"),
                  status_badge(status_of(score))], className="score-card__main"),
        html.Div([html.Span(f"{whole or 'City'} score "), html.Strong(format_number(city, 2)),
                  html.Span(city_gap_words(score, city, whole or "the city"))],
                 className="district-score__city"),
        html.Div(rank_words, id=pid("rank"), className="district-score__rank"),
        html.Div(score_trend(score, kpis.get("score_change"), compare),
                 className="district-score__trend"),
        html.Div(f"{f'{department} KPIs' if department else 'All KPIs'} · 1.00 = on target",
                 className="score-card__meta"),
    ]


def link_query(district: str, filters: PageFilters) -> str:
    """``?district=..&department=..&period=..`` for links to pages filtered to the district."""
    return PageFilters(district=district, department=filters.department,
                       period=filters.period).query()


OLDEST_LIMIT = 5  # the district's oldest open requests shown (the services page has more)


def request_numbers(settings: Settings, district: str, filters: PageFilters) -> html.P:
    """``Open now 179 · 100 overdue · received 2,056 and closed 1,871 in the last 30 days ·
    median time to close 2.8 days`` for the district (and department)."""
    summary = request_summary(settings, district=district, department=filters.department,
                              period=filters.period)
    label = shown_period(filters.period, settings.timezone)
    label = label if is_custom(filters.period) else f"the {label}"
    return html.P([
        html.Strong(f"Open now {format_number(summary['open'])}"),
        f" · {format_number(summary['overdue'])} overdue · received "
        f"{format_number(summary['received'])} and closed {format_number(summary['closed'])} "
        f"in {label} · median time to close "
        f"{format_hours(summary['median_hours_to_close'])}",
    ], id=pid("requests-summary"), className="district-requests__summary")


def view(settings: Settings, district: str, filters: PageFilters) -> dict[str, Any]:
    """Every part of the page that depends on the filters, by name (layout and callbacks)."""
    now, tz = settings.current_time(), settings.timezone
    window = kpi_window_of(settings, filters.period)
    domains = department_domains(settings, filters.department)
    kpis = dq.kpi_comparison(settings, district, window, year_ago=filters.compare == "year",
                             department=filters.department)
    rows = kpis["rows"]
    name = (dq.district_profile(settings, district) or {}).get("name", district)
    query = link_query(district, filters)
    requests_note = (f"Request KPIs count the requests {filters.department} handles."
                     if filters.department else "")
    return {
        "subtitle": subtitle(kpis, filters, tz, domains),
        "score": score_children(kpis, filters.compare, filters.department),
        "kpis": [score_chart(pid("chart"), rows, name, district, filters.period,
                             kpis.get("compared_with")),
                 html.Div(kpi_table(pid("chart-table"), rows, name,
                                    year_ago=filters.compare == "year",
                                    whole=kpis.get("compared_with")),
                          className="table-scroll")],
        "assets": assets_table(dq.assets_by_domain(settings, district, domains), query, now, tz),
        "requests": [request_numbers(settings, district, filters),
                     request_tiles(dq.request_rows(kpis["rows"]), name,
                                   kpis.get("compared_with")),
                     html.H3("Oldest open requests", className="district-requests__title"),
                     oldest_table(oldest_open(settings, district=district,
                                              department=filters.department,
                                              limit=OLDEST_LIMIT), CHANNEL_LABELS),
                     html.P([requests_note + " " if requests_note else "",
                             dcc.Link(f"All requests in {name}", href=f"/services{query}",
                                      id=pid("requests-link"))],
                            className="district-requests__more")],
        "alerts": alerts_list(dq.district_alerts(settings, district, domains, ALERT_LIMIT),
                              now=now, tz=tz, where="domain"),
    }


def district_map(settings: Settings, district: str, window: str) -> html.Div:
    """The district's polygon over its neighbours (greyed); no tiles unless configured."""
    shapes = dq.district_shapes(settings, window)["features"]
    chosen = [f for f in shapes if f["properties"]["id"] == district]
    others = {"type": "FeatureCollection",
              "features": [f for f in shapes if f["properties"]["id"] != district]}
    children: list[Any] = []
    if settings.tile_url:
        children.append(dl.TileLayer(url=settings.tile_url,
                                     attribution=settings.tile_attribution))
    children += [
        dl.GeoJSON(id=pid("neighbours"), data=others, style=NEIGHBOUR_STYLE,
                   hoverStyle={"weight": 2, "color": "#0c2740"}, zoomToBoundsOnClick=False),
        dl.GeoJSON(id=pid("outline"), data={"type": "FeatureCollection", "features": chosen},
                   style=DISTRICT_STYLE, interactive=False),
        dl.ScaleControl(position="bottomright", imperial=False),
    ]
    bounds = geo_bounds(chosen, 0.35) or geo_bounds(shapes)
    view_args = {"bounds": bounds} if bounds else {"center": [20, 0], "zoom": 2}
    return html.Div(dl.Map(id=pid("map"), children=children, zoomSnap=0.25,
                           scrollWheelZoom=False, trackViewport=False,
                           attributionControl=bool(settings.tile_url),
                           style={"height": "100%", "width": "100%"}, **view_args),
                    className="district-map", role="region",
                    **{"aria-label": "Map of the district among its neighbours; "
                                     "click a neighbour to open it"})


def card_head(title: str, *tools: Any) -> html.Div:
    """A card's heading with its export buttons."""
    return html.Div([html.H2(title, className="card__title"),
                     html.Div(list(tools), className="card-head__tools")], className="card-head")


def not_found(district: str | None) -> html.Div:
    """The page for an unknown district id."""
    return html.Div(className="page district", children=[
        html.Div(className="card not-found", children=[
            html.H1("District not found", className="page-head__title"),
            html.P(f"No district with id “{district or ''}”.", id=pid("not-found")),
            dcc.Link("Back to the city overview", href="/"),
        ]),
    ])


def breadcrumbs(profile: dict[str, Any]) -> list[html.Li]:
    """Overview › (the municipality, in a metropolis) › Districts › this district."""
    crumbs = [html.Li(dcc.Link("Overview", href=f"/?district={quote(profile['id'])}"))]
    if profile.get("municipality_id"):
        crumbs.append(html.Li(dcc.Link(
            profile["municipality_name"],
            href=f"/?municipality={quote(profile['municipality_id'])}")))
    return [*crumbs, html.Li("Districts"), html.Li(profile["name"])]


def layout(district_id: str | None = None, **query: Any) -> html.Div:
    """The district page for ``/district/<district_id>?department=..&period=..&compare=..``."""
    settings = current_settings()
    profile = dq.district_profile(settings, district_id) if district_id else None
    if profile is None:
        return not_found(district_id)
    district = profile["id"]
    whole = profile.get("municipality_name")  # compared with its municipality, in a metropolis
    whole_of = f"{whole}'s " if whole else "the city's "
    filters = read_filters(settings, query, custom=True).with_(district=None)
    parts = view(settings, district, filters)
    density = profile["population"] / profile["area_km2"] if profile["area_km2"] else None
    facts = (f"Population {format_number(profile['population'])} · "
             f"{format_number(profile['area_km2'], 2)} km² · "
             f"{format_number(density)} residents per km²")
    switch = dcc.Dropdown(id=pid("switch"), value=district, clearable=False, maxHeight=360,
                          options=[{"label": d["name"], "value": d["id"]}
                                   for d in district_options(settings)],
                          className="district-switch__control")
    return html.Div(className="page district", id=pid("page"), children=[
        dcc.Location(id=pid("url"), refresh=False),
        dcc.Location(id=pid("nav"), refresh="callback-nav"),
        dcc.Store(id=pid("id"), data=district),
        live_watch(pid("live"), settings),
        download(PAGE),
        html.Nav(html.Ol(breadcrumbs(profile), className="breadcrumbs"),
                 **{"aria-label": "Breadcrumb"}),
        html.Div(className="page-head", children=[
            html.Div([
                html.H1(profile["name"], id=pid("title"), className="page-head__title"),
                html.P(facts, id=pid("facts"), className="district-facts"),
                notify_me("district", district, label="Notify me about this district"),
                html.P(parts["subtitle"], id=pid("subtitle"), className="page-head__subtitle"),
            ]),
            html.Div([html.Label("Go to district", htmlFor=pid("switch"),
                                 className="filter-bar__label"), switch],
                     className="filter-bar__field district-switch"),
        ]),
        filter_bar(PAGE, settings, filters, district=False, custom=True),
        html.Div(className="district-top", children=[
            html.Section(parts["score"], id=pid("score"), className="card score-panel",
                         **{"aria-label": "District score"}),
            html.Section(className="card district-map-card", children=[
                card_head("Where it is", export_button(PAGE, "geojson", "GeoJSON")),
                district_map(settings, district, kpi_window_of(settings, filters.period)),
            ]),
            html.Section(className="card alerts-card", children=[
                card_head("Active alerts"),
                html.Div(parts["alerts"], id=pid("alerts")),
            ]),
        ]),
        html.Section(className="card district-kpis", children=[
            card_head(f"KPIs against {whole or 'the city'} and the targets",
                      export_button(PAGE, "kpis", "CSV")),
            html.P("Worst first: bars are the district's score per KPI (1.00 = on target), "
                   f"black ticks {whole_of}score; KPIs without a value come last. Gap to "
                   f"{whole or 'city'}: the district's value minus {whole_of}value over the "
                   "same period. Ranks: 1 = best of the districts"
                   f"{f' of {whole}' if whole else ''} with a value; ties share a rank.",
                   className="section-hint"),
            html.Div(parts["kpis"], id=pid("kpis")),
        ]),
        html.Div(className="district-columns", children=[
            html.Section(className="card", children=[
                card_head("Assets by domain", export_button(PAGE, "assets", "CSV")),
                html.Div(parts["assets"], id=pid("assets"), className="table-scroll"),
            ]),
            html.Section(id=pid("requests"), className="card", children=[
                card_head("Service requests"),
                html.Div(parts["requests"], id=pid("requests-body")),
            ]),
        ]),
    ])


def page_title(district_id: str | None = None, **_: Any) -> str:
    """The browser tab's title: ``CityLens · <district name>``."""
    profile = dq.district_profile(current_settings(), district_id) if district_id else None
    return f"CityLens · {profile['name']}" if profile else "CityLens · District"


# Registered after ``layout`` exists: with ``pages_folder=""`` Dash takes it from here.
# ``hidden``: Dash infers the path "/district/none" from the template, which the shell's nav
# would otherwise list; the page is reached from the overview's map and other pages' links.
dash.register_page(__name__, path_template="/district/<district_id>", name="District",
                   title=page_title, order=91, layout=layout, hidden=True,
                   roles=STAFF, callback_ids={"district-": STAFF})
