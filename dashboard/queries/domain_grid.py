"""The domain page's asset table, one block of rows at a time: searched, sorted and cut on
the server, so a domain of 15,000 streetlights never sends its table whole to the browser.

Blocks are cached like ``domain_assets`` (per hour and until the domain's data changes),
so scrolling back and forth, or another viewer of the same table, costs a cache read.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection

from dashboard.queries.base import cached
from dashboard.queries.domain import STATES, domain_assets, domain_scopes
from dashboard.settings import Settings

BLOCK_LIMIT = 500  # never more rows than this in one answer
SEARCHED = ("name", "id", "type_label", "district", "state_label", "measure", "unit")
# Sortable columns and what they sort by (the last-seen text sorts by time, the state by
# urgency as the map's legend lists them).
SORT_KEYS = {"name": "name", "type_label": "type_label", "district": "district",
             "state_label": "state", "measure": "measure", "value": "value", "unit": "unit",
             "last_seen_text": "last_seen", "open_alerts": "open_alerts"}


def searched(assets: list[dict[str, Any]], search: str | None) -> list[dict[str, Any]]:
    """The assets whose text fields contain every word of ``search`` (any case)."""
    words = (search or "").casefold().split()
    if not words:
        return assets
    return [a for a in assets
            if all(any(w in str(a.get(f) or "").casefold() for f in SEARCHED) for w in words)]


def _value_key(value: Any, field: str) -> tuple[int, Any]:
    if field == "state":
        return 0, STATES.index(value) if value in STATES else len(STATES)
    if value is None or value == "":
        return 1, ""  # missing values last, whichever the direction
    return 0, value.casefold() if isinstance(value, str) else value


def _sort_key(field: str) -> Callable[[dict[str, Any]], Any]:
    return lambda row: _value_key(row.get(field), field)[1]


def sorted_assets(assets: list[dict[str, Any]], sort_model: Sequence[dict[str, Any]] | None
                  ) -> list[dict[str, Any]]:
    """The assets in the order of AG Grid's ``sortModel`` ([{colId, sort}], first wins);
    unknown columns are ignored; unsorted keeps the most urgent first."""
    rows = list(assets)
    for item in reversed(list(sort_model or [])):
        field = SORT_KEYS.get(str(item.get("colId")))
        if field is None:
            continue
        descending = item.get("sort") == "desc"
        present = [r for r in rows if _value_key(r.get(field), field)[0] == 0]
        missing = [r for r in rows if _value_key(r.get(field), field)[0] == 1]
        present.sort(key=_sort_key(field), reverse=descending)
        rows = present + missing
    return rows


def grid_block(settings: Settings, domain: str, district: str | None, start: int, end: int,
               sort_model: Sequence[dict[str, Any]] | None, search: str | None
               ) -> dict[str, Any]:
    """``{"rows", "count"}``: rows ``[start, end)`` (at most ``BLOCK_LIMIT``) of the domain's
    assets (optionally one district) after ``search`` and ``sort_model``, and how many
    match in all."""
    start = max(0, int(start))
    end = min(max(start, int(end)), start + BLOCK_LIMIT)
    sort = [{"colId": str(s.get("colId")), "sort": "desc" if s.get("sort") == "desc" else "asc"}
            for s in (sort_model or []) if isinstance(s, dict)]
    fresh = settings.model_copy(update={"cache_stale_seconds": 0})

    def compute(_: Connection) -> dict[str, Any]:
        matching = all_matching(fresh, domain, district, sort, search)
        return {"rows": matching[start:end], "count": len(matching)}

    hour = int(settings.current_time().timestamp()) // 3600
    return cached(settings, "domain_grid", {
        "domain": domain, "district": district, "start": start, "end": end, "sort": sort,
        "search": (search or "").strip().casefold(), "hour": hour}, compute,
        domain_scopes(domain))


def all_matching(settings: Settings, domain: str, district: str | None,
                 sort_model: Sequence[dict[str, Any]] | None, search: str | None
                 ) -> list[dict[str, Any]]:
    """Every asset the table shows for these filters, search and sort (for its CSV)."""
    assets = domain_assets(settings, domain, district)["assets"]
    return sorted_assets(searched(assets, search), sort_model)
