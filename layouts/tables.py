"""Tables: the screen-reader alternative of every chart, and the sortable, searchable grid.

``table_alternative`` renders the numbers behind a chart as a real ``<table>`` (caption,
column headers with scope) inside a disclosure, so a screen reader can read what the
chart shows. ``data_grid`` wraps AG Grid (dash-ag-grid): sortable columns, a search box
bound to its quick filter, keyboard navigation, and CSV export of the rows it shows.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dash_ag_grid as dag
from dash import dcc, html

from layouts import format_number

Column = tuple[str, str]  # (key in the row dicts, header label)


def _cell(value: Any, decimals: int) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return format_number(value, 0 if isinstance(value, int) else decimals)
    return str(value)


def html_table(caption: str, columns: Sequence[Column], rows: Sequence[dict[str, Any]], *,
               decimals: int = 1, class_name: str = "data-table") -> html.Table:
    """A plain accessible table: caption, ``<th scope="col">`` headers, one row per dict."""
    head = html.Thead(html.Tr([html.Th(label, scope="col") for _, label in columns]))
    body = html.Tbody([html.Tr([html.Td(_cell(row.get(key), decimals)) for key, _ in columns])
                       for row in rows])
    return html.Table([html.Caption(caption), head, body], className=class_name)


def table_alternative(caption: str, columns: Sequence[Column],
                      rows: Sequence[dict[str, Any]], *, decimals: int = 1,
                      summary: str = "Show the numbers as a table") -> html.Details:
    """The data of a chart as a table, behind a "show as table" disclosure."""
    return html.Details([html.Summary(summary, className="chart-table__summary"),
                         html.Div(html_table(caption, columns, rows, decimals=decimals),
                                  className="chart-table__scroll")],
                        className="chart-table")


def grid_columns(columns: Sequence[Column], *, numeric: Sequence[str] = (),
                 links: dict[str, str] | None = None,
                 wrap: Sequence[str] = ()) -> list[dict[str, Any]]:
    """AG Grid column definitions; ``links`` maps a column to the row key holding its URL.
    Text columns show their whole value on hover; ``wrap`` columns (long names) wrap onto
    more lines instead of being cut. Numeric columns stay narrow, so their right-aligned
    header sits over their values (a wide one reads as a blank header)."""
    defs = []
    for key, label in columns:
        col: dict[str, Any] = {"field": key, "headerName": label}
        if key in numeric:
            col["type"] = "numericColumn"
            col["filter"] = "agNumberColumnFilter"
            col["maxWidth"] = 140
        else:
            col["tooltipField"] = key
        if key in wrap:  # more room, and the rest wraps
            col.update(wrapText=True, autoHeight=True, minWidth=120)
        if links and key in links:
            col["cellRenderer"] = "CityLensLink"  # assets/grid.js: a plain <a>, text escaped
            col["cellRendererParams"] = {"hrefField": links[key]}
        defs.append(col)
    return defs


def sort_param(sort_model: Any, fields: Sequence[str]) -> str | None:
    """The URL's ``sort`` for a grid's first sorted column: ``value`` (ascending) or
    ``-value`` (descending); None when unsorted or the column is not one of ``fields``."""
    if isinstance(sort_model, dict):  # a getRowsRequest
        sort_model = sort_model.get("sortModel")
    if not isinstance(sort_model, list):
        return None
    chosen = [c for c in sort_model if isinstance(c, dict) and c.get("sort") in ("asc", "desc")
              and c.get("colId") in fields]
    chosen.sort(key=lambda c: c.get("sortIndex") or 0)
    if not chosen:
        return None
    return ("-" if chosen[0]["sort"] == "desc" else "") + str(chosen[0]["colId"])


def sorted_by(columns: list[dict[str, Any]], sort: str | None) -> list[dict[str, Any]]:
    """``columns`` with the URL's ``sort`` (see ``sort_param``) as the grid's initial sort;
    an unknown column leaves the server's order (most urgent first)."""
    field = (sort or "").removeprefix("-")
    direction = "desc" if (sort or "").startswith("-") else "asc"
    return [{**c, "sort": direction} if c.get("field") == field else c for c in columns]


def _search_box(search_id: str) -> html.Div:
    return html.Div(className="grid-card__tools", children=[
        html.Label("Search", htmlFor=search_id, className="filter-bar__label"),
        dcc.Input(id=search_id, type="search", debounce=0.3, placeholder="Type to filter…",
                  className="grid-card__search", autoComplete="off"),
    ])


def data_grid(grid_id: str, search_id: str, columns: list[dict[str, Any]],
              rows: list[dict[str, Any]], *, label: str, height: int = 420,
              row_id: str = "params.data.id", export_name: str = "table.csv",
              export_columns: list[tuple[str, str]] | None = None) -> html.Div:
    """A searchable, sortable grid of ``rows`` (search box ``search_id`` filters it). Its
    CSV holds the shown columns, or ``export_columns`` (row key, header: raw values with
    their unit, ISO times) as hidden columns in their place, in the grid's order."""
    export: dict[str, Any] = {"fileName": export_name}
    if export_columns:
        columns = [*columns, *({"field": key, "headerName": header, "hide": True,
                                "suppressColumnsToolPanel": True}
                               for key, header in export_columns)]
        export["columnKeys"] = [key for key, _ in export_columns]
    return html.Div(className="grid-card", children=[
        _search_box(search_id),
        dag.AgGrid(
            id=grid_id, rowData=rows, columnDefs=columns, getRowId=row_id,
            defaultColDef={"sortable": True, "resizable": True, "filter": True,
                           "minWidth": 90, "flex": 1},
            dashGridOptions={"animateRows": False, "pagination": len(rows) > 500,
                             "tooltipShowDelay": 300,
                             "paginationPageSize": 100, "ensureDomOrder": True,
                             "enableCellTextSelection": True,
                             "localeText": {"noRowsToShow": "Nothing matches these filters"}},
            csvExportParams=export,
            className="ag-theme-quartz citylens-grid", style={"height": f"{height}px"},
        ),
    ], role="region", **{"aria-label": label})


PAGE_ROWS = 100  # rows per page (and per block asked of the server) of a paged grid


def paged_grid(grid_id: str, search_id: str, columns: list[dict[str, Any]], *, label: str,
               height: int = 420, row_id: str = "params.data.id") -> html.Div:
    """A searchable, sortable grid whose rows the server sends a page at a time (AG Grid's
    infinite row model: ``getRowsRequest`` -> a callback -> ``getRowsResponse``); the
    search box and sorting are applied on the server."""
    return html.Div(className="grid-card", children=[
        _search_box(search_id),
        dag.AgGrid(
            id=grid_id, columnDefs=columns, getRowId=row_id, rowModelType="infinite",
            defaultColDef={"sortable": True, "resizable": True, "filter": False,
                           "minWidth": 90, "flex": 1},
            dashGridOptions={"animateRows": False, "pagination": True,
                             "paginationPageSize": PAGE_ROWS, "cacheBlockSize": PAGE_ROWS,
                             "paginationPageSizeSelector": False,
                             "maxBlocksInCache": 20, "infiniteInitialRowCount": 1,
                             "ensureDomOrder": True, "enableCellTextSelection": True,
                             "localeText": {"noRowsToShow": "Nothing matches these filters"}},
            className="ag-theme-quartz citylens-grid", style={"height": f"{height}px"},
        ),
    ], role="region", **{"aria-label": label})
