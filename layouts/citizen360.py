"""Citizen 360 (``/citizen360``): find a resident and read everything the city has done for
them on one timeline. Officials see every record; a department head their departments'.

Personal data: nothing personal is in the page until the user searches or opens a profile,
and both need a reason that goes to the audit log with who, role, when and which citizen
(``dashboard.queries.citizen360``). ``?citizen=ID`` only fills the search box. Search
results come a page at a time with the count of all matches. An opened profile is put in
the URL as ``?resident=ID`` (the pseudonymous id); opening such a link shows no record
until a reason is given and "Open profile" is pressed, which reads it exactly as a click
in the results does (audited).
"""
from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import dash
from dash import dcc, html

from dashboard.auth import DEPARTMENT_HEAD
from dashboard.auth.access import CITIZEN_READERS
from dashboard.auth.audit import MIN_REASON
from dashboard.auth.web import current_principal
from dashboard.i18n import gettext_for, ngettext_for
from dashboard.queries.citizen360 import MAX_QUERY, MAX_REASON, SearchPage
from layouts import DEFAULT_LANG, clean_query, current_settings, format_number, ids
from layouts.export import download, export_button
from layouts.profile_view import profile_view

PAGE = "citizen360"
EXAMPLE_REASON = "Follow-up of complaint 2026/1234 at the citizen desk"


def pid(name: str) -> str:
    """A component id of this page."""
    return ids.page_id(PAGE, name)


def open_button(citizen_id: str) -> dict[str, str]:
    """Pattern-matching id of a search result's "Open profile" button."""
    return {"type": pid("open"), "citizen": citizen_id}


def page_button(offset: int) -> dict[str, Any]:
    """Pattern-matching id of a button that shows the results from ``offset`` on."""
    return {"type": pid("page"), "offset": offset}


def resident_search(citizen_id: str) -> str:
    """The URL query of an opened profile (``?resident=ID``)."""
    return "?" + urlencode({"resident": citizen_id})


def match_note(found: SearchPage) -> str:
    """``676 residents match “García” — showing 1–20`` (the whole count, and which rows)."""
    ngettext = ngettext_for(DEFAULT_LANG)
    total, shown = found["total"], len(found["matches"])
    values = {"total": format_number(total), "query": found["query"],
              "first": format_number(found["offset"] + 1),
              "last": format_number(found["offset"] + shown)}
    if shown >= total:
        return ngettext("{total} resident matches “{query}”",
                        "{total} residents match “{query}”", total).format(**values)
    return ngettext("{total} resident matches “{query}” — showing {first}–{last}",
                    "{total} residents match “{query}” — showing {first}–{last}",
                    total).format(**values)


def pager(found: SearchPage) -> html.Nav | None:
    """Previous / "Page 2 of 34" / Next, when the matches fill more than one page."""
    _ = gettext_for(DEFAULT_LANG)
    total, offset, limit = found["total"], found["offset"], found["limit"]
    if total <= limit:
        return None
    pages = -(-total // limit)
    where = _("Page {page} of {pages}").format(page=format_number(offset // limit + 1),
                                               pages=format_number(pages))
    return html.Nav(className="c360-pager", **{"aria-label": _("Result pages")}, children=[
        html.Button(_("← Previous"), id=page_button(max(0, offset - limit)), n_clicks=0,
                    disabled=offset == 0, className="c360-button c360-button--small"),
        html.Span(where, className="c360-pager__where"),
        html.Button(_("Next →"), id=page_button(offset + limit), n_clicks=0,
                    disabled=offset + limit >= total,
                    className="c360-button c360-button--small"),
    ])


def results_list(found: SearchPage) -> html.Div:
    """One page of search results: how many match in all and which are shown, then name,
    district and a masked contact, each with "Open profile", then the pager."""
    matches, query = found["matches"], found["query"]
    if not matches:
        return html.P(f"No resident matches “{query}” in the records you may see.",
                      className="empty-note", role="status")
    items = [html.Li(className="c360-result", children=[
        html.Div([
            html.Span(m["name"], className="c360-result__name"),
            html.Span(f"{m['id']} · {m.get('district_name') or 'no district'}"
                      + (f" · {m['contact']}" if m.get("contact") else ""),
                      className="c360-result__meta"),
        ]),
        html.Button("Open profile", id=open_button(m["id"]), n_clicks=0,
                    className="c360-button c360-button--small",
                    **{"aria-label": f"Open profile: {m['name']} ({m['id']})"}),
    ]) for m in matches]
    return html.Div([html.P(match_note(found), className="c360-count", role="status"),
                     html.Ul(items, className="c360-results"),
                     pager(found)])


def linked_prompt(citizen_id: str) -> html.Div:
    """What a link to a profile shows first: nothing read yet, a reason is asked for."""
    _ = gettext_for(DEFAULT_LANG)
    return html.Div(className="c360-linked", children=[
        html.P(_("This link opens the profile of resident {id}. Give your reason for "
                 "looking above first: opening it is recorded in the audit log with your "
                 "reason.").format(id=citizen_id), className="c360-linked__text"),
        html.Button(_("Open profile"), id=open_button(citizen_id), n_clicks=0,
                    className="c360-button"),
    ])


def error_note(message: str) -> html.P:
    """A refusal or a problem with the form, read out by screen readers."""
    return html.P(message, className="c360-error", role="alert")


def scope_hint() -> str:
    """What the signed-in user will see of a profile."""
    who = current_principal()
    if who.role == DEPARTMENT_HEAD:
        return (f"You see residents with records in {', '.join(who.departments)}, and only "
                "those records.")
    return "You see every department's records."


def search_form(query: str, resident: str | None = None) -> html.Section:
    """Search box, the reason (required, audited) and the button; with ``resident`` (a
    link to a profile) the results box asks for the reason before opening it."""
    return html.Section(className="card c360-search", children=[
        html.H2("Find a resident", className="card__title"),
        html.Div(className="c360-form", children=[
            html.Div([
                html.Label("Pseudonymous id, name, e-mail or phone", htmlFor=pid("query"),
                           className="filter-bar__label"),
                dcc.Input(id=pid("query"), type="search", value=query, debounce=False,
                          maxLength=MAX_QUERY, placeholder="cit-000123, María García, 942 123 456",
                          autoComplete="off", className="c360-input"),
            ], className="c360-field"),
            html.Div([
                html.Label("Reason for looking (recorded in the audit log)",
                           htmlFor=pid("reason"), className="filter-bar__label"),
                dcc.Input(id=pid("reason"), type="text", value="", minLength=MIN_REASON,
                          maxLength=MAX_REASON, placeholder=EXAMPLE_REASON, autoComplete="off",
                          autoFocus=bool(resident),  # a link: the reason comes first
                          className="c360-input c360-input--reason"),
            ], className="c360-field c360-field--reason"),
            html.Button("Search", id=pid("search"), n_clicks=0, className="c360-button"),
        ]),
        html.P(["Every search and every profile you open is recorded with your name, role, "
                "the time and your reason. ", scope_hint()], className="section-hint"),
        dcc.Loading(html.Div(id=pid("results"), className="c360-results-box",
                             children=linked_prompt(resident) if resident else None,
                             **{"aria-live": "polite"}), type="dot", delay_show=300),
    ])


def opened_profile(data: dict[str, Any], tz: str) -> html.Div:
    """A profile as shown after it was opened (with its export button)."""
    return html.Div([
        profile_view(data, tz),
        html.Div([export_button(PAGE, "profile", "Download this profile (CSV, audited)")],
                 className="c360-actions"),
    ])


def layout(citizen: str | None = None, resident: str | None = None,
           **_kwargs: Any) -> html.Div:
    """The Citizen 360 page; ``?citizen=ID`` fills the search box, ``?resident=ID`` offers
    to open that profile once a reason is given (nothing is read yet either way)."""
    settings = current_settings()
    query = clean_query(citizen) or ""
    linked = (clean_query(resident) or "").strip()[:MAX_QUERY] or None
    return html.Div(className="page citizen360", children=[
        dcc.Location(id=pid("url"), refresh=False),
        dcc.Store(id=pid("current")),
        dcc.Store(id=pid("searched")),
        dcc.Store(id=pid("shown")),
        download(PAGE),
        html.Div(className="page-head", children=[html.Div([
            html.H1("Citizen 360", className="page-head__title"),
            html.P("What has the city done for this resident? Requests, procedures and "
                   "participation across departments, open items first.",
                   className="page-head__subtitle"),
        ])]),
        search_form(query, linked),
        html.Section(id=pid("profile"), className="c360-profile-box",
                     **{"aria-live": "polite", "aria-label": "Resident profile",
                        "tabIndex": "-1"}, children=[
                         html.P("Search for a resident and open their profile.",
                                className="empty-note")]),
        html.P(f"Times are in the city's time zone ({settings.timezone}).",
               className="section-hint"),
    ])


dash.register_page(__name__, path="/citizen360", name="Citizen 360",
                   title="CityLens · Citizen 360", order=6, layout=layout,
                   roles=CITIZEN_READERS, callback_ids={"citizen360-": CITIZEN_READERS})
