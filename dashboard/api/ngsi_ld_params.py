"""The query parameters of the NGSI-LD endpoints, read into typed queries; every problem
is an ``NgsiLdError`` (ProblemDetails: type, title, detail) with its HTTP status."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

from werkzeug.datastructures import MultiDict

from dashboard.api.ngsi_ld_geo import parse_geo
from dashboard.api.ngsi_ld_query import as_time, compile_pattern, parse_q
from dashboard.api.ngsi_ld_select import EntityQuery
from dashboard.api.ngsi_ld_temporal import (
    AGGREGATES,
    MAX_INSTANCES,
    TemporalQuery,
    duration_seconds,
    time_bounds,
)

ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
DEFAULT_LIMIT, MAX_LIMIT = 20, 1000
MAX_IDS = 1000
IGNORED = ("local", "lang")  # accepted from brokers, change nothing here
QUERY = ("type", "id", "idPattern", "q", "georel", "geometry", "coordinates", "geoproperty",
         "attrs")
ENTITIES = (*QUERY, "limit", "offset", "count", "options", "format", "geometryProperty")
ENTITY = ("attrs", "options", "format", "geometryProperty")
TEMPORAL = ("timerel", "timeAt", "endTimeAt", "timeproperty", "lastN", "aggrMethods",
            "aggrPeriodDuration")
OPTIONS = ("keyValues", "simplified", "normalized", "sysAttrs", "temporalValues",
           "aggregatedValues", "count")
FORMATS = ("keyValues", "simplified", "normalized", "temporalValues", "aggregatedValues")


class NgsiLdError(Exception):
    """An NGSI-LD error: HTTP status, error type (last part of its URI), title, detail."""

    def __init__(self, detail: str, status: int = 400, kind: str = "BadRequestData",
                 title: str = "Bad request data") -> None:
        super().__init__(detail)
        self.detail, self.status, self.kind, self.title = detail, status, kind, title

    def problem(self) -> dict[str, str]:
        """The ProblemDetails body."""
        return {"type": ERRORS + self.kind, "title": self.title, "detail": self.detail}


@dataclass(frozen=True)
class Shape:
    """How entities are written: key-values or normalized, system attributes or not."""

    key_values: bool = False
    sys_attrs: bool = False
    temporal_values: bool = False
    aggregated: bool = False
    geometry_property: str = "location"


class Args:
    """One request's query string: known names only, each at most once."""

    def __init__(self, args: MultiDict[str, str], allowed: Iterable[str]) -> None:
        self.args = args
        allowed = (*allowed, *IGNORED)
        for name in args:
            if name not in allowed:
                raise NgsiLdError(f"unknown parameter {name!r}; accepted: {', '.join(allowed)}")
            if len(args.getlist(name)) > 1:
                raise NgsiLdError(f"parameter {name!r} given more than once")
            if "\x00" in args[name]:
                raise NgsiLdError(f"parameter {name!r} contains a NUL character")

    def text(self, name: str) -> str | None:
        """The value, or None when absent or empty."""
        value = self.args.get(name)
        return value if value else None

    def items(self, name: str) -> tuple[str, ...] | None:
        """A comma list (expanded IRIs compacted to their last segment)."""
        value = self.text(name)
        if value is None:
            return None
        found = tuple(_compact(v.strip()) for v in value.split(",") if v.strip())
        if not found or len(found) > MAX_IDS:
            raise NgsiLdError(f"{name}: give between 1 and {MAX_IDS} comma-separated values")
        return found

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        """A whole number in [low, high]."""
        value = self.text(name)
        if value is None:
            return default
        if not value.isdigit() or not low <= int(value) <= high:
            raise NgsiLdError(f"{name}: {value!r} is not a whole number from {low} to {high}")
        return int(value)

    def time(self, name: str) -> datetime | None:
        """An ISO 8601 date-time (naive: UTC)."""
        value = self.text(name)
        if value is None:
            return None
        moment = as_time(value)
        if moment is None:
            raise NgsiLdError(f"{name}: {value!r} is not an ISO 8601 date-time")
        return moment.astimezone(timezone.utc)

    def options(self) -> set[str]:
        """``options`` and ``format`` as one set of option words."""
        found = set(self.items("options") or ())
        unknown = found - set(OPTIONS)
        if unknown:
            raise NgsiLdError(f"options: unknown {', '.join(sorted(unknown))}; accepted: "
                              f"{', '.join(OPTIONS)}")
        fmt = self.text("format")
        if fmt is not None and fmt not in FORMATS:
            raise NgsiLdError(f"format: {fmt!r} is not one of {', '.join(FORMATS)}")
        return found | ({fmt} if fmt else set())

    def shape(self) -> Shape:
        """The representation asked for."""
        options = self.options()
        if {"keyValues", "simplified"} & options and "normalized" in options:
            raise NgsiLdError("options: keyValues and normalized exclude each other")
        return Shape(key_values=bool({"keyValues", "simplified"} & options),
                     sys_attrs="sysAttrs" in options,
                     temporal_values="temporalValues" in options,
                     aggregated="aggregatedValues" in options,
                     geometry_property=self.text("geometryProperty") or "location")


def _compact(name: str) -> str:
    """An expanded IRI as its last segment (``https://.../ParkingSpot`` -> ParkingSpot)."""
    if name.startswith(("http://", "https://")):
        return name.rstrip("/#").replace("#", "/").rsplit("/", 1)[-1] or name
    return name


def entity_query(args: Args, *, required: bool) -> EntityQuery:
    """The filters of a query; with ``required``, at least one must be given (400)."""
    if required and not any(args.text(n) for n in QUERY):
        raise NgsiLdError("give at least one of type, id, idPattern, q, georel or attrs "
                          "(a query of every entity is not allowed)")
    types = args.items("type")
    if types and any(c in t for t in types for c in ";|()"):
        raise NgsiLdError("type: only a comma-separated list of types is supported")
    pattern = args.text("idPattern")
    query = args.text("q")
    try:
        return EntityQuery(
            types=types, ids=args.items("id"),
            id_pattern=compile_pattern(pattern, "idPattern") if pattern else None,
            q=parse_q(query) if query else None,
            geo=parse_geo(args.text("georel"), args.text("geometry"),
                          args.text("coordinates"), args.text("geoproperty")),
            attrs=args.items("attrs"))
    except ValueError as error:  # QueryError, GeoError
        raise NgsiLdError(str(error)) from None


def paging(args: Args) -> tuple[int, int, bool]:
    """(offset, limit, count): limit 0 only with count=true."""
    count_text = args.text("count")
    if count_text not in (None, "true", "false"):
        raise NgsiLdError(f"count: {count_text!r} is not true or false")
    count = count_text == "true" or "count" in args.options()
    limit = args.integer("limit", DEFAULT_LIMIT, 0, MAX_LIMIT)
    if limit == 0 and not count:
        raise NgsiLdError("limit: 0 is only allowed with count=true")
    return args.integer("offset", 0, 0, 10**9), limit, count


def temporal_query(args: Args) -> TemporalQuery:
    """The time bounds, lastN and aggregation of a temporal query."""
    timeproperty = args.text("timeproperty")
    if timeproperty not in (None, "observedAt"):
        raise NgsiLdError("timeproperty: only observedAt is kept for CityLens readings")
    shape = args.shape()
    try:
        start, end = time_bounds(args.text("timerel"), args.time("timeAt"),
                                 args.time("endTimeAt"))
        width = duration_seconds(args.text("aggrPeriodDuration") or "PT0S")
    except ValueError as error:
        raise NgsiLdError(str(error)) from None
    methods = args.items("aggrMethods")
    if methods is not None and not set(methods) <= set(AGGREGATES):
        raise NgsiLdError(f"aggrMethods: choose among {', '.join(AGGREGATES)}")
    if shape.aggregated and methods is None:
        raise NgsiLdError("aggrMethods: required with options=aggregatedValues")
    if methods is None and args.text("aggrPeriodDuration"):
        raise NgsiLdError("aggrPeriodDuration: only with aggrMethods")
    last_n = args.text("lastN")
    if last_n is not None and methods is not None:
        raise NgsiLdError("lastN: not with aggregation")
    return TemporalQuery(
        start=start, end=end,
        last_n=args.integer("lastN", 1, 1, MAX_INSTANCES) if last_n is not None else None,
        methods=methods, width=width, values_only=shape.temporal_values)
