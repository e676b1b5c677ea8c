"""The delivery log's filters (status, user), kept in the URL; administrators only."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import dash
from dash import Input, Output
from dash.exceptions import PreventUpdate

from dashboard.auth.access import ADMINS, allowed
from dashboard.auth.web import current_principal
from layouts import current_settings
from layouts.deliveries import STATUS_WORDS, deliveries_table, pid


@dash.callback(
    Output(pid("table"), "children"),
    Output(pid("url"), "search"),
    Input(pid("status"), "value"),
    Input(pid("user"), "value"),
    prevent_initial_call=True,
)
def filter_deliveries(status: str | None, user: str | None) -> tuple[Any, str]:
    """The deliveries of one status and/or user (administrators only, checked here too)."""
    if not allowed(current_principal(), ADMINS):
        raise PreventUpdate
    status = status if status in STATUS_WORDS else ""
    user = (user or "").strip()
    query = {k: v for k, v in (("status", status), ("user", user)) if v}
    return (deliveries_table(current_settings(), status, user),
            "?" + urlencode(query) if query else "")
