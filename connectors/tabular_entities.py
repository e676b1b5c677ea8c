"""The entities of a tabular mapping: which fields each takes, and how a row becomes one.

``RowCells`` reads a row's cells as a mapping says (columns, constants, time zone, decimal
mark); one builder per entity turns those cells into a ``Mapped``. Every problem is a
ValueError naming the field and its source column. ``connectors.tabular`` validates the
mapping against the field lists here and dispatches rows to ``BUILDERS``.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timezone, tzinfo
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from connectors import tabular_values as cells
from connectors.base import Mapped

if TYPE_CHECKING:
    from connectors.tabular import MetricSpec, TabularMapping

ASSET_FIELDS = ("id", "time", "lat", "lon", "name", "status")
REQUEST_FIELDS = ("id", "requested_at", "updated_at", "closed_at", "expected_at", "service_code",
                  "service_name", "department", "description", "status", "status_notes",
                  "channel", "address", "lat", "lon", "citizen_id", "district_id")
ENTITY_FIELDS: dict[str, tuple[str, ...]] = {
    "service_requests": REQUEST_FIELDS,
    "observations": ASSET_FIELDS,
    "assets": ASSET_FIELDS,
    "citizens": ("id", "name", "email", "phone", "district_id", "birth_year"),
    "cases": ("id", "citizen_id", "kind", "department", "status", "channel", "district_id",
              "opened_at", "closed_at"),
    "participation": ("id", "citizen_id", "kind", "topic", "channel", "district_id", "time"),
    "notices": ("id", "kind", "starts_at", "ends_at", "place", "district_id", "lat", "lon"),
}
# The entity's own time: required in ``columns`` (except for assets) and the default cursor.
ENTITY_TIME: dict[str, str | None] = {
    "service_requests": "requested_at", "observations": "time", "assets": "time",
    "citizens": None, "cases": "opened_at", "participation": "time", "notices": "starts_at",
}
TIME_FIELDS = ("time", "requested_at", "updated_at", "closed_at", "expected_at", "opened_at",
               "starts_at", "ends_at")
LOCALISED = re.compile(r"^(title|body)_([a-z]{2})$")  # notices: title_es, body_en, ...
LIMITS = {"service_code": 60, "service_name": 200, "department": 100, "channel": 20,
          "address": 300, "name": 200, "status": 40, "email": 200, "phone": 40, "kind": 40,
          "topic": 200, "place": 200, "title": 200}
ID_LIMITS = {"service_requests": 100, "citizens": 64, "cases": 100, "participation": 100,
             "notices": 100, "assets": 200, "observations": 200}
REF_LIMIT = 64  # citizen and district ids
STATUSES = {"service_requests": ("open", "closed"), "cases": ("open", "resolved", "rejected")}
NOTICE_KINDS = ("news", "event")
EARLIEST_BIRTH = 1870


def is_field(entity: str, field: str) -> bool:
    """Whether ``field`` is a field of ``entity`` (notices also take title_xx and body_xx)."""
    return field in ENTITY_FIELDS[entity] or (entity == "notices" and bool(LOCALISED.match(field)))


class RowCells:
    """Reads the cells of rows as a mapping says: columns, constants, zone, number marks."""

    def __init__(self, mapping: TabularMapping) -> None:
        self.mapping = mapping
        self.zone: tzinfo = ZoneInfo(mapping.timezone)

    def _cell(self, row: Mapping[str, Any], field: str) -> Any:
        column = self.mapping.columns.get(field)
        if column is None:
            return self.mapping.constants.get(field)
        value = row.get(column)
        return None if cells.is_blank(value) else value

    def _label(self, field: str) -> str:
        column = self.mapping.columns.get(field)
        return f"{field} ({column!r})" if column and column != field else field

    def _text(self, row: Mapping[str, Any], field: str, default: str = "") -> str:
        limit = LIMITS.get(field.split("_")[0] if LOCALISED.match(field) else field)
        return cells.text(self._cell(row, field), limit) or default

    def _time(self, row: Mapping[str, Any], field: str, required: bool = False) -> datetime | None:
        value = self._cell(row, field)
        if value is None:
            if required:
                raise ValueError(f"{self._label(field)} is empty")
            return None
        return cells.time(value, self._label(field), self.zone, self.mapping.time_format)

    def _id(self, row: Mapping[str, Any], limit: int) -> str:
        own = cells.text(self._cell(row, "id"))
        if not own:
            raise ValueError(f"{self._label('id')} is empty")
        if len(own) > limit:
            raise ValueError(f"{self._label('id')} longer than {limit} characters")
        return own

    def _ref(self, row: Mapping[str, Any], field: str) -> str | None:
        """A citizen or district id (None when empty); the store checks that it exists."""
        own = cells.text(self._cell(row, field))
        if len(own) > REF_LIMIT:
            raise ValueError(f"{self._label(field)} longer than {REF_LIMIT} characters")
        return own or None

    def _location(self, row: Mapping[str, Any]) -> tuple[float | None, float | None]:
        decimal = self.mapping.decimal
        lat = cells.coordinate(self._cell(row, "lat"), self._label("lat"), 90.0, decimal)
        lon = cells.coordinate(self._cell(row, "lon"), self._label("lon"), 180.0, decimal)
        if lat is None or lon is None or (lat == 0.0 and lon == 0.0):
            return None, None  # half a location, or "null island": not located
        return lat, lon

    def _number(self, row: Mapping[str, Any], column: str) -> float | None:
        value = row.get(column)
        if cells.is_blank(value):
            return None
        return cells.number(value, repr(column), self.mapping.decimal, self.mapping.thousands)

    def _metric(self, row: Mapping[str, Any], spec: MetricSpec) -> float | None:
        value = self._number(row, spec.column)
        divisor = self._number(row, spec.divide_by) if spec.divide_by else 1.0
        if value is None or divisor is None:
            if spec.optional:
                return None
            empty = spec.column if value is None else spec.divide_by
            raise ValueError(f"{spec.metric}: column {empty!r} is empty")
        if divisor == 0:
            raise ValueError(f"{spec.metric}: {spec.divide_by!r} is zero")
        result = value / divisor * spec.scale
        if not math.isfinite(result):
            raise ValueError(f"{spec.metric}: not a finite number")
        return result

    def _status(self, row: Mapping[str, Any], closed: datetime | None) -> str:
        """The status among the entity's own (via ``status_map``); from ``closed`` if empty."""
        allowed = STATUSES[self.mapping.entity]
        given = self._text(row, "status")
        if not given:
            return allowed[1] if closed else "open"
        status = self.mapping.status_map.get(given.casefold(), given.lower())
        if status not in allowed:
            raise ValueError(f"{self._label('status')}: unknown status {given[:40]!r} "
                             f"(map it to {' or '.join(allowed)} in status_map)")
        return status


# --- builders: one row of a mapping of each entity -------------------------------------

def asset(reader: RowCells, row: Mapping[str, Any]) -> dict[str, Any]:
    """The asset a row describes (URN id, type, domain, name, location, attributes)."""
    m = reader.mapping
    own = reader._id(row, 200)
    prefix = f"urn:ngsi-ld:{m.type}:" + (f"{m.namespace}:" if m.namespace else "")
    urn = own if own.startswith("urn:") else prefix + own
    if len(urn) > 200:
        raise ValueError(f"asset id {urn[:60]!r}... longer than 200 characters")
    described = {"name", "lat", "lon", "status"} & (set(m.columns) | set(m.constants))
    if m.entity == "observations" and not described and not m.attributes:
        # A log that only names its sensors refers to assets described elsewhere (a
        # registry, a broker): stored as a placeholder that never overwrites them.
        return {"id": urn, "type": m.type, "domain": m.domain}
    lat, lon = reader._location(row)
    attributes = {
        name: cells.attribute(row.get(column), m.decimal, m.thousands)
        for name, column in m.attributes.items() if not cells.is_blank(row.get(column))
    }
    found: dict[str, Any] = {"id": urn, "type": m.type, "domain": m.domain,
                             "name": reader._text(row, "name", own), "attributes": attributes}
    # A partial update: a place or a status the row does not give (no such column, or a
    # blank cell) keeps the stored one (another feed, a registry, may know it).
    if lat is not None and lon is not None:
        found["lat"], found["lon"] = lat, lon
    if "status" in described:
        found["status"] = reader._text(row, "status", "ok")
    return found


def observed(reader: RowCells, row: Mapping[str, Any]) -> Mapped:
    """An asset, and (entity: observations) its metrics' values at the row's time."""
    found = asset(reader, row)
    if reader.mapping.entity == "assets":
        return Mapped(assets=[found])
    moment = reader._time(row, "time", required=True)
    observations = []
    for spec in reader.mapping.metrics:
        value = reader._metric(row, spec)
        if value is not None:
            observations.append({"asset_id": found["id"], "metric": spec.metric,
                                 "time": moment, "value": value, "unit": spec.unit})
    if not observations:
        raise ValueError("no metric has a value")
    return Mapped(assets=[found], observations=observations)


def request(reader: RowCells, row: Mapping[str, Any]) -> Mapped:
    """A service request (Open311 fields); located ones get their district when stored."""
    request_id = reader._id(row, ID_LIMITS["service_requests"])
    requested = reader._time(row, "requested_at", required=True)
    updated = reader._time(row, "updated_at")
    closed = reader._time(row, "closed_at")
    status = reader._status(row, closed)
    lat, lon = reader._location(row)
    return Mapped(service_requests=[{
        "id": request_id, "status": status, "status_notes": reader._text(row, "status_notes"),
        "service_code": reader._text(row, "service_code", "unknown"),
        "service_name": reader._text(row, "service_name"),
        "department": reader._text(row, "department", "unknown"),
        "description": reader._text(row, "description"),
        "channel": reader._text(row, "channel", "unknown").lower(),
        "requested_at": requested, "updated_at": updated,
        "closed_at": (closed or updated) if status == "closed" else None,
        "expected_at": reader._time(row, "expected_at"),
        "lat": lat, "lon": lon, "address": reader._text(row, "address"),
        "citizen_id": reader._ref(row, "citizen_id"),
        "district_id": reader._ref(row, "district_id"),  # else assigned from lat/lon
    }])


def _birth_year(reader: RowCells, row: Mapping[str, Any]) -> int | None:
    value = reader._cell(row, "birth_year")
    if value is None:
        return None
    year = cells.integer(value, reader._label("birth_year"))
    if not EARLIEST_BIRTH <= year <= datetime.now(timezone.utc).year:
        raise ValueError(f"{reader._label('birth_year')}: not a year of birth: {year}")
    return year


def citizen(reader: RowCells, row: Mapping[str, Any]) -> Mapped:
    """A resident: pseudonymous id, name and contact, district, year of birth, consent."""
    consent = {}
    for name, column in reader.mapping.consent.items():
        given = cells.flag(row.get(column), f"consent {name} ({column!r})")
        if given is not None:
            consent[name] = given
    return Mapped(citizens=[{
        "id": reader._id(row, ID_LIMITS["citizens"]),
        "name": reader._text(row, "name"),
        "email": reader._text(row, "email").lower() or None,
        "phone": reader._text(row, "phone") or None,
        "district_id": reader._ref(row, "district_id"),
        "birth_year": _birth_year(reader, row),
        "consent": consent,
    }])


def case(reader: RowCells, row: Mapping[str, Any]) -> Mapped:
    """A procedure (permit, tax, registration, benefit): open, resolved or rejected."""
    case_id = reader._id(row, ID_LIMITS["cases"])
    opened = reader._time(row, "opened_at", required=True)
    closed = reader._time(row, "closed_at")
    status = reader._status(row, closed)
    return Mapped(cases=[{
        "id": case_id, "citizen_id": reader._ref(row, "citizen_id"),
        "kind": reader._text(row, "kind", "unknown"),
        "department": reader._text(row, "department", "unknown"),
        "status": status, "channel": reader._text(row, "channel", "unknown").lower(),
        "district_id": reader._ref(row, "district_id"),
        "opened_at": opened, "closed_at": closed if status != "open" else None,
    }])


def participation(reader: RowCells, row: Mapping[str, Any]) -> Mapped:
    """One act of participation (survey, forum, consultation, event) at a time."""
    return Mapped(participation=[{
        "id": reader._id(row, ID_LIMITS["participation"]),
        "citizen_id": reader._ref(row, "citizen_id"),
        "kind": reader._text(row, "kind", "unknown"),
        "topic": reader._text(row, "topic"),
        "channel": reader._text(row, "channel", "unknown").lower(),
        "district_id": reader._ref(row, "district_id"),
        "time": reader._time(row, "time", required=True),
    }])


def _localised(reader: RowCells, row: Mapping[str, Any], part: str) -> dict[str, str]:
    """{lang: text} of the mapping's ``<part>_<lang>`` fields whose cells are not empty."""
    fields = [*reader.mapping.columns, *reader.mapping.constants]
    found = {}
    for field in fields:
        match = LOCALISED.match(field)
        if match and match.group(1) == part:
            value = reader._text(row, field)
            if value:
                found[match.group(2)] = value
    return found


def notice(reader: RowCells, row: Mapping[str, Any]) -> Mapped:
    """News or an event for the noticeboard, with its title and body per language."""
    notice_id = reader._id(row, ID_LIMITS["notices"])
    kind = reader._text(row, "kind").lower()
    if not kind:
        raise ValueError(f"{reader._label('kind')} is empty")
    if kind not in NOTICE_KINDS:
        raise ValueError(f"{reader._label('kind')}: {kind!r} is not news or event")
    title = _localised(reader, row, "title")
    if not title:
        raise ValueError("no title: every title_<lang> cell is empty")
    starts = reader._time(row, "starts_at", required=True)
    ends = reader._time(row, "ends_at")
    if starts and ends and ends < starts:
        raise ValueError(f"{reader._label('ends_at')} is before {reader._label('starts_at')}")
    lat, lon = reader._location(row)
    return Mapped(notices=[{
        "id": notice_id, "kind": kind, "title": title, "body": _localised(reader, row, "body"),
        "starts_at": starts, "ends_at": ends, "place": reader._text(row, "place"),
        "district_id": reader._ref(row, "district_id"),  # else assigned from lat/lon
        "lat": lat, "lon": lon,
    }])


BUILDERS: dict[str, Callable[[RowCells, Mapping[str, Any]], Mapped]] = {
    "service_requests": request,
    "observations": observed,
    "assets": observed,
    "citizens": citizen,
    "cases": case,
    "participation": participation,
    "notices": notice,
}
