"""District page callbacks: thin; read the filters, call the read models, shape the props.

- department, period or compare -> subtitle, score, KPI chart and table, assets,
  request KPIs and alerts (the map and the header facts do not depend on them);
- the district switcher (or a click on a neighbour on the map) -> another district's
  page, keeping the query;
- export buttons -> CSV of the KPI table or of the assets, GeoJSON of the polygon;
- the filters -> the URL's query (no reload).
"""
from __future__ import annotations

from typing import Any

import dash
from dash import ALL, Input, Output, State, ctx, no_update

from callbacks.common import filters_from, register_period_range, register_url_sync
from dashboard.queries import district as dq
from dashboard.queries.departments import department_domains
from layouts import current_settings, ids
from layouts.district import PAGE, pid, view
from layouts.district_sections import (
    ASSET_CSV_FIELDS,
    KPI_CSV_FIELDS,
    asset_csv_rows,
    kpi_csv_rows,
)
from layouts.export import csv_file, geojson_file, safe_name
from layouts.filters import PageFilters, kpi_window_of

FILTERS = ("department", "period", "compare")

register_url_sync(PAGE, names=FILTERS)
register_period_range(PAGE)


@dash.callback(
    Output(pid("subtitle"), "children"),
    Output(pid("score"), "children"),
    Output(pid("kpis"), "children"),
    Output(pid("assets"), "children"),
    Output(pid("requests-body"), "children"),
    Output(pid("alerts"), "children"),
    Input(pid("department"), "value"),
    Input(pid("period"), "value"),
    Input(pid("compare"), "value"),
    State(pid("id"), "data"),
    Input(pid("live"), "data"),
    prevent_initial_call=True,
)
def update_view(department: str | None, period: str | None, compare: str | None,
                district: str | None, _live: str | None = None) -> tuple[Any, ...]:
    """Everything that depends on the filters, for the new department/period/compare, and
    again when the data changed (``_live``, the new data version)."""
    if not district:
        return (no_update,) * 6
    filters = filters_from({"department": department, "period": period, "compare": compare})
    parts = view(current_settings(), district, filters)
    return (parts["subtitle"], parts["score"], parts["kpis"], parts["assets"],
            parts["requests"], parts["alerts"])


def switch_href(new: str | None, current: str | None, search: str | None) -> Any:
    """``/district/<new>`` with the current query; no_update when nothing changes."""
    if not new or new == current:
        return no_update
    return f"/district/{new}{search or ''}"


@dash.callback(
    Output(pid("nav"), "href"),
    Input(pid("switch"), "value"),
    State(pid("id"), "data"),
    State(pid("url"), "search"),
    prevent_initial_call=True,
)
def switch_district(new: str | None, current: str | None, search: str | None) -> Any:
    """Open another district's page, keeping department, period and comparison."""
    return switch_href(new, current, search)


@dash.callback(
    Output(pid("switch"), "value"),
    Input(pid("neighbours"), "clickData"),
    prevent_initial_call=True,
)
def neighbour_clicked(feature: dict[str, Any] | None) -> Any:
    """A click on a neighbouring district picks it in the switcher (which opens it)."""
    district = ((feature or {}).get("properties") or {}).get("id")
    return district or no_update


def export_file(what: str, district: str, filters: PageFilters) -> dict[str, Any]:
    """The download of ``what`` (``kpis``, ``assets`` or ``geojson``) for the current view."""
    settings = current_settings()
    window = kpi_window_of(settings, filters.period)
    domains = department_domains(settings, filters.department)
    stem = safe_name("district", district, filters.department, filters.period)
    if what == "kpis":
        data = dq.kpi_comparison(settings, district, window, year_ago=filters.compare == "year",
                                 department=filters.department)
        rows = kpi_csv_rows(data["rows"])
        return csv_file(rows, KPI_CSV_FIELDS, f"{stem}-kpis.csv")
    if what == "assets":
        rows = asset_csv_rows(dq.assets_by_domain(settings, district, domains))
        return csv_file(rows, ASSET_CSV_FIELDS, f"{stem}-assets.csv")
    if what == "geojson":
        return geojson_file(dq.district_feature(settings, district, window), f"{stem}.geojson")
    raise ValueError(f"unknown export {what!r}")


@dash.callback(
    Output(ids.page_id(PAGE, "download"), "data"),
    Input(ids.export_button(PAGE, ALL), "n_clicks"),
    State(pid("department"), "value"),
    State(pid("period"), "value"),
    State(pid("compare"), "value"),
    State(pid("id"), "data"),
    prevent_initial_call=True,
)
def export(clicks: list[int | None], department: str | None, period: str | None,
           compare: str | None, district: str | None) -> Any:
    """Build the file of the clicked export button."""
    trigger = ctx.triggered_id
    if not district or not isinstance(trigger, dict) or not any(clicks or []):
        return no_update
    filters = filters_from({"department": department, "period": period, "compare": compare})
    return export_file(trigger["what"], district, filters)
