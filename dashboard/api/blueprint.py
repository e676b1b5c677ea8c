"""The open-data API, version 1: a Flask blueprint under ``/api/v1`` (read-only, public).

Endpoints read the pages' read models (``dashboard.queries``) or indexed queries
(``dashboard.api.reads``). Personal data is never served; see ``docs/api.md``.
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from dashboard import queries
from dashboard.api import reads
from dashboard.api.openapi import openapi_document
from dashboard.api.reference import index, reference_page
from dashboard.api.params import FORMATS_JSON_CSV, MAX_PAGE_SIZE, ApiError, Params
from dashboard.auth.access import EVERYONE
from dashboard.auth.web import roles_required
from dashboard.csv_safety import csv_safe
from dashboard.kpis.windows import WINDOWS
from dashboard.model import DOMAINS
from dashboard.periods import kpi_window
from dashboard.queries.departments import department_options
from dashboard.settings import Settings
from dashboard.store import get_engine
from dashboard.store.version import data_version

SETTINGS_KEY = "CITYLENS_API_SETTINGS"
SEVERITIES = ("critical", "warning", "info")
STATUSES = ("open", "closed")
GRAINS = ("raw", "hour", "day")
LANGS = ("en", "es")
DEFAULT_SPAN = timedelta(days=7)
GEOJSON = "application/geo+json"

api_v1 = Blueprint("api_v1", __name__, url_prefix="/api/v1")
PUBLIC = roles_required(*EVERYONE)  # open data: every route is public, none is personal


def register_api(server: Flask, settings: Settings) -> None:
    """Serve the API on ``server`` with ``settings`` (its store and cache); any other path
    under /api/ answers a JSON 404 pointing at /api/v1/."""
    server.config[SETTINGS_KEY] = settings
    server.register_blueprint(api_v1)
    server.add_url_rule("/api/", "api_other", _other_api, defaults={"rest": ""},
                        methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    server.add_url_rule("/api/<path:rest>", "api_other_path", _other_api,
                        methods=["GET", "POST", "PUT", "PATCH", "DELETE"])


@PUBLIC
def _other_api(rest: str) -> tuple[Response, int]:
    message = f"no API at /api/{rest}; this CityLens serves /api/v1/ (see /api/v1/docs)"
    return jsonify({"error": {"parameter": None, "message": message}}), 404


def _settings() -> Settings:
    settings: Settings = current_app.config[SETTINGS_KEY]
    return settings


@api_v1.errorhandler(ApiError)
def _api_error(error: ApiError) -> tuple[Response, int]:
    return jsonify(error.as_dict()), error.status


@api_v1.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> tuple[Response, int]:
    body = {"error": {"parameter": None, "message": error.description or error.name}}
    return jsonify(body), error.code or 500


def _csv(rows: Iterable[dict[str, Any]], fields: Sequence[str], name: str) -> Response:
    """``rows`` as a CSV download; text that a spreadsheet would run as a formula is
    neutralised like the pages' exports (``dashboard.csv_safety``), numbers stay numbers."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(fields), extrasaction="ignore")
    writer.writeheader()
    writer.writerows({k: csv_safe(v) for k, v in row.items()} for row in rows)
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


def _file_part(window: str) -> str:
    """A window name, or a custom range as ``2026-10-01T0000Z-2026-11-01T0000Z``, for a
    file name."""
    return re.sub(r"[^A-Za-z0-9-]+", "", window.replace("/", "-"))


def _geojson(collection: dict[str, Any]) -> Response:
    response = jsonify(collection)
    response.mimetype = GEOJSON
    return response


def _districts(settings: Settings) -> dict[str, dict[str, Any]]:
    return {d["id"]: d for d in queries.district_options(settings)}


@api_v1.get("/")
@PUBLIC
def api_index() -> Response:
    """What the API is and its endpoints, with links to the OpenAPI document and the
    reference page."""
    return jsonify(index(openapi_document()))


@api_v1.get("/docs")
@PUBLIC
def api_reference() -> Response:
    """The API reference, rendered from the OpenAPI document."""
    return Response(reference_page(openapi_document()), mimetype="text/html")


@api_v1.get("/openapi.json")
@PUBLIC
def openapi() -> Response:
    """The OpenAPI 3 description of this API."""
    Params(request.args, ())
    return jsonify(openapi_document())


@api_v1.get("/version")
@PUBLIC
def version() -> Response:
    """The store's data version (changes with every ingest); never cached by browsers."""
    Params(request.args, ())
    with get_engine(_settings().resolved_database_url).connect() as conn:
        response = jsonify({"version": str(data_version(conn))})
    response.headers["Cache-Control"] = "no-store"
    return response


@api_v1.get("/districts")
@PUBLIC
def districts() -> Response:
    """Districts as a GeoJSON FeatureCollection (id, name, population, area_km2)."""
    Params(request.args, ())
    with get_engine(_settings().resolved_database_url).connect() as conn:
        features = reads.district_features(conn)
    return _geojson({"type": "FeatureCollection", "features": features})


KPI_FIELDS = ("id", "name", "domain", "unit", "target", "direction", "decimals", "value",
              "previous", "score", "trend", "change", "change_unit", "improving", "as_of",
              "stale", "no_source", "covered", "covered_of", "coverage_unit", "partial")


@api_v1.get("/kpis")
@PUBLIC
def kpis() -> Response:
    """City score and every KPI for the city, one municipality or one district (same as
    ``citylens kpis``); with ``department``, the KPIs it answers for, its request KPIs
    counting its requests."""
    settings = _settings()
    params = Params(request.args, ("district", "municipality", "window", "period",
                                   "department", "lang", "format"))
    district = params.member("district", _districts(settings), "district")
    municipalities = {m["id"]: m for m in queries.municipality_options(settings)}
    municipality = params.member("municipality", municipalities, "municipality")
    if municipality and district and district not in municipalities[municipality]["districts"]:
        raise ApiError("district", f"district {district!r} is not in municipality "
                                   f"{municipality!r}")
    department = params.member("department", {d["id"] for d in department_options(settings)},
                               "department")
    period = params.text("period")  # the pages' words or a range; older: window
    if period is None:
        window = params.choice("window", WINDOWS, "week")
    else:
        try:
            window = kpi_window(period, settings.current_time(), settings.timezone)
        except ValueError as error:
            raise ApiError("period", str(error)) from None
    lang = params.choice("lang", LANGS, "en")
    fmt = params.choice("format", FORMATS_JSON_CSV, "json")
    data = queries.overview(settings, district, window, department, municipality)
    rows = [
        {**{k: v for k, v in kpi.items() if k != "spark"}, "name": kpi["name"].get(lang),
         "names": kpi["name"]}
        for kpi in data["kpis"]
    ]
    if fmt == "csv":
        return _csv([{**r, **queries.coverage_columns(r["coverage"])} for r in rows], KPI_FIELDS,
                    "-".join(part for part in ("kpis", district or municipality or "city",
                                               _file_part(department or ""),
                                               _file_part(window)) if part))
    return jsonify({"district": district, "municipality": municipality,
                    "department": department, "window": window,
                    "window_start": data["window_start"], "window_end": data["window_end"],
                    **queries.score_fields(data["city_score"]), "kpis": rows})


@api_v1.get("/alerts")
@PUBLIC
def alerts() -> Response:
    """Active alerts, most severe and newest first."""
    settings = _settings()
    params = Params(request.args, ("domain", "district", "severity", "limit", "format"))
    domain = params.choice("domain", DOMAINS)
    district = params.member("district", _districts(settings), "district")
    severity = params.choice("severity", SEVERITIES)
    limit = params.integer("limit", 100, 1, MAX_PAGE_SIZE)
    fmt = params.choice("format", FORMATS_JSON_CSV, "json")
    found = queries.active_alerts(settings, district, limit, domain=domain, severity=severity)
    if fmt == "csv":
        return _csv(found, queries.ALERT_FIELDS, "alerts")
    return jsonify({"items": found, "count": len(found)})


@api_v1.get("/service-requests")
@PUBLIC
def service_requests() -> Response:
    """Service requests, newest first, paged; no personal data."""
    settings = _settings()
    params = Params(request.args, ("status", "service", "district", "from", "to", "page",
                                   "page_size", "format"))
    status = params.choice("status", STATUSES)
    district = params.member("district", _districts(settings), "district")
    start, end = params.time_range()
    page = params.integer("page", 1, 1, 10**9)
    page_size = params.integer("page_size", 100, 1, MAX_PAGE_SIZE)
    fmt = params.choice("format", FORMATS_JSON_CSV, "json")
    with get_engine(settings.resolved_database_url).connect() as conn:
        service = params.member("service", reads.service_codes(conn), "service")
        total, items = reads.service_requests(
            conn, status=status, service=service, district=district, start=start, end=end,
            page=page, page_size=page_size,
        )
    if fmt == "csv":
        return _csv(items, reads.REQUEST_FIELDS, f"service-requests-{page}")
    more = page * page_size < total
    query = {**request.args.to_dict(), "page": str(page + 1)}
    return jsonify({"items": items, "page": page, "page_size": page_size, "total": total,
                    "next": f"{request.path}?{urlencode(query)}" if more else None})


@api_v1.get("/assets")
@PUBLIC
def assets() -> Response:
    """Located assets of one domain (or all) as GeoJSON points."""
    settings = _settings()
    params = Params(request.args, ("domain", "district"))
    domain = params.choice("domain", DOMAINS)
    district = params.member("district", _districts(settings), "district")
    domains = [domain] if domain else sorted(queries.asset_domains(settings))
    features: list[dict[str, Any]] = []
    for name in domains:
        features.extend(queries.asset_layer(settings, name, district)["features"])
    return _geojson({"type": "FeatureCollection", "features": features})


def _epoch(value: datetime) -> int:
    return int(value.timestamp())


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat()


@api_v1.get("/assets/<asset_id>/observations")
@PUBLIC
def asset_observations(asset_id: str) -> Response:
    """One asset's series of one metric: raw values or hourly/daily aggregates."""
    settings = _settings()
    params = Params(request.args, ("metric", "from", "to", "grain", "format"))
    metric = params.required("metric")
    start, end = params.time_range()
    grain = params.choice("grain", GRAINS, "raw") or "raw"
    fmt = params.choice("format", FORMATS_JSON_CSV, "json")
    end = end or settings.current_time()
    start = start or end - DEFAULT_SPAN
    if start > end:
        raise ApiError("from", "is after the default 'to' (now); give 'to' as well")
    with get_engine(settings.resolved_database_url).connect() as conn:
        pk = None if "\x00" in asset_id else reads.asset_pk(conn, asset_id)
        if pk is None:
            raise ApiError(None, f"unknown asset {asset_id!r}", status=404)
        if not reads.has_metric(conn, pk, metric):
            raise ApiError("metric", f"asset {asset_id!r} has no observations of {metric!r}")
        points, truncated = reads.observations(conn, pk, metric, _epoch(start), _epoch(end),
                                               grain)
    for point in points:
        point["time"] = _iso(point["time"])
    if fmt == "csv":
        fields = ("time", "value") if grain == "raw" else ("time", "count", "mean", "min", "max")
        return _csv(points, fields, "observations")
    return jsonify({"asset_id": asset_id, "metric": metric, "grain": grain,
                    "from": start.isoformat(), "to": end.isoformat(), "points": points,
                    "truncated": truncated, "max_points": reads.MAX_POINTS})


@api_v1.route("/<path:unknown>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@PUBLIC
def not_found(unknown: str) -> tuple[Response, int]:
    """Any other path under /api/v1 answers a JSON 404 (not the web app's HTML page)."""
    message = f"no endpoint /api/v1/{unknown}; see /api/v1/openapi.json"
    return jsonify({"error": {"parameter": None, "message": message}}), 404
