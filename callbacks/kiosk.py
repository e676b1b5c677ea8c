"""Kiosk callback: redraw the slides when the data version changed (``assets/kiosk.js``
watches ``/api/v1/version`` and sets ``kiosk-version``). Rotation, pausing and the clock run
in the browser, so the kiosk keeps going while the server is away."""
from __future__ import annotations

import logging
from typing import Any

import dash
from dash import Input, Output, State
from dash.exceptions import PreventUpdate

from dashboard.i18n import choose_language
from layouts import current_settings
from layouts.kiosk import pid, readable_data, stage

log = logging.getLogger(__name__)


@dash.callback(
    Output(pid("stage"), "children"),
    Input(pid("version"), "data"),
    State(pid("lang"), "data"),
    State(pid("district"), "data"),
    prevent_initial_call=True,
)
def redraw(_version: str | None, lang: str | None, district: str | None = None) -> list[Any]:
    """The slides, controls and data time for the newest data. A failure keeps what is on
    screen (the public never sees an error); it is logged for the city's IT team."""
    settings = current_settings()
    data = readable_data(settings, district)
    if data is None:
        raise PreventUpdate  # keep the slides on screen; the next version check retries
    try:
        return stage(data, choose_language(lang, None, settings.kiosk_language), settings)
    except Exception:  # noqa: BLE001 - whatever went wrong, the lobby keeps its slides
        log.exception("the kiosk could not redraw its slides")
        raise PreventUpdate from None
