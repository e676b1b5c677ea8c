"""One consultation for staff (``/consultations/<survey_id>``): its results while it is
still open (``survey_results(staff=True)``, the bars of ``layouts/consultation_results``),
the free-text answers awaiting a decision, each with Approve / Keep private (only an
approved text is ever shown to the public), a link to its public page, and the counts as
CSV. A department head sees their departments' consultations only (any other reads as
"not found"). ``callbacks/consultation_view.py`` moderates and exports."""
from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import dash
from dash import dcc, html

from dashboard.auth import DEPARTMENT_HEAD
from dashboard.auth.access import STAFF
from dashboard.auth.users import Principal
from dashboard.auth.web import current_principal
from dashboard.consultations import CLOSED, OPEN
from dashboard.queries.consultations import survey, survey_results, texts_to_moderate
from dashboard.settings import Settings
from layouts import exact_time, format_number
from layouts.consultation_parts import (
    PAGE,
    STAFF_LANG,
    fresh_settings,
    pid,
    place,
    public_href,
    state_badge,
    text_button,
)
from layouts.consultation_results import results_view
from layouts.resident import named
from layouts.export import download, export_button

CSV_FIELDS = ("survey_id", "question_id", "question", "kind", "option", "label", "count",
              "answered", "share")


def visible_survey(settings: Settings, who: Principal, survey_id: str
                   ) -> dict[str, Any] | None:
    """The consultation, if ``who`` may see it (a department head: their departments')."""
    found = survey(settings, survey_id) if survey_id else None
    if found is None or (who.role == DEPARTMENT_HEAD
                         and found["department"] not in who.departments):
        return None
    return found


def not_found(survey_id: str) -> html.Div:
    """The page for an id no consultation (the user may see) has."""
    return html.Div(className="page consultations-page", children=[
        html.Div(className="card not-found", role="alert", children=[
            html.H1("Consultation not found", className="page-head__title"),
            html.P(f"No consultation with id “{survey_id}” that you may see.",
                   id=pid("not-found")),
            dcc.Link("← All consultations", href="/consultations"),
        ]),
    ])


def csv_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per option (or scale value) of each choice and scale question, with its
    count, the question's answers and the share; a free-text question's count of texts."""
    rows = []
    for item in results["questions"]:
        question = item["question"]
        base = {"survey_id": results["survey"]["id"], "question_id": question["id"],
                "question": question["text"].get(STAFF_LANG)
                or next(iter(question["text"].values())),
                "kind": question["kind"], "answered": item["answered"]}
        labels = {o["key"]: o["label"] for o in question.get("options") or []}
        for option, count in (item.get("counts") or {}).items():
            label = labels.get(option, option)
            share = count / item["answered"] if item["answered"] else 0.0
            rows.append({**base, "option": option, "count": count, "share": round(share, 4),
                         "label": label.get(STAFF_LANG) or next(iter(label.values()))
                         if isinstance(label, dict) else label})
        if question["kind"] == "text":
            rows.append({**base, "option": "", "label": "", "count": item["answered"],
                         "share": ""})
    return rows


def moderation_list(settings: Settings, found: dict[str, Any],
                    results: dict[str, Any] | None = None) -> Any:
    """The free texts awaiting a decision, oldest first, each with its two buttons
    (``results``: the staff results, for how many await in all)."""
    waiting = texts_to_moderate(settings, found["id"])
    questions = {q["id"]: q["text"] for q in found["questions"]}
    if not waiting:
        return html.P("Nothing awaits moderation.", className="empty-note")
    more = sum(int(item.get("awaiting") or 0) for item in (results or {}).get("questions", []))
    count = (f"{format_number(more)} answers await a decision; the oldest "
             f"{len(waiting)} are below." if more > len(waiting) else
             f"{format_number(len(waiting))} answer{'s' if len(waiting) != 1 else ''} "
             "await a decision.")
    items = [html.Li(className="consultations-text", children=[
        html.Div(named(questions.get(t["question_id"], t["question_id"]), STAFF_LANG),
                 className="consultations-text__question"),
        html.Blockquote(t["text"], className="consultations-text__body"),
        html.Div(className="request-publication__actions", children=[
            html.Button("Approve", id=text_button(t["id"], "approve"), n_clicks=0,
                        type="button", className="c360-button c360-button--small",
                        **{"aria-label": f"Approve answer {t['id']} for publication"}),
            html.Button("Keep private", id=text_button(t["id"], "reject"), n_clicks=0,
                        type="button", className="c360-button c360-button--small "
                                                  "request-publication__keep",
                        **{"aria-label": f"Keep private: answer {t['id']}"}),
        ]),
    ]) for t in waiting]
    return [html.P(count, className="consultations-queue__count", id=pid("queue-count")),
            html.Ol(items, className="consultations-texts")]


def results_part(results: dict[str, Any] | None) -> list[Any]:
    """The staff results (counts, means, approved texts, how many await moderation)."""
    if results is None:
        return [html.P("No results.", className="section-hint")]
    return [results_view(results, STAFF_LANG)]


def _when(found: dict[str, Any], tz: str) -> str:
    """``until 2026-12-07 23:59 CET (from ...)`` as fits its state."""
    opens, closes = exact_time(found["opens_at"], tz), exact_time(found["closes_at"], tz)
    return {OPEN: f"until {closes} (opened {opens})",
            CLOSED: f"on {closes} (opened {opens})"}.get(found["state"],
                                                       f"opens {opens}, until {closes}")


def consultation_view(settings: Settings, found: dict[str, Any]) -> html.Div:
    """The whole page of one consultation."""
    tz = settings.timezone
    public = public_href(found["id"])
    results = survey_results(settings, found["id"], staff=True)
    seen = ("Residents see these results on its public page now that it has closed."
            if found["state"] == CLOSED else
            "Residents see the results only once it closes; staff see them now.")
    return html.Div(className="page consultations-page", id=pid("page"), children=[
        dcc.Store(id=pid("survey-id"), data=found["id"]),
        download(PAGE),
        html.Div(className="page-head", children=[html.Div([
            html.Nav(dcc.Link("← Consultations", href="/consultations"),
                     className="domain-back", **{"aria-label": "Breadcrumb"}),
            html.H1(named(found["title"], STAFF_LANG), className="page-head__title"),
            html.P([state_badge(found["state"]), f" {_when(found, tz)} · {place(found)} · "
                    f"{found['department'] or 'no department'} · "
                    f"{format_number(found['answers'])} answers"],
                   className="page-head__subtitle", id=pid("facts")),
            html.P(["Public page: ", html.A(public, href=public, id=pid("public-link"))],
                   className="page-head__subtitle"),
        ])]),
        html.Div(className="consultations-view", children=[
            html.Section(className="card", children=[
                html.Div([html.Div([html.H2("Results", className="card__title"),
                                    html.P(seen, className="section-hint")]),
                          html.Div(export_button(PAGE, "counts", "CSV"),
                                   className="card-head__tools")],
                         className="card-head consultations-card-head"),
                html.Div(results_part(results), id=pid("results")),
            ]),
            html.Section(className="card consultations-queue", children=[
                html.H2("Awaiting moderation", className="card__title"),
                html.P("What residents wrote, exactly as they wrote it. Approve it for the "
                       "public results, or keep it private (personal data, insults, "
                       "anything off topic). Each decision is in the audit log.",
                       className="section-hint"),
                html.Div(id=pid("queue-note"), role="status", **{"aria-live": "polite"}),
                html.Div(moderation_list(settings, found, results), id=pid("queue")),
            ]),
        ]),
    ])


def layout(survey_id: str | None = None, **_: Any) -> html.Div:
    """The page of ``survey_id`` (URL-quoted in the path)."""
    settings = fresh_settings()
    wanted = unquote(survey_id or "")
    found = visible_survey(settings, current_principal(), wanted)
    return consultation_view(settings, found) if found else not_found(wanted)


def page_title(survey_id: str | None = None, **_: Any) -> str:
    """The browser tab's title."""
    return f"CityLens · Consultation {unquote(survey_id or '')}".rstrip()


dash.register_page(__name__, path_template="/consultations/<survey_id>",
                   name="Consultation", title=page_title, order=92, layout=layout,
                   hidden=True, roles=STAFF, callback_ids={"consultations-": STAFF})
