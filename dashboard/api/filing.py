"""Filing a resident's service request, whichever way it came: an app posting to the Open311
server (channel ``app``), the public form ``/report`` (``web``) or the form opened from the
kiosk's QR code (``kiosk``). One path for all of them: the submission checked field by field
and against the service's attribute definitions, marked when an open request of the same
service lies close by, then stored through the connectors' validation (``StorePosted``,
handed over by the composition root). Each refusal is one line (``ValueError``)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from dashboard.api.open311_intake import (
    Rows,
    StorePosted,
    Submission,
    check_answers,
    request_rows,
)
from dashboard.api.open311_reads import service_facts
from dashboard.queries.duplicates import nearest_open_request
from dashboard.settings import Settings

CHANNELS = ("app", "web", "kiosk")


@dataclass(frozen=True)
class Filed:
    """A stored request: its id, the token it is followed by, and the open request of the
    same service it may repeat (id, metres away), if any."""

    request_id: str
    token: str
    nearby: tuple[str, int] | None


def file_request(settings: Settings, engine: Engine, store: StorePosted,
                 submission: Submission, channel: str,
                 extra_rows: Rows | None = None) -> Filed:
    """Check ``submission`` against its service, store it with ``extra_rows`` (e.g. its
    photo, each row's ``request_id`` filled in here) and return what was filed; a one-line
    ValueError for the first thing wrong (nothing is stored then)."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    with engine.connect() as conn:
        service = service_facts(conn, submission.service_code)
        nearby = nearest_open_request(conn, submission.service_code, submission.lat,
                                      submission.lon)
    if service is None or not service["online"]:
        raise ValueError(f"service_code {submission.service_code!r} is not a service of "
                         "this city that takes requests online")
    answers = check_answers(service["attributes"] or [], submission.answers)
    rows = request_rows(submission, service, answers, settings.current_time(), channel,
                        nearby[0] if nearby else None)
    posted: dict[str, Any] = rows["service_requests"][0]
    for table, extra in (extra_rows or {}).items():
        rows[table] = [{**row, "request_id": posted["id"]} for row in extra]
    refusal = store(settings, rows)
    if refusal:
        raise ValueError(refusal)
    return Filed(str(posted["id"]), str(posted["token"]), nearby)
