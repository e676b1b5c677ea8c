"""Subscribing and unsubscribing, and a user's own settings for what comes to them
(e-mail address, language, briefing frequency). Checked where written: a user subscribes
only to things that exist and that their pages show them."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import delete, select, update

from dashboard.auth.users import Principal
from dashboard.i18n import available_languages
from dashboard.kpis import load_alert_rules, load_kpis
from dashboard.model import Subscription, User
from dashboard.notify import BRIEFING_CHOICES, CHANNELS, KINDS
from dashboard.notify.email import valid_address
from dashboard.notify.scope import reach_of
from dashboard.notify.webhooks import check_webhook_url
from dashboard.queries import district_options
from dashboard.queries.departments import department_options
from dashboard.settings import Settings
from dashboard.store import get_engine
from dashboard.store.upsert import upsert

MAX_THROTTLE_MINUTES = 7 * 24 * 60
SUBSCRIPTION_FIELDS = ("id", "kind", "target", "district_id", "channel", "webhook_url",
                       "throttle_minutes", "created_at")


def _signed_in(who: Principal) -> None:
    if not who.signed_in or not who.username:
        raise PermissionError("sign in to subscribe")


def _district_ids(settings: Settings) -> set[str]:
    return {d["id"] for d in district_options(settings)}  # the read model, cached


def _check_target(settings: Settings, who: Principal, kind: str, target: str) -> None:
    """ValueError for a target that does not exist, PermissionError for one outside the
    user's reach."""
    reach = reach_of(who, settings)
    if kind == "alert_rule":
        rules = {r.rule_id: r for r in load_alert_rules(settings.kpis_file)}
        if target not in rules:
            raise ValueError(f"unknown alert rule {target!r}")
        domain = next((k.domain for k in load_kpis(settings.kpis_file)
                       if k.metric == rules[target].metric), None)
        if reach.domains is not None and domain is not None and domain not in reach.domains:
            raise PermissionError("that alert rule is outside your departments")
    elif kind == "kpi":
        if target not in {k.id for k in load_kpis(settings.kpis_file)}:
            raise ValueError(f"unknown KPI {target!r}")
        if reach.kpis is not None and target not in reach.kpis:
            raise PermissionError("that KPI is outside your departments")
    elif kind == "district":
        if target not in _district_ids(settings):
            raise ValueError(f"unknown district {target!r}")
    elif kind == "department":
        if target not in {d["id"] for d in department_options(settings)}:
            raise ValueError(f"unknown department {target!r}")
        if reach.departments is not None and target not in reach.departments:
            raise PermissionError("that department is not yours")
    else:
        raise ValueError(f"unknown subscription kind {kind!r}; one of {', '.join(KINDS)}")


def subscribe(settings: Settings, who: Principal, kind: str, target: str, *,
              district: str = "", channel: str = "in_app", webhook_url: str | None = None,
              throttle_minutes: int | None = None, now: datetime | None = None) -> int:
    """Subscribe ``who`` (again: the same subscription is updated); its id. ValueError
    (one line) for what cannot be, PermissionError for what is not theirs."""
    _signed_in(who)
    _check_target(settings, who, kind, target)
    if district and district not in _district_ids(settings):
        raise ValueError(f"unknown district {district!r}")
    if kind == "district":
        district = ""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}; one of {', '.join(CHANNELS)}")
    if channel == "webhook":
        webhook_url = check_webhook_url(webhook_url or "", settings)
    else:
        webhook_url = None
    minutes = settings.notify_throttle_minutes if throttle_minutes is None else throttle_minutes
    if not 0 <= minutes <= MAX_THROTTLE_MINUTES:
        raise ValueError(f"interval must be between 0 and {MAX_THROTTLE_MINUTES} minutes")
    row = {"username": who.username, "kind": kind, "target": target, "district_id": district,
           "channel": channel, "webhook_url": webhook_url, "throttle_minutes": minutes,
           "created_at": now or datetime.now(timezone.utc)}
    key = ["username", "kind", "target", "district_id", "channel"]
    with get_engine(settings.resolved_database_url).begin() as conn:
        if channel == "email" and not conn.execute(
                select(User.email).where(User.username == who.username)).scalar():
            raise ValueError("add your e-mail address first")
        upsert(conn, Subscription, [row], key=key)
        found = conn.execute(select(Subscription.id).where(
            *(getattr(Subscription, k) == row[k] for k in key))).scalar_one()
    return int(found)


def unsubscribe(settings: Settings, who: Principal, subscription_id: int) -> bool:
    """Remove one of ``who``'s own subscriptions; False when they have none by that id."""
    _signed_in(who)
    with get_engine(settings.resolved_database_url).begin() as conn:
        done = conn.execute(delete(Subscription).where(
            Subscription.id == subscription_id, Subscription.username == who.username))
    return bool(done.rowcount)


def subscriptions_of(settings: Settings, who: Principal) -> list[dict[str, Any]]:
    """``who``'s subscriptions, oldest first (SUBSCRIPTION_FIELDS; times as ISO text)."""
    _signed_in(who)
    with get_engine(settings.resolved_database_url).connect() as conn:
        rows = conn.execute(select(*(getattr(Subscription, f) for f in SUBSCRIPTION_FIELDS))
                            .where(Subscription.username == who.username)
                            .order_by(Subscription.id)).all()
    return [{**dict(zip(SUBSCRIPTION_FIELDS, row, strict=True)),
             "created_at": row.created_at.isoformat()} for row in rows]


def preferences(settings: Settings, who: Principal) -> dict[str, Any]:
    """``who``'s e-mail address, language and briefing frequency."""
    _signed_in(who)
    with get_engine(settings.resolved_database_url).connect() as conn:
        row = conn.execute(select(User.email, User.language, User.briefing)
                           .where(User.username == who.username)).one_or_none()
    if row is None:
        raise PermissionError("no such user")
    return {"email": row.email or "", "language": row.language, "briefing": row.briefing}


def set_preferences(settings: Settings, who: Principal, *, email: str | None = None,
                    language: str | None = None, briefing: str | None = None) -> None:
    """Change ``who``'s own settings (a blank e-mail removes it: no e-mail then)."""
    _signed_in(who)
    values: dict[str, Any] = {}
    if email is not None:
        values["email"] = valid_address(email) if email.strip() else None
    if language is not None:
        if language not in available_languages():
            raise ValueError(f"unknown language {language!r}")
        values["language"] = language
    if briefing is not None:
        if briefing not in BRIEFING_CHOICES:
            raise ValueError(f"briefing must be one of {', '.join(BRIEFING_CHOICES)}")
        values["briefing"] = briefing
    if not values:
        return
    with get_engine(settings.resolved_database_url).begin() as conn:
        conn.execute(update(User).where(User.username == who.username).values(**values))
