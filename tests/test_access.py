"""Access rules as data: path and callback rules (default deny) and a department head's
data scope."""
from __future__ import annotations

import pytest

from dashboard.auth.access import (
    ADMINS,
    EVERYONE,
    STAFF,
    allowed,
    callback_allowed,
    department_scope,
    district_default,
    output_ids,
    roles_for_path,
)
from dashboard.auth.users import ANONYMOUS, Principal

MAYOR = Principal("mayor", "official")
ANA = Principal("ana", "department_head", ("Aguas", "Movilidad"), ("d-02",))
ADMIN = Principal("root", "admin")
RULES = {"/": STAFF, "/district/<id>": STAFF, "/admin/audit": ADMINS, "/kiosk": EVERYONE}


def test_paths_match_their_rule_or_are_denied() -> None:
    assert roles_for_path("/district/santander-01", RULES) == STAFF
    assert roles_for_path("/district/santander-01/", RULES) == STAFF
    assert roles_for_path("/district/a/b", RULES) == ()  # one segment per placeholder
    assert roles_for_path("/", RULES) == STAFF and roles_for_path("/kiosk", RULES) == EVERYONE
    assert roles_for_path("/nowhere", RULES) == ()
    assert allowed(ANONYMOUS, roles_for_path("/kiosk", RULES))
    assert not allowed(ANONYMOUS, roles_for_path("/", RULES))
    assert not allowed(MAYOR, roles_for_path("/admin/audit", RULES))
    assert allowed(ADMIN, roles_for_path("/admin/audit", RULES))
    assert not allowed(ADMIN, ())


def test_callbacks_are_allowed_by_every_output_they_write() -> None:
    rules = {"services-": STAFF, "kiosk-": EVERYONE, "admin-": ADMINS, "kpi-card": STAFF}
    one = {"output": "services-headline.children",
           "outputs": {"id": "services-headline", "property": "children"}}
    assert output_ids(one) == ["services-headline"]
    assert callback_allowed(ANA, one, rules) and not callback_allowed(ANONYMOUS, one, rules)
    mixed = {"outputs": [{"id": "kiosk-slide", "property": "children"},
                         {"id": "admin-users", "property": "data"}]}
    assert not callback_allowed(MAYOR, mixed, rules) and callback_allowed(ADMIN, mixed, rules)
    pattern = {"outputs": [[{"id": {"type": "kpi-card", "kpi": "x"}, "property": "style"}]]}
    assert output_ids(pattern) == ["kpi-card"] and callback_allowed(MAYOR, pattern, rules)
    for forged in ({}, {"outputs": None}, {"outputs": [{"id": "unknown-thing"}]},
                   {"outputs": [{"property": "x"}]}, {"outputs": "services-x"}):
        assert not callback_allowed(ADMIN, forged, rules), forged


def test_a_department_head_only_ever_gets_their_departments() -> None:
    assert department_scope(ANA, "Movilidad") == "Movilidad"
    assert department_scope(ANA, "Policía Local") == "Aguas"  # forged: their own instead
    assert department_scope(ANA, None) == "Aguas" and department_scope(ANA, "") == "Aguas"
    assert department_scope(MAYOR, None) is None and department_scope(MAYOR, "Aguas") == "Aguas"
    with pytest.raises(PermissionError):
        department_scope(Principal("x", "department_head"), None)
    assert district_default(ANA, None) == "d-02" and district_default(ANA, "d-05") == "d-05"
    assert district_default(MAYOR, None) is None


def test_pages_scope_a_department_head_whatever_the_url_says(tiny_city, in_app) -> None:
    """The filters every page reads from its URL: a department head gets their department
    (asked for another or for all) and opens on their district unless the URL names one."""
    from dashboard.auth import DEPARTMENT_HEAD, OFFICIAL
    from layouts.filters import PageFilters, department_choices, read_filters
    from tests.conftest import acting_as

    with acting_as(DEPARTMENT_HEAD, departments=("Residuos y Limpieza",),
                   districts=("santander-03",)):
        forged = read_filters(tiny_city, {"department": "Movilidad"})
        assert forged.department == "Residuos y Limpieza"
        assert forged.district == "santander-03"
        assert read_filters(tiny_city, {"district": "santander-01"}).district == "santander-01"
        assert PageFilters().with_(department="").department == "Residuos y Limpieza"
        assert [o["value"] for o in department_choices(tiny_city)] == ["Residuos y Limpieza"]
    with acting_as(OFFICIAL):
        assert read_filters(tiny_city, {"department": "Movilidad"}).department == "Movilidad"
        assert read_filters(tiny_city, {}).district is None
        assert department_choices(tiny_city)[0] == {"label": "All departments", "value": ""}
