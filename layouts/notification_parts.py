"""What the notifications page is built from: the words for kinds, channels and briefings,
what a user may subscribe to (in words, for the form's lists), the in-app list and the
table of a user's subscriptions. Builders only: they hold no data and write nothing."""
from __future__ import annotations

from typing import Any

from dash import dcc, html

from dashboard.auth.users import Principal
from dashboard.kpis import load_alert_rules, load_kpis
from dashboard.notify.scope import reach_of
from dashboard.notify.webhooks import webhook_host
from dashboard.queries import district_options, kpi_catalogue
from dashboard.queries.departments import department_options
from dashboard.settings import Settings
from layouts import domain_label, ids, text

PAGE = ids.NOTIFICATIONS
PATH = "/notifications"
KIND_WORDS = {"alert_rule": "Alert rule", "kpi": "KPI", "district": "District",
              "department": "Department"}
CHANNEL_WORDS = {"in_app": "In the app", "email": "E-mail", "webhook": "Webhook"}
BRIEFING_WORDS = {"daily": "Daily", "weekly": "Weekly", "monthly": "Monthly", "off": "Off"}
LANGUAGE_WORDS = {"en": "English", "es": "Español"}
SHOW_WORDS = {"all": "All", "unread": "Unread"}
WHOLE_CITY = "Whole city"


def pid(name: str) -> str:
    """A component id of this page (``notifications-<name>``)."""
    return ids.page_id(PAGE, name)


def rule_domains(settings: Settings) -> dict[str, str | None]:
    """Each alert rule's domain: that of the KPI on the same metric (None: no KPI reads
    it), as the core decides who may subscribe to a rule."""
    by_metric = {k.metric: k.domain for k in load_kpis(settings.kpis_file) if k.metric}
    return {r.rule_id: by_metric.get(r.metric) for r in load_alert_rules(settings.kpis_file)}


def rule_options(settings: Settings, domains: set[str] | frozenset[str] | None
                 ) -> list[dict[str, str]]:
    """The alert rules of ``domains`` (None: every rule; a rule whose domain is unknown
    only then), in words."""
    found = rule_domains(settings)
    return [{"label": text(r.rule), "value": r.rule_id}
            for r in load_alert_rules(settings.kpis_file)
            if domains is None or found.get(r.rule_id) in domains]


def choices(settings: Settings, who: Principal) -> dict[str, list[dict[str, str]]]:
    """What ``who`` may subscribe to, per kind, as dropdown options (label, value): their
    departments' rules, KPIs and departments for a department head, everything for others
    (the core refuses the rest anyway)."""
    reach = reach_of(who, settings)
    domain_of = rule_domains(settings)
    rules = [o for o in rule_options(settings, None) if reach.domains is None
             or domain_of.get(o["value"]) is None or domain_of[o["value"]] in reach.domains]
    kpis = sorted(({"label": f"{text(k['name'])} ({domain_label(k['domain'])})",
                    "value": k["id"]} for k in kpi_catalogue(settings)
                   if reach.kpis is None or k["id"] in reach.kpis),
                  key=lambda o: o["label"].casefold())
    return {
        "alert_rule": rules,
        "kpi": kpis,
        "district": [{"label": d["name"], "value": d["id"]} for d in district_options(settings)],
        "department": [{"label": d["name"], "value": d["id"]} for d in department_options(settings)
                       if reach.departments is None or d["id"] in reach.departments],
    }


def target_names(settings: Settings) -> dict[str, dict[str, str]]:
    """Per kind, what each target is called (rule text, KPI name, district name)."""
    return {
        "alert_rule": {r.rule_id: text(r.rule) for r in load_alert_rules(settings.kpis_file)},
        "kpi": {k["id"]: text(k["name"]) for k in kpi_catalogue(settings)},
        "district": {d["id"]: d["name"] for d in district_options(settings)},
        "department": {d["id"]: d["name"] for d in department_options(settings)},
    }


def unread_words(count: int) -> list[Any]:
    """The bell's words: the unread count shown beside it ("3"), the whole read out as
    "Notifications, 3 unread"; only "Notifications" (read out) when none is unread."""
    if count <= 0:
        return [html.Span("Notifications", className="visually-hidden")]
    return [html.Span("Notifications, ", className="visually-hidden"),
            html.Span(str(count), className="account__count"),
            html.Span(" unread", className="visually-hidden")]


# ---- the in-app list -----------------------------------------------------------------------

def summary_words(listed: dict[str, Any]) -> str:
    """``3 unread of 12`` (the newest ``LIST_LIMIT`` are listed)."""
    return f"{listed['unread']} unread of {listed['total']}"


def notification_item(row: dict[str, Any]) -> html.Li:
    """One notification: unread flag (a word, not only a colour), time, what happened as
    a link to the page that explains it, and its "Mark read" or "Mark unread" button."""
    unread = not row["read"]
    title_id = pid(f"title-{row['id']}")
    return html.Li(className="notice" + (" notice--unread" if unread else ""), children=[
        html.Div(className="notice__meta", children=[
            html.Span("Unread", className="notice__flag") if unread else None,
            html.Time(row["when"], dateTime=row.get("occurred_at"), className="notice__time"),
        ]),
        dcc.Link(row["title"], href=row["link"] or "/", id=title_id, className="notice__title"),
        html.Button("Mark read" if unread else "Mark unread",
                    id=ids.notification_item(row["id"], "read" if unread else "unread"),
                    n_clicks=0, type="button", className="notice__toggle",
                    **{"aria-describedby": title_id}),
    ])


def notification_list(listed: dict[str, Any], show: str) -> Any:
    """The user's notifications, newest first (or why there are none)."""
    rows = listed["rows"]
    if not rows:
        words = ("No unread notifications." if show == "unread" and listed["total"] else
                 "Nothing yet. Subscribe below, or with “Notify me” on the alerts, district, "
                 "domain, overview and service-request pages.")
        return html.P(words, className="empty-note")
    more = (html.P(f"The newest {len(rows)} are listed.", className="section-hint")
            if len(rows) < (listed["unread"] if show == "unread" else listed["total"]) else None)
    return [html.Ol([notification_item(r) for r in rows], className="notices"), more]


# ---- the user's subscriptions ----------------------------------------------------------------

def _channel_words(sub: dict[str, Any]) -> str:
    words = CHANNEL_WORDS.get(sub["channel"], sub["channel"])
    if sub["channel"] == "webhook":  # the host only: the address may hold a secret
        words += f" to {webhook_host(sub.get('webhook_url') or '') or 'an unknown host'}"
    return words


def subscription_row(sub: dict[str, Any], names: dict[str, dict[str, str]],
                     new: bool = False) -> html.Tr:
    """One subscription in words, with its "Remove" button."""
    kind = sub["kind"]
    what = names.get(kind, {}).get(sub["target"], sub["target"])
    where = ("–" if kind == "district" else
             names["district"].get(sub["district_id"], sub["district_id"])
             if sub["district_id"] else WHOLE_CITY)
    interval = ("–" if sub["channel"] == "in_app"
                else f"at most one message every {sub['throttle_minutes']} min")
    return html.Tr(className="subscription" + (" subscription--new" if new else ""), children=[
        html.Td(KIND_WORDS.get(kind, kind)),
        html.Th([what, html.Span(" (just added)", className="subscription__new") if new
                 else None], scope="row"),
        html.Td(where),
        html.Td(_channel_words(sub)),
        html.Td(interval),
        html.Td(html.Button(["Remove", html.Span(f" {KIND_WORDS.get(kind, kind)} {what}",
                                                 className="visually-hidden")],
                            id=ids.subscription_remove(sub["id"]), n_clicks=0, type="button",
                            className="c360-button c360-button--small subscription__remove")),
    ])


def subscriptions_table(subs: list[dict[str, Any]], names: dict[str, dict[str, str]],
                        new: int | None = None) -> Any:
    """The user's subscriptions (``new``: the id of one to mark just added)."""
    if not subs:
        return html.P("No subscriptions yet: add one below.", className="empty-note")
    head = html.Thead(html.Tr([html.Th(h, scope="col") for h in (
        "About", "What", "Where", "Channel", "Interval")]
        + [html.Th(html.Span("Remove", className="visually-hidden"), scope="col")]))
    return html.Div(html.Table([
        html.Caption(f"{len(subs)} subscription" + ("s" if len(subs) != 1 else "")),
        head, html.Tbody([subscription_row(s, names, s["id"] == new) for s in subs])],
        className="data-table subscriptions-table"), className="table-scroll")


def error_line(error: Exception | str) -> html.P:
    """A refusal of the core, as one line read out at once."""
    return html.P(str(error).splitlines()[0] if str(error) else "Not saved.",
                  className="c360-error", role="alert")
