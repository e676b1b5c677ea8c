"""The "Notify me" buttons of the staff pages: one click subscribes the signed-in user in
the app to what the button names (the core checks it is theirs to follow), and the
services page's button follows its department and district filters."""
from __future__ import annotations

from typing import Any

import dash
from dash import MATCH, Input, Output, ctx, html
from dash.exceptions import PreventUpdate

from callbacks.notifications import staff
from dashboard.notify.subscriptions import subscribe
from layouts import current_settings, ids
from layouts.access import scoped_department
from layouts.notify_button import department_notify, subscribed_words
from layouts.services_parts import pid as services_id


@dash.callback(
    Output(ids.notify_status(MATCH, MATCH, MATCH), "children"),
    Input(ids.notify_me(MATCH, MATCH, MATCH), "n_clicks"),
    prevent_initial_call=True,
)
def notify_me(clicks: int | None) -> Any:
    """Subscribe the user in the app to the clicked button's kind, target and district;
    say so with a link to manage it, or why not in one line."""
    who = staff()
    found = ctx.triggered_id
    if not clicks or not isinstance(found, dict):
        raise PreventUpdate
    try:
        made = subscribe(current_settings(), who, str(found.get("kind", "")),
                         str(found.get("target", "")), district=str(found.get("district", "")))
    except (ValueError, PermissionError) as error:
        return html.Span(f"Not subscribed: {str(error).splitlines()[0]}", role="alert",
                         className="notify-me__error")
    return subscribed_words(made)


@dash.callback(
    Output(services_id("notify"), "children"),
    Input(services_id("department"), "value"),
    Input(services_id("district"), "value"),
    prevent_initial_call=True,
)
def services_department(department: str | None, district: str | None) -> Any:
    """The services page's "Notify me" for the department chosen (theirs, for a
    department head), in the district chosen."""
    staff()
    return department_notify(current_settings(), scoped_department(department or None),
                             district)
