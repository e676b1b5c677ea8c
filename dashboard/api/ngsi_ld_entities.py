"""Store rows as NGSI-LD entities (normalized), and the other representations: key-values
(``options=keyValues``), only some attributes (``attrs``), without system attributes, and
GeoJSON Features.

An asset is its Smart Data Model entity with the id and attribute names CityLens ingested:
its type; ``name``; ``location`` (a GeoProperty Point); ``status``; each latest reading
as a Property with ``value``, ``observedAt`` and ``unitCode``; ``dateObserved`` (its
newest reading); its static attributes (``ref*`` ones as Relationships, GeoJSON geometries
as GeoProperties) except those that can reach a person (``WITHHELD``). ``modifiedAt`` (system attribute) is its last ingest.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, select

from dashboard.model import Asset, LatestReading
from dashboard.units import UNIT_CODES, unit_label

CORE_CONTEXT = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
SDM_CONTEXT = "https://smart-data-models.github.io/data-models/context.jsonld"
CONTEXT = [SDM_CONTEXT, CORE_CONTEXT]
SYSTEM = ("createdAt", "modifiedAt")
GEOJSON_TYPES = frozenset({"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon",
                           "MultiPolygon", "GeometryCollection"})
# Stored unit symbols (in any spelling) -> UN/CEFACT Recommendation 20 codes (unitCode).
UNIT_CODE_OF: dict[str, str] = {
    **{unit_label(symbol): code for code, symbol in UNIT_CODES.items()},
    **{symbol: code for code, symbol in UNIT_CODES.items()},
}
# Models whose ``status`` has "ok" among its values (elsewhere CityLens's default "ok"
# means that the source gave no status, and none is served).
OK_STATUS_TYPES = frozenset({"WasteContainer", "Streetlight", "StreetlightGroup",
                             "StreetlightControlCabinet"})
# Static attributes never published, whatever the source sent: the Smart Data Models'
# fields that can name or reach a person or their vehicle or device (an owner, a contact,
# a phone, a plate, a network address). The public API publishes no static attributes.
WITHHELD = frozenset({
    "owner", "contactPoint", "email", "telephone", "faxNumber", "person", "refPerson",
    "refUser", "givenName", "familyName", "ipAddress", "macAddress", "license_plate",
    "licensePlate", "vehiclePlateIdentifier", "vehicleIdentificationNumber",
})
ASSET_COLUMNS = (Asset.pk, Asset.id, Asset.type, Asset.name, Asset.lat, Asset.lon,
                 Asset.status, Asset.attributes, Asset.last_seen)


def iso(moment: datetime | int | float) -> str:
    """A time (aware datetime or epoch seconds) as ISO 8601 UTC with ``Z``."""
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, timezone.utc)
    text = moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    return text


def unit_code(unit: str | None) -> str | None:
    """The UN/CEFACT code of a stored unit (an unknown unit as it is)."""
    if not unit:
        return None
    return UNIT_CODE_OF.get(unit) or UNIT_CODE_OF.get(unit_label(unit)) or unit


def _is_geometry(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get("type") in GEOJSON_TYPES and (
        "coordinates" in value or "geometries" in value)


def _attribute(name: str, value: Any) -> dict[str, Any]:
    """A static attribute in normalized form: Relationship, GeoProperty or Property."""
    refs = isinstance(value, str) or (
        isinstance(value, list) and value and all(isinstance(v, str) for v in value))
    if name.startswith("ref") and refs:
        return {"type": "Relationship", "object": value}
    if _is_geometry(value):
        return {"type": "GeoProperty", "value": value}
    return {"type": "Property", "value": value}


def readings_of(conn: Connection, pks: Iterable[int]) -> dict[int, list[tuple[Any, ...]]]:
    """Latest readings (metric, time, value, unit) of the given assets, by asset key."""
    found: dict[int, list[tuple[Any, ...]]] = {}
    keys = sorted(set(pks))
    lr = LatestReading
    for start in range(0, len(keys), 500):
        stmt = (select(lr.asset_pk, lr.metric, lr.time, lr.value, lr.unit)
                .where(lr.asset_pk.in_(keys[start:start + 500]))
                .order_by(lr.asset_pk, lr.metric))
        for pk, metric, when, value, unit in conn.execute(stmt):
            found.setdefault(pk, []).append((metric, when, value, unit))
    return found


def asset_entity(row: Any, readings: list[tuple[Any, ...]]) -> dict[str, Any]:
    """One asset row (``ASSET_COLUMNS``) and its latest readings as a normalized entity."""
    attributes: dict[str, Any] = dict(row.attributes or {})
    entity: dict[str, Any] = {"id": row.id, "type": row.type}
    if row.name:
        entity["name"] = {"type": "Property", "value": row.name}
    if row.lat is not None and row.lon is not None:
        entity["location"] = {"type": "GeoProperty",
                              "value": {"type": "Point", "coordinates": [row.lon, row.lat]}}
    status = attributes.pop("status", None)
    if status is None and (row.status != "ok" or row.type in OK_STATUS_TYPES):
        status = row.status  # "ok" is CityLens's "nothing reported", unless the model says it
    if status == attributes.get("deviceState"):
        status = None  # a Device's state is its deviceState, served as such
    if status is not None:
        entity["status"] = {"type": "Property", "value": status}
    for name, value in attributes.items():
        if name not in WITHHELD:
            entity.setdefault(name, _attribute(name, value))
    newest = 0
    for metric, when, value, unit in readings:
        reading: dict[str, Any] = {"type": "Property", "value": value,
                                   "observedAt": iso(when), "modifiedAt": iso(when)}
        code = unit_code(unit)
        if code:
            reading["unitCode"] = code
        entity[metric] = reading
        newest = max(newest, int(when))
    if newest and "dateObserved" not in entity:
        entity["dateObserved"] = {"type": "Property", "value": iso(newest)}
    if row.last_seen is not None:
        entity["modifiedAt"] = iso(row.last_seen)
    return entity


def has_any(entity: Mapping[str, Any], attrs: Iterable[str]) -> bool:
    """Whether the entity has at least one of ``attrs``."""
    return any(name in entity for name in attrs)


def shaped(entity: Mapping[str, Any], *, attrs: tuple[str, ...] | None, key_values: bool,
           sys_attrs: bool) -> dict[str, Any]:
    """The entity as asked: only ``attrs`` (with id and type), key-values or normalized,
    with or without ``createdAt``/``modifiedAt``."""
    result: dict[str, Any] = {}
    for name, attr in entity.items():
        if name in ("id", "type"):
            result[name] = attr
        elif name in SYSTEM:
            if sys_attrs and not key_values:
                result[name] = attr
        elif attrs is None or name in attrs:
            result[name] = _plain(attr) if key_values else (
                attr if sys_attrs else {k: v for k, v in attr.items() if k not in SYSTEM})
    return result


def _plain(attr: Mapping[str, Any]) -> Any:
    return attr.get("object") if attr.get("type") == "Relationship" else attr.get("value")


def feature(entity: Mapping[str, Any], geo: Any) -> dict[str, Any]:
    """An entity (already shaped) as a GeoJSON Feature (NGSI-LD's GeoJSON representation),
    its geometry the value of ``geo`` (the full entity's GeoProperty, or None)."""
    if isinstance(geo, Mapping) and geo.get("type") == "GeoProperty":
        geo = geo.get("value")
    properties = {k: v for k, v in entity.items() if k != "id"}
    return {"id": entity["id"], "type": "Feature",
            "geometry": geo if _is_geometry(geo) else None, "properties": properties}
