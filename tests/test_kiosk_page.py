"""The kiosk's page as built on the server: both languages, the slides' order and the
fallbacks for a city without data (the browser tests drive the same page in Chromium)."""
from __future__ import annotations

from typing import Any

from tests.tree import text_of


def _texts(component: Any) -> str:
    return text_of(component)


def test_the_kiosk_speaks_the_language_asked_and_defaults_to_the_citys(tiny_city, in_app) -> None:
    from layouts.kiosk import layout

    es, en, default = layout(lang="es"), layout(lang="en"), layout()
    assert es.lang == "es" and en.lang == "en" and default.lang == tiny_city.kiosk_language
    assert "Calidad del aire ahora" in _texts(es) and "Air quality now" not in _texts(es)
    assert "Air quality now" in _texts(en) and "Calidad del aire ahora" not in _texts(en)
    assert layout(lang="xx").lang == tiny_city.kiosk_language  # unknown: the kiosk's own


def test_a_city_without_data_gets_a_note_not_an_empty_screen(tiny_city, in_app) -> None:
    from dashboard.queries.kiosk import kiosk_data
    from layouts.kiosk import SLIDES, slides

    data = kiosk_data(tiny_city)
    titles, drawn = slides(data, "en", tiny_city)
    assert len(titles) == len(drawn) >= 5 and titles[0] == "How is the city doing?"
    empty = {**data, "headline": {**data["headline"], "kpis": [],
                                  "city_score": {"value": None, "previous": None,
                                                 "status": None}},
             "parking": {"sites": [], "totals": {}}, "transit": {"available": False},
             "notices": []}
    assert SLIDES[0](empty, "en", tiny_city) is None  # no score, no KPIs: no city slide
    import layouts.kiosk as kiosk

    original = kiosk.SLIDES
    kiosk.SLIDES = []
    try:
        titles, drawn = slides(empty, "es", tiny_city)
    finally:
        kiosk.SLIDES = original
    assert titles == ["Información municipal"] and "aparecerá aquí" in _texts(drawn[0])


def test_a_store_that_cannot_be_read_gives_a_note_and_keeps_the_screen(
        tiny_city, in_app, monkeypatch) -> None:
    import pytest
    from dash.exceptions import PreventUpdate

    import callbacks.kiosk as kiosk_callbacks
    import layouts.kiosk as kiosk

    def broken(_settings: Any) -> dict[str, Any]:
        raise OSError("database is away")

    monkeypatch.setattr(kiosk, "kiosk_data", broken)
    page = kiosk.layout(lang="en")
    assert page.to_plotly_json()["props"]["data-version"] == kiosk.UNAVAILABLE
    assert "not available right now" in _texts(page)
    with pytest.raises(PreventUpdate):  # a redraw keeps what is on screen
        kiosk_callbacks.redraw("42", "en")


def test_a_kiosk_placed_in_a_district_shows_its_notices(tiny_city, in_app) -> None:
    from dashboard.queries.kiosk import notices_now
    from layouts.kiosk import layout

    everywhere = {n["id"] for n in notices_now(tiny_city)}
    here = notices_now(tiny_city, "santander-03")
    assert {n["district_id"] for n in here} <= {"santander-03", None}
    page = layout(lang="en", district="santander-03")
    text = _texts(page)
    for notice in notices_now(tiny_city)[:6]:
        shown = notice["title"]["en"] in text
        assert shown == (notice["id"] in {n["id"] for n in here[:6]}), notice["id"]
    assert everywhere > {n["id"] for n in here}  # other districts' notices are left out
    toggle = [c for c in page.children if getattr(c, "className", "") == "kiosk-bar"][0]
    assert "district=santander-03" in str(toggle.to_plotly_json())
    assert layout(lang="en", district="nowhere").to_plotly_json()["props"]["data-version"]


# ---- names of the city's data in the visitor's language ----------------------------------

def _services_and_notices(data: dict[str, Any], lang: str, settings: Any) -> tuple[Any, Any]:
    from layouts.kiosk_civic import notices_slide, services_slide

    services, notices = services_slide(data, lang, settings), notices_slide(data, lang, settings)
    assert services is not None and notices is not None
    return services[1], notices[1]


def test_services_departments_and_notices_are_named_in_english(tiny_city, in_app) -> None:
    from dashboard.queries.kiosk import kiosk_data
    from tests.tree import with_class

    data = kiosk_data(tiny_city)
    services = [s for g in data["catalogue"]["groups"] for s in g["services"]]
    assert {s["code"]: s["name"]["en"] for s in services}["water_leak"] == \
        "Water leak in the street"
    assert {s["department"]: s["department_name"]["en"] for s in services}["Aguas"] == "Water"
    assert all(set(s["name"]) == set(s["department_name"]) == {"es", "en"} for s in services)
    slide, board = _services_and_notices(data, "en", tiny_city)
    text = _texts(slide)
    assert "Water" in text and "Water leak in the street" in text
    assert "Fuga de agua" not in text and "Agua" not in text.split()
    assert not with_class(slide, "kiosk-lang-tag") and not with_class(slide, "kiosk-fallback")
    titles = [_texts(t) for t in with_class(board, "kiosk-notice__title")]
    assert titles and all(t in {n["title"]["en"] for n in data["notices"]} for t in titles)
    assert not with_class(board, "kiosk-lang-tag")
    # in Spanish, the source's own names, with no tag either
    slide, board = _services_and_notices(data, "es", tiny_city)
    assert "Fuga de agua en vía pública" in _texts(slide) and "Water leak" not in _texts(slide)
    assert not with_class(slide, "kiosk-lang-tag") and not with_class(board, "kiosk-lang-tag")


def test_a_name_without_a_translation_shows_the_original_marked(tiny_city, in_app) -> None:
    from dashboard.queries.kiosk import kiosk_data
    from tests.tree import with_class

    data = kiosk_data(tiny_city)
    first = data["catalogue"]["groups"][0]
    untranslated = {"code": "new_thing", "name": {"es": "Servicio recién creado"},
                    "department": "Nuevo", "department_name": {"es": "Nuevo"},
                    "online": True, "sla_hours": None}
    group = {**first, "group_name": {"es": "Grupo nuevo"}, "services": [untranslated]}
    notice = {**data["notices"][0], "title": {"es": "Aviso solo en español"}}
    changed = {**data, "catalogue": {**data["catalogue"], "groups": [group]},
               "notices": [notice, *data["notices"][1:]]}
    slide, board = _services_and_notices(changed, "en", tiny_city)
    for tree, original in ((slide, "Grupo nuevo"), (slide, "Servicio recién creado"),
                           (board, "Aviso solo en español")):
        marked = [s for s in walk_spans(tree) if getattr(s, "lang", None) == "es"
                  and original in _texts(s)]
        assert marked, original  # the original, in a span that says it is Spanish...
        assert "(es)" in _texts(marked[0])  # ... with its visible language tag
        assert [_texts(t) for t in with_class(marked[0], "kiosk-lang-tag")] == ["(es)"]
    for tree in (slide, board):  # and the slide says what the tag means, once
        notes = with_class(tree, "kiosk-fallback")
        assert [_texts(n) for n in notes] == ["(es) not translated yet: shown in Spanish"]
    # the other notices keep their English titles, unmarked
    titles = [_texts(t) for t in with_class(board, "kiosk-notice__title")]
    assert titles[1] == data["notices"][1]["title"]["en"]
    # a Spanish visitor sees the same names with no tag
    slide, board = _services_and_notices(changed, "es", tiny_city)
    assert not with_class(slide, "kiosk-lang-tag") and not with_class(board, "kiosk-fallback")
    assert "Servicio recién creado" in _texts(slide)


def walk_spans(tree: Any) -> list[Any]:
    from tests.tree import walk

    return [c for c in walk(tree) if type(c).__name__ == "Span"]
