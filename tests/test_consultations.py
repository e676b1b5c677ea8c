"""Consultations (``dashboard.consultations`` and its reads), on SQLite and PostgreSQL: a
survey checked as a whole, questions fixed once answered, department heads kept to their
departments; answers checked against the questions, one per device (the unique index, not
a read before the write), only while open; free text private until approved; results
public only once closed; identified residents on their Citizen 360 timeline, their answers
still anonymous; every decision audited."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from dashboard.auth import ADMIN, DEPARTMENT_HEAD, OFFICIAL, PUBLIC
from dashboard.auth.users import Principal
from dashboard.consultations import (
    AlreadyAnswered,
    check_answers,
    check_survey,
    device_key,
    moderate_text,
    record_answer,
    save_survey,
)
from dashboard.model import AuditEntry, Citizen, District, Participation, SurveyAnswer
from dashboard.queries.consultations import (
    has_answered,
    survey,
    survey_results,
    surveys_for,
    texts_to_moderate,
)
from dashboard.settings import Settings
from dashboard.store import get_engine
from tests.conftest import pg_store

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
MAYOR = Principal("mayor", OFFICIAL)
PARKS_HEAD = Principal("parks.head", DEPARTMENT_HEAD, departments=("Parques y Jardines",))


def plaza_survey(**changes: Any) -> dict[str, Any]:
    """A district's consultation on a square: one of each kind of question."""
    return {"id": "plaza-del-pilar", "title": {"es": "La plaza del Pilar", "en": "Pilar square"},
            "intro": {"es": "¿Cómo la quiere?"}, "department": "Parques y Jardines",
            "district_id": "d1", "opens_at": NOW - timedelta(days=1),
            "closes_at": NOW + timedelta(days=13), "languages": ["en"],
            "questions": [
                {"id": "use", "kind": "single", "required": True,
                 "text": {"es": "¿Para qué la usa?", "en": "What do you use it for?"},
                 "options": [{"key": "play", "label": {"es": "Jugar", "en": "Play"}},
                             {"key": "rest", "label": {"es": "Descansar", "en": "Rest"}}]},
                {"id": "wants", "kind": "multiple",
                 "text": {"es": "¿Qué falta?"},
                 "options": [{"key": "shade", "label": "Sombra"},
                             {"key": "benches", "label": "Bancos"},
                             {"key": "water", "label": "Fuentes"}]},
                {"id": "rating", "kind": "scale", "min": 1, "max": 5,
                 "text": {"es": "¿Cómo la valora?"}},
                {"id": "else", "kind": "text", "text": {"es": "¿Algo más?"}}],
            **changes}


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """A store of its own with two districts, on SQLite and PostgreSQL."""
    def seeded(settings: Settings) -> Settings:
        with get_engine(settings.resolved_database_url).begin() as conn:
            conn.execute(insert(District), [{"id": "d1", "name": "Centro", "geometry": {}},
                                            {"id": "d2", "name": "Norte", "geometry": {}}])
        return settings

    if request.param == "sqlite":
        yield seeded(Settings(var_dir=tmp_path, database_url="", redis_url=None, now=NOW))
        return
    with pg_store("citylens_consult") as (url, _engine):
        yield seeded(Settings(var_dir=tmp_path, database_url=url, redis_url=None, now=NOW))


def at(settings: Settings, moment: datetime) -> Settings:
    return settings.model_copy(update={"now": moment})


def test_a_survey_is_checked_as_a_whole() -> None:
    districts = {"d1"}
    row = check_survey(plaza_survey(), "es", districts)
    assert row["languages"] == ["en", "es"] and row["questions"][2]["max"] == 5
    assert row["questions"][1]["options"][0]["label"] == {"es": "Sombra"}
    for changes, words in [
        ({"id": "Plaza Pilar"}, "lower-case"),
        ({"closes_at": NOW - timedelta(days=2)}, "closes_at must come after"),
        ({"opens_at": datetime(2026, 11, 1)}, "time zone"),
        ({"district_id": "d9"}, "not a district"),
        ({"title": {"en": "Only English"}}, "title: a text in es is required"),
        ({"questions": []}, "between 1 and 30 questions"),
        ({"questions": [{"id": "a", "kind": "poll", "text": "x"}]}, "kind 'poll'"),
        ({"questions": [{"id": "a", "kind": "single", "text": "x",
                         "options": [{"key": "k", "label": "uno"}]}]}, "two or more options"),
        ({"questions": [{"id": "a", "kind": "scale", "text": "x", "min": 3, "max": 3}]},
         "a scale"),
        ({"questions": [{"id": "a", "kind": "text", "text": "x"},
                        {"id": "a", "kind": "text", "text": "y"}]}, "share an id"),
    ]:
        with pytest.raises(ValueError, match=words):
            check_survey(plaza_survey(**changes), "es", districts)


def test_answers_are_checked_against_the_questions() -> None:
    questions = check_survey(plaza_survey(), "es", {"d1"})["questions"]
    choices, texts = check_answers(questions, {"use": "play", "wants": ["shade", "water"],
                                               "rating": "4", "else": "  Más árboles "})
    assert choices == {"use": ["play"], "wants": ["shade", "water"], "rating": 4.0}
    assert texts == {"else": "Más árboles"}
    for given, words in [({"wants": ["shade"]}, "use: this question needs an answer"),
                         ({"use": "fly"}, "use: choose among its options"),
                         ({"use": ["play", "rest"]}, "use: one option only"),
                         ({"use": "play", "rating": "6"}, "from 1 to 5"),
                         ({"use": "play", "rating": "2.5"}, "whole number"),
                         ({"use": "play", "colour": "red"}, "'colour' is not a question"),
                         ({"use": "play", "else": "x" * 2001}, "at most 2000")]:
        with pytest.raises(ValueError, match=words):
            check_answers(questions, given)


def test_one_answer_per_device_only_while_open(store: Settings) -> None:
    save_survey(store, MAYOR, plaza_survey(), "es")
    phone = device_key("secret", "cookie-1")
    record_answer(store, "plaza-del-pilar", phone, {"use": "play", "rating": 4})
    with pytest.raises(AlreadyAnswered):
        record_answer(store, "plaza-del-pilar", phone, {"use": "rest"})
    assert has_answered(store, "plaza-del-pilar", phone)
    assert not has_answered(store, "plaza-del-pilar", device_key("secret", "cookie-2"))
    with pytest.raises(ValueError, match="is not open"):
        record_answer(at(store, NOW + timedelta(days=14)), "plaza-del-pilar",
                      device_key("secret", "late"), {"use": "play"})
    with pytest.raises(ValueError, match="is not open"):
        record_answer(at(store, NOW - timedelta(days=2)), "plaza-del-pilar",
                      device_key("secret", "early"), {"use": "play"})
    with get_engine(store.resolved_database_url).connect() as conn:
        assert conn.execute(select(SurveyAnswer.answers)).scalars().all() == [
            {"use": ["play"], "rating": 4.0}]


def test_free_text_is_private_until_approved_and_results_until_closed(store: Settings) -> None:
    save_survey(store, MAYOR, plaza_survey(), "es")
    for n, (use, rating, text) in enumerate([("play", 5, "Más sombra, por favor"),
                                             ("play", 3, "Llamen al 600 123 456"),
                                             ("rest", 4, "")]):
        record_answer(store, "plaza-del-pilar", device_key("s", str(n)),
                      {"use": use, "rating": rating, "else": text, "wants": ["shade"]})
    assert survey_results(store, "plaza-del-pilar") is None  # open: not public yet
    staff = survey_results(store, "plaza-del-pilar", staff=True)
    by_id = {q["question"]["id"]: q for q in staff["questions"]}
    assert staff["answers"] == 3 and by_id["use"]["counts"] == {"play": 2, "rest": 1}
    assert by_id["wants"]["counts"] == {"shade": 3, "benches": 0, "water": 0}
    assert by_id["rating"]["mean"] == 4.0 and by_id["rating"]["counts"]["3"] == 1
    assert by_id["else"]["texts"] == [] and by_id["else"]["awaiting"] == 2
    queue = texts_to_moderate(store, "plaza-del-pilar")
    assert [t["text"] for t in queue] == ["Más sombra, por favor", "Llamen al 600 123 456"]
    moderate_text(store, MAYOR, queue[0]["id"], "approve")
    moderate_text(store, MAYOR, queue[1]["id"], "reject")
    closed = survey_results(at(store, NOW + timedelta(days=14)), "plaza-del-pilar")
    texts = {q["question"]["id"]: q for q in closed["questions"]}["else"]
    assert texts["texts"] == ["Más sombra, por favor"] and "awaiting" not in texts
    with get_engine(store.resolved_database_url).connect() as conn:
        actions = conn.execute(select(AuditEntry.action, AuditEntry.subject)).all()
    assert ("consultation", "plaza-del-pilar") in actions
    assert sum(action == "moderate" for action, _ in actions) == 2


def test_an_identified_resident_is_on_their_timeline_with_anonymous_answers(
        store: Settings) -> None:
    save_survey(store, MAYOR, plaza_survey(), "es")
    record_answer(store, "plaza-del-pilar", device_key("s", "ana"), {"use": "play"},
                  channel="kiosk", email="ana@example.org")
    record_answer(store, "plaza-del-pilar", device_key("s", "anon"), {"use": "rest"})
    with get_engine(store.resolved_database_url).connect() as conn:
        took_part = conn.execute(select(Participation)).one()
        citizen = conn.execute(select(Citizen)).one()
        columns = set(SurveyAnswer.__table__.columns.keys())
    assert (took_part.kind, took_part.topic, took_part.channel, took_part.district_id) == (
        "consultation", "La plaza del Pilar", "kiosk", "d1")
    assert took_part.citizen_id == citizen.id and citizen.email == "ana@example.org"
    assert not columns & {"citizen_id", "email", "address"}  # answers name nobody
    with pytest.raises(ValueError, match="not an e-mail"):
        record_answer(store, "plaza-del-pilar", device_key("s", "bad"), {"use": "rest"},
                      email="ana-at-home")


def test_who_may_create_and_change_a_consultation(store: Settings) -> None:
    with pytest.raises(PermissionError):
        save_survey(store, Principal("anyone", PUBLIC), plaza_survey(), "es")
    with pytest.raises(PermissionError, match="own departments"):
        save_survey(store, PARKS_HEAD, plaza_survey(department="Movilidad"), "es")
    save_survey(store, PARKS_HEAD, plaza_survey(), "es")
    save_survey(store, PARKS_HEAD, plaza_survey(title={"es": "La plaza del Pilar, 2026"}), "es")
    record_answer(store, "plaza-del-pilar", device_key("s", "1"), {"use": "play"})
    with pytest.raises(ValueError, match="cannot change once answered"):
        save_survey(store, Principal("admin", ADMIN), plaza_survey(questions=[
            {"id": "use", "kind": "text", "text": "¿Para qué?"}]), "es")
    listed = surveys_for(store, district="d1")
    assert [(s["id"], s["state"], s["answers"], s["title"]["es"]) for s in listed] == [
        ("plaza-del-pilar", "open", 1, "La plaza del Pilar, 2026")]
    assert surveys_for(store, district="d2") == []
    assert survey(store, "plaza-del-pilar")["district_name"] == "Centro"
