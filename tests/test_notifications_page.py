"""The notifications page (/notifications), its "Notify me" buttons, the navigation's unread
count and the delivery log (/deliveries): through Flask's test client and the app's
callbacks, on a store of the test's own (two districts, two departments, four users).

Subscribing, listing, marking read and unread, removing; what a department head is offered
and refused; forged ids of another user's notification or subscription changing nothing;
the public and the other roles refused; the pages' buttons on the tiny city.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from dash.exceptions import PreventUpdate
from sqlalchemy import insert, select

from dashboard.auth import ADMIN, DEPARTMENT_HEAD, OFFICIAL
from dashboard.auth.users import Principal
from dashboard.model import Delivery, District, Notification, Service, Subscription
from dashboard.notify.subscriptions import preferences, subscriptions_of
from dashboard.settings import Settings
from dashboard.store import get_engine
from layouts import ids
from tests.conftest import acting_as, clicked, router_body, sign_in
from tests.tree import by_id, text_of, walk

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
PASSWORD = "a long enough password"
WASTE, LIGHTS = "Residuos y Limpieza", "Alumbrado"
BINS_FULL = "WasteContainer.fillingLevel>0.95"  # a waste rule of data/kpis.yaml
NO2 = "AirQualityObserved.no2>200"  # an environment rule
SECRET_HOOK = "https://hooks.example.org/services/T000/B111/s3cr3t-token"
SQUARE = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}
MAYOR = Principal("mayor", OFFICIAL)
ANA = Principal("ana", OFFICIAL)
HEAD = Principal("wh", DEPARTMENT_HEAD, (WASTE,))


def pid(name: str) -> str:
    return ids.page_id(ids.NOTIFICATIONS, name)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """A store of its own: districts Centro (d1) and Norte (d2), the waste and lighting
    departments, an official or two, a department head and an administrator."""
    from dashboard.auth.users import add_user

    made = Settings(var_dir=tmp_path, database_url="", redis_url=None, now=NOW)
    with get_engine(made.resolved_database_url).begin() as conn:
        conn.execute(insert(District), [{"id": "d1", "name": "Centro", "geometry": SQUARE},
                                        {"id": "d2", "name": "Norte", "geometry": SQUARE}])
        conn.execute(insert(Service), [
            {"service_code": "bins", "service_name": "Contenedor", "department": WASTE,
             "domain": "waste"},
            {"service_code": "lamp", "service_name": "Farola", "department": LIGHTS,
             "domain": "lighting"}])
        add_user(conn, "mayor", OFFICIAL, PASSWORD)
        add_user(conn, "ana", OFFICIAL, PASSWORD)
        add_user(conn, "wh", DEPARTMENT_HEAD, PASSWORD, departments=[WASTE])
        add_user(conn, "admin", ADMIN, PASSWORD)
    return made


@pytest.fixture
def app(settings: Settings) -> Any:
    from app import create_app

    return create_app(settings)


def _client(app: Any, username: str | None) -> Any:
    client = app.server.test_client()
    if username:
        assert sign_in(client, username, PASSWORD).status_code == 302
    return client


def _rows(settings: Settings, table: Any, **where: Any) -> list[Any]:
    with get_engine(settings.resolved_database_url).connect() as conn:
        stmt = select(table)
        for column, value in where.items():
            stmt = stmt.where(getattr(table, column) == value)
        return list(conn.execute(stmt).all())


def _tell(settings: Settings, *events: dict[str, Any]) -> None:
    """Record events as the notifier does and match them to the subscriptions (recorded
    now: a subscription hears of what is recorded after it was made)."""
    from dashboard.notify.events import record_events
    from dashboard.notify.matching import match_events

    recorded = datetime.now(timezone.utc)
    with get_engine(settings.resolved_database_url).begin() as conn:
        record_events(conn, list(events), now=recorded)
        match_events(conn, settings, recorded)


def _alert(n: int, district: str = "d1", rule: str = BINS_FULL,
           domain: str = "waste") -> dict[str, Any]:
    return {"key": f"alert_raised:{n}", "kind": "alert_raised", "rule": rule,
            "district_id": district, "domain": domain, "severity": "warning",
            "occurred_at": NOW - timedelta(minutes=n),
            "payload": {"alert_id": n, "asset_id": f"urn:ngsi-ld:WasteContainer:t:{n}",
                        "asset_name": f"Bin {n}", "value": 0.97, "district_name": "Centro"}}


def _subscribe_form(kind: str, target: str, district: str = "", channel: str = "in_app",
                    webhook: str = "", interval: Any = 60) -> Any:
    from callbacks.notifications import change_subscriptions

    with clicked(pid("subscribe")):
        return change_subscriptions(1, [], kind, target, district, channel, webhook, interval)


# ---- who may open the pages and have their callbacks answered --------------------------------

def test_the_pages_are_for_staff_and_the_delivery_log_for_administrators(app: Any) -> None:
    public = _client(app, None)
    for path in ("/notifications", "/deliveries"):
        assert public.get(path).status_code == 302
        assert public.post("/_dash-update-component", json=router_body(path)).status_code == 401
    for user in ("mayor", "wh", "admin"):
        client = _client(app, user)
        assert client.get("/notifications").status_code == 200
        routed = client.post("/_dash-update-component", json=router_body("/notifications"))
        assert routed.status_code == 200 and "Your subscriptions" in routed.get_data(as_text=True)
        deliveries = client.post("/_dash-update-component", json=router_body("/deliveries"))
        assert deliveries.status_code == (200 if user == "admin" else 403), user
        assert client.get("/deliveries").status_code == (200 if user == "admin" else 403)


def _dash_body(deps: list[dict[str, Any]], marker: str, inputs: list[dict[str, Any]],
               outputs: Any, changed: str, state: list[dict[str, Any]] | None = None
               ) -> dict[str, Any]:
    output = next(d["output"] for d in deps if marker in d["output"])
    return {"output": output, "outputs": outputs, "inputs": inputs, "state": state or [],
            "changedPropIds": [changed]}


def _notify_request(client: Any, kind: str, target: str, district: str = "") -> Any:
    """What the browser sends when a "Notify me" button is clicked."""
    deps = client.get("/_dash-dependencies").get_json()
    button, status = ids.notify_me(kind, target, district), ids.notify_status(kind, target,
                                                                              district)
    name = json.dumps(button, sort_keys=True, separators=(",", ":"))
    return client.post("/_dash-update-component", json=_dash_body(
        deps, ids.NOTIFY_STATUS_TYPE, [{"id": button, "property": "n_clicks", "value": 1}],
        {"id": status, "property": "children"}, f"{name}.n_clicks"))


def test_notify_me_over_dash_subscribes_staff_and_refuses_the_public(
        app: Any, settings: Settings) -> None:
    public = _client(app, None)
    public.get("/login")
    assert _notify_request(public, "district", "d1").status_code == 401
    mayor = _client(app, "mayor")
    answer = _notify_request(mayor, "district", "d1")
    assert answer.status_code == 200
    [made] = subscriptions_of(settings, MAYOR)
    text = json.dumps(answer.get_json(), ensure_ascii=False)
    assert "Subscribed" in text and f"/notifications?subscription={made['id']}" in text
    assert (made["kind"], made["target"], made["channel"]) == ("district", "d1", "in_app")
    head = _client(app, "wh")
    refused = _notify_request(head, "department", LIGHTS)
    assert refused.status_code == 200 and "that department is not yours" in json.dumps(
        refused.get_json())
    assert subscriptions_of(settings, HEAD) == []


# ---- subscribing, listing, removing ----------------------------------------------------------

def test_subscribe_list_and_remove_through_the_callbacks(app: Any, settings: Settings) -> None:
    from callbacks.notifications import change_subscriptions
    from layouts.notifications import layout

    with app.server.app_context(), acting_as(OFFICIAL, username="mayor"):
        table, said = _subscribe_form("district", "d1")
        assert "Subscribed to District Centro (In the app)." in text_of(said)
        assert "Centro" in text_of(table)
        table, said = _subscribe_form("kpi", "air_no2", "d2", "webhook", SECRET_HOOK, "15")
        words = text_of(table)
        assert "Subscribed to KPI" in text_of(said)
        assert "Webhook to hooks.example.org" in words and "Norte" in words
        assert "at most one message every 15 min" in words
        assert "s3cr3t" not in json.dumps(table.to_plotly_json(), default=str)
        _, said = _subscribe_form("alert_rule", NO2, channel="email", interval=0)
        assert said.role == "alert" and "add your e-mail address first" in text_of(said)
        table, said = _subscribe_form("alert_rule", NO2, interval=0)
        assert "No subscriptions" not in text_of(table)
        page = layout(subscription=str(subscriptions_of(settings, MAYOR)[0]["id"]))
        assert "(just added)" in text_of(page) and "s3cr3t" not in str(page)
        # a refusal of the core is one line, read out at once, and writes nothing
        for bad in (("kpi", "happiness", "", "in_app", "", 60),
                    ("district", "d1", "", "webhook", "http://10.0.0.1/hook", 60),
                    ("district", "d1", "", "in_app", "", "ten"),
                    ("district", "d1", "", "in_app", "", 99999)):
            _, said = _subscribe_form(*bad)
            assert said.role == "alert" and "\n" not in text_of(said), bad
        subs = subscriptions_of(settings, MAYOR)
        assert [(s["kind"], s["channel"]) for s in subs] == [
            ("district", "in_app"), ("kpi", "webhook"), ("alert_rule", "in_app")]
        # remove one; a forged id of another user's subscription removes nothing
        other = _rows(settings, Subscription)[0].id
        with clicked(ids.subscription_remove(subs[1]["id"])):
            table, said = change_subscriptions(None, [1], None, None, None, None, None, None)
        assert text_of(said) == "Removed." and "Webhook" not in text_of(table)
    with app.server.app_context(), acting_as(OFFICIAL, username="ana"):
        with clicked(ids.subscription_remove(other)):
            _, said = change_subscriptions(None, [1], None, None, None, None, None, None)
        assert said.role == "alert" and "No such subscription of yours" in text_of(said)
    assert len(subscriptions_of(settings, MAYOR)) == 2


def test_a_department_head_is_offered_and_may_follow_only_their_departments(
        app: Any, settings: Settings) -> None:
    from callbacks.notifications import targets_of_kind
    from callbacks.notify_button import notify_me
    from layouts.notification_parts import choices

    offered = choices(settings, HEAD)
    assert [o["value"] for o in offered["department"]] == [WASTE]
    assert BINS_FULL in {o["value"] for o in offered["alert_rule"]}
    assert NO2 not in {o["value"] for o in offered["alert_rule"]}
    assert "waste_fill" in {o["value"] for o in offered["kpi"]}
    assert "air_no2" not in {o["value"] for o in offered["kpi"]}
    assert len(offered["district"]) == 2
    everything = choices(settings, MAYOR)
    assert {o["value"] for o in everything["department"]} == {WASTE, LIGHTS}
    assert NO2 in {o["value"] for o in everything["alert_rule"]}
    with app.server.app_context(), acting_as(DEPARTMENT_HEAD, (WASTE,), username="wh"):
        options, value, hidden = targets_of_kind("department")
        assert [o["value"] for o in options] == [WASTE] and value == WASTE and not hidden
        assert targets_of_kind("district")[2] is True
        for kind, target in (("department", LIGHTS), ("kpi", "air_no2"), ("alert_rule", NO2)):
            _, said = _subscribe_form(kind, target)
            assert said.role == "alert" and "\n" not in text_of(said)
            with clicked(ids.notify_me(kind, target)):
                refused = notify_me(1)
            assert refused.role == "alert" and text_of(refused).startswith("Not subscribed")
        _, said = _subscribe_form("department", WASTE, "d2")
        assert "Subscribed to Department" in text_of(said)
    assert [(s["kind"], s["target"], s["district_id"]) for s in subscriptions_of(
        settings, HEAD)] == [("department", WASTE, "d2")]


def test_notify_me_keeps_one_subscription_however_often_it_is_clicked(
        app: Any, settings: Settings) -> None:
    from callbacks.notify_button import notify_me

    button = ids.notify_me("kpi", "waste_fill", "d1")
    with app.server.app_context(), acting_as(OFFICIAL, username="mayor"):
        for _ in range(2):
            with clicked(button):
                said = notify_me(1)
        with clicked(button, clicks=0), pytest.raises(PreventUpdate):
            notify_me(0)
    [made] = subscriptions_of(settings, MAYOR)
    assert " ".join(text_of(said).split()) == "Subscribed — manage in Notifications"
    assert (made["kind"], made["target"], made["district_id"]) == ("kpi", "waste_fill", "d1")


# ---- the in-app list -------------------------------------------------------------------------

def _list(show: str, trigger: Any, clicks: int = 1) -> tuple[Any, str, list[Any], str]:
    from callbacks.notifications import update_list

    with clicked(trigger, clicks):
        return update_list(show, None, [])


def test_mark_read_and_unread_the_users_own_only(app: Any, settings: Settings) -> None:
    from layouts.notifications import layout

    with app.server.app_context():
        for user in ("mayor", "ana"):
            with acting_as(OFFICIAL, username=user):
                _subscribe_form("district", "d1")
    _tell(settings, _alert(1), _alert(2), _alert(3, district="d2"))
    mine = sorted((r.id for r in _rows(settings, Notification, username="mayor")), reverse=True)
    anas = [r.id for r in _rows(settings, Notification, username="ana")]
    assert len(mine) == len(anas) == 2
    with app.server.app_context(), acting_as(OFFICIAL, username="mayor"):
        page = layout()
        listed = by_id(page, pid("list"))
        assert text_of(by_id(page, pid("summary"))) == "2 unread of 2"
        items = [c for c in walk(listed) if "notice" in (getattr(c, "className", "") or "")
                 .split()]
        assert len(items) == 2 and all("notice--unread" in i.className for i in items)
        # newest told first (both at once: the later event); the link explains it
        assert "Unread" in text_of(items[0]) and "Bin 2" in text_of(items[0])
        assert [c.href for c in walk(items[0]) if getattr(c, "href", None)] == [
            "/asset/urn:ngsi-ld:WasteContainer:t:2"]
        rows, summary, nav, search = _list("all", ids.notification_item(mine[1], "read"))
        assert summary == "1 unread of 2" and text_of(nav) == "Notifications,  1  unread"
        assert search == ""
        assert "Mark unread" in text_of(rows) and "Mark read" in text_of(rows)
        rows, summary, _, search = _list("unread", pid("show"))
        assert summary == "1 unread of 2" and search == "?show=unread"
        assert "Bin 2" in text_of(rows) and "Bin 1" not in text_of(rows)
        _list("all", ids.notification_item(mine[1], "unread"))
        # forged: another user's notification ids change nothing of theirs
        _list("all", ids.notification_item(anas[0], "read"))
        with pytest.raises(PreventUpdate):  # a button drawn, not clicked
            _list("all", ids.notification_item(mine[0], "read"), clicks=0)
        rows, summary, nav, _ = _list("all", pid("mark-all"))
        assert summary == "0 unread of 2" and text_of(nav) == "Notifications"
        rows, _, _, _ = _list("unread", pid("show"))
        assert text_of(rows) == "No unread notifications."
    assert all(r.read_at is None for r in _rows(settings, Notification, username="ana"))
    assert all(r.read_at is not None for r in _rows(settings, Notification, username="mayor"))


def test_a_forged_request_over_dash_marks_nothing_of_another_user(
        app: Any, settings: Settings) -> None:
    with app.server.app_context():
        for user in ("mayor", "ana"):
            with acting_as(OFFICIAL, username=user):
                _subscribe_form("district", "d1")
    _tell(settings, _alert(1))
    [anas] = [r.id for r in _rows(settings, Notification, username="ana")]
    mayor = _client(app, "mayor")
    deps = mayor.get("/_dash-dependencies").get_json()
    forged = ids.notification_item(anas, "read")
    body = _dash_body(deps, pid("list"), [
        {"id": pid("show"), "property": "value", "value": "all"},
        {"id": pid("mark-all"), "property": "n_clicks", "value": 0},
        [{"id": forged, "property": "n_clicks", "value": 1}]], None,
        json.dumps(forged, sort_keys=True, separators=(",", ":")) + ".n_clicks")
    output = body["output"].strip(".").split("...")
    body["outputs"] = [{"id": part.rpartition(".")[0], "property": part.rpartition(".")[2]}
                       for part in output]
    answer = mayor.post("/_dash-update-component", json=body)
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    assert "1 unread of 1" in answer.get_data(as_text=True)  # the mayor's own, untouched
    assert [r.read_at for r in _rows(settings, Notification, username="ana")] == [None]
    public = _client(app, None)
    public.get("/login")
    assert public.post("/_dash-update-component", json=body).status_code == 401


def test_the_navigation_shows_the_unread_count_to_staff_only(app: Any,
                                                            settings: Settings) -> None:
    from callbacks.notifications import unread_in_navigation
    from layouts.shell import header

    with app.server.app_context():
        with acting_as(OFFICIAL, username="mayor"):
            _subscribe_form("district", "d1")
            top = header()
            link = next(c for c in walk(top) if getattr(c, "href", None) == "/notifications")
            assert by_id(link, ids.NOTIFICATIONS_UNREAD) is not None
            assert by_id(top, ids.NOTIFICATIONS_UNREAD_TICK).interval == 60_000
            assert text_of(unread_in_navigation(0, "/")) == "Notifications"
        _tell(settings, _alert(1), _alert(2))
        with acting_as(OFFICIAL, username="mayor"):
            words = unread_in_navigation(1, "/alerts")
            assert [text_of(w) for w in words] == ["Notifications, ", "2", " unread"]
            assert [w.className for w in words] == ["visually-hidden", "account__count",
                                                    "visually-hidden"]  # the count is seen
        with acting_as(OFFICIAL, username="ana"):
            assert text_of(unread_in_navigation(1, "/")) == "Notifications"
        public = header(who=Principal())
        assert not [c for c in walk(public) if getattr(c, "href", None) == "/notifications"]
        assert not [c for c in walk(public) if getattr(c, "id", None) in (
            ids.NOTIFICATIONS_UNREAD, ids.NOTIFICATIONS_UNREAD_TICK)]


# ---- briefing and e-mail ---------------------------------------------------------------------

def test_preferences_are_saved_for_the_user_and_refusals_said_in_one_line(
        app: Any, settings: Settings) -> None:
    from callbacks.notifications import save_preferences
    from layouts.notifications import layout

    with app.server.app_context(), acting_as(OFFICIAL, username="mayor"):
        said = save_preferences(1, " ana@example.org ", "es", "monthly")
        assert text_of(said) == "Saved."
        assert preferences(settings, MAYOR) == {"email": "ana@example.org", "language": "es",
                                                "briefing": "monthly"}
        page = layout()
        assert by_id(page, pid("email")).value == "ana@example.org"
        assert by_id(page, pid("briefing")).value == "monthly"
        for bad in (("not an address", "en", "weekly"), ("a@b.org", "fr", "weekly"),
                    ("a@b.org", "en", "hourly")):
            refused = save_preferences(1, *bad)
            assert refused.role == "alert" and "\n" not in text_of(refused), bad
        assert preferences(settings, MAYOR)["briefing"] == "monthly"
        said = save_preferences(1, "", "en", "off")
        assert "No e-mail will be sent" in text_of(said)
    assert preferences(settings, ANA)["email"] == ""


# ---- the delivery log ------------------------------------------------------------------------

def _deliveries(settings: Settings) -> None:
    rows = [{"username": "mayor", "subscription_id": 1, "kind": "digest", "channel": "webhook",
             "destination": "hooks.example.org", "status": "retrying", "items": 4,
             "attempts": 2, "created_at": NOW - timedelta(hours=1),
             "next_attempt_at": NOW + timedelta(minutes=4), "last_error": "HTTP 503"},
            {"username": "ana", "subscription_id": None, "kind": "briefing", "channel": "email",
             "destination": "ana@example.org", "status": "sent", "items": 0, "attempts": 1,
             "created_at": NOW - timedelta(hours=2), "next_attempt_at": None,
             "sent_at": NOW - timedelta(hours=2), "last_error": ""}]
    with get_engine(settings.resolved_database_url).begin() as conn:
        conn.execute(insert(Delivery), [{"dedupe_key": None, "payload": {}, "sent_at": None,
                                         **r} for r in rows])


def test_the_delivery_log_lists_and_filters_for_administrators_only(
        app: Any, settings: Settings) -> None:
    from callbacks.deliveries import filter_deliveries
    from layouts.deliveries import layout

    _deliveries(settings)
    with app.server.app_context():
        with acting_as(ADMIN, username="admin"):
            words = text_of(layout())
            assert "Digest of 4" in words and "hooks.example.org" in words
            assert "Retrying" in words and "HTTP 503" in words and "Briefing" in words
            table, search = filter_deliveries("failed", "")
            assert search == "?status=failed" and text_of(table) == "No deliveries match."
            table, search = filter_deliveries("", "ana")
            assert search == "?user=ana" and "ana@example.org" in text_of(table)
            assert "hooks.example.org" not in text_of(table)
            assert "Sent" in text_of(layout(status="sent", user="nobody"))
        for role in (OFFICIAL, DEPARTMENT_HEAD):
            with acting_as(role, username="mayor"), pytest.raises(PreventUpdate):
                filter_deliveries("", "")
    mayor = _client(app, "mayor")
    deps = _client(app, "admin").get("/_dash-dependencies").get_json()
    output = next(d["output"] for d in deps if "deliveries-table" in d["output"])
    body = {"output": output, "outputs": [{"id": "deliveries-table", "property": "children"},
                                          {"id": "deliveries-url", "property": "search"}],
            "inputs": [{"id": "deliveries-status", "property": "value", "value": ""},
                       {"id": "deliveries-user", "property": "value", "value": ""}],
            "changedPropIds": ["deliveries-status.value"]}
    assert mayor.post("/_dash-update-component", json=body).status_code == 403
    admin = _client(app, "admin")
    assert "hooks.example.org" in admin.post("/_dash-update-component",
                                             json=body).get_data(as_text=True)


# ---- the buttons on the other pages (the tiny city, read only) -------------------------------

def _notify_buttons(tree: Any) -> list[dict[str, str]]:
    return [c.id for c in walk(tree) if isinstance(getattr(c, "id", None), dict)
            and c.id.get("type") == ids.NOTIFY_ME_TYPE]


def test_the_pages_offer_notify_me_for_what_they_show(in_app: None,
                                                     tiny_city: Settings) -> None:
    from layouts import alerts, district, domain, overview, services
    from layouts.notify_button import department_notify

    with acting_as(OFFICIAL, username="mayor"):
        shown = _notify_buttons(district.layout(district_id="santander-02"))
        assert shown == [ids.notify_me("district", "santander-02")]
        kpis = _notify_buttons(overview.layout(district="santander-03"))
        assert kpis and all(b["kind"] == "kpi" and b["district"] == "santander-03"
                            for b in kpis)
        assert {b["target"] for b in _notify_buttons(domain.layout(domain="waste"))} >= {
            "waste_fill"}
        rules = _notify_buttons(alerts.layout())
        assert {b["kind"] for b in rules} == {"alert_rule"} and len(rules) >= 5
        assert _notify_buttons(services.layout()) == []  # all departments: no button
        assert _notify_buttons(services.layout(department=WASTE, district="santander-01")) == [
            ids.notify_me("department", WASTE, "santander-01")]
        assert department_notify(tiny_city, None) is None
    with acting_as(DEPARTMENT_HEAD, (WASTE,), username="waste.head"):
        rules = {b["target"] for b in _notify_buttons(alerts.layout())}
        assert rules == {BINS_FULL}
        assert _notify_buttons(services.layout()) == [ids.notify_me("department", WASTE)]


def test_the_services_button_follows_the_filters(in_app: None) -> None:
    from callbacks.notify_button import services_department

    with acting_as(OFFICIAL, username="mayor"):
        assert services_department("", None) is None
        assert _notify_buttons(services_department(WASTE, "santander-01")) == [
            ids.notify_me("department", WASTE, "santander-01")]
        assert _notify_buttons(services_department(WASTE, "nowhere")) == [
            ids.notify_me("department", WASTE)]
    with acting_as(DEPARTMENT_HEAD, (WASTE,), username="waste.head"):  # theirs, whatever asked
        assert _notify_buttons(services_department("Movilidad", None)) == [
            ids.notify_me("department", WASTE)]
