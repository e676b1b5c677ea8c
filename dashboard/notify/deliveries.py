"""Messages by e-mail and webhook, and the delivery log.

``gather`` turns the events waiting on a subscription into one message once the oldest
has waited ``notify_gather_seconds`` (so a storm becomes one digest) and the
subscription's last message is older than its interval. ``send_due`` sends what is due:
a failure is tried again with waits doubling from ``delivery_backoff_seconds``, up to
``delivery_attempts`` tries, each attempt's error kept in the log; a refusal that
cannot get better (a 4xx webhook answer, an unknown mailbox) fails at once. A message
is marked "sending" before it goes, so a process killed mid-send leaves it to be tried
again (at least once, never lost).
"""
from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, delete, func, insert, select, update

from dashboard.auth.users import Principal
from dashboard.model import Delivery, DeliveryItem, NotificationEvent, Subscription, User
from dashboard.notify.email import EmailNotConfigured, build_message, send_message
from dashboard.notify.messages import compose
from dashboard.notify.scope import reach_of
from dashboard.notify.webhooks import DeliveryError, post_webhook, webhook_host
from dashboard.settings import Settings
from dashboard.store.upsert import table_of

log = logging.getLogger(__name__)

PENDING, SENDING, SENT, RETRYING, FAILED = "pending", "sending", "sent", "retrying", "failed"
SENDING_FOR = timedelta(minutes=15)  # a "sending" message older than this was cut off
LONGEST_WAIT = timedelta(hours=6)

# kind -> how a due delivery of that kind is sent (the briefings add theirs)
Sender = Callable[[Settings, Any], None]


def _names(conn: Connection, settings: Settings) -> dict[str, str]:
    from dashboard import queries  # the read models, cached

    names = {d["id"]: d["name"] for d in queries.district_options(settings)}
    names.update({k["id"]: k["name"]["en"] for k in queries.kpi_catalogue(settings)})
    return names


def gather(conn: Connection, settings: Settings, now: datetime) -> int:
    """Make the messages that are due from waiting events; returns how many."""
    waiting = conn.execute(
        select(DeliveryItem.subscription_id, func.min(DeliveryItem.created_at))
        .where(DeliveryItem.delivery_id.is_(None))
        .group_by(DeliveryItem.subscription_id)).all()
    gathered_before = now - timedelta(seconds=settings.notify_gather_seconds)
    made = 0
    names: dict[str, str] | None = None
    for subscription_id, oldest in waiting:
        if oldest > gathered_before:
            continue
        sub = conn.execute(
            select(*table_of(Subscription).c, User.email, User.language, User.role,
                   User.departments, User.districts, User.disabled)
            .join(User, User.username == Subscription.username)
            .where(Subscription.id == subscription_id)).one_or_none()
        if sub is None:
            continue
        subscription = sub
        last = conn.execute(select(func.max(Delivery.created_at))
                            .where(Delivery.subscription_id == subscription_id)).scalar()
        if last is not None and now - last < timedelta(minutes=subscription.throttle_minutes):
            continue
        items = conn.execute(
            select(DeliveryItem.id.label("item_id"), *table_of(NotificationEvent).c)
            .join(NotificationEvent, NotificationEvent.id == DeliveryItem.event_id)
            .where(DeliveryItem.subscription_id == subscription_id,
                   DeliveryItem.delivery_id.is_(None))
            .order_by(NotificationEvent.occurred_at, NotificationEvent.id)).all()
        who = Principal(subscription.username, sub.role, tuple(sub.departments or ()),
                        tuple(sub.districts or ()))
        reach = reach_of(who, settings)  # asked again: a role may have changed since
        events = [row for row in items if not sub.disabled and reach.covers(row)]
        item_ids = [row.item_id for row in items]
        if not events or (subscription.channel == "email" and not sub.email):
            conn.execute(delete(DeliveryItem)
                         .where(DeliveryItem.id.in_(bindparam("ids", expanding=True))),
                         {"ids": item_ids})
            continue
        names = names if names is not None else _names(conn, settings)
        message = compose(events, subscription, settings, sub.language, names)
        destination = (sub.email if subscription.channel == "email"
                       else webhook_host(subscription.webhook_url or ""))
        delivery_id = conn.execute(insert(Delivery).values(
            username=subscription.username, subscription_id=subscription_id,
            kind="single" if len(events) == 1 else "digest", channel=subscription.channel,
            destination=destination, dedupe_key=None, status=PENDING, items=len(events),
            attempts=0, created_at=now, next_attempt_at=now, sent_at=None, last_error="",
            payload=message).returning(Delivery.id)).scalar_one()
        conn.execute(update(DeliveryItem)
                     .where(DeliveryItem.id.in_(bindparam("ids", expanding=True)))
                     .values(delivery_id=delivery_id), {"ids": item_ids})
        made += 1
    return made


def send_notification(settings: Settings, delivery: Any) -> None:
    """Send a single or digest message (``gather``) by its channel."""
    payload = delivery.payload
    if delivery.channel == "email":
        send_message(settings, build_message(settings, delivery.destination,
                                             payload["subject"], payload["text"],
                                             payload["html"]))
    else:
        url = delivery.webhook_url
        if not url:
            raise DeliveryError("the subscription's webhook is gone", permanent=True)
        post_webhook(url, payload["webhook"], settings)


def backoff(settings: Settings, attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed try: doubling, at most six hours."""
    wait = timedelta(seconds=settings.delivery_backoff_seconds * 2 ** max(0, attempts - 1))
    return min(wait, LONGEST_WAIT)


def _failure(error: Exception) -> tuple[str, bool]:
    """(one line for the log, whether trying again cannot help)."""
    if isinstance(error, DeliveryError):
        return str(error), error.permanent
    if isinstance(error, EmailNotConfigured):
        return str(error), False
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return f"SMTP refused the recipient: {error.recipients}", True
    if isinstance(error, smtplib.SMTPResponseException):
        detail = error.smtp_error.decode("utf-8", "replace") if isinstance(
            error.smtp_error, bytes) else str(error.smtp_error)
        return f"SMTP {error.smtp_code}: {detail}", 500 <= error.smtp_code < 600
    return f"{type(error).__name__}: {error}".strip(), False


def _due(conn: Connection, now: datetime, limit: int, only: list[int] | None) -> list[Any]:
    stmt = (select(*table_of(Delivery).c, Subscription.webhook_url)
            .outerjoin(Subscription, Subscription.id == Delivery.subscription_id)
            .where(Delivery.status.in_((PENDING, RETRYING, SENDING)),
                   Delivery.next_attempt_at <= now))
    if only is not None:
        stmt = stmt.where(Delivery.id.in_(only))
    return list(conn.execute(stmt.order_by(Delivery.next_attempt_at, Delivery.id)
                             .limit(limit)).all())


def send_due(engine: Engine, settings: Settings, now: datetime,
             senders: dict[str, Sender], limit: int = 200,
             only: list[int] | None = None) -> dict[str, int]:
    """Send every due message (or only those of ``only``), each claimed and recorded in
    its own transaction; returns counts by outcome."""
    counts = {SENT: 0, RETRYING: 0, FAILED: 0}
    with engine.connect() as conn:
        due = _due(conn, now, limit, only)
    senders = {"single": send_notification, "digest": send_notification, **senders}
    for delivery in due:
        if delivery.kind not in senders:  # a briefing, and this process cannot render
            continue
        with engine.begin() as conn:  # claim it: another sender finds it taken
            claimed = conn.execute(
                update(Delivery).where(Delivery.id == delivery.id,
                                       Delivery.status == delivery.status,
                                       Delivery.attempts == delivery.attempts)
                .values(status=SENDING, next_attempt_at=now + SENDING_FOR)).rowcount
        if not claimed:
            continue
        attempts = delivery.attempts + 1
        try:
            senders[delivery.kind](settings, delivery)
        except Exception as error:  # noqa: BLE001 - every failure is logged and retried
            problem, permanent = _failure(error)
            status = FAILED if permanent or attempts >= settings.delivery_attempts else RETRYING
            log.warning("delivery %s (%s to %s) attempt %s: %s", delivery.id,
                        delivery.channel, delivery.destination, attempts, problem)
            values: dict[str, Any] = {
                "status": status, "attempts": attempts, "last_error": problem[:2000],
                "next_attempt_at": now + backoff(settings, attempts)
                if status == RETRYING else None}
        else:
            status = SENT
            values = {"status": SENT, "attempts": attempts, "sent_at": now,
                      "next_attempt_at": None}
        with engine.begin() as conn:
            conn.execute(update(Delivery).where(Delivery.id == delivery.id).values(**values))
        counts[status] += 1
    return counts

