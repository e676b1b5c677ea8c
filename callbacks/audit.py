"""Audit-log callbacks: filter by resident and user, kept in the URL."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import dash
from dash import Input, Output
from dash.exceptions import PreventUpdate

from dashboard.auth.access import ADMINS, allowed
from dashboard.auth.web import current_principal
from layouts import current_settings
from layouts.audit import entries_table, entry_rows, pid


@dash.callback(
    Output(pid("entries"), "children"),
    Output(pid("url"), "search"),
    Input(pid("citizen"), "value"),
    Input(pid("user"), "value"),
    prevent_initial_call=True,
)
def filter_entries(citizen: str | None, user: str | None) -> tuple[Any, str]:
    """The entries of one resident and/or user (administrators only, checked here too)."""
    if not allowed(current_principal(), ADMINS):
        raise PreventUpdate
    citizen, user = (citizen or "").strip(), (user or "").strip().lower()
    query = {k: v for k, v in (("citizen", citizen), ("user", user)) if v}
    return (entries_table(entry_rows(current_settings(), citizen, user)),
            "?" + urlencode(query) if query else "")
