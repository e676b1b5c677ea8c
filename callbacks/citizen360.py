"""Citizen 360 callbacks: search, open a profile, export it. Each one checks the user's role
itself (besides the guard) and every read goes through ``dashboard.queries.citizen360``,
which writes the audit entry in the same transaction as the read.
"""
from __future__ import annotations

from typing import Any

import dash
from dash import ALL, ClientsideFunction, Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from dashboard.auth.web import current_principal
from dashboard.i18n import gettext_for
from dashboard.queries import citizen360
from dashboard.queries.base import engine_of
from layouts import DEFAULT_LANG, current_settings, ids
from layouts.citizen360 import (
    PAGE,
    error_note,
    opened_profile,
    pid,
    resident_search,
    results_list,
)
from layouts.export import csv_file, safe_name


def _refusal(error: Exception) -> str:
    if isinstance(error, PermissionError):
        return "Your role may not read residents' records."
    if isinstance(error, citizen360.NotFound):
        _ = gettext_for(DEFAULT_LANG)
        return _("No such resident, or not one whose records you may see.")
    return str(error)


def _clicked() -> dict[str, Any] | None:
    """The pattern-matching id of the button that was really clicked, or None (the
    callback ran because such buttons were drawn, with no click)."""
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict) or not ctx.triggered or not ctx.triggered[0].get("value"):
        return None
    return trigger


@dash.callback(
    Output(pid("results"), "children"),
    Output(pid("searched"), "data"),
    Input(pid("search"), "n_clicks"),
    Input(pid("query"), "n_submit"),
    Input({"type": pid("page"), "offset": ALL}, "n_clicks"),
    State(pid("query"), "value"),
    State(pid("reason"), "value"),
    State(pid("searched"), "data"),
    prevent_initial_call=True,
)
def search(_clicks: int | None, _submits: int | None, _pages: list[int | None],
           query: str | None, reason: str | None, searched: str | None) -> tuple[Any, Any]:
    """One page of the residents matching the query, with the count of all (audited as a
    search, with the reason). The search button and Enter start at the first page; a page
    button pages through what was searched last (kept in ``searched``)."""
    offset: Any = 0
    text = (query or "").strip()
    if isinstance(ctx.triggered_id, dict):
        page = _clicked()
        if page is None or not searched:
            raise PreventUpdate  # a new page of results was drawn, nothing clicked
        offset, text = page.get("offset"), searched
    settings = current_settings()
    try:
        found = citizen360.run_search(engine_of(settings), current_principal(), text,
                                      reason or "", settings.current_time(),
                                      offset if isinstance(offset, int) else 0)
    except (ValueError, PermissionError) as error:
        return error_note(_refusal(error)), no_update
    return results_list(found), found["query"]


@dash.callback(
    Output(pid("profile"), "children"),
    Output(pid("current"), "data"),
    Output(pid("url"), "search"),
    Input({"type": pid("open"), "citizen": ALL}, "n_clicks"),
    State(pid("reason"), "value"),
    prevent_initial_call=True,
)
def open_profile(_clicks: list[int | None], reason: str | None) -> tuple[Any, Any, Any]:
    """The clicked resident's profile (audited as a profile view, with the reason), put in
    the URL (``?resident=ID``) so that it can be linked. A link's page draws the same button
    (``linked_prompt``) and reads nothing until it is pressed, with a reason."""
    trigger = _clicked()
    if trigger is None:
        raise PreventUpdate  # results were (re)drawn, nothing clicked
    settings = current_settings()
    citizen_id = str(trigger.get("citizen") or "")
    try:
        data = citizen360.open_profile(engine_of(settings), current_principal(), citizen_id,
                                       reason or "", settings.current_time())
    except (ValueError, PermissionError, citizen360.NotFound) as error:
        return error_note(_refusal(error)), no_update, no_update
    return (opened_profile(data, settings.timezone), citizen_id,
            resident_search(data["citizen"]["id"]))


# Whatever the profile box shows after a click (a profile or why not) is scrolled into
# view and focused: it appears below the results, often out of sight (assets/citizen360.js).
dash.clientside_callback(
    ClientsideFunction("citylens", "showProfile"),
    Output(pid("shown"), "data"),
    Input(pid("profile"), "children"),
    prevent_initial_call=True,
)

# Browser Back to the page without ``?resident=`` closes the profile (in the browser).
dash.clientside_callback(
    ClientsideFunction("citylens", "profileForUrl"),
    Output(pid("profile"), "children", allow_duplicate=True),
    Output(pid("current"), "data", allow_duplicate=True),
    Input(pid("url"), "search"),
    prevent_initial_call=True,
)


@dash.callback(
    Output(ids.page_id(PAGE, "download"), "data"),
    Input(ids.export_button(PAGE, "profile"), "n_clicks"),
    State(pid("current"), "data"),
    State(pid("reason"), "value"),
    prevent_initial_call=True,
)
def export_profile(clicks: int | None, citizen_id: str | None, reason: str | None) -> Any:
    """The open profile as CSV, read again and audited as an export."""
    if not clicks or not citizen_id:
        raise PreventUpdate
    settings = current_settings()
    try:
        data = citizen360.open_profile(engine_of(settings), current_principal(), citizen_id,
                                       reason or "", settings.current_time(),
                                       action="export_profile")
    except (ValueError, PermissionError, citizen360.NotFound):
        raise PreventUpdate from None
    return csv_file(citizen360.export_rows(data), citizen360.EXPORT_FIELDS,
                    f"{safe_name('citizen', citizen_id)}.csv")
