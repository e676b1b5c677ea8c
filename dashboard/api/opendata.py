"""Open data over HTTP (public): the DCAT-AP 3 catalogue at ``/api/v1/catalog`` (JSON-LD,
or Turtle by ``Accept: text/turtle``, ``?format=ttl`` or ``catalog.ttl``) and the exported
files at ``/opendata/<file>``, with validators for conditional GETs (see docs/opendata.md).
"""
from __future__ import annotations

import hashlib

from flask import Blueprint, Flask, Response, current_app, jsonify, request, send_from_directory
from werkzeug.exceptions import NotFound

from dashboard.api.params import ApiError, Params
from dashboard.auth.access import EVERYONE
from dashboard.auth.web import roles_required
from dashboard.opendata.catalog import FORMATS, catalog_graph, serialise
from dashboard.opendata.export import file_entries, manifests
from dashboard.opendata.job import FOLDER
from dashboard.settings import Settings

SETTINGS_KEY = "CITYLENS_OPENDATA_SETTINGS"
TURTLE, JSONLD = "text/turtle", "application/ld+json"
SERVED_AS = {"csv": "text/csv", "csv.gz": "application/gzip",
             "parquet": FORMATS["parquet"][1], "geojson": FORMATS["geojson"][1]}
MAX_AGE = 300  # seconds a client may keep a file or the catalogue without asking again

opendata = Blueprint("opendata", __name__)
PUBLIC = roles_required(*EVERYONE)  # open data: public, never personal


def register_opendata(server: Flask, settings: Settings) -> None:
    """Serve the catalogue and the files of ``settings``' var folder on ``server``."""
    server.config[SETTINGS_KEY] = settings
    server.register_blueprint(opendata)


def _settings() -> Settings:
    settings: Settings = current_app.config[SETTINGS_KEY]
    return settings


@opendata.errorhandler(ApiError)
def _api_error(error: ApiError) -> tuple[Response, int]:
    return jsonify(error.as_dict()), error.status


def _catalog(fmt: str) -> Response:
    settings = _settings()
    body = serialise(catalog_graph(settings, list(manifests(settings))), fmt)
    response = Response(body, mimetype=TURTLE if fmt == "ttl" else JSONLD)
    response.set_etag(hashlib.sha256(body.encode()).hexdigest())
    response.cache_control.public, response.cache_control.max_age = True, MAX_AGE
    response.vary.add("Accept")
    response.make_conditional(request)
    return response


@opendata.get("/api/v1/catalog")
@PUBLIC
def catalog() -> Response:
    """The catalogue: JSON-LD unless Turtle is asked for (``format`` or ``Accept``)."""
    params = Params(request.args, ("format",))
    asked = params.text("format")
    if asked is None:
        best = request.accept_mimetypes.best_match([JSONLD, TURTLE, "application/json"])
        asked = "ttl" if best == TURTLE else "jsonld"
    if asked not in ("jsonld", "ttl"):
        raise ApiError("format", f"unknown value {asked!r}; choose one of jsonld, ttl")
    return _catalog(asked)


@opendata.get("/api/v1/catalog.ttl")
@PUBLIC
def catalog_turtle() -> Response:
    """The catalogue in Turtle."""
    Params(request.args, ())
    return _catalog("ttl")


@opendata.get("/api/v1/catalog.jsonld")
@PUBLIC
def catalog_jsonld() -> Response:
    """The catalogue in JSON-LD."""
    Params(request.args, ())
    return _catalog("jsonld")


@opendata.get("/opendata/<path:name>")
@PUBLIC
def download(name: str) -> Response:
    """One published file (only names in the manifests: nothing else in the folder, and
    no path outside it), with its SHA-256 as ETag, Last-Modified and a file name."""
    entry = file_entries(_settings()).get(name)
    if entry is None or "/" in name or "\\" in name:
        raise NotFound(f"no open-data file {name!r}; see /api/v1/catalog")
    response = send_from_directory(
        _settings().var_dir.resolve() / FOLDER, entry.name, mimetype=SERVED_AS[entry.format],
        as_attachment=True, download_name=entry.name, etag=entry.sha256, conditional=True,
        max_age=MAX_AGE)
    response.cache_control.public = True
    return response
