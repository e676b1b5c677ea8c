"""Exports: what a page shows, as a file (CSV for tables, GeoJSON for maps, PNG for charts).

Buttons carry pattern-matching ids (``ids.export_button(page, what)``); the page's
callback builds the file with ``csv_file``/``geojson_file`` from the same read model the
page shows, and returns it to the page's ``dcc.Download``. Charts export PNG through
Plotly's own mode-bar button (``graph_config``).
"""
from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from dash import dcc, html

from dashboard.csv_safety import csv_safe
from layouts import ids


def safe_name(*parts: str | None) -> str:
    """A file-name stem from parts (``services-santander-03-30d``), ASCII and dashes only."""
    stem = "-".join(p for p in parts if p)
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-").lower() or "export"


def csv_file(rows: Iterable[dict[str, Any]], fields: Sequence[str],
             filename: str) -> dict[str, Any]:
    """A ``dcc.Download`` payload: ``rows`` as CSV with a header of ``fields``; text cells
    that a spreadsheet would run as formulas are neutralised (``dashboard.csv_safety``)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(fields), extrasaction="ignore",
                            lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: csv_safe(_plain(row.get(k))) for k in fields})
    return {"content": buffer.getvalue(), "filename": filename, "type": "text/csv"}


def _plain(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else value


def geojson_file(collection: dict[str, Any], filename: str) -> dict[str, Any]:
    """A ``dcc.Download`` payload: a GeoJSON FeatureCollection."""
    return {"content": json.dumps(collection, ensure_ascii=False, separators=(",", ":")),
            "filename": filename, "type": "application/geo+json"}


def export_button(page: str, what: str, label: str) -> html.Button:
    """A small "↓ CSV" style button; its clicks reach the page's export callback."""
    return html.Button([html.Span("↓", **{"aria-hidden": "true"}), f" {label}"],
                       id=ids.export_button(page, what), n_clicks=0, type="button",
                       className="export-button", title=f"Download {label}")


def download(page: str) -> dcc.Download:
    """The page's one download target (``ids.page_id(page, "download")``)."""
    return dcc.Download(id=ids.page_id(page, "download"))


def graph_config(filename: str) -> dict[str, Any]:
    """Plotly config: the mode bar's camera button saves a PNG named ``filename``."""
    return {"displaylogo": False, "responsive": True,
            "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"],
            "toImageButtonOptions": {"format": "png", "filename": filename, "scale": 2}}
