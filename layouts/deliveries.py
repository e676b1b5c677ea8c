"""The delivery log (``/deliveries``, administrators): every e-mail and webhook message
CityLens sent or is trying to send (single notifications, digests, briefings), with its
status, tries, next try and last error; a webhook shows its host only, never its address.

``?status=failed&user=mayor`` filters it (``callbacks/deliveries.py`` keeps it in step).
"""
from __future__ import annotations

from typing import Any

import dash
from dash import dcc, html

from dashboard.auth.access import ADMINS
from dashboard.queries import audit_log
from dashboard.queries.notifications import delivery_log
from dashboard.settings import Settings
from layouts import clean_query, current_settings, exact_time, ids

PAGE = ids.DELIVERIES
LIMIT = 200
STATUS_WORDS = {"pending": "Pending", "sending": "Sending", "retrying": "Retrying",
                "sent": "Sent", "failed": "Failed"}
KIND_WORDS = {"single": "Single", "digest": "Digest", "briefing": "Briefing"}
CHANNEL_WORDS = {"email": "E-mail", "webhook": "Webhook"}
COLUMNS = ("When", "User", "Kind", "Channel", "Destination", "Status", "Tries", "Next try",
           "Last error")


def pid(name: str) -> str:
    """A component id of this page (``deliveries-<name>``)."""
    return ids.page_id(PAGE, name)


def _row(item: dict[str, Any], tz: str) -> html.Tr:
    kind = KIND_WORDS.get(item["kind"], item["kind"])
    if item["kind"] == "digest":
        kind += f" of {item['items']}"
    status = item["status"]
    return html.Tr([
        html.Td(exact_time(item["created_at"], tz), className="deliveries__time"),
        html.Td(item["username"]),
        html.Td(kind),
        html.Td(CHANNEL_WORDS.get(item["channel"], item["channel"])),
        html.Td(item["destination"], className="deliveries__where"),
        html.Td(html.Span(STATUS_WORDS.get(status, status),
                          className=f"delivery-status delivery-status--{status}")),
        html.Td(str(item["attempts"]), className="num"),
        html.Td(exact_time(item["next_attempt_at"], tz)
                if status in ("pending", "retrying", "sending") else "–"),
        html.Td(item["last_error"] or "–", className="deliveries__error"),
    ])


def deliveries_table(settings: Settings, status: str | None, user: str | None) -> Any:
    """The newest ``LIMIT`` deliveries matching the filters, newest first."""
    found = delivery_log(settings, user=user or None, status=status or None, limit=LIMIT)
    if not found:
        return html.P("No deliveries match.", className="empty-note", role="status")
    caption = (f"{len(found)} {'delivery' if len(found) == 1 else 'deliveries'}, newest first"
               + (f" (the newest {LIMIT})" if len(found) == LIMIT else ""))
    return html.Table([
        html.Caption(caption),
        html.Thead(html.Tr([html.Th(c, scope="col", className="num" if c == "Tries" else None)
                            for c in COLUMNS])),
        html.Tbody([_row(item, settings.timezone) for item in found]),
    ], className="data-table deliveries-table")


def _select(label: str, cid: str, value: str, options: list[dict[str, str]]) -> html.Div:
    return html.Div([html.Label(label, htmlFor=cid, className="filter-bar__label"),
                     dcc.Dropdown(id=cid, value=value, options=options, clearable=False,
                                  maxHeight=320)],
                    className="filter-bar__field filter-bar__field--district")


def layout(status: str | None = None, user: str | None = None, **_: Any) -> html.Div:
    """The delivery log, filtered by ``?status=..&user=..``."""
    settings = current_settings()
    users = sorted(u["username"] for u in audit_log.users(settings))
    status = clean_query(status, set(STATUS_WORDS)) or ""
    user = clean_query(user, set(users)) or ""
    return html.Div(className="page deliveries", children=[
        dcc.Location(id=pid("url"), refresh=False),
        html.Div(className="page-head", children=[html.Div([
            html.H1("Deliveries", className="page-head__title"),
            html.P("E-mail and webhook messages: notifications one by one or gathered into "
                   "digests, and briefings. A failed try is tried again later, waiting "
                   "longer each time; webhooks show their host only.",
                   className="page-head__subtitle"),
        ])]),
        html.Section(className="card", **{"aria-labelledby": pid("h-log")}, children=[
            html.H2("Delivery log", id=pid("h-log"), className="visually-hidden"),
            html.Div(className="filter-bar", role="search", children=[
                _select("Status", pid("status"), status,
                        [{"label": "Any status", "value": ""}]
                        + [{"label": w, "value": k} for k, w in STATUS_WORDS.items()]),
                _select("User", pid("user"), user, [{"label": "Every user", "value": ""}]
                        + [{"label": u, "value": u} for u in users]),
            ]),
            html.Div(deliveries_table(settings, status, user), id=pid("table"),
                     className="table-scroll", tabIndex="0", role="region",
                     **{"aria-label": "Deliveries (scrolls sideways on a narrow screen)"}),
        ]),
    ])


dash.register_page(__name__, path="/deliveries", name="Deliveries",
                   title="CityLens · Deliveries", order=8.5, layout=layout, roles=ADMINS,
                   callback_ids={f"{PAGE}-": ADMINS})
