"""Callback factories every page uses: mirror filters in the URL, search and export grids.

Each factory registers ``@dash.callback``s for one page's ids when the page's callback
module is imported (never inside a layout function).
"""
from __future__ import annotations

from typing import Any

import dash
from dash import ClientsideFunction, Input, Output, State

from layouts import ids
from layouts.filters import PageFilters

FILTER_NAMES = ("district", "department", "period", "compare")


def filters_from(values: dict[str, Any]) -> PageFilters:
    """A ``PageFilters`` from the filter controls' values (missing controls: defaults)."""
    return PageFilters().with_(**{k: values.get(k) for k in FILTER_NAMES if k in values})


def register_url_sync(page: str, names: tuple[str, ...] = FILTER_NAMES, *,
                      extra: tuple[str, ...] = (), default_period: str = "30d") -> None:
    """Mirror ``page``'s filter controls (and ``extra`` controls: ``page-<name>``.value) in
    the page's ``dcc.Location`` (``ids.page_id(page, "url")``), without reloading."""
    inputs = [Input(ids.page_id(page, n), "value") for n in names + extra]

    @dash.callback(Output(ids.page_id(page, "url"), "search"), *inputs,
                   prevent_initial_call=True)
    def sync(*values: Any) -> str:
        chosen = dict(zip(names + extra, values, strict=True))
        filters = filters_from(chosen)
        more = {n: chosen[n] for n in extra}
        return filters.query(default_period, **more)

    sync.__name__ = f"sync_{page.replace('-', '_')}_url"


def register_grid_tools(page: str, grid: str, search: str, export: str) -> None:
    """The search box filters the grid (quick filter) and the export button downloads the
    rows the grid shows (after search, filters and sorting) as CSV; both in the browser."""
    dash.clientside_callback(
        ClientsideFunction("citylens", "quickFilter"),
        Output(grid, "dashGridOptions"), Input(search, "value"), State(grid, "dashGridOptions"),
        prevent_initial_call=True,
    )
    dash.clientside_callback(
        ClientsideFunction("citylens", "exportGrid"),
        Output(grid, "exportDataAsCsv"), Input(ids.export_button(page, export), "n_clicks"),
        prevent_initial_call=True,
    )
