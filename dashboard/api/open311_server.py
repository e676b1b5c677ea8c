"""CityLens as an Open311 GeoReport v2 server, so that existing 311 apps and clients can
read the city's services and requests, and post new ones: ``/open311/v2/services.{json,xml}``,
``services/{code}.{json,xml}`` (attribute definitions), ``requests.{json,xml}`` (GET with
the standard's filters ``service_request_id``, ``service_code``, ``start_date``,
``end_date``, ``status``; POST with an ``api_key`` from ``citylens apikeys add``),
``requests/{id}.{json,xml}`` and ``tokens/{token}.{json,xml}``, with ``jurisdiction_id``.

Exactly the standard's field names, status values (open, closed) and error list
(``[{"code": 400, "description": "..."}]``, in the format asked for). Public: what it
publishes carries no personal data (``dashboard.api.open311_reads``).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from flask import Blueprint, Flask, Response, current_app, request
from sqlalchemy import Engine
from werkzeug.exceptions import HTTPException

from dashboard.api.open311_formats import FORMATS, error, respond
from dashboard.api.filing import file_request
from dashboard.api.open311_intake import StorePosted, parse_submission
from dashboard.api.open311_reads import (
    find_requests,
    request_of_token,
    service_definition,
    service_list,
)
from dashboard.api.post_limits import WriteLimits
from dashboard.auth.access import EVERYONE
from dashboard.auth.api_keys import key_owner
from dashboard.auth.web import roles_required
from dashboard.settings import Settings
from dashboard.store import get_engine

SETTINGS_KEY = "CITYLENS_OPEN311_SETTINGS"
STORE_KEY = "CITYLENS_OPEN311_STORE"
LIMITS_KEY = "CITYLENS_OPEN311_LIMITS"
MAX_POST_BYTES = 64 * 1024  # a form of text fields (an app's photo goes by media_url)
CHANNEL = "app"  # requests posted with an api_key come from an app
STATUSES = ("open", "closed")
DEFAULT_SPAN = timedelta(days=90)  # the standard's default and longest range
MAX_REQUESTS = 1000  # a list answers at most this many requests, newest first
MAX_IDS = 200  # service_request_id values in one call

blueprint = Blueprint("open311_v2", __name__, url_prefix="/open311/v2")
PUBLIC = roles_required(*EVERYONE)


class Open311Error(Exception):
    """A refusal in the standard's error format: its HTTP status and description."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status, self.description = status, description


def _split(name: str) -> tuple[str, str]:
    """``"requests.xml"`` -> ("requests", "xml"); 404 for any other extension."""
    stem, dot, fmt = name.rpartition(".")
    if not dot or fmt not in FORMATS:
        raise Open311Error(404, f"no such resource: {name!r} (add .json or .xml)")
    return stem, fmt


def _asked_format() -> str:
    return "xml" if request.path.endswith(".xml") else "json"


@blueprint.errorhandler(Open311Error)
def _refused(refusal: Open311Error) -> Response:
    return error(_asked_format(), refusal.status, refusal.description)


@blueprint.errorhandler(HTTPException)
def _http_error(failure: HTTPException) -> Response:
    return error(_asked_format(), failure.code or 500, failure.description or failure.name)


def _settings() -> Settings:
    settings: Settings = current_app.config[SETTINGS_KEY]
    return settings


def _check_jurisdiction(settings: Settings) -> None:
    given = request.values.get("jurisdiction_id")
    if given and settings.open311_jurisdiction and given != settings.open311_jurisdiction:
        raise Open311Error(404, f"unknown jurisdiction_id {given!r}: this server is "
                                f"{settings.open311_jurisdiction!r}")


def _listed(name: str, allowed: tuple[str, ...] | None = None, most: int = MAX_IDS
            ) -> list[str]:
    values = [v.strip() for v in request.args.get(name, "").split(",") if v.strip()]
    if len(values) > most:
        raise Open311Error(400, f"{name}: at most {most} values, comma-separated")
    wrong = [v for v in values if allowed is not None and v not in allowed]
    if wrong:
        raise Open311Error(400, f"{name}: {wrong[0]!r} is not one of {', '.join(allowed or ())}")
    return values


def _moment(name: str) -> datetime | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.strip().replace(" ", "+"))
    except ValueError:
        raise Open311Error(400, f"{name}: {raw!r} is not a W3C date-time such as "
                                "2026-11-01T00:00:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _span(now: datetime) -> tuple[datetime, datetime]:
    """[start, end] of requested_datetime: the standard's 90 days by default."""
    start, end = _moment("start_date"), _moment("end_date")
    if start is None and end is None:
        return now - DEFAULT_SPAN, now
    if start is None:
        assert end is not None
        return end - DEFAULT_SPAN, end
    if end is None:
        return start, start + DEFAULT_SPAN
    if end < start:
        raise Open311Error(400, "end_date is before start_date")
    if end - start > DEFAULT_SPAN:
        raise Open311Error(400, "start_date and end_date may not span more than 90 days")
    return start, end


def _resource(name: str) -> tuple[str, str, Settings, Engine]:
    """(stem, format, settings, engine) of a call, its jurisdiction checked."""
    stem, fmt = _split(name)
    settings = _settings()
    _check_jurisdiction(settings)
    return stem, fmt, settings, get_engine(settings.resolved_database_url)


@blueprint.get("/<name>")
@PUBLIC
def collection(name: str) -> Response:
    """``services.{fmt}`` or ``requests.{fmt}``."""
    stem, fmt, settings, engine = _resource(name)
    if stem == "services":
        with engine.connect() as conn:
            return respond(fmt, "services", service_list(conn))
    if stem != "requests":
        raise Open311Error(404, f"no such resource: {name!r}")
    ids = _listed("service_request_id")
    codes = _listed("service_code")
    statuses = _listed("status", STATUSES)
    start, end = (None, None) if ids else _span(settings.current_time())
    with engine.connect() as conn:
        found = find_requests(conn, ids=ids, codes=codes, statuses=statuses, start=start,
                              end=end, limit=MAX_REQUESTS, base_url=request.url_root)
    return respond(fmt, "service_requests", found)


@blueprint.get("/services/<path:name>")
@PUBLIC
def one_service(name: str) -> Response:
    """``services/{code}.{fmt}``: the service's attribute definitions."""
    code, fmt, _, engine = _resource(name)
    with engine.connect() as conn:
        found = service_definition(conn, code)
    if found is None:
        raise Open311Error(404, f"no service with service_code {code!r}")
    return respond(fmt, "service_definition", found)


@blueprint.get("/requests/<path:name>")
@PUBLIC
def one_request(name: str) -> Response:
    """``requests/{id}.{fmt}``: one request, as a list of one (as the standard has it)."""
    request_id, fmt, _, engine = _resource(name)
    with engine.connect() as conn:
        found = find_requests(conn, ids=[request_id], limit=1, base_url=request.url_root)
    if not found:
        raise Open311Error(404, f"no service request {request_id!r}")
    return respond(fmt, "service_requests", found)


@blueprint.post("/<name>")
@PUBLIC  # machine to machine: the api_key below is the check
def post_request(name: str) -> Response:
    """``POST requests.{fmt}``: a new service request from an app with an ``api_key``;
    answers its ``service_request_id`` and ``token`` (201)."""
    request.max_content_length = MAX_POST_BYTES
    stem, fmt, settings, engine = _resource(name)
    store: StorePosted | None = current_app.config.get(STORE_KEY)
    if stem != "requests" or store is None:
        raise Open311Error(404, f"no such resource to post to: {name!r}")
    limits: WriteLimits = current_app.config[LIMITS_KEY]
    _within(limits.by_address(request.remote_addr))
    with engine.connect() as conn:
        app_name = key_owner(conn, request.values.get("api_key"))
    if app_name is None:
        raise Open311Error(403, "api_key is missing, unknown or revoked: ask the city for one")
    _within(limits.by_app(app_name))
    try:
        filed = file_request(settings, engine, store, parse_submission(request.form), CHANNEL)
    except ValueError as error:
        raise Open311Error(400, str(error)) from None
    nearby = filed.nearby
    return respond(fmt, "service_requests", [{
        "service_request_id": filed.request_id, "token": filed.token,
        "service_notice": (f"Possibly already reported nearby: request {nearby[0]}, "
                           f"{nearby[1]} m away, is open" if nearby else ""),
        "account_id": ""}], 201)


def _within(passed: str | None) -> None:
    if passed:
        raise Open311Error(429, f"too many requests posted: {passed}; try again later")


@blueprint.get("/tokens/<path:name>")
@PUBLIC
def one_token(name: str) -> Response:
    """``tokens/{token}.{fmt}``: the id of the request posted with the token."""
    token, fmt, _, engine = _resource(name)
    with engine.connect() as conn:
        found = request_of_token(conn, token)
    if found is None:
        raise Open311Error(404, f"no service request posted with token {token!r}")
    return respond(fmt, "service_requests", [{"service_request_id": found, "token": token}])


def register_open311(server: Flask, settings: Settings, store: StorePosted | None = None
                     ) -> None:
    """Serve the Open311 GeoReport v2 endpoints on ``server`` with ``settings``; with
    ``store`` (the connectors' way of storing a posted request) apps may post too."""
    server.config[SETTINGS_KEY] = settings
    server.config[STORE_KEY] = store
    server.config[LIMITS_KEY] = WriteLimits.of(settings, "open311-post")
    server.register_blueprint(blueprint)
