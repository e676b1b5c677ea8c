"""How a consultation's page reacts: sending the answers (one per device: the browser gets
a random cookie the first time, and the store keeps only its keyed hash)."""
from __future__ import annotations

import secrets
from typing import Any

from dash import ALL, Input, Output, State, callback, ctx, html, no_update
from flask import current_app, request

from dashboard.api.post_limits import WriteLimits
from dashboard.auth.web import secret_key
from dashboard.consultations import AlreadyAnswered, device_key, record_answer
from dashboard.i18n import gettext_for
from dashboard.queries.kiosk import source_language
from layouts import current_settings
from layouts.participate_survey import ANSWER, DEVICE_COOKIE, pid

COOKIE_DAYS = 400  # the longest a browser keeps a cookie


def _device_token() -> str:
    """The browser's random cookie, given to it now when it has none."""
    token = request.cookies.get(DEVICE_COOKIE)
    if token and 20 <= len(token) <= 64:
        return token
    token = secrets.token_urlsafe(24)
    ctx.response.set_cookie(DEVICE_COOKIE, token, max_age=COOKIE_DAYS * 86400, httponly=True,
                            samesite="Lax", secure=current_settings().secure_cookies)
    return token


@callback(Output(pid("send-result"), "children"), Output(pid("send-box"), "hidden"),
          Output(pid("send-error"), "children"), Input(pid("send"), "n_clicks"),
          State({"type": ANSWER, "question": ALL}, "value"), State(pid("email"), "value"),
          State(pid("consent"), "value"), State(pid("website"), "value"),
          State(pid("survey"), "data"), State(pid("channel"), "data"),
          State(pid("lang"), "data"), prevent_initial_call=True)
def send(_clicks: int | None, values: list[Any], email: str | None, consent: list[str] | None,
         trap: str | None, survey_id: str, channel: str, lang: str) -> tuple[Any, Any, Any]:
    """Store the answers; thanks, or one line saying what to fix."""
    _ = gettext_for(lang)
    settings = current_settings()
    questions = [state["id"]["question"] for state in ctx.states_list[0]]
    given = dict(zip(questions, values, strict=True))
    if (trap or "").strip():
        return no_update, False, _("Your answers could not be sent.")
    if email and "yes" not in (consent or []):
        return no_update, False, _("Tick the box to agree, or leave the e-mail empty.")
    if WriteLimits.kept_in(current_app.config, settings, "survey").by_address(
            request.remote_addr):
        return no_update, False, _("Too many answers were sent from here just now: try "
                                   "again in a while.")
    try:
        record_answer(settings, survey_id, device_key(secret_key(settings), _device_token()),
                      given, "kiosk" if channel == "kiosk" else "web",
                      (email or "").strip() if consent else "", source_language(settings))
    except AlreadyAnswered:
        return no_update, False, _("You have already answered from this device.")
    except ValueError as error:
        return no_update, False, [_("Your answers could not be sent: check them and try "
                                    "again."), " (", html.Span(str(error), lang="en"), ")"]
    return html.Div(className="report-sent", children=[
        html.H2(_("Thank you for your answers"), tabIndex="-1"),
        html.P(_("The results are published here when the consultation closes.")),
        html.A(_("See every consultation"), href=f"/participate?lang={lang}")]), True, ""
