"""Citizen insights: Citizen 360 analytics in aggregate (how residents reach the city, the
digital divide, repeat contacts, time to resolution and the equity gap between districts)
for a mayor or department head, without any personal data.

The view is a function of the URL's query (``?department=..&period=..``);
``callbacks/insights.py`` keeps page and URL in step. A department head sees only their
departments, whatever the URL or a callback asks (``scoped_department``).
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import dash
from dash import dcc, html

from dashboard.auth.access import STAFF
from dashboard.kpis.windows import WINDOWS
from dashboard.periods import EARLIEST, period_for, period_label
from dashboard.queries.departments import department_domains
from dashboard.queries.engagement import (
    digital_divide,
    interactions,
    repeat_contacts,
    resolution_times,
    satisfaction,
)
from dashboard.queries.equity import equity_gap
from dashboard.settings import Settings
from layouts import (
    current_settings,
    domain_label,
    format_change,
    format_number,
    ids,
    text,
)
from layouts.access import scoped_department
from layouts.components import SPARK_CONFIG, sparkline_figure
from layouts.export import safe_name
from layouts.filters import PageFilters, filter_bar, read_filters
from layouts.insights_parts import (
    PAGE,
    days_text,
    digital_channel_words,
    divide_section,
    interactions_section,
    percent,
    resolution_section,
)
from layouts.tables import table_alternative

DEFAULT_PERIOD = "30d"
EQUITY_WINDOW, EQUITY_POINTS = "month", 6  # six 30-day windows: about half a year
WINDOW_DAYS = WINDOWS[EQUITY_WINDOW]
PARTICIPATION_NOTE = ("Participation (surveys, forums, consultations, events) belongs to no "
                      "department, so it is left out while a department is chosen: the "
                      "figures count requests and procedures only.")


def insight_data(settings: Settings, filters: PageFilters) -> dict[str, Any]:
    """Every read model the page shows, for the filters (department kept in scope)."""
    department = scoped_department(filters.department)
    departments = [department] if department else None
    period = period_for(filters.period, settings.current_time())
    start, end = period.start or EARLIEST, period.end
    domains = department_domains(settings, department)
    equity = equity_gap(settings, EQUITY_WINDOW, EQUITY_POINTS)
    kpis = [k for k in equity["kpis"] if domains is None or k["domain"] in domains]
    return {
        "department": department, "domains": domains,
        "interactions": interactions(settings, start, end, departments),
        "divide": digital_divide(settings, start, end, departments),
        "repeats": repeat_contacts(settings, start, end, departments),
        "resolution": resolution_times(settings, start, end, departments),
        "satisfaction": satisfaction(settings, start, end, departments),
        "equity": {**equity, "kpis": kpis},
    }


# --- headline tiles -----------------------------------------------------------------------

def tile(name: str, title: str, value: str, note: Any) -> html.Div:
    """One headline number with a line saying what it counts."""
    return html.Div([html.Div(title, className="insights-tile__label"),
                     html.Div(value, className="insights-tile__value"),
                     html.Div(note, className="insights-tile__note")],
                    id=ids.page_id(PAGE, f"tile-{name}"), className="insights-tile")


def headline_tiles(data: dict[str, Any], period_words: str) -> html.Section:
    """Section 1: interactions per 1,000, digital share, repeats, resolution, satisfaction."""
    city = data["interactions"]["city"]
    repeats = data["repeats"]["city"]
    requests, cases = (data["resolution"][k]["city"] for k in ("requests", "cases"))
    rated = data["satisfaction"]
    mood = (format_number(rated["city"]["mean"], 1) if rated.get("known") else "Not known")
    mood_note = (f"mean of {format_number(rated['city']['responses'])} ratings"
                 if rated.get("known") else rated.get("note", ""))
    return html.Section(className="insights-tiles", children=[
        html.H2("At a glance", className="visually-hidden"),
        tile("per1000", "Interactions per 1,000 residents", format_number(city["per_1000"], 1),
             f"{format_number(city['total'])} interactions in the {period_words}"),
        tile("digital", "Digital share", percent(city["digital_share"]),
             f"Digital = {digital_channel_words()}. The “Requests made online” KPI counts "
             "web and app requests only."),
        tile("repeat", "Repeat contacts", percent(repeats["share"], 1),
             f"{format_number(repeats['repeats'])} of {format_number(repeats['requests'])} "
             f"identified requests repeat one for the same service within "
             f"{data['repeats']['days']} days"),
        tile("resolve", "Median days to resolve",
             f"{days_text(requests['median_days'])} · {days_text(cases['median_days'])}",
             f"requests ({format_number(requests['closed'])} closed) · procedures "
             f"({format_number(cases['closed'])} closed) in the {period_words}"),
        tile("satisfaction", "Satisfaction", mood, mood_note),
    ])


# --- the equity gap -----------------------------------------------------------------------

def last_day(iso: str, tz: str) -> str:
    """``23 Nov``: the last local day of a window ending at ``iso`` (exclusive)."""
    last = (datetime.fromisoformat(iso) - timedelta(seconds=1)).astimezone(ZoneInfo(tz))
    return f"{last.day} {last:%b}"


def in_unit(value: float | None, kpi: dict[str, Any], *, gap: bool = True) -> str:
    """A value in the KPI's unit with its decimals; a gap of percentages is in points."""
    if value is None:
        return "–"
    if kpi["unit"] == "%":
        return f"{format_number(value, kpi['decimals'])}{' pp' if gap else '%'}"
    return f"{format_number(value, kpi['decimals'])} {kpi['unit']}".strip()


def trend_of(kpi: dict[str, Any], tz: str) -> tuple[str, str, str]:
    """(arrow, words, class) of whether the gap narrowed or widened since the previous
    window (the same comparison on every row)."""
    if kpi["latest_gap"] is None:
        return "–", "No district data", "none"
    if kpi["narrowing"] is None or not kpi.get("compared_with"):
        return "–", "Not enough history yet", "none"
    since = f"the {WINDOW_DAYS} days to {last_day(kpi['compared_with'], tz)}"
    size = f" {format_change(kpi['change'], kpi.get('change_unit'), kpi['decimals'])}"
    relative = kpi.get("change_unit") == "%"
    if abs(kpi["change"]) < (0.0005 if relative else 0.5 * 10 ** -kpi["decimals"]):
        return "●", f"Unchanged since {since}", "flat"
    if kpi["narrowing"]:
        return "▼", f"Narrowing:{size} smaller than in {since}", "improving"
    return "▲", f"Widening:{size} larger than in {since}", "worsening"


def gap_spark(kpi: dict[str, Any], css: str) -> Any:
    """A tiny static line of the gap per window (the table below gives the numbers)."""
    points = [p for p in kpi["series"] if p["gap"] is not None]
    if len(points) < 2:
        return None  # the trend's words already say there is not enough history
    status = {"improving": "on", "worsening": "off"}.get(css, "none")
    return dcc.Graph(id=ids.page_id(PAGE, f"gap-spark-{kpi['id']}"),
                     figure=sparkline_figure([{"t": p["end"], "v": p["gap"]} for p in points],
                                             status),
                     config=SPARK_CONFIG, className="insights-spark")


def relative_gap(kpi: dict[str, Any]) -> float | None:
    """The latest gap relative to the KPI's target (sorting key), or None."""
    return kpi["series"][-1]["relative_gap"] if kpi["series"] else None


def _place(point: dict[str, Any], key: str, names: dict[str, str], kpi: dict[str, Any]) -> str:
    """``Centro (12.3 µg/m³)``: the best or worst district of a point and its value."""
    district = point[f"{key}_district"]
    return f"{names.get(district, district)} ({in_unit(point[key], kpi, gap=False)})"


def equity_row(kpi: dict[str, Any], names: dict[str, str], tz: str) -> html.Tr:
    """One KPI: best and worst district, latest gap, its trend and sparkline."""
    label = html.Th([text(kpi["name"]), html.Span(domain_label(kpi["domain"]),
                                                   className="insights-kpi-domain")],
                    scope="row")
    row_id = ids.page_id(PAGE, f"gap-{kpi['id']}")
    latest = kpi["series"][-1] if kpi["series"] else {}
    if kpi["latest_gap"] is None:
        return html.Tr([label, html.Td("No district data for this KPI in these windows.",
                                       colSpan=5, className="insights-muted")], id=row_id)
    arrow, words, css = trend_of(kpi, tz)
    return html.Tr([
        label, html.Td(_place(latest, "best", names, kpi)),
        html.Td(_place(latest, "worst", names, kpi)),
        html.Td(in_unit(kpi["latest_gap"], kpi), className="num"),
        html.Td("–" if relative_gap(kpi) is None else percent(relative_gap(kpi)),
                className="num"),
        html.Td([html.Span([html.Span(arrow, **{"aria-hidden": "true"}), f" {words}"],
                           className=f"trend trend--{css} insights-trend"),
                 gap_spark(kpi, css)]),
    ], id=row_id)


def gap_history(kpis: list[dict[str, Any]], ends: list[str], tz: str) -> html.Details:
    """The sparklines' numbers: each KPI's gap per 30-day window."""
    windows = [(f"w{i}", f"{WINDOW_DAYS} d to {last_day(end, tz)}") for i, end in enumerate(ends)]
    rows = [{"kpi": text(k["name"]),
             **{key: in_unit(p["gap"], k) for (key, _), p in zip(windows, k["series"],
                                                                 strict=True)}}
            for k in kpis]
    return table_alternative("Gap between best and worst district per 30-day window",
                             [("kpi", "KPI")] + windows, rows,
                             summary="Show the gap per window as a table")


def equity_section(equity: dict[str, Any], department: str | None, scope: str | None,
                   tz: str) -> html.Section:
    """Section 5: per KPI, how far the worst district is from the best, largest first."""
    kpis = sorted(equity["kpis"], key=lambda k: (relative_gap(k) is None,
                                                 -(relative_gap(k) or 0.0)))
    head = ["KPI", "Best district", "Worst district", "Latest gap", "Gap vs target",
            f"Last {len(equity['points'])} × {WINDOW_DAYS} days"]
    hint = (f"City-wide KPIs over {len(equity['points'])} windows of {WINDOW_DAYS} days, the "
            "latest ending today (not the period chosen above). Largest gap relative to the "
            "KPI's target first; gaps of percentages are in percentage points (pp).")
    if department:
        hint += f" Only KPIs of {department}: {scope}."
    table = html.Table([
        html.Caption("Equity gap by KPI"),
        html.Thead(html.Tr([html.Th(h, scope="col") for h in head])),
        html.Tbody([equity_row(k, equity["district_names"], tz) for k in kpis]),
    ], className="data-table insights-equity", id=ids.page_id(PAGE, "equity"))
    return html.Section(className="card insights-section", children=[
        html.H2("Equity gap between districts", className="card__title"),
        html.P(hint, className="section-hint"),
        html.Div(table, className="insights-scroll") if kpis
        else html.P("No KPI in scope.", className="empty-note"),
        gap_history(kpis, equity["points"], tz) if kpis else None,
    ])


# --- the page -------------------------------------------------------------------------------

def period_words(spec: str, settings: Settings) -> str:
    """``last 30 days`` (lower case), for sentences."""
    return period_label(spec, settings.timezone).lower()


def body(settings: Settings, filters: PageFilters) -> list[Any]:
    """Everything below the filter bar, for one filter state."""
    data = insight_data(settings, filters)
    words = period_words(filters.period, settings)
    name = safe_name(PAGE, data["department"], filters.period)
    note = None if data["interactions"]["participation_included"] else html.P(
        PARTICIPATION_NOTE, id=ids.page_id(PAGE, "scope-note"), className="insights-note",
        role="note")
    return [note, headline_tiles(data, words),
            interactions_section(data["interactions"], words, name),
            divide_section(data["divide"], name),
            resolution_section(data, words),
            equity_section(data["equity"], data["department"], scope_words(data["domains"]),
                           settings.timezone)]


def scope_words(domains: set[str] | None) -> str | None:
    """``waste and citizen services`` for a department's domains (None for all)."""
    if domains is None:
        return None
    names = sorted(domain_label(d).lower() for d in domains)
    return " and ".join(names) if names else "no domain"


def subtitle(settings: Settings, filters: PageFilters) -> str:
    """``All departments · last 30 days · aggregates only, no personal data``."""
    department = scoped_department(filters.department) or "All departments"
    return (f"{department} · {period_words(filters.period, settings)} · "
            "aggregates only, no personal data")


def layout(**query: Any) -> html.Div:
    """The Citizen insights page for the URL's query (unknown values fall back)."""
    settings = current_settings()
    filters = read_filters(settings, query, DEFAULT_PERIOD)
    return html.Div(className="page insights-page", children=[
        dcc.Location(id=ids.page_id(PAGE, "url"), refresh=False),
        html.Div(className="page-head", children=[
            html.Div([html.H1("Citizen insights", className="page-head__title"),
                      html.P(subtitle(settings, filters), id=ids.page_id(PAGE, "subtitle"),
                             className="page-head__subtitle")]),
            filter_bar(PAGE, settings, filters, district=False, compare=False),
        ]),
        dcc.Loading(html.Div(body(settings, filters), id=ids.page_id(PAGE, "body")),
                    id=ids.page_id(PAGE, "loading"), type="dot", delay_show=300),
    ])


dash.register_page(__name__, path="/insights", name="Citizen insights",
                   title="CityLens · Citizen insights", order=5, layout=layout, roles=STAFF,
                   callback_ids={"insights-": STAFF})
