"""Parsing and mapping for FIWARE NGSI v2 and NGSI-LD entities (key-values and normalized,
and the NGSI-LD GeoJSON representation). No I/O here; ``connectors.ngsi`` fetches.

An entity becomes one asset (``urn:ngsi-ld:<type>:<id>`` unless its id is a URN already)
and one observation per numeric attribute that has a time: its own ``observedAt`` (LD)
or ``timestamp``/``TimeInstant``/``dateObserved`` metadata (v2), else the entity's time
(the first of ``ENTITY_TIMES``; an ISO interval counts from its start). Numeric attributes
without any time, and every other attribute, go into the asset's ``attributes``. Open311
shaped entities (``ServiceRequest``, ``service_requests``) become service requests and
``services`` become catalogue entries, through ``connectors.open311_parse``.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any

from connectors.base import Mapped, SourceFormatError
from connectors.common import load_json
from connectors.ngsi_values import (
    ENTITY_TIMES,
    METADATA_TIMES,
    REQUEST_TYPES,
    SERVICE_TYPES,
    STATIC_NUMBERS,
    Attr,
    asset_urn,
    clean,
    domain_of,
    label,
    location,
    ngsi_time,
    not_finite,
    number,
    time_text,
    unit_symbol,
)
from connectors.open311_parse import map_request, map_service, record_cursor
from connectors.values import cursor_text

LD_KINDS = frozenset({"Property", "GeoProperty", "Relationship", "LanguageProperty",
                      "VocabProperty", "JsonProperty", "ListProperty", "ListRelationship"})
VALUE_KEYS = ("value", "object", "languageMap", "vocab", "json", "valueList", "objectList")


# --- documents ----------------------------------------------------------------------

def parse_document(data: bytes, origin: str) -> list[Any]:
    """The raw entities of a file or response; SourceFormatError if it holds none."""
    return entities_of(load_json(data, origin), origin)


def entities_of(doc: Any, origin: str) -> list[Any]:
    """Entities of a parsed document: a list, one entity, a GeoJSON Feature or
    FeatureCollection, a notification (``data``) or a batch (``entities``)."""
    if isinstance(doc, list):
        return doc
    if not isinstance(doc, Mapping):
        raise SourceFormatError(f"{origin}: JSON is a {type(doc).__name__}, not NGSI entities")
    if doc.get("type") == "FeatureCollection":
        features = doc.get("features")
        if not isinstance(features, list):
            raise SourceFormatError(f"{origin}: the FeatureCollection has no features list")
        return features
    for key in ("data", "entities"):
        entities = doc.get(key)
        if isinstance(entities, list):
            return entities
    if "type" in doc or "id" in doc:
        return [doc]
    raise SourceFormatError(f"{origin}: JSON object is not an NGSI entity nor a list of them")


def parse_notification(body: bytes | str | Mapping[str, Any]) -> list[Any]:
    """The entities of a broker notification: NGSI v2 ``{"subscriptionId", "data"}`` or
    NGSI-LD ``{"type": "Notification", "data"}``. Raises SourceFormatError (a ValueError)
    when the body is not one; the entities are returned raw, for ``map_entity``."""
    if isinstance(body, (bytes, bytearray, str)):
        body = load_json(body, "notification")
    if not isinstance(body, Mapping):
        raise SourceFormatError(f"notification: JSON is a {type(body).__name__}, not an object")
    if body.get("type") != "Notification" and "subscriptionId" not in body:
        raise SourceFormatError("notification: neither an NGSI-LD Notification nor an NGSI v2 "
                                "notification (no subscriptionId)")
    data = body.get("data")
    if isinstance(data, Mapping) and data.get("type") == "FeatureCollection":
        data = data.get("features")
    if not isinstance(data, list):
        raise SourceFormatError("notification: no data list")
    return list(data)


# --- entities and attributes --------------------------------------------------------

def as_entity(record: Any) -> Mapping[str, Any]:
    """The record as an entity; a GeoJSON Feature becomes the entity it represents."""
    if not isinstance(record, Mapping):
        raise ValueError(f"entity is not an object: {type(record).__name__}")
    properties = record.get("properties")
    if record.get("type") == "Feature" and isinstance(properties, Mapping):
        entity = dict(properties)
        entity["id"] = record.get("id", properties.get("id"))
        if "location" not in entity and record.get("geometry") is not None:
            entity["location"] = record["geometry"]
        return entity
    return record


def compact(name: str) -> str:
    """An expanded IRI (``https://smartdatamodels.org/.../no2``) as its last segment."""
    if name.startswith(("http://", "https://")):
        return re.split(r"[#/]", name.rstrip("/#"))[-1] or name
    return name


def entity_type(entity: Mapping[str, Any]) -> str:
    """The entity's type (the first of several, compacted); ValueError if unusable."""
    kind = entity.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if isinstance(k, str)), None)
    if not isinstance(kind, str) or not kind.strip():
        raise ValueError("entity has no type")
    kind = compact(kind.strip())
    if len(kind) > 80 or "." in kind or not kind.isprintable():
        raise ValueError(f"unusable entity type {kind[:40]!r} (dots, control characters "
                         "or longer than 80)")
    return kind


def _is_normalized(raw: Any) -> bool:
    if not isinstance(raw, Mapping):
        return False
    kind = raw.get("type")
    return (kind is None or isinstance(kind, str)) and any(k in raw for k in VALUE_KEYS)


def _attr(raw: Any) -> Attr:
    if isinstance(raw, list) and raw and all(
        _is_normalized(i) and i.get("type") in LD_KINDS for i in raw
    ):  # NGSI-LD multi-attribute: the default instance (no datasetId), else the first
        raw = next((i for i in raw if "datasetId" not in i), raw[0])
    if not _is_normalized(raw):
        return Attr(raw)  # key-values
    value = next(raw[k] for k in VALUE_KEYS if k in raw)
    if isinstance(value, Mapping) and "@value" in value:
        value = value["@value"]  # NGSI-LD typed literal {"@type": "DateTime", "@value": ...}
    observed, unit = raw.get("observedAt"), raw.get("unitCode")
    metadata = raw.get("metadata")
    if isinstance(metadata, Mapping):
        for key in METADATA_TIMES:
            if key in metadata and observed is None:
                observed = _meta_value(metadata[key])
        for key in ("unitCode", "unit"):
            if key in metadata and unit is None:
                unit = _meta_value(metadata[key])
    kind = raw.get("type")
    return Attr(value, kind if isinstance(kind, str) else None, observed, unit)


def _meta_value(meta: Any) -> Any:
    return meta.get("value") if isinstance(meta, Mapping) else meta


def attributes_of(entity: Mapping[str, Any]) -> dict[str, Attr]:
    """Every attribute of the entity (not id, type or @context), by compacted name."""
    return {compact(key): _attr(raw) for key, raw in entity.items()
            if isinstance(key, str) and key not in ("id", "type", "@context")}


# --- mapping ------------------------------------------------------------------------

def _times(
    attrs: Mapping[str, Attr], zone: tzinfo | None
) -> tuple[datetime | None, dict[str, datetime], list[datetime]]:
    """The entity's time, each attribute's own time, and every time (for the cursor)."""
    main: datetime | None = None
    seen: list[datetime] = []
    for name in ENTITY_TIMES:
        attr = attrs.get(name)
        if attr is not None and attr.value not in (None, ""):
            moment = ngsi_time(attr.value, name, zone)
            if moment is not None:
                main = main or moment
                seen.append(moment)
    own: dict[str, datetime] = {}
    for name, attr in attrs.items():
        if attr.observed_at not in (None, ""):
            moment = ngsi_time(attr.observed_at, f"{name} observedAt", zone)
            if moment is not None:
                own[name] = moment
    return main, own, seen + list(own.values())


def entity_cursor(record: Any, zone: tzinfo | None = None) -> str | None:
    """The record's newest time as cursor text; None when it has none or is unreadable."""
    try:
        entity = as_entity(record)
        attrs = attributes_of(entity)
        if entity_type(entity) in REQUEST_TYPES:
            return record_cursor(_open311_record(entity, attrs), zone)
        seen = _times(attrs, zone)[2]
    except ValueError:
        return None
    return cursor_text(max(seen)) if seen else None


def map_entity(
    record: Any,
    zone: tzinfo | None = None,
    domains: Mapping[str, str] | None = None,
    default_domain: str = "environment",
) -> Mapped:
    """One NGSI entity (any form) in the unified model; ValueError when it is bad."""
    entity = as_entity(record)
    kind = entity_type(entity)
    attrs = attributes_of(entity)
    if kind in REQUEST_TYPES:
        row = _open311_record(entity, attrs)
        return Mapped(service_requests=[map_request(row, zone)], cursor=record_cursor(row, zone))
    if kind in SERVICE_TYPES:
        return Mapped(services=[map_service(_open311_record(entity, attrs))])
    urn = asset_urn(entity.get("id"), kind)
    main, own, seen = _times(attrs, zone)
    lat, lon, geometry = location(attrs.get("location"))
    observations: list[dict[str, Any]] = []
    static: dict[str, Any] = {}
    if geometry is not None:  # a line or polygon (kept whole), or a place named in text
        static["geometry" if isinstance(geometry, Mapping) else "location"] = geometry
    for name, attr in attrs.items():
        if name in ("location", "name", "status") or name in ENTITY_TIMES:
            continue
        metric = _metric(name, kind, attrs)
        if metric and not_finite(attr):  # quarantined with the reason, never dropped
            raise ValueError(f"{name}: {str(attr.value)[:40]!r} is not a finite number")
        value = number(attr) if metric else None
        when = own.get(name, main)
        if value is None or when is None:
            static[name] = clean(attr.value)
            continue
        unit = attr.unit if attr.unit else (
            attrs["unit"].value if kind == "DeviceMeasurement" and "unit" in attrs else None)
        observations.append({"asset_id": urn, "metric": metric, "time": when, "value": value,
                             "unit": unit_symbol(unit)})
    status = label(attrs.get("status"), 40) or label(attrs.get("deviceState"), 40) or "ok"
    if "status" in attrs and not isinstance(attrs["status"].value, str):
        static["status"] = clean(attrs["status"].value)
    asset: dict[str, Any] = {"id": urn, "type": kind,
                             "domain": domain_of(kind, attrs, domains, default_domain)}
    # A partial update (a broker's notification of one attribute) writes what it carries
    # and keeps the rest: name, place (and so district), status, other attributes.
    if "name" in attrs:
        asset["name"] = label(attrs.get("name"), 200)
    if "location" in attrs:
        asset["lat"], asset["lon"] = lat, lon
    if "status" in attrs or "deviceState" in attrs:
        asset["status"] = status
    if static:
        asset["attributes"] = static
    return Mapped(assets=[asset], observations=observations,
                  cursor=cursor_text(max(seen)) if seen else None)


def _metric(name: str, kind: str, attrs: Mapping[str, Attr]) -> str | None:
    """The metric an attribute's numbers are stored under, or None when it has none."""
    if name in STATIC_NUMBERS or name.startswith("dateObserved"):
        return None
    if kind == "DeviceMeasurement" and name == "numValue":  # the value of controlledProperty
        measured = attrs.get("controlledProperty")
        if measured is not None and isinstance(measured.value, str) and measured.value.strip():
            name = compact(measured.value.strip())
    if len(name) > 60 or len(kind) + 1 + len(name) > 120 or not name.isprintable():
        return None
    return name


def _open311_record(entity: Mapping[str, Any], attrs: Mapping[str, Attr]) -> dict[str, Any]:
    """An Open311-shaped entity as the flat GeoReport record ``open311_parse`` maps."""
    flat: dict[str, Any] = {name: attr.value for name, attr in attrs.items()}
    for name, value in flat.items():
        if isinstance(value, str) and name.endswith("_datetime"):
            flat[name] = time_text(value)
    if flat.get("service_request_id") in (None, ""):
        flat["service_request_id"] = entity.get("id")
    address = flat.get("address")
    if isinstance(address, Mapping):
        parts = (address.get(k) for k in ("streetAddress", "addressLocality"))
        address = ", ".join(p for p in parts if isinstance(p, str) and p.strip())
    flat["address"] = flat.get("address_string") or address
    if flat.get("lat") is None and flat.get("long") is None:
        lat, lon, _ = location(attrs.get("location"))
        flat["lat"], flat["long"] = lat, lon
    flat["type"] = flat.get("open311:type") or flat.get("open311type")  # realtime | batch
    return flat
