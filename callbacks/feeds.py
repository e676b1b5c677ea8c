"""Feed-health callbacks: periodic refresh of the sources table, quarantine by source."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import dash
from dash import Input, Output
from dash.exceptions import PreventUpdate

from dashboard import feed_health
from dashboard.auth.access import ADMINS, allowed
from dashboard.auth.web import current_principal
from layouts import current_settings, ids
from layouts.feeds import quarantine_table, sources_table, summary


@dash.callback(
    Output(ids.FEEDS_TABLE, "children"),
    Output(ids.FEEDS_SUMMARY, "children"),
    Input(ids.FEEDS_REFRESH, "n_intervals"),
    prevent_initial_call=True,
)
def refresh_sources(_: int | None) -> tuple[Any, Any]:
    """Re-read every source's health (the query is cached per minute)."""
    settings = current_settings()
    sources = feed_health.feed_health(settings)
    return sources_table(sources, settings.current_time(), settings.timezone), summary(sources)


@dash.callback(
    Output(ids.FEEDS_QUARANTINE, "children"),
    Output(ids.FEEDS_URL, "search"),
    Input(ids.FEEDS_QUARANTINE_SOURCE, "value"),
    prevent_initial_call=True,
)
def show_quarantine(source: str | None) -> tuple[Any, str]:
    """The chosen source's quarantined records (administrators only, also checked here);
    the choice is kept in the URL."""
    if not allowed(current_principal(), ADMINS):
        raise PreventUpdate
    settings = current_settings()
    records = feed_health.quarantined(settings, source or None)
    search = "?" + urlencode({"source": source}) if source else ""
    return quarantine_table(records, settings.current_time()), search
