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
