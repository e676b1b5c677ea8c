"""Places the pages filter by: a district id, or ``municipality:<id>`` for all the
districts of a municipality (a metropolitan deployment), as one SQL condition."""
from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, select

from dashboard.model import District

MUNICIPALITY = "municipality:"


def split_place(place: str | None) -> tuple[str | None, str | None]:
    """(municipality, district) of a place token; (None, None) for the whole city."""
    if not place:
        return None, None
    if place.startswith(MUNICIPALITY):
        return place.removeprefix(MUNICIPALITY) or None, None
    return None, place


def municipality_token(municipality: str) -> str:
    """The place token of a municipality."""
    return f"{MUNICIPALITY}{municipality}"


def in_place(column: Any, place: str) -> ColumnElement[bool]:
    """``column`` (a district id column) lies in the place: equals the district, or is one
    of the municipality's districts (an indexed subquery on districts.municipality_id)."""
    municipality, district = split_place(place)
    result: ColumnElement[bool]
    if municipality is not None:
        result = column.in_(select(District.id).where(District.municipality_id == municipality))
    else:
        result = column == district
    return result
