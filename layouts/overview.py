"""The mayor's overview: city score, KPI cards, city map, active alerts.

The view is a function of the URL's query (``?district=..&period=..&kpi=..``), so any
selection can be shared as a link; the callbacks in ``callbacks/overview.py`` keep the
page and the URL in step without reloading.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import dash
from dash import dcc, html

from dashboard import queries
from dashboard.auth.access import STAFF
from dashboard.periods import KPI_PERIOD_WINDOW, is_custom, kpi_window
from dashboard.queries.alerts import active_elsewhere
from dashboard.queries.departments import department_domains, department_options
from dashboard.queries.district import with_year_ago
from dashboard.settings import Settings
from layouts import (
    DEFAULT_LANG,
    SELECTED_MARGIN,
    WINDOW_PRESET,
    WINDOWS,
    clean_query,
    current_settings,
    date_span,
    geo_bounds,
    ids,
    parse_time,
    text,
)
from layouts.access import scoped_department, scoped_district
from layouts.city_map import city_map, label_districts
from layouts.components import (
    alerts_elsewhere,
    alerts_list,
    city_score_badge,
    filter_bar,
    kpi_card,
)
from layouts.filters import department_choices, range_picker
from layouts.live import live_watch
from layouts.notify_button import kpi_notify
from layouts.places import (
    MUNICIPALITY,
    place_districts,
    place_options,
    place_title,
    read_place,
)

DEFAULT_WINDOW = "week"
WINDOW_TITLES = {"day": "Last 24 hours", "week": "Last 7 days", "month": "Last 30 days",
                 "quarter": "Last 90 days", "year": "Last 12 months"}
ALERT_LIMIT = queries.OVERVIEW_ALERTS


def period_text(window: str, start: str | None, end: str | None, tz: str) -> str:
    """``Last 7 days · 16 Nov – 23 Nov 2025`` in the city's time zone (the start's year too
    when it differs: ``21 Nov 2025 – 20 Nov 2026``)."""
    title = WINDOW_TITLES.get(window, "Chosen period")
    begin, finish = parse_time(start), parse_time(end)
    if begin is None or finish is None:
        return title
    zone = ZoneInfo(tz)
    begin, finish = begin.astimezone(zone), (finish - timedelta(seconds=1)).astimezone(zone)
    if window == "day":
        return f"{title} · to {finish:%d %b %Y, %H:%M}"
    return f"{title} · {date_span(begin, finish)}"


def legend_title(catalogue: list[dict[str, Any]], kpi: str | None, lang: str = DEFAULT_LANG) -> str:
    """Title of the map legend: the city score or the chosen KPI's score."""
    chosen = next((k for k in catalogue if k["id"] == kpi), None)
    return f"{text(chosen['name'], lang)}: score" if chosen else "District score (1.00 = on target)"


def kpi_decimals(catalogue_or_kpis: list[dict[str, Any]], kpi: str | None) -> int:
    """How many decimals the map labels use: the KPI's own, or 2 for scores."""
    chosen = next((k for k in catalogue_or_kpis if k["id"] == kpi), None)
    return int(chosen.get("decimals", 1)) if chosen else 2


def chosen_window(value: str | None, settings: Settings | None) -> str | None:
    """The KPI window a period or window value of the URL or the period control names: a
    window name (``week``), a preset's (``7d``), or a custom range as its canonical spec;
    None for anything else (a forged or stale value falls back to the default)."""
    if not value:
        return None
    if value in WINDOWS:
        return value
    if value in KPI_PERIOD_WINDOW:
        return KPI_PERIOD_WINDOW[value]
    if settings is None or not is_custom(value):
        return None
    try:  # the same ranges the KPI API and CLI take
        return kpi_window(value, settings.current_time(), settings.timezone)
    except ValueError:
        return None


def period_param(window: str) -> str | None:
    """The ``period`` of links and the URL: a preset's word (``7d``) or the range itself."""
    return window if is_custom(window) else WINDOW_PRESET.get(window)


def drill_query(district: str | None, window: str, department: str | None,
                compare: str | None = None) -> str:
    """The query the drill-down pages get from the overview's selection."""
    params = {"district": district, "department": department,
              "period": period_param(window), "compare": compare}
    return "?" + urlencode({k: v for k, v in params.items() if v})


def numbers_children(settings: Settings, data: dict[str, Any], place: str,
                     now: datetime, department: str | None = None,
                     compare: str | None = None) -> tuple[Any, list[Any]]:
    """The score badge and the KPI cards for one ``queries.overview`` answer; with
    ``compare="year"`` the cards compare with the same window a year before."""
    tz, window = settings.timezone, data["window"]
    municipality = data.get("municipality") if not data["district"] else None
    label = place if data["district"] or municipality else "City"
    if department:
        label = f"{label} · {department}"
    badge = city_score_badge(data["city_score"], place=label,
                             window=window, as_of=data["as_of"], kpi_count=len(data["kpis"]),
                             now=now, tz=tz)
    query = drill_query(data["district"], window, department, compare)
    kpis = data["kpis"]
    if compare == "year":
        kpis = with_year_ago(settings, window, data["district"], kpis, department,
                             municipality)
    where = ("this district" if data["district"] else
             "this municipality" if municipality else "the city")
    cards = [kpi_card(k, DEFAULT_LANG, window=window, now=now, tz=tz,
                      domain_href=f"/domain/{k['domain']}{query}", place=where,
                      notify=kpi_notify(k, data["district"], place))
             for k in kpis]
    return badge, cards


def alerts_elsewhere_of(settings: Settings, district: str | None, domains: set[str] | None,
                        window: str, department: str | None,
                        compare: str | None = None) -> list[dict[str, Any]]:
    """With a district chosen, the districts with active alerts of the same department,
    each with a link to this overview there."""
    if not district:
        return []
    return [{**e, "href": "/" + drill_query(e["district_id"], window, department, compare)}
            for e in active_elsewhere(settings, district, domains=domains)]


def alerts_children(alerts: list[dict[str, Any]], now: datetime, tz: str,
                    query: str = "?", elsewhere: list[dict[str, Any]] | None = None
                    ) -> list[Any]:
    """Heading with the count, the list of active alerts, where else in the same scope
    alerts are active (``elsewhere``: see ``alerts_elsewhere_of``), a link to the alerts
    page."""
    count = f"{len(alerts)}+" if len(alerts) >= ALERT_LIMIT else str(len(alerts))
    return [part for part in [
        html.H2(["Active alerts ", html.Span(count, className="count-pill")],
                className="card__title"),
        alerts_list(alerts, now=now, tz=tz, lang=DEFAULT_LANG),
        alerts_elsewhere(elsewhere or []),
        dcc.Link("All alerts →", href=f"/alerts{query}", id=ids.OVERVIEW_ALERTS_LINK,
                 className="alerts-card__more"),
    ] if part is not None]


def map_kpi_selector(catalogue: list[dict[str, Any]], kpi: str | None) -> html.Div:
    """"Shade by" selector: the district score or one KPI's score."""
    options = [{"label": "District score", "value": ""}] + [
        {"label": text(k["name"], DEFAULT_LANG), "value": k["id"]} for k in catalogue]
    return html.Div([
        html.Label("Shade by", htmlFor=ids.OVERVIEW_MAP_KPI, className="filter-bar__label"),
        dcc.Dropdown(id=ids.OVERVIEW_MAP_KPI, options=options, value=kpi or "",
                     clearable=False, searchable=True, className="map-kpi"),
    ], className="map-card__shade")


def layout(district: str | None = None, window: str = DEFAULT_WINDOW, kpi: str | None = None,
           department: str | None = None, compare: str | None = None,
           period: str | None = None, municipality: str | None = None,
           **_: Any) -> html.Div:
    """The overview for ``?district=..&period=..&kpi=..&department=..&compare=year``, or
    ``?municipality=..`` in a metropolitan deployment (unknown values ignored; ``period``
    is 24h, 7d, 30d, 90d or 12m as on every page, and the older ``window=week`` links still
    work); a department keeps only its domains' KPIs, alerts and map shading."""
    settings = current_settings()
    now, tz = settings.current_time(), settings.timezone
    districts = queries.district_options(settings)
    municipalities = queries.municipality_options(settings)
    departments = department_options(settings)
    catalogue = queries.kpi_catalogue(settings)
    district = clean_query(district, {d["id"] for d in districts}) or scoped_district(None)
    chosen_place = read_place(district or (f"{MUNICIPALITY}{clean_query(municipality)}"
                                           if clean_query(municipality) else None),
                              districts, municipalities)
    window = chosen_window(period, settings) or chosen_window(window, settings) or DEFAULT_WINDOW
    kpi = clean_query(kpi, {k["id"] for k in catalogue})
    department = scoped_department(clean_query(department, {d["id"] for d in departments}))
    compare = clean_query(compare, {"year"})
    domains = department_domains(settings, department)

    data = queries.overview(settings, district, window, department, chosen_place.municipality)
    place = place_title(chosen_place, districts, municipalities)
    badge, cards = numbers_children(settings, data, place, now, department, compare)
    covered = place_districts(chosen_place, municipalities)
    alerts = queries.active_alerts(settings, district, ALERT_LIMIT, domains=domains,
                                   districts=covered if chosen_place.municipality else None)
    elsewhere = alerts_elsewhere_of(settings, district, domains, window, department, compare)
    shapes = queries.district_scores(settings, window, kpi, department)
    chosen = [f for f in shapes["features"] if f["properties"]["id"] in (covered or [])]
    bounds = geo_bounds(chosen, SELECTED_MARGIN) if chosen else geo_bounds(shapes["features"])
    selected = covered if chosen_place.municipality else district
    domains = sorted(queries.asset_domains(settings))  # one toggle per domain with assets

    return html.Div(id=ids.OVERVIEW_PAGE, className="page overview", children=[
        dcc.Location(id=ids.OVERVIEW_URL, refresh=False),
        dcc.Location(id=ids.OVERVIEW_NAV, refresh="callback-nav"),
        dcc.Store(id=ids.OVERVIEW_ASSETS_LOADED, data={}),
        live_watch(ids.OVERVIEW_LIVE, settings),
        html.Div(className="page-head", children=[
            html.Div([
                html.H1(place, id=ids.OVERVIEW_PLACE_TITLE, className="page-head__title"),
                html.P(period_text(window, data["window_start"], data["window_end"], tz),
                       id=ids.OVERVIEW_SUBTITLE, className="page-head__subtitle"),
            ]),
            filter_bar(districts, chosen_place.value, window, department_choices(settings),
                       department, compare, range_picker("overview", settings, window),
                       place_options(districts, municipalities) if municipalities else None),
        ]),
        html.Div(className="overview-top", children=[
            html.Section(badge, id=ids.OVERVIEW_SCORE_PANEL, className="card score-panel",
                         **{"aria-label": "City score"}),
            html.Section(className="card map-card", children=[
                html.Div([html.H2("City map", className="card__title"),
                          map_kpi_selector(catalogue, kpi)], className="map-card__head"),
                city_map(label_districts(shapes, kpi_decimals(data["kpis"], kpi)), domains,
                         selected=selected, bounds=bounds,
                         legend_title=legend_title(catalogue, kpi),
                         tile_url=settings.tile_url, tile_attribution=settings.tile_attribution,
                         municipalities=queries.municipality_outlines(settings)
                         if municipalities else None),
            ], **{"aria-label": "City map"}),
            html.Section(alerts_children(alerts, now, tz,
                                         drill_query(district, window, department, compare),
                                         elsewhere),
                         id=ids.OVERVIEW_ALERTS, className="card alerts-card"),
        ]),
        html.Section(className="kpi-section", children=[
            html.Div([html.H2("Key indicators", className="section-title"),
                      html.P("Each card compares the period with the previous one, or with "
                             "the same period a year before (Compare with); colour and badge "
                             "show the target status.", className="section-hint"),
                      kpi_export_link(district, window, department,
                                      chosen_place.municipality)],
                     className="section-head"),
            html.Div(cards, id=ids.OVERVIEW_KPI_GRID, className="kpi-grid"),
        ]),
    ])


# Registered after ``layout`` exists: with ``pages_folder=""`` Dash takes it from here.
dash.register_page(__name__, path="/", name="Overview", title="CityLens · Overview", order=0,
                   layout=layout, roles=STAFF,
                   callback_ids={p: STAFF for p in ("overview-", ids.DISTRICT_FILTER,
                                                    ids.WINDOW_FILTER, ids.CITY_SCORE,
                                                    ids.CITY_MAP)})


WINDOW_NAMES = ("day", "week", "month", "quarter", "year")


def kpi_export_href(district: str | None, window: str, department: str | None,
                    municipality: str | None = None) -> str:
    """The open-data API's CSV of the KPIs the cards show (raw values, units in their
    column, ISO 8601 times): same place, period and department."""
    when = {"window": window} if window in WINDOW_NAMES else {"period": window}
    params = {"format": "csv", "district": district,
              "municipality": None if district else municipality, **when,
              "department": department}
    return "/api/v1/kpis?" + urlencode({k: v for k, v in params.items() if v})


def kpi_export_link(district: str | None, window: str, department: str | None,
                    municipality: str | None = None) -> html.A:
    """The "↓ CSV" link of the KPI cards (a download of the API's answer)."""
    return html.A([html.Span("↓", **{"aria-hidden": "true"}), " CSV"],
                  id=ids.OVERVIEW_KPI_EXPORT, className="export-button",
                  href=kpi_export_href(district, window, department, municipality),
                  download="kpis.csv",
                  title="Download the KPIs shown as CSV")
