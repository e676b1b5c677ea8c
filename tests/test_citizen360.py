"""Citizen 360 core: search, profile with one timeline, access rules, audited reads.

Small hand-made data stored through ``connectors.storing.store_batch`` (so ``search_text``
is filled the way ingest fills it), on SQLite and PostgreSQL; plus the tiny demo city.
"""
from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from dash import no_update
from dash.exceptions import PreventUpdate
from sqlalchemy import Connection, Engine, func, select

from connectors.base import Mapped
from connectors.storing import store_batch
from dashboard.auth import ADMIN, DEPARTMENT_HEAD, OFFICIAL, PUBLIC
from dashboard.auth.guard import UPDATE_PATH as UPDATE
from dashboard.auth.audit import entries
from dashboard.auth.users import ANONYMOUS, Principal
from dashboard.demo.users import DEMO_PASSWORD
from dashboard.model import AuditEntry, Case, Citizen, ServiceRequest, citizen_search_key
from dashboard.queries import citizen360 as c360
from dashboard.settings import Settings
from dashboard.store import get_engine
from tests.conftest import TINY_NOW, acting_as, clicked, router_body
from tests.tree import by_id, text_of, walk, with_class

NOW = datetime(2026, 2, 1, 12, 0, tzinfo=timezone.utc)
MAYOR = Principal("mayor", OFFICIAL)
WORKS = Principal("works", DEPARTMENT_HEAD, ("Public Works",))
ROOT = Principal("root", ADMIN)
REASON = "Complaint follow-up call"
WASTE = "Residuos y Limpieza"  # the tiny city's waste department (waste.head's)


def at(month: int, day: int, year: int = 2026) -> datetime:
    return datetime(year, month, day, 9, 0, tzinfo=timezone.utc)


def square(x: float) -> dict[str, Any]:
    ring = [[x, 43.0], [x + 0.1, 43.0], [x + 0.1, 43.1], [x, 43.1], [x, 43.0]]
    return {"type": "Polygon", "coordinates": [ring]}


def request(rid: str, citizen: str, department: str, status: str, requested: datetime,
            closed: datetime | None = None, notes: str = "") -> dict[str, Any]:
    code = "pothole" if department == "Public Works" else "noise"
    return {"id": rid, "service_code": code, "service_name": code.capitalize(),
            "department": department, "description": f"{code} near home", "status": status,
            "status_notes": notes, "channel": "web", "requested_at": requested,
            "closed_at": closed, "district_id": "d-centro", "citizen_id": citizen}


def city() -> Mapped:
    """Two districts, two departments, four citizens, requests, cases, participation."""
    return Mapped(
        districts=[{"id": "d-centro", "name": "Centro", "geometry": square(-3.9)},
                   {"id": "d-norte", "name": "Norte", "geometry": square(-3.7)}],
        services=[{"service_code": "pothole", "service_name": "Pothole",
                   "department": "Public Works"},
                  {"service_code": "noise", "service_name": "Noise",
                   "department": "Environment"}],
        citizens=[
            {"id": "c-maria", "name": "María García López", "email": "maria.garcia@example.org",
             "phone": "+34 942 123 456", "district_id": "d-centro", "birth_year": 1980,
             "consent": {"newsletter": True, "surveys": False}},
            {"id": "c-jose", "name": "José Núñez Peña", "email": "jose@example.org",
             "phone": "942 654 321", "district_id": "d-norte", "birth_year": 1950,
             "consent": {}},
            {"id": "c-mario", "name": "Mario Garcia", "email": None, "phone": "+34 600 111 222",
             "district_id": "d-norte", "birth_year": 1990, "consent": {}},
            {"id": "c-ana", "name": "Ana Sin Registros", "email": "c-jose.friend@example.org",
             "phone": None, "district_id": None, "birth_year": None, "consent": {}},
        ],
        service_requests=[
            request("r1", "c-maria", "Public Works", "open", at(1, 10)),
            request("r2", "c-maria", "Environment", "closed", at(1, 5), at(1, 7), "Fixed"),
            request("r3", "c-jose", "Public Works", "closed", at(1, 2), at(1, 3), "Done"),
            request("r4", "c-mario", "Environment", "open", at(1, 20)),
        ],
        cases=[
            {"id": "k1", "citizen_id": "c-maria", "kind": "permit", "department": "Public Works",
             "status": "open", "channel": "in_person", "district_id": "d-centro",
             "opened_at": at(12, 1, 2025), "closed_at": None},
            {"id": "k2", "citizen_id": "c-maria", "kind": "benefit",
             "department": "Social Services", "status": "rejected", "channel": "phone",
             "district_id": "d-centro", "opened_at": at(11, 1, 2025),
             "closed_at": at(11, 21, 2025)},
        ],
        participation=[{"id": "p1", "citizen_id": "c-maria", "kind": "survey",
                        "topic": "Bike lanes", "channel": "app", "district_id": "d-centro",
                        "time": at(1, 8)}],
    )


def store(conn: Connection, settings: Settings, mapped: Mapped) -> None:
    stored, refused = store_batch(conn, settings, [({}, mapped)], "test")
    assert (stored, refused) == (1, [])


@pytest.fixture
def data(conn: Connection, settings: Settings) -> Connection:
    """The hand-made city in the rolled-back test transaction."""
    store(conn, settings, city())
    return conn


@pytest.fixture
def committed(fresh_engine: Engine, settings: Settings) -> Engine:
    """The hand-made city committed in a store of its own (for the audited reads)."""
    with fresh_engine.begin() as conn:
        store(conn, settings, city())
    return fresh_engine


def ids(results: list[dict[str, Any]]) -> list[str]:
    return [r["id"] for r in results]


def audit_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(AuditEntry)).scalar_one()


# --- search key and storing --------------------------------------------------------------

def test_search_key_folds_accents_case_and_phone() -> None:
    assert c360.normalise("  María  GARCÍA-López ") == "maria garcia-lopez"
    assert citizen_search_key("José Núñez", "Jose@Example.org", "+34 942 123 456") == (
        "jose nunez jose@example.org 34942123456")
    assert citizen_search_key("Ana", None, None) == "ana"


def test_storing_fills_search_text_and_keeps_it_on_partial_updates(
        data: Connection, settings: Settings) -> None:
    def key(cid: str) -> str:
        return data.execute(select(Citizen.search_text).where(Citizen.id == cid)).scalar_one()

    assert key("c-maria") == "maria garcia lopez maria.garcia@example.org 34942123456"
    # a row without e-mail and phone keeps the stored ones in the key
    store(data, settings, Mapped(citizens=[{"id": "c-maria", "name": "María G. López"}]))
    assert key("c-maria") == "maria g. lopez maria.garcia@example.org 34942123456"
    store(data, settings, Mapped(citizens=[{"id": "c-maria", "name": "María G. López",
                                            "email": None, "phone": "942 000 111"}]))
    assert key("c-maria") == "maria g. lopez 942000111"


# --- search ------------------------------------------------------------------------------

def test_name_search_ignores_accents_and_case(data: Connection) -> None:
    assert ids(c360.search(data, MAYOR, "maria garcia")) == ["c-maria"]
    assert ids(c360.search(data, MAYOR, "GARCÍA")) == ["c-maria", "c-mario"]  # by name
    assert ids(c360.search(data, MAYOR, "nunez pena")) == ["c-jose"]
    assert c360.search(data, MAYOR, "garcia zzz") == []


def test_id_search_comes_first_and_ignores_case(data: Connection) -> None:
    assert ids(c360.search(data, MAYOR, "C-MARIO")) == ["c-mario"]
    assert ids(c360.search(data, MAYOR, "c-mari")) == []  # ids match whole, names by word
    found = c360.search(data, MAYOR, " c-jose ")  # the id, then Ana (e-mail; "ana" < "jose")
    assert found == [{"id": "c-jose", "name": "José Núñez Peña", "district_id": "d-norte",
                      "district_name": "Norte", "contact": "j•••@example.org"},
                     {"id": "c-ana", "name": "Ana Sin Registros", "district_id": None,
                      "district_name": None, "contact": "c•••@example.org"}]


def test_email_and_phone_search(data: Connection) -> None:
    assert ids(c360.search(data, MAYOR, "Maria.Garcia@Example")) == ["c-maria"]
    assert ids(c360.search(data, MAYOR, "example.org")) == ["c-ana", "c-jose", "c-maria"]
    assert ids(c360.search(data, MAYOR, "942 123 456")) == ["c-maria"]
    assert ids(c360.search(data, MAYOR, "+34 942 123 456")) == ["c-maria"]
    assert ids(c360.search(data, MAYOR, "+34 942-654-321")) == ["c-jose"]  # stored without +34
    assert ids(c360.search(data, MAYOR, "942")) == ["c-jose", "c-maria"]


@pytest.mark.parametrize("text", ["%%", "m%a", "mar_a", "__", "\\%", "ma[r]ia"])
def test_like_wildcards_are_literal(data: Connection, text: str) -> None:
    assert c360.search(data, MAYOR, text) == []


def test_short_or_unsearchable_text(data: Connection) -> None:
    for text in ("", " a ", "%"):
        with pytest.raises(ValueError, match="at least 2"):
            c360.search(data, MAYOR, text)
    assert c360.search(data, MAYOR, "中文") == []  # nothing searchable left: no match-all


def test_long_search_text_is_refused_before_sql(data: Connection) -> None:
    many_words = " ".join(["garcia"] * 28)  # 195 characters, 28 words: one LIKE each
    assert len(many_words) <= c360.MAX_QUERY
    assert ids(c360.search(data, MAYOR, many_words)) == ["c-maria", "c-mario"]
    assert c360.search(data, MAYOR, f"  {'x' * c360.MAX_QUERY}  ") == []  # spaces trimmed
    for text in ("x" * (c360.MAX_QUERY + 1), "ab " * 33_334, "9" * 100_000):
        with pytest.raises(ValueError, match=f"at most {c360.MAX_QUERY} characters"):
            c360.search(data, MAYOR, text)


def test_results_mask_contacts(data: Connection) -> None:
    contacts = {r["id"]: r["contact"] for r in c360.search(data, MAYOR, "an")}
    assert contacts == {"c-ana": "c•••@example.org"}
    found = {r["id"]: r for r in c360.search(data, MAYOR, "garcia")}
    assert found["c-maria"]["contact"] == "m•••@example.org"
    assert found["c-mario"]["contact"] == "••• ••• 222"
    text = repr(c360.search(data, MAYOR, "garcia"))
    assert "maria.garcia@example.org" not in text and "600 111" not in text


def test_limit(data: Connection) -> None:
    assert len(c360.search(data, MAYOR, "example", limit=2)) == 2


def test_searches_count_every_match_and_come_a_page_at_a_time(data: Connection) -> None:
    assert c360.count_matches(data, MAYOR, "example") == 3
    assert c360.count_matches(data, WORKS, "garcia") == 1  # a head counts their residents
    first = c360.search_page(data, MAYOR, "example", 0, limit=2)
    second = c360.search_page(data, MAYOR, "example", 2, limit=2)
    assert (first["total"], first["offset"], first["limit"]) == (3, 0, 2)
    assert (ids(first["matches"]), ids(second["matches"])) == (["c-ana", "c-jose"], ["c-maria"])
    assert (second["total"], second["offset"]) == (3, 2)
    assert c360.search_page(data, MAYOR, "example", 99, limit=2)["offset"] == 2  # last page
    # the exact id stays first, and pages never share a resident
    pages = [ids(c360.search_page(data, MAYOR, "c-jose", n, limit=1)["matches"]) for n in (0, 1)]
    assert pages == [["c-jose"], ["c-ana"]]
    assert c360.search_page(data, MAYOR, "zzzz", 40) == {
        "query": "zzzz", "total": 0, "offset": 0, "limit": c360.PAGE_SIZE, "matches": []}


def test_page_start() -> None:
    offsets: list[Any] = [0, 19, 20, 39, 44, 45, 10**30, -5, "x", None, 2.5]
    assert [c360.page_start(o, 45) for o in offsets] == [0, 0, 20, 20, 40, 40, 40, 0, 0, 0, 0]
    assert c360.page_start(60, 0) == 0
    assert c360.page_start(7, 45, limit=5) == 5


def test_department_head_finds_only_citizens_of_their_departments(data: Connection) -> None:
    assert ids(c360.search(data, WORKS, "garcia")) == ["c-maria"]  # Mario: Environment only
    assert ids(c360.search(data, WORKS, "c-mario")) == []
    assert ids(c360.search(data, WORKS, "ana")) == []  # no records at all
    environment = Principal("env", DEPARTMENT_HEAD, ("Environment",))
    assert ids(c360.search(data, environment, "garcia")) == ["c-maria", "c-mario"]
    social = Principal("soc", DEPARTMENT_HEAD, ("Social Services",))  # cases count too
    assert ids(c360.search(data, social, "garcia")) == ["c-maria"]


@pytest.mark.parametrize("who", [ANONYMOUS, ROOT, Principal("lost", DEPARTMENT_HEAD)])
def test_other_roles_may_not_search_or_read(data: Connection, who: Principal) -> None:
    with pytest.raises(PermissionError):
        c360.search(data, who, "maria")
    with pytest.raises(PermissionError):
        c360.profile(data, who, "c-maria")


# --- profile -----------------------------------------------------------------------------

def test_official_sees_the_whole_profile_open_items_first(data: Connection) -> None:
    found = c360.profile(data, MAYOR, "c-maria")
    assert found["citizen"] == {
        "id": "c-maria", "name": "María García López", "email": "maria.garcia@example.org",
        "phone": "+34 942 123 456", "district_id": "d-centro", "district_name": "Centro",
        "birth_year": 1980, "consent": {"newsletter": True, "surveys": False}}
    # open: oldest first (k1 Dec, r1 Jan 10); then newest first (p1, r2, k2)
    assert [i["id"] for i in found["timeline"]] == ["k1", "r1", "p1", "r2", "k2"]
    assert found["counts"] == {"open": 2, "total": 5, "requests": 2, "cases": 2,
                               "participation": 1}
    assert found["departments"] == ["Environment", "Public Works", "Social Services"]
    assert found["scope"] == "all" and found["participation_hidden"] is False


def test_timeline_items_share_one_shape(data: Connection) -> None:
    items = {i["id"]: i for i in c360.profile(data, MAYOR, "c-maria")["timeline"]}
    assert all(set(i) == set(c360.EXPORT_FIELDS[1:]) for i in items.values())
    assert items["r2"] == {
        "kind": "request", "id": "r2", "title": "Noise", "department": "Environment",
        "status": "closed", "open": False, "outcome": "Fixed", "channel": "web",
        "district_id": "d-centro", "started": "2026-01-05T09:00:00+00:00",
        "ended": "2026-01-07T09:00:00+00:00", "days_open": 2.0,
        "description": "noise near home"}
    assert items["r1"]["open"] and items["r1"]["ended"] is None
    assert items["r1"]["days_open"] is None
    assert (items["k1"]["title"], items["k1"]["outcome"], items["k1"]["days_open"]) == (
        "Permit", None, None)
    assert (items["k2"]["status"], items["k2"]["outcome"], items["k2"]["days_open"]) == (
        "rejected", "rejected", 20.0)
    assert items["p1"]["title"] == "Survey: Bike lanes"
    assert (items["p1"]["department"], items["p1"]["status"], items["p1"]["open"]) == (
        None, "took part", False)


def test_department_head_sees_only_their_departments(data: Connection) -> None:
    found = c360.profile(data, WORKS, "c-maria")
    assert [i["id"] for i in found["timeline"]] == ["k1", "r1"]
    assert {i["department"] for i in found["timeline"]} == {"Public Works"}
    assert found["counts"] == {"open": 2, "total": 2, "requests": 1, "cases": 1,
                               "participation": 0}
    assert found["departments"] == ["Public Works"]
    assert found["scope"] == ["Public Works"] and found["participation_hidden"] is True


def test_unknown_and_out_of_scope_citizens_are_not_found_alike(data: Connection) -> None:
    with pytest.raises(c360.NotFound) as unknown:
        c360.profile(data, MAYOR, "c-nobody")
    with pytest.raises(c360.NotFound) as out_of_scope:
        c360.profile(data, WORKS, "c-mario")
    assert str(unknown.value) == str(out_of_scope.value)
    assert isinstance(unknown.value, LookupError)
    assert c360.profile(data, MAYOR, "c-ana")["timeline"] == []  # no records: still found


# --- audited reads -----------------------------------------------------------------------

def test_open_profile_writes_exactly_one_entry(committed: Engine) -> None:
    found = c360.open_profile(committed, WORKS, "c-maria", f"  {REASON} ", NOW)
    assert [i["id"] for i in found["timeline"]] == ["k1", "r1"]
    with committed.connect() as conn:
        log = entries(conn)
    assert len(log) == 1
    assert {k: log[0][k] for k in ("username", "role", "action", "subject", "reason")} == {
        "username": "works", "role": DEPARTMENT_HEAD, "action": "view_profile",
        "subject": "c-maria", "reason": REASON}
    assert log[0]["time"] == NOW.isoformat()
    c360.open_profile(committed, MAYOR, "c-maria", REASON, NOW, action="export_profile")
    with committed.connect() as conn:
        assert [e["action"] for e in entries(conn, citizen="c-maria")] == [
            "export_profile", "view_profile"]


def test_failed_reads_write_nothing(committed: Engine) -> None:
    with pytest.raises(ValueError, match="reason"):
        c360.open_profile(committed, MAYOR, "c-maria", "why", NOW)
    with pytest.raises(c360.NotFound):
        c360.open_profile(committed, MAYOR, "c-nobody", REASON, NOW)
    with pytest.raises(c360.NotFound):
        c360.open_profile(committed, WORKS, "c-mario", REASON, NOW)
    for who in (ANONYMOUS, ROOT):
        with pytest.raises(PermissionError):
            c360.open_profile(committed, who, "c-maria", REASON, NOW)
        with pytest.raises(PermissionError):
            c360.run_search(committed, who, "maria", REASON, NOW)
    with pytest.raises(ValueError):
        c360.run_search(committed, MAYOR, "m", REASON, NOW)
    with pytest.raises(ValueError):
        c360.run_search(committed, MAYOR, "maria", "", NOW)
    assert audit_count(committed) == 0


def test_run_search_is_audited(committed: Engine) -> None:
    found = c360.run_search(committed, MAYOR, " maria garcia ", REASON, NOW)
    assert ids(found["matches"]) == ["c-maria"]
    assert (found["query"], found["total"], found["offset"]) == ("maria garcia", 1, 0)
    long = "x" * c360.MAX_QUERY
    assert c360.run_search(committed, MAYOR, long, REASON, NOW)["matches"] == []
    with committed.connect() as conn:
        log = entries(conn)
    assert [(e["action"], e["subject"], e["username"]) for e in log] == [
        ("search", ("search:" + long)[:200], "mayor"),
        ("search", "search:maria garcia", "mayor")]


def test_long_searches_and_reasons_write_nothing(committed: Engine) -> None:
    with pytest.raises(ValueError, match=f"at most {c360.MAX_QUERY} characters"):
        c360.run_search(committed, MAYOR, "ab " * 33_334, REASON, NOW)
    too_long = "r" * (c360.MAX_REASON + 1)
    with pytest.raises(ValueError, match=f"at most {c360.MAX_REASON} characters"):
        c360.run_search(committed, MAYOR, "maria", too_long, NOW)
    with pytest.raises(ValueError, match=f"at most {c360.MAX_REASON} characters"):
        c360.open_profile(committed, MAYOR, "c-maria", too_long, NOW)
    assert audit_count(committed) == 0
    longest = "r" * c360.MAX_REASON
    c360.open_profile(committed, MAYOR, "c-maria", f" {longest} ", NOW)
    with committed.connect() as conn:
        assert [e["reason"] for e in entries(conn)] == [longest]


def test_export_rows(data: Connection) -> None:
    found = c360.profile(data, MAYOR, "c-maria")
    rows = c360.export_rows(found)
    assert len(rows) == 5
    assert all(list(r) == list(c360.EXPORT_FIELDS) for r in rows)
    assert c360.EXPORT_FIELDS[0] == "citizen_id"
    assert {r["citizen_id"] for r in rows} == {"c-maria"}
    assert [r["id"] for r in rows] == [i["id"] for i in found["timeline"]]
    assert rows[0]["kind"] == "case" and rows[0]["open"] is True


# --- the tiny demo city ------------------------------------------------------------------

def test_tiny_city_citizens_are_searchable(tiny_city: Settings) -> None:
    engine = get_engine(tiny_city.resolved_database_url)
    with engine.connect() as conn:
        empty = conn.execute(select(func.count()).select_from(Citizen)
                             .where(Citizen.search_text == "")).scalar_one()
        total = conn.execute(select(func.count()).select_from(Citizen)).scalar_one()
        person = conn.execute(select(Citizen).where(Citizen.email.is_not(None))
                              .order_by(Citizen.id).limit(1)).one()
        assert total > 0 and empty == 0
        assert person.search_text == citizen_search_key(person.name, person.email,
                                                        person.phone)
        by_name = c360.search(conn, MAYOR, person.name, limit=100)
        assert person.id in ids(by_name)
        by_email = c360.search(conn, MAYOR, person.email.upper())
        assert ids(by_email)[:1] == [person.id]
        assert c360.search(conn, MAYOR, person.id)[0]["id"] == person.id


COMMON_SURNAME = "Martínez"  # more than a page of the tiny city's residents


def test_a_common_surname_is_counted_in_sql_and_paged_whole(tiny_city: Settings) -> None:
    db = sqlite3.connect(tiny_city.resolved_database_url.removeprefix("sqlite:///"))
    word = c360.normalise(COMMON_SURNAME)
    expected = {cid for (cid,) in db.execute(
        "SELECT id FROM citizens WHERE search_text LIKE ?", (f"%{word}%",))}
    db.close()
    assert len(expected) > c360.PAGE_SIZE  # more than one page
    pages: list[list[str]] = []
    with get_engine(tiny_city.resolved_database_url).connect() as conn:
        assert c360.count_matches(conn, MAYOR, COMMON_SURNAME) == len(expected)
        while len(pages) * c360.PAGE_SIZE < len(expected):
            page = c360.search_page(conn, MAYOR, COMMON_SURNAME, len(pages) * c360.PAGE_SIZE)
            assert (page["total"], page["offset"]) == (len(expected), len(pages) * c360.PAGE_SIZE)
            pages.append(ids(page["matches"]))
    seen = [cid for page_ids in pages for cid in page_ids]
    assert len(seen) == len(set(seen)) and set(seen) == expected  # disjoint, and all of them
    assert [len(p) for p in pages[:-1]] == [c360.PAGE_SIZE] * (len(pages) - 1)


# --- the page ----------------------------------------------------------------------------

def test_search_and_reason_inputs_are_bounded(in_app: None) -> None:
    from layouts.citizen360 import layout, pid

    with acting_as(OFFICIAL):
        tree = layout()
    assert by_id(tree, pid("query")).maxLength == c360.MAX_QUERY == 200
    assert by_id(tree, pid("reason")).maxLength == c360.MAX_REASON == 500


def test_search_callback_shows_an_over_long_search_as_a_message(
        in_app: None, tiny_city: Settings) -> None:
    from callbacks.citizen360 import search
    from layouts.citizen360 import pid

    engine = get_engine(tiny_city.resolved_database_url)
    before = audit_count(engine)
    with acting_as(OFFICIAL, username="mayor"), clicked(pid("search")):
        note, kept = search(1, None, [], "ab " * 33_334, REASON, None)
        reason_note, _ = search(1, None, [], "maria", "r" * (c360.MAX_REASON + 1), None)
    assert kept is no_update
    assert note.className == "c360-error" and note.role == "alert"
    assert text_of(note) == f"a search can be at most {c360.MAX_QUERY} characters long"
    assert text_of(reason_note) == f"a reason can be at most {c360.MAX_REASON} characters long"
    assert audit_count(engine) == before  # refused before anything was read or written


# --- the page on a store of its own (its callbacks write audit entries) ------------------

@pytest.fixture
def tiny_copy(tiny_city: Settings, tmp_path: Path, in_app: None) -> Iterator[Settings]:
    """A copy of the tiny city that the page's callbacks read (and audit) while this test
    runs; the shared tiny city stays untouched."""
    from flask import Flask

    from layouts import SETTINGS_KEY

    source = sqlite3.connect(tiny_city.resolved_database_url.removeprefix("sqlite:///"))
    target = sqlite3.connect(tmp_path / "citylens.db")
    source.backup(target)
    source.close()
    target.close()
    settings = Settings(var_dir=tmp_path, database_url="", redis_url=None, now=TINY_NOW)
    server = Flask("citizen360-copy")
    server.secret_key = "tests"
    server.config[SETTINGS_KEY] = settings
    with server.app_context():
        yield settings


def views_of(settings: Settings, citizen_id: str) -> list[dict[str, Any]]:
    """The "view_profile" audit entries of one resident, newest first."""
    with get_engine(settings.resolved_database_url).connect() as conn:
        return [e for e in entries(conn, citizen=citizen_id) if e["action"] == "view_profile"]


def page_layout(**query: Any) -> Any:
    """The page as Dash's router renders it (with the role check every page gets)."""
    import dash

    return dash.page_registry["layouts.citizen360"]["layout"](**query)


def searches(settings: Settings) -> list[str]:
    with get_engine(settings.resolved_database_url).connect() as conn:
        return [e["subject"] for e in entries(conn) if e["action"] == "search"]


def test_the_search_says_how_many_match_and_pages_through_them(tiny_copy: Settings) -> None:
    from callbacks.citizen360 import search
    from layouts.citizen360 import page_button, pid

    engine = get_engine(tiny_copy.resolved_database_url)
    with engine.connect() as conn:
        total = c360.count_matches(conn, MAYOR, COMMON_SURNAME)
    pages = -(-total // c360.PAGE_SIZE)
    with acting_as(OFFICIAL, username="mayor"), clicked(pid("search")):
        first, searched = search(1, None, [], f" {COMMON_SURNAME} ", REASON, None)
    assert searched == COMMON_SURNAME
    assert text_of(first).startswith(
        f"{total} residents match “{COMMON_SURNAME}” — showing 1–{c360.PAGE_SIZE}")
    assert len(with_class(first, "c360-result")) == c360.PAGE_SIZE
    assert f"Page 1 of {pages}" in text_of(first)
    assert by_id(first, page_button(0)).disabled is True  # "Previous" on the first page
    shown = [ids_in(first)]
    offset = c360.PAGE_SIZE
    page = first
    while offset < total:  # "Next" until the last page, with the box edited meanwhile
        assert by_id(page, page_button(offset)).disabled is False
        with acting_as(OFFICIAL, username="mayor"), clicked(page_button(offset)):
            page, kept = search(1, None, [0, 1], "something else", REASON, searched)
        assert kept == COMMON_SURNAME
        last = min(offset + c360.PAGE_SIZE, total)
        assert text_of(page).startswith(
            f"{total} residents match “{COMMON_SURNAME}” — showing {offset + 1}–{last}")
        shown.append(ids_in(page))
        offset += c360.PAGE_SIZE
    assert by_id(page, page_button(offset)).disabled is True  # "Next" on the last page
    everyone = [cid for page_ids in shown for cid in page_ids]
    assert len(everyone) == len(set(everyone)) == total
    # every page read is audited as the search it belongs to
    assert searches(tiny_copy) == [f"search:{COMMON_SURNAME}"] * pages
    # a page button drawn but not clicked reads nothing
    with acting_as(OFFICIAL, username="mayor"), clicked(page_button(20), clicks=0):
        with pytest.raises(PreventUpdate):
            search(1, None, [0, 0], "", REASON, searched)
    assert len(searches(tiny_copy)) == pages


def ids_in(results: Any) -> list[str]:
    """The residents a page of results lists (from their "Open profile" buttons)."""
    return [b.id["citizen"] for b in walk(results)
            if isinstance(getattr(b, "id", None), dict) and "citizen" in b.id]


def test_a_profile_link_round_trip_asks_for_a_reason_and_audits_once(
        tiny_copy: Settings) -> None:
    from dash._pages import _parse_query_string

    from callbacks.citizen360 import open_profile, search
    from layouts.citizen360 import open_button, pid

    engine = get_engine(tiny_copy.resolved_database_url)
    with engine.connect() as conn:
        person = conn.execute(select(Citizen).where(Citizen.email.is_not(None))
                              .order_by(Citizen.id).limit(1)).one()
    with acting_as(OFFICIAL, username="mayor"):
        with clicked(pid("search")):
            results, _ = search(1, None, [], person.id, REASON, None)
        assert ids_in(results)[:1] == [person.id]
        with clicked(open_button(person.id)):
            profile, current, url = open_profile([0, 1], REASON)
    assert current == person.id and person.name in text_of(profile)
    assert url == f"?resident={person.id}"  # the pseudonymous id, nothing personal
    assert len(views_of(tiny_copy, person.id)) == 1

    # The link, opened again (as Dash's router reads its query): nothing read yet.
    with acting_as(OFFICIAL, username="mayor"):
        linked = page_layout(**_parse_query_string(url))
    page_text = text_of(linked) + repr(linked)
    assert person.id in text_of(by_id(linked, pid("results")))
    for personal in (person.name, person.email, person.phone):
        assert personal not in page_text
    assert by_id(linked, open_button(person.id)).children == "Open profile"
    assert by_id(linked, pid("reason")).value == ""  # the page's own reason field

    # "Open profile" without a reason: refused, nothing read, nothing audited.
    with acting_as(OFFICIAL, username="mayor"), clicked(open_button(person.id)):
        refused, kept, url_kept = open_profile([1], "")
    assert refused.className == "c360-error" and "reason" in text_of(refused)
    assert kept is no_update and url_kept is no_update
    assert person.name not in repr(refused)
    assert len(views_of(tiny_copy, person.id)) == 1

    # With a reason: the same profile as from the results, and exactly one more entry.
    with acting_as(OFFICIAL, username="mayor"), clicked(open_button(person.id)):
        again, current, url = open_profile([1], "Call back about the link I was sent")
    assert text_of(again) == text_of(profile)
    assert (current, url) == (person.id, f"?resident={person.id}")
    views = views_of(tiny_copy, person.id)
    assert len(views) == 2
    assert {k: views[0][k] for k in ("username", "role", "subject", "reason")} == {
        "username": "mayor", "role": OFFICIAL, "subject": person.id,
        "reason": "Call back about the link I was sent"}


def test_a_forged_or_out_of_scope_link_says_no_such_resident(tiny_copy: Settings) -> None:
    from callbacks.citizen360 import open_profile
    from layouts.citizen360 import open_button

    engine = get_engine(tiny_copy.resolved_database_url)
    with engine.connect() as conn:
        outsider = conn.execute(  # a resident with no request or case of waste
            select(Citizen.id).where(
                ~Citizen.id.in_(select(ServiceRequest.citizen_id)
                                .where(ServiceRequest.department == WASTE)
                                .where(ServiceRequest.citizen_id.is_not(None))),
                ~Citizen.id.in_(select(Case.citizen_id).where(Case.department == WASTE)))
            .order_by(Citizen.id).limit(1)).scalar_one()
    before = audit_count(engine)
    cases = [(OFFICIAL, "cit-999999"), (OFFICIAL, "<b>x</b>' OR 1=1 --"),
             (OFFICIAL, "x" * 1000), (DEPARTMENT_HEAD, outsider)]
    for role, forged in cases:
        with acting_as(role, departments=(WASTE,) if role == DEPARTMENT_HEAD else (),
                       username="someone"):
            linked = page_layout(resident=forged)
            button = [c for c in walk(linked) if isinstance(getattr(c, "id", None), dict)
                      and c.id.get("type") == "citizen360-open"]
            assert len(button) == 1 and len(button[0].id["citizen"]) <= c360.MAX_QUERY
            with clicked(button[0].id):
                note, current, url = open_profile([1], REASON)
        assert text_of(note) == "No such resident, or not one whose records you may see."
        assert note.role == "alert" and current is no_update and url is no_update
    assert audit_count(engine) == before  # failed reads write nothing, as before


def test_a_role_without_citizen_360_gets_nothing_from_a_link(tiny_copy: Settings) -> None:
    from callbacks.citizen360 import open_profile, search
    from layouts.citizen360 import open_button, pid

    engine = get_engine(tiny_copy.resolved_database_url)
    before = audit_count(engine)
    with acting_as(ADMIN, username="admin"):
        refused = page_layout(resident="cit-000001")
        with clicked(open_button("cit-000001")):
            note, current, url = open_profile([1], REASON)
        with clicked(pid("search")):
            found, searched = search(1, None, [], COMMON_SURNAME, REASON, None)
    assert text_of(refused).startswith("Not available")
    assert "cit-000001" not in repr(refused)
    assert text_of(note) == text_of(found) == "Your role may not read residents' records."
    assert current is url is searched is no_update
    assert audit_count(engine) == before


def test_a_profile_link_needs_sign_in_and_the_role(clients: dict[str, Any],
                                                   tiny_app: Any) -> None:
    from urllib.parse import quote

    link = "/citizen360?resident=cit-000001"
    anonymous = clients[PUBLIC].get(link)
    assert anonymous.status_code == 302
    assert anonymous.headers["Location"] == "/login?next=" + quote(link, safe="")
    back = tiny_app.server.test_client()  # signing in from there comes back to the link
    form = back.get(anonymous.headers["Location"]).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token
    signed_in = back.post("/login", data={"csrf_token": token.group(1), "username": "mayor",
                                          "password": DEMO_PASSWORD, "next": link})
    assert (signed_in.status_code, signed_in.headers["Location"]) == (302, link)

    router = router_body("/citizen360")
    router["inputs"][1]["value"] = "?resident=cit-000001"
    assert clients[ADMIN].get(link).status_code == 403
    assert clients[ADMIN].post(UPDATE, json=router).status_code == 403
    assert clients[PUBLIC].post(UPDATE, json=router).status_code == 401
    for role in (OFFICIAL, DEPARTMENT_HEAD):
        assert clients[role].get(link).status_code == 200
        page = clients[role].post(UPDATE, json=router)
        assert page.status_code == 200
        body = page.get_data(as_text=True)
        assert "This link opens the profile of resident cit-000001" in body
        assert "@" not in body  # no e-mail, nor anything else of the resident's record
