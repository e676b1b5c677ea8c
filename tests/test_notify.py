"""Subscriptions and notifications, end to end on SQLite and PostgreSQL: alerts raised at
ingest reach the subscribed users in the app, by e-mail (a real SMTP server, aiosmtpd in
its own process) and by webhook (a local HTTP receiver); a storm becomes one digest; a
department head hears only of their department; a failed delivery is tried again with
backoff and logged; SLA breaches and KPI crossings are told once; webhooks cannot be
pointed into the city's own network."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, insert, select, update

from dashboard.alerts import evaluate_alerts
from dashboard.auth import ADMIN, DEPARTMENT_HEAD, OFFICIAL
from dashboard.auth.users import Principal
from dashboard.kpis import load_alert_rules
from dashboard.kpis.definitions import AlertRule
from dashboard.model import (
    Asset,
    Delivery,
    District,
    NotificationEvent,
    Service,
    ServiceRequest,
    User,
)
from dashboard.notify.cycle import notify_once
from dashboard.notify.events import ALERT_RAISED, SLA_BREACHED
from dashboard.notify.inbox import mark_read
from dashboard.notify.leases import give_up_lease, take_lease
from dashboard.notify.subscriptions import set_preferences, subscribe, unsubscribe
from dashboard.notify.webhooks import check_webhook_url
from dashboard.queries.notifications import delivery_log, notifications_for, unread_count
from dashboard.settings import Settings
from dashboard.store.observations import ingest_observations
from tests.side_servers import SideSmtp, WebhookReceiver, free_port

RULES = {r.metric: r for r in load_alert_rules(Settings().kpis_file)}  # the shipped ones
RULE = RULES["WasteContainer.fillingLevel"]  # above 0.95
NOISE = RULES["NoiseLevelObserved.LAeq"]
T0 = datetime.now(timezone.utc).replace(microsecond=0)
MAYOR = Principal("mayor", OFFICIAL)
WASTE = Principal("waste.head", DEPARTMENT_HEAD, ("Residuos",), ("d1",))
CONTAINERS = 50


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SideSmtp]:
    server = SideSmtp(tmp_path / "smtp")
    yield server
    server.close()


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def city(fresh_engine: Engine, smtp: SideSmtp, tmp_path: Path) -> Settings:
    """Two districts, 50 waste containers and a noise meter in the first, two services
    of two departments, and three users with e-mail addresses."""
    with fresh_engine.begin() as conn:
        conn.execute(insert(District), [{"id": "d1", "name": "Centro", "geometry": {}},
                                        {"id": "d2", "name": "Norte", "geometry": {}}])
        conn.execute(insert(Asset), [
            {"id": f"urn:w:{n}", "type": "WasteContainer", "domain": "waste",
             "name": f"Container {n}", "district_id": "d1"} for n in range(CONTAINERS)])
        conn.execute(insert(Asset), [{"id": "urn:noise:1", "type": "NoiseLevelObserved",
                                      "domain": "environment", "name": "Noise meter",
                                      "district_id": "d1"}])
        conn.execute(insert(Service), [
            {"service_code": "bin", "service_name": "Full container", "department": "Residuos",
             "domain": "waste", "sla_hours": 48},
            {"service_code": "pothole", "service_name": "Pothole", "department": "Obras",
             "domain": "mobility", "sla_hours": 72}])
        conn.execute(insert(User), [
            {"username": "mayor", "password_hash": "-", "role": OFFICIAL, "departments": [],
             "districts": [], "disabled": False, "email": "mayor@city.example",
             "language": "es", "briefing": "weekly"},
            {"username": "waste.head", "password_hash": "-", "role": DEPARTMENT_HEAD,
             "departments": ["Residuos"], "districts": ["d1"], "disabled": False,
             "email": "waste@city.example", "language": "en", "briefing": "weekly"},
            {"username": "admin", "password_hash": "-", "role": ADMIN, "departments": [],
             "districts": [], "disabled": False, "email": None, "language": "en",
             "briefing": "off"}])
    return Settings(var_dir=tmp_path / "var", database_url=_url(fresh_engine), redis_url=None,
                    smtp_host="127.0.0.1", smtp_port=smtp.port,
                    smtp_from="CityLens <citylens@city.example>",
                    webhook_allowed_hosts=["127.0.0.1"], public_url="https://citylens.city.example",
                    notify_gather_seconds=60, delivery_backoff_seconds=60, delivery_attempts=4)


def _fill(engine: Engine, containers: range, at: datetime, level: float = 0.97,
          rule: AlertRule = RULE) -> None:
    """A batch of readings, each container at ``level`` at ``at``: alerts at ingest."""
    with engine.begin() as conn:
        pks = dict(conn.execute(select(Asset.id, Asset.pk)).all())
        frame = pd.DataFrame({"asset_pk": [pks[f"urn:w:{n}"] for n in containers],
                              "metric": "fillingLevel", "time": int(at.timestamp()),
                              "value": level})
        ingest_observations(conn, frame, "Europe/Madrid")
        evaluate_alerts(conn, [rule])


def _noise(engine: Engine, at: datetime) -> None:
    with engine.begin() as conn:
        pk = conn.execute(select(Asset.pk).where(Asset.id == "urn:noise:1")).scalar_one()
        ingest_observations(conn, pd.DataFrame({"asset_pk": [pk], "metric": "LAeq",
                                                "time": int(at.timestamp()), "value": 95.0}),
                            "Europe/Madrid")
        evaluate_alerts(conn, [NOISE])


def _round(engine: Engine, settings: Settings, at: datetime) -> Any:
    return notify_once(engine, settings, None, clock=lambda: at)


def _events(engine: Engine, kind: str) -> list[Any]:
    with engine.connect() as conn:
        return conn.execute(select(NotificationEvent).where(NotificationEvent.kind == kind)
                            .order_by(NotificationEvent.id)).all()


def test_alerts_raised_and_cleared_at_ingest_are_events_once(fresh_engine: Engine,
                                                            city: Settings) -> None:
    _fill(fresh_engine, range(3), T0)
    _fill(fresh_engine, range(3), T0 + timedelta(minutes=5), level=0.2)
    _fill(fresh_engine, range(3), T0 + timedelta(minutes=5), level=0.2)  # the same again
    raised, cleared = _events(fresh_engine, ALERT_RAISED), _events(fresh_engine,
                                                                   "alert_cleared")
    assert len(raised) == 3 and len(cleared) == 3
    assert {e.payload["asset_name"] for e in raised} == {"Container 0", "Container 1",
                                                         "Container 2"}
    assert {(e.domain, e.district_id, e.rule) for e in raised} == {
        ("waste", "d1", RULE.rule_id)}


def test_a_storm_of_fifty_alerts_becomes_one_digest_per_subscription(
        fresh_engine: Engine, city: Settings, smtp: SideSmtp,
        webhook: WebhookReceiver) -> None:
    subscribe(city, MAYOR, "department", "Residuos", channel="email", throttle_minutes=60)
    subscribe(city, WASTE, "alert_rule", RULE.rule_id, channel="webhook",
              webhook_url=webhook.url, throttle_minutes=60)
    for batch in range(5):  # 50 containers fill up within a minute, 10 at a time
        at = T0 + timedelta(seconds=12 * batch)
        _fill(fresh_engine, range(10 * batch, 10 * batch + 10), at)
        _round(fresh_engine, city, at)
    assert smtp.messages() == [] and webhook.bodies == []  # still gathering
    _round(fresh_engine, city, T0 + timedelta(seconds=75))
    (mail,) = smtp.messages()
    assert mail["To"] == "mayor@city.example"
    assert "50 notificaciones" in mail["Subject"]  # the mayor reads Spanish
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert text.count("https://citylens.city.example/asset/urn:w:") == CONTAINERS
    (body,) = webhook.bodies
    assert body["citylens"]["kind"] == "digest" and body["citylens"]["count"] == CONTAINERS
    assert body["text"].startswith("*50 notifications about alert rule")
    # one more alert: within the hour it waits; after it, it goes alone
    _fill(fresh_engine, range(0, 1), T0 + timedelta(minutes=3), level=0.2)  # clears one
    _fill(fresh_engine, range(0, 1), T0 + timedelta(minutes=4))
    _round(fresh_engine, city, T0 + timedelta(minutes=10))
    assert len(smtp.messages()) == 1 and len(webhook.bodies) == 1
    _round(fresh_engine, city, T0 + timedelta(minutes=62))
    assert len(smtp.messages()) == 2 and len(webhook.bodies) == 2
    assert webhook.bodies[1]["citylens"]["count"] == 2  # cleared, then raised again
    log = delivery_log(city)
    assert [(d["kind"], d["status"], d["items"]) for d in log] == [
        ("digest", "sent", 2), ("digest", "sent", 2),
        ("digest", "sent", CONTAINERS), ("digest", "sent", CONTAINERS)]
    webhook_rows = [d for d in log if d["channel"] == "webhook"]
    assert {d["destination"] for d in webhook_rows} == {"127.0.0.1"}  # never the secret path
    # and in the app, once per event, unread until read
    assert unread_count(city, MAYOR) == CONTAINERS + 2
    listed = notifications_for(city, MAYOR, "es")
    assert listed["rows"][0]["link"].startswith("/asset/urn:w:")
    assert mark_read(city, MAYOR, [listed["rows"][0]["id"]]) == 1
    assert mark_read(city, WASTE, [listed["rows"][1]["id"]]) == 0  # not theirs
    assert unread_count(city, MAYOR) == CONTAINERS + 1


def test_a_department_head_hears_only_of_their_department(
        fresh_engine: Engine, city: Settings, smtp: SideSmtp) -> None:
    """Subscribed to their district, the waste head is told of the waste containers' alerts
    and the waste requests past due, not of the noise meter or the potholes there; the
    mayor, subscribed to the same district, is told of everything."""
    subscribe(city, WASTE, "district", "d1", channel="email", throttle_minutes=0)
    subscribe(city, MAYOR, "district", "d1", channel="in_app")
    due = T0 - timedelta(minutes=30)
    with fresh_engine.begin() as conn:
        conn.execute(insert(ServiceRequest), [
            {"id": f"r-{code}", "service_code": code, "department": dept, "status": "open",
             "requested_at": due - timedelta(days=2), "expected_at": due,
             "district_id": "d1", "description": f"private words about {code}"}
            for code, dept in (("bin", "Residuos"), ("pothole", "Obras"))])
    _fill(fresh_engine, range(2), T0)
    _noise(fresh_engine, T0)
    _round(fresh_engine, city, T0)
    _round(fresh_engine, city, T0 + timedelta(minutes=2))
    (mail,) = smtp.messages()
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert "Container 0" in text and "Container 1" in text and "r-bin" in text
    assert "Noise meter" not in text and "r-pothole" not in text
    assert "private words" not in mail.as_string()  # a resident's text never goes out
    waste_titles = [r["title"] for r in notifications_for(city, WASTE, "en")["rows"]]
    mayor_titles = [r["title"] for r in notifications_for(city, MAYOR, "en")["rows"]]
    assert len(waste_titles) == 3 and len(mayor_titles) == 5
    assert any("Noise meter" in t for t in mayor_titles)
    assert any("r-pothole" in t for t in mayor_titles)
    assert len(_events(fresh_engine, SLA_BREACHED)) == 2
    _round(fresh_engine, city, T0 + timedelta(minutes=5))  # a breach is told once
    assert len(_events(fresh_engine, SLA_BREACHED)) == 2


def test_a_failed_delivery_is_tried_again_with_backoff_and_logged(
        fresh_engine: Engine, city: Settings, webhook: WebhookReceiver) -> None:
    subscribe(city, MAYOR, "alert_rule", RULE.rule_id, channel="webhook",
              webhook_url=webhook.url, throttle_minutes=0)
    webhook.fail_next = 2
    _fill(fresh_engine, range(1), T0)
    _round(fresh_engine, city, T0)  # matched now, gathered a minute on
    _round(fresh_engine, city, T0 + timedelta(seconds=61))
    (first,) = delivery_log(city)
    assert (first["status"], first["attempts"]) == ("retrying", 1)
    assert first["last_error"] == "webhook 127.0.0.1 answered 503"
    assert first["next_attempt_at"] == (T0 + timedelta(seconds=121)).isoformat()
    _round(fresh_engine, city, T0 + timedelta(seconds=100))  # not yet due: not tried
    assert delivery_log(city)[0]["attempts"] == 1 and webhook.bodies == []
    _round(fresh_engine, city, T0 + timedelta(seconds=121))
    second = delivery_log(city)[0]
    assert (second["status"], second["attempts"]) == ("retrying", 2)
    assert second["next_attempt_at"] == (T0 + timedelta(seconds=241)).isoformat()  # doubled
    _round(fresh_engine, city, T0 + timedelta(seconds=241))
    third = delivery_log(city)[0]
    assert (third["status"], third["attempts"], third["sent_at"]) == (
        "sent", 3, (T0 + timedelta(seconds=241)).isoformat())
    assert len(webhook.bodies) == 1


def test_a_refusal_fails_at_once_and_a_server_down_is_tried_until_the_last_attempt(
        fresh_engine: Engine, city: Settings, webhook: WebhookReceiver) -> None:
    subscribe(city, MAYOR, "alert_rule", RULE.rule_id, channel="webhook",
              webhook_url=webhook.url, throttle_minutes=0)
    subscribe(city, MAYOR, "alert_rule", RULE.rule_id, channel="email", throttle_minutes=0)
    webhook.refuse = True
    down = city.model_copy(update={"smtp_port": free_port()})
    _fill(fresh_engine, range(1), T0)
    _round(fresh_engine, down, T0)
    at = T0 + timedelta(seconds=61)
    for _ in range(6):
        _round(fresh_engine, down, at)
        at += timedelta(hours=1)
    by_channel = {d["channel"]: d for d in delivery_log(city)}
    assert by_channel["webhook"]["status"] == "failed"
    assert by_channel["webhook"]["attempts"] == 1
    assert by_channel["webhook"]["last_error"] == "webhook 127.0.0.1 answered 404"
    assert by_channel["email"]["status"] == "failed"
    assert by_channel["email"]["attempts"] == city.delivery_attempts
    assert "ConnectionRefusedError" in by_channel["email"]["last_error"]
    assert "\n" not in by_channel["email"]["last_error"]


def test_a_removed_subscription_or_a_user_no_longer_head_hears_nothing_more(
        fresh_engine: Engine, city: Settings, smtp: SideSmtp) -> None:
    sub = subscribe(city, WASTE, "department", "Residuos", channel="email",
                    throttle_minutes=0)
    _fill(fresh_engine, range(1), T0)
    _round(fresh_engine, city, T0)
    with fresh_engine.begin() as conn:  # the waste head moves to another department
        conn.execute(update(User).where(User.username == "waste.head")
                     .values(departments=["Obras"]))
    _round(fresh_engine, city, T0 + timedelta(seconds=61))
    assert smtp.messages() == []  # asked again at sending: no longer theirs
    assert unsubscribe(city, WASTE, sub) is True
    assert unsubscribe(city, MAYOR, sub) is False


@pytest.mark.parametrize(("who", "kind", "target", "problem"), [
    (WASTE, "department", "Obras", PermissionError),
    (WASTE, "kpi", "air_no2", PermissionError),
    (MAYOR, "kpi", "no_such_kpi", ValueError),
    (MAYOR, "district", "d9", ValueError),
    (MAYOR, "alert_rule", "nope", ValueError),
    (MAYOR, "weather", "x", ValueError),
    (Principal(), "district", "d1", PermissionError),
])
def test_one_subscribes_only_to_what_exists_and_is_theirs(
        city: Settings, who: Principal, kind: str, target: str, problem: type) -> None:
    with pytest.raises(problem):
        subscribe(city, who, kind, target)


def test_e_mail_needs_an_address_and_preferences_are_checked(city: Settings) -> None:
    admin = Principal("admin", ADMIN)
    with pytest.raises(ValueError, match="e-mail address first"):
        subscribe(city, admin, "district", "d1", channel="email")
    with pytest.raises(ValueError, match="not an e-mail address"):
        set_preferences(city, admin, email="admin@city\nBcc: all@city.example")
    with pytest.raises(ValueError, match="briefing must be"):
        set_preferences(city, admin, briefing="hourly")
    set_preferences(city, admin, email="admin@city.example", language="es")
    assert subscribe(city, admin, "district", "d1", channel="email") > 0


@pytest.mark.parametrize("url", [
    "http://hooks.example.com/x", "https://10.0.0.7/hook", "https://127.0.0.1/hook",
    "https://[::1]/hook", "https://localhost/hook", "https://user:pw@hooks.example.com/x",
    "ftp://hooks.example.com/x", "https://169.254.169.254/latest/meta-data",
])
def test_webhooks_cannot_point_into_the_city_network(url: str) -> None:
    with pytest.raises(ValueError):
        check_webhook_url(url, Settings())


def test_a_webhook_host_resolving_to_a_private_address_is_refused_when_sending(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    from dashboard.notify.webhooks import DeliveryError, post_webhook

    assert check_webhook_url("https://hooks.example.com/x", Settings())
    monkeypatch.setattr(socket, "getaddrinfo",
                        lambda *a, **k: [(socket.AF_INET, 1, 6, "", ("10.1.2.3", 443))])
    with pytest.raises(DeliveryError, match="non-public") as refused:
        post_webhook("https://hooks.example.com/x", {"text": "hi"}, Settings())
    assert refused.value.permanent


def test_kpi_crossings_are_told_once_and_a_first_standing_only_remembered(
        fresh_engine: Engine, city: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from dashboard import queries

    standings = iter([1.1, 1.05, 0.8, 0.7, 1.2])

    def table(settings: Settings, window: str, department: str | None = None) -> Any:
        score = next(standings)
        kpi = {"id": "air_no2", "name": {"en": "NO2", "es": "NO2"}, "score": score,
               "value": 40 / score, "target": 40, "unit": "µg/m³", "decimals": 1}
        return {"window": window, "places": {"": {"kpis": [kpi]}}}

    monkeypatch.setattr(queries, "kpi_table", table)
    subscribe(city, MAYOR, "kpi", "air_no2")
    for minute in range(5):
        _round(fresh_engine, city, T0 + timedelta(minutes=minute))
    kinds = [e.kind for e in _events(fresh_engine, "kpi_off_target")
             + _events(fresh_engine, "kpi_on_target")]
    assert kinds == ["kpi_off_target", "kpi_on_target"]
    titles = [r["title"] for r in notifications_for(city, MAYOR, "en")["rows"]]
    assert titles == ["NO2 is back on target in the city: 33.3 µg/m³ (target 40.0)",
                      "NO2 is off target in the city: 50.0 µg/m³ (target 40.0)"]


def test_one_notifier_works_at_a_time(fresh_engine: Engine, city: Settings) -> None:
    hold = timedelta(minutes=10)
    assert take_lease(fresh_engine, "notifier", "a", T0, hold)
    assert not take_lease(fresh_engine, "notifier", "b", T0 + timedelta(minutes=1), hold)
    assert not notify_once(fresh_engine, city, None, clock=lambda: T0, holder="b").ran
    assert take_lease(fresh_engine, "notifier", "b", T0 + timedelta(minutes=11), hold)
    give_up_lease(fresh_engine, "notifier", "b", T0 + timedelta(minutes=12))
    assert notify_once(fresh_engine, city, None, clock=lambda: T0 + timedelta(minutes=12),
                       holder="a").ran


def test_delivery_rows_keep_no_webhook_secret(fresh_engine: Engine, city: Settings,
                                              webhook: WebhookReceiver) -> None:
    subscribe(city, MAYOR, "alert_rule", RULE.rule_id, channel="webhook",
              webhook_url=webhook.url, throttle_minutes=0)
    _fill(fresh_engine, range(1), T0)
    _round(fresh_engine, city, T0)
    _round(fresh_engine, city, T0 + timedelta(seconds=61))
    with fresh_engine.connect() as conn:
        stored = [str(v) for row in conn.execute(select(Delivery)) for v in row]
    assert not any("secret-part" in v for v in stored)


def test_a_new_subscriber_is_told_from_subscribing_on_not_of_the_past(
        fresh_engine: Engine, city: Settings) -> None:
    """Events the notifier had not matched yet (it was down, or never ran) are not poured
    onto a subscription made after them."""
    _fill(fresh_engine, range(5), T0)
    subscribe(city, MAYOR, "department", "Residuos")
    _round(fresh_engine, city, T0 + timedelta(seconds=5))
    assert unread_count(city, MAYOR) == 0
    _fill(fresh_engine, range(5, 7), T0 + timedelta(seconds=10))
    _round(fresh_engine, city, T0 + timedelta(seconds=15))
    assert unread_count(city, MAYOR) == 2
