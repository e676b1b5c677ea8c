"""The OpenAPI 3.0 description of ``/api/v1`` (served at ``/api/v1/openapi.json``).

Parameter schemas mirror the checks in ``dashboard.api.params`` and the blueprint:
anything outside them is answered with 400 and an ``Error`` body.
"""
from __future__ import annotations

from typing import Any

from dashboard.api.params import MAX_PAGE_SIZE
from dashboard.kpis.windows import WINDOWS
from dashboard.periods import KPI_PERIODS
from dashboard.model import DOMAINS

REF = "#/components/schemas/"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF + name}


def _nullable(kind: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "nullable": True, **extra}


def _query(name: str, schema: dict[str, Any], description: str,
           required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema,
            "description": description}


def _error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": _ref("Error")}}}


FORMAT = _query("format", {"type": "string", "enum": ["json", "csv"], "default": "json"},
                "Response format.")
DISTRICT = _query("district", {"type": "string"}, "District id (see /districts).")
DOMAIN = _query("domain", {"type": "string", "enum": list(DOMAINS)}, "Domain of assets.")
FROM = _query("from", {"type": "string", "format": "date-time"},
              "Start (inclusive), ISO 8601 date or date-time; UTC when no offset.")
TO = _query("to", {"type": "string", "format": "date-time"},
            "End (inclusive), ISO 8601 date or date-time; not before 'from'.")
BAD = _error("A bad parameter: the error names it and says why.")
TOO_MANY = _error("Over CITYLENS_PUBLIC_READ_RATE reads a minute from this address.")


def _get(summary: str, parameters: list[dict[str, Any]], ok: dict[str, Any],
         extra: dict[str, Any] | None = None) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": {"description": "OK", "content": ok}, "400": BAD,
                                 "429": TOO_MANY}
    responses.update(extra or {})
    return {"get": {"summary": summary, "parameters": parameters, "responses": responses}}


def _json_csv(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": _ref(schema)},
            "text/csv": {"schema": {"type": "string"}}}


def _schemas() -> dict[str, Any]:
    number, string, integer = {"type": "number"}, {"type": "string"}, {"type": "integer"}
    feature_collection: dict[str, Any] = {
        "type": "object", "required": ["type", "features"],
        "properties": {"type": {"type": "string", "enum": ["FeatureCollection"]},
                       "features": {"type": "array", "items": {}}},
    }
    geometry = {"type": "object", "required": ["type", "coordinates"],
                "properties": {"type": string, "coordinates": {"type": "array"}}}

    def collection(properties: dict[str, Any]) -> dict[str, Any]:
        feature = {"type": "object", "required": ["type", "geometry", "properties"],
                   "properties": {"type": {"type": "string", "enum": ["Feature"]},
                                  "geometry": geometry,
                                  "properties": {"type": "object", "properties": properties,
                                                 "required": list(properties)}}}
        return {**feature_collection, "properties": {
            **feature_collection["properties"], "features": {"type": "array", "items": feature}}}

    kpi = {"type": "object", "required": ["id", "name", "domain", "unit", "target", "value",
                                          "score", "trend", "as_of"],
           "properties": {"id": string, "name": _nullable("string"),
                          "names": {"type": "object"}, "domain": string, "unit": string,
                          "target": number, "direction": string, "decimals": integer,
                          "value": _nullable("number"), "previous": _nullable("number"),
                          "score": _nullable("number"), "trend": _nullable("number"),
                          "improving": _nullable("boolean"), "as_of": _nullable("string"),
                          "stale": {"type": "boolean"},
                          "no_source": {"type": "boolean", "description":
                                        "the place has no asset of the kind this KPI reads "
                                        "(no value is coming; never stale)"},
                          "sources": {"type": "array", "items": string},
                          "change": _nullable("number"), "change_unit": _nullable("string"),
                          "coverage": {"type": ["object", "null"], "properties": {
                              "covered": integer, "total": integer,
                              "unit": {"type": "string", "enum": ["hour", "day"]},
                              "share": number, "partial": {"type": "boolean"}}}}}
    alert = {"type": "object",
             "required": ["id", "asset_id", "domain", "metric", "rule", "severity",
                          "raised_at", "value", "district_id"],
             "properties": {"id": integer, "asset_id": string, "asset_name": string,
                            "domain": string, "metric": string, "rule": string,
                            "rule_text": {"type": "object"},
                            "severity": {"type": "string",
                                         "enum": ["critical", "warning", "info"]},
                            "raised_at": {"type": "string", "format": "date-time"},
                            "value": number, "district_id": _nullable("string"),
                            "district_name": _nullable("string")}}
    when = _nullable("string", format="date-time")
    request = {"type": "object", "additionalProperties": False,
               "required": ["id", "service_code", "status", "requested_at", "lat", "lon"],
               "properties": {"id": string, "service_code": string, "service_name": string,
                              "department": string,
                              "status": {"type": "string", "enum": ["open", "closed"]},
                              "channel": string,
                              "requested_at": {"type": "string", "format": "date-time"},
                              "updated_at": when, "closed_at": when, "expected_at": when,
                              "district_id": _nullable("string"),
                              "lat": _nullable("number"), "lon": _nullable("number")}}
    point = {"type": "object", "required": ["time"],
             "properties": {"time": {"type": "string", "format": "date-time"},
                            "value": number, "count": integer, "mean": number, "min": number,
                            "max": number}}
    return {
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {
            "type": "object", "required": ["parameter", "message"],
            "properties": {"parameter": _nullable("string"), "message": string}}}},
        "Districts": collection({"id": string, "name": string, "population": integer,
                                 "area_km2": number}),
        "Assets": collection({"id": string, "name": string, "type": string, "domain": string,
                              "status": string, "district_id": _nullable("string")}),
        "Kpis": {"type": "object",
                 "required": ["district", "window", "city_score", "kpis"],
                 "properties": {"district": _nullable("string"),
                                "municipality": _nullable("string"),
                                "department": _nullable("string"),
                                "window": {"type": "string", "description":
                                           "A window name, or the custom range as "
                                           "START/END in ISO 8601 UTC"},
                                "window_start": string, "window_end": string,
                                "city_score": _nullable("number"),
                                "city_score_previous": _nullable("number"),
                                "city_score_change": _nullable("number"),
                                "kpis_scored": integer, "kpis_partial": integer,
                                "kpis": {"type": "array", "items": kpi}}},
        "Alerts": {"type": "object", "required": ["items", "count"],
                   "properties": {"items": {"type": "array", "items": alert},
                                  "count": integer}},
        "ServiceRequests": {"type": "object",
                            "required": ["items", "page", "page_size", "total", "next"],
                            "properties": {"items": {"type": "array", "items": request},
                                           "page": integer, "page_size": integer,
                                           "total": integer, "next": _nullable("string")}},
        "Observations": {"type": "object",
                         "required": ["asset_id", "metric", "grain", "points", "truncated"],
                         "properties": {"asset_id": string, "metric": string,
                                        "grain": {"type": "string",
                                                  "enum": ["raw", "hour", "day"]},
                                        "from": string, "to": string,
                                        "points": {"type": "array", "items": point},
                                        "truncated": {"type": "boolean"},
                                        "max_points": integer}},
    }


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.0 document as a dict."""
    geojson = {"application/geo+json": {"schema": _ref("Districts")}}
    assets = {"application/geo+json": {"schema": _ref("Assets")}}
    page = _query("page", {"type": "integer", "minimum": 1, "maximum": 10**9, "default": 1},
                  "Page number, from 1.")
    page_size = _query("page_size", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE,
                                     "default": 100}, "Items per page.")
    return {
        "openapi": "3.0.3",
        "info": {"title": "CityLens open-data API", "version": "1.0.0",
                 "description": "Public, read-only city data. No personal data is served: "
                                "no citizen ids, names, contacts, addresses or free text; "
                                "request locations are rounded to 3 decimals (~100 m)."},
        "servers": [{"url": "/api/v1"}],
        "paths": {
            "/": {"get": {"summary": "This API's endpoints, with links to this document and "
                                     "the reference page", "responses": {"200": {
                "description": "The endpoint index",
                "content": {"application/json": {"schema": {"type": "object"}}}}}}},
            "/docs": {"get": {"summary": "The API reference, rendered from this document",
                              "responses": {"200": {"description": "An HTML page",
                                                    "content": {"text/html": {}}}}}},
            "/openapi.json": {"get": {"summary": "This document", "responses": {"200": {
                "description": "OpenAPI 3 document",
                "content": {"application/json": {"schema": {"type": "object"}}}}}}},
            "/version": _get("The data version: it changes whenever new data is stored "
                             "(poll it to refresh only when there is something new)", [],
                             {"application/json": {"schema": {
                                 "type": "object", "required": ["version"],
                                 "properties": {"version": {"type": "string"}}}}}),
            "/districts": _get("Districts (GeoJSON)", [], geojson),
            "/kpis": _get("City score and KPIs for the city, a municipality or a district", [
                DISTRICT,
                _query("municipality", {"type": "string"},
                       "A municipality id of a metropolitan deployment (districts loaded "
                       "with a parent area): its KPIs, from its districts."),
                _query("window", {"type": "string", "enum": list(WINDOWS), "default": "week"},
                       "Time window (older name of period)."),
                _query("period", {"type": "string"},
                       f"The period in the pages' words ({', '.join(KPI_PERIODS)}) or a "
                       "range of local days (2026-10-01/2026-10-31, both included) or of "
                       "ISO 8601 times; wins over window."),
                _query("department", {"type": "string"},
                       "A department (as in the service catalogue): the KPIs it answers "
                       "for, its request and case KPIs counting its own requests and "
                       "cases."),
                _query("lang", {"type": "string", "enum": ["en", "es"], "default": "en"},
                       "Language of KPI names."),
                FORMAT], _json_csv("Kpis")),
            "/alerts": _get("Active alerts, most severe and newest first", [
                DOMAIN, DISTRICT,
                _query("severity", {"type": "string", "enum": ["critical", "warning", "info"]},
                       "Only this severity."),
                _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE,
                                 "default": 100}, "At most this many alerts."),
                FORMAT], _json_csv("Alerts")),
            "/service-requests": _get("Service requests, newest first, paged", [
                _query("status", {"type": "string", "enum": ["open", "closed"]}, "Status."),
                _query("service", {"type": "string"}, "Service code (Open311)."),
                DISTRICT, FROM, TO, page, page_size, FORMAT], _json_csv("ServiceRequests")),
            "/assets": _get("Located assets (GeoJSON points)", [DOMAIN, DISTRICT], assets),
            "/assets/{asset_id}/observations": _get(
                "One asset's series of one metric (at most 10,000 points)", [
                    {"name": "asset_id", "in": "path", "required": True,
                     "schema": {"type": "string", "pattern": "^[^/]+$"},
                     "description": "Asset id (NGSI-LD URN)."},
                    _query("metric", {"type": "string"}, "Metric (attribute) name.", True),
                    FROM, TO,
                    _query("grain", {"type": "string", "enum": ["raw", "hour", "day"],
                                     "default": "raw"}, "Raw values or UTC hour/day aggregates."),
                    FORMAT], _json_csv("Observations"),
                {"404": _error("Unknown asset.")}),
        },
        "components": {"schemas": _schemas()},
    }
