"""Residents' photos served over HTTP (Flask only, no Dash):

- ``GET /open311/v2/media/<request_id>.jpg``: anyone, once staff approved the request
  (the Open311 ``media_url`` of a published request points here,
  ``dashboard.api.open311_reads.media_url``); 404 otherwise;
- ``GET /staff/request-photo/<request_id>.jpg``: staff, for the requests they may see (a
  department head: their departments'), whatever the moderation; 404 otherwise.

Always ``image/jpeg`` (what ``dashboard.photos`` stores), never sniffed, shown inline.
The store comes from the settings ``register_open311`` keeps on the server.
"""
from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Flask, Response, current_app
from sqlalchemy import Connection

from dashboard.api.open311_server import SETTINGS_KEY
from dashboard.auth.access import EVERYONE, STAFF, allowed
from dashboard.auth.guard import roles_required
from dashboard.auth.web import current_principal
from dashboard.photos import MEDIA_TYPE
from dashboard.queries.photos import Photo, public_photo, staff_photo
from dashboard.settings import Settings
from dashboard.store import get_engine

PUBLIC_CACHE = "public, no-cache"  # revalidated: a photo staff withdraw goes at once
STAFF_CACHE = "private, no-store"

blueprint = Blueprint("media", __name__)


def _photo(read: Callable[[Connection], Photo | None], cache: str) -> Response:
    """The photo ``read`` finds, as an inline JPEG with ``cache``; 404 when none."""
    settings: Settings = current_app.config[SETTINGS_KEY]
    with get_engine(settings.resolved_database_url).connect() as conn:
        found = read(conn)
    if found is None:
        return Response("no such photo", status=404, mimetype="text/plain")
    response = Response(found[0], status=200, content_type=MEDIA_TYPE)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = "inline"
    response.headers["Cache-Control"] = cache
    return response


@blueprint.get("/open311/v2/media/<request_id>.jpg")
@roles_required(*EVERYONE)
def public_media(request_id: str) -> Response:
    """The photo of an approved request, for anyone."""
    return _photo(lambda conn: public_photo(conn, request_id), PUBLIC_CACHE)


@blueprint.get("/staff/request-photo/<request_id>.jpg")
@roles_required(*STAFF)
def staff_media(request_id: str) -> Response:
    """The photo of a request the signed-in member of staff may see."""
    who = current_principal()
    if not allowed(who, STAFF):  # the guard refused already; checked again where read
        return Response("no such photo", status=404, mimetype="text/plain")
    return _photo(lambda conn: staff_photo(conn, who, request_id), STAFF_CACHE)


def register_media(server: Flask) -> None:
    """Serve the photos on ``server`` (after ``register_open311``, whose settings it reads)."""
    if SETTINGS_KEY not in server.config:
        raise RuntimeError("register_open311(server, settings) must come before "
                           "register_media(server)")
    server.register_blueprint(blueprint)
