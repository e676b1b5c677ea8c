"""Alerts page callbacks: any filter -> the page body and subtitle; the URL mirrors them; a
zoom (brush) on the daily chart or the date-range picker sets a custom period."""
from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State

from callbacks.common import register_grid_tools, register_period_range, register_url_sync
from dashboard.periods import clean_spec
from layouts import current_settings, ids
from layouts.alerts import DEFAULT_PERIOD, DEFAULT_STATE, PAGE, SORTABLE, body, subtitle
from layouts.filters import PageFilters
from layouts.tables import sort_param

EXTRA = ("state", "domain", "severity")

register_url_sync(PAGE, extra=EXTRA, default_period=DEFAULT_PERIOD,
                  grid_sort=(ids.page_id(PAGE, "grid"), "columnState", SORTABLE))
register_grid_tools(PAGE, ids.page_id(PAGE, "grid"), ids.page_id(PAGE, "search"), "csv")
register_period_range(PAGE, (ids.page_id(PAGE, "daily"),), default_period=DEFAULT_PERIOD)


@dash.callback(
    Output(ids.page_id(PAGE, "body"), "children"),
    Output(ids.page_id(PAGE, "subtitle"), "children"),
    *(Input(ids.page_id(PAGE, n), "value")
      for n in ("district", "department", "period", "compare", *EXTRA)),
    Input(ids.page_id(PAGE, "live"), "data"),
    State(ids.page_id(PAGE, "grid"), "columnState"),
    prevent_initial_call=True,
)
def update_alerts(district: str | None, department: str | None, period: str | None,
                  compare: str | None, state: str | None, domain: str | None,
                  severity: str | None, _live: str | None = None,
                  column_state: Any = None) -> tuple[Any, str]:
    """The counts, chart and grid for the chosen filters (the grid keeps its sort)."""
    settings = current_settings()
    period = clean_spec(period, settings.current_time()) or DEFAULT_PERIOD
    filters = PageFilters().with_(district=district, department=department, period=period,
                                  compare=compare)
    return (body(settings, filters, state or DEFAULT_STATE, domain or None, severity or None,
                 sort_param(column_state, SORTABLE)),
            subtitle(settings, filters))
