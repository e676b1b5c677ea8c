"""The demo city's consultations: ``data/consultations.example.yaml``, its dates moved by
whole days so that its ``as_of`` day is the demo's last day (one closed a month ago, one
open now), with answers from a few hundred distinct devices drawn from the weights the
file gives (options' ``weight``, a scale's ``weights``, ``demo:``), free texts some
approved, some kept private and some awaiting staff, and the demo residents who chose to
identify themselves on their Citizen 360 timeline. Deterministic in the seed and the end."""
from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import yaml
from sqlalchemy import Connection, delete, func, insert, or_, select

from dashboard.consultation_text import shifted, surveys_from_yaml
from dashboard.consultations import (
    APPROVED,
    PENDING,
    REJECTED,
    check_answers,
    check_survey,
    device_key,
)
from dashboard.demo.clock import rng
from dashboard.model import Citizen, District, Participation, Survey, SurveyAnswer, SurveyText
from dashboard.queries.kiosk import source_language
from dashboard.settings import DATA_DIR, Settings

EXAMPLE_FILE = DATA_DIR / "consultations.example.yaml"
IDENTIFIED = 20  # demo residents who gave their e-mail, over every consultation
OPTIONAL_ANSWERED = 0.85  # how often an optional choice or scale is answered
PHONE = re.compile(r"\d{3}[ .]?\d{3}[ .]?\d{3}")
DEMO_AUTHOR = "citylens-demo"


def _pick(gen: np.random.Generator, weights: list[float]) -> int:
    """An index drawn with chances proportional to ``weights``."""
    share = np.asarray(weights, dtype=float)
    return int(gen.choice(share.size, p=share / share.sum()))


def _given(gen: np.random.Generator, question: Mapping[str, Any]) -> Any:
    """One simulated answer to a choice or scale question (None: left blank)."""
    if not question.get("required") and gen.random() > OPTIONAL_ANSWERED:
        return None
    if question["kind"] == "scale":
        low, high = int(question.get("min", 1)), int(question.get("max", 5))
        weights = question.get("weights") or [1] * (high - low + 1)
        return low + _pick(gen, weights)
    options = question["options"]
    weights = [float(o.get("weight", 1)) for o in options]
    if question["kind"] == "single":
        return options[_pick(gen, weights)]["key"]
    chosen = [o["key"] for o, w in zip(options, weights, strict=True)
              if gen.random() < w / 100]
    return chosen or [options[_pick(gen, weights)]["key"]]


def _moderation(gen: np.random.Generator, text: str, demo: Mapping[str, Any]) -> str:
    """What staff decided on ``text`` (one giving a phone number is never published)."""
    draw = gen.random()
    if draw < float(demo.get("approved", 0.5)):
        return PENDING if PHONE.search(text) else APPROVED
    if draw < float(demo.get("approved", 0.5)) + float(demo.get("rejected", 0.1)):
        return REJECTED
    return PENDING


def _answers(raw: Mapping[str, Any], row: Mapping[str, Any], seed: int,
             end: datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The answer rows of one survey and its free texts (with the device they belong to)."""
    demo = raw.get("demo") or {}
    opens, closes = row["opens_at"], row["closes_at"]
    window = (min(closes, end) - opens).total_seconds()
    if window <= 0 or not demo.get("answers"):
        return [], []
    gen = rng(seed, "consultation", row["id"])
    count = int(demo["answers"])
    channels = dict(demo.get("channels") or {"web": 1})
    moments = np.sort(gen.random(count) ** 1.4) * window  # more answers early on
    texts = list(demo.get("texts") or [])
    writers = set(gen.choice(count, size=min(len(texts), count), replace=False).tolist())
    order = iter(gen.permutation(len(texts)).tolist())
    free = [q["id"] for q in row["questions"] if q["kind"] == "text"]
    answers, written = [], []
    for n in range(count):
        given = {q["id"]: value for q in raw["questions"] if q["kind"] != "text"
                 and (value := _given(gen, q)) is not None}
        if n in writers and free:
            text = texts[next(order)]
            given[free[0]] = text
        choices, said = check_answers(row["questions"], given)
        device = device_key(f"demo-{seed}", f"{row['id']}-{n}")
        answers.append({"survey_id": row["id"], "device": device,
                        "channel": list(channels)[_pick(gen, list(channels.values()))],
                        "submitted_at": opens + timedelta(seconds=int(moments[n])),
                        "answers": choices})
        written += [{"device": device, "question_id": qid, "text": text,
                     "moderation": _moderation(gen, text, demo)} for qid, text in said.items()]
    return answers, written


def _store(conn: Connection, row: dict[str, Any], answers: list[dict[str, Any]],
           texts: list[dict[str, Any]]) -> None:
    """Replace the survey ``row`` and its answers (bulk inserts)."""
    conn.execute(delete(SurveyText).where(SurveyText.survey_id == row["id"]))
    conn.execute(delete(SurveyAnswer).where(SurveyAnswer.survey_id == row["id"]))
    conn.execute(delete(Participation).where(Participation.id.like(f"{row['id']}:%")))
    conn.execute(delete(Survey).where(Survey.id == row["id"]))
    conn.execute(insert(Survey).values(**row, created_by=DEMO_AUTHOR,
                                       created_at=row["opens_at"] - timedelta(days=3)))
    if answers:
        conn.execute(insert(SurveyAnswer), answers)
    ids = {device: answer_id for device, answer_id in conn.execute(
        select(SurveyAnswer.device, SurveyAnswer.id).where(SurveyAnswer.survey_id == row["id"]))}
    if texts:
        conn.execute(insert(SurveyText), [
            {"survey_id": row["id"], "answer_id": ids[t["device"]],
             **{k: t[k] for k in ("question_id", "text", "moderation")}} for t in texts])


def _identified(conn: Connection, row: Mapping[str, Any], answers: list[dict[str, Any]],
                who: list[str], source: str, seed: int) -> None:
    """Demo residents ``who`` took part (their Citizen 360), at the time of an answer."""
    if not answers or not who:
        return
    gen = rng(seed, "identified", row["id"])
    picked = gen.choice(len(answers), size=len(who), replace=False)
    conn.execute(insert(Participation), [
        {"id": f"{row['id']}:{citizen}", "citizen_id": citizen, "kind": "consultation",
         "topic": str(row["title"].get(source) or row["id"])[:200],
         "channel": answers[int(i)]["channel"], "district_id": row["district_id"],
         "time": answers[int(i)]["submitted_at"]} for citizen, i in zip(who, picked,
                                                                          strict=True)])


def add_demo_consultations(conn: Connection, settings: Settings, end: datetime,
                           seed: int) -> int:
    """Write the example consultations as at ``end`` (the demo's last hour), replacing the
    demo's earlier ones unless they are already as at this end; returns how many
    participation records they hold (residents who identified themselves)."""
    with open(EXAMPLE_FILE, encoding="utf-8") as handle:
        text = handle.read()
    as_of = yaml.safe_load(text)["as_of"]
    days = (end.astimezone(ZoneInfo(settings.timezone)).date() - as_of).days
    source = source_language(settings)
    districts = set(conn.execute(select(District.id)).scalars())
    citizens = conn.execute(select(Citizen.id).order_by(Citizen.id)).scalars().all()
    gen = rng(seed, "consultations", "identified")
    people = [str(c) for c in gen.choice(citizens, size=min(IDENTIFIED, len(citizens)),
                                         replace=False)] if citizens else []
    surveys = surveys_from_yaml(text)
    total = sum(int((s.get("demo") or {}).get("answers") or 0) for s in surveys) or 1
    everyone = len(people)
    for raw in surveys:
        moved = {**raw, "opens_at": shifted(raw["opens_at"], days, settings.timezone),
                 "closes_at": shifted(raw["closes_at"], days, settings.timezone)}
        row = check_survey(moved, source, districts)
        present = conn.execute(select(Survey.opens_at).where(Survey.id == row["id"])).scalar()
        if present == row["opens_at"]:
            continue  # already as at this end (a demo generated again)
        answers, texts = _answers(raw, row, seed, end)
        _store(conn, row, answers, texts)
        share = round(everyone * int((raw.get("demo") or {}).get("answers") or 0) / total)
        who, people = people[:share], people[share:]
        _identified(conn, row, answers, who, source, seed)
    return int(conn.execute(select(func.count()).select_from(Participation).where(
        or_(*(Participation.id.like(f"{s['id']}:%") for s in surveys)))).scalar_one())
