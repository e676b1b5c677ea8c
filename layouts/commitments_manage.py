"""Keep the city's commitments (``/commitments/manage``, staff): each commitment a
department answers for, with a form to set its % complete, status and a public note, and
to mark milestones done (``callbacks.commitments_manage`` saves it through
``dashboard.commitments.save_commitment``, audited). Department heads see only their
departments' commitments. New ones come from a YAML file (``citylens commitments import``).
"""
from __future__ import annotations

from typing import Any

import dash
from dash import dcc, html

from dashboard.auth import DEPARTMENT_HEAD
from dashboard.auth.access import STAFF
from dashboard.auth.users import Principal
from dashboard.auth.web import current_principal
from dashboard.i18n import text_in
from dashboard.queries.commitments import commitments_for
from dashboard.settings import Settings
from layouts import current_settings, exact_time, ids
from layouts.commitment_parts import STATUS_WORDS

PAGE = "commitments-manage"


def pid(name: str) -> str:
    """A component id of this page."""
    return ids.page_id(PAGE, name)


def field(name: str, commitment_id: str) -> dict[str, str]:
    """Pattern-matching id of one of a commitment's form fields (``percent``, ``status``,
    ``note``, ``milestones``, ``save``, ``result``)."""
    return {"type": pid(name), "id": commitment_id}


def kept_by(settings: Settings, who: Principal) -> list[dict[str, Any]]:
    """The commitments ``who`` keeps: a department head's departments', else every one."""
    found = commitments_for(settings, None, with_kpis=False)
    if who.role == DEPARTMENT_HEAD:
        return [c for c in found if c["department"] in who.departments]
    return found


def milestone_options(item: dict[str, Any]) -> tuple[list[dict[str, Any]], list[int]]:
    """Checklist options of the milestones (by their index) and the indexes done."""
    options = [{"label": f"{text_in(m['title'], 'en')} (due {m['due']}"
                         + (f", done {m['done_on']})" if m.get("done_on") else ")"),
                "value": n} for n, m in enumerate(item["milestones"])]
    return options, [n for n, m in enumerate(item["milestones"]) if m.get("done_on")]


def commitment_form(item: dict[str, Any], tz: str) -> html.Section:
    """One commitment: where it stands, and the form that updates it."""
    cid = item["id"]
    options, done = milestone_options(item)
    place = item["district_name"] or "Whole city"
    state = f"{STATUS_WORDS.get(item['status'], item['status'])}, " \
            f"{item['percent_complete']:g} % complete" + (" · behind schedule"
                                                          if item["late"] else "")
    return html.Section(className="card commitments-manage__item",
                        **{"aria-labelledby": f"{PAGE}-{cid}-title"}, children=[
        html.H2(text_in(item["title"], "en"), id=f"{PAGE}-{cid}-title"),
        html.P(f"{item['department']} · {place} · {item['starts_on']} to {item['ends_on']}",
               className="section-hint"),
        html.P([html.Strong("Now: "), state, f" (updated {exact_time(item['updated_at'], tz)})"]),
        html.Div(className="commitments-manage__fields", children=[
            html.Label(["% complete",
                        dcc.Input(id=field("percent", cid), type="number", min=0, max=100,
                                  step=1, value=item["percent_complete"],
                                  className="c360-input")]),
            html.Label(["Public note (shown with this update in the progress history)",
                        dcc.Input(id=field("note", cid), type="text", maxLength=300, value="",
                                  className="c360-input")],
                       className="commitments-manage__note"),
        ]),
        html.Fieldset([html.Legend("Status"),
                       dcc.RadioItems(id=field("status", cid), value=item["status"],
                                      options=[{"label": label, "value": key}
                                               for key, label in STATUS_WORDS.items()],
                                      inline=True, className="commitments-manage__choices")]),
        html.Fieldset([html.Legend("Milestones done"),
                       dcc.Checklist(id=field("milestones", cid), options=options, value=done,
                                     className="commitments-manage__choices"),
                       None if options else html.P("None planned.", className="section-hint")]),
        html.Button("Save", id=field("save", cid), n_clicks=0, className="c360-button"),
        html.Div(id=field("result", cid), role="status", **{"aria-live": "polite"}),
    ])


def layout(**_query: Any) -> html.Div:
    """The commitments the signed-in member of staff keeps, each with its form."""
    settings = current_settings()
    who = current_principal()
    items = kept_by(settings, who)
    forms: list[Any] = [commitment_form(item, settings.timezone) for item in items] or [
        html.P("No commitments to keep yet.", className="empty-note")]
    return html.Div(className="page commitments-manage", children=[
        html.Div(className="page-head", children=[html.Div([
            html.H1("Commitments", className="page-head__title"),
            html.P(["Update how far along the city's projects and pledges are: residents see "
                    "them on ", html.A("the public page", href="/commitments"),
                    " and the kiosk. Each change of % complete or status adds a point to the "
                    "progress history; every save is in the audit log."],
                   className="page-head__subtitle"),
        ])]),
        html.P(["New commitments (and changes to titles, budgets or dates) are loaded from a "
                "YAML file: ", html.Code("citylens commitments import FILE.yaml"),
                " (see ", html.Code("data/commitments.example.yaml"), ")."],
               className="section-hint"),
        *forms,
    ])


dash.register_page(__name__, path="/commitments/manage", name="Commitments",
                   title="CityLens · Keep commitments", order=7, layout=layout, roles=STAFF,
                   callback_ids={f"{PAGE}-": STAFF})
