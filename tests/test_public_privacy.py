"""What the public can fetch from the demo city holds nothing personal: every open-data API
route (JSON and CSV, every page), the sign-in form and Dash's shell, scanned for every
resident's name, e-mail and phone and every request's free text."""
from __future__ import annotations

import json
import sqlite3
from typing import Any

import pytest

from dashboard.settings import Settings
from tests.conftest import router_body


@pytest.fixture(scope="module")
def personal(tiny_city: Settings) -> list[str]:
    """Every name, e-mail, phone (and its digits) and request description of the tiny city."""
    db = sqlite3.connect(tiny_city.resolved_database_url.removeprefix("sqlite:///"))
    found: set[str] = set()
    for name, email, phone in db.execute("SELECT name, email, phone FROM citizens"):
        found.add(name)
        found.update(v for v in (email, phone) if v)
        if phone:
            found.add(phone.replace(" ", "").removeprefix("+34"))
    found.update(d for (d,) in db.execute("SELECT description FROM service_requests") if d)
    assert len(found) > 400
    return sorted(found)


def _public_paths(client: Any) -> list[str]:
    """Every public route with the parameters that change what it returns."""
    paths = ["/login", "/_dash-layout", "/_dash-dependencies", "/api/v1/openapi.json",
             "/api/v1/districts", "/api/v1/assets", "/api/v1/version", "/kiosk",
             "/kiosk?lang=en"]
    for fmt in ("json", "csv"):
        paths += [f"/api/v1/kpis?format={fmt}", f"/api/v1/alerts?format={fmt}&limit=1000",
                  f"/api/v1/kpis?window=year&lang=es&format={fmt}"]
    first = client.get("/api/v1/service-requests?page_size=1000").get_json()
    pages = -(-first["total"] // 1000)
    for page in range(1, pages + 1):
        paths += [f"/api/v1/service-requests?page_size=1000&page={page}",
                  f"/api/v1/service-requests?page_size=1000&page={page}&format=csv"]
    assets = client.get("/api/v1/assets").get_json()["features"]
    for feature in assets[:40]:
        paths.append(f"/api/v1/assets/{feature['properties']['id']}/observations"
                     "?metric=anything")
    return paths


def test_no_public_response_contains_personal_data(tiny_app: Any, personal: list[str]) -> None:
    client = tiny_app.server.test_client()  # never signed in
    scanned = 0
    for path in _public_paths(client):
        response = client.get(path)
        assert response.status_code in (200, 400), (path, response.status_code)
        body = readable(response)
        leaks = [value for value in personal if value in body]
        assert not leaks, f"{path} exposes {leaks[:3]}"
        scanned += len(body)
    assert scanned > 100_000  # the scan really read the data


def readable(response: Any) -> str:
    """An answer as text; JSON with its characters as they are (Dash writes "ñ" as "\\u00f1",
    which a search for a resident's words would never find)."""
    if not response.is_json:
        return str(response.get_data(as_text=True))
    return json.dumps(response.get_json(), ensure_ascii=False)


def _kiosk_responses(client: Any) -> list[str]:
    """What the kiosk's callbacks send an anonymous browser: the page in each language (the
    pages router) and the slides redrawn for a new data version."""
    bodies = []
    for lang in ("es", "en"):
        routed = client.post("/_dash-update-component", json={
            "output": ".._pages_content.children..._pages_store.data..",
            "outputs": [{"id": "_pages_content", "property": "children"},
                        {"id": "_pages_store", "property": "data"}],
            "inputs": [{"id": "_pages_location", "property": "pathname", "value": "/kiosk"},
                       {"id": "_pages_location", "property": "search", "value": f"?lang={lang}"}],
            "changedPropIds": ["_pages_location.pathname"]})
        redrawn = client.post("/_dash-update-component", json={
            "output": "kiosk-stage.children",
            "outputs": {"id": "kiosk-stage", "property": "children"},
            "inputs": [{"id": "kiosk-version", "property": "data", "value": "next"}],
            "state": [{"id": "kiosk-lang", "property": "data", "value": lang},
                      {"id": "kiosk-district", "property": "data", "value": None}],
            "changedPropIds": ["kiosk-version.data"]})
        assert routed.status_code == 200 and redrawn.status_code == 200
        bodies += [readable(routed), readable(redrawn)]
    return bodies


def test_the_kiosk_sends_nothing_personal(tiny_app: Any, personal: list[str]) -> None:
    client = tiny_app.server.test_client()  # the lobby screen is never signed in
    bodies = _kiosk_responses(client)
    assert all("kiosk-slide" in body for body in bodies)
    for body in bodies:
        leaks = [value for value in personal if value in body]
        assert not leaks, f"the kiosk exposes {leaks[:3]}"
        assert "cit-0" not in body  # no pseudonymous citizen ids either


def test_the_public_cannot_reach_personal_callbacks(tiny_app: Any) -> None:
    """Every real callback writing personal data (its key as the app registered it, one
    output or several) answers the public with 401."""
    client = tiny_app.server.test_client()
    personal = ("citizen360-results.children", "citizen360-profile.children",
                "audit-entries.children", "feeds-quarantine.children")
    keys = [key for key in tiny_app.callback_map if any(p in key for p in personal)]
    assert all(any(p in key for key in keys) for p in personal), keys
    for key in keys:
        outputs = [{"id": part.rpartition(".")[0], "property": part.rpartition(".")[2]}
                   for part in key.strip(".").split("...")]
        body = {"output": key, "outputs": outputs if len(outputs) > 1 else outputs[0],
                "inputs": [], "state": [], "changedPropIds": []}
        assert client.post("/_dash-update-component", json=body).status_code == 401, key


def _routed(client: Any, path: str, search: str) -> str:
    body = router_body(path)
    body["inputs"][1]["value"] = search
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 200, path
    return readable(response)


def test_the_residents_pages_send_nothing_personal(tiny_app: Any, tiny_city: Settings,
                                                   personal: list[str]) -> None:
    """The report form, the tracking page of a hundred requests (none approved: their text
    stays private), "already reported nearby" beside open requests, and the Open311
    server's lists in both formats."""
    db = sqlite3.connect(tiny_city.resolved_database_url.removeprefix("sqlite:///"))
    requests = db.execute("SELECT id, service_code, lat, lon, status FROM service_requests "
                          "WHERE lat IS NOT NULL ORDER BY requested_at DESC LIMIT 100").fetchall()
    db.close()
    client = tiny_app.server.test_client()  # never signed in
    bodies = [_routed(client, "/report", f"?lang={lang}") for lang in ("es", "en")]
    bodies += [_routed(client, f"/track/{request_id}", "?lang=en")
               for request_id, *_rest in requests]
    for _id, code, lat, lon, _status in [r for r in requests if r[4] == "open"][:20]:
        answer = client.post("/_dash-update-component", json={
            "output": "report-nearby.children",
            "outputs": {"id": "report-nearby", "property": "children"},
            "inputs": [{"id": "report-service", "property": "value", "value": code},
                       {"id": "report-spot", "property": "data",
                        "value": {"lat": lat + 0.0001, "lon": lon}}],
            "state": [{"id": "report-lang", "property": "data", "value": "en"}],
            "changedPropIds": ["report-spot.data"]})
        assert answer.status_code == 200
        bodies.append(readable(answer))
    assert sum("Already reported nearby" in body for body in bodies) >= 10
    for path in ("/open311/v2/services.json", "/open311/v2/services.xml",
                 "/open311/v2/requests.json", "/open311/v2/requests.xml"):
        bodies.append(readable(client.get(path)))
    assert sum("Your report" in body for body in bodies) == len(requests)
    for body in bodies:
        leaks = [value for value in personal if value in body]
        assert not leaks, f"a resident's page exposes {leaks[:3]}"
        assert "cit-0" not in body


def test_consultations_and_commitments_publish_no_private_text(
        tiny_app: Any, tiny_city: Settings, personal: list[str]) -> None:
    """The consultations' pages (every one, both languages), the commitments' page and the
    kiosk carry no resident's data and no free-text answer staff have not approved."""
    db = sqlite3.connect(tiny_city.resolved_database_url.removeprefix("sqlite:///"))
    surveys = [i for (i,) in db.execute("SELECT id FROM surveys")]
    private = [t for (t,) in db.execute(
        "SELECT text FROM survey_texts WHERE moderation != 'approved'")]
    approved = [t for (t,) in db.execute(
        "SELECT text FROM survey_texts WHERE moderation = 'approved'")]
    db.close()
    assert surveys and private and approved  # the demo city has them all
    client = tiny_app.server.test_client()
    bodies = [_routed(client, path, f"?lang={lang}") for lang in ("es", "en")
              for path in ["/participate", "/commitments",
                           *(f"/participate/{survey_id}" for survey_id in surveys)]]
    bodies += _kiosk_responses(client)
    assert any(text in body for text in approved for body in bodies)  # results are shown
    for body in bodies:
        leaks = [value for value in personal + private if value in body]
        assert not leaks, f"a public page exposes {leaks[:3]}"
