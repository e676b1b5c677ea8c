"""CityLens as a read-only NGSI-LD context source (ETSI GS CIM 009): a Flask blueprint under
``/ngsi-ld/v1`` serving entities, one entity, and temporal entities (see ``docs/ngsi-ld.md``).

Thin: parameters are read by ``ngsi_ld_params``, entities chosen by ``ngsi_ld_select``
and built by ``ngsi_ld_entities`` / ``ngsi_ld_kpis``, history by ``ngsi_ld_temporal``.
Public like ``/api/v1``: assets and KPIs only, never anything personal.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request
from sqlalchemy import Connection
from werkzeug.exceptions import HTTPException

from dashboard.api.ngsi_ld_entities import CONTEXT, SDM_CONTEXT, feature, shaped
from dashboard.api.ngsi_ld_params import (
    ENTITIES,
    ENTITY,
    QUERY,
    TEMPORAL,
    Args,
    NgsiLdError,
    Shape,
    entity_query,
    paging,
    temporal_query,
)
from dashboard.api.ngsi_ld_select import EntityQuery, asset_page, entity_by_id, entity_page
from dashboard.api.ngsi_ld_temporal import (
    MAX_INSTANCES,
    TemporalError,
    TemporalQuery,
    temporal_attribute,
)
from dashboard.api.reads import asset_pk
from dashboard.auth.access import EVERYONE
from dashboard.auth.web import roles_required
from dashboard.settings import Settings
from dashboard.store import get_engine

SETTINGS_KEY = "CITYLENS_NGSI_LD_SETTINGS"
MAX_TEMPORAL_ENTITIES = 100
JSON, JSON_LD, GEOJSON = "application/json", "application/ld+json", "application/geo+json"
LINK = f'<{SDM_CONTEXT}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'

ngsi_ld = Blueprint("ngsi_ld", __name__, url_prefix="/ngsi-ld/v1")
PUBLIC = roles_required(*EVERYONE)  # open data, like /api/v1


def register_ngsi_ld(server: Flask, settings: Settings) -> None:
    """Serve the NGSI-LD endpoints on ``server`` from the store of ``settings``."""
    server.config[SETTINGS_KEY] = settings
    server.register_blueprint(ngsi_ld)


def _settings() -> Settings:
    settings: Settings = current_app.config[SETTINGS_KEY]
    return settings


@ngsi_ld.errorhandler(NgsiLdError)
def _problem(error: NgsiLdError) -> Response:
    return Response(json.dumps(error.problem()), status=error.status, mimetype=JSON)


@ngsi_ld.errorhandler(TemporalError)
def _temporal_problem(error: TemporalError) -> Response:
    return _problem(NgsiLdError(str(error)))


@ngsi_ld.errorhandler(HTTPException)
def _http_problem(error: HTTPException) -> Response:
    kind = "ResourceNotFound" if error.code == 404 else "InvalidRequest"
    return _problem(NgsiLdError(error.description or error.name, error.code or 500, kind,
                                error.name))


def _media(allowed: tuple[str, ...]) -> str:
    """The representation the Accept header asks for; 406 when none is served."""
    if not request.headers.get("Accept"):
        return JSON
    found = request.accept_mimetypes.best_match(allowed)
    if found is None:
        raise NgsiLdError(f"Accept: this endpoint serves {', '.join(allowed)}", 406,
                          "InvalidRequest", "Not acceptable")
    return found


def _respond(body: Any, media: str, headers: Mapping[str, str] | None = None) -> Response:
    """JSON (Link header to the context), JSON-LD (``@context`` in each entity) or GeoJSON."""
    if media == JSON_LD:
        body = ([{**e, "@context": CONTEXT} for e in body] if isinstance(body, list)
                else {**body, "@context": CONTEXT})
    response = Response(json.dumps(body, ensure_ascii=False), mimetype=media,
                        headers=dict(headers or {}))
    if media != JSON_LD:
        response.headers["Link"] = LINK
    return response


def _shape(entity: Mapping[str, Any], attrs: tuple[str, ...] | None, shape: Shape,
           media: str) -> dict[str, Any]:
    shown = shaped(entity, attrs=attrs, key_values=shape.key_values, sys_attrs=shape.sys_attrs)
    return feature(shown, entity.get(shape.geometry_property)) if media == GEOJSON else shown


@ngsi_ld.get("/entities")
@PUBLIC
def entities() -> Response:
    """Entities matching type / id / idPattern / q / geo-query / attrs, one page of them."""
    media = _media((JSON, JSON_LD, GEOJSON))
    args = Args(request.args, ENTITIES)
    query, shape = entity_query(args, required=True), args.shape()
    offset, limit, count = paging(args)
    settings = _settings()
    with get_engine(settings.resolved_database_url).connect() as conn:
        total, page = entity_page(conn, settings, query, offset, limit, count)
    body: Any = [_shape(e, query.attrs, shape, media) for e in page]
    if media == GEOJSON:
        body = {"type": "FeatureCollection", "features": body}
    return _respond(body, media, {"NGSILD-Results-Count": str(total)} if count else None)


def _not_found(entity_id: str) -> NgsiLdError:
    return NgsiLdError(f"no entity {entity_id!r}", 404, "ResourceNotFound", "Resource not found")


@ngsi_ld.get("/entities/<path:entity_id>")
@PUBLIC
def entity(entity_id: str) -> Response:
    """One entity by id (an asset's URN or a KPI's)."""
    media = _media((JSON, JSON_LD, GEOJSON))
    args = Args(request.args, ENTITY)
    shape, attrs = args.shape(), args.items("attrs")
    settings = _settings()
    with get_engine(settings.resolved_database_url).connect() as conn:
        found = entity_by_id(conn, settings, entity_id)
    if found is None:
        raise _not_found(entity_id)
    return _respond(_shape(found, attrs, shape, media), media)


def _temporal(conn: Connection, entity: Mapping[str, Any], attrs: tuple[str, ...] | None,
              query: TemporalQuery) -> tuple[dict[str, Any], bool]:
    """An asset entity's measured attributes (those with ``observedAt``) over time."""
    pk = asset_pk(conn, str(entity["id"]))
    result: dict[str, Any] = {"id": entity["id"], "type": entity["type"]}
    cut = False
    for name, attr in entity.items():
        measured = isinstance(attr, Mapping) and "observedAt" in attr
        if pk is not None and measured and (attrs is None or name in attrs):
            result[name], truncated = temporal_attribute(conn, pk, name, query)
            cut = cut or truncated
    return result, cut


def _temporal_response(bodies: list[tuple[dict[str, Any], bool]], media: str,
                       headers: dict[str, str], single: bool) -> Response:
    if any(cut for _, cut in bodies):
        headers["NGSILD-Warning"] = (f"attribute instances cut at {MAX_INSTANCES} a request; "
                                     "use lastN or a narrower timerel")
    body: Any = bodies[0][0] if single else [b for b, _ in bodies]
    return _respond(body, media, headers)


@ngsi_ld.get("/temporal/entities")
@PUBLIC
def temporal_entities() -> Response:
    """Temporal representation of the assets a query selects, one page of them."""
    media = _media((JSON, JSON_LD))
    args = Args(request.args, (*QUERY, *TEMPORAL, "limit", "offset", "count", "options",
                               "format"))
    query: EntityQuery = entity_query(args, required=True)
    history = temporal_query(args)
    offset, limit, count = paging(args)
    if limit > MAX_TEMPORAL_ENTITIES:
        raise NgsiLdError(f"limit: at most {MAX_TEMPORAL_ENTITIES} temporal entities a page")
    with get_engine(_settings().resolved_database_url).connect() as conn:
        total, page = asset_page(conn, query, offset, limit, count)
        bodies = [_temporal(conn, e, query.attrs, history) for e in page]
    headers = {"NGSILD-Results-Count": str(total)} if count else {}
    return _temporal_response(bodies, media, headers, single=False)


@ngsi_ld.get("/temporal/entities/<path:entity_id>")
@PUBLIC
def temporal_entity(entity_id: str) -> Response:
    """Temporal representation of one asset."""
    media = _media((JSON, JSON_LD))
    args = Args(request.args, ("attrs", *TEMPORAL, "options", "format"))
    history, attrs = temporal_query(args), args.items("attrs")
    settings = _settings()
    with get_engine(settings.resolved_database_url).connect() as conn:
        found = entity_by_id(conn, settings, entity_id)
        if found is None or asset_pk(conn, entity_id) is None:
            raise _not_found(entity_id)
        body = _temporal(conn, found, attrs, history)
    return _temporal_response([body], media, {}, single=True)


@ngsi_ld.route("/<path:unknown>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@PUBLIC
def other(unknown: str) -> Response:
    """Any other path or method: CityLens is a read-only context source."""
    if request.method != "GET":
        raise NgsiLdError(f"{request.method} /ngsi-ld/v1/{unknown}: CityLens is read-only",
                          405, "OperationNotSupported", "Operation not supported")
    raise NgsiLdError(f"no endpoint /ngsi-ld/v1/{unknown}", 404, "ResourceNotFound",
                      "Resource not found")
