"""Vocabulary and values of the NGSI connector: FIWARE types -> CityLens domains, which
attributes carry an entity's time, which numbers are not measurements, UN/CEFACT unit
codes; and readers of single values (times, numbers, locations, ids) that raise only
ValueError.

Domains: a type in ``TYPE_DOMAINS`` has its domain. Any other type (``Device`` and
``DeviceMeasurement`` among them) is placed by what it measures: its
``controlledProperty``, then ``category``/``deviceCategory`` values, looked up in
``PROPERTY_DOMAINS``; a specific domain (waste, parking, water...) wins over
environment, so a bin sensor that also reads temperature is waste. With no hint the
configured default applies (``environment``: most unnamed city sensors are environmental).
A source's ``domains`` setting overrides all of this per type.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from shapely.geometry import shape

from connectors.values import coordinate, parse_time
from dashboard.units import UNIT_CODES

MAX_DEPTH = 32  # nesting of a structured attribute value
_OFFSET_AND_Z = re.compile(r"([+-]\d\d:?\d\d)Z$")  # "2010-04-15T06:37:38-08:00Z" (seen)


@dataclass(frozen=True)
class Attr:
    """One attribute, whatever form it came in: its plain value and what came with it."""

    value: Any
    kind: str | None = None  # declared NGSI type: Number, Text, Property, Relationship...
    observed_at: Any = None
    unit: Any = None


TYPE_DOMAINS: dict[str, str] = {
    **dict.fromkeys(("AirQualityObserved", "AirQualityForecast", "NoiseLevelObserved",
                     "WeatherObserved", "WeatherForecast", "EnvironmentObserved",
                     "IndoorEnvironmentObserved", "GreenspaceRecord"), "environment"),
    **dict.fromkeys(("OffStreetParking", "OnStreetParking", "ParkingSpot", "ParkingGroup",
                     "ParkingAccess"), "parking"),
    **dict.fromkeys(("WasteContainer", "WasteContainerIsle"), "waste"),
    **dict.fromkeys(("TrafficFlowObserved", "CrowdFlowObserved", "ItemFlowObserved", "Road",
                     "RoadSegment", "Vehicle", "BikeHireDockingStation", "GtfsStop",
                     "EVChargingStation"), "mobility"),
    **dict.fromkeys(("Streetlight", "StreetlightGroup", "StreetlightControlCabinet"),
                    "lighting"),
    **dict.fromkeys(("WaterQualityObserved", "WaterConsumptionObserved", "WaterObserved"),
                    "water"),
    **dict.fromkeys(("ThreePhaseAcMeasurement", "EnergyMeter"), "energy"),
    "AccessPoint": "digital_inclusion",
    "Alert": "safety",
}

# Device.controlledProperty (Smart Data Models enum) and category values -> domain.
PROPERTY_DOMAINS: dict[str, str] = {
    "fillingLevel": "waste",
    "occupancy": "parking",
    **dict.fromkeys(("trafficFlow", "averageVelocity", "speed"), "mobility"),
    **dict.fromkeys(("waterConsumption", "waterFlow", "waterLevel", "waterPollution", "pH",
                     "conductivity", "conductance", "turbidity", "freeChlorine", "salinity",
                     "tds", "tss", "orp", "cdom"), "water"),
    **dict.fromkeys(("electricityConsumption", "energy", "power", "gasConsumption", "HVAC"),
                    "energy"),
    "smoke": "safety",
    **dict.fromkeys(("airPollution", "atmosphericPressure", "humidity", "noiseLevel",
                     "precipitation", "pressure", "temperature", "windDirection", "windSpeed",
                     "weatherConditions", "solarRadiation", "soilMoisture", "light"),
                    "environment"),
}
DOMAIN_HINTS = ("controlledProperty", "category", "deviceCategory")

# Open311-shaped entities (dataModel.IssueTracking).
REQUEST_TYPES = frozenset({"ServiceRequest", "service_requests", "Open311ServiceRequest"})
SERVICE_TYPES = frozenset({"services", "Open311ServiceType"})

# The entity's time, first found wins (its observations' time when they carry none).
ENTITY_TIMES = ("dateObserved", "observationDateTime", "dateLastValueReported", "TimeInstant",
                "dateModified", "modifiedAt")
# NGSI v2 attribute metadata giving the attribute's own observation time.
METADATA_TIMES = ("observedAt", "dateObserved", "timestamp", "TimeInstant")
# Declared NGSI v2 types whose string values are read as numbers.
NUMBER_KINDS = frozenset({"Number", "Integer", "Float", "Double", "number", "integer", "float"})
# Numbers that describe the asset rather than measure anything: kept as attributes.
STATIC_NUMBERS = frozenset({"laneId", "lanternHeight", "powerRating", "binCapacity",
                            "binMaxLoad", "binRecommendedLoad", "binFullnessThreshold",
                            "numberOfLanes", "floor"})


def unit_symbol(code: Any) -> str | None:
    """A unit code as its symbol (unknown codes kept), at most 20 characters; None if none."""
    if not isinstance(code, str) or not code.strip() or not code.isprintable():
        return None
    symbol = code.strip()
    return UNIT_CODES.get(symbol, symbol)[:20]


def _values(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def domain_of(kind: str, attrs: Mapping[str, Attr], overrides: Mapping[str, str] | None,
              default: str) -> str:
    """The CityLens domain of an entity of type ``kind`` with attributes ``attrs``."""
    if overrides and kind in overrides:
        return overrides[kind]
    if kind in TYPE_DOMAINS:
        return TYPE_DOMAINS[kind]
    hinted = [PROPERTY_DOMAINS[v] for name in DOMAIN_HINTS if name in attrs
              for v in _values(attrs[name].value) if v in PROPERTY_DOMAINS]
    specific = [d for d in hinted if d != "environment"]
    return specific[0] if specific else hinted[0] if hinted else default


# --- values -------------------------------------------------------------------------

def ngsi_time(value: Any, field: str, zone: tzinfo | None = None) -> datetime | None:
    """An NGSI time as aware UTC (an interval ``start/end`` counts from its start)."""
    if isinstance(value, Mapping) and "@value" in value:
        value = value["@value"]
    return parse_time(time_text(value) if isinstance(value, str) else value, field, zone)


def time_text(value: str) -> str:
    """A time as ISO 8601 that Python reads: an interval ``start/end`` as its start, and
    an offset followed by a stray ``Z`` (``-08:00Z``, seen in Smart Data Models) without it."""
    return _OFFSET_AND_Z.sub(r"\1", value.strip().split("/", 1)[0])


def _as_float(attr: Attr) -> float | None:
    """The attribute's value read as a float, finite or not (an overflowing one as
    infinity), when it is numeric: a JSON number, or the text of a Number-typed attribute;
    None otherwise (booleans are not numbers)."""
    value = attr.value
    if isinstance(value, bool) or not (isinstance(value, (int, float)) or (
            isinstance(value, str) and attr.kind in NUMBER_KINDS)):
        return None
    try:
        return float(value)
    except OverflowError:
        return math.inf
    except ValueError:
        return None


def number(attr: Attr) -> float | None:
    """The attribute's value as a finite number, if it is one (booleans are not)."""
    if attr.kind in ("Relationship", "ListRelationship"):
        return None
    result = _as_float(attr)
    return result if result is not None and math.isfinite(result) else None


def not_finite(attr: Attr) -> bool:
    """Whether the attribute holds a number that is not finite (NaN, ±Infinity, or beyond
    a float): a reading the sensor sent but that cannot be stored."""
    result = _as_float(attr)
    return result is not None and not math.isfinite(result)


def clean(value: Any, depth: int = 0) -> Any:
    """A JSON value safe for every store: no NaN/inf, NUL or lone surrogates; ValueError
    when nested deeper than ``MAX_DEPTH`` (deeper would exhaust Python's stack)."""
    if depth > MAX_DEPTH:
        raise ValueError(f"attribute value nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, Mapping):
        return {clean(str(k)): clean(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v, depth + 1) for v in value]
    return value


def label(attr: Attr | None, limit: int) -> str:
    """A text value (a LanguageProperty's first language), cleaned and cut; else ''."""
    value = attr.value if attr else None
    if isinstance(value, Mapping):
        value = next((v for v in value.values() if isinstance(v, str)), None)
    return clean(value).strip()[:limit] if isinstance(value, str) else ""


def location(attr: Attr | None) -> tuple[float | None, float | None, Any]:
    """(lat, lon, geometry kept when not a Point) of a location attribute.

    Lines and polygons are placed at a point on them; (0, 0) counts as unlocated."""
    value = attr.value if attr else None
    if value in (None, "", {}):
        return None, None, None
    if isinstance(value, str):
        if attr is None or attr.kind != "geo:point":
            return None, None, clean(value)  # free text, not a place
        parts = value.split(",")
        if len(parts) != 2:
            raise ValueError(f"location geo:point is not 'lat, lon': {value[:40]!r}")
        lat, lon = coordinate(parts[0], "latitude", 90), coordinate(parts[1], "longitude", 180)
        kept = None
    elif isinstance(value, Mapping) and value.get("type") == "Point":
        coords = value.get("coordinates")
        if not isinstance(coords, list) or len(coords) < 2:
            raise ValueError("location Point has no [longitude, latitude] coordinates")
        lon, lat = coordinate(coords[0], "longitude", 180), coordinate(coords[1], "latitude", 90)
        kept = None
    else:
        try:
            point = shape(value).representative_point()
            lon, lat = point.x, point.y
        except Exception as error:  # noqa: BLE001 - shapely/GEOS raise many kinds
            problem = " ".join(str(error).split())[:80]
            raise ValueError(f"location is not a GeoJSON geometry ({problem})") from None
        lon, lat = coordinate(lon, "longitude", 180), coordinate(lat, "latitude", 90)
        kept = clean(value)
    if lat is None or lon is None or (lat == 0.0 and lon == 0.0):
        return None, None, kept
    return lat, lon, kept


def asset_urn(entity_id: Any, kind: str) -> str:
    """The entity id as a URN: kept when it is one, else ``urn:ngsi-ld:<type>:<id>``."""
    if not isinstance(entity_id, str) or not entity_id.strip():
        raise ValueError("entity has no id")
    entity_id = entity_id.strip()
    if not entity_id.isprintable():  # control characters, NUL, lone surrogates
        raise ValueError(f"entity id has control characters: {entity_id[:60]!r}")
    urn = entity_id if entity_id.lower().startswith("urn:") else f"urn:ngsi-ld:{kind}:{entity_id}"
    if len(urn) > 200:
        raise ValueError(f"entity id longer than 200 characters: {urn[:60]!r}...")
    return urn
