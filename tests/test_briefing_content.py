"""The briefing's content and plain text on the tiny demo city: the figures are those of
``citylens kpis --json`` for the same windows, a department head's briefing holds only
their departments' KPIs, alerts and requests, nothing personal gets in, both languages."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from dashboard.auth import DEPARTMENT_HEAD, OFFICIAL, PUBLIC
from dashboard.auth.users import Principal, load_principal
from dashboard.briefing import FREQUENCIES, briefing_subject, briefing_text, build_briefing
from dashboard.briefing.content import WINDOWS, briefing_period, ranked
from dashboard.kpis.scoring import city_score, kpi_score
from dashboard.periods import CUSTOM, Period
from dashboard.queries.alerts import alert_counts, alert_rows
from dashboard.queries.departments import department_domains
from dashboard.settings import Settings, get_settings
from dashboard.store import get_engine
from tests import test_public_privacy
from tests.conftest import TINY_NOW

URL = "https://citylens.example.org/city"
WASTE = "Residuos y Limpieza"


def demo_user(settings: Settings, username: str) -> Principal:
    with get_engine(settings.resolved_database_url).connect() as conn:
        who = load_principal(conn, username)
    assert who is not None
    return who


@pytest.fixture(scope="module")
def briefings(tiny_city: Settings) -> dict[tuple[str, str], dict[str, Any]]:
    """The weekly briefing of the mayor, waste.head and mobility.head at TINY_NOW, in
    English and Spanish."""
    return {(user, lang): build_briefing(tiny_city, demo_user(tiny_city, user),
                                         frequency="weekly", language=lang, now=TINY_NOW)
            for user in ("mayor", "waste.head", "mobility.head") for lang in ("en", "es")}


# Every resident's name, e-mail and phone, every request's description (the public pages' scan).
personal = test_public_privacy.personal


def cli_kpis(tiny_city: Settings, monkeypatch: pytest.MonkeyPatch,
             capsys: pytest.CaptureFixture[str], briefing: dict[str, Any], window: str,
             department: str | None = None) -> dict[str, Any]:
    """``citylens kpis --json --window WINDOW`` on the tiny city as of the end of the
    briefing's period (``CITYLENS_NOW`` one second before it)."""
    import app

    end = datetime.fromisoformat(briefing["period"]["end"]) - timedelta(seconds=1)
    for name, value in (("CITYLENS_VAR_DIR", str(tiny_city.var_dir)),
                        ("CITYLENS_DATABASE_URL", ""), ("CITYLENS_REDIS_URL", ""),
                        ("CITYLENS_NOW", end.isoformat())):
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    capsys.readouterr()
    args = ["kpis", "--json", "--window", window] + (["--department", department]
                                                       if department else [])
    try:
        with pytest.raises(SystemExit) as done:
            app.main(args)
    finally:
        get_settings.cache_clear()
    assert done.value.code in (0, None)
    return json.loads(capsys.readouterr().out)


def test_the_period_is_the_last_whole_day_week_or_month(tiny_city: Settings) -> None:
    tz = tiny_city.timezone  # TINY_NOW is Monday 23 Nov 2026, 21:00 in Madrid
    assert [d.isoformat() for d in briefing_period("daily", TINY_NOW, tz)] == [
        "2026-11-22", "2026-11-22"]
    assert [d.isoformat() for d in briefing_period("weekly", TINY_NOW, tz)] == [
        "2026-11-16", "2026-11-22"]
    assert [d.isoformat() for d in briefing_period("monthly", TINY_NOW, tz)] == [
        "2026-10-01", "2026-10-31"]
    sunday = datetime(2026, 11, 22, 22, 30, tzinfo=timezone.utc)  # 23:30 Sunday in Madrid
    assert briefing_period("weekly", sunday, tz)[1].isoformat() == "2026-11-15"


def test_subject_and_period_labels_in_both_languages(
        briefings: dict[tuple[str, str], dict[str, Any]]) -> None:
    english, spanish = briefings["mayor", "en"], briefings["mayor", "es"]
    assert briefing_subject(english) == "CityLens weekly briefing, 16 – 22 Nov 2026"
    assert spanish["period"]["label"] == "16–22 nov 2026"
    assert briefing_subject(spanish) != briefing_subject(english)
    assert english["period"]["start"] == "2026-11-15T23:00:00+00:00"  # local midnight
    assert english["period"]["end"] == "2026-11-22T23:00:00+00:00"


def test_the_city_score_and_kpis_are_those_of_the_cli(
        tiny_city: Settings, briefings: dict[tuple[str, str], dict[str, Any]],
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    briefing = briefings["mayor", "en"]
    for row in briefing["windows"]:
        cli = cli_kpis(tiny_city, monkeypatch, capsys, briefing, row["window"])
        assert (row["start"], row["end"]) == (cli["window_start"], cli["window_end"])
        assert row["score"] == cli["city_score"], row["window"]
        assert row["previous"] == cli["city_score_previous"]
        assert row["change"] == cli["city_score_change"]
        assert row["kpis_scored"] == cli["kpis_scored"]
        if row["window"] == "week":
            week = cli
        by_id = {k["id"]: k["score"] for k in cli["kpis"]}
        assert {s["id"]: s["scores"][row["window"]] for s in briefing["kpi_scores"]} == by_id
    assert briefing["score"]["window"] == "week"
    assert briefing["score"]["score"] == week["city_score"]
    scored = sorted((k for k in week["kpis"] if k["score"] is not None),
                    key=lambda k: (-k["score"], k["id"]))
    assert len(scored) >= 10
    assert [k["id"] for k in briefing["best"]] == [k["id"] for k in scored[:5]]
    assert [k["id"] for k in briefing["worst"]] == [k["id"] for k in scored[::-1][:5]]
    assert [(k["value"], k["score"], k["target"]) for k in briefing["best"]] == [
        (k["value"], k["score"], k["target"]) for k in scored[:5]]
    moved = sorted((k for k in week["kpis"] if k["trend"] is not None
                    and k["improving"] is not None), key=lambda k: (-abs(k["trend"]), k["id"]))
    assert moved, "the tiny city's week has a previous week to compare with"
    assert [k["id"] for k in briefing["changed"]] == [k["id"] for k in moved[:5]]
    names = {k["id"]: k["names"]["en"] for k in week["kpis"]}
    assert all(k["name"] == names[k["id"]] for k in briefing["best"] + briefing["worst"])


def test_a_department_head_gets_only_their_department(
        tiny_city: Settings, briefings: dict[tuple[str, str], dict[str, Any]],
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    waste, city = briefings["waste.head", "en"], briefings["mayor", "en"]
    cli = cli_kpis(tiny_city, monkeypatch, capsys, waste, "week", WASTE)
    assert [k["id"] for k in waste["kpis"]] == [k["id"] for k in cli["kpis"]]
    assert waste["score"]["score"] == cli["city_score"]
    assert len(waste["kpis"]) < len(city["kpis"])
    domains = department_domains(tiny_city, WASTE)
    assert domains and {k["domain"] for k in waste["kpis"]} - domains <= {
        "services", "digital_inclusion"}  # its own requests' KPIs
    assert waste["recipient"]["departments"] == [WASTE]
    # alerts: its domains only
    period = Period(CUSTOM, datetime.fromisoformat(waste["period"]["start"]),
                    datetime.fromisoformat(waste["period"]["end"]))
    counts = alert_counts(tiny_city.model_copy(update={"now": TINY_NOW}), period,
                          domains=domains)
    assert waste["alerts"]["raised"] == counts["raised"]
    assert waste["alerts"]["raised_total"] <= city["alerts"]["raised_total"]
    assert all(a["domain"] in domains for a in waste["alerts"]["still_active"])
    every = alert_rows(tiny_city, period, state="active", limit=1000)["rows"]
    assert all(a["domain"] in domains for a in every
               if a["id"] in {x["id"] for x in waste["alerts"]["still_active"]})
    # requests: its own only, and its district beside
    assert [r["id"] for r in waste["requests"]["by_department"]] == [WASTE]
    city_row = next(r for r in city["requests"]["by_department"] if r["id"] == WASTE)
    assert waste["requests"]["by_department"][0]["overdue"] == city_row["overdue"]
    assert waste["requests"]["overdue"] == city_row["overdue"]
    district = demo_user(tiny_city, "waste.head").districts[0]
    assert [d["id"] for d in waste["districts"]] == [district]
    assert [d["id"] for d in waste["requests"]["districts"]] == [district]
    assert all(f"department={WASTE.replace(' ', '+')}" in k["link"] for k in waste["kpis"])


def test_several_departments_score_their_merged_kpis(
        briefings: dict[tuple[str, str], dict[str, Any]]) -> None:
    mobility = briefings["mobility.head", "en"]
    keys = [k["key"] for k in mobility["kpis"]]
    assert len(keys) == len(set(keys))
    own = [k for k in mobility["kpis"] if k["department"]]
    assert {k["department"] for k in own} == {"Movilidad", "Obras Públicas"}
    assert all(k["key"] == f"{k['id']}@{k['department']}" for k in own)
    assert all(k["department"] in k["name"] for k in own)
    assert mobility["score"]["score"] == city_score(k["score"] for k in mobility["kpis"])
    assert mobility["score"]["previous"] == city_score(
        kpi_score(k["previous"], k["target"], k["direction"]) for k in mobility["kpis"])
    assert {r["id"] for r in mobility["requests"]["by_department"]} <= {
        "Movilidad", "Obras Públicas"}


def test_best_and_worst_never_share_a_kpi() -> None:
    items = [{"key": k, "score": s, "trend": None, "improving": None}
             for k, s in (("a", 1.2), ("b", 0.8), ("c", 1.0), ("d", None))]
    found = ranked(items)
    assert [k["key"] for k in found["best"]] == ["a", "c"]
    assert [k["key"] for k in found["worst"]] == ["b"]
    assert found["changed"] == []


def test_who_may_have_a_briefing(tiny_city: Settings) -> None:
    with pytest.raises(PermissionError):
        build_briefing(tiny_city, Principal("nobody", DEPARTMENT_HEAD), frequency="weekly",
                       language="en", now=TINY_NOW)
    with pytest.raises(PermissionError):
        build_briefing(tiny_city, Principal("", PUBLIC), frequency="weekly", language="en",
                       now=TINY_NOW)
    with pytest.raises(ValueError, match="frequency"):
        build_briefing(tiny_city, Principal("mayor", OFFICIAL), frequency="hourly",
                       language="en", now=TINY_NOW)


@pytest.mark.parametrize("frequency", FREQUENCIES)
def test_every_frequency_is_json_and_links_are_relative(tiny_city: Settings,
                                                        frequency: str) -> None:
    briefing = build_briefing(tiny_city, Principal("mayor", OFFICIAL), frequency=frequency,
                              language="es", now=TINY_NOW)
    assert json.loads(json.dumps(briefing)) == briefing
    window = {"daily": "day", "weekly": "week", "monthly": "month"}[frequency]
    assert briefing["score"]["window"] == window == briefing["period"]["window"]
    assert [r["window"] for r in briefing["windows"]] == list(WINDOWS)

    def links(value: Any) -> list[str]:
        if isinstance(value, dict):
            return [v for k, v in value.items() if k.endswith("link")] + [
                x for v in value.values() for x in links(v)]
        if isinstance(value, list):
            return [x for v in value for x in links(v)]
        return []

    found = links(briefing)
    assert len(found) > 20
    assert all(link.startswith("/") and "//" not in link for link in found)


def test_nothing_personal_in_content_or_text(
        briefings: dict[tuple[str, str], dict[str, Any]], personal: list[str]) -> None:
    for (user, lang), briefing in briefings.items():
        shown = json.dumps(briefing, ensure_ascii=False) + briefing_text(briefing, URL)
        leaks = [value for value in personal if value in shown]
        assert not leaks, (user, lang, leaks[:3])


def test_the_text_speaks_each_language(briefings: dict[tuple[str, str], dict[str, Any]]) -> None:
    english = briefing_text(briefings["mayor", "en"], URL)
    spanish = briefing_text(briefings["mayor", "es"], URL)
    score = briefings["mayor", "en"]["score"]["score"]
    assert f"{score:.2f}" in english and f"{score:.2f}".replace(".", ",") in spanish
    assert "CITY SCORE" in english and "PUNTUACIÓN DE LA CIUDAD" in spanish
    assert "Best results".upper() in english and "MEJORES RESULTADOS" in spanish
    assert f"{URL}/?period=2026-11-16/2026-11-22" in english
    for kpi in briefings["mayor", "es"]["best"]:
        assert kpi["name"] in spanish and f"{URL}{kpi['link']}" in spanish
    head = briefing_text(briefings["waste.head", "es"], URL)
    assert "Residuos y Limpieza" in head and "PUNTUACIÓN DE SUS DEPARTAMENTOS" in head


def test_a_naive_now_is_utc(tiny_city: Settings,
                            briefings: dict[tuple[str, str], dict[str, Any]]) -> None:
    naive = build_briefing(tiny_city, Principal("mayor", OFFICIAL), frequency="weekly",
                           language="en", now=TINY_NOW.replace(tzinfo=None))
    assert naive["period"] == briefings["mayor", "en"]["period"]
    assert naive["score"] == briefings["mayor", "en"]["score"]
