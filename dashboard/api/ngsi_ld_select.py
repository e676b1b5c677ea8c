"""Which entities a query selects, one page at a time.

Indexed filters go to the store (type, id, and for a geo-query on ``location`` a box of
Asset.lat/lon); the rest (``idPattern``, ``q``, the exact geo test, ``attrs``) is tested
on the entities built from those candidates, read in chunks in id order, so memory holds
one chunk and one page. Assets come first (by id), then the KPI entities (by id).
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select

from dashboard.api.ngsi_ld_entities import ASSET_COLUMNS, asset_entity, has_any, readings_of
from dashboard.api.ngsi_ld_geo import GeoQuery
from dashboard.api.ngsi_ld_kpis import KPI_PREFIX, KPI_TYPE, kpi_entities
from dashboard.api.ngsi_ld_query import Node, matches
from dashboard.model import Asset
from dashboard.settings import Settings

CHUNK = 500  # assets built and tested at a time


@dataclass(frozen=True)
class EntityQuery:
    """The filters of an entity query; None means "not filtered on this"."""

    types: tuple[str, ...] | None = None
    ids: tuple[str, ...] | None = None
    id_pattern: re.Pattern[str] | None = None
    q: Node | None = None
    geo: GeoQuery | None = None
    attrs: tuple[str, ...] | None = None

    def tested_here(self) -> bool:
        """Whether some filter is tested on built entities rather than in the store."""
        return any(f is not None for f in (self.id_pattern, self.q, self.geo, self.attrs))

    def matches(self, entity: Mapping[str, Any]) -> bool:
        """Whether a built entity passes the filters the store could not apply."""
        if self.types is not None and entity["type"] not in self.types:
            return False
        if self.ids is not None and entity["id"] not in self.ids:
            return False
        if self.id_pattern is not None and not self.id_pattern.search(str(entity["id"])):
            return False
        if self.attrs is not None and not has_any(entity, self.attrs):
            return False
        if self.q is not None and not matches(self.q, entity):
            return False
        if self.geo is not None:
            geo = entity.get(self.geo.geoproperty)
            value = geo.get("value") if isinstance(geo, Mapping) else None
            return geo is not None and geo.get("type") == "GeoProperty" and self.geo.matches(value)
        return True

    def wants_kpis(self) -> bool:
        """Whether KPI entities can match (their type and ids; they have no location)."""
        return ((self.types is None or KPI_TYPE in self.types) and self.geo is None
                and (self.ids is None or any(i.startswith(KPI_PREFIX) for i in self.ids)))


def _conditions(query: EntityQuery) -> list[Any]:
    conditions: list[Any] = []
    if query.types is not None:
        conditions.append(Asset.type.in_(query.types))
    if query.ids is not None:
        conditions.append(Asset.id.in_(query.ids))
    box = query.geo.box() if query.geo and query.geo.geoproperty == "location" else None
    if box is not None:
        south, north, west, east = box
        conditions += [Asset.lat.between(south, north), Asset.lon.between(west, east)]
    return conditions


def _built(conn: Connection, rows: list[Any]) -> list[dict[str, Any]]:
    readings = readings_of(conn, [row.pk for row in rows])
    return [asset_entity(row, readings.get(row.pk, [])) for row in rows]


def asset_page(conn: Connection, query: EntityQuery, offset: int, limit: int,
               need_total: bool) -> tuple[int | None, list[dict[str, Any]]]:
    """(how many assets match when ``need_total``, else None; the page of them)."""
    conditions = _conditions(query)
    if not query.tested_here():
        total = None
        if need_total:
            stmt = select(func.count()).select_from(Asset).where(*conditions)
            total = int(conn.execute(stmt).scalar_one())
        rows = conn.execute(select(*ASSET_COLUMNS).where(*conditions).order_by(Asset.id)
                            .offset(offset).limit(limit)).all() if limit else []
        return total, _built(conn, list(rows))
    matched, page, last = 0, [], None
    while need_total or matched < offset + limit:
        after: list[Any] = [Asset.id > last] if last is not None else []
        rows = list(conn.execute(select(*ASSET_COLUMNS).where(*conditions, *after)
                                 .order_by(Asset.id).limit(CHUNK)).all())
        for entity in _built(conn, rows):
            if query.matches(entity):
                if offset <= matched < offset + limit:
                    page.append(entity)
                matched += 1
        if len(rows) < CHUNK:
            break
        last = rows[-1].id
    return (matched if need_total else None), page


def entity_page(conn: Connection, settings: Settings, query: EntityQuery, offset: int,
                limit: int, need_total: bool) -> tuple[int | None, list[dict[str, Any]]]:
    """(the total when ``need_total``, else None; one page) of assets, then KPIs."""
    wants_kpis = query.wants_kpis()
    total, page = asset_page(conn, query, offset, limit, need_total or wants_kpis)
    if not wants_kpis:
        return total, page
    kpis = [e for e in kpi_entities(settings) if query.matches(e)]
    assets = total or 0
    start = max(0, offset - assets)
    page += kpis[start:start + limit - len(page)]
    return (assets + len(kpis) if need_total else None), page


def entity_by_id(conn: Connection, settings: Settings,
                 entity_id: str) -> dict[str, Any] | None:
    """The entity with this id (an asset or a KPI), or None."""
    if "\x00" in entity_id:  # no id holds one (PostgreSQL refuses it in a query)
        return None
    if entity_id.startswith(KPI_PREFIX):
        return next((e for e in kpi_entities(settings) if e["id"] == entity_id), None)
    row = conn.execute(select(*ASSET_COLUMNS).where(Asset.id == entity_id)).first()
    return _built(conn, [row])[0] if row is not None else None
