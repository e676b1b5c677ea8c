"""Broker subscriptions post NGSI v2 / NGSI-LD notifications here; each one is a run.

``POST /ngsi/notify/<source_id>`` with ``Authorization: Bearer <CITYLENS_NOTIFY_TOKEN>``.
The endpoint does not exist unless the token is configured. Each notification is stored
through the shared runner, so it has a feed run, quarantine and district assignment.
"""
from __future__ import annotations

import hmac
import re
from collections.abc import Iterator, Mapping
from typing import Any

from flask import Blueprint, Flask, abort, current_app, jsonify, request

from connectors.base import CheckResult, Connector, ConnectorConfig, Mapped, Stream
from connectors.ngsi_parse import map_entity, parse_notification
from connectors.runner import run_source
from dashboard.auth.access import EVERYONE
from dashboard.auth.web import roles_required
from dashboard.settings import Settings
from dashboard.store import get_engine

SOURCE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
MAX_BODY_BYTES = 5 * 1024 * 1024


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


blueprint = Blueprint("ngsi_notify", __name__)


@blueprint.post("/ngsi/notify/<source_id>")
@roles_required(*EVERYONE)  # machine to machine: the bearer token below is the check
def notify(source_id: str) -> Any:
    """Store one notification as a run of ``source_id``."""
    settings: Settings = current_app.config["CITYLENS_NOTIFY_SETTINGS"]
    if not _authorised(settings.notify_token or ""):
        abort(401)
    if not SOURCE_ID.match(source_id):
        return jsonify(error="source id: letters, digits and . _ : - only"), 400
    if (request.content_length or 0) > MAX_BODY_BYTES:
        return jsonify(error=f"notification larger than {MAX_BODY_BYTES} bytes"), 413
    try:
        entities = parse_notification(request.get_data())
    except ValueError as error:
        return jsonify(error=str(error)), 400
    engine = get_engine(settings.resolved_database_url)
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
