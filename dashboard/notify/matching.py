"""Match new events to subscriptions: each matching user gets the event once in their
in-app list, and each matching e-mail or webhook subscription gets it waiting for its
next message. A user is told only what their pages would show them (``scope``)."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from dashboard.auth.users import Principal
from dashboard.model import DeliveryItem, Notification, NotificationEvent, Subscription, User
from dashboard.notify.events import (
    ALERT_CLEARED,
    ALERT_RAISED,
    KPI_OFF_TARGET,
    KPI_ON_TARGET,
    SLA_BREACHED,
)
from dashboard.notify.scope import Reach, reach_of
from dashboard.queries.departments import department_options
from dashboard.settings import Settings
from dashboard.store.upsert import upsert

BATCH = 1000
ALERTS = (ALERT_RAISED, ALERT_CLEARED)
KPIS = (KPI_OFF_TARGET, KPI_ON_TARGET)


def subscription_matches(sub: Any, event: Any, domains_of: Mapping[str, set[str]]) -> bool:
    """Whether ``event`` is what subscription ``sub`` asked for (before any reach)."""
    in_district = not sub.district_id or sub.district_id == (event.district_id or "")
    if sub.kind == "alert_rule":
        return event.kind in ALERTS and event.rule == sub.target and in_district
    if sub.kind == "kpi":
        return (event.kind in KPIS and event.kpi == sub.target
                and sub.district_id == (event.district_id or ""))
    if sub.kind == "district":
        return bool(event.district_id == sub.target)
    if sub.kind == "department":
        if event.kind in ALERTS:
            return event.domain in domains_of.get(sub.target, set()) and in_district
        if event.kind == SLA_BREACHED:
            return event.department == sub.target and in_district
        return False  # KPI crossings: subscribe to the KPI, or to the district
    return False


def _subscribers(conn: Connection, settings: Settings
                 ) -> tuple[list[Any], dict[str, Reach]]:
    subs = conn.execute(
        select(Subscription.id, Subscription.username, Subscription.kind, Subscription.target,
               Subscription.district_id, Subscription.channel)
        .join(User, User.username == Subscription.username)
        .where(User.disabled.is_(False))).all()
    users = conn.execute(select(User.username, User.role, User.departments, User.districts)
                         .where(User.username.in_(bindparam("names", expanding=True))),
                         {"names": sorted({s.username for s in subs}) or [""]}).all()
    reach = {u.username: reach_of(Principal(u.username, u.role, tuple(u.departments or ()),
                                            tuple(u.districts or ())), settings)
             for u in users}
    return list(subs), reach


def match_events(conn: Connection, settings: Settings, now: datetime) -> int:
    """Match up to ``BATCH`` unmatched events, oldest first; returns how many."""
    events = conn.execute(
        select(NotificationEvent.id, NotificationEvent.kind, NotificationEvent.rule,
               NotificationEvent.kpi, NotificationEvent.district_id,
               NotificationEvent.department, NotificationEvent.domain)
        .where(NotificationEvent.matched_at.is_(None))
        .order_by(NotificationEvent.id).limit(BATCH)).all()
    if not events:
        return 0
    subs, reach = _subscribers(conn, settings)
    domains_of = {d["id"]: set(d["domains"]) for d in department_options(settings)}
    told: list[dict[str, Any]] = []
    waiting: list[dict[str, Any]] = []
    for event in events:
        for sub in subs:
            if not subscription_matches(sub, event, domains_of):
                continue
            if not reach.get(sub.username, reach_of(Principal(), settings)).covers(event):
                continue
            told.append({"username": sub.username, "event_id": event.id, "created_at": now,
                         "read_at": None})
            if sub.channel != "in_app":
                waiting.append({"subscription_id": sub.id, "event_id": event.id,
                                "delivery_id": None, "created_at": now})
    upsert(conn, Notification, _unique(told, ("username", "event_id")),
           key=["username", "event_id"], update=False)
    upsert(conn, DeliveryItem, waiting, key=["subscription_id", "event_id"], update=False)
    conn.execute(update(NotificationEvent)
                 .where(NotificationEvent.id.in_(bindparam("ids", expanding=True)))
                 .values(matched_at=now), {"ids": [e.id for e in events]})
    return len(events)


def _unique(rows: list[dict[str, Any]], key: tuple[str, ...]) -> list[dict[str, Any]]:
    """One row per key (a batch may not hold the same key twice for an upsert)."""
    return list({tuple(r[k] for k in key): r for r in rows}.values())
