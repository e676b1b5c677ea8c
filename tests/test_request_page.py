"""A service request's own page (/request/<id>): its read model against plain SQL on the
tiny city, who may see it, and the links to it from every table and map listing requests."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from dash import dcc, no_update
from sqlalchemy import text

from dashboard.auth import DEPARTMENT_HEAD, OFFICIAL
from dashboard.links import request_href
from dashboard.geo import metres_between
from dashboard.queries.request_detail import NEAR_METRES, request_detail
from dashboard.settings import Settings
from dashboard.store import get_engine
from tests.conftest import acting_as, sign_in
from tests.tree import walk


def sql(settings: Settings, query: str, **params: Any) -> list[Any]:
    with get_engine(settings.resolved_database_url).connect() as conn:
        return list(conn.execute(text(query), params))


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def open_and_closed(tiny_city: Settings) -> tuple[str, str]:
    """An open request with a due time and a closed one, of the tiny city."""
    opened = sql(tiny_city, "SELECT id FROM service_requests WHERE closed_at IS NULL "
                            "AND expected_at IS NOT NULL ORDER BY requested_at, id LIMIT 1")
    closed = sql(tiny_city, "SELECT id FROM service_requests WHERE closed_at IS NOT NULL "
                            "AND expected_at IS NOT NULL ORDER BY requested_at, id LIMIT 1")
    assert opened and closed
    return opened[0][0], closed[0][0]


def test_the_detail_equals_the_stored_request(tiny_city: Settings,
                                              open_and_closed: tuple[str, str]) -> None:
    now = tiny_city.current_time()
    for request_id in open_and_closed:
        (row,) = sql(tiny_city, "SELECT r.service_code, r.department, r.district_id, "
                                "r.requested_at, r.expected_at, r.closed_at, s.sla_hours "
                                "FROM service_requests r LEFT JOIN services s "
                                "ON s.service_code = r.service_code WHERE r.id = :id",
                     id=request_id)
        detail = request_detail(tiny_city, request_id)
        assert detail is not None
        assert (detail["service_code"], detail["department"], detail["district_id"]) == tuple(
            row[:3])
        requested, due, closed = (_aware(v) for v in row[3:6])
        assert detail["open"] is (closed is None) and detail["sla_hours"] == row[6]
        end = closed or now
        assert detail["sla"]["hours"] == pytest.approx((end - requested).total_seconds() / 3600)
        late = (end - due).total_seconds() / 3600
        assert detail["sla"]["hours_late"] == pytest.approx(late)
        assert detail["sla"]["state"] == (
            ("missed" if late > 0 else "met") if closed else ("overdue" if late > 0 else "on time"))
        moments = [_aware(e["at"]) for e in detail["timeline"]]
        assert moments == sorted(moments)
        kinds = [e["what"] for e in detail["timeline"]]
        assert kinds[0] == "requested" and "due" in kinds
        assert ("closed" in kinds) is (closed is not None)


def test_the_asset_is_the_nearest_of_its_domain_within_reach(tiny_city: Settings) -> None:
    """Brute force over every asset of the request's domain: the nearest within 150 m, or
    none when none is that close."""
    rows = sql(tiny_city, "SELECT r.id, r.lat, r.lon, s.domain FROM service_requests r "
                          "JOIN services s ON s.service_code = r.service_code "
                          "WHERE r.lat IS NOT NULL AND s.domain IN "
                          "(SELECT DISTINCT domain FROM assets) ORDER BY r.id LIMIT 40")
    assert rows
    linked = 0
    for request_id, lat, lon, domain in rows:
        assets = sql(tiny_city, "SELECT id, lat, lon FROM assets WHERE domain = :d "
                                "AND lat IS NOT NULL", d=domain)
        near = sorted((metres_between(lat, lon, a_lat, a_lon), a_id)
                      for a_id, a_lat, a_lon in assets)
        expected = near[0][1] if near and near[0][0] <= NEAR_METRES else None
        got = (request_detail(tiny_city, request_id) or {}).get("asset")
        assert (got or {}).get("id") == expected, request_id
        linked += expected is not None
        if got:
            assert got["href"].startswith("/asset/") and got["metres"] <= NEAR_METRES
    assert linked, "some request of the tiny city is next to an asset of its domain"


def test_a_department_head_sees_only_their_departments_requests(
        tiny_city: Settings, in_app: None) -> None:
    from layouts.request import layout

    request_id = sql(tiny_city, "SELECT id, department FROM service_requests "
                                "ORDER BY id LIMIT 1")[0]
    own, other = request_id[1], "Some Other Department"
    assert request_detail(tiny_city, request_id[0], (other,)) is None
    assert request_detail(tiny_city, request_id[0], (own,)) is not None
    for role, departments, visible in ((OFFICIAL, (), True), (DEPARTMENT_HEAD, (own,), True),
                                       (DEPARTMENT_HEAD, (other,), False),
                                       (DEPARTMENT_HEAD, (), False)):
        with acting_as(role, departments):
            page = layout(request_href(request_id[0]).removeprefix("/request/"))
        words = " ".join(str(getattr(n, "children", "")) for n in walk(page))
        assert ("Request not found" not in words) is visible, (role, departments)
        assert (request_id[0] in words)  # the id asked for, either way
        if visible:
            assert any(getattr(n, "id", None) == "request-timeline" for n in walk(page))
    with acting_as(OFFICIAL):
        assert "Request not found" in str(layout("no-such-request"))
        assert "Request not found" in str(layout(""))


def test_the_page_is_for_staff_only(tiny_app: Any, open_and_closed: tuple[str, str]) -> None:
    path = request_href(open_and_closed[0])
    anonymous = tiny_app.server.test_client()
    assert anonymous.get(path).status_code == 302
    staff = tiny_app.server.test_client()
    sign_in(staff, "mayor")
    assert staff.get(path).status_code == 200


def test_tables_the_profile_and_the_map_link_each_request(in_app: None) -> None:
    from callbacks.services import request_clicked
    from layouts.profile_view import timeline_item
    from layouts.services_parts import oldest_table

    row = {"id": "SR 1/2", "service_name": "Bache", "district_id": None,
           "district_name": "No district", "age_days": 3.0, "due_hours": None,
           "channel": "web", "description": "x"}
    table = oldest_table([row], {"web": "Web"})
    hrefs = [n.href for n in walk(table) if isinstance(n, dcc.Link)]
    assert hrefs == ["/request/SR%201%2F2"]
    item = timeline_item({"kind": "request", "id": "SR-9", "title": "Bache", "status": "open",
                          "open": True, "department": "Obras"}, "Europe/Madrid")
    assert [n.href for n in walk(item) if isinstance(n, dcc.Link)] == ["/request/SR-9"]
    case = timeline_item({"kind": "case", "id": "EXP-1", "title": "Licencia",
                          "status": "open", "open": True}, "Europe/Madrid")
    assert not [n for n in walk(case) if isinstance(n, dcc.Link)]
    assert request_clicked({"properties": {"id": "SR-9"}}) == "/request/SR-9"
    assert request_clicked({"properties": {"cluster": True, "id": 4}}) is no_update
    assert request_clicked({"properties": {"id": ["forged"]}}) is no_update
    assert request_clicked(None) is no_update
