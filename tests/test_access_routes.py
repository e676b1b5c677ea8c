"""Every role against every page, callback and API route of the real app (default deny),
sign-in and sign-out, session expiry, lock-out through the form, and forged requests.

Roles come from the demo users of the tiny city: ``mayor`` (official), ``waste.head``
(department head of Residuos y Limpieza), ``admin``, and the anonymous public.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dash
import pytest
from dash.exceptions import CallbackException

from dashboard.auth import ADMIN, DEPARTMENT_HEAD, OFFICIAL, PUBLIC
from dashboard.auth.guard import ROLES_ATTR
from dashboard.settings import Settings
from tests.conftest import TINY_NOW, USERS_BY_ROLE, router_body, sign_in

USERS = USERS_BY_ROLE
STAFF = {OFFICIAL, DEPARTMENT_HEAD, ADMIN}
# Who may open each page: written out here, independently of what the pages declare.
EXPECTED_PAGES = {
    "/": STAFF, "/domains": STAFF, "/domain/<domain>": STAFF,
    "/district/<district_id>": STAFF, "/asset/<asset_id>": STAFF, "/services": STAFF,
    "/request/<request_id>": STAFF,
    "/alerts": STAFF, "/feeds": STAFF, "/insights": STAFF,
    "/citizen360": {OFFICIAL, DEPARTMENT_HEAD}, "/admin/audit": {ADMIN},
    "/kiosk": {PUBLIC, OFFICIAL, DEPARTMENT_HEAD, ADMIN},
    "/report": {PUBLIC, OFFICIAL, DEPARTMENT_HEAD, ADMIN},
    "/track/<token>": {PUBLIC, OFFICIAL, DEPARTMENT_HEAD, ADMIN},
    "/consultations": STAFF, "/consultations/<survey_id>": STAFF,
    "/participate": {PUBLIC, OFFICIAL, DEPARTMENT_HEAD, ADMIN},
    "/participate/<survey_id>": {PUBLIC, OFFICIAL, DEPARTMENT_HEAD, ADMIN},
    "/commitments": {PUBLIC, OFFICIAL, DEPARTMENT_HEAD, ADMIN}, "/commitments/manage": STAFF,
    "/notifications": STAFF, "/deliveries": {ADMIN},
}
# Components whose callbacks are narrower than their page's.
NARROWER = {"feeds-quarantine": {ADMIN}}
DASH_OWN = ("/assets/", "/_dash-", "/_favicon.ico", "/_reload-hash", "/static/")


def _template(page: dict[str, Any]) -> str:
    return str(page.get("path_template") or page["path"])


def test_every_page_declares_roles_and_is_in_the_matrix(tiny_app: Any) -> None:
    templates = {_template(p): tuple(p.get("roles") or ()) for p in dash.page_registry.values()}
    assert set(templates) == set(EXPECTED_PAGES)
    for template, roles in templates.items():
        assert set(roles) == EXPECTED_PAGES[template], template


def test_every_other_route_declares_its_roles(tiny_app: Any) -> None:
    """Flask views besides Dash's own files and its page index must say who may use them."""
    server = tiny_app.server
    for rule in server.url_map.iter_rules():
        if rule.rule.startswith(DASH_OWN) or rule.rule in ("/", "/<path:path>"):
            continue
        view = server.view_functions[rule.endpoint]
        assert getattr(view, ROLES_ATTR, None), f"{rule.rule} declares no roles"


@pytest.mark.parametrize("role", list(USERS))
def test_pages_for_each_role(role: str, clients: dict[str, Any],
                             concrete: dict[str, str]) -> None:
    client = clients[role]
    for template, allowed in EXPECTED_PAGES.items():
        path = concrete.get(template, template)
        response = client.get(path)
        routed = client.post("/_dash-update-component", json=router_body(path))
        if role in allowed:
            assert response.status_code == 200, (role, path)
            assert routed.status_code == 200, (role, path, routed.data[:200])
        elif role == PUBLIC:
            assert response.status_code == 302, path
            assert response.headers["Location"].startswith("/login?next=")
            assert routed.status_code == 401, path
        else:
            assert response.status_code == 403 and b"Not available" in response.data, path
            assert routed.status_code == 403, path


def _outputs(spec: str) -> list[dict[str, Any]]:
    """``..a.children...b.data..`` or ``a.children`` -> Dash's ``outputs`` list."""
    parts = spec.strip(".").split("...") if spec.startswith("..") else [spec]
    found = []
    for part in parts:
        cid, _, prop = part.rpartition(".")
        found.append({"id": json.loads(cid) if cid.startswith("{") else cid, "property": prop})
    return found


def _roles_for(cid: str | dict[str, Any]) -> set[str]:
    name = cid["type"] if isinstance(cid, dict) else cid
    for prefix, roles in NARROWER.items():
        if name.startswith(prefix):
            return roles
    page = {"overview": "/", "district-filter": "/", "window-filter": "/", "city-score": "/",
            "city-map": "/", "domains": "/domains", "domain": "/domain/<domain>",
            "district": "/district/<district_id>", "asset": "/asset/<asset_id>",
            "services": "/services", "request": "/request/<request_id>",
            "alerts": "/alerts", "feeds": "/feeds",
            "insights": "/insights", "citizen360": "/citizen360", "audit": "/admin/audit",
            "kiosk": "/kiosk", "report": "/report", "consultations": "/consultations",
            "participate": "/participate/<survey_id>",
            "commitments-manage": "/commitments/manage", "notifications": "/notifications",
            "deliveries": "/deliveries"}
    key = max((k for k in page if name == k or name.startswith(k + "-")), key=len)
    return EXPECTED_PAGES[page[key]]


def test_every_callback_for_each_role_including_forged_requests(
        tiny_app: Any, clients: dict[str, Any]) -> None:
    """A request naming any callback's outputs, sent by each role: denied (401/403) exactly
    for the roles the component is not for, whatever the inputs say."""
    deps = clients[ADMIN].get("/_dash-dependencies").get_json()
    checked = 0
    for dep in deps:
        outputs = _outputs(dep["output"])
        if any(str(o["id"]).startswith("_pages") for o in outputs) or \
                dep.get("clientside_function"):
            continue  # the router (tested above) and callbacks that run in the browser
        allowed = set.intersection(*(_roles_for(o["id"]) for o in outputs))
        body = {"output": dep["output"], "outputs": outputs if len(outputs) > 1 else outputs[0],
                "inputs": [], "state": [], "changedPropIds": []}
        for role, client in clients.items():
            try:
                status = client.post("/_dash-update-component", json=body).status_code
            except CallbackException:  # Dash refused the empty inputs: past the guard
                status = 500
            if role in allowed:
                assert status not in (401, 403), (role, dep["output"])
            else:
                assert status == (401 if role == PUBLIC else 403), (role, dep["output"])
            checked += 1
    assert checked > 100


def test_api_is_public_and_answers_everyone(clients: dict[str, Any]) -> None:
    for role, client in clients.items():
        for path in ("/api/v1/openapi.json", "/api/v1/kpis", "/api/v1/alerts",
                     "/api/v1/service-requests?page_size=5", "/api/v1/districts",
                     "/open311/v2/services.json", "/open311/v2/requests.xml"):
            assert client.get(path).status_code == 200, (role, path)


def test_a_department_head_gets_their_department_whatever_the_request_says(
        clients: dict[str, Any]) -> None:
    """A forged overview callback asking for another department answers with the head's own
    department's KPIs (the same as asking for it), never the other one's."""
    head, mayor = clients[DEPARTMENT_HEAD], clients[OFFICIAL]

    def kpis(client: Any, department: str) -> set[str]:
        deps = client.get("/_dash-dependencies").get_json()
        dep = next(d for d in deps if "overview-kpi-grid.children" in d["output"])
        values = {"district-filter": "", "window-filter": "month",
                  "overview-department": department, "overview-compare": ""}
        body = {"output": dep["output"], "outputs": _outputs(dep["output"]),
                "inputs": [{"id": i["id"], "property": i["property"],
                            "value": values.get(i["id"])} for i in dep["inputs"]],
                "state": [], "changedPropIds": ["overview-department.value"]}
        response = client.post("/_dash-update-component", json=body)
        assert response.status_code == 200, response.data[:300]
        return set(re.findall(r'"kpi":\s*"([^"]+)"', response.get_data(as_text=True)))

    own = kpis(mayor, "Residuos y Limpieza")
    other = kpis(mayor, "Movilidad")
    assert own and other and own != other
    assert kpis(head, "Movilidad") == own
    assert kpis(head, "") == own  # "all departments" is not theirs either


# ---- signing in and out ---------------------------------------------------------------------
@pytest.fixture
def fresh_app(tmp_path: Path) -> Iterator[Any]:
    """An app on an empty store of its own with one official, ``ana`` (lock-outs and
    disabling change the store)."""
    from app import create_app
    from dashboard.auth.users import add_user
    from dashboard.store import get_engine, init_store, unit_of_work

    settings = Settings(var_dir=tmp_path, database_url="", redis_url=None, now=TINY_NOW,
                        session_idle_minutes=30)
    engine = get_engine(settings.resolved_database_url)
    init_store(engine)
    with unit_of_work(engine) as conn:
        add_user(conn, "ana", OFFICIAL, "a long enough password")
    yield create_app(settings)
    engine.dispose()


def test_sign_in_sign_out_and_the_secret_key_file(fresh_app: Any, tmp_path: Path) -> None:
    client = fresh_app.server.test_client()
    assert client.get("/alerts").headers["Location"] == "/login?next=%2Falerts"
    assert sign_in(client, "ana", "a long enough password").status_code == 302
    assert client.get("/alerts").status_code == 200
    layout = client.get("/_dash-layout").get_data(as_text=True)
    assert "Sign out" in layout and "ana" in layout
    token = _find(json.loads(layout), "shell-csrf")["value"]
    assert client.post("/logout", data={}).status_code == 302  # no token: still signed in
    assert client.get("/alerts").status_code == 200
    copied = client.get_cookie("citylens_session").value
    client.post("/logout", data={"csrf_token": token})
    assert client.get("/alerts").status_code == 302
    replayed = fresh_app.server.test_client()  # a copy of the cookie taken before signing out
    replayed.set_cookie("citylens_session", copied)
    assert replayed.get("/alerts").status_code == 302
    assert replayed.post("/_dash-update-component", json=router_body("/alerts")).status_code == 401
    key = (tmp_path / "secret_key").read_text()
    assert len(key) == 64 and (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def _find(node: Any, cid: str) -> dict[str, Any]:
    """The props of the component ``cid`` in a Dash layout's JSON."""
    if isinstance(node, dict):
        props = node.get("props")
        if isinstance(props, dict) and props.get("id") == cid:
            return props
        for value in node.values():
            got = _find(value, cid)
            if got:
                return got
    elif isinstance(node, list):
        for value in node:
            got = _find(value, cid)
            if got:
                return got
    return {}


def test_the_form_refuses_without_its_token_and_never_redirects_off_site(fresh_app: Any) -> None:
    client = fresh_app.server.test_client()
    refused = client.post("/login", data={"username": "ana",
                                          "password": "a long enough password"})
    assert refused.status_code == 400 and client.get("/alerts").status_code == 302
    response = sign_in(client, "ana", "a long enough password")
    assert response.headers["Location"] == "/"
    form = client.get("/login?next=//evil.example/x").get_data(as_text=True)
    assert 'name="next" value="/"' in form


def test_attempts_are_throttled_with_one_answer_for_every_refusal(fresh_app: Any) -> None:
    """Five wrong passwords from one address; the sixth attempt (even the right password)
    must wait, and gets the very answer a wrong password and an unknown user get."""
    client = fresh_app.server.test_client()
    answers = set()
    for _ in range(5):
        wrong = sign_in(client, "ana", "not the password")
        assert wrong.status_code == 401
        answers.add(_error_of(wrong))
    right = sign_in(client, "ana", "a long enough password")
    assert right.status_code == 401 and client.get("/alerts").status_code == 302
    unknown = sign_in(client, "nobody", "whatever password")
    answers |= {_error_of(right), _error_of(unknown)}
    assert len(answers) == 1 and "wait" in answers.pop()
    other_address = fresh_app.server.test_client()
    assert sign_in(other_address, "ana", "a long enough password",
                   environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 302


def _error_of(response: Any) -> str:
    found = re.search(r'class="signin__error" role="alert">([^<]*)<', response.get_data(True))
    assert found, response.get_data(True)[:300]
    return found.group(1)


def test_an_idle_session_expires_and_says_so(fresh_app: Any, tmp_path: Path) -> None:
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import update

    from dashboard.model import SignInSession
    from dashboard.store import get_engine, unit_of_work

    client = fresh_app.server.test_client()
    sign_in(client, "ana", "a long enough password")
    assert client.get("/alerts").status_code == 200
    idle = datetime.now(timezone.utc) - timedelta(minutes=31)
    with unit_of_work(get_engine(f"sqlite:///{(tmp_path / 'citylens.db').resolve()}")) as conn:
        conn.execute(update(SignInSession).values(last_seen_at=idle))
    expired = client.get("/alerts")
    assert expired.status_code == 302 and "expired=1" in expired.headers["Location"]
    assert b"session expired" in client.get(expired.headers["Location"]).data
    assert client.post("/_dash-update-component", json=router_body("/")).status_code == 401


def test_a_disabled_user_is_signed_out_at_the_next_request(fresh_app: Any,
                                                          tmp_path: Path) -> None:
    from dashboard.auth.users import disable_user
    from dashboard.store import get_engine, unit_of_work

    client = fresh_app.server.test_client()
    sign_in(client, "ana", "a long enough password")
    assert client.get("/alerts").status_code == 200
    with unit_of_work(get_engine(f"sqlite:///{(tmp_path / 'citylens.db').resolve()}")) as conn:
        disable_user(conn, "ana")
    assert client.get("/alerts").status_code == 302
