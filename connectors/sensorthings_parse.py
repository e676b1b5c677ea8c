"""Parsing and mapping for OGC SensorThings API payloads: collection responses to raw
records, Datastreams (with their Thing) to assets, Observations to observations.
No I/O here; ``connectors.sensorthings`` fetches.
"""
from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

from connectors.base import Mapped, SourceFormatError
from connectors.common import load_json
from connectors.values import coordinate, cursor_text, parse_time

URN_PREFIX = "urn:ngsi-ld:Device:sta:"
ASSET_TYPE = "Device"


def parse_collection(data: bytes, origin: str) -> tuple[list[Any], str | None]:
    """The entities of a collection response (or bare list) and its ``@iot.nextLink``."""
    doc = load_json(data, origin)
    if isinstance(doc, list):
        return doc, None
    if isinstance(doc, dict):
        if isinstance(doc.get("value"), list):
            link = doc.get("@iot.nextLink")
            return doc["value"], link if isinstance(link, str) and link.strip() else None
        if "@iot.id" in doc:
            return [doc], None  # a single entity
        raise SourceFormatError(f"{origin}: JSON object has no 'value' list of entities")
    raise SourceFormatError(f"{origin}: JSON is a {type(doc).__name__}, not a collection")


def slug(text: str, sep: str = "_", limit: int = 60) -> str:
    """Lower-case ASCII words of ``text`` joined by ``sep`` ("Air Temp (°C)" -> air_temp_c)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", sep, ascii_text.lower()).strip(sep)[:limit].strip(sep)


def host_slug(host: str) -> str:
    """A host (and port) as a URN-safe slug: ``sensors.bgs.ac.uk`` -> ``sensors-bgs-ac-uk``."""
    return slug(host, "-", 80) or "unknown"


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{what} is not an object: {type(value).__name__}")
    return value


def _text(entity: Mapping[str, Any], field: str) -> str:
    value = entity.get(field)
    if value is None or isinstance(value, (dict, list)):
        return ""
    return str(value).replace("\x00", "").strip()


def entity_id(entity: Mapping[str, Any], what: str) -> str:
    """An entity's ``@iot.id`` (number or text) as text; ValueError when missing or odd."""
    value = entity.get("@iot.id")
    if isinstance(value, bool) or not isinstance(value, (int, str)) or str(value).strip() == "":
        raise ValueError(f"{what} has no usable @iot.id: {str(value)[:40]!r}")
    return str(value).strip()


def point(thing: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """(lat, lon) of the Thing's first GeoJSON Point Location; (None, None) if none fits."""
    locations = thing.get("Locations")
    for location in locations if isinstance(locations, list) else []:
        geometry = location.get("location") if isinstance(location, Mapping) else None
        if isinstance(geometry, Mapping) and geometry.get("type") == "Feature":
            geometry = geometry.get("geometry")
        if not isinstance(geometry, Mapping) or geometry.get("type") != "Point":
            continue
        coordinates = geometry.get("coordinates")
        if not isinstance(coordinates, list) or len(coordinates) < 2:
            continue
        try:
            lon = coordinate(coordinates[0], "longitude", 180.0)
            lat = coordinate(coordinates[1], "latitude", 90.0)
        except ValueError:
            continue
        if lat is not None and lon is not None and (lat, lon) != (0.0, 0.0):
            return lat, lon
    return None, None


def metric_of(datastream: Mapping[str, Any]) -> str:
    """A slug of the ObservedProperty's name (else of the Datastream's name)."""
    prop = datastream.get("ObservedProperty")
    name = _text(prop, "name") if isinstance(prop, Mapping) else ""
    metric = slug(name) or slug(_text(datastream, "name"))
    if not metric:
        raise ValueError("Datastream has no ObservedProperty name to use as the metric")
    return metric


def unit_of(datastream: Mapping[str, Any]) -> str | None:
    """The unitOfMeasurement's symbol (cut to the column's 20 characters), if any."""
    unit = datastream.get("unitOfMeasurement")
    symbol = _text(unit, "symbol") if isinstance(unit, Mapping) else ""
    return symbol[:20] or None


def map_datastream(datastream: Any, host: str, domain: str) -> dict[str, Any]:
    """A Datastream (with its ``Thing`` embedded) as an Asset row."""
    datastream = _mapping(datastream, "Datastream")
    ds_id = entity_id(datastream, "Datastream")
    urn = f"{URN_PREFIX}{host}:{quote(ds_id, safe='')}"
    if len(urn) > 200:
        raise ValueError(f"Datastream @iot.id too long: {ds_id[:40]!r}...")
    thing = datastream.get("Thing")
    thing = thing if isinstance(thing, Mapping) else {}
    lat, lon = point(thing)
    names = [n for n in (_text(thing, "name"), _text(datastream, "name")) if n]
    prop = datastream.get("ObservedProperty")
    unit = datastream.get("unitOfMeasurement")
    return {
        "id": urn,
        "type": ASSET_TYPE,
        "domain": domain,
        "name": (" - ".join(dict.fromkeys(names)) or f"Datastream {ds_id}")[:200],
        "lat": lat,
        "lon": lon,
        "status": "ok",
        "attributes": {
            "datastream_id": ds_id,
            "thing": _text(thing, "name"),
            "observedProperty": _text(prop, "name") if isinstance(prop, Mapping) else "",
            "unitOfMeasurement": {k: _text(unit, k) for k in ("name", "symbol", "definition")}
            if isinstance(unit, Mapping) else {},
        },
    }


def observation_time(observation: Mapping[str, Any]) -> datetime:
    """The phenomenonTime as aware UTC (an interval ``start/end`` gives its end)."""
    value = observation.get("phenomenonTime")
    if isinstance(value, str) and "/" in value:
        value = value.rsplit("/", 1)[1]
    moment = parse_time(value, "phenomenonTime")
    if moment is None:
        raise ValueError("missing phenomenonTime")
    return moment


def result_value(observation: Mapping[str, Any]) -> float:
    """The numeric ``result``; ValueError for text, booleans, objects, NaN or infinity."""
    result = observation.get("result")
    if isinstance(result, bool) or not isinstance(result, (int, float, str)):
        raise ValueError(f"result is not a number: {str(result)[:40]!r}")
    try:
        value = float(result)
    except (ValueError, OverflowError):
        raise ValueError(f"result is not a number: {str(result)[:40]!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"result is not a finite number: {str(result)[:40]!r}")
    return value


def map_observation(
    observation: Any, datastream: Any, host: str, domain: str
) -> Mapped:
    """An Observation of ``datastream`` as one observation, with its asset row."""
    observation = _mapping(observation, "Observation")
    datastream = _mapping(datastream, "Datastream")
    asset = map_datastream(datastream, host, domain)
    moment = observation_time(observation)
    row = {"asset_id": asset["id"], "metric": metric_of(datastream), "time": moment,
           "value": result_value(observation), "unit": unit_of(datastream)}
    return Mapped(assets=[asset], observations=[row], cursor=cursor_text(moment))
