"""The "New consultation" form of ``/consultations``: id, title and introduction in the
city's language and in English, department, district, when it opens and closes (local
time), and the questions in the small text format of ``dashboard.consultation_text``
with a live preview. ``callbacks/consultations.py`` previews and creates."""
from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dash import dcc, html

from dashboard.auth import DEPARTMENT_HEAD
from dashboard.auth.users import Principal
from dashboard.consultation_text import EXAMPLE
from dashboard.i18n import language_name
from dashboard.queries import district_options
from dashboard.queries.departments import department_options
from dashboard.queries.kiosk import source_language
from dashboard.settings import Settings
from layouts.consultation_parts import STAFF_LANG, pid
from layouts.resident import named

OTHER_LANG = "en"  # the second language of a consultation written here
KIND_NAMES = {"single": "One choice", "multiple": "Several choices", "scale": "Scale",
              "text": "Free text"}
# The form's fields, in the order the create callback reads them (``survey_from_form``).
FIELDS = ("id", "title", "title_other", "intro", "intro_other", "department", "district",
          "opens_day", "opens_time", "closes_day", "closes_time", "questions")


def field_id(name: str) -> str:
    """The component id of one form field (``consultations-new-<name>``)."""
    return pid("new-" + name.replace("_", "-"))


def value_prop(name: str) -> str:
    """The property holding a field's value (the date pickers' is ``date``)."""
    return "date" if name.endswith("_day") else "value"


def _field(label: str, control: Any, name: str, hint: str = "", wide: bool = False
           ) -> html.Div:
    parts: list[Any] = [html.Label(label, htmlFor=field_id(name), className="filter-bar__label"),
                        control]
    if hint:
        parts.append(html.Small(hint, className="consultations-form__hint"))
    return html.Div(parts, className="consultations-form__field"
                    + (" consultations-form__field--wide" if wide else ""))


def _moment(label: str, name: str, day: str, clock: str) -> html.Div:
    """A date picker and an ``HH:MM`` time in the city's time zone."""
    return html.Div(className="consultations-form__field", role="group",
                    **{"aria-labelledby": field_id(name) + "-label"}, children=[
        html.Span(label, id=field_id(name) + "-label", className="filter-bar__label"),
        html.Div(className="consultations-form__moment", children=[
            dcc.DatePickerSingle(id=field_id(f"{name}_day"), date=day, first_day_of_week=1,
                                 display_format="D MMM YYYY",
                                 className="consultations-form__date"),
            html.Label(f"{label}: time (HH:MM)", htmlFor=field_id(f"{name}_time"),
                       className="visually-hidden"),
            dcc.Input(id=field_id(f"{name}_time"), value=clock, type="text",
                      pattern=r"[0-2]?[0-9]:[0-5][0-9]", placeholder="HH:MM",
                      maxLength=5, className="c360-input consultations-form__time"),
        ])])


def departments_for(settings: Settings, who: Principal) -> list[str]:
    """The departments ``who`` may create consultations for."""
    names = [d["name"] for d in department_options(settings)]
    return [n for n in names if n in who.departments] if who.role == DEPARTMENT_HEAD \
        else names


def new_consultation_form(settings: Settings, who: Principal) -> html.Section:
    """The card with the form, the format of the questions and their preview."""
    source = source_language(settings)
    src, other = language_name(source, STAFF_LANG), language_name(OTHER_LANG, STAFF_LANG)
    today = settings.current_time().astimezone(ZoneInfo(settings.timezone)).date()
    departments = departments_for(settings, who)
    text_input: dict[str, Any] = {"type": "text", "className": "c360-input"}
    return html.Section(className="card consultations-new", id=pid("new"), children=[
        html.H2("New consultation", className="card__title"),
        html.P(f"Write each text in {src}, the city's language, and in {other}. Residents "
               "answer while it is open, once per phone or computer; its results become "
               f"public when it closes. Times are the city's ({settings.timezone}).",
               className="section-hint"),
        html.Div(className="consultations-form", children=[
            _field("Id", dcc.Input(id=field_id("id"), placeholder="plaza-de-pombo-2027",
                                   maxLength=100, **text_input), "id",
                   "Lower-case letters, digits and -; its public page is /participate/<id>."),
            _field("Department", dcc.Dropdown(
                id=field_id("department"), options=departments, clearable=False,
                value=departments[0] if len(departments) == 1 else None,
                placeholder="Choose a department"), "department"),
            _field("District", dcc.Dropdown(
                id=field_id("district"), clearable=False, value="",
                options=[{"label": "Whole city", "value": ""}]
                + [{"label": d["name"], "value": d["id"]} for d in district_options(settings)]),
                "district"),
            _field(f"Title in {src}", dcc.Input(id=field_id("title"), maxLength=200,
                                                **text_input), "title"),
            _field(f"Title in {other}", dcc.Input(id=field_id("title_other"), maxLength=200,
                                                  **text_input), "title_other"),
            _moment("Opens", "opens", today.isoformat(), "09:00"),
            _field(f"Introduction in {src}", dcc.Textarea(
                id=field_id("intro"), maxLength=500, className="c360-input"), "intro"),
            _field(f"Introduction in {other}", dcc.Textarea(
                id=field_id("intro_other"), maxLength=500, className="c360-input"),
                "intro_other"),
            _moment("Closes", "closes", (today + timedelta(days=28)).isoformat(), "23:59"),
        ]),
        html.Div(className="consultations-questions", children=[
            html.Div([
                _field("Questions", dcc.Textarea(
                    id=field_id("questions"), className="c360-input consultations-form__code",
                    placeholder="single*: ¿...? | ...?\n- ... | ...\n- ... | ...",
                    spellCheck="false"), "questions", wide=True),
                format_help(src, other),
            ]),
            html.Div([html.H3("Preview", className="consultations-preview__title"),
                      html.Div(preview([], None), id=pid("new-preview"),
                               **{"aria-live": "polite"})],
                     className="consultations-preview"),
        ]),
        html.Div(className="consultations-form__actions", children=[
            html.Button("Create consultation", id=pid("create"), n_clicks=0, type="button",
                        className="c360-button"),
            html.Div(id=pid("create-result"), role="status", **{"aria-live": "polite"}),
        ]),
    ])


def format_help(src: str, other: str) -> html.Details:
    """How to write the questions, with an example."""
    return html.Details(className="consultations-format", open=True, children=[
        html.Summary("How to write the questions"),
        html.Ul([
            html.Li(["One question per line: its kind (", html.Code("single"), ", ",
                     html.Code("multiple"), ", ", html.Code("scale 1-5"), " or ",
                     html.Code("text"), "), a colon, the question in ", src, " and, after ",
                     html.Code("|"), ", in ", other, "."]),
            html.Li(["Options of a single or multiple question below it, one a line: ",
                     html.Code("- Sombra | Shade"), "."]),
            html.Li(["A ", html.Code("*"), " after the kind makes the question required."]),
        ]),
        html.Pre(EXAMPLE, className="consultations-format__example"),
    ])


def _question_item(question: dict[str, Any]) -> html.Li:
    kind = KIND_NAMES[question["kind"]]
    if question["kind"] == "scale":
        kind += f" {question['min']}–{question['max']}"
    parts: list[Any] = [
        html.Div([html.Span(kind, className="consultations-preview__kind"),
                  html.Span(" required" if question["required"] else " optional",
                            className="consultations-preview__required")]),
        html.Div(_both(question["text"]), className="consultations-preview__text")]
    if question.get("options"):
        parts.append(html.Ul([html.Li(_both(o["label"])) for o in question["options"]],
                             className="consultations-preview__options"))
    return html.Li(parts, className="consultations-preview__question")


def _both(texts: dict[str, str]) -> list[Any]:
    """Each language's text, the first one plain, the others after a slash."""
    parts: list[Any] = []
    for lang, words in texts.items():
        parts += [" / "] if parts else []
        parts.append(named({lang: words}, STAFF_LANG))
    return parts


def preview(questions: list[dict[str, Any]], error: str | None) -> Any:
    """The parsed questions, or the one-line error that stops them."""
    if error:
        return html.P(error, className="c360-error", role="alert", id=pid("new-error"))
    if not questions:
        return html.P("The questions appear here as you write them.",
                      className="section-hint")
    return html.Ol([_question_item(q) for q in questions],
                   className="consultations-preview__list")
