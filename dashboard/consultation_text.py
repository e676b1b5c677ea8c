"""Consultations written by hand: the questions in a small text format (the staff page's
form), moments given as a local date and time, and surveys read from YAML (the CLI and the
demo). Everything here returns what ``dashboard.consultations.check_survey`` takes; errors
are one-line ValueErrors that say where (``line 4: ...``).

The question format (``EXAMPLE``): one question per line, its options below it;
``*`` after the kind marks a required question; ``| text`` adds the other language;
questions are numbered q1, q2... and options o1, o2... in order; blank lines and lines
starting with ``#`` are skipped.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from dashboard.consultations import KINDS, MAX_QUESTIONS

MAX_LINE_TEXT = 500
HEADER = re.compile(r"^(?P<kind>[A-Za-z]+)\s*(?P<star>\*)?\s*"
                    r"(?:(?P<low>\d+)\s*-\s*(?P<high>\d+))?\s*(?P<star2>\*)?\s*:(?P<text>.*)$")
CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
CHOICE_KINDS = ("single", "multiple")
EXAMPLE = """single*: ¿Para qué usa la plaza? | What do you use the square for?
- Jugar | Play
- Descansar | Rest
multiple: ¿Qué falta? | What is missing?
- Sombra | Shade
- Bancos | Benches
scale 1-5: ¿Cómo la valora? | How do you rate it?
text: ¿Algo más? | Anything else?"""


def _pair(raw: str, n: int, what: str, source: str, other: str) -> dict[str, str]:
    """``text | other text`` as ``{source: text, other: other text}``."""
    parts = [p.strip() for p in raw.split("|")]
    if len(parts) > 2:
        raise ValueError(f"line {n}: one | at most ({source} | {other})")
    if not parts[0]:
        raise ValueError(f"line {n}: the {what} in {source} is missing")
    if any(len(p) > MAX_LINE_TEXT for p in parts):
        raise ValueError(f"line {n}: at most {MAX_LINE_TEXT} characters")
    texts = {source: parts[0]}
    if len(parts) == 2 and parts[1]:
        texts[other] = parts[1]
    return texts


def _question(match: re.Match[str], n: int, number: int, source: str,
              other: str) -> dict[str, Any]:
    kind = match["kind"].lower()
    if kind not in KINDS:
        raise ValueError(f"line {n}: {match['kind']!r} is not a kind of question "
                         f"({', '.join(KINDS)})")
    question: dict[str, Any] = {"id": f"q{number}", "kind": kind,
                                "required": bool(match["star"] or match["star2"]),
                                "text": _pair(match["text"], n, "question", source, other)}
    if match["low"] is not None and kind != "scale":
        raise ValueError(f"line {n}: only a scale has a range")
    if kind == "scale":
        low = int(match["low"]) if match["low"] is not None else 1
        high = int(match["high"]) if match["high"] is not None else 5
        if not 0 <= low < high <= 10:
            raise ValueError(f"line {n}: a scale goes from 0 or more to 10 at most, "
                             f"low before high (e.g. scale 1-5)")
        question.update(min=low, max=high)
    if kind in CHOICE_KINDS:
        question["options"] = []
    return question


def parse_questions(text: str, source: str, other: str) -> list[dict[str, Any]]:
    """The questions written in the format above (``source``: the city's language, written
    first; ``other``: the one after ``|``). ValueError naming the line of the first mistake."""
    questions: list[dict[str, Any]] = []
    started: dict[int, int] = {}  # question index -> its line
    for n, line in enumerate((text or "").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-"):
            if not questions or "options" not in questions[-1]:
                raise ValueError(f"line {n}: an option (- ...) belongs under a single or "
                                 "multiple question")
            options = questions[-1]["options"]
            options.append({"key": f"o{len(options) + 1}",
                            "label": _pair(line[1:], n, "option", source, other)})
            continue
        match = HEADER.match(line)
        if match is None:
            raise ValueError(f"line {n}: expected a question (kind: text) or an option "
                             "(- text)")
        if len(questions) == MAX_QUESTIONS:
            raise ValueError(f"line {n}: at most {MAX_QUESTIONS} questions")
        started[len(questions)] = n
        questions.append(_question(match, n, len(questions) + 1, source, other))
    if not questions:
        raise ValueError("line 1: no question yet (e.g. single: ¿...? | ...?)")
    for index, question in enumerate(questions):
        if "options" in question and len(question["options"]) < 2:
            raise ValueError(f"line {started[index]}: a {question['kind']} question needs "
                             "two options or more (- ...)")
    return questions


def local_moment(day: str | None, clock: str | None, tz: str, what: str) -> datetime:
    """A local date (``2026-11-23``) and time (``09:30``) in ``tz`` as an aware UTC moment;
    ValueError naming ``what`` when either is missing or wrong."""
    try:
        when = date.fromisoformat(str(day or "")[:10])
    except ValueError:
        raise ValueError(f"{what}: choose a date") from None
    found = CLOCK.match(str(clock or "").strip())
    if found is None:
        raise ValueError(f"{what}: a time as HH:MM (e.g. 09:00)")
    local = datetime.combine(when, time(int(found[1]), int(found[2])), ZoneInfo(tz))
    return local.astimezone(ZoneInfo("UTC"))


def survey_from_form(values: Mapping[str, Any], source: str, other: str,
                     tz: str) -> dict[str, Any]:
    """The survey the staff page's form describes (``values``: id, title, title_other,
    intro, intro_other, department, district, opens_day, opens_time, closes_day,
    closes_time, questions); ValueError for the first thing wrong."""
    def pair(name: str) -> dict[str, str]:
        given = {source: str(values.get(name) or "").strip(),
                 other: str(values.get(f"{name}_other") or "").strip()}
        return {lang: text for lang, text in given.items() if text}

    if not str(values.get("department") or "").strip():
        raise ValueError("department: choose the department that runs it")
    return {"id": str(values.get("id") or "").strip(), "title": pair("title"),
            "intro": pair("intro"),
            "department": str(values["department"]).strip(),
            "district_id": values.get("district") or None,
            "opens_at": local_moment(values.get("opens_day"), values.get("opens_time"), tz,
                                     "opens"),
            "closes_at": local_moment(values.get("closes_day"), values.get("closes_time"), tz,
                                      "closes"),
            "languages": [other],
            "questions": parse_questions(str(values.get("questions") or ""), source, other)}


def _moment(value: Any, where: str) -> datetime:
    """An ISO string (or YAML timestamp) with its offset, as an aware datetime."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{where}: not an ISO date and time") from None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueError(f"{where}: a date and time with its offset "
                         "(e.g. 2026-11-01T09:00:00+01:00)")
    return value


def surveys_from_yaml(text: str) -> list[dict[str, Any]]:
    """The surveys of a YAML document: one survey, a list of them, or ``consultations:``
    a list (fields as ``check_survey`` takes them; ``opens_at``/``closes_at`` ISO strings
    with their offset)."""
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ValueError(f"not YAML: {str(error).splitlines()[0]}") from None
    if isinstance(loaded, Mapping) and "consultations" in loaded:
        loaded = loaded["consultations"]
    items = [loaded] if isinstance(loaded, Mapping) else loaded
    if not isinstance(items, list) or not items or \
            not all(isinstance(i, Mapping) for i in items):
        raise ValueError("expected a consultation, a list of them or consultations: [...]")
    surveys = []
    for n, item in enumerate(items, start=1):
        name = str(item.get("id") or f"consultation {n}")
        surveys.append({**item, **{key: _moment(item.get(key), f"{name}: {key}")
                                   for key in ("opens_at", "closes_at")}})
    return surveys


def shifted(moment: datetime, days: int, tz: str) -> datetime:
    """``moment`` moved by whole ``days`` on the local calendar of ``tz`` (the same local
    time of day, across a change of summer time too)."""
    zone = ZoneInfo(tz)
    local = moment.astimezone(zone).replace(tzinfo=None) + timedelta(days=days)
    return local.replace(tzinfo=zone).astimezone(ZoneInfo("UTC"))
