"""One consultation's staff page: Approve / Keep private on a free-text answer
(``moderate_text``, audited), after which the queue and the results are read again; and
the counts as CSV (the same ``survey_results`` the page shows)."""
from __future__ import annotations

from typing import Any

import dash
from dash import ALL, Input, Output, State, ctx, html, no_update
from dash.exceptions import PreventUpdate

from dashboard.auth.web import current_principal
from dashboard.consultations import APPROVED, moderate_text
from dashboard.queries.consultations import survey_results
from layouts import ids
from layouts.consultation_parts import PAGE, TEXT_TYPE, fresh_settings, pid
from layouts.consultation_view import (
    CSV_FIELDS,
    csv_rows,
    moderation_list,
    results_part,
    visible_survey,
)
from layouts.export import csv_file, safe_name


@dash.callback(
    Output(pid("queue"), "children"),
    Output(pid("results"), "children"),
    Output(pid("queue-note"), "children"),
    Input({"type": TEXT_TYPE, "id": ALL, "decision": ALL}, "n_clicks"),
    State(pid("survey-id"), "data"),
    prevent_initial_call=True,
)
def decide(clicks: list[int | None], survey_id: str | None) -> tuple[Any, Any, Any]:
    """Record the clicked decision; the queue and results as they now are."""
    fired = ctx.triggered_id
    if not isinstance(fired, dict) or not any(clicks or []):
        raise PreventUpdate
    settings = fresh_settings()
    who = current_principal()
    found = visible_survey(settings, who, survey_id or "")
    if found is None:
        raise PreventUpdate
    try:
        state = moderate_text(settings, who, int(fired["id"]), str(fired["decision"]))
    except (PermissionError, LookupError, ValueError) as error:
        return no_update, no_update, html.P(str(error), className="c360-error", role="alert")
    said = "Approved: it is in the results" if state == APPROVED else "Kept private"
    results = survey_results(settings, found["id"], staff=True)
    return (moderation_list(settings, found, results), results_part(results),
            html.P(f"{said}. The decision is in the audit log."))


@dash.callback(
    Output(ids.page_id(PAGE, "download"), "data"),
    Input(ids.export_button(PAGE, "counts"), "n_clicks"),
    State(pid("survey-id"), "data"),
    prevent_initial_call=True,
)
def export_counts(clicks: int | None, survey_id: str | None) -> Any:
    """The counts of every question as CSV (what the page shows)."""
    settings = fresh_settings()
    if not clicks or visible_survey(settings, current_principal(), survey_id or "") is None:
        raise PreventUpdate
    results = survey_results(settings, survey_id or "", staff=True)
    if results is None:
        raise PreventUpdate
    return csv_file(csv_rows(results), CSV_FIELDS, f"{safe_name('consultation', survey_id)}.csv")
