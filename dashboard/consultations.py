"""Consultations: surveys staff create (questions in each language: a choice of one, of
several, a scale, or free text; the whole city or one district; open between two moments)
and residents answer, one answer per device, with no personal data needed.

- A survey is checked as a whole before it is stored (``check_survey``); its questions
  cannot change once someone answered.
- An answer is checked against the questions (``check_answers``); its choices and numbers
  are counted at once, its free text waits for staff (``survey_texts``, moderation
  ``pending``) and is never shown before approval.
- The device is a keyed hash of a random cookie (``device_key``): the store cannot tell
  who answered, only that this browser already did.
- A resident who chooses to identify (an e-mail and their consent) gets the act recorded
  on their Citizen 360 timeline (``participation``); their answers stay anonymous.
"""
from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from dashboard.api.open311_intake import EMAIL, citizen_id_for
from dashboard.auth import DEPARTMENT_HEAD, audit
from dashboard.auth.access import STAFF
from dashboard.auth.users import Principal
from dashboard.model import Citizen, District, Participation, Survey, SurveyAnswer, SurveyText
from dashboard.settings import Settings
from dashboard.store import bump_data_version, get_engine

KINDS = ("single", "multiple", "scale", "text")
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,98}$")
KEY = re.compile(r"^[A-Za-z0-9_-]{1,60}$")
MAX_TEXT = 2000
MAX_QUESTIONS = 30
SCOPE = "surveys"  # the data version scope of consultations
UPCOMING, OPEN, CLOSED = "upcoming", "open", "closed"
PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"


class AlreadyAnswered(LookupError):
    """This device has already answered the survey."""


def state_of(opens_at: datetime, closes_at: datetime, now: datetime) -> str:
    """upcoming, open or closed at ``now``."""
    return UPCOMING if now < opens_at else OPEN if now < closes_at else CLOSED


def _texts(value: Any, where: str, source: str) -> dict[str, str]:
    """A text in several languages, with one in the city's ``source`` language."""
    if isinstance(value, str):
        value = {source: value}
    if not isinstance(value, Mapping) or not str(value.get(source) or "").strip():
        raise ValueError(f"{where}: a text in {source} is required")
    return {str(lang): str(text).strip()[:500] for lang, text in value.items() if text}


def _question(raw: Any, n: int, source: str) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise ValueError(f"question {n}: not a question")
    qid = str(raw.get("id") or f"q{n}")
    kind = str(raw.get("kind") or "")
    if not KEY.match(qid):
        raise ValueError(f"question {n}: id {qid!r} is not letters, digits, - or _")
    if kind not in KINDS:
        raise ValueError(f"question {qid}: kind {kind!r} is not one of {', '.join(KINDS)}")
    question: dict[str, Any] = {"id": qid, "kind": kind, "required": bool(raw.get("required")),
                                "text": _texts(raw.get("text"), f"question {qid}", source)}
    if kind in ("single", "multiple"):
        options: list[dict[str, Any]] = [
            {"key": str(o.get("key") or f"o{i}"),
             "label": _texts(o.get("label"), f"question {qid} option {i}", source)}
            for i, o in enumerate(raw.get("options") or [], start=1) if isinstance(o, Mapping)]
        keys = [o["key"] for o in options]
        if len(options) < 2 or len(set(keys)) != len(keys) or \
                not all(KEY.match(k) for k in keys):
            raise ValueError(f"question {qid}: two or more options with distinct keys")
        question["options"] = options
    elif kind == "scale":
        low, high = int(raw.get("min", 1)), int(raw.get("max", 5))
        if not 0 <= low < high <= 10:
            raise ValueError(f"question {qid}: a scale from 0..9 to 1..10")
        question.update(min=low, max=high)
        for end in ("low", "high"):
            if raw.get(end):
                question[end] = _texts(raw[end], f"question {qid} {end} end", source)
    return question


def check_survey(data: Mapping[str, Any], source: str, districts: set[str]) -> dict[str, Any]:
    """A survey's row from ``data`` (id, title, intro, department, district, opens_at,
    closes_at, languages, questions); a one-line ValueError for the first thing wrong."""
    survey_id = str(data.get("id") or "")
    if not SLUG.match(survey_id):
        raise ValueError(f"id {survey_id!r}: lower-case letters, digits and -")
    opens, closes = data.get("opens_at"), data.get("closes_at")
    if not isinstance(opens, datetime) or not isinstance(closes, datetime) or \
            opens.tzinfo is None or closes.tzinfo is None:
        raise ValueError("opens_at and closes_at: moments with their time zone")
    if closes <= opens:
        raise ValueError("closes_at must come after opens_at")
    district = data.get("district_id") or None
    if district is not None and district not in districts:
        raise ValueError(f"district {district!r} is not a district of this city")
    questions = [_question(q, n, source)
                 for n, q in enumerate(data.get("questions") or [], start=1)]
    if not questions or len(questions) > MAX_QUESTIONS:
        raise ValueError(f"between 1 and {MAX_QUESTIONS} questions")
    if len({q["id"] for q in questions}) != len(questions):
        raise ValueError("two questions share an id")
    languages = sorted({source, *(str(x) for x in data.get("languages") or [])})
    return {"id": survey_id, "title": _texts(data.get("title"), "title", source),
            "intro": _texts(data["intro"], "intro", source) if data.get("intro") else {},
            "department": str(data.get("department") or ""), "district_id": district,
            "opens_at": opens, "closes_at": closes, "languages": languages,
            "questions": questions}


def save_survey(settings: Settings, who: Principal, data: Mapping[str, Any],
                source: str) -> str:
    """Create or update a survey as ``who`` (staff; a department head for their own
    departments); its questions are fixed once answered. Audited; returns its id."""
    if who.role not in STAFF:
        raise PermissionError("only staff create consultations")
    with get_engine(settings.resolved_database_url).begin() as conn:
        districts = set(conn.execute(select(District.id)).scalars())
        row = check_survey(data, source, districts)
        if who.role == DEPARTMENT_HEAD and row["department"] not in who.departments:
            raise PermissionError("a department head creates consultations of their "
                                  "own departments")
        now = settings.current_time()
        stored = conn.execute(select(Survey.questions).where(Survey.id == row["id"])).first()
        if stored is None:
            conn.execute(insert(Survey).values(**row, created_by=who.username, created_at=now))
        else:
            answered = conn.execute(select(SurveyAnswer.id).where(
                SurveyAnswer.survey_id == row["id"]).limit(1)).first()
            if answered is not None and stored.questions != row["questions"]:
                raise ValueError(f"{row['id']}: its questions cannot change once answered")
            conn.execute(update(Survey).where(Survey.id == row["id"]).values(**row))
        audit.record(conn, who, "consultation", row["id"],
                     "created the consultation" if stored is None else "changed it", now)
        bump_data_version(conn, {SCOPE})
    return str(row["id"])


def _choice(question: Mapping[str, Any], value: Any) -> list[str] | float | None:
    qid, kind = question["id"], question["kind"]
    values = value if isinstance(value, list) else [] if value in (None, "") else [value]
    if not values:
        return None
    if kind == "scale":
        try:
            number = float(values[0])
        except (TypeError, ValueError):
            raise ValueError(f"{qid}: a number") from None
        if len(values) > 1 or not question["min"] <= number <= question["max"] \
                or number != int(number):
            raise ValueError(f"{qid}: a whole number from {question['min']} to "
                             f"{question['max']}")
        return number
    keys = {o["key"] for o in question["options"]}
    chosen = [str(v) for v in values]
    if any(v not in keys for v in chosen) or len(set(chosen)) != len(chosen):
        raise ValueError(f"{qid}: choose among its options")
    if kind == "single" and len(chosen) > 1:
        raise ValueError(f"{qid}: one option only")
    return chosen


def check_answers(questions: Sequence[Mapping[str, Any]], given: Mapping[str, Any]
                  ) -> tuple[dict[str, Any], dict[str, str]]:
    """(choices and numbers by question, free texts by question) of ``given``: every
    required question answered, nothing that is not a question; one-line ValueError."""
    by_id = {q["id"]: q for q in questions}
    unknown = sorted(set(given) - set(by_id))
    if unknown:
        raise ValueError(f"{unknown[0]!r} is not a question of this consultation")
    choices: dict[str, Any] = {}
    texts: dict[str, str] = {}
    for question in questions:
        value = given.get(question["id"])
        if question["kind"] == "text":
            text = str(value or "").strip()
            if len(text) > MAX_TEXT:
                raise ValueError(f"{question['id']}: at most {MAX_TEXT} characters")
            if text:
                texts[question["id"]] = text
            answered = bool(text)
        else:
            chosen = _choice(question, value)
            if chosen is not None:
                choices[question["id"]] = chosen
            answered = chosen is not None
        if question["required"] and not answered:
            raise ValueError(f"{question['id']}: this question needs an answer")
    if not choices and not texts:
        raise ValueError("no question was answered")
    return choices, texts


def device_key(secret: str, token: str) -> str:
    """The store's name for a device: a keyed hash of its random cookie."""
    return hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()


def _participation(conn: Connection, survey: Any, email: str, channel: str,
                   now: datetime, source: str) -> None:
    """Record that the resident of ``email`` took part (their Citizen 360), nothing more."""
    if not EMAIL.match(email):
        raise ValueError(f"email: {email[:60]!r} is not an e-mail address")
    citizen = citizen_id_for(email, "")
    assert citizen is not None
    if conn.execute(select(Citizen.id).where(Citizen.id == citizen)).first() is None:
        conn.execute(insert(Citizen).values(id=citizen, name="(no name given)", email=email))
    conn.execute(insert(Participation).values(
        id=f"{survey.id}:{citizen}", citizen_id=citizen, kind="consultation",
        topic=str(survey.title.get(source) or survey.id)[:200], channel=channel,
        district_id=survey.district_id, time=now))


def record_answer(settings: Settings, survey_id: str, device: str, given: Mapping[str, Any],
                  channel: str = "web", email: str = "", source: str = "es") -> int:
    """Store one device's answers to an open survey; its id. ValueError (wrong answers,
    not open, no such survey) or AlreadyAnswered; nothing is stored then. With ``email``
    (given with the resident's consent) the act goes on their Citizen 360 timeline."""
    now = settings.current_time()
    with get_engine(settings.resolved_database_url).begin() as conn:
        survey = conn.execute(select(Survey).where(Survey.id == survey_id)).first()
        if survey is None:
            raise ValueError(f"no consultation {survey_id!r}")
        if state_of(survey.opens_at, survey.closes_at, now) != OPEN:
            raise ValueError(f"consultation {survey_id!r} is not open")
        choices, texts = check_answers(survey.questions, given)
        try:
            with conn.begin_nested():
                answer_id = conn.execute(insert(SurveyAnswer).values(
                    survey_id=survey_id, device=device, channel=channel, submitted_at=now,
                    answers=choices).returning(SurveyAnswer.id)).scalar_one()
                if email:
                    _participation(conn, survey, email.strip(), channel, now, source)
        except IntegrityError:
            raise AlreadyAnswered(f"this device already answered {survey_id!r}") from None
        if texts:
            conn.execute(insert(SurveyText), [
                {"survey_id": survey_id, "answer_id": answer_id, "question_id": qid,
                 "text": text, "moderation": PENDING} for qid, text in texts.items()])
        bump_data_version(conn, {SCOPE})
    return int(answer_id)


def moderate_text(settings: Settings, who: Principal, text_id: int, decision: str) -> str:
    """Staff approve ("approve") or keep private ("reject") a free-text answer. Audited."""
    if who.role not in STAFF:
        raise PermissionError("only staff moderate what residents wrote")
    state = {"approve": APPROVED, "reject": REJECTED}.get(decision)
    if state is None:
        raise ValueError(f"unknown decision {decision!r}")
    with get_engine(settings.resolved_database_url).begin() as conn:
        row = conn.execute(select(SurveyText.survey_id, Survey.department)
                           .join(Survey, Survey.id == SurveyText.survey_id)
                           .where(SurveyText.id == text_id)).first()
        if row is None or (who.role == DEPARTMENT_HEAD and row.department not in
                           who.departments):
            raise LookupError(f"no answer {text_id} that you may see")
        conn.execute(update(SurveyText).where(SurveyText.id == text_id)
                     .values(moderation=state))
        audit.record(conn, who, "moderate", f"{row.survey_id}#{text_id}",
                     f"{state} a consultation answer", settings.current_time())
        bump_data_version(conn, {SCOPE})
    return state
