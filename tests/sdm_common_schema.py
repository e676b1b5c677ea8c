"""A local stand-in for the Smart Data Models' ``common-schema.json`` (no network in tests):
the definitions the fixtures' schemas reference, written for these tests and strict where
a served entity could go wrong (its id, its GeoJSON location, its times).

``registry()`` resolves every ``$ref`` of the fixtures' ``schema.json`` files: this
stand-in, and the fixtures' own ``device-schema.json`` and ``Environment-schema.json``.
"""
from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from jsonschema import FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

COMMON_URI = "https://smart-data-models.github.io/data-models/common-schema.json"
DEVICE_URI = "https://smart-data-models.github.io/dataModel.Device/device-schema.json"
ENVIRONMENT_URIS = (
    "https://raw.githubusercontent.com/smart-data-models/dataModel.Environment/master/"
    "Environment-schema.json",
    "https://smart-data-models.github.io/dataModel.Environment/Environment-schema.json",
)
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S+")

LONGITUDE = {"type": "number", "minimum": -180, "maximum": 180}
LATITUDE = {"type": "number", "minimum": -90, "maximum": 90}
POSITION = {"type": "array", "prefixItems": [LONGITUDE, LATITUDE], "minItems": 2,
            "maxItems": 3, "items": {"type": "number"}}
RING = {"type": "array", "items": POSITION, "minItems": 4}


def _geometry(kind: str, coordinates: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": ["type", "coordinates"],
            "properties": {"type": {"const": kind}, "coordinates": coordinates,
                           "bbox": {"type": "array", "items": {"type": "number"}}},
            "additionalProperties": False}


IDENTIFIER = {
    "anyOf": [
        {"type": "string", "minLength": 1, "maxLength": 256,
         "pattern": r"^[\w\-\.\{\}\$\+\*\[\]`|~^@!,:\\]+$"},
        {"type": "string", "format": "uri"},
    ],
}
LOCATION = {"oneOf": [
    _geometry("Point", POSITION),
    _geometry("LineString", {"type": "array", "items": POSITION, "minItems": 2}),
    _geometry("Polygon", {"type": "array", "items": RING, "minItems": 1}),
    _geometry("MultiPoint", {"type": "array", "items": POSITION}),
    _geometry("MultiLineString", {"type": "array", "items": {"type": "array",
                                                             "items": POSITION}}),
    _geometry("MultiPolygon", {"type": "array", "items": {"type": "array", "items": RING}}),
]}
TEXT = {"type": "string"}
TIME = {"type": "string", "format": "date-time"}
PERSON = {"type": "object", "properties": {
    "givenName": TEXT, "familyName": TEXT, "telephone": TEXT, "email": {"$ref": "#/definitions/email"},
}}

COMMON: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": COMMON_URI,
    "definitions": {
        "EntityIdentifierType": IDENTIFIER,
        "email": {"type": "string", "format": "email"},
        "dateObserved": TIME,
        "timeInstant": TIME,
        "GSMA-Commons": {"type": "object", "properties": {
            "id": IDENTIFIER, "name": TEXT, "alternateName": TEXT, "description": TEXT,
            "dataProvider": TEXT, "source": TEXT, "dateCreated": TIME, "dateModified": TIME,
            "owner": {"type": "array", "items": IDENTIFIER},
            "seeAlso": {"oneOf": [{"type": "array", "minItems": 1,
                                   "items": {"type": "string", "format": "uri"}},
                                  {"type": "string", "format": "uri"}]},
        }},
        "Location-Commons": {"type": "object", "properties": {
            "location": LOCATION,
            "address": {"type": "object", "properties": {
                k: TEXT for k in ("streetAddress", "addressLocality", "addressRegion",
                                  "addressCountry", "postalCode", "postOfficeBoxNumber",
                                  "district", "streetNr")}},
            "areaServed": TEXT,
        }},
        "PhysicalObject-Commons": {"type": "object", "properties": {
            "color": TEXT, "image": {"type": "string", "format": "uri"},
            "annotations": {"type": "array", "items": TEXT},
        }},
        "Person-Commons": {"type": "object", "properties": {"person": PERSON}},
    },
}


def format_checker() -> FormatChecker:
    """Formats checked strictly: ``date-time`` (ISO 8601 with an offset) and ``uri`` (a
    scheme and no spaces), beside jsonschema's own."""
    checker = FormatChecker()

    @checker.checks("date-time", raises=ValueError)
    def _date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        return datetime.fromisoformat(value).tzinfo is not None

    @checker.checks("uri")
    def _uri(value: object) -> bool:
        return not isinstance(value, str) or _URI.fullmatch(value) is not None

    return checker


def registry(fixtures: Path) -> Registry:
    """Every schema the fixtures' ``schema.json`` files reference, by its URI."""
    def resource(path: Path) -> Resource[Any]:
        return DRAFT202012.create_resource(json.loads(path.read_text()))

    found: Registry = Registry().with_resource(COMMON_URI, DRAFT202012.create_resource(COMMON))
    found = found.with_resource(DEVICE_URI,
                                resource(fixtures / "dataModel.Device" / "device-schema.json"))
    environment = resource(fixtures / "dataModel.Environment" / "Environment-schema.json")
    for uri in ENVIRONMENT_URIS:
        found = found.with_resource(uri, environment)
    return found
