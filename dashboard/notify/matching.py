"""Match new events to subscriptions: each matching user gets the event once in their
in-app list, and each matching e-mail or webhook subscription gets it waiting for its
next message. A user is told only what their pages would show them (``scope``)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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
from dashboard.notify.scope import NOTHING, Reach, reach_of
from dashboard.queries.departments import department_options
from dashboard.settings import Settings
from dashboard.store.upsert import bulk_insert

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


class SubscriptionIndex:
    """Subscriptions by what they are to, so an event is compared only with the few that
    could match it (an alert storm meets thousands of subscriptions)."""

    def __init__(self, subs: list[Any], domains_of: Mapping[str, set[str]]) -> None:
        self._by: dict[tuple[str, str], list[Any]] = {}
        for sub in subs:
            if sub.kind == "department":
                for domain in domains_of.get(sub.target, ()):
                    self._by.setdefault(("domain", domain), []).append(sub)
            self._by.setdefault((sub.kind, sub.target), []).append(sub)

    def for_event(self, event: Any) -> list[Any]:
        """The subscriptions that could match ``event`` (``subscription_matches`` decides)."""
        keys = [("district", event.district_id or "")]
        if event.kind in ALERTS:
            keys += [("alert_rule", event.rule or ""), ("domain", event.domain or "")]
        elif event.kind == SLA_BREACHED:
            keys.append(("department", event.department or ""))
        else:
            keys.append(("kpi", event.kpi or ""))
        found: dict[int, Any] = {}
        for key in keys:
            for sub in self._by.get(key, ()):
                found[sub.id] = sub
        return list(found.values())


def _subscribers(conn: Connection, settings: Settings
                 ) -> tuple[list[Sub], dict[str, Reach]]:
    subs = conn.execute(
        select(Subscription.id, Subscription.username, Subscription.kind, Subscription.target,
               Subscription.district_id, Subscription.channel, Subscription.created_at)
        .join(User, User.username == Subscription.username)
        .where(User.disabled.is_(False))).all()
    users = conn.execute(select(User.username, User.role, User.departments, User.districts)
                         .where(User.username.in_(bindparam("names", expanding=True))),
                         {"names": sorted({s.username for s in subs}) or [""]}).all()
    reach = {u.username: reach_of(Principal(u.username, u.role, tuple(u.departments or ()),
                                            tuple(u.districts or ())), settings)
             for u in users}
    return [Sub(*row) for row in subs], reach


@dataclass(frozen=True, slots=True)
class Sub:
    """A subscription as matching reads it (plain attributes: read a million times)."""

    id: int
    username: str
    kind: str
    target: str
    district_id: str
    channel: str
    created_at: datetime


def match_events(conn: Connection, settings: Settings, now: datetime) -> int:
    """Match up to ``BATCH`` unmatched events, oldest first, to the subscriptions made
    before each event was recorded; returns how many."""
    events = conn.execute(
        select(NotificationEvent.id, NotificationEvent.kind, NotificationEvent.rule,
               NotificationEvent.kpi, NotificationEvent.district_id,
               NotificationEvent.department, NotificationEvent.domain,
               NotificationEvent.created_at)
        .where(NotificationEvent.matched_at.is_(None))
        .order_by(NotificationEvent.id).limit(BATCH)).all()
    if not events:
        return 0
    subs, reach = _subscribers(conn, settings)
    domains_of = {d["id"]: set(d["domains"]) for d in department_options(settings)}
    candidates = SubscriptionIndex(subs, domains_of)
    told: list[tuple[str, int]] = []
    waiting: list[tuple[int, int]] = []
    # A storm's events share a few shapes (kind, rule, place, domain...): who wants an
    # event is worked out once per shape, then only each subscription's age is compared.
    wanted_by: dict[tuple[Any, ...], list[Sub]] = {}
    for event in events:
        shape = (event.kind, event.rule, event.kpi, event.district_id, event.department,
                 event.domain)
        wanting = wanted_by.get(shape)
        if wanting is None:
            wanting = wanted_by[shape] = [
                sub for sub in candidates.for_event(event)
                if subscription_matches(sub, event, domains_of)
                and reach.get(sub.username, NOTHING).covers(event)]
        for sub in wanting:
            if sub.created_at > event.created_at:  # from subscribing on, not before
                continue
            told.append((sub.username, event.id))
            if sub.channel != "in_app":
                waiting.append((sub.id, event.id))
    record_matches(conn, [e.id for e in events], told, waiting, now)
    return len(events)


def record_matches(conn: Connection, event_ids: list[int], told: list[tuple[str, int]],
                   waiting: list[tuple[int, int]], now: datetime) -> None:
    """Write what matching found: in-app notifications (``told``: user, event; once each),
    events waiting on e-mail and webhook subscriptions (subscription, event), and the
    events marked matched. New rows only: these events were never matched (the lease, and
    ``matched_at`` set in this same transaction)."""
    bulk_insert(conn, Notification, ("username", "event_id"), dict.fromkeys(told),
                constants={"created_at": now})
    bulk_insert(conn, DeliveryItem, ("subscription_id", "event_id"), waiting,
                constants={"created_at": now})
    conn.execute(update(NotificationEvent)
                 .where(NotificationEvent.id.in_(bindparam("ids", expanding=True)))
                 .values(matched_at=now), {"ids": event_ids})

