"""Read models of what comes to users: a user's in-app notifications (newest first, with
the unread count) and the delivery log that administrators read. Per user and live, so
not cached; both read through indexes (user and time; creation time)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from dashboard.auth.users import Principal
from dashboard.kpis import load_alert_rules
from dashboard.model import Delivery, Notification, NotificationEvent
from dashboard.notify.messages import describe
from dashboard.queries.base import engine_of
from dashboard.settings import Settings
from dashboard.store.upsert import table_of

LIST_LIMIT = 200
DELIVERY_FIELDS = ("id", "username", "subscription_id", "kind", "channel", "destination",
                   "status", "items", "attempts", "created_at", "next_attempt_at",
                   "sent_at", "last_error")


def unread_count(settings: Settings, who: Principal) -> int:
    """How many of ``who``'s notifications are unread (0 for anyone not signed in)."""
    if not who.signed_in:
        return 0
    with engine_of(settings).connect() as conn:
        return int(conn.execute(select(func.count()).select_from(Notification).where(
            Notification.username == who.username, Notification.read_at.is_(None))
        ).scalar_one())


def notifications_for(settings: Settings, who: Principal, lang: str, *,
                      unread_only: bool = False, limit: int = LIST_LIMIT) -> dict[str, Any]:
    """``who``'s own notifications, newest first, described in ``lang``.

    Shape: {"rows": [{"id", "read", "created_at", "title", "link", "kind", "severity",
    "when", "district"}], "unread": n, "total": n}.
    """
    if not who.signed_in:
        raise PermissionError("sign in to read notifications")
    rules = {r.rule_id: r.rule for r in load_alert_rules(settings.kpis_file)}
    mine = Notification.username == who.username
    with engine_of(settings).connect() as conn:
        stmt = (select(Notification.id.label("notification_id"), Notification.read_at,
                       Notification.created_at.label("told_at"),
                       *table_of(NotificationEvent).c)
                .join(NotificationEvent, NotificationEvent.id == Notification.event_id)
                .where(mine))
        if unread_only:
            stmt = stmt.where(Notification.read_at.is_(None))
        rows = conn.execute(stmt.order_by(Notification.created_at.desc(),
                                          Notification.id.desc()).limit(limit)).all()
        unread, total = conn.execute(
            select(func.count(Notification.read_at.is_(None)).filter(
                Notification.read_at.is_(None)), func.count()).where(mine)).one()
    found = []
    for row in rows:
        item = describe(row, settings, lang, rules)
        item["link"] = item["link"][len(settings.public_url.rstrip("/")):] or "/"
        found.append({"id": row.notification_id, "read": row.read_at is not None,
                      "created_at": row.told_at.isoformat(), **item})
    return {"rows": found, "unread": int(unread), "total": int(total)}


def delivery_log(settings: Settings, *, user: str | None = None, status: str | None = None,
                 limit: int = LIST_LIMIT) -> list[dict[str, Any]]:
    """The newest deliveries (DELIVERY_FIELDS, times as ISO text), for administrators:
    who, how, where to (an address, or a webhook's host only), tries and last error."""
    stmt = select(*(getattr(Delivery, f) for f in DELIVERY_FIELDS))
    if user:
        stmt = stmt.where(Delivery.username == user)
    if status:
        stmt = stmt.where(Delivery.status == status)
    with engine_of(settings).connect() as conn:
        rows = conn.execute(stmt.order_by(Delivery.created_at.desc(), Delivery.id.desc())
                            .limit(limit)).all()
    return [{field: value.isoformat() if hasattr(value, "isoformat") else value
             for field, value in zip(DELIVERY_FIELDS, row, strict=True)} for row in rows]
