"""How the form ``/report`` reacts: the chosen service's questions, a spot from the map or
the phone, "already reported nearby", the photo's name, and sending."""
from __future__ import annotations

import math
from typing import Any

import dash_leaflet as dl
from dash import ALL, Input, Output, State, callback, clientside_callback, ctx, html, no_update
from flask import current_app, request

from dashboard.api.open311_server import STORE_KEY
from dashboard.api.report_form import (
    INVALID,
    NO_PLACE,
    NO_SERVICE,
    OUTSIDE,
    PHOTO,
    ROBOT,
    TOO_MANY,
    ReportFields,
    ReportRefused,
    report_limits,
    send_report,
)
from dashboard.i18n import format_date, gettext_for
from dashboard.queries.kiosk import source_language
from dashboard.queries.resident_report import already_reported, district_at, service_questions
from layouts import current_settings
from layouts.report import QUESTION, pid, questions_part, sent_part


@callback(Output(pid("questions"), "children"), Input(pid("service"), "value"),
          State(pid("lang"), "data"))
def ask(service: str | None, lang: str) -> list[Any]:
    """The chosen service's own questions."""
    settings = current_settings()
    return questions_part(service_questions(settings, service), lang,
                          source_language(settings))


clientside_callback(  # the browser asks for the location only when the button is tapped
    """function (clicks) {
        if (!clicks) { return window.dash_clientside.no_update; }
        return new Promise(function (resolve) {
            if (!navigator.geolocation) { resolve({error: "unavailable"}); return; }
            navigator.geolocation.getCurrentPosition(
                function (p) { resolve({lat: p.coords.latitude, lon: p.coords.longitude,
                                        accuracy: p.coords.accuracy, at: Date.now()}); },
                function (e) { resolve({error: String(e.code), at: Date.now()}); },
                {enableHighAccuracy: true, timeout: 15000, maximumAge: 60000});
        });
    }""",
    Output(pid("phone-spot"), "data"), Input(pid("locate"), "n_clicks"),
    prevent_initial_call=True)


def _spot(click: Any, position: Any) -> tuple[float, float] | None:
    """(lat, lon) from the map's click or the phone's position, when they are numbers."""
    if ctx.triggered_id == pid("map") and isinstance(click, dict):
        point = click.get("latlng") or {}
        lat, lon = point.get("lat"), point.get("lng")
    elif isinstance(position, dict) and "error" not in position:
        lat, lon = position.get("lat"), position.get("lon")
    else:
        return None
    try:
        lat, lon = float(lat), float(lon)
    except (TypeError, ValueError):
        return None
    ok = math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180
    return (lat, lon) if ok else None


@callback(Output(pid("spot"), "data"), Output(pid("marker"), "children"),
          Output(pid("place"), "children"), Output(pid("map"), "viewport"),
          Input(pid("map"), "clickData"), Input(pid("phone-spot"), "data"),
          State(pid("lang"), "data"), prevent_initial_call=True)
def place(click: Any, phone: Any, lang: str) -> tuple[Any, Any, str, Any]:
    """Put the problem where the resident tapped, or where the phone is (and show it)."""
    _ = gettext_for(lang)
    from_phone = ctx.triggered_id == pid("phone-spot")
    if from_phone and isinstance(phone, dict) and "error" in phone:
        return no_update, no_update, _("Your phone did not say where you are: tap the map "
                                       "instead, or write the street."), no_update
    spot = _spot(click, phone)
    if spot is None:
        return no_update, no_update, no_update, no_update
    district = district_at(current_settings(), *spot)
    if district is None:
        return None, [], _("That spot is outside the city's districts: tap inside them."), \
            no_update
    marker = dl.Marker(position=list(spot), title=_("The problem is here"))
    view = {"center": list(spot), "zoom": 17} if from_phone else no_update
    return ({"lat": spot[0], "lon": spot[1]}, [marker],
            _("Placed in {district} ({lat}, {lon}).").format(
                district=district["name"], lat=f"{spot[0]:.5f}", lon=f"{spot[1]:.5f}"), view)


@callback(Output(pid("nearby"), "children"), Input(pid("service"), "value"),
          Input(pid("spot"), "data"), State(pid("lang"), "data"))
def nearby(service: str | None, spot: dict[str, float] | None, lang: str) -> Any:
    """Say so when the same problem is already reported close by, before sending."""
    settings = current_settings()
    found = already_reported(settings, service, (spot or {}).get("lat"),
                             (spot or {}).get("lon"))
    if found is None:
        return None
    _ = gettext_for(lang)
    since = format_date(found["requested_at"], lang, settings.timezone)
    return html.Div(className="report-notice", children=[
        html.Strong(_("Already reported nearby")),
        html.P(_("Report {number}, {metres} m from your spot, has been open since {date}."
                 ).format(number=found["id"], metres=found["metres"], date=since)),
        html.A(_("Follow that report"), href=f"/track/{found['id']}?lang={lang}"),
        html.P(_("If yours is a different problem, send it anyway.")),
    ])


@callback(Output(pid("photo-name"), "children"), Input(pid("photo"), "filename"),
          State(pid("lang"), "data"), prevent_initial_call=True)
def photo_name(filename: str | None, lang: str) -> str:
    """Which photo will go with the report."""
    _ = gettext_for(lang)
    return _("Photo: {name}").format(name=str(filename)[:80]) if filename else ""


def refusal_text(kind: str, lang: str) -> str:
    """The resident's words for a refusal of ``kind``."""
    _ = gettext_for(lang)
    return {
        NO_SERVICE: _("Choose what the problem is (part 1)."),
        NO_PLACE: _("Say where it is: use your location, tap the map or write the street "
                    "(part 2)."),
        OUTSIDE: _("That spot is outside the city's districts: tap inside them."),
        PHOTO: _("The photo could not be used: send a JPEG, PNG or WebP picture of up to "
                 "8 MB, or none."),
        TOO_MANY: _("Too many reports were sent from here just now: try again in a while."),
        ROBOT: _("Your report could not be sent."),
    }.get(kind, _("Your report could not be sent: check the fields and try again."))


@callback(Output(pid("send-result"), "children"), Output(pid("send-box"), "hidden"),
          Output(pid("send-error"), "children"), Input(pid("send"), "n_clicks"),
          State(pid("service"), "value"), State(pid("spot"), "data"),
          State(pid("address"), "value"), State({"type": QUESTION, "code": ALL}, "value"),
          State(pid("description"), "value"), State(pid("photo"), "contents"),
          State(pid("name"), "value"), State(pid("email"), "value"),
          State(pid("phone"), "value"), State(pid("website"), "value"),
          State(pid("channel"), "data"), State(pid("lang"), "data"),
          prevent_initial_call=True)
def send(_clicks: int | None, service: str | None, spot: dict[str, float] | None,
         address: str | None, answers: list[Any], description: str | None,
         photo: str | None, name: str | None, email: str | None, phone: str | None,
         trap: str | None, channel: str, lang: str) -> tuple[Any, Any, Any]:
    """File the report; the link to follow it, or one line saying what to fix."""
    settings = current_settings()
    codes = [state["id"]["code"] for state in ctx.states_list[3]]
    given = {code: [str(v) for v in (value if isinstance(value, list) else [value])
                    if v not in (None, "")] for code, value in zip(codes, answers, strict=True)}
    fields = ReportFields(
        service_code=service, lat=(spot or {}).get("lat"), lon=(spot or {}).get("lon"),
        address=address or "", description=description or "", name=name or "",
        email=email or "", phone=phone or "", photo=photo, trap=trap or "",
        answers={code: values for code, values in given.items() if values})
    try:
        filed = send_report(settings, current_app.config.get(STORE_KEY),
                            report_limits(current_app.config, settings), request.remote_addr,
                            fields, "kiosk" if channel == "kiosk" else "web")
    except ReportRefused as refused:
        text: Any = refusal_text(refused.kind, lang)
        if refused.kind == INVALID:  # the check's own words, in English
            text = [text, " (", html.Span(str(refused), lang="en"), ")"]
        return no_update, False, text
    repeats = filed.nearby[0] if filed.nearby else None
    return (sent_part(filed.request_id, filed.token, repeats, lang, request.host_url),
            True, "")


clientside_callback(  # a screen reader hears the thank-you (focus moves to its heading)
    """function (children) {
        var title = document.getElementById("report-sent-title");
        if (title) { title.focus(); }
        return window.dash_clientside.no_update;
    }""",
    Output(pid("send-result"), "title"), Input(pid("send-result"), "children"),
    prevent_initial_call=True)

