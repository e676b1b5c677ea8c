"""The audit log (``/admin/audit``, administrators): who read which resident's record,
when, in which role and why; and who may sign in. Read-only: the app only appends to it.

``?citizen=ID&user=NAME`` filters it (the same as ``citylens audit --citizen --user``).
"""
from __future__ import annotations

from typing import Any

import dash
from dash import dcc, html

from dashboard.auth.access import ADMINS
from dashboard.queries import audit_log
from dashboard.settings import Settings
from layouts import clean_query, current_settings, exact_time, ids
from layouts.tables import html_table

PAGE = "audit"
LIMIT = 500
ACTION_LABELS = {"view_profile": "Opened a profile", "export_profile": "Downloaded a profile",
                 "search": "Searched", "commitment": "Changed a commitment"}


def pid(name: str) -> str:
    """A component id of this page."""
    return ids.page_id(PAGE, name)


def entry_rows(settings: Settings, citizen: str | None, user: str | None) -> list[dict[str, Any]]:
    """The newest ``LIMIT`` entries matching the filters, as table rows."""
    found = audit_log.audit_entries(settings, citizen, user, LIMIT)
    return [{**e, "time": exact_time(e["time"], settings.timezone),
             "role": e["role"].replace("_", " "),
             "action": ACTION_LABELS.get(e["action"], e["action"])} for e in found]


def entries_table(rows: list[dict[str, Any]]) -> Any:
    """The audit entries, newest first (or a note when there are none)."""
    if not rows:
        return html.P("No entries match.", className="empty-note", role="status")
    caption = f"{len(rows)} entries, newest first" + (f" (the newest {LIMIT})"
                                                       if len(rows) == LIMIT else "")
    return html_table(caption, [("time", "When"), ("username", "User"), ("role", "Role"),
                                ("action", "What"), ("subject", "Resident or search"),
                                ("reason", "Reason given")], rows,
                      class_name="data-table audit-table")


def users_table(settings: Settings) -> html.Table:
    """Who may sign in: role, bindings and state (never a password hash)."""
    users = audit_log.users(settings)
    rows = [{"username": u["username"], "role": u["role"].replace("_", " "),
             "bound": ", ".join(u["departments"] + u["districts"]) or "–",
             "state": "disabled" if u["disabled"] else
             ("sign-in delayed" if u["sign_in_waits_until"] else "active")} for u in users]
    return html_table(f"{len(rows)} users (manage them with citylens users)",
                      [("username", "User"), ("role", "Role"), ("bound", "Departments, districts"),
                       ("state", "State")], rows)


def layout(citizen: str | None = None, user: str | None = None, **_: Any) -> html.Div:
    """The audit page, filtered by ``?citizen=..&user=..``."""
    settings = current_settings()
    citizen, user = clean_query(citizen) or "", clean_query(user) or ""
    return html.Div(className="page audit", children=[
        dcc.Location(id=pid("url"), refresh=False),
        html.Div(className="page-head", children=[html.Div([
            html.H1("Audit log", className="page-head__title"),
            html.P("Every search and every read or download of a resident's record, with the "
                   "reason given. Entries cannot be changed or deleted from CityLens.",
                   className="page-head__subtitle"),
        ])]),
        html.Section(className="card", children=[
            html.Div(className="filter-bar", role="search", children=[
                html.Div([html.Label("Resident id", htmlFor=pid("citizen"),
                                     className="filter-bar__label"),
                          dcc.Input(id=pid("citizen"), value=citizen, type="search",
                                    debounce=True, placeholder="cit-000123",
                                    className="c360-input")], className="filter-bar__field"),
                html.Div([html.Label("User", htmlFor=pid("user"), className="filter-bar__label"),
                          dcc.Input(id=pid("user"), value=user, type="search", debounce=True,
                                    placeholder="mayor", className="c360-input")],
                         className="filter-bar__field"),
            ]),
            html.Div(entries_table(entry_rows(settings, citizen, user)), id=pid("entries"),
                     className="table-scroll"),
        ]),
        html.Section(className="card", children=[
            html.H2("Users", className="card__title"),
            html.Div(users_table(settings), className="table-scroll"),
        ]),
    ])


dash.register_page(__name__, path="/admin/audit", name="Audit log", title="CityLens · Audit log",
                   order=8, layout=layout, roles=ADMINS, callback_ids={"audit-": ADMINS})
