"""The commitments staff page's Save buttons: one commitment's % complete, status, public
note and milestones done, saved through ``dashboard.commitments.save_commitment``
(staff only, a department head only for their departments; audited)."""
from __future__ import annotations

from typing import Any

import dash
from dash import MATCH, Input, Output, State, ctx, html

from dashboard.auth.web import current_principal
from dashboard.commitments import mark_milestones, save_commitment
from dashboard.queries.commitments import commitments_for, local_today
from layouts import current_settings
from layouts.commitments_manage import STATUS_WORDS, field


@dash.callback(
    Output(field("result", MATCH), "children"),
    Input(field("save", MATCH), "n_clicks"),
    State(field("percent", MATCH), "value"),
    State(field("status", MATCH), "value"),
    State(field("note", MATCH), "value"),
    State(field("milestones", MATCH), "value"),
    prevent_initial_call=True,
)
def save(_clicks: int | None, percent: float | None, status: str | None, note: str | None,
         done: list[int] | None) -> Any:
    """Save the commitment whose button was clicked; say what was recorded, or why not."""
    settings = current_settings()
    commitment_id = str((ctx.triggered_id or {}).get("id", ""))
    stored = {c["id"]: c for c in commitments_for(settings, None, with_kpis=False)}
    if commitment_id not in stored:
        return html.P("This commitment is no longer there.", className="c360-error",
                      role="alert")
    data = {"id": commitment_id, "percent_complete": percent, "status": status,
            "note": note or "", "milestones": mark_milestones(
                stored[commitment_id]["milestones"], done or [], local_today(settings))}
    try:
        save_commitment(settings, current_principal(), data)
    except (PermissionError, ValueError) as error:
        return html.P(str(error), className="c360-error", role="alert")
    said = STATUS_WORDS.get(status or "", status)
    return html.P(f"Saved: {said}, {percent:g} % complete. The change is in the audit log "
                  "and on the public page.")
