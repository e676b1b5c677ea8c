"""One consultation (``/participate/<id>``): its questions to answer while it is open (one
answer per device, no personal data needed; a resident may add it to their record with
the city by giving an e-mail and their consent), and its results once it has closed.
Free-text answers are read by staff before anyone else sees them. Answers in
``callbacks/participate.py``."""
from __future__ import annotations

from typing import Any

import dash
from dash import dcc, html
from flask import has_request_context, request

from dashboard.auth.access import EVERYONE
from dashboard.auth.web import secret_key
from dashboard.consultations import MAX_TEXT, device_key
from dashboard.i18n import gettext_for
from dashboard.queries.consultations import has_answered, survey, survey_results
from dashboard.settings import Settings
from layouts import clean_query, current_settings, ids
from layouts.consultation_results import results_view
from layouts.participate import when_line
from layouts.resident import named, resident_language, resident_page

PAGE = "participate"
ANSWER = "participate-answer"  # pattern-matching id of the field answering one question
DEVICE_COOKIE = "citylens_device"


def pid(name: str) -> str:
    """A component id of the consultation page."""
    return ids.page_id(PAGE, name)


def answer_id(question: str) -> dict[str, str]:
    """The id of the field answering ``question``."""
    return {"type": ANSWER, "question": question}


def this_device(settings: Settings) -> str | None:
    """The store's key of the browser asking (its cookie), or None before its first answer."""
    token = request.cookies.get(DEVICE_COOKIE) if has_request_context() else None
    return device_key(secret_key(settings), token) if token else None


def question_field(question: dict[str, Any], lang: str) -> html.Fieldset:
    """One question and the field that answers it."""
    _ = gettext_for(lang)
    kind, qid = question["kind"], question["id"]
    legend = html.Legend([named(question["text"], lang),
                          *([] if question.get("required") else
                            [html.Span(f" ({_('optional')})", className="report-hint")])],
                         className="report-label")
    if kind in ("single", "multiple"):
        options = [{"label": named(o["label"], lang), "value": o["key"]}
                   for o in question["options"]]
        picker = dcc.RadioItems if kind == "single" else dcc.Checklist
        field: Any = picker(id=answer_id(qid), options=options, className="report-choices")
    elif kind == "scale":
        ends = [named(question[end], lang) if question.get(end) else None
                for end in ("low", "high")]
        field = html.Div(className="consult-scale", children=[
            html.Span(ends[0], className="consult-scale__end") if ends[0] else None,
            dcc.RadioItems(id=answer_id(qid), inline=True,
                           options=[{"label": str(n), "value": n} for n in
                                    range(question["min"], question["max"] + 1)],
                           className="report-choices consult-scale__values"),
            html.Span(ends[1], className="consult-scale__end") if ends[1] else None])
    else:
        field = html.Div([
            dcc.Textarea(id=answer_id(qid), maxLength=MAX_TEXT, rows=4,
                         className="report-input report-textarea",
                         title=named(question["text"], lang).children),
            html.P(_("Staff read it before anyone else sees it. Please leave out names and "
                     "phone numbers."), className="report-hint")])
    return html.Fieldset([legend, field], className="report-part")


def answer_form(found: dict[str, Any], lang: str) -> html.Div:
    """The questions, the optional record with the city, the trap field and "Send"."""
    _ = gettext_for(lang)
    return html.Div(id=pid("send-box"), className="report-form", role="form",
                    **{"aria-label": _("Your answers")}, children=[
        *[question_field(q, lang) for q in found["questions"]],
        html.Fieldset(className="report-part", children=[
            html.Legend(_("Add it to your record with the city (optional)")),
            html.P(_("Your answers stay anonymous either way. With your e-mail and your "
                     "consent, city staff can see that you took part."), className="report-hint"),
            html.Label(_("E-mail"), htmlFor=pid("email"), className="report-label"),
            dcc.Input(id=pid("email"), type="email", maxLength=200, autoComplete="email",
                      className="report-input"),
            dcc.Checklist(id=pid("consent"), className="report-choices",
                          options=[{"label": _("I agree that my taking part is recorded "
                                               "with my e-mail"), "value": "yes"}]),
        ]),
        html.Div(className="report-trap", children=[
            html.Label(_("Leave this field empty"), htmlFor=pid("website")),
            dcc.Input(id=pid("website"), type="text", autoComplete="off")]),
        html.Button(_("Send my answers"), id=pid("send"), type="button",
                    className="report-button report-button--send"),
        html.P(id=pid("send-error"), className="report-error", role="alert"),
    ])


def body(found: dict[str, Any], lang: str, settings: Settings) -> list[Any]:
    """What the page holds in the consultation's state."""
    _ = gettext_for(lang)
    if found["state"] == "closed":
        results = survey_results(settings, found["id"])
        return [html.H2(_("Results")), results_view(results, lang)] if results else []
    if found["state"] == "upcoming":
        return [html.P(_("You can answer from the day it opens."), className="report-hint")]
    if has_answered(settings, found["id"], this_device(settings)):
        return [html.P(_("Thank you: you have already answered from this device. The results "
                         "are published when it closes."), className="report-sent")]
    return [answer_form(found, lang),
            html.Div(id=pid("send-result"), **{"aria-live": "polite"})]


def layout(survey_id: str | None = None, lang: str | None = None, **query: Any) -> html.Div:
    """The consultation ``survey_id``, or a page saying there is none."""
    settings = current_settings()
    lang = resident_language(clean_query(lang))
    _ = gettext_for(lang)
    found = survey(settings, survey_id or "") if survey_id else None
    path = f"/participate/{survey_id or ''}"
    if found is None:
        return resident_page(lang, path, {}, _("Consultation not found"),
                             page_class="participate", children=[
            html.A(_("See every consultation"), href=f"/participate?lang={lang}",
                   className="report-button report-button--quiet")])
    channel = "kiosk" if clean_query(query.get("from")) == "kiosk" else "web"
    title = named(found["title"], lang)
    return resident_page(lang, path, {"from": channel if channel == "kiosk" else ""},
                         title, page_class="participate", children=[
        dcc.Store(id=pid("survey"), data=found["id"]),
        dcc.Store(id=pid("channel"), data=channel),
        dcc.Store(id=pid("lang"), data=lang),
        html.P(named(found["intro"], lang), className="report-lead"),
        html.P([found["district_name"] or _("Whole city"), " · ",
                when_line(found, lang, settings)], className="consult-facts"),
        *body(found, lang, settings),
        html.A(_("See every consultation"), href=f"/participate?lang={lang}",
               className="consult-back"),
    ])


def page_title(survey_id: str | None = None, **_query: Any) -> str:
    """The browser tab's title."""
    return "CityLens · Have your say"


dash.register_page(__name__, path_template="/participate/<survey_id>", name="Consultation",
                   title=page_title, order=98, layout=layout, hidden=True, roles=EVERYONE,
                   callback_ids={"participate-": EVERYONE})
