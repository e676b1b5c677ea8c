"""Report a problem (``/report``): the public form a resident fills on their phone, in their
language: what the problem is (a service), where (a tap on the district map, the phone's
location, or words), the service's questions, a description, a photo and a contact if they
want. Before sending it says when the same problem is already reported close by; once sent
it gives the link that follows the report (``/track/<token>``). ``?district=`` opens the map
on a district and ``?from=kiosk`` files the report as the kiosk's (its QR code opens this).

Nothing typed here is shown to anyone else before staff approve it. The form answers in
``callbacks/report.py``; the fields have one id each (``report-...``).
"""
from __future__ import annotations

from typing import Any

import dash
import dash_leaflet as dl
from dash import dcc, html

from dashboard.auth.access import EVERYONE
from dashboard.i18n import gettext_for, text_and_language
from dashboard.photos import MAX_PHOTO_BYTES
from dashboard.queries import district_outlines
from dashboard.queries.resident_report import report_services
from dashboard.settings import Settings
from layouts import clean_query, current_settings, ids
from layouts.resident import named, resident_language, resident_page

PAGE = "report"
SEND = "report-send-"  # the callback that sends the form (it may carry a photo)
KIOSK = "kiosk"
OUTLINE_STYLE = {"color": "#0b4f8a", "weight": 2, "opacity": 0.9, "fillColor": "#0b4f8a",
                 "fillOpacity": 0.06}
SEND_BYTES = MAX_PHOTO_BYTES * 4 // 3 + 256 * 1024  # the photo as base64, and the fields
MAX_DESCRIPTION = 4000


def pid(name: str) -> str:
    """A component id of the report form."""
    return ids.page_id(PAGE, name)


def service_options(groups: list[dict[str, Any]], lang: str) -> list[dict[str, Any]]:
    """One radio option per service, its group named beside it, in the order of the names
    as the resident reads them (group, then service)."""
    pairs = sorted(((group, service) for group in groups for service in group["services"]),
                   key=lambda gs: (text_and_language(gs[0]["group_name"], lang)[0].casefold(),
                                   text_and_language(gs[1]["name"], lang)[0].casefold()))
    return [{"label": html.Span([named(service["name"], lang),
                                 html.Small(named(group["group_name"], lang),
                                            className="report-service__group")],
                                className="report-service__label"),
             "value": service["code"]}
            for group, service in pairs]


def district_view(settings: Settings, district: str | None) -> tuple[dict[str, Any], dict]:
    """The district outlines and the map's view: the chosen district's, else the city's."""
    outlines = district_outlines(settings)
    features = [f for f in outlines["features"] if not district or f["id"] == district]
    points = [pt for f in features or outlines["features"]
              for pt in _points(f["geometry"])]
    if not points:
        return outlines, {"center": [20, 0], "zoom": 2}
    lats, lons = [p[1] for p in points], [p[0] for p in points]
    return outlines, {"bounds": [[min(lats), min(lons)], [max(lats), max(lons)]]}


def _points(geometry: dict[str, Any]) -> list[list[float]]:
    coords = geometry.get("coordinates") or []
    rings = coords if geometry.get("type") == "Polygon" else [r for p in coords for r in p]
    return [pt for ring in rings for pt in ring]


def where_part(settings: Settings, lang: str, district: str | None) -> html.Fieldset:
    """Where the problem is: the phone's location, a tap on the map, or words."""
    _ = gettext_for(lang)
    outlines, view = district_view(settings, district)
    leaflet = dl.Map(id=pid("map"), children=[
        dl.GeoJSON(data=outlines, style=OUTLINE_STYLE, interactive=False),
        dl.LayerGroup(id=pid("marker")),
        dl.ScaleControl(position="bottomright", imperial=False),
    ], zoomSnap=0.25, scrollWheelZoom=False, attributionControl=False, trackViewport=False,
        className="report-map__map", style={"height": "100%", "width": "100%"}, **view)
    return html.Fieldset(className="report-part", children=[
        html.Legend(["2. ", _("Where is it?")]),
        html.Button(_("Use my location"), id=pid("locate"), type="button",
                    className="report-button report-button--quiet"),
        dcc.Store(id=pid("phone-spot")),  # where the phone says it is (asked on the tap)
        html.P(_("Or tap the map where it is."), className="report-hint", id=pid("map-hint")),
        html.Div(leaflet, className="report-map", role="region",
                 **{"aria-label": _("Map of the districts: tap to place the problem")}),
        html.P(_("Not placed yet."), id=pid("place"), className="report-place",
               **{"aria-live": "polite"}),
        html.Label(_("Street and number, or a place everyone knows"), htmlFor=pid("address"),
                   className="report-label"),
        dcc.Input(id=pid("address"), type="text", maxLength=300, autoComplete="street-address",
                  className="report-input", name="address"),
        html.Div(id=pid("nearby"), className="report-nearby", **{"aria-live": "polite"}),
    ])


def contact_part(lang: str) -> html.Fieldset:
    """The resident's contact, optional; seen by city staff only."""
    _ = gettext_for(lang)

    def field(name: str, label: str, kind: str, complete: str, most: int) -> list[Any]:
        return [html.Label(label, htmlFor=pid(name), className="report-label"),
                dcc.Input(id=pid(name), type=kind, maxLength=most, autoComplete=complete,
                          className="report-input", name=name)]

    return html.Fieldset(className="report-part", children=[
        html.Legend(["4. ", _("Your contact (optional)")]),
        html.P(_("Only city staff see it, to ask you about this report. Leave it empty to "
                 "report anonymously."), className="report-hint"),
        *field("name", _("Name"), "text", "name", 100),
        *field("email", _("E-mail"), "email", "email", 200),
        *field("phone", _("Phone"), "tel", "tel", 40),
    ])


def form(settings: Settings, lang: str, district: str | None) -> html.Div:
    """The form's four parts, the trap for robots and the send button."""
    _ = gettext_for(lang)
    return html.Div(id=pid("send-box"), className="report-form", role="form",
                    **{"aria-label": _("Report a problem")}, children=[
        html.Fieldset(className="report-part", children=[
            html.Legend(["1. ", _("What is the problem?")]),
            dcc.RadioItems(id=pid("service"), options=service_options(
                report_services(settings), lang), className="report-services",
                labelClassName="report-service", inputClassName="report-service__input"),
            html.Div(id=pid("questions"), className="report-questions"),
        ]),
        where_part(settings, lang, district),
        html.Fieldset(className="report-part", children=[
            html.Legend(["3. ", _("Tell us more")]),
            html.Label(_("What is wrong? (optional)"), htmlFor=pid("description"),
                       className="report-label"),
            dcc.Textarea(id=pid("description"), maxLength=MAX_DESCRIPTION, rows=4,
                         className="report-input report-textarea", name="description"),
            html.P(_("Staff read it before it is published. Please leave out names and "
                     "phone numbers."), className="report-hint"),
            dcc.Upload(id=pid("photo"), accept="image/jpeg,image/png,image/webp",
                       max_size=MAX_PHOTO_BYTES, multiple=False, className="report-photo",
                       children=html.Span(_("Add a photo"), className="report-button "
                                          "report-button--quiet")),
            html.P(_("A JPEG, PNG or WebP picture of up to 8 MB; its location and camera "
                     "details are removed."), className="report-hint", id=pid("photo-hint")),
            html.P(id=pid("photo-name"), className="report-photo-name",
                   **{"aria-live": "polite"}),
        ]),
        contact_part(lang),
        html.Div(className="report-trap", children=[  # people leave it empty; robots fill it
            html.Label(_("Leave this field empty"), htmlFor=pid("website")),
            dcc.Input(id=pid("website"), type="text", autoComplete="off", name="website"),
        ]),
        html.Button(_("Send report"), id=pid("send"), type="button",
                    className="report-button report-button--send"),
        html.P(id=pid("send-error"), className="report-error", role="alert"),
    ])


def layout(lang: str | None = None, district: str | None = None, **query: Any) -> html.Div:
    """The form in the resident's language, its map on ``?district=`` when given."""
    settings = current_settings()
    lang = resident_language(clean_query(lang))
    _ = gettext_for(lang)
    outlines = district_outlines(settings)["features"]
    district = clean_query(district, {f["id"] for f in outlines})
    channel = KIOSK if clean_query(query.get("from")) == KIOSK else "web"
    keep = {"district": district or "", "from": KIOSK if channel == KIOSK else ""}
    return resident_page(lang, "/report", keep, _("Report a problem"), page_class="report",
                         children=[
        dcc.Store(id=pid("lang"), data=lang),
        dcc.Store(id=pid("channel"), data=channel),
        dcc.Store(id=pid("spot"), data=None),
        html.P(_("Tell the city about something broken, dirty or dangerous in the street. "
                 "It takes a minute; you get a link to follow it."), className="report-lead"),
        form(settings, lang, district),
        html.Div(id=pid("send-result"), className="report-result",
                 **{"aria-live": "polite"}),
    ])


dash.register_page(__name__, path="/report", name="Report a problem",
                   title="CityLens · Report a problem", order=98, layout=layout, hidden=True,
                   roles=EVERYONE, callback_ids={"report-": EVERYONE},
                   callback_bytes={SEND: SEND_BYTES})


QUESTION = "report-question"  # pattern-matching id of one of the service's questions


def question_id(code: str) -> dict[str, str]:
    """The id of the field answering the service's question ``code``."""
    return {"type": QUESTION, "code": code}


def questions_part(questions: list[dict[str, Any]], lang: str, written_in: str) -> list[Any]:
    """The service's own questions (its Open311 attributes), as the city wrote them
    (``written_in``): a choice of one, of several, a number, or words."""
    _ = gettext_for(lang)
    asked = []
    for question in questions:
        code, kind = str(question["code"]), str(question.get("datatype", "string"))
        text_lang = {"lang": written_in} if written_in != lang else {}
        label = html.Span([str(question.get("description") or code),
                           *([] if question.get("required") else
                             [html.Span(f" ({_('optional')})", lang=lang)])], **text_lang)
        choices = [{"label": html.Span(str(v.get("name") or v.get("key")), **text_lang),
                    "value": str(v.get("key"))} for v in question.get("values") or []]
        if kind in ("singlevaluelist", "multivaluelist"):
            picker = dcc.RadioItems if kind == "singlevaluelist" else dcc.Checklist
            asked.append(html.Fieldset(className="report-question", children=[
                html.Legend(label, className="report-label"),
                picker(id=question_id(code), options=choices, className="report-choices",
                       labelClassName="report-choice")]))
        else:
            asked.append(html.Label(className="report-question report-label", children=[
                label,
                dcc.Input(id=question_id(code), type="number" if kind == "number" else "text",
                          maxLength=500, className="report-input")]))
    return asked


def sent_part(request_id: str, token: str, repeats: str | None, lang: str,
              site: str = "") -> html.Div:
    """What the resident sees once the report is filed: its number and the link to follow
    it (the token: only they have it; whole, from ``site``, to copy), and a way to report
    something else."""
    _ = gettext_for(lang)
    link = f"{site.rstrip('/')}/track/{token}?lang={lang}"
    return html.Div(className="report-sent", children=[
        html.H2(_("Thank you: your report is in"), tabIndex="-1", id=pid("sent-title")),
        html.P([_("Its number is"), " ", html.Strong(request_id), "."]),
        html.P(_("Follow it here (keep this link: it is the only way to follow your report "
                 "without an account):")),
        html.A(link, href=link, className="report-track-link"),
        *([html.P(_("It may be the same as report {number}, sent from close by; staff will "
                    "check.").format(number=repeats))] if repeats else []),
        html.A(_("Report another problem"), href=f"/report?lang={lang}",
               className="report-button report-button--quiet"),
    ])
