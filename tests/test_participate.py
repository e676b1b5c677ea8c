"""Have your say (``/participate``, ``/participate/<id>``) and the kiosk's slide, over the
real app on a store of its own: the pages in each language, answering through Dash's
endpoint as a browser does (the device cookie given once, a second answer refused, the
page then saying so), consent before an e-mail is kept, the trap field, the rate limit,
results only once closed, pending free text never public."""
from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from dashboard.consultations import device_key, moderate_text, record_answer, save_survey
from dashboard.model import District, Participation, SurveyAnswer
from dashboard.queries.consultations import texts_to_moderate
from dashboard.settings import Settings
from dashboard.store import get_engine
from tests.conftest import router_body
from tests.test_consultations import MAYOR, NOW, plaza_survey

SEND_OUTPUT = ("..participate-send-result.children...participate-send-box.hidden..."
               "participate-send-error.children..")


@pytest.fixture
def city(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The app on a store with an open consultation in Centro and a closed city-wide one
    (three answers, one free text approved and one pending)."""
    from app import create_app

    settings = Settings(var_dir=tmp_path, database_url="", redis_url=None, now=NOW,
                        public_write_rate_per_address="4/minute")
    with get_engine(settings.resolved_database_url).begin() as conn:
        conn.execute(insert(District), [{"id": "d1", "name": "Centro", "geometry": {}},
                                        {"id": "d2", "name": "Norte", "geometry": {}}])
    save_survey(settings, MAYOR, plaza_survey(), "es")
    closed = plaza_survey(id="carril-bici", district_id=None,
                          title={"es": "Carril bici", "en": "Cycle lanes"},
                          opens_at=NOW - timedelta(days=30), closes_at=NOW + timedelta(days=1))
    save_survey(settings, MAYOR, closed, "es")
    for n, text in enumerate(["Más carriles en el centro", "Mi vecino Juan 600111222", ""]):
        record_answer(settings, "carril-bici", device_key("x", str(n)),
                      {"use": "play", "rating": 4, "else": text})
    first, _second = texts_to_moderate(settings, "carril-bici")
    moderate_text(settings, MAYOR, first["id"], "approve")
    later = settings.model_copy(update={"now": NOW + timedelta(days=2)})
    app = create_app(later)
    yield {"settings": later, "server": app.server,
           "engine": get_engine(settings.resolved_database_url)}


def _text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def routed(client: Any, path: str, search: str = "") -> str:
    body = router_body(path)
    body["inputs"][1]["value"] = search
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 200, path
    return _text(response.get_json())


def send_body(answers: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """What Dash sends when "Send my answers" is clicked."""
    values = {"email": None, "consent": None, "website": None, "survey": "plaza-del-pilar",
              "channel": "web", "lang": "en", **fields}
    return {"output": SEND_OUTPUT,
            "outputs": [{"id": "participate-send-result", "property": "children"},
                        {"id": "participate-send-box", "property": "hidden"},
                        {"id": "participate-send-error", "property": "children"}],
            "inputs": [{"id": "participate-send", "property": "n_clicks", "value": 1}],
            "state": [[{"id": {"type": "participate-answer", "question": q},
                        "property": "value", "value": v} for q, v in answers.items()],
                      {"id": "participate-email", "property": "value", "value": values["email"]},
                      {"id": "participate-consent", "property": "value",
                       "value": values["consent"]},
                      {"id": "participate-website", "property": "value",
                       "value": values["website"]},
                      {"id": "participate-survey", "property": "data", "value": values["survey"]},
                      {"id": "participate-channel", "property": "data",
                       "value": values["channel"]},
                      {"id": "participate-lang", "property": "data", "value": values["lang"]}],
            "changedPropIds": ["participate-send.n_clicks"]}


def send(client: Any, answers: dict[str, Any], **fields: Any) -> dict[str, Any]:
    response = client.post("/_dash-update-component", json=send_body(answers, **fields))
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response.get_json()["response"]


def _answers(city: dict[str, Any]) -> int:
    with city["engine"].connect() as conn:
        return int(conn.execute(select(func.count()).select_from(SurveyAnswer).where(
            SurveyAnswer.survey_id == "plaza-del-pilar")).scalar_one())


def test_the_list_shows_open_and_closed_consultations_in_each_language(city: dict) -> None:
    client = city["server"].test_client()
    spanish = routed(client, "/participate", "?lang=es&district=d1")
    assert "Participe" in spanish and "La plaza del Pilar" in spanish
    assert "Carril bici" in spanish and "Resultados" in spanish
    assert "/participate/plaza-del-pilar?district=d1&lang=es" in spanish
    english = routed(client, "/participate", "?lang=en&district=d2")
    assert "Cycle lanes" in english and "Pilar square" not in english  # another district
    assert '<html lang="es">' in client.get("/participate/carril-bici?lang=es").get_data(
        as_text=True)


def test_one_answer_per_device_with_its_cookie(city: dict) -> None:
    client = city["server"].test_client()
    assert "Send my answers" in routed(client, "/participate/plaza-del-pilar", "?lang=en")
    response = client.post("/_dash-update-component",
                           json=send_body({"use": "play", "wants": ["shade"], "rating": 3}))
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("citylens_device=") and "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    answer = response.get_json()["response"]
    assert "Thank you for your answers" in _text(answer) and answer["participate-send-box"]
    again = send(client, {"use": "rest"})
    assert "already answered from this device" in _text(again["participate-send-error"])
    assert "already answered from this device" in routed(
        client, "/participate/plaza-del-pilar", "?lang=en")
    assert _answers(city) == 1
    other = city["server"].test_client()  # another phone
    send(other, {"use": "rest"})
    assert _answers(city) == 2


def test_an_e_mail_is_kept_only_with_consent(city: dict) -> None:
    client = city["server"].test_client()
    refused = send(client, {"use": "play"}, email="ana@example.org")
    assert "Tick the box" in _text(refused["participate-send-error"])
    send(client, {"use": "play"}, email="ana@example.org", consent=["yes"], channel="kiosk")
    with city["engine"].connect() as conn:
        took_part = conn.execute(select(Participation.topic, Participation.channel)).all()
    assert took_part == [("La plaza del Pilar", "kiosk")]


@pytest.mark.parametrize(("answers", "fields", "words"), [
    ({"wants": ["shade"]}, {}, "use: this question needs an answer"),
    ({"use": "fly"}, {}, "choose among its options"),
    ({"use": "play"}, {"website": "spam"}, "could not be sent."),
    ({"use": "play"}, {"survey": "carril-bici"}, "is not open"),
])
def test_refused_answers_store_nothing(city: dict, answers: dict[str, Any],
                                       fields: dict[str, Any], words: str) -> None:
    answer = send(city["server"].test_client(), answers, **fields)
    assert words in _text(answer["participate-send-error"])
    assert _answers(city) == 0


def test_the_fifth_answer_in_a_minute_from_one_address_is_refused(city: dict) -> None:
    for _n in range(4):
        send(city["server"].test_client(), {"use": "play"})
    refused = send(city["server"].test_client(), {"use": "play"})
    assert "Too many answers" in _text(refused["participate-send-error"])
    assert _answers(city) == 4


def test_results_once_closed_with_only_approved_text(city: dict) -> None:
    client = city["server"].test_client()
    closed = routed(client, "/participate/carril-bici", "?lang=es")
    assert "Resultados" in closed and "Respondieron 3 personas." in closed
    assert "Más carriles en el centro" in closed and "600111222" not in closed
    assert "Enviar mis respuestas" not in closed
    still_open = routed(client, "/participate/plaza-del-pilar", "?lang=es")
    assert "Resultados" not in still_open
    assert "Consultation not found" in routed(client, "/participate/nothing", "?lang=en")


def _slides(client: Any, district: str | None, lang: str = "en") -> str:
    response = client.post("/_dash-update-component", json={
        "output": "kiosk-stage.children",
        "outputs": {"id": "kiosk-stage", "property": "children"},
        "inputs": [{"id": "kiosk-version", "property": "data", "value": "next"}],
        "state": [{"id": "kiosk-lang", "property": "data", "value": lang},
                  {"id": "kiosk-district", "property": "data", "value": district}],
        "changedPropIds": ["kiosk-version.data"]})
    return _text(response.get_json())


def test_the_kiosk_invites_to_the_open_one_or_shows_the_last_results(city: dict) -> None:
    client = city["server"].test_client()
    centro = _slides(client, "d1")
    assert "Have your say" in centro and "Pilar square" in centro
    assert "/participate/plaza-del-pilar?from=kiosk&lang=en" in centro
    norte = _slides(client, "d2", "es")
    assert "Lo que dijeron los vecinos" in norte and "Carril bici" in norte
    assert "600111222" not in norte and "Mi vecino" not in norte
