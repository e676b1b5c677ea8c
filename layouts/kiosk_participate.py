"""The kiosk's "Have your say" slide: the consultation open in the kiosk's district (or the
whole city's), with a QR code that opens it on the visitor's phone (one answer per phone;
nobody types on the kiosk); when none is open, the results of the latest one to close."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from dash import html
from flask import has_request_context, request

from dashboard.i18n import gettext_for
from dashboard.queries.consultations import survey_results, surveys_for
from dashboard.settings import Settings
from layouts.consultation_results import question_result
from layouts.resident import named
from layouts.kiosk_report import qr_image
from layouts.kiosk_slides import Slide, slide_head
from layouts.participate import when_line


def answer_link(survey_id: str, lang: str) -> str:
    """The whole address of the consultation as the kiosk opens it on a phone."""
    site = request.host_url if has_request_context() else "/"
    query = urlencode({"from": "kiosk", "lang": lang})
    return f"{site.rstrip('/')}/participate/{survey_id}?{query}"


def _open_one(found: dict[str, Any], lang: str, settings: Settings) -> list[Any]:
    _ = gettext_for(lang)
    link = answer_link(found["id"], lang)
    return [html.Div(className="kiosk-report", children=[
        html.Img(src=qr_image(link), className="kiosk-report__qr",
                 alt=_("QR code that opens the consultation on your phone")),
        html.Div(className="kiosk-report__steps", children=[
            html.H3(named(found["title"], lang), className="kiosk-consult__title"),
            html.P(named(found["intro"], lang)),
            html.P([found["district_name"] or _("Whole city"), " · ",
                    when_line(found, lang, settings)], className="kiosk-consult__when"),
            html.P(_("Scan the code to answer from your phone: it takes two minutes and no "
                     "personal data."), className="kiosk-consult__how"),
            html.P([_("Or open this address:"), " ",
                    html.Span(link.split("://", 1)[-1], className="kiosk-report__link")],
                   className="kiosk-report__address"),
        ]),
    ])]


def _closed_one(found: dict[str, Any], lang: str, settings: Settings) -> list[Any] | None:
    _ = gettext_for(lang)
    results = survey_results(settings, found["id"])
    counted = [q for q in (results or {}).get("questions", [])
               if q["question"]["kind"] != "text"][:2]
    if not counted:
        return None
    return [html.H3(named(found["title"], lang), className="kiosk-consult__title"),
            html.P([when_line(found, lang, settings), " · ",
                    _("{n} people answered.").format(n=(results or {}).get("answers", 0))]),
            html.Div([question_result(q, lang) for q in counted], className="kiosk-results")]


def participate_slide(data: dict[str, Any], lang: str, settings: Settings) -> Slide | None:
    """Answer the open consultation, or see what residents said in the last one."""
    _ = gettext_for(lang)
    district = data.get("district")
    found = surveys_for(settings, district if isinstance(district, str) else None)
    open_now = [f for f in found if f["state"] == "open"]
    title = _("Have your say")
    if open_now:
        return title, [*slide_head(title, _("The city asks before it decides.")),
                       *_open_one(open_now[0], lang, settings)]
    closed = [f for f in found if f["state"] == "closed"]
    body = _closed_one(closed[0], lang, settings) if closed else None
    if body is None:
        return None
    return title, [*slide_head(title, _("What residents said")), *body]
