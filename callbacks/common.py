"""Callback factories every page uses: mirror filters in the URL, search and export grids.

Each factory registers ``@dash.callback``s for one page's ids when the page's callback
module is imported (never inside a layout function).
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import dash
from dash import ClientsideFunction, Input, Output, State, ctx, no_update

from dashboard.periods import clean_spec, custom_spec, is_custom, local_days_spec
from layouts import current_settings, ids
from layouts.filters import PageFilters, range_dates
from layouts.tables import sort_param

FILTER_NAMES = ("district", "department", "period", "compare")


def filters_from(values: dict[str, Any]) -> PageFilters:
    """A ``PageFilters`` from the filter controls' values (missing controls: defaults; a
    period that is neither a preset nor a valid range, as a forged request may send: the
    default preset)."""
    chosen = {k: values.get(k) for k in FILTER_NAMES if k in values}
    if chosen.get("period"):
        chosen["period"] = clean_spec(chosen["period"], current_settings().current_time())
    return PageFilters().with_(**chosen)


def register_url_sync(page: str, names: tuple[str, ...] = FILTER_NAMES, *,
                      extra: tuple[str, ...] = (), default_period: str = "30d",
                      grid_sort: tuple[str, str, tuple[str, ...]] | None = None) -> None:
    """Mirror ``page``'s filter controls (and ``extra`` controls: ``page-<name>``.value) in
    the page's ``dcc.Location`` (``ids.page_id(page, "url")``), without reloading; with
    ``grid_sort`` = (grid id, its property holding the sort, sortable fields), the grid's
    chosen sort too, as ``sort=field`` or ``sort=-field``."""
    inputs = [Input(ids.page_id(page, n), "value") for n in names + extra]
    if grid_sort is not None:
        inputs.append(Input(grid_sort[0], grid_sort[1]))

    @dash.callback(Output(ids.page_id(page, "url"), "search"), *inputs,
                   prevent_initial_call=True)
    def sync(*values: Any) -> str:
        chosen = dict(zip(names + extra, values[:len(names + extra)], strict=True))
        filters = filters_from(chosen)
        more = {n: chosen[n] for n in extra}
        if grid_sort is not None:
            more["sort"] = sort_param(values[-1], grid_sort[2])
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


def brushed_range(relayout: dict[str, Any] | None) -> tuple[str, str] | None:
    """The x-axis range a zoom/brush on a date chart selected (Plotly's ``relayoutData``:
    ``xaxis.range[0]``/``[1]`` or ``xaxis.range``), or None for any other relayout."""
    if not relayout:
        return None
    if "xaxis.range[0]" in relayout and "xaxis.range[1]" in relayout:
        return str(relayout["xaxis.range[0]"]), str(relayout["xaxis.range[1]"])
    bounds = relayout.get("xaxis.range")
    if isinstance(bounds, list) and len(bounds) == 2:
        return str(bounds[0]), str(bounds[1])
    return None


def _local(text: str, zone: ZoneInfo) -> datetime:
    """A chart's axis value (local wall time of the city, as Plotly writes it) as aware."""
    stamp = datetime.fromisoformat(text.strip())
    return stamp.replace(tzinfo=zone) if stamp.tzinfo is None else stamp


def period_after(trigger: str | None, period: str | None, start_date: str | None,
                 end_date: str | None, relayout: dict[str, Any] | None, *, now: datetime,
                 tz: str, default_period: str) -> tuple[Any, Any, Any]:
    """What the period control and the date-range picker become after one event.

    - a preset chosen -> the picker is emptied;
    - both picker dates set -> the period is those whole local days; picker emptied
      while a custom range was shown -> back to ``default_period``;
    - a chart brushed/zoomed on its time axis -> the period is that range (to whole
      hours), and the picker shows the days it spans.

    Returns (period, start_date, end_date), ``no_update`` where nothing changes.
    """
    if trigger == "range":
        if start_date and end_date:
            try:
                spec = local_days_spec(date.fromisoformat(start_date[:10]),
                                       date.fromisoformat(end_date[:10]), tz, now)
            except ValueError:
                return no_update, no_update, no_update
            return (spec if spec != period else no_update), no_update, no_update
        if not start_date and not end_date and is_custom(period):
            return default_period, no_update, no_update
        return no_update, no_update, no_update
    if trigger == "brush":
        bounds = brushed_range(relayout)
        if bounds is None:
            return no_update, no_update, no_update
        zone = ZoneInfo(tz)
        try:
            first, last = sorted((_local(bounds[0], zone), _local(bounds[1], zone)))
            spec = custom_spec(first, last, now)
        except ValueError:
            return no_update, no_update, no_update
        start, end = range_dates(spec, tz, now)
        return spec, start, end
    if period and not is_custom(period) and (start_date or end_date):
        return no_update, None, None
    return no_update, no_update, no_update


def register_period_range(page: str, graphs: tuple[str, ...] = (), *,
                          default_period: str = "30d") -> None:
    """Custom time ranges for ``page``: its date-range picker and a zoom (brush) on the time
    axis of any of ``graphs`` set the period control to that range; the whole page follows
    it (every section's callback listens to the period). Choosing a preset clears it."""
    period, picker = ids.page_id(page, "period"), ids.page_id(page, "range")

    @dash.callback(
        Output(period, "value"), Output(picker, "start_date"), Output(picker, "end_date"),
        Input(period, "value"), Input(picker, "start_date"), Input(picker, "end_date"),
        *(Input(graph, "relayoutData") for graph in graphs),
        prevent_initial_call=True,
    )
    def follow(spec: str | None, start_date: str | None, end_date: str | None,
               *relayouts: dict[str, Any] | None) -> tuple[Any, Any, Any]:
        fired = ctx.triggered_id
        trigger = ("range" if fired == picker else "brush" if fired in graphs
                   else "period" if fired == period else None)
        relayout = relayouts[graphs.index(fired)] if fired in graphs else None
        settings = current_settings()
        return period_after(trigger, spec, start_date, end_date, relayout,
                            now=settings.current_time(), tz=settings.timezone,
                            default_period=default_period)

    follow.__name__ = f"follow_{page.replace('-', '_')}_period"
