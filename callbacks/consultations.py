"""The consultations page's callbacks: the state filter (table and URL), the live preview
of the questions being written, and "Create consultation" (``save_survey``: a refusal is
shown as its one line)."""
from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, dcc, html, no_update

from dashboard.auth.web import current_principal
from dashboard.consultation_text import parse_questions, survey_from_form
from dashboard.consultations import save_survey
from dashboard.queries.consultations import survey
from dashboard.queries.kiosk import source_language
from layouts.consultation_form import FIELDS, OTHER_LANG, field_id, preview, value_prop
from layouts.consultation_parts import fresh_settings, pid, survey_href
from layouts.consultations import STATES, surveys_table, visible_surveys


@dash.callback(
    Output(pid("table"), "children"),
    Output(pid("url"), "search"),
    Input(pid("state"), "value"),
    prevent_initial_call=True,
)
def filter_state(state: str | None) -> tuple[Any, str]:
    """The table narrowed to one state; the choice kept in the URL."""
    settings = fresh_settings()
    state = state if state in STATES else ""
    table = surveys_table(visible_surveys(settings, current_principal()), settings.timezone,
                          state or None)
    return table, f"?state={state}" if state else ""


@dash.callback(
    Output(pid("new-preview"), "children"),
    Input(field_id("questions"), "value"),
    prevent_initial_call=True,
)
def preview_questions(text: str | None) -> Any:
    """The questions as parsed so far, or the line that stops them."""
    if not (text or "").strip():
        return preview([], None)
    try:
        questions = parse_questions(text or "", source_language(fresh_settings()),
                                    OTHER_LANG)
    except ValueError as error:
        return preview([], str(error))
    return preview(questions, None)


@dash.callback(
    Output(pid("create-result"), "children"),
    Output(pid("table"), "children", allow_duplicate=True),
    Input(pid("create"), "n_clicks"),
    *(State(field_id(name), value_prop(name)) for name in FIELDS),
    State(pid("state"), "value"),
    prevent_initial_call=True,
)
def create(clicks: int | None, *values: Any) -> tuple[Any, Any]:
    """Create the consultation the form describes; its link, or why not."""
    if not clicks:
        return no_update, no_update
    settings = fresh_settings()
    who = current_principal()
    form = dict(zip(FIELDS, values[:len(FIELDS)], strict=True))
    try:
        data = survey_from_form(form, source_language(settings), OTHER_LANG,
                                settings.timezone)
        if data["id"] and survey(settings, data["id"]) is not None:
            raise ValueError(f"id {data['id']!r} is taken: choose another")
        created = save_survey(settings, who, data, source_language(settings))
    except (PermissionError, ValueError) as error:
        return html.P(str(error), className="c360-error", role="alert"), no_update
    state = values[-1] if values[-1] in STATES else ""
    table = surveys_table(visible_surveys(settings, who), settings.timezone, state or None)
    return html.P(["Created: ", dcc.Link(created, href=survey_href(created)),
                   ". It is in the audit log."], className="consultations-created"), table
