"""Citizen insights callbacks: department or period -> the page body and subtitle; the URL
mirrors them. A department head's department is kept to their own (``PageFilters.with_``
and ``layouts.insights.insight_data`` both apply ``scoped_department``)."""
from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output

from callbacks.common import register_url_sync
from dashboard.periods import PRESETS
from dashboard.queries.departments import department_options
from layouts import clean_query, current_settings, ids
from layouts.filters import PageFilters
from layouts.insights import DEFAULT_PERIOD, PAGE, body, subtitle

FILTERS = ("department", "period")

register_url_sync(PAGE, FILTERS, default_period=DEFAULT_PERIOD)


@dash.callback(
    Output(ids.page_id(PAGE, "body"), "children"),
    Output(ids.page_id(PAGE, "subtitle"), "children"),
    *(Input(ids.page_id(PAGE, n), "value") for n in FILTERS),
    prevent_initial_call=True,
)
def update_insights(department: str | None, period: str | None) -> tuple[Any, str]:
    """Every section for the chosen department (kept in scope) and period preset."""
    settings = current_settings()
    preset = period if period in PRESETS else DEFAULT_PERIOD
    known = {d["id"] for d in department_options(settings)}
    filters = PageFilters().with_(department=clean_query(department, known), period=preset)
    return body(settings, filters), subtitle(settings, filters)
