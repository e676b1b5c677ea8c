"""What pages read of consultations: the surveys of a district (its own and the city's),
one survey, whether a device already answered, and the results: counts per option, the
scale's spread and mean, and the free texts staff approved (staff see the queue too).
Results are public only once a survey closes; staff see them while it is open."""
from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import Connection, func, or_, select

from dashboard.consultations import APPROVED, CLOSED, PENDING, SCOPE, state_of
from dashboard.model import District, Survey, SurveyAnswer, SurveyText
from dashboard.queries.base import DISTRICTS, cached
from dashboard.settings import Settings
from dashboard.store import get_engine
from dashboard.queries.places import in_place

SCOPES = (SCOPE, *DISTRICTS)
MAX_TEXTS_SHOWN = 200


def _summary(row: Any, answers: int, now: Any) -> dict[str, Any]:
    return {"id": row.id, "title": row.title, "intro": row.intro,
            "department": row.department, "district_id": row.district_id,
            "district_name": row.district_name, "opens_at": row.opens_at.isoformat(),
            "closes_at": row.closes_at.isoformat(), "languages": row.languages,
            "state": state_of(row.opens_at, row.closes_at, now), "answers": answers}


def _surveys(conn: Connection, now: Any, *where: Any) -> list[dict[str, Any]]:
    counts = (select(SurveyAnswer.survey_id, func.count().label("n"))
              .group_by(SurveyAnswer.survey_id).subquery())
    stmt = (select(Survey.id, Survey.title, Survey.intro, Survey.department,
                   Survey.district_id, District.name.label("district_name"), Survey.opens_at,
                   Survey.closes_at, Survey.languages, func.coalesce(counts.c.n, 0))
            .outerjoin(District, District.id == Survey.district_id)
            .outerjoin(counts, counts.c.survey_id == Survey.id).where(*where)
            .order_by(Survey.closes_at.desc(), Survey.id))
    return [_summary(row, int(row[-1]), now) for row in conn.execute(stmt)]


def surveys_for(settings: Settings, district: str | None = None,
                department: str | None = None) -> list[dict[str, Any]]:
    """The consultations of ``district`` and the whole city's (every one when None),
    newest closing first; ``department`` narrows to one department's."""
    now = settings.current_time()

    def compute(conn: Connection) -> list[dict[str, Any]]:
        where = []
        if district:
            where.append(or_(in_place(Survey.district_id, district), Survey.district_id.is_(None)))
        if department:
            where.append(Survey.department == department)
        return _surveys(conn, now, *where)

    params = {"district": district, "department": department,
              "minute": int(now.timestamp()) // 60}
    return cached(settings, "surveys_for", params, compute, SCOPES)


def survey(settings: Settings, survey_id: str) -> dict[str, Any] | None:
    """One consultation with its questions (None: none such)."""
    now = settings.current_time()
    with get_engine(settings.resolved_database_url).connect() as conn:
        found = _surveys(conn, now, Survey.id == survey_id)
        questions = conn.execute(select(Survey.questions).where(Survey.id == survey_id)
                                 ).scalar()
    return {**found[0], "questions": questions or []} if found else None


def has_answered(settings: Settings, survey_id: str, device: str | None) -> bool:
    """Whether ``device`` (its key) already answered the survey."""
    if not device:
        return False
    with get_engine(settings.resolved_database_url).connect() as conn:
        return conn.execute(select(SurveyAnswer.id).where(
            SurveyAnswer.survey_id == survey_id, SurveyAnswer.device == device)
        ).first() is not None


def _tally(question: dict[str, Any], values: list[Any]) -> dict[str, Any]:
    """Counts of a choice question, or the spread and mean of a scale."""
    if question["kind"] == "scale":
        numbers = [int(v) for v in values if isinstance(v, (int, float))]
        spread = Counter(numbers)
        return {"answered": len(numbers),
                "counts": {str(n): spread.get(n, 0)
                           for n in range(question["min"], question["max"] + 1)},
                "mean": round(sum(numbers) / len(numbers), 2) if numbers else None}
    chosen = Counter(key for v in values if isinstance(v, list) for key in v)
    return {"answered": sum(1 for v in values if v),
            "counts": {o["key"]: chosen.get(o["key"], 0) for o in question["options"]}}


def survey_results(settings: Settings, survey_id: str, staff: bool = False
                   ) -> dict[str, Any] | None:
    """Per question: counts (choices), spread and mean (scales), approved texts (free text;
    with ``staff`` also the number awaiting moderation). Public callers get None until the
    survey closes; staff always."""
    found = survey(settings, survey_id)
    if found is None or (not staff and found["state"] != CLOSED):
        return None

    def compute(conn: Connection) -> dict[str, Any]:
        answers = [a for (a,) in conn.execute(select(SurveyAnswer.answers).where(
            SurveyAnswer.survey_id == survey_id))]
        texts = conn.execute(select(SurveyText.question_id, SurveyText.text)
                             .where(SurveyText.survey_id == survey_id,
                                    SurveyText.moderation == APPROVED)
                             .order_by(SurveyText.id)).all()
        waiting = Counter(q for (q,) in conn.execute(select(SurveyText.question_id).where(
            SurveyText.survey_id == survey_id, SurveyText.moderation == PENDING)))
        results = []
        for question in found["questions"]:
            if question["kind"] == "text":
                shown = [t for q, t in texts if q == question["id"]]
                item = {"answered": len(shown) + waiting.get(question["id"], 0),
                        "texts": shown[:MAX_TEXTS_SHOWN]}
                if staff:
                    item["awaiting"] = waiting.get(question["id"], 0)
            else:
                item = _tally(question, [a.get(question["id"]) for a in answers])
            results.append({"question": question, **item})
        return {"survey": found, "answers": len(answers), "questions": results}

    return cached(settings, "survey_results", {"id": survey_id, "staff": staff}, compute,
                  SCOPES)


def texts_to_moderate(settings: Settings, survey_id: str, limit: int = 50
                      ) -> list[dict[str, Any]]:
    """The free-text answers awaiting a decision, oldest first (staff only)."""
    with get_engine(settings.resolved_database_url).connect() as conn:
        rows = conn.execute(select(SurveyText.id, SurveyText.question_id, SurveyText.text)
                            .where(SurveyText.survey_id == survey_id,
                                   SurveyText.moderation == PENDING)
                            .order_by(SurveyText.id).limit(limit)).all()
    return [{"id": r.id, "question_id": r.question_id, "text": r.text} for r in rows]
