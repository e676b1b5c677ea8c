"""Asset page callbacks: thin; read the controls, call ``dashboard.queries``, shape props.

- period, compare or metric -> the chart, its note and table alternative, the title;
- period -> the alerts list (a metric or comparison change leaves it alone);
- any of them -> the latest-readings links (they carry the period and the chosen metric);
- the CSV button -> exactly the series the chart shows;
- the controls -> the URL's query (no reload);
- a zoom on the chart's time axis (drag, or its 1 d / 7 d / 1 m buttons) or the date-range
  picker -> a custom period: the series is fetched again for that range, so zooming in
  shows finer resampling, and the alerts, readings links and CSV follow.
"""
from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, ctx, no_update

from callbacks.common import register_period_range, register_url_sync
from dashboard.periods import DEFAULT_PRESET, clean_spec, period_label
from dashboard.queries.asset_series import asset_series
from layouts import current_settings, ids
from layouts.asset import PAGE, alerts_part, pid, readings_card, series_parts, visible_detail
from layouts.asset_chart import CSV_FIELDS, csv_rows
from layouts.export import csv_file, safe_name
from layouts.filters import PageFilters

register_url_sync(PAGE, names=("period", "compare"), extra=("metric",))
register_period_range(PAGE, (pid("graph"),))


def _trigger() -> Any:
    """The id of the control that fired (None when called outside a callback)."""
    try:
        return ctx.triggered_id
    except Exception:  # noqa: BLE001 - no callback context (called as a plain function)
        return None


def _filters(period: str | None, compare: str | None) -> PageFilters:
    period = clean_spec(period, current_settings().current_time()) or DEFAULT_PRESET
    return PageFilters().with_(period=period, compare=compare)


@dash.callback(
    Output(pid("graph"), "figure"),
    Output(pid("note"), "children"),
    Output(pid("table"), "children"),
    Output(pid("series-title"), "children"),
    Output(pid("alerts"), "children"),
    Output(pid("readings"), "children"),
    Input(pid("period"), "value"),
    Input(pid("compare"), "value"),
    Input(pid("metric"), "value"),
    State(pid("id"), "data"),
    prevent_initial_call=True,
)
def update_series(period: str | None, compare: str | None, metric: str | None,
                  asset_id: str | None) -> tuple[Any, ...]:
    """The chart, note, table and title for the controls; the alerts when the period moves."""
    settings = current_settings()
    detail = visible_detail(settings, asset_id)
    if detail is None:
        return (no_update,) * 6
    filters = _filters(period, compare)
    names = {m["metric"] for m in detail["metrics"]}
    metric = metric if metric in names else None
    figure, note, table = series_parts(settings, detail, metric, filters)
    title = f"Time series · {period_label(filters.period, settings.timezone)}"
    alerts = (alerts_part(settings, detail, filters)
              if _trigger() in (None, pid("period")) else no_update)
    readings = readings_card(settings, detail, filters, metric, settings.current_time(),
                             list_only=True)
    return figure, note, table, title, alerts, readings


@dash.callback(
    Output(ids.page_id(PAGE, "download"), "data"),
    Input(ids.export_button(PAGE, "series"), "n_clicks"),
    State(pid("period"), "value"),
    State(pid("compare"), "value"),
    State(pid("metric"), "value"),
    State(pid("id"), "data"),
    prevent_initial_call=True,
)
def export_series(clicks: int | None, period: str | None, compare: str | None,
                  metric: str | None, asset_id: str | None) -> Any:
    """The chart's series as CSV: time (UTC), mean, min, max, count and the grain."""
    if not clicks or not asset_id or not metric or \
            visible_detail(current_settings(), asset_id) is None:
        return no_update
    filters = _filters(period, compare)
    series = asset_series(current_settings(), asset_id, metric, filters.period, filters.compare)
    if series is None:
        return no_update
    name = safe_name(asset_id.removeprefix("urn:ngsi-ld:"), metric, filters.period)
    return csv_file(csv_rows(series), CSV_FIELDS, f"{name}.csv")
