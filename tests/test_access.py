"""Access rules as data: callback rules read from the key Dash dispatches on (default
deny) and a department head's data scope. Pages are matched by Dash's own lookup: see
tests/test_access_properties.py."""
from __future__ import annotations

import pytest

from dashboard.auth.access import (
    ADMINS,
    EVERYONE,
    STAFF,
    allowed,
    callback_output_ids,
    department_scope,
    district_default,
    roles_for_ids,
)
from dashboard.auth.users import ANONYMOUS, Principal

MAYOR = Principal("mayor", "official")
ANA = Principal("ana", "department_head", ("Aguas", "Movilidad"), ("d-02",))
ADMIN = Principal("root", "admin")


def test_callback_keys_name_the_components_they_write() -> None:
    assert callback_output_ids("services-headline.children") == ["services-headline"]
    assert callback_output_ids("..kiosk-a.children...admin-b.data..") == ["kiosk-a", "admin-b"]
    assert callback_output_ids('..{"domain":["ALL"],"type":"kpi-card"}.style...x.data..') == [
        "kpi-card", "x"]
    assert callback_output_ids("a\\.b.children@0f3c") == ["a.b"]  # escaped dot, duplicate
    for broken in ("", ".children", '{"no-type": 1}.data', "{not json.data"):
        assert callback_output_ids(broken) == [], broken


def test_callbacks_are_allowed_by_every_output_they_write() -> None:
    rules = {"services-": STAFF, "kiosk-": EVERYONE, "admin-": ADMINS, "kpi-card": STAFF}
    assert roles_for_ids(["services-headline"], rules) == STAFF
    assert not allowed(ANONYMOUS, roles_for_ids(["services-headline"], rules))
    assert roles_for_ids(["kiosk-slide", "admin-users"], rules) == ADMINS
    assert allowed(ADMIN, ADMINS) and not allowed(MAYOR, ADMINS)
    assert roles_for_ids(["kpi-card"], rules) == STAFF
    for forged in ([], ["unknown-thing"], ["services-x", "unknown"], [""]):
        assert roles_for_ids(forged, rules) == (), forged
    assert not allowed(ADMIN, ())


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
