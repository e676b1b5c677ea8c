"""Property-based access tests: forged paths and forged callback bodies, for every staff page
and every role (anonymous included), against the real app of the tiny city.

Hypothesis varies what an attacker controls: the path (double and trailing slashes, ``.``
and ``..`` segments, case, percent-encoding, query strings and fragments, unicode
look-alikes) and the callback body (inputs reordered, duplicated, renamed, added or missing;
``outputs`` that say something else than the ``output`` Dash dispatches on). The property:
a role that may not see a page never receives any of its layout or data. A second set of
tests switches the first line (the guard) off and checks the pages and callbacks refuse by
themselves.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, unquote_to_bytes

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard.auth import ADMIN, DEPARTMENT_HEAD, OFFICIAL, PUBLIC
from tests.test_access_routes import EXPECTED_PAGES, USERS

ROUTER = ".._pages_content.children..._pages_store.data.."
UPDATE = "/_dash-update-component"
# A component-id prefix that only the page's own layout and callbacks produce.
MARKERS = {"/": "overview-", "/domains": "domains-", "/domain/<domain>": "domain-",
           "/district/<district_id>": "district-", "/asset/<asset_id>": "asset-",
           "/services": "services-", "/request/<request_id>": "request-",
           "/alerts": "alerts-", "/feeds": "feeds-",
           "/insights": "insights-", "/citizen360": "citizen360-", "/admin/audit": "audit-"}
FORBIDDEN = [(template, role) for template, roles in EXPECTED_PAGES.items()
             for role in USERS if role not in roles]
LOOKALIKES = {"a": "\u0430", "e": "\u0435", "o": "\u043e", "i": "\u0456", "/": "\uff0f",
              "s": "\u0455", "c": "\u0441"}
PROPERTY = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def paths(concrete: dict[str, str]) -> dict[str, str]:
    """A real path for every page template."""
    return {template: concrete.get(template, template) for template in EXPECTED_PAGES}


def forbidden_markers(role: str) -> list[str]:
    """The markers of every page ``role`` may not see."""
    return [MARKERS[t] for t, roles in EXPECTED_PAGES.items() if role not in roles and t in MARKERS]


def leaks(body: str, role: str) -> list[str]:
    """Markers of pages ``role`` may not see that appear as component ids in ``body``."""
    return [m for m in forbidden_markers(role)
            if re.search(r'"(?:id|type)":\s*"' + re.escape(m), body)]


# ---- path variants ------------------------------------------------------------------------
@st.composite
def path_variant(draw: st.DrawFn, path: str) -> str:
    """``path`` as an attacker might spell it."""
    segments = [s for s in path.split("/") if s]
    out = []
    for segment in segments:
        for _ in range(draw(st.integers(0, 2))):
            out.append(draw(st.sampled_from([".", "x/..", "..", ""])))
        if draw(st.booleans()):
            segment = "".join(ch.upper() if draw(st.booleans()) else ch for ch in segment)
        if draw(st.integers(0, 4)) == 0:
            segment = "".join(LOOKALIKES.get(ch, ch) if draw(st.booleans()) else ch
                              for ch in segment)
        if draw(st.integers(0, 3)) == 0:
            segment = "".join(quote(ch, safe="") if draw(st.booleans()) and ch.isascii()
                              else ch for ch in segment)
            segment = segment.replace("%", draw(st.sampled_from(["%", "%25"])), 1)
        out.append(segment)
    glue = draw(st.sampled_from(["/", "//", "/./", "%2F", "/%2e/"]))
    spelled = draw(st.sampled_from(["/", "//", "///"])) + glue.join(out)
    spelled += draw(st.sampled_from(["", "/", "//", "/.", "/..", "%2F", ";x"]))
    spelled += draw(st.sampled_from(["", "?user=mayor", "?role=admin&next=/", "?x=%2F.."]))
    return spelled + draw(st.sampled_from(["", "#", "#/admin/audit", "#top"]))


def router_body(path: Any, inputs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"output": ROUTER,
            "outputs": [{"id": "_pages_content", "property": "children"},
                        {"id": "_pages_store", "property": "data"}],
            "inputs": inputs if inputs is not None else [
                {"id": "_pages_location", "property": "pathname", "value": path},
                {"id": "_pages_location", "property": "search", "value": ""}],
            "changedPropIds": ["_pages_location.pathname"]}


@pytest.mark.parametrize(("template", "role"), FORBIDDEN)
@PROPERTY
@given(data=st.data())
def test_no_spelling_of_a_path_opens_a_page_to_a_role_it_is_not_for(
        template: str, role: str, data: st.DataObject, clients: dict[str, Any],
        paths: dict[str, str]) -> None:
    client = clients[role]
    path = data.draw(path_variant(paths[template]), label="path")
    routed = client.post(UPDATE, json=router_body(path))
    if routed.status_code == 200:
        assert not leaks(routed.get_data(as_text=True), role), (role, path)
    else:
        assert routed.status_code in (401, 403, 404), (role, path, routed.status_code)
    page = get_as_sent(client, path.split("#")[0])
    if page.status_code == 200:  # Dash's shell: never the page's title, never data
        assert "CityLens · " + _title(template) not in page.get_data(as_text=True)
        assert not leaks(page.get_data(as_text=True), role)
    else:
        assert page.status_code in (301, 302, 308, 403, 404), (role, path, page.status_code)


def get_as_sent(client: Any, raw: str) -> Any:
    """GET ``raw`` as a WSGI server hands it on (PATH_INFO percent-decoded, bytes as
    latin-1), without the test client's own URL parsing (``//x`` is not a host here)."""
    path, _, query = raw.partition("?")
    path_info = unquote_to_bytes(quote(path, safe="/%;")).decode("latin-1")
    return client.get("/", environ_overrides={"PATH_INFO": path_info, "QUERY_STRING": query})


def _title(template: str) -> str:
    return {"/admin/audit": "Audit log", "/citizen360": "Citizen 360",
            "/services": "Service requests", "/insights": "Citizen insights",
            "/alerts": "Alerts", "/domains": "Domains", "/": "Overview"}.get(template, "\x00")


# ---- callback bodies ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def staff_callbacks(clients: dict[str, Any]) -> list[dict[str, Any]]:
    """Every server callback of a staff page, as Dash lists them."""
    deps = clients[ADMIN].get("/_dash-dependencies").get_json()
    return [d for d in deps if not d.get("clientside_function")
            and not d["output"].startswith(("_pages", ".._pages"))
            and "kiosk-" not in d["output"]]


def _input(dep_input: dict[str, Any], value: Any) -> dict[str, Any]:
    return {"id": dep_input["id"], "property": dep_input["property"], "value": value}


@st.composite
def forged_inputs(draw: st.DrawFn, dep: dict[str, Any]) -> list[dict[str, Any]]:
    """The callback's inputs, reordered, duplicated, renamed, extended or cut short."""
    values = st.one_of(st.none(), st.text(max_size=30), st.integers(), st.just("/admin/audit"))
    inputs = [_input(i, draw(values)) for i in dep["inputs"]]
    inputs = draw(st.permutations(inputs)) if inputs else inputs
    if inputs and draw(st.booleans()):
        inputs.append(dict(draw(st.sampled_from(inputs))))
    if inputs and draw(st.booleans()):
        victim = draw(st.integers(0, len(inputs) - 1))
        inputs[victim] = {**inputs[victim], "id": draw(st.sampled_from(
            ["_pages_location", "kiosk-stage", "x", "audit-url"]))}
    if draw(st.booleans()):
        inputs.append({"id": "_pages_location", "property": "pathname", "value": "/kiosk"})
    cut = draw(st.integers(0, len(inputs)))
    return inputs[:cut] if draw(st.booleans()) else inputs


@pytest.mark.parametrize("role", [PUBLIC, OFFICIAL, DEPARTMENT_HEAD, ADMIN])
@PROPERTY
@given(data=st.data())
def test_no_forged_callback_body_answers_a_role_it_is_not_for(
        role: str, data: st.DataObject, clients: dict[str, Any],
        staff_callbacks: list[dict[str, Any]]) -> None:
    dep = data.draw(st.sampled_from(staff_callbacks), label="callback")
    body = {"output": dep["output"], "inputs": data.draw(forged_inputs(dep), label="inputs"),
            "state": [_input(s, None) for s in dep.get("state", [])],
            "changedPropIds": [], "outputs": data.draw(st.sampled_from([
                [{"id": "kiosk-stage", "property": "children"}],
                {"id": "kiosk-stage", "property": "children"}, [], None]), label="outputs")}
    answer = clients[role].post(UPDATE, json=body)
    if answer.status_code == 200:
        assert not leaks(answer.get_data(as_text=True), role), dep["output"]
    if not _may_write(role, dep["output"]):
        assert answer.status_code == (401 if role == PUBLIC else 403), dep["output"]


def _may_write(role: str, output: str) -> bool:
    """Independently of the app: may ``role`` have this callback answered?"""
    from tests.test_access_routes import _outputs, _roles_for

    return all(role in _roles_for(o["id"]) for o in _outputs(output))


@pytest.mark.parametrize("role", [PUBLIC, OFFICIAL, DEPARTMENT_HEAD])
@settings(PROPERTY, max_examples=100)
@given(data=st.data())
def test_the_router_reads_its_path_where_dash_does(
        role: str, data: st.DataObject, clients: dict[str, Any]) -> None:
    """Inputs reordered, renamed, duplicated or missing: the page Dash renders is the one the
    guard judged (the first input, by position, as Dash reads it)."""
    forbidden = "/admin/audit"
    allowed_path = "/kiosk"
    candidates = [
        {"id": "_pages_location", "property": "pathname", "value": forbidden},
        {"id": "x", "property": "pathname", "value": forbidden},
        {"id": "_pages_location", "property": "pathname", "value": allowed_path},
        {"id": "_pages_location", "property": "search", "value": "?user=admin"},
        {"id": "_pages_location", "property": "pathname", "value": [forbidden]},
        {"id": "_pages_location", "property": "pathname", "value": None},
    ]
    inputs = data.draw(st.permutations(candidates), label="order")
    inputs = inputs[:data.draw(st.integers(0, len(inputs)), label="kept")]
    if inputs and data.draw(st.booleans(), label="duplicate"):
        inputs.insert(data.draw(st.integers(0, len(inputs))), inputs[0])
    answer = clients[role].post(UPDATE, json=router_body(None, inputs))
    assert answer.status_code in (200, 401, 403, 404, 500)
    if answer.status_code == 200:
        text = answer.get_data(as_text=True)
        assert not leaks(text, role) and "audit-" not in text


def test_the_reproduction_of_the_report_is_refused(clients: dict[str, Any]) -> None:
    """The body of the report (the path in an input named ``x``, first; a decoy second)."""
    body = {"output": ROUTER, "outputs": [{"id": "_pages_content", "property": "children"},
                                          {"id": "_pages_store", "property": "data"}],
            "inputs": [{"id": "x", "property": "pathname", "value": "/services"},
                       {"id": "_pages_location", "property": "pathname", "value": "?user=mayor"}]}
    assert clients[PUBLIC].post(UPDATE, json=body).status_code == 401
    for path in ("/admin/audit//", "/services//", "/citizen360//", "//admin/audit"):
        assert clients[PUBLIC].post(UPDATE, json=router_body(path)).status_code == 401, path
        assert clients[OFFICIAL].post(UPDATE, json=router_body(path)).status_code in (
            200, 403), path
    assert clients[OFFICIAL].post(UPDATE, json=router_body("/admin/audit//")).status_code == 403
    assert clients[DEPARTMENT_HEAD].post(UPDATE, json=router_body("/admin/audit/")
                                         ).status_code == 403
    assert clients[ADMIN].post(UPDATE, json=router_body("/citizen360//")).status_code == 403
    assert clients[OFFICIAL].post(UPDATE, json=router_body("/no/such/page")).status_code == 403
    missing = clients[PUBLIC].get("/no/such/page")
    assert missing.status_code == 404 and b"No such page" in missing.data


# ---- the second line: pages and callbacks refuse by themselves ----------------------------
@pytest.fixture
def without_the_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The first line switched off: every request gets past the guard."""
    from dashboard.auth import web

    monkeypatch.setattr(web, "check_request", lambda who, debug=False: None)
    yield


@pytest.mark.parametrize(("template", "role"), FORBIDDEN)
def test_pages_refuse_by_themselves(template: str, role: str, clients: dict[str, Any],
                                    paths: dict[str, str], without_the_guard: None) -> None:
    answer = clients[role].post(UPDATE, json=router_body(paths[template]))
    assert answer.status_code == 200  # the guard let it through ...
    text = answer.get_data(as_text=True)
    assert "Not available" in text and not leaks(text, role)  # ... the layout did not


def test_callbacks_refuse_by_themselves(clients: dict[str, Any],
                                        staff_callbacks: list[dict[str, Any]],
                                        without_the_guard: None) -> None:
    checked = 0
    for dep in staff_callbacks:
        body = {"output": dep["output"], "inputs": [_input(i, None) for i in dep["inputs"]],
                "state": [_input(s, None) for s in dep.get("state", [])],
                "changedPropIds": []}
        for role in USERS:
            if _may_write(role, dep["output"]):
                continue
            answer = clients[role].post(UPDATE, json=body)
            assert answer.status_code == (401 if role == PUBLIC else 403), (role, dep["output"])
            checked += 1
    assert checked >= 50
