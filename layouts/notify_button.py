"""The "Notify me" button: one click subscribes the signed-in user, in the app, to what a
page shows (an alert rule, a KPI, a district, a department), and says so beside the
button with a link to manage it on /notifications (``callbacks/notify_button.py``
subscribes through ``dashboard.notify.subscriptions``, which checks it is theirs to follow).

The button holds no state: clicking it again keeps the one subscription.
"""
from __future__ import annotations

from typing import Any

from dash import dcc, html

from dashboard.kpis import load_alert_rules
from dashboard.queries import district_options
from dashboard.queries.places import split_place
from dashboard.settings import Settings
from layouts import SEVERITY_LABELS, ids, text
from layouts.notification_parts import PATH, rule_options


def notify_me(kind: str, target: str, district: str = "", *, label: str = "Notify me",
              about: str = "", compact: bool = False) -> html.Span:
    """The button and, beside it, where its click says what it did (empty until then).
    ``about`` completes its name for screen readers ("Notify me about NO₂")."""
    joint = " about " if label == "Notify me" else ": "
    name = {"aria-label": f"{label}{joint}{about}"} if about else {}
    return html.Span(className="notify-me" + (" notify-me--compact" if compact else ""),
                     children=[
        html.Button(label, id=ids.notify_me(kind, target, district), n_clicks=0, type="button",
                    className="notify-me__button", **name),
        html.Span(id=ids.notify_status(kind, target, district), className="notify-me__status",
                  role="status"),
    ])


def subscribed_words(subscription_id: int) -> list[Any]:
    """What the button says once it subscribed the user."""
    return ["Subscribed — ", dcc.Link("manage in Notifications",
                                      href=f"{PATH}?subscription={subscription_id}")]


def place_name(settings: Settings, district: str | None) -> str:
    """The district's name ("" for none, or one that does not exist)."""
    return next((d["name"] for d in district_options(settings) if d["id"] == district),
                "") if district else ""


def rule_notifications(settings: Settings, domains: set[str] | None,
                       district: str | None = None) -> html.Section | None:
    """The alerts page's "Notify me" per alert rule of the domains in view (in
    ``district`` when one is chosen), or None when no rule applies."""
    options = rule_options(settings, domains)
    if not options:
        return None
    severity = {r.rule_id: r.severity for r in load_alert_rules(settings.kpis_file)}
    place = place_name(settings, district)
    district = district if place else None
    where = f" in {place}" if place else ""
    rows = []
    for option in options:
        rule, words = option["value"], option["label"]
        mark, level = SEVERITY_LABELS.get(severity.get(rule, ""), ("", ""))
        rows.append(html.Li(className="notify-rules__rule", children=[
            html.Span([html.Span(mark, **{"aria-hidden": "true"}), f" {level}"],
                      className=f"severity severity--{severity.get(rule, '')}"),
            html.Span(words + where, className="notify-rules__words"),
            notify_me("alert_rule", rule, district or "", about=words + where),
        ]))
    return html.Section(className="card notify-rules", children=[
        html.H2("Be told when these rules raise an alert", className="card__title"),
        html.P("Alerts of a rule you follow, raised or cleared, come to Notifications"
               + (f" when they are{where}" if where else "")
               + "; choose e-mail or a webhook there.", className="section-hint"),
        html.Ul(rows, className="notify-rules__list"),
    ])


def department_notify(settings: Settings, department: str | None,
                      district: str | None = None) -> html.Span | None:
    """The services page's "Notify me" for the chosen department (in ``district`` when
    one is chosen); None for all departments."""
    if not department:
        return None
    place = place_name(settings, district)
    where = f" in {place}" if place else ""
    return notify_me("department", department, district if place else "",
                     label="Notify me about this department",
                     about=f"{department}{where}")


def kpi_notify(kpi: dict[str, Any], district: str | None, place: str = "") -> html.Span:
    """A KPI card's "Notify me": when the KPI crosses its target in ``district`` (its
    name ``place``), else for the whole city."""
    if district and split_place(district)[0]:  # a municipality: follow the city's KPI
        district, place = None, ""
    where = f" in {place}" if district and place else ""
    return notify_me("kpi", kpi["id"], district or "", about=f"{text(kpi['name'])}{where}",
                     compact=True)
