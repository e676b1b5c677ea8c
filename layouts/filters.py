"""The filter bar every page after the overview shares, and the URL query it mirrors.

A page's filter state is ``PageFilters``: district, department, period and the comparison.
The period is a preset id or, on pages with a time chart, a custom range (an interval spec
of ``dashboard.periods``) written to the URL as ``from=..&to=..``. ``read_filters`` cleans
a URL query against what exists (unknown values fall back to the defaults) and
``PageFilters.query`` writes it back, so any view is a link.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from dash import dcc, html

from dashboard.auth import DEPARTMENT_HEAD
from dashboard.auth.web import current_principal
from dashboard.periods import (
    COMPARISONS,
    DEFAULT_PRESET,
    KPI_WINDOW,
    PRESETS,
    SHORT_LABELS,
    clean_spec,
    is_custom,
    kpi_window,
    period_for,
    period_label,
)
from dashboard.queries import district_options, municipality_options
from dashboard.queries.departments import department_options
from dashboard.queries.places import municipality_token, split_place
from dashboard.settings import Settings
from layouts import clean_query, ids
from layouts.access import scoped_department, scoped_district
from layouts.places import place_choices

ALL_DISTRICTS, ALL_DEPARTMENTS, NO_COMPARISON = "", "", ""
BRUSH_HINT = ("Drag across the chart to narrow the whole page to that time range; "
              "a period button goes back.")


@dataclass(frozen=True)
class PageFilters:
    """What a page is filtered to (None = everything) and over which period."""

    district: str | None = None
    department: str | None = None
    period: str = DEFAULT_PRESET  # a preset id or a custom range's interval spec
    compare: str | None = None

    def query(self, default_period: str = DEFAULT_PRESET, **extra: Any) -> str:
        """``?district=..&department=..&period=..&compare=..`` plus ``extra`` (empties dropped);
        a municipality is written as ``municipality=..``; a custom range as
        ``from=..&to=..`` instead of ``period``."""
        municipality, district = split_place(self.district)
        params = {"municipality": municipality, **asdict(self), "district": district, **extra}
        if is_custom(self.period):
            params["from"], _, params["to"] = params.pop("period").partition("/")
        elif params.get("period") == default_period:
            params.pop("period")
        return "?" + urlencode({k: v for k, v in params.items() if v not in (None, "")})

    def with_(self, **changes: Any) -> PageFilters:
        """A copy with some fields changed (``""`` counts as None); a department is kept
        within the current user's scope (a department head's own, whatever was sent)."""
        cleaned = {k: (v or None) if k != "period" else (v or DEFAULT_PRESET)
                   for k, v in changes.items()}
        if "department" in cleaned:
            cleaned["department"] = scoped_department(cleaned["department"])
        return replace(self, **cleaned)


def read_period(settings: Settings, query: dict[str, Any], default_period: str = DEFAULT_PRESET,
                *, custom: bool = False) -> str:
    """The period of a URL query (``period=<preset>``, or with ``custom`` a range given as
    ``from=..&to=..`` or as ``period=<interval>``); anything invalid gives the default."""
    now = settings.current_time()
    value = clean_query(query.get("period"))
    start, end = clean_query(query.get("from")), clean_query(query.get("to"))
    if custom and start and end:
        value = f"{start}/{end}"
    spec = clean_spec(value, now)
    if spec is None or (is_custom(spec) and not custom):
        return default_period
    return spec


def shown_period(spec: str, tz: str) -> str:
    """``last 30 days`` for a preset, ``1 Oct – 14 Oct 2026`` for a custom range (in a
    sentence)."""
    label = period_label(spec, tz)
    return label if is_custom(spec) else label.lower()


def kpi_window_of(settings: Settings, period: str) -> str:
    """The KPI engine's window for a page's period: a preset's (``KPI_WINDOW``), or a custom
    range's canonical spec; the default preset's for anything else (a forged value)."""
    try:
        return kpi_window(period, settings.current_time(), settings.timezone)
    except ValueError:
        return KPI_WINDOW[DEFAULT_PRESET]


def read_filters(settings: Settings, query: dict[str, Any],
                 default_period: str = DEFAULT_PRESET, *, custom: bool = False) -> PageFilters:
    """The filters of a URL query, each checked against the known districts/departments.

    ``custom``: the page accepts custom time ranges (pages with a time chart to brush).
    """
    districts = {d["id"] for d in district_options(settings)}
    departments = {d["id"] for d in department_options(settings)}
    district = clean_query(query.get("district"), districts)
    municipality = clean_query(query.get("municipality"),
                               {m["id"] for m in municipality_options(settings)})
    if district is None and municipality is not None:
        district = municipality_token(municipality)
    chosen = "district" in query or "municipality" in query
    return PageFilters(
        district=district if chosen else scoped_district(district),
        department=scoped_department(clean_query(query.get("department"), departments)),
        period=read_period(settings, query, default_period, custom=custom),
        compare=clean_query(query.get("compare"), set(COMPARISONS)),
    )


def department_choices(settings: Settings) -> list[dict[str, str]]:
    """Options of a department selector: "All departments" and every department, or only
    a department head's own (the server keeps them to those whatever is sent)."""
    who = current_principal()
    if who.role == DEPARTMENT_HEAD:
        return [{"label": d["name"], "value": d["id"]} for d in department_options(settings)
                if d["id"] in who.departments]
    return [{"label": "All departments", "value": ALL_DEPARTMENTS}] + [
        {"label": d["name"], "value": d["id"]} for d in department_options(settings)]


def range_dates(spec: str, tz: str, now: datetime) -> tuple[str | None, str | None]:
    """The local dates (first, last, ISO) a custom range spans, for the date picker."""
    if not is_custom(spec):
        return None, None
    period = period_for(spec, now)
    zone = ZoneInfo(tz)
    assert period.start is not None
    first = period.start.astimezone(zone).date()
    last = (period.end - timedelta(seconds=1)).astimezone(zone).date()
    return first.isoformat(), last.isoformat()


def range_picker(page: str, settings: Settings, spec: str) -> html.Div:
    """"From"/"to" date inputs for a custom range of whole local days (keyboard friendly;
    brushing a chart fills them too). Id ``ids.page_id(page, "range")``."""
    cid = ids.page_id(page, "range")
    first, last = range_dates(spec, settings.timezone, settings.current_time())
    today = settings.current_time().astimezone(ZoneInfo(settings.timezone)).date()
    return html.Div([
        html.Label("Custom range", htmlFor=f"{cid}-start", className="filter-bar__label"),
        dcc.DatePickerRange(id=cid, start_date=first, end_date=last,
                            start_date_id=f"{cid}-start", end_date_id=f"{cid}-end",
                            start_date_placeholder_text="From", end_date_placeholder_text="To",
                            display_format="D MMM YYYY", max_date_allowed=today.isoformat(),
                            first_day_of_week=1, clearable=True, minimum_nights=0,
                            className="filter-bar__range"),
    ], className="filter-bar__field filter-bar__field--range")


def folding(bar: html.Div) -> html.Div:
    """``bar`` behind a "Filters" button on a phone (``assets/nav.js`` opens it; on a wider
    screen the button is hidden and the bar always shows)."""
    bar_id = f"{getattr(bar, 'id', None) or 'filters'}-fold"
    return html.Div(className="fold", children=[
        html.Button("Filters", type="button", className="fold__toggle",
                    **{"aria-expanded": "false", "aria-controls": bar_id}),
        html.Div(bar, id=bar_id, className="fold__body"),
    ])


def _field(label: str, control: Any, control_id: str, extra: str = "") -> html.Div:
    return html.Div([html.Label(label, htmlFor=control_id, className="filter-bar__label"),
                     control], className=f"filter-bar__field {extra}".strip())


def filter_bar(page: str, settings: Settings, filters: PageFilters, *,
               district: bool = True, department: bool = True, period: bool = True,
               compare: bool = True, custom: bool = False,
               extra: tuple[Any, ...] = ()) -> html.Div:
    """District and department selectors, time presets (with ``custom``, a date range
    too) and comparison, as ids of ``page``, then the page's own ``extra`` fields; folded
    on a phone.

    Ids: ``ids.page_id(page, "district" | "department" | "period" | "range" | "compare")``.
    The period control's value is the period spec: a preset id, or a custom range (then
    no preset is checked).
    """
    fields: list[Any] = []
    if district:
        cid = ids.page_id(page, "district")
        places = place_choices(settings)  # municipalities, in a metropolitan deployment
        fields.append(_field("District" if places is None else "Place", dcc.Dropdown(
            id=cid, value=filters.district or ALL_DISTRICTS, clearable=False, maxHeight=360,
            options=places if places is not None else
            [{"label": "Whole city", "value": ALL_DISTRICTS}]
            + [{"label": d["name"], "value": d["id"]} for d in district_options(settings)],
            className="filter-bar__district"), cid, "filter-bar__field--district"))
    if department:
        cid = ids.page_id(page, "department")
        fields.append(_field("Department", dcc.Dropdown(
            id=cid, value=filters.department or ALL_DEPARTMENTS, clearable=False,
            maxHeight=360, options=department_choices(settings),
            className="filter-bar__department"), cid, "filter-bar__field--district"))
    if period:
        cid = ids.page_id(page, "period")
        fields.append(html.Div([
            html.Span("Period", id=f"{cid}-label", className="filter-bar__label"),
            dcc.RadioItems(id=cid, value=filters.period, inline=True, className="segmented",
                           inputClassName="segmented__input",
                           labelClassName="segmented__option",
                           options=[{"label": SHORT_LABELS[p], "value": p,
                                     "title": PRESETS[p][0]} for p in PRESETS]),
        ], className="filter-bar__field", role="group", **{"aria-labelledby": f"{cid}-label"}))
        if custom:
            fields.append(range_picker(page, settings, filters.period))
    if compare:
        cid = ids.page_id(page, "compare")
        fields.append(_field("Compare with", dcc.Dropdown(
            id=cid, value=filters.compare or NO_COMPARISON, clearable=False, searchable=False,
            options=[{"label": "No comparison", "value": NO_COMPARISON}]
            + [{"label": label.capitalize(), "value": key}
               for key, label in COMPARISONS.items()],
            className="filter-bar__compare"), cid))
    fields.extend(extra)
    return folding(html.Div(fields, id=ids.page_id(page, "filters"), className="filter-bar",
                            role="search"))
