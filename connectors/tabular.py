"""Tabular sources (CSV and Excel exports, SQL tables and queries) share one YAML mapping,
validated here, and one row mapping: a row (column name -> cell) becomes a ``Mapped``.

    entity: observations            # service_requests | observations | assets | citizens
                                    # | cases | participation | notices
    columns: {id: garagecode, time: updatetime, name: garagecode}
    timezone: Europe/Copenhagen     # naive times in the source are local
    type: OffStreetParking          # FIWARE type of the assets
    domain: parking
    namespace: aarhus               # asset URN urn:ngsi-ld:OffStreetParking:aarhus:<id>
    metrics:
      - {metric: occupiedSpotNumber, column: vehiclecount, unit: spots}
      - {metric: occupancy, column: vehiclecount, divide_by: totalspaces, unit: ratio}

``columns`` maps model fields to source columns; ``constants`` gives fields a fixed value.
Each entity's fields, and how a row becomes one, are in ``connectors.tabular_entities``.
Citizens take ``consent: {flag: column}`` (yes/no cells); notices take ``title_<lang>`` and
``body_<lang>`` fields; ``status_map`` maps source statuses of requests and cases.
Reading options (``delimiter``, ``encoding``, ``decimal``, ``thousands``, ``skip_rows``,
``sheet``) are for files. The cursor is ``cursor_column`` (default: the row's time column).
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from connectors import tabular_values as cells
from connectors.base import Mapped, SourceFormatError
from connectors.tabular_entities import (
    BUILDERS,
    ENTITY_FIELDS,
    ENTITY_TIME,
    NOTICE_KINDS,
    STATUSES,
    TIME_FIELDS,
    RowCells,
    asset,
    is_field,
)
from dashboard.model import DOMAINS

Entity = Literal["service_requests", "observations", "assets", "citizens", "cases",
                 "participation", "notices"]
Scalar = str | int | float | bool
NAME = r"^[A-Za-z][A-Za-z0-9_]{0,59}$"
THOUSANDS = Literal[" ", ".", ",", "'", "\u00a0", "\u202f"]


class MetricSpec(BaseModel):
    """One observed metric: a column's value, or a simple quotient of two columns."""

    model_config = ConfigDict(extra="forbid")
    metric: str = Field(pattern=NAME)
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
    # service requests: source status (any case) -> open | closed; cases: open | resolved |
    # rejected
    status_map: dict[str, Literal["open", "closed", "resolved", "rejected"]] = {}
    # citizens: consent flag -> yes/no column
    consent: dict[str, str] = {}

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

    @field_validator("consent")
    @classmethod
    def _flags(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [name for name in value if not re.fullmatch(NAME, name)]
        if bad:
            raise ValueError(f"consent flags {bad} are not names (letters, digits, _)")
        return value

    @model_validator(mode="after")
    def _coherent(self) -> TabularMapping:
        entity = self.entity
        for where, keys in (("columns", self.columns), ("constants", self.constants)):
            unknown = sorted(k for k in keys if not is_field(entity, k))
            if unknown:
                known = ", ".join(ENTITY_FIELDS[entity])
                known += ", title_<lang>, body_<lang>" if entity == "notices" else ""
                raise ValueError(f"{where}: unknown fields {unknown} for {entity}; "
                                 f"known: {known}")
        both = sorted(set(self.columns) & set(self.constants))
        if both:
            raise ValueError(f"fields {both} are both in columns and in constants")
        if any(f in self.constants for f in TIME_FIELDS):
            raise ValueError("times cannot be constants; map them to columns")
        if "id" not in self.columns and "id" not in self.constants:
            raise ValueError("columns: 'id' is required (the column that identifies a row)")
        time_field = ENTITY_TIME[entity]
        if time_field and time_field not in self.columns and entity != "assets":
            raise ValueError(f"columns: {time_field!r} is required for {entity}")
        located = [f for f in ("lat", "lon") if f in self.columns or f in self.constants]
        if len(located) == 1:
            raise ValueError("give both 'lat' and 'lon', or neither")
        if self.decimal == self.thousands:
            raise ValueError("decimal and thousands marks must differ")
        if self.cursor_type == "integer" and not self.cursor_column:
            raise ValueError("cursor_type: integer needs a cursor_column")
        if self.time_format is not None and "%" not in self.time_format:
            raise ValueError(f"time_format {self.time_format!r} has no % directive")
        self._entity_keys()
        return self

    def _entity_keys(self) -> None:
        """Keys that only some entities take, and what each entity needs of them."""
        entity = self.entity
        observed = entity in ("assets", "observations")
        extra = [k for k in ("type", "domain", "attributes", "metrics")
                 if getattr(self, k)] + (["namespace"] if self.namespace else [])
        if extra and not observed:
            raise ValueError(f"{extra} apply to assets and observations, not {entity}")
        if self.consent and entity != "citizens":
            raise ValueError(f"consent applies to citizens, not {entity}")
        statuses = STATUSES.get(entity)
        if self.status_map and not statuses:
            raise ValueError(f"status_map applies to service_requests and cases, not {entity}")
        wrong = sorted({v for v in self.status_map.values() if v not in (statuses or ())})
        if wrong:
            raise ValueError(f"status_map: {wrong} are not statuses of {entity}; "
                             f"one of {', '.join(statuses or ())}")
        if entity == "notices":
            self._notice_keys()
        if not observed:
            return
        if not self.type or not self.domain:
            raise ValueError(f"{entity} need the FIWARE 'type' and the 'domain'")
        if entity == "assets" and self.metrics:
            raise ValueError("metrics need entity: observations")
        if entity == "observations" and not self.metrics:
            raise ValueError("observations need at least one entry in 'metrics'")
        names = [m.metric for m in self.metrics]
        if len(names) != len(set(names)):
            raise ValueError(f"metric names repeat: {names}")

    def _notice_keys(self) -> None:
        fields = [*self.columns, *self.constants]
        if not any(f.startswith("title_") for f in fields):
            raise ValueError("notices need a title: map title_<lang> (e.g. title_es) to a column")
        if "kind" not in fields:
            raise ValueError("notices need 'kind' (news or event), a column or a constant")
        kind = self.constants.get("kind")
        if kind is not None and str(kind).strip().lower() not in NOTICE_KINDS:
            raise ValueError(f"constants: kind {kind!r} is not news or event")


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


class RowMapper(RowCells):
    """Maps rows (column -> cell) to the unified model as a mapping says."""

    def __init__(self, mapping: TabularMapping, *, cursor_fallback: bool = True) -> None:
        """``cursor_fallback``: an empty cursor cell takes the row's time (files, which are
        filtered row by row); a database read on the cursor column turns it off."""
        super().__init__(mapping)
        self.cursor_fallback = cursor_fallback
        self.time_field = ENTITY_TIME[mapping.entity]
        self.cursor_column = mapping.cursor_column or (
            mapping.columns.get(self.time_field) if self.time_field else None)
        self.build = BUILDERS[mapping.entity]

    def required_columns(self) -> list[str]:
        """Every source column the mapping reads, each once, in mapping order."""
        m = self.mapping
        found = [*m.columns.values(), *m.attributes.values(), *m.consent.values()]
        for spec in m.metrics:
            found += [spec.column] + ([spec.divide_by] if spec.divide_by else [])
        if self.cursor_column:
            found.append(self.cursor_column)
        return list(dict.fromkeys(found))

    # --- cursor ---------------------------------------------------------------------

    def cursor_value(self, row: Mapping[str, Any]) -> datetime | int | None:
        """The row's cursor (a UTC time or an integer); an empty cursor cell falls back to
        the row's time when allowed. ValueError when the cell does not parse."""
        if not self.cursor_column:
            return None
        value = row.get(self.cursor_column)
        if cells.is_blank(value):
            if (not self.cursor_fallback or self.mapping.cursor_type == "integer"
                    or self.time_field is None or self.time_field not in self.mapping.columns):
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
            mapped = self.build(self, row)
            mapped.cursor = self.cursor(row)
            return mapped
        except (ValueError, TypeError, ArithmeticError) as error:
            raise ValueError(f"{where}{error}") from None

    def asset(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The asset a row describes (URN id, type, domain, name, location, attributes)."""
        return asset(self, row)
