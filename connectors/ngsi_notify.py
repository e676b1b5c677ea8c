"""Broker subscriptions post NGSI v2 / NGSI-LD notifications here; each one is a run.

``POST /ngsi/notify/<source_id>`` with ``Authorization: Bearer <CITYLENS_NOTIFY_TOKEN>``.
The endpoint does not exist unless the token is configured. The token only writes to the
push sources listed in ``CITYLENS_NOTIFY_SOURCES`` (any other id: 404, as if unknown), never
to a source another connector kind has run (409). The body is bounded while it is read, with
or without a Content-Length (413). Each notification is stored through the shared runner, so
it has a feed run, quarantine and district assignment. Every refusal is JSON ``{"error"}``.
"""
from __future__ import annotations

import hmac
import re
from collections.abc import Iterator, Mapping
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, jsonify, request
from sqlalchemy import Engine, select
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from connectors.base import CheckResult, Connector, ConnectorConfig, Mapped, Stream
from connectors.ngsi_parse import map_entity, parse_notification
from connectors.runner import run_source
from dashboard.auth.access import EVERYONE
from dashboard.auth.web import roles_required
from dashboard.model import Source
from dashboard.settings import Settings
from dashboard.store import get_engine

SOURCE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
MAX_BODY_BYTES = 5 * 1024 * 1024
TOO_LARGE = f"notification larger than {MAX_BODY_BYTES} bytes"


class NotificationConfig(ConnectorConfig):
    location: str = "notification"
    entities: list[Any]


class NotificationStream(Stream):
    name = "notification"
    primary_key = ("id",)
    cursor_field = "dateObserved"
    entity = "Asset"

    def __init__(self, entities: list[Any]) -> None:
        self.entities = entities

    def read(self, watermark: str | None) -> Iterator[Mapping[str, Any]]:
        yield from self.entities  # a notification is news: the watermark does not filter it

    def map(self, record: Mapping[str, Any]) -> Mapped:
        return map_entity(record)


class NotificationConnector(Connector):
    """The entities of one notification (not a configurable kind)."""

    kind = "ngsi-notification"
    config_model = NotificationConfig

    def check(self) -> CheckResult:
        return CheckResult(True)

    def streams(self) -> list[Stream]:
        return [NotificationStream(self.config.entities)]


def _authorised(token: str) -> bool:
    given = request.headers.get("Authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


def _body() -> bytes:
    """The request body, at most ``MAX_BODY_BYTES``; 413 beyond, with or without a
    Content-Length. Werkzeug stops reading a stream (chunked upload) at the request's
    ``max_content_length`` but hands back what it read without an error, so the limit is
    one byte more and a body that reaches it is refused here."""
    request.max_content_length = MAX_BODY_BYTES + 1  # before anything touches the stream
    data = request.get_data(cache=False)
    if len(data) > MAX_BODY_BYTES:
        raise RequestEntityTooLarge(TOO_LARGE)
    return data


def _other_kind(engine: Engine, source_id: str) -> str | None:
    """The kind of connector that last ran ``source_id`` if not notifications, else None.

    Feed runs carry no kind: the runner records it on the source row at every run."""
    with engine.connect() as conn:
        kind = conn.execute(select(Source.kind).where(Source.id == source_id)).scalar()
    return kind if kind not in (None, NotificationConnector.kind) else None


blueprint = Blueprint("ngsi_notify", __name__)


@blueprint.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> tuple[Response, int]:
    """Refusals raised here (401, 413 while reading the body) answer JSON as well."""
    message = TOO_LARGE if isinstance(error, RequestEntityTooLarge) else error.description
    return jsonify(error=message or error.name), error.code or 500


@blueprint.post("/ngsi/notify/<source_id>")
@roles_required(*EVERYONE)  # machine to machine: the bearer token below is the check
def notify(source_id: str) -> Any:
    """Store one notification as a run of ``source_id`` (a configured push source)."""
    settings: Settings = current_app.config["CITYLENS_NOTIFY_SETTINGS"]
    if not _authorised(settings.notify_token or ""):
        abort(401, "a valid bearer token is required")
    if not SOURCE_ID.match(source_id):
        return jsonify(error="source id: letters, digits and . _ : - only"), 400
    if source_id not in settings.notify_sources:
        return jsonify(error=f"no push source {source_id!r}"), 404
    engine = get_engine(settings.resolved_database_url)
    other = _other_kind(engine, source_id)
    if other is not None:
        return jsonify(error=f"source {source_id!r} is fed by a {other!r} connector, "
                             "not by notifications"), 409
    try:
        entities = parse_notification(_body())
    except ValueError as error:
        return jsonify(error=str(error)), 400
    report = run_source(engine, settings, NotificationConnector({"entities": entities}),
                        source_id, "notification")
    return jsonify(report.as_dict()), 200 if report.status != "failed" else 503


def register_notifications(server: Flask, settings: Settings) -> bool:
    """Add the endpoint to ``server`` when a notify token is configured; True if added."""
    if not settings.notify_token:
        return False
    server.config["CITYLENS_NOTIFY_SETTINGS"] = settings
    server.register_blueprint(blueprint)
    return True
