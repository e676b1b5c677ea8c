"""Tabular sources (CSV and Excel exports, SQL tables and queries) share one YAML mapping,
validated here, and one row mapping: a row (column name -> cell) becomes a ``Mapped``.

    entity: observations            # service_requests | observations | assets
    columns: {id: garagecode, time: updatetime, name: garagecode}
    timezone: Europe/Copenhagen     # naive times in the source are local
    type: OffStreetParking          # FIWARE type of the assets
    domain: parking
    namespace: aarhus               # asset URN urn:ngsi-ld:OffStreetParking:aarhus:<id>
    metrics:
      - {metric: occupiedSpotNumber, column: vehiclecount, unit: spots}
      - {metric: occupancy, column: vehiclecount, divide_by: totalspaces, unit: ratio}

``columns`` maps model fields to source columns; ``constants`` gives fields a fixed value.
Reading options (``delimiter``, ``encoding``, ``decimal``, ``thousands``, ``skip_rows``,
``sheet``) are for files. The cursor is ``cursor_column`` (default: the row's time column).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from connectors import tabular_values as cells
from connectors.base import Mapped, SourceFormatError
from dashboard.model import DOMAINS

Entity = Literal["service_requests", "observations", "assets"]
Scalar = str | int | float | bool
ASSET_FIELDS = ("id", "time", "lat", "lon", "name", "status")
REQUEST_FIELDS = ("id", "requested_at", "updated_at", "closed_at", "expected_at", "service_code",
                  "service_name", "department", "description", "status", "status_notes",
                  "channel", "address", "lat", "lon")
TIME_FIELDS = ("time", "requested_at", "updated_at", "closed_at", "expected_at")
LIMITS = {"service_code": 60, "service_name": 200, "department": 100, "channel": 20,
          "address": 300, "name": 200, "status": 40}
THOUSANDS = Literal[" ", ".", ",", "'", "\u00a0", "\u202f"]


class MetricSpec(BaseModel):
    """One observed metric: a column's value, or a simple quotient of two columns."""

    model_config = ConfigDict(extra="forbid")
    metric: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,59}$")
    column: str = Field(min_length=1)
    divide_by: str | None = Field(default=None, min_length=1)
    scale: float = Field(default=1.0, allow_inf_nan=False)
    unit: str | None = Field(default=None, max_length=20)
    optional: bool = False  # an empty cell skips this metric instead of failing the row


class TabularMapping(BaseModel):
    """How the rows of a table or export become unified records."""

    model_config = ConfigDict(extra="forbid")
    entity: Entity
    columns: dict[str, str]
    constants: dict[str, Scalar] = {}
    timezone: str = "UTC"
    time_format: str | None = None
    cursor_column: str | None = None
    cursor_type: Literal["time", "integer"] = "time"
    # files
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    quotechar: str = Field(default='"', min_length=1, max_length=1)
    encoding: str = "utf-8-sig"
    decimal: Literal[".", ","] = "."
    thousands: THOUSANDS | None = None
    skip_rows: int = Field(default=0, ge=0)
    sheet: str | None = None
    # assets and observations
    type: str | None = Field(default=None, pattern=r"^[A-Za-z][A-Za-z0-9_]{0,79}$")
    domain: str | None = None
    namespace: str = Field(default="", pattern=r"^[A-Za-z0-9_.:-]{0,60}$")
    attributes: dict[str, str] = {}
    metrics: list[MetricSpec] = []
    # service requests: source status (any case) -> open | closed
    status_map: dict[str, Literal["open", "closed"]] = {}

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, value: str) -> str:
        import codecs

        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown encoding {value!r}") from None
        return value

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        if value is not None and value not in DOMAINS:
            raise ValueError(f"unknown domain {value!r}; one of {', '.join(DOMAINS)}")
        return value

    @field_validator("status_map")
    @classmethod
    def _fold(cls, value: dict[str, str]) -> dict[str, str]:
        return {k.strip().casefold(): v for k, v in value.items()}

    @model_validator(mode="after")
    def _coherent(self) -> TabularMapping:
        requests = self.entity == "service_requests"
        allowed = REQUEST_FIELDS if requests else ASSET_FIELDS
        for where, keys in (("columns", self.columns), ("constants", self.constants)):
            unknown = sorted(set(keys) - set(allowed))
            if unknown:
                raise ValueError(f"{where}: unknown fields {unknown} for {self.entity}; "
                                 f"known: {', '.join(allowed)}")
        both = sorted(set(self.columns) & set(self.constants))
        if both:
            raise ValueError(f"fields {both} are both in columns and in constants")
        if any(f in self.constants for f in TIME_FIELDS):
            raise ValueError("times cannot be constants; map them to columns")
        if "id" not in self.columns and "id" not in self.constants:
            raise ValueError("columns: 'id' is required (the column that identifies a row)")
        time_field = "requested_at" if requests else "time"
        if time_field not in self.columns and self.entity != "assets":
            raise ValueError(f"columns: {time_field!r} is required for {self.entity}")
        located = [f for f in ("lat", "lon") if f in self.columns or f in self.constants]
        if len(located) == 1:
            raise ValueError("give both 'lat' and 'lon', or neither")
        if self.decimal == self.thousands:
            raise ValueError("decimal and thousands marks must differ")
        if self.cursor_type == "integer" and not self.cursor_column:
            raise ValueError("cursor_type: integer needs a cursor_column")
        if self.time_format is not None and "%" not in self.time_format:
            raise ValueError(f"time_format {self.time_format!r} has no % directive")
        if requests:
            extra = [k for k in ("type", "domain", "attributes", "metrics")
                     if getattr(self, k)] + (["namespace"] if self.namespace else [])
            if extra:
                raise ValueError(f"{extra} apply to assets and observations, not requests")
            return self
        if not self.type or not self.domain:
            raise ValueError(f"{self.entity} need the FIWARE 'type' and the 'domain'")
        if self.status_map:
            raise ValueError("status_map applies to service_requests")
        if self.entity == "assets" and self.metrics:
            raise ValueError("metrics need entity: observations")
        if self.entity == "observations" and not self.metrics:
            raise ValueError("observations need at least one entry in 'metrics'")
        names = [m.metric for m in self.metrics]
        if len(names) != len(set(names)):
            raise ValueError(f"metric names repeat: {names}")
        return self


def load_mapping(path: str | Path) -> TabularMapping:
    """The mapping file at ``path``; SourceFormatError naming the file and the problem."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SourceFormatError(f"{path}: no such mapping file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise SourceFormatError(f"{path}: cannot read the mapping file: {error}") from None
    except yaml.YAMLError as error:
        raise SourceFormatError(f"{path}: mapping is not valid YAML: {error}") from None
    if not isinstance(raw, dict):
        raise SourceFormatError(f"{path}: mapping must be a YAML mapping of keys to values")
    try:
        return TabularMapping.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'mapping'}: {e['msg']}" for e in error.errors()
        )
        raise SourceFormatError(f"{path}: bad mapping: {problems}") from None


class RowMapper:
    """Maps rows (column -> cell) to the unified model as a mapping says."""

    def __init__(self, mapping: TabularMapping, *, cursor_fallback: bool = True) -> None:
        """``cursor_fallback``: an empty cursor cell takes the row's time (files, which are
        filtered row by row); a database read on the cursor column turns it off."""
        self.mapping = mapping
        self.cursor_fallback = cursor_fallback
        self.zone = ZoneInfo(mapping.timezone)
        self.time_field = "requested_at" if mapping.entity == "service_requests" else "time"
        self.cursor_column = mapping.cursor_column or mapping.columns.get(self.time_field)

    def required_columns(self) -> list[str]:
        """Every source column the mapping reads, each once, in mapping order."""
        m = self.mapping
        found = [*m.columns.values(), *m.attributes.values()]
        for spec in m.metrics:
            found += [spec.column] + ([spec.divide_by] if spec.divide_by else [])
        if self.cursor_column:
            found.append(self.cursor_column)
        return list(dict.fromkeys(found))

    # --- cells ----------------------------------------------------------------------

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
        return cells.text(self._cell(row, field), LIMITS.get(field)) or default

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

    # --- cursor ---------------------------------------------------------------------

    def cursor_value(self, row: Mapping[str, Any]) -> datetime | int | None:
        """The row's cursor (a UTC time or an integer); an empty cursor cell falls back to
        the row's time when allowed. ValueError when the cell does not parse."""
        if not self.cursor_column:
            return None
        value = row.get(self.cursor_column)
        if cells.is_blank(value):
            if (not self.cursor_fallback or self.mapping.cursor_type == "integer"
                    or self.time_field not in self.mapping.columns):
                return None
            return self._time(row, self.time_field)
        label = f"cursor ({self.cursor_column!r})"
        if self.mapping.cursor_type == "integer":
            return cells.integer(value, label)
        return cells.time(value, label, self.zone, self.mapping.time_format)

    def cursor(self, row: Mapping[str, Any]) -> str | None:
        """The row's cursor as text that sorts like the values (the runner's watermark)."""
        value = self.cursor_value(row)
        if value is None:
            return None
        return cells.integer_cursor(value) if isinstance(value, int) else cells.time_cursor(value)

    # --- rows -----------------------------------------------------------------------

    def map(self, row: Mapping[str, Any]) -> Mapped:
        """One row as a ``Mapped``; ValueError (naming the column) when it does not fit."""
        if not isinstance(row, Mapping):
            raise ValueError(f"row is not a mapping of columns: {type(row).__name__}")
        where = f"row {row['#row']}: " if isinstance(row.get("#row"), int) else ""
        try:
            if row.get("#extra"):
                raise ValueError(f"{len(row['#extra'])} more cells than the header has columns")
            if self.mapping.entity == "service_requests":
                return self._request(row)
            return self._observed(row)
        except (ValueError, TypeError, ArithmeticError) as error:
            raise ValueError(f"{where}{error}") from None

    def asset(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The asset a row describes (URN id, type, domain, name, location, attributes)."""
        m = self.mapping
        own = self._id(row, 200)
        prefix = f"urn:ngsi-ld:{m.type}:" + (f"{m.namespace}:" if m.namespace else "")
        urn = own if own.startswith("urn:") else prefix + own
        if len(urn) > 200:
            raise ValueError(f"asset id {urn[:60]!r}... longer than 200 characters")
        lat, lon = self._location(row)
        attributes = {
            name: cells.attribute(row.get(column), m.decimal, m.thousands)
            for name, column in m.attributes.items() if not cells.is_blank(row.get(column))
        }
        return {"id": urn, "type": m.type, "domain": m.domain, "name": self._text(row, "name", own),
                "lat": lat, "lon": lon, "status": self._text(row, "status", "ok"),
                "attributes": attributes}

    def _observed(self, row: Mapping[str, Any]) -> Mapped:
        asset = self.asset(row)
        if self.mapping.entity == "assets":
            return Mapped(assets=[asset], cursor=self.cursor(row))
        moment = self._time(row, "time", required=True)
        observations = []
        for spec in self.mapping.metrics:
            value = self._metric(row, spec)
            if value is not None:
                observations.append({"asset_id": asset["id"], "metric": spec.metric,
                                     "time": moment, "value": value, "unit": spec.unit})
        if not observations:
            raise ValueError("no metric has a value")
        return Mapped(assets=[asset], observations=observations, cursor=self.cursor(row))

    def _status(self, row: Mapping[str, Any], closed: datetime | None) -> str:
        given = self._text(row, "status")
        if not given:
            return "closed" if closed else "open"
        status = self.mapping.status_map.get(given.casefold(), given.lower())
        if status not in ("open", "closed"):
            raise ValueError(f"{self._label('status')}: unknown status {given[:40]!r} "
                             "(map it to open or closed in status_map)")
        return status

    def _request(self, row: Mapping[str, Any]) -> Mapped:
        request_id = self._id(row, 100)
        requested = self._time(row, "requested_at", required=True)
        updated = self._time(row, "updated_at")
        closed = self._time(row, "closed_at")
        status = self._status(row, closed)
        lat, lon = self._location(row)
        return Mapped(service_requests=[{
            "id": request_id,
            "service_code": self._text(row, "service_code", "unknown"),
            "service_name": self._text(row, "service_name"),
            "department": self._text(row, "department", "unknown"),
            "description": self._text(row, "description"),
            "status": status,
            "status_notes": self._text(row, "status_notes"),
            "channel": self._text(row, "channel", "unknown").lower(),
            "requested_at": requested,
            "updated_at": updated,
            "closed_at": (closed or updated) if status == "closed" else None,
            "expected_at": self._time(row, "expected_at"),
            "lat": lat,
            "lon": lon,
            "address": self._text(row, "address"),
            "citizen_id": None,
            "district_id": None,  # assigned by the runner
        }], cursor=self.cursor(row))
