"""The kiosk's "Report a problem" slide: a QR code that opens the report form (``/report``)
on the visitor's phone, in the kiosk's language and on the kiosk's district, filed as the
kiosk's. Nobody types on the kiosk; the address is printed too, for phones without a
camera. The code is drawn here (segno, SVG), so it needs no network."""
from __future__ import annotations

from urllib.parse import urlencode

import segno
from dash import html
from flask import has_request_context, request

from dashboard.i18n import gettext_for
from dashboard.settings import Settings
from layouts.kiosk_slides import Slide, slide_head

QR_INK, QR_PAPER = "#0c2740", "#ffffff"


def report_link(lang: str, district: str | None) -> str:
    """The whole address of the form as this kiosk opens it."""
    site = request.host_url if has_request_context() else "/"
    query = {"from": "kiosk", "lang": lang, **({"district": district} if district else {})}
    return f"{site.rstrip('/')}/report?{urlencode(query)}"


def qr_image(link: str) -> str:
    """``link`` as a QR code, an SVG ``data:`` URL (error correction M: a worn print or a
    glare still reads)."""
    return segno.make(link, error="m").svg_data_uri(scale=8, border=2, dark=QR_INK,
                                                    light=QR_PAPER)


def report_slide(data: dict[str, object], lang: str, settings: Settings) -> Slide | None:
    """Scan to report a problem from your phone."""
    _ = gettext_for(lang)
    district = data.get("district")
    link = report_link(lang, district if isinstance(district, str) else None)
    title = _("Report a problem")
    return title, [
        *slide_head(title, _("Something broken, dirty or dangerous in the street? Tell the "
                             "city from your phone.")),
        html.Div(className="kiosk-report", children=[
            html.Img(src=qr_image(link), className="kiosk-report__qr",
                     alt=_("QR code that opens the report form on your phone")),
            html.Div(className="kiosk-report__steps", children=[
                html.Ol([html.Li(_("Point your phone's camera at the code.")),
                         html.Li(_("Choose the problem and mark it on the map; add a photo "
                                   "if you like.")),
                         html.Li(_("Keep the link you get: it tells you how it goes."))]),
                html.P([_("Or open this address:"), " ",
                        html.Span(link.split("://", 1)[-1], className="kiosk-report__link")],
                       className="kiosk-report__address"),
            ]),
        ]),
    ]
