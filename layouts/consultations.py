"""Consultations for staff (``/consultations``): every consultation with its state, place,
dates and answers (a department head sees their departments' only), each linking to its
own view (``/consultations/<id>``, ``layouts/consultation_view.py``), and the form that
creates a new one (``layouts/consultation_form.py``).

The view is a function of the URL's query (``?state=open``); ``callbacks/consultations.py``
keeps table and URL in step and answers the form.
"""
from __future__ import annotations

from typing import Any

import dash
from dash import dcc, html

from dashboard.auth import DEPARTMENT_HEAD
from dashboard.auth.access import STAFF
from dashboard.auth.users import Principal
from dashboard.auth.web import current_principal
from dashboard.consultations import CLOSED, OPEN, UPCOMING
from dashboard.queries.consultations import surveys_for
from dashboard.settings import Settings
from layouts import clean_query, exact_time, format_number
from layouts.consultation_form import new_consultation_form
from layouts.consultation_parts import (
    STAFF_LANG,
    fresh_settings,
    pid,
    place,
    state_badge,
    survey_href,
)
from layouts.resident import named

STATES = {"": "All", OPEN: "Open", UPCOMING: "Upcoming", CLOSED: "Closed"}


def visible_surveys(settings: Settings, who: Principal) -> list[dict[str, Any]]:
    """The consultations ``who`` may see: a department head's departments', else all."""
    found = surveys_for(settings)
    if who.role == DEPARTMENT_HEAD:
        return [s for s in found if s["department"] in who.departments]
    return found


def surveys_table(surveys: list[dict[str, Any]], tz: str, state: str | None = None
                  ) -> html.Div:
    """One row per consultation (``state``: only those in it), newest closing first."""
    shown = [s for s in surveys if not state or s["state"] == state]
    if not shown:
        words = "No consultations yet: create one below." if not surveys else \
            f"No {STATES.get(state or '', '').lower()} consultations."
        return html.Div(words, className="empty-note", id=pid("empty"))
    head = html.Thead(html.Tr([html.Th(h, scope="col") for h in (
        "Consultation", "State", "Where", "Department", "Opens", "Closes")]
        + [html.Th("Answers", scope="col", className="num")]))
    rows = [html.Tr(className="consultations-row", children=[
        html.Th([dcc.Link(named(s["title"], STAFF_LANG), href=survey_href(s["id"])),
                 html.Div(s["id"], className="consultations-row__id")], scope="row"),
        html.Td(state_badge(s["state"])),
        html.Td(place(s)),
        html.Td(s["department"] or "–"),
        html.Td(exact_time(s["opens_at"], tz)),
        html.Td(exact_time(s["closes_at"], tz)),
        html.Td(format_number(s["answers"]), className="num"),
    ]) for s in shown]
    return html.Div(html.Table([head, html.Tbody(rows)],
                               className="data-table consultations-table"),
                    className="table-scroll")


def summary(surveys: list[dict[str, Any]]) -> str:
    """``2 open · 1 upcoming · 3 closed``."""
    counts = {key: sum(s["state"] == key for s in surveys) for key in (OPEN, UPCOMING, CLOSED)}
    return " · ".join(f"{n} {STATES[key].lower()}" for key, n in counts.items())


def state_filter(state: str | None) -> html.Div:
    """Show all consultations, or those open, upcoming or closed."""
    return html.Div(className="filter-bar", children=[html.Div(
        [html.Span("Show", id=pid("state-label"), className="filter-bar__label"),
         dcc.RadioItems(id=pid("state"), value=state or "", inline=True,
                        className="segmented", inputClassName="segmented__input",
                        labelClassName="segmented__option",
                        options=[{"label": label, "value": key}
                                 for key, label in STATES.items()])],
        className="filter-bar__field", role="group",
        **{"aria-labelledby": pid("state-label")})])


def layout(**query: Any) -> html.Div:
    """The consultations page for the URL's query."""
    settings = fresh_settings()
    who = current_principal()
    surveys = visible_surveys(settings, who)
    state = clean_query(query.get("state"), {OPEN, UPCOMING, CLOSED})
    scope = ("your departments' consultations" if who.role == DEPARTMENT_HEAD
             else "every consultation of the city")
    return html.Div(className="page consultations-page", children=[
        dcc.Location(id=pid("url"), refresh=False),
        html.Div(className="page-head", children=[
            html.Div([html.H1("Consultations", className="page-head__title"),
                      html.P(f"Residents answer them at /participate and on the kiosk · "
                             f"{scope} · {summary(surveys)}", id=pid("subtitle"),
                             className="page-head__subtitle")]),
            state_filter(state),
        ]),
        html.Section(className="card", children=[
            html.Div([html.H2(["Consultations ",
                               html.Span(str(len(surveys)), className="count-pill")],
                              className="card__title")], className="card-head"),
            html.P("Results are public once a consultation closes; here you see them while "
                   "it is open, and the free-text answers awaiting your decision.",
                   className="section-hint"),
            html.Div(surveys_table(surveys, settings.timezone, state), id=pid("table")),
        ]),
        new_consultation_form(settings, who),
    ])


dash.register_page(__name__, path="/consultations", name="Consultations",
                   title="CityLens · Consultations", order=6, layout=layout, roles=STAFF,
                   callback_ids={"consultations-": STAFF})
