"""The request page's buttons: approve what the resident wrote for the open data, or keep
it private (``dashboard.queries.moderation``, audited); confirm or reject that it repeats
another request (``dashboard.queries.duplicates``)."""
from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, ctx, html, no_update

from dashboard.auth.web import current_principal
from dashboard.queries.duplicates import DUPLICATE_STATES, decide_duplicate
from dashboard.queries.moderation import moderate, state_label
from layouts import current_settings
from layouts.request import pid


@dash.callback(
    Output(pid("moderation"), "children"),
    Output(pid("publication-note"), "children"),
    Input(pid("approve"), "n_clicks"),
    Input(pid("reject"), "n_clicks"),
    State(pid("request-id"), "data"),
    prevent_initial_call=True,
)
def decide(_approve: int | None, _reject: int | None, request_id: str | None) -> tuple[Any, Any]:
    """Record the clicked decision; the new state, and a line saying it was recorded."""
    decision = "approve" if ctx.triggered_id == pid("approve") else "reject"
    try:
        state = moderate(current_settings(), current_principal(), request_id or "", decision)
    except (PermissionError, LookupError, ValueError) as error:
        return no_update, html.P(str(error), className="c360-error", role="alert")
    said = "Approved: it is published" if state == "approved" else "Kept private"
    return state_label(state), html.P(f"{said}. The decision is in the audit log.")


@dash.callback(
    Output(pid("duplicate-state"), "children"),
    Output(pid("duplicate-note"), "children"),
    Input(pid("duplicate-confirm"), "n_clicks"),
    Input(pid("duplicate-reject"), "n_clicks"),
    State(pid("request-id"), "data"),
    prevent_initial_call=True,
)
def settle_duplicate(_confirm: int | None, _reject: int | None,
                     request_id: str | None) -> tuple[Any, Any]:
    """Record whether the request repeats the one it was marked against."""
    decision = "confirm" if ctx.triggered_id == pid("duplicate-confirm") else "reject"
    try:
        state = decide_duplicate(current_settings(), current_principal(), request_id or "",
                                 decision)
    except (PermissionError, LookupError, ValueError) as error:
        return no_update, html.P(str(error), className="c360-error", role="alert")
    return DUPLICATE_STATES[state], html.P("Recorded.")
