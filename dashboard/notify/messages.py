"""The words of a notification: one event, or a digest of several, in the user's
language; as an e-mail (text and HTML) and as a webhook's JSON (``text`` is what chat
tools' incoming webhooks show; ``citylens`` carries the same facts for programs). No
resident's personal data: requests are named by number and service only."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from dashboard.i18n import gettext_for, ngettext_for, text_in
from dashboard.i18n.formats import format_number
from dashboard.kpis import load_alert_rules
from dashboard.links import asset_href, request_href
from dashboard.notify.events import (
    ALERT_CLEARED,
    ALERT_RAISED,
    KPI_OFF_TARGET,
    KPI_ON_TARGET,
    SLA_BREACHED,
)
from dashboard.settings import Settings

LISTED = 100  # a digest lists this many events, then says how many more
SEVERITY_WORDS = {"critical": "Critical", "warning": "Warning", "info": "Info"}


def _link(settings: Settings, path: str) -> str:
    return settings.public_url.rstrip("/") + path


def _when(moment: datetime, settings: Settings) -> str:
    return moment.astimezone(ZoneInfo(settings.timezone)).strftime("%Y-%m-%d %H:%M")


def describe(event: Any, settings: Settings, lang: str,
             rule_texts: Mapping[str, Any]) -> dict[str, Any]:
    """One event as {"title", "link", "when", "kind", "severity", "district"}."""
    _ = gettext_for(lang)
    payload: dict[str, Any] = event.payload or {}
    district = payload.get("district_name") or event.district_id or ""
    where = f" ({district})" if district else ""
    if event.kind in (ALERT_RAISED, ALERT_CLEARED):
        rule = text_in(rule_texts.get(event.rule, event.rule), lang)
        asset = payload.get("asset_name") or payload.get("asset_id") or "?"
        value = format_number(payload.get("value"), lang, 1)
        if event.kind == ALERT_RAISED:
            title = _("{severity}: {rule} at {asset}{where}, {value}").format(
                severity=_(SEVERITY_WORDS.get(event.severity or "", "Alert")), rule=rule,
                asset=asset, where=where, value=value)
        else:
            title = _("Cleared: {rule} at {asset}{where}").format(rule=rule, asset=asset,
                                                                  where=where)
        path = asset_href(payload["asset_id"]) if payload.get("asset_id") else "/alerts"
    elif event.kind == SLA_BREACHED:
        title = _("Request {number} ({service}) passed its due time{where}").format(
            number=payload.get("request_id"), service=payload.get("service_name") or
            payload.get("service_code"), where=where)
        path = request_href(str(payload.get("request_id")))
    elif event.kind in (KPI_OFF_TARGET, KPI_ON_TARGET):
        name = text_in(payload.get("name"), lang)
        value = format_number(payload.get("value"), lang, int(payload.get("decimals") or 1))
        target = format_number(payload.get("target"), lang,
                               int(payload.get("decimals") or 1))
        unit = payload.get("unit") or ""
        place = district or _("the city")
        template = (_("{kpi} is back on target in {place}: {value} {unit} (target {target})")
                    if event.kind == KPI_ON_TARGET else
                    _("{kpi} is off target in {place}: {value} {unit} (target {target})"))
        title = template.format(kpi=name, place=place, value=value, unit=unit,
                                target=target).replace("  ", " ")
        path = f"/?district={event.district_id}" if event.district_id else "/"
    else:
        title, path = event.kind, "/"
    return {"title": title, "link": _link(settings, path), "kind": event.kind,
            "when": _when(event.occurred_at, settings), "severity": event.severity,
            "district": event.district_id, "occurred_at": event.occurred_at.isoformat()}


def subscription_words(sub: Any, lang: str, names: Mapping[str, str]) -> str:
    """What a subscription is to, in words: "department waste", "KPI air_no2 in Centro"."""
    _ = gettext_for(lang)
    what = {"alert_rule": _("alert rule"), "kpi": _("KPI"), "district": _("district"),
            "department": _("department")}.get(sub.kind, sub.kind)
    words = f"{what} {names.get(sub.target, sub.target)}"
    if sub.district_id:
        words += " · " + names.get(sub.district_id, sub.district_id)
    return words


def compose(events: Sequence[Any], sub: Any, settings: Settings, lang: str,
            names: Mapping[str, str]) -> dict[str, Any]:
    """The message for ``events`` (one: that event; several: a digest listing the first
    ``LISTED``) on subscription ``sub``: {"subject", "text", "html", "webhook"}."""
    _ = gettext_for(lang)
    ngettext = ngettext_for(lang)
    rules = {r.rule_id: r.rule for r in load_alert_rules(settings.kpis_file)}
    count = len(events)
    items = [describe(e, settings, lang, rules) for e in events[:LISTED]]
    about = subscription_words(sub, lang, names)
    if count == 1:
        subject = "CityLens: " + items[0]["title"]
        heading = items[0]["title"]
    else:
        subject = "CityLens: " + ngettext("{n} notification about {about}",
                                          "{n} notifications about {about}",
                                          count).format(n=count, about=about)
        heading = subject[len("CityLens: "):]
    shown, more = items, count - len(items)
    manage = _link(settings, "/notifications")
    why = _("You get this because you subscribed to {about}. Manage your subscriptions: "
            "{link}").format(about=about, link=manage)
    lines = [heading, ""] + [f"- {i['when']} {i['title']}\n  {i['link']}" for i in shown]
    if more > 0:
        lines.append(ngettext("… and {n} more", "… and {n} more", more).format(n=more))
    text = "\n".join(lines + ["", why]) + "\n"
    more_line = (ngettext("… and {n} more", "… and {n} more", more).format(n=more)
                 if more > 0 else "")
    html = _html(lang, subject, heading, shown, more_line, about, manage)
    chat = "\n".join([f"*{heading}*"] + [f"• {i['title']} <{i['link']}>" for i in shown]
                     + ([f"… +{more}"] if more > 0 else []))
    webhook = {"text": chat,
               "citylens": {"kind": "digest" if count > 1 else "single",
                            "subscription": {"kind": sub.kind, "target": sub.target,
                                             "district": sub.district_id or None},
                            "count": count, "events": items}}  # the first LISTED
    return {"subject": subject, "text": text, "html": html, "webhook": webhook}


LABEL_COLOURS = {"critical": "#b3261e", "warning": "#8a5300", "cleared": "#1b5e20",
                 "on": "#1b5e20", "off": "#b3261e", "due": "#8a5300"}


def label(item: dict[str, Any], lang: str) -> tuple[str, str]:
    """A short word for what happened (always written, never colour alone) and its colour."""
    _ = gettext_for(lang)
    kind = item["kind"]
    if kind == ALERT_RAISED:
        severity = item.get("severity") or "warning"
        return _(SEVERITY_WORDS.get(severity, "Warning")), LABEL_COLOURS.get(severity, "#444")
    return {ALERT_CLEARED: (_("Cleared"), LABEL_COLOURS["cleared"]),
            SLA_BREACHED: (_("Past due"), LABEL_COLOURS["due"]),
            KPI_OFF_TARGET: (_("Off target"), LABEL_COLOURS["off"]),
            KPI_ON_TARGET: (_("On target"), LABEL_COLOURS["on"])}.get(kind, (kind, "#444"))


def _html(lang: str, subject: str, heading: str, shown: Sequence[dict[str, Any]],
          more_line: str, about: str, manage: str) -> str:
    """The e-mail's HTML: a table of what happened, each row linked, in inline styles that
    e-mail clients keep."""
    _ = gettext_for(lang)
    cell = "padding:6px 8px;border-bottom:1px solid #dde3ea;vertical-align:top"
    rows = []
    for item in shown:
        word, colour = label(item, lang)
        rows.append(
            f'<tr><td style="{cell};white-space:nowrap;color:#444">{escape(item["when"])}</td>'
            f'<td style="{cell};white-space:nowrap"><strong style="color:{colour}">'
            f"{escape(word)}</strong></td>"
            f'<td style="{cell}"><a href="{escape(item["link"])}" style="color:#0b4f8a">'
            f"{escape(item['title'])}</a></td></tr>")
    if more_line:
        rows.append(f'<tr><td colspan="3" style="{cell}">{escape(more_line)}</td></tr>')
    return (
        f'<!doctype html><html lang="{escape(lang)}"><head><meta charset="utf-8">'
        f"<title>{escape(subject)}</title></head>"
        '<body style="margin:0;font-family:Arial,Helvetica,sans-serif;color:#1a1a1a">'
        '<div style="background:#12355b;color:#fff;padding:14px 20px;font-size:13px;'
        'letter-spacing:.05em">CITYLENS</div>'
        '<div style="padding:8px 20px 20px">'
        f'<h1 style="font-size:19px;margin:12px 0">{escape(heading)}</h1>'
        '<table role="presentation" style="border-collapse:collapse;font-size:14px;'
        f'width:100%">{"".join(rows)}</table>'
        f'<p style="color:#555;font-size:13px;margin-top:16px">'
        f"{escape(_('You get this because you subscribed to {about}.').format(about=about))} "
        f'<a href="{escape(manage)}" style="color:#0b4f8a">'
        f"{escape(_('Manage your subscriptions'))}</a></p></div></body></html>")
