"""The filter bar every page after the overview shares, and the URL query it mirrors.

A page's filter state is ``PageFilters``: district, department, time preset and the
comparison. ``read_filters`` cleans a URL query against what exists (unknown values fall
back to the defaults) and ``PageFilters.query`` writes it back, so any view is a link.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any
from urllib.parse import urlencode

from dash import dcc, html

from dashboard.periods import COMPARISONS, DEFAULT_PRESET, PRESETS, SHORT_LABELS
from dashboard.queries import district_options
from dashboard.queries.departments import department_options
from dashboard.settings import Settings
from layouts import clean_query, ids

ALL_DISTRICTS, ALL_DEPARTMENTS, NO_COMPARISON = "", "", ""


@dataclass(frozen=True)
class PageFilters:
    """What a page is filtered to (None = everything) and over which period."""

    district: str | None = None
    department: str | None = None
    period: str = DEFAULT_PRESET
    compare: str | None = None

    def query(self, default_period: str = DEFAULT_PRESET, **extra: Any) -> str:
        """``?district=..&department=..&period=..&compare=..`` plus ``extra`` (empties dropped)."""
        params = {**asdict(self), **extra}
        if params.get("period") == default_period:
            params.pop("period")
        return "?" + urlencode({k: v for k, v in params.items() if v not in (None, "")})

    def with_(self, **changes: Any) -> PageFilters:
        """A copy with some fields changed (``""`` counts as None)."""
        cleaned = {k: (v or None) if k != "period" else (v or DEFAULT_PRESET)
                   for k, v in changes.items()}
        return replace(self, **cleaned)


def read_filters(settings: Settings, query: dict[str, Any],
                 default_period: str = DEFAULT_PRESET) -> PageFilters:
    """The filters of a URL query, each checked against the known districts/departments."""
    districts = {d["id"] for d in district_options(settings)}
    departments = {d["id"] for d in department_options(settings)}
    return PageFilters(
        district=clean_query(query.get("district"), districts),
        department=clean_query(query.get("department"), departments),
        period=clean_query(query.get("period"), set(PRESETS)) or default_period,
        compare=clean_query(query.get("compare"), set(COMPARISONS)),
    )


def _field(label: str, control: Any, control_id: str, extra: str = "") -> html.Div:
    return html.Div([html.Label(label, htmlFor=control_id, className="filter-bar__label"),
                     control], className=f"filter-bar__field {extra}".strip())


def filter_bar(page: str, settings: Settings, filters: PageFilters, *,
               district: bool = True, department: bool = True, period: bool = True,
               compare: bool = True) -> html.Div:
    """District and department selectors, time presets and comparison, as ids of ``page``.

    Ids: ``ids.page_id(page, "district" | "department" | "period" | "compare")``.
    """
    fields: list[Any] = []
    if district:
        cid = ids.page_id(page, "district")
        fields.append(_field("District", dcc.Dropdown(
            id=cid, value=filters.district or ALL_DISTRICTS, clearable=False, maxHeight=360,
            options=[{"label": "Whole city", "value": ALL_DISTRICTS}]
            + [{"label": d["name"], "value": d["id"]} for d in district_options(settings)],
            className="filter-bar__district"), cid, "filter-bar__field--district"))
    if department:
        cid = ids.page_id(page, "department")
        fields.append(_field("Department", dcc.Dropdown(
            id=cid, value=filters.department or ALL_DEPARTMENTS, clearable=False,
            maxHeight=360, options=[{"label": "All departments", "value": ALL_DEPARTMENTS}]
            + [{"label": d["name"], "value": d["id"]} for d in department_options(settings)],
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
    if compare:
        cid = ids.page_id(page, "compare")
        fields.append(_field("Compare with", dcc.Dropdown(
            id=cid, value=filters.compare or NO_COMPARISON, clearable=False, searchable=False,
            options=[{"label": "No comparison", "value": NO_COMPARISON}]
            + [{"label": label.capitalize(), "value": key}
               for key, label in COMPARISONS.items()],
            className="filter-bar__compare"), cid))
    return html.Div(fields, className="filter-bar", role="search")
