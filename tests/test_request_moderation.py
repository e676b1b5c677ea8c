"""Staff approve what a resident wrote on a request for the open data, or keep it private,
from the request's page: the decision is stored, audited, refreshes every view, and is
what the Open311 server publishes; a department head decides only for their departments."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import insert, select

from dashboard.api.open311_server import register_open311
from dashboard.auth import DEPARTMENT_HEAD, OFFICIAL, PUBLIC
from dashboard.auth.audit import entries
from dashboard.model import District, Service, ServiceRequest
from dashboard.queries.request_detail import request_detail
from dashboard.settings import Settings
from dashboard.store import data_version, get_engine
from tests.conftest import acting_as, clicked
from tests.tree import by_id, text_of, walk

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def store(tmp_path: Path, tiny_app: Any) -> Iterator[Settings]:
    """Two requests with a resident's text (Obras, Limpieza), one without; inside an app
    whose settings are these (as the page's callbacks run; the pages need an app)."""
    from layouts import SETTINGS_KEY

    settings = Settings(var_dir=tmp_path, database_url="", redis_url=None, now=NOW)
    with get_engine(settings.resolved_database_url).begin() as conn:
        conn.execute(insert(District), [{"id": "d1", "name": "Centro", "geometry": {}}])
        conn.execute(insert(Service), [
            {"service_code": "pothole", "service_name": "Pothole", "department": "Obras"},
            {"service_code": "litter", "service_name": "Litter", "department": "Limpieza"}])
        conn.execute(insert(ServiceRequest), [
            {"id": f"R-{n}", "service_code": code, "service_name": code, "department": dept,
             "description": text, "address": "Calle Sol 4" if text else "", "status": "open",
             "channel": "app", "requested_at": NOW, "district_id": "d1",
             "moderation": "pending" if text else None,
             "duplicate_of": "R-0" if n == 2 else None,
             "duplicate_state": "suspected" if n == 2 else None}
            for n, (code, dept, text) in enumerate([
                ("pothole", "Obras", "Big hole in front of number 4"),
                ("litter", "Limpieza", "Bags left by my neighbour"),
                ("pothole", "Obras", "")])])
    server = Flask("moderation-test")
    server.secret_key = "tests"
    server.config[SETTINGS_KEY] = settings
    with server.app_context():
        yield settings


def _page(settings: Settings, request_id: str) -> object:
    from layouts.request import request_view

    detail = request_detail(settings, request_id)
    assert detail is not None
    return request_view(detail, settings.timezone)


def _published(settings: Settings, request_id: str) -> dict[str, str]:
    server = Flask("moderation-open311")
    register_open311(server, settings)
    found = server.test_client().get(f"/open311/v2/requests/{request_id}.json").get_json()[0]
    return {k: found[k] for k in ("description", "address")}


def _version(engine: Any) -> str:
    with engine.connect() as conn:
        return str(data_version(conn))


def _decide(button: str, request_id: str) -> tuple[object, object]:
    from callbacks.request import decide
    from layouts.request import pid

    with clicked(pid(button)):
        return decide(1, None, request_id) if button == "approve" else decide(None, 1,
                                                                                request_id)


def test_the_page_shows_the_state_and_the_buttons_only_when_there_is_text(
        store: Settings) -> None:
    from layouts.request import pid

    page = _page(store, "R-0")
    assert text_of(by_id(page, pid("moderation"))) == "Awaiting moderation"
    assert by_id(page, pid("approve")) is not None and by_id(page, pid("reject")) is not None
    assert pid("publication") not in {getattr(node, "id", None)
                                      for node in walk(_page(store, "R-2"))}


def test_approving_publishes_and_keeping_private_hides_again(store: Settings) -> None:
    engine = get_engine(store.resolved_database_url)
    assert _published(store, "R-0") == {"description": "", "address": ""}
    before = _version(engine)
    with acting_as(OFFICIAL, username="mayor"):
        state, note = _decide("approve", "R-0")
    assert state == "Published" and "audit log" in text_of(note)
    assert _published(store, "R-0") == {"description": "Big hole in front of number 4",
                                         "address": "Calle Sol 4"}
    assert _version(engine) != before  # every cached view of requests recomputes
    with acting_as(OFFICIAL, username="mayor"):
        state, _ = _decide("reject", "R-0")
    assert state == "Kept private"
    assert _published(store, "R-0") == {"description": "", "address": ""}
    with engine.connect() as conn:
        decisions = [(e["username"], e["action"], e["subject"], e["reason"])
                     for e in entries(conn) if e["action"] == "moderate"]
    assert decisions == [
        ("mayor", "moderate", "R-0", "kept the resident's text private"),
        ("mayor", "moderate", "R-0", "approved the resident's text for publication")]


@pytest.mark.parametrize(("role", "departments", "says"), [
    (DEPARTMENT_HEAD, ("Obras",), "no service request 'R-1' that you may see"),
    (PUBLIC, (), "only staff moderate what residents wrote"),
])
def test_only_staff_of_the_requests_department_decide(
        store: Settings, role: str, departments: tuple[str, ...], says: str) -> None:
    with acting_as(role, departments=departments):
        state, note = _decide("approve", "R-1")
    assert text_of(note) == says and note.role == "alert"
    with get_engine(store.resolved_database_url).connect() as conn:
        kept = conn.execute(select(ServiceRequest.moderation)
                            .where(ServiceRequest.id == "R-1")).scalar()
        assert kept == "pending" and not [e for e in entries(conn) if e["action"] == "moderate"]
    with acting_as(DEPARTMENT_HEAD, departments=("Limpieza",)):
        state, _ = _decide("approve", "R-1")
    assert state == "Published"


def test_staff_settle_a_possible_duplicate_from_the_page(store: Settings) -> None:
    from callbacks.request import settle_duplicate
    from layouts.request import pid

    page = _page(store, "R-2")
    said = " ".join(text_of(by_id(page, pid("duplicate"))).split())
    assert "request R-0 of the same service was open within 50 m" in said
    assert text_of(by_id(page, pid("duplicate-state"))) == "Possible duplicate"
    assert pid("duplicate") not in {getattr(n, "id", None) for n in walk(_page(store, "R-0"))}
    with acting_as(DEPARTMENT_HEAD, departments=("Limpieza",)), \
            clicked(pid("duplicate-confirm")):
        _, refused = settle_duplicate(1, None, "R-2")
    assert text_of(refused) == "no service request 'R-2' that you may see"
    with acting_as(OFFICIAL), clicked(pid("duplicate-confirm")):
        state, _ = settle_duplicate(1, None, "R-2")
        _, unmarked = settle_duplicate(1, None, "R-0")
    assert state == "Duplicate (confirmed)"
    assert text_of(unmarked) == "request 'R-0' is not marked as a possible duplicate"
    with acting_as(OFFICIAL), clicked(pid("duplicate-reject")):
        state, _ = settle_duplicate(None, 1, "R-2")
    assert state == "Not a duplicate"
    assert text_of(by_id(_page(store, "R-2"), pid("duplicate-state"))) == "Not a duplicate"
