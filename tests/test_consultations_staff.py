"""The staff pages of consultations (``/consultations`` and ``/consultations/<id>``) over the
real app and Dash's endpoint, signed in as the demo users: who sees which consultations,
the public refused, moderation through the buttons changing what the results show,
creating one from the form (and each refusal as its one line), the state filter, and the
CSV's numbers equal to the results. Then ``citylens consultations`` and the demo city's
consultations."""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from dashboard.auth import OFFICIAL
from dashboard.auth.audit import entries
from dashboard.auth.users import Principal
from dashboard.consultations import device_key, record_answer, save_survey
from dashboard.demo.users import add_demo_users
from dashboard.model import Citizen, District, Participation, Service, SurveyText
from dashboard.queries.consultations import survey, survey_results, texts_to_moderate
from dashboard.settings import Settings
from dashboard.store import get_engine
from tests.conftest import router_body, sign_in
from tests.test_consultations import NOW, plaza_survey

MAYOR = Principal("mayor", OFFICIAL)
TEXT = "consultations-text"
EXAMPLE_FILE = Path(__file__).resolve().parents[1] / "data" / "consultations.example.yaml"


def bike_survey() -> dict[str, Any]:
    """A city-wide consultation of Movilidad, open."""
    return plaza_survey(id="carril-bici", department="Movilidad", district_id=None,
                        title={"es": "Carril bici", "en": "Bike lanes"})


@pytest.fixture
def city(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The app on a store of its own: two districts, four departments' services, the demo
    users, a square's consultation (Parques y Jardines) with three answers, two of them
    with a free text, and a city-wide one of Movilidad with one answer."""
    from app import create_app

    settings = Settings(var_dir=tmp_path, database_url="", redis_url=None, now=NOW)
    with get_engine(settings.resolved_database_url).begin() as conn:
        conn.execute(insert(District), [{"id": "d1", "name": "Centro", "geometry": {}},
                                        {"id": "d2", "name": "Norte", "geometry": {}}])
        conn.execute(insert(Service), [
            {"service_code": code, "service_name": code, "department": department}
            for code, department in [("park", "Parques y Jardines"), ("light", "Movilidad"),
                                     ("pothole", "Obras Públicas"),
                                     ("litter", "Residuos y Limpieza")]])
        add_demo_users(conn, ["d1", "d2"])
    save_survey(settings, MAYOR, plaza_survey(), "es")
    save_survey(settings, MAYOR, bike_survey(), "es")
    for n, (use, text) in enumerate([("play", "Más sombra, por favor"),
                                     ("rest", "Llamen al 600 123 456"), ("play", "")]):
        record_answer(settings, "plaza-del-pilar", device_key("s", str(n)),
                      {"use": use, "rating": 3 + n, "wants": ["shade"], "else": text})
    record_answer(settings, "carril-bici", device_key("s", "b"), {"use": "rest",
                                                                 "else": "Hasta Cueto"})
    app = create_app(settings)
    clients = {}
    for user in ("mayor", "mobility.head", None):
        client = app.server.test_client()
        if user:
            assert sign_in(client, user).status_code == 302
        clients[user or "public"] = client
    yield {"settings": settings, "clients": clients,
           "engine": get_engine(settings.resolved_database_url)}


def page(client: Any, path: str) -> str:
    """The page at ``path`` as the router renders it (its JSON, as plain text)."""
    response = client.post("/_dash-update-component", json=router_body(path))
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return json.dumps(response.get_json(), ensure_ascii=False)


def _outputs(spec: str) -> list[dict[str, Any]]:
    parts = spec.strip(".").split("...") if spec.startswith("..") else [spec]
    return [{"id": part.rpartition(".")[0], "property": part.rpartition(".")[2]}
            for part in parts]


def call(client: Any, output: str, values: dict[str, Any], changed: str) -> Any:
    """Run the callback writing ``output`` as Dash does after ``changed`` (``id.prop``)
    changed; ``values`` by component id (``"*"``: the list a wildcard input matches)."""
    deps = client.get("/_dash-dependencies").get_json()
    dep = next(d for d in deps if output in d["output"])

    def given(spec: dict[str, Any]) -> Any:
        if spec["id"].startswith("{") and '["ALL"]' in spec["id"]:
            return values["*"]
        cid = json.loads(spec["id"]) if spec["id"].startswith("{") else spec["id"]
        return {"id": cid, "property": spec["property"], "value": values.get(spec["id"])}

    outputs = _outputs(dep["output"])
    body = {"output": dep["output"], "outputs": outputs if len(outputs) > 1 else outputs[0],
            "inputs": [given(i) for i in dep["inputs"]],
            "state": [given(s) for s in dep["state"]], "changedPropIds": [changed]}
    return client.post("/_dash-update-component", json=body)


def answer(response: Any) -> dict[str, Any]:
    """Dash's answer by component id (an output's ``@`` suffix dropped)."""
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    found: dict[str, Any] = {}
    for cid, props in response.get_json()["response"].items():
        for prop, value in props.items():
            found.setdefault(cid, {})[prop.partition("@")[0]] = value
    return found


def moderate(client: Any, survey_id: str, text_id: int, decision: str) -> Any:
    """Click Approve (``approve``) or Keep private (``reject``) on one text."""
    button = {"decision": decision, "id": text_id, "type": TEXT}
    changed = json.dumps(button, sort_keys=True, separators=(",", ":")) + ".n_clicks"
    return call(client, "consultations-queue.children", {
        "*": [{"id": button, "property": "n_clicks", "value": 1}],
        "consultations-survey-id": survey_id}, changed)


def test_the_public_is_refused(city: dict[str, Any]) -> None:
    public = city["clients"]["public"]
    for path in ("/consultations", "/consultations/plaza-del-pilar"):
        response = public.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login?next=")
        assert public.post("/_dash-update-component",
                           json=router_body(path)).status_code == 401
    text_id = texts_to_moderate(city["settings"], "plaza-del-pilar")[0]["id"]
    assert moderate(public, "plaza-del-pilar", text_id, "approve").status_code == 401
    assert call(public, "consultations-create-result.children", {
        "consultations-create": 1, "consultations-new-id": "x"},
        "consultations-create.n_clicks").status_code == 401
    assert texts_to_moderate(city["settings"], "plaza-del-pilar")[0]["id"] == text_id


def test_a_department_head_sees_only_their_departments(city: dict[str, Any]) -> None:
    mayor, head = city["clients"]["mayor"], city["clients"]["mobility.head"]
    listed = page(mayor, "/consultations")
    assert "/consultations/plaza-del-pilar" in listed and "/consultations/carril-bici" in listed
    assert "Whole city" in listed and "Centro" in listed
    own = page(head, "/consultations")
    assert "/consultations/carril-bici" in own and "plaza-del-pilar" not in own
    assert '"options": ["Movilidad", "Obras Públicas"]' in own  # their departments only
    assert "Consultation not found" in page(head, "/consultations/plaza-del-pilar")
    view = page(head, "/consultations/carril-bici")
    assert "Hasta Cueto" in view and "/participate/carril-bici" in view
    mayors = page(mayor, "/consultations/plaza-del-pilar")
    assert "Más sombra, por favor" in mayors and "Llamen al 600 123 456" in mayors
    assert "Consultation not found" in page(mayor, "/consultations/nothing-here")


def test_moderation_through_the_buttons_changes_the_results(city: dict[str, Any]) -> None:
    settings, mayor = city["settings"], city["clients"]["mayor"]
    first, second = texts_to_moderate(settings, "plaza-del-pilar")
    before = {q["question"]["id"]: q for q in
              survey_results(settings, "plaza-del-pilar", staff=True)["questions"]}["else"]
    assert (before["texts"], before["awaiting"]) == ([], 2)
    shown = answer(moderate(mayor, "plaza-del-pilar", first["id"], "approve"))
    assert "Approved" in json.dumps(shown["consultations-queue-note"])
    queue = json.dumps(shown["consultations-queue"]["children"], ensure_ascii=False)
    assert "Llamen al 600 123 456" in queue and "Más sombra" not in queue
    assert "Más sombra, por favor" in json.dumps(shown["consultations-results"],
                                                 ensure_ascii=False)
    answer(moderate(mayor, "plaza-del-pilar", second["id"], "reject"))
    after = {q["question"]["id"]: q for q in
             survey_results(settings, "plaza-del-pilar", staff=True)["questions"]}["else"]
    assert (after["texts"], after["awaiting"]) == (["Más sombra, por favor"], 0)
    assert texts_to_moderate(settings, "plaza-del-pilar") == []
    with city["engine"].connect() as conn:
        audited = [e for e in entries(conn, user="mayor") if e["action"] == "moderate"]
        states = dict(conn.execute(select(SurveyText.id, SurveyText.moderation)).all())
    assert len(audited) == 2 and states[second["id"]] == "rejected"


def test_a_department_head_cannot_moderate_another_departments_texts(
        city: dict[str, Any]) -> None:
    settings, head = city["settings"], city["clients"]["mobility.head"]
    text_id = texts_to_moderate(settings, "plaza-del-pilar")[0]["id"]
    assert moderate(head, "plaza-del-pilar", text_id, "approve").status_code == 204
    forged = answer(moderate(head, "carril-bici", text_id, "approve"))  # their own page
    assert "that you may see" in json.dumps(forged["consultations-queue-note"])
    assert texts_to_moderate(settings, "plaza-del-pilar")[0]["id"] == text_id
    own = texts_to_moderate(settings, "carril-bici")[0]["id"]
    answer(moderate(head, "carril-bici", own, "approve"))
    assert texts_to_moderate(settings, "carril-bici") == []


def form(**changes: Any) -> dict[str, Any]:
    """The form's fields as Dash sends them on "Create consultation"."""
    fields = {"id": "plaza-nueva", "title": "Plaza nueva", "title-other": "New square",
              "intro": "¿Cómo la quiere?", "intro-other": "", "department": "Movilidad",
              "district": "d2", "opens-day": "2026-11-24", "opens-time": "09:00",
              "closes-day": "2026-12-20", "closes-time": "23:59",
              "questions": "single*: ¿Viene? | Do you come?\n- Sí | Yes\n- No\n"
                           "text: ¿Algo más?", **changes}
    return {"consultations-create": 1, "consultations-state": "",
            **{f"consultations-new-{k}": v for k, v in fields.items()}}


def create(client: Any, **changes: Any) -> dict[str, Any]:
    return answer(call(client, "consultations-create-result.children", form(**changes),
                       "consultations-create.n_clicks"))


def test_creating_a_consultation_from_the_form(city: dict[str, Any]) -> None:
    settings, head = city["settings"], city["clients"]["mobility.head"]
    shown = create(head)
    assert "/consultations/plaza-nueva" in json.dumps(shown["consultations-create-result"])
    assert "plaza-nueva" in json.dumps(shown["consultations-table"])
    found = survey(settings, "plaza-nueva")
    assert found is not None and found["state"] == "upcoming"
    assert (found["department"], found["district_id"]) == ("Movilidad", "d2")
    assert found["opens_at"] == "2026-11-24T08:00:00+00:00"
    assert found["title"] == {"es": "Plaza nueva", "en": "New square"}
    assert [q["options"][0]["label"] for q in found["questions"][:1]] == [
        {"es": "Sí", "en": "Yes"}]
    with city["engine"].connect() as conn:
        assert [e["subject"] for e in entries(conn, user="mobility.head")] == ["plaza-nueva"]
    for changes, words in [
        ({}, "id 'plaza-nueva' is taken"),
        ({"id": "otra", "department": "Parques y Jardines"}, "own departments"),
        ({"id": "otra", "questions": "single: ¿Viene?\n- Sí\ntext: ¿Algo?"},
         "line 1: a single question needs two options"),
        ({"id": "otra", "closes-day": "2026-11-20"}, "closes_at must come after"),
        ({"id": "Otra Plaza"}, "lower-case letters"),
        ({"id": "otra", "opens-time": "nine"}, "opens: a time as HH:MM"),
    ]:
        said = json.dumps(create(head, **changes)["consultations-create-result"],
                          ensure_ascii=False)
        assert words in said and "c360-error" in said, (changes, said)
    assert survey(settings, "otra") is None


def test_the_preview_shows_the_questions_or_the_line_that_stops_them(
        city: dict[str, Any]) -> None:
    mayor = city["clients"]["mayor"]

    def preview(text: str) -> str:
        return json.dumps(answer(call(mayor, "consultations-new-preview.children", {
            "consultations-new-questions": text}, "consultations-new-questions.value")),
            ensure_ascii=False)

    good = preview("scale 1-10*: ¿Cuánto? | How much?\nmultiple: ¿Qué?\n- A\n- B | b")
    assert "Scale 1–10" in good and "How much?" in good and "Several choices" in good
    assert "line 5: expected a question" in preview("text: ¿Algo?\n\n\n\nnada")


def test_the_state_filter_narrows_the_table_and_the_url(city: dict[str, Any]) -> None:
    mayor = city["clients"]["mayor"]
    save_survey(city["settings"], MAYOR, plaza_survey(
        id="pasado", opens_at=NOW - timedelta(days=40), closes_at=NOW - timedelta(days=10)),
        "es")
    shown = answer(call(mayor, "consultations-url.search", {"consultations-state": "closed"},
                        "consultations-state.value"))
    assert shown["consultations-url"]["search"] == "?state=closed"
    table = json.dumps(shown["consultations-table"])
    assert "/consultations/pasado" in table and "carril-bici" not in table


def test_the_csv_numbers_are_the_results(city: dict[str, Any]) -> None:
    settings, mayor = city["settings"], city["clients"]["mayor"]
    shown = answer(call(mayor, "consultations-download.data", {
        '{"page":"consultations","type":"export","what":"counts"}': 1,
        "consultations-survey-id": "plaza-del-pilar"},
        '{"page":"consultations","type":"export","what":"counts"}.n_clicks'))
    download = shown["consultations-download"]["data"]
    assert download["filename"] == "consultation-plaza-del-pilar.csv"
    rows = list(csv.DictReader(io.StringIO(download["content"])))
    results = survey_results(settings, "plaza-del-pilar", staff=True)
    expected = {(q["question"]["id"], key): count for q in results["questions"]
                for key, count in (q.get("counts") or {}).items()}
    assert {(r["question_id"], r["option"]): int(r["count"]) for r in rows
            if r["kind"] != "text"} == expected
    by_question = {q["question"]["id"]: q["answered"] for q in results["questions"]}
    assert all(int(r["answered"]) == by_question[r["question_id"]] for r in rows)
    assert next(r for r in rows if r["option"] == "play")["label"] == "Play"
    head = city["clients"]["mobility.head"]
    refused = call(head, "consultations-download.data", {
        '{"page":"consultations","type":"export","what":"counts"}': 1,
        "consultations-survey-id": "plaza-del-pilar"},
        '{"page":"consultations","type":"export","what":"counts"}.n_clicks')
    assert refused.status_code == 204  # not theirs: nothing to download


# ---- the command line ---------------------------------------------------------------------
def test_the_cli_adds_lists_and_reads_consultations(cli_store: Any) -> None:
    from dashboard.settings import get_settings
    from dashboard.store import init_store

    engine = get_engine(get_settings().resolved_database_url)
    init_store(engine)
    with engine.begin() as conn:
        conn.execute(insert(District), [{"id": "santander-01", "name": "Centro",
                                         "geometry": {}}])
    added = cli_store("consultations", "add", str(EXAMPLE_FILE))
    assert added.exit_code == 0, added.output
    assert "added 2 consultations: red-ciclista-2027, plaza-de-pombo" in added.output
    listed = cli_store("consultations", "list")
    assert "red-ciclista-2027" in listed.output and "whole city" in listed.output
    assert "plaza-de-pombo" in listed.output and "Centro" in listed.output
    as_json = json.loads(cli_store("consultations", "results", "plaza-de-pombo",
                                   "--json").output)
    assert as_json["answers"] == 0 and len(as_json["questions"]) == 4
    text = cli_store("consultations", "results", "plaza-de-pombo").output
    assert "More shade and trees: 0 (0%)" in text and "0 awaiting moderation" in text
    with engine.connect() as conn:
        made = entries(conn, user="cli")
    assert {e["subject"] for e in made} == {"red-ciclista-2027", "plaza-de-pombo"}
    assert {e["role"] for e in made} == {"admin"}
    missing = cli_store("consultations", "results", "nothing")
    assert missing.exit_code == 2 and "no consultation 'nothing'" in missing.output


def test_the_cli_refuses_a_wrong_file_and_saves_none_of_it(cli_store: Any,
                                                           tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.yaml"
    text = EXAMPLE_FILE.read_text(encoding="utf-8")
    wrong.write_text(text, encoding="utf-8")  # its district is not in this store
    refused = cli_store("consultations", "add", str(wrong))
    assert refused.exit_code == 2
    assert "plaza-de-pombo: district 'santander-01' is not a district" in refused.output
    assert "no consultations yet" in cli_store("consultations", "list").output
    missing = cli_store("consultations", "add", str(tmp_path / "none.yaml"))
    assert missing.exit_code == 2 and "error:" in missing.output


# ---- the demo city ------------------------------------------------------------------------
def test_the_demo_city_has_a_closed_and_an_open_consultation(tiny_city: Settings) -> None:
    closed = survey(tiny_city, "red-ciclista-2027")
    open_ = survey(tiny_city, "plaza-de-pombo")
    assert closed is not None and open_ is not None
    assert (closed["state"], open_["state"]) == ("closed", "open")
    assert closed["district_id"] is None and open_["district_id"] == "santander-01"
    assert closed["answers"] >= 300 and open_["answers"] >= 100
    public = survey_results(tiny_city, "red-ciclista-2027")
    assert public is not None and survey_results(tiny_city, "plaza-de-pombo") is None
    support = {q["question"]["id"]: q for q in public["questions"]}["support"]
    assert support["counts"]["5"] > support["counts"]["2"] and 3 < support["mean"] < 4.5
    texts = {q["question"]["id"]: q for q in public["questions"]}["comments"]["texts"]
    assert texts and not any("600 123 456" in t for t in texts)
    assert texts_to_moderate(tiny_city, "plaza-de-pombo")  # some await staff
    with get_engine(tiny_city.resolved_database_url).connect() as conn:
        took_part = conn.execute(select(Participation.citizen_id).where(
            Participation.id.like("plaza-de-pombo:%")
            | Participation.id.like("red-ciclista-2027:%"))).scalars().all()
        known = set(conn.execute(select(Citizen.id)).scalars())
    assert len(took_part) == 20 and set(took_part) <= known
