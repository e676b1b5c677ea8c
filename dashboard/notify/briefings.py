"""Briefings on their schedule: daily for the day before, weekly (Mondays) for the week
before, monthly (the 1st) for the month before, after ``briefing_hour`` in the city's
time zone. Each user's briefing of a period is one delivery row keyed by user and period
(``dedupe_key``): several schedulers, or a scheduler restarted, still send it once. The
briefing is built and rendered when it is sent (again on a retry), as of its period's
end, so a late send tells the same period."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, insert, select

from dashboard.auth.access import STAFF as STAFF_ROLES
from dashboard.auth.users import Principal
from dashboard.briefing import FREQUENCIES, BriefingRenderer, RenderedBriefing
from dashboard.model import Delivery, User
from dashboard.notify.deliveries import PENDING, Sender
from dashboard.notify.email import EmailNotConfigured, build_message, send_message
from dashboard.settings import Settings
from dashboard.store.upsert import upsert


@dataclass(frozen=True)
class BriefingPeriod:
    """The period a briefing tells: its key ("weekly:2026-W48"), and the moment it is
    told as of (the period's end at the briefing hour, UTC)."""

    key: str
    as_of: datetime


def _period_start(frequency: str, day: date) -> date:
    """The first day of the period after the one a briefing on ``day`` tells."""
    if frequency == "weekly":
        return day - timedelta(days=day.weekday())
    if frequency == "monthly":
        return day.replace(day=1)
    return day


def _told(frequency: str, start: date) -> str:
    """The period told by a briefing due on ``start``: the one before it."""
    if frequency == "weekly":
        year, week, _ = (start - timedelta(days=7)).isocalendar()
        return f"{year}-W{week:02d}"
    if frequency == "monthly":
        return (start - timedelta(days=1)).strftime("%Y-%m")
    return (start - timedelta(days=1)).isoformat()


def last_period(frequency: str, now: datetime, settings: Settings) -> BriefingPeriod | None:
    """The latest period of ``frequency`` whose briefing is due at ``now`` (after the
    briefing hour of the first day of the period after it); None for "off"."""
    if frequency not in FREQUENCIES:
        return None
    tz = ZoneInfo(settings.timezone)
    start = _period_start(frequency, now.astimezone(tz).date())
    if now < _at(start, settings.briefing_hour, tz):
        start = _period_start(frequency, start - timedelta(days=1))
    due = _at(start, settings.briefing_hour, tz)
    return BriefingPeriod(f"{frequency}:{_told(frequency, start)}", due)


def _at(day: date, hour: int, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(hour), tz).astimezone(timezone.utc)


def schedule_briefings(conn: Connection, settings: Settings, now: datetime) -> int:
    """A delivery for each staff user's latest due briefing not yet made; returns how many
    were sent to the store (the ones already there are left as they are). Without an SMTP
    server there is no briefing to make."""
    if not settings.smtp_host:
        return 0
    users = conn.execute(select(User.username, User.email, User.briefing, User.language)
                         .where(User.disabled.is_(False), User.briefing != "off",
                                User.email.is_not(None), User.role.in_(STAFF_ROLES))).all()
    rows = []
    for user in users:
        period = last_period(user.briefing, now, settings)
        if period is None or not user.email:
            continue
        rows.append({"username": user.username, "subscription_id": None, "kind": "briefing",
                     "channel": "email", "destination": user.email,
                     "dedupe_key": f"briefing:{user.username}:{period.key}",
                     "status": PENDING, "items": 1, "attempts": 0, "created_at": now,
                     "next_attempt_at": now, "sent_at": None, "last_error": "",
                     "payload": {"frequency": user.briefing, "period": period.key,
                                 "as_of": period.as_of.isoformat()}})
    if not rows:
        return 0
    return upsert(conn, Delivery, rows, key=["dedupe_key"], update=False)


def render_for(engine: Engine, settings: Settings, renderer: BriefingRenderer,
               username: str, frequency: str | None = None,
               as_of: datetime | None = None) -> RenderedBriefing:
    """``username``'s briefing rendered (their frequency unless given; as of ``as_of``,
    default now), in their language and scoped as their pages are."""
    from dashboard.briefing import build_briefing

    with engine.connect() as conn:
        user = conn.execute(select(User).where(User.username == username)).one_or_none()
    if user is None or user.disabled:
        raise LookupError(f"no such user: {username}")
    if user.role not in STAFF_ROLES:
        raise PermissionError(f"{username} is not staff: no briefing")
    who = Principal(user.username, user.role, tuple(user.departments or ()),
                    tuple(user.districts or ()))
    frequency = frequency or (user.briefing if user.briefing != "off" else "weekly")
    content = build_briefing(settings, who, frequency=frequency, language=user.language,
                             now=as_of or settings.current_time())
    return renderer(content, settings.public_url)


def briefing_sender(engine: Engine, renderer: BriefingRenderer) -> Sender:
    """How a due briefing delivery is sent: built, rendered, e-mailed with its PDF."""

    def send(settings: Settings, delivery: Any) -> None:
        if not settings.smtp_host:  # before Chromium is started for nothing
            raise EmailNotConfigured("no SMTP server configured (CITYLENS_SMTP_HOST)")
        payload: dict[str, Any] = delivery.payload
        rendered = render_for(engine, settings, renderer, delivery.username,
                              payload.get("frequency"),
                              datetime.fromisoformat(payload["as_of"]))
        name = "citylens-briefing-" + payload.get("period", "now").replace(":", "-") + ".pdf"
        send_message(settings, build_message(
            settings, delivery.destination, rendered.subject, rendered.text, rendered.html,
            images=rendered.images, attachments={name: ("application/pdf", rendered.pdf)}))

    return send


def queue_briefing_now(engine: Engine, settings: Settings, username: str,
                       now: datetime, frequency: str | None = None) -> int:
    """A briefing for ``username`` (of ``frequency``, default theirs) to send now, outside
    the schedule; its delivery id."""
    with engine.begin() as conn:
        user = conn.execute(select(User.email, User.briefing, User.role)
                            .where(User.username == username)).one_or_none()
        if user is None:
            raise LookupError(f"no such user: {username}")
        if not user.email:
            raise ValueError(f"{username} has no e-mail address (citylens users email)")
        frequency = frequency or (user.briefing if user.briefing != "off" else "weekly")
        return int(conn.execute(insert(Delivery).values(
            username=username, subscription_id=None, kind="briefing", channel="email",
            destination=user.email, dedupe_key=None, status=PENDING, items=1, attempts=0,
            created_at=now, next_attempt_at=now, sent_at=None, last_error="",
            payload={"frequency": frequency, "period": f"{frequency}:sent-{now:%Y%m%dT%H%M}",
                     "as_of": now.isoformat()})
            .returning(Delivery.id)).scalar_one())
