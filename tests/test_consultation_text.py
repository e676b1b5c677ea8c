"""Consultations written by hand (``dashboard.consultation_text``): the questions' text
format (every kind, both languages, required marks, option keys by position, and each
mistake refused with its line number), local dates and times turned into UTC moments, the
staff form's survey, surveys read from YAML, and whole-day shifts across summer time."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from dashboard.consultation_text import (
    EXAMPLE,
    local_moment,
    parse_questions,
    shifted,
    survey_from_form,
    surveys_from_yaml,
)
from dashboard.consultations import check_survey

TZ = "Europe/Madrid"


def test_the_example_parses_into_every_kind_of_question() -> None:
    questions = parse_questions(EXAMPLE, "es", "en")
    assert [(q["id"], q["kind"], q["required"]) for q in questions] == [
        ("q1", "single", True), ("q2", "multiple", False), ("q3", "scale", False),
        ("q4", "text", False)]
    assert questions[0]["text"] == {"es": "¿Para qué usa la plaza?",
                                    "en": "What do you use the square for?"}
    assert questions[0]["options"] == [
        {"key": "o1", "label": {"es": "Jugar", "en": "Play"}},
        {"key": "o2", "label": {"es": "Descansar", "en": "Rest"}}]
    assert questions[1]["options"][1] == {"key": "o2", "label": {"es": "Bancos",
                                                                 "en": "Benches"}}
    assert (questions[2]["min"], questions[2]["max"]) == (1, 5)
    assert "options" not in questions[3] and "min" not in questions[3]
    # what check_survey takes, unchanged by it
    checked = check_survey({"id": "plaza", "title": {"es": "Plaza"}, "intro": "¿Cómo?",
                            "questions": questions,
                            "opens_at": datetime(2026, 11, 1, tzinfo=timezone.utc),
                            "closes_at": datetime(2026, 12, 1, tzinfo=timezone.utc)},
                           "es", set())
    assert checked["questions"] == questions


def test_english_is_optional_and_spacing_comments_and_case_are_free() -> None:
    text = """
    # the square
    SINGLE * :  ¿Viene a menudo?
      -Sí|Yes
      - No
    scale 0-10*: ¿Cuánto? | How much?

    scale: ¿Y esto?
    multiple:¿Qué? | What?
    - A | 
    - B
    text*: ¿Algo: más? | Anything: else?
    """
    questions = parse_questions(text, "es", "en")
    assert questions[0] == {"id": "q1", "kind": "single", "required": True,
                            "text": {"es": "¿Viene a menudo?"},
                            "options": [{"key": "o1", "label": {"es": "Sí", "en": "Yes"}},
                                        {"key": "o2", "label": {"es": "No"}}]}
    assert (questions[1]["min"], questions[1]["max"], questions[1]["required"]) == (0, 10, True)
    assert (questions[2]["min"], questions[2]["max"]) == (1, 5)  # a scale without a range
    assert questions[3]["options"][0]["label"] == {"es": "A"}  # an empty English is none
    assert questions[4]["text"] == {"es": "¿Algo: más?", "en": "Anything: else?"}
    assert [q["id"] for q in questions] == ["q1", "q2", "q3", "q4", "q5"]


@pytest.mark.parametrize(("text", "message"), [
    ("", "line 1: no question yet"),
    ("# only a comment\n\n", "line 1: no question yet"),
    ("- Jugar | Play", "line 1: an option (- ...) belongs under a single or multiple question"),
    ("text: ¿Algo?\n- Sí", "line 2: an option (- ...) belongs under a single or multiple"),
    ("scale 1-5: ¿Cuánto?\n- Mucho", "line 2: an option"),
    ("single: ¿Qué?\n- A\nJugar | Play", "line 3: expected a question (kind: text) or an "
                                         "option (- text)"),
    ("single: ¿Qué?\n- A\n- B\npoll: ¿Qué?", "line 4: 'poll' is not a kind of question "
                                            "(single, multiple, scale, text)"),
    ("text: | Anything else?", "line 1: the question in es is missing"),
    ("text:", "line 1: the question in es is missing"),
    ("single: ¿Qué?\n- A\n- | B", "line 3: the option in es is missing"),
    ("text: a | b | c", "line 1: one | at most (es | en)"),
    ("single: ¿Qué?\n-  A\n- B | b | c", "line 3: one | at most"),
    ("text: " + "x" * 501, "line 1: at most 500 characters"),
    ("text: ¿Algo?\n\nsingle*: ¿Qué?\n- A", "line 3: a single question needs two options"),
    ("multiple: ¿Qué?\ntext: ¿Algo?", "line 1: a multiple question needs two options"),
    ("single 1-5: ¿Qué?\n- A\n- B", "line 1: only a scale has a range"),
    ("text: a\nscale 5-1: ¿Cuánto?", "line 2: a scale goes from 0 or more to 10 at most"),
    ("scale 3-3: ¿Cuánto?", "line 1: a scale goes"),
    ("scale 1-11: ¿Cuánto?", "line 1: a scale goes"),
    ("\n".join(f"text: {n}" for n in range(31)), "line 31: at most 30 questions"),
])
def test_each_mistake_is_one_line_naming_its_line(text: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_questions(text, "es", "en")
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_local_dates_and_times_become_utc_moments() -> None:
    assert local_moment("2026-11-23", "09:30", TZ, "opens") == datetime(
        2026, 11, 23, 8, 30, tzinfo=timezone.utc)  # CET
    assert local_moment("2026-07-01T00:00:00", "9:05", TZ, "opens") == datetime(
        2026, 7, 1, 7, 5, tzinfo=timezone.utc)  # CEST; the picker may send a time part
    for day, clock, words in [(None, "09:00", "opens: choose a date"),
                              ("23/11/2026", "09:00", "opens: choose a date"),
                              ("2026-11-23", "", "opens: a time as HH:MM"),
                              ("2026-11-23", "24:00", "opens: a time as HH:MM"),
                              ("2026-11-23", "9h", "opens: a time as HH:MM")]:
        with pytest.raises(ValueError, match=words):
            local_moment(day, clock, TZ, "opens")


def _form(**changes: Any) -> dict[str, Any]:
    return {"id": "plaza-nueva", "title": "Plaza nueva", "title_other": "New square",
            "intro": "¿Cómo la quiere?", "intro_other": "", "department": "Parques y Jardines",
            "district": "", "opens_day": "2026-11-23", "opens_time": "09:00",
            "closes_day": "2026-12-21", "closes_time": "23:59", "questions": EXAMPLE,
            **changes}


def test_the_staff_form_describes_a_survey() -> None:
    data = survey_from_form(_form(), "es", "en", TZ)
    assert data["title"] == {"es": "Plaza nueva", "en": "New square"}
    assert data["intro"] == {"es": "¿Cómo la quiere?"} and data["district_id"] is None
    assert data["opens_at"] == datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)
    assert data["closes_at"] == datetime(2026, 12, 21, 22, 59, tzinfo=timezone.utc)
    assert len(data["questions"]) == 4 and data["languages"] == ["en"]
    assert survey_from_form(_form(district="d1"), "es", "en", TZ)["district_id"] == "d1"
    with pytest.raises(ValueError, match="department: choose"):
        survey_from_form(_form(department=None), "es", "en", TZ)
    with pytest.raises(ValueError, match="closes: a time"):
        survey_from_form(_form(closes_time="late"), "es", "en", TZ)
    with pytest.raises(ValueError, match="line 1: 'poll'"):
        survey_from_form(_form(questions="poll: ¿Qué?"), "es", "en", TZ)


def test_surveys_from_yaml_one_a_list_or_under_consultations() -> None:
    one = """id: plaza\ntitle: {es: Plaza}\nintro: Algo\nopens_at: "2026-11-01T09:00:00+01:00"
closes_at: 2026-12-01T09:00:00+01:00\nquestions: [{kind: text, text: Algo}]\n"""
    [survey] = surveys_from_yaml(one)
    assert survey["opens_at"] == datetime(2026, 11, 1, 8, tzinfo=timezone.utc)
    assert survey["closes_at"] == datetime(2026, 12, 1, 8, tzinfo=timezone.utc)

    def item(margin: str) -> str:
        first, *rest = one.splitlines()
        return "".join([f"{margin}- {first}\n", *(f"{margin}  {line}\n" for line in rest)])

    listed = surveys_from_yaml(item(""))
    under = surveys_from_yaml("as_of: 2026-11-23\nconsultations:\n" + item("  "))
    assert listed == under == [survey]
    for text, words in [("a: [", "not YAML"), ("- 1\n- 2", "expected a consultation"),
                        ("consultations: []", "expected a consultation"),
                        (one.replace("+01:00\"", "\""), "plaza: opens_at: a date and time "
                                                        "with its offset"),
                        (one.replace('"2026-11-01T09:00:00+01:00"', "soon"),
                         "plaza: opens_at: not an ISO")]:
        with pytest.raises(ValueError, match=words):
            surveys_from_yaml(text)


def test_a_whole_day_shift_keeps_the_local_time_across_summer_time() -> None:
    before = datetime(2026, 10, 20, 7, 0, tzinfo=timezone.utc)  # 09:00 CEST
    assert shifted(before, 10, TZ) == datetime(2026, 10, 30, 8, 0, tzinfo=timezone.utc)
    assert shifted(before, -1, TZ) == datetime(2026, 10, 19, 7, 0, tzinfo=timezone.utc)
