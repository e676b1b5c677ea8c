"""The rendered briefing: charts (colour-blind-safe, labelled bars), the HTML document
(escaped, accessible tables, absolute links, ``cid:`` images in the e-mail) and, in
headless Chromium, the PNG charts and the PDF, whose text (``pdftotext``) carries the
score and the best and worst KPIs as the document writes them, in English and Spanish,
and nothing personal."""
from __future__ import annotations

import copy
import http.server
import os
import re
import subprocess
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from dashboard.briefing import RenderedBriefing, briefing_text
from dashboard.briefing.formats import kpi_value_text, score_text, status_words, target_text
from layouts import STATUS_COLOURS
from layouts.briefing_charts import BEFORE_COLOUR, NOW_COLOUR, briefing_figures
from layouts.briefing_document import briefing_html
from tests import test_briefing_content, test_palettes
from tests.conftest import service_missing

URL = "https://citylens.example.org/city"
CHARTS = {"score-windows": "cid:score-windows", "kpi-best": "cid:kpi-best",
          "kpi-worst": "cid:kpi-worst"}
briefings = test_briefing_content.briefings
personal = test_briefing_content.personal


def pdf_text(pdf: bytes) -> str:
    """The PDF's text in reading order, white space folded (``pdftotext -raw``)."""
    done = subprocess.run(["pdftotext", "-raw", "-enc", "UTF-8", "-", "-"], input=pdf,
                          capture_output=True, check=True)
    return " ".join(done.stdout.decode("utf-8").split())


def folded(text: str) -> str:
    return " ".join(text.split())


def kpi_row(kpi: dict[str, Any], lang: str) -> str:
    """A best or worst KPI's row as the document writes it: name, value, target, score,
    status."""
    mark, words = status_words(kpi["status"], lang)
    return (f"{kpi['name']} {kpi_value_text(kpi['value'], kpi['unit'], kpi['decimals'], lang)} "
            f"{target_text(kpi, lang)} {score_text(kpi['score'], lang)} {mark} {words}")


# ---- charts and document, no browser -------------------------------------------------


def test_the_chart_palette_survives_colour_blindness() -> None:
    palette = {"now": NOW_COLOUR, "before": BEFORE_COLOUR,
               **{s: STATUS_COLOURS[s] for s in ("on", "near", "off")}}
    assert test_palettes.closest_pair(palette)[0] >= test_palettes.MIN_DELTA_E


def test_every_bar_says_its_number(briefings: dict[tuple[str, str], dict[str, Any]]) -> None:
    briefing = briefings["mayor", "es"]
    figures = briefing_figures(briefing)
    assert set(figures) == {"score-windows", "kpi-best", "kpi-worst"}
    for figure in figures.values():
        for trace in figure.data:
            if trace.type != "bar":
                continue
            values = trace.x if trace.orientation == "h" else trace.y
            for value, text in zip(values, trace.text, strict=True):
                assert (value is None) == (text == ""), (value, text)
                if value is not None:
                    assert score_text(value, "es") in text
    worst = figures["kpi-worst"].data[0]
    assert all(("✕" in t or "!" in t) for t in worst.text)  # a mark, not only a colour
    assert figures["score-windows"].layout.separators == ",."


def test_the_document_is_accessible_escaped_and_linked(
        briefings: dict[tuple[str, str], dict[str, Any]]) -> None:
    briefing = copy.deepcopy(briefings["waste.head", "en"])
    briefing["best"][0]["name"] = "<script>alert('x')</script> & co"
    briefing["feeds"]["problems"] = [{"id": "bad<feed>", "kind": "csv", "status": "failed",
                                      "stale": True, "lag_seconds": 200000.0,
                                      "newest_data": None, "last_started": None,
                                      "link": "/feeds?source=bad%3Cfeed%3E"}]
    html = briefing_html(briefing, URL, charts=CHARTS)
    assert "<script" not in html and "&lt;script&gt;" in html and "&amp; co" in html
    assert "bad&lt;feed&gt;" in html and "2 days" in html
    assert html.startswith("<!DOCTYPE html><html lang=\"en\">")
    assert re.search(r"<title>CityLens weekly briefing, 16 – 22 Nov 2026</title>", html)
    assert 'scope="col"' in html and 'scope="row"' in html
    assert "<link" not in html and "@import" not in html and "<iframe" not in html
    hrefs = re.findall(r'href="([^"]+)"', html)
    assert len(hrefs) > 20 and all(h.startswith(URL + "/") for h in hrefs)
    sources = re.findall(r'<img src="([^"]+)"[^>]* alt="([^"]+)"', html)
    assert {src for src, _ in sources} == set(CHARTS.values())
    assert html.count('<img src="cid:score-windows"') == 1
    # a chart not given is left out, its table stays
    without = briefing_html(briefing, URL, charts={})
    assert "<img" not in without and "Needs attention" in without


def test_the_text_and_the_document_write_the_same_figures(
        briefings: dict[tuple[str, str], dict[str, Any]]) -> None:
    for lang in ("en", "es"):
        briefing = briefings["mayor", lang]
        html = briefing_html(briefing, URL, charts=CHARTS)
        text = briefing_text(briefing, URL)
        score = score_text(briefing["score"]["score"], lang)
        assert f">{score}<" in html and score in text
        for kpi in briefing["best"] + briefing["worst"]:
            value = kpi_value_text(kpi["value"], kpi["unit"], kpi["decimals"], lang)
            assert value in text and value.replace("&", "&amp;") in html


# ---- in Chromium ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def printer() -> Iterator[Any]:
    """One headless Chromium for the module's renders (Playwright's sync API allows one
    at a time in a thread)."""
    from layouts.briefing_pdf import BriefingPrinter, chromium_path

    if not os.path.exists(chromium_path()):
        service_missing("Chromium at " + chromium_path(), FileNotFoundError(chromium_path()))
    with BriefingPrinter() as browser:
        yield browser


@pytest.fixture(scope="module")
def rendered(printer: Any, briefings: dict[tuple[str, str], dict[str, Any]]
             ) -> dict[tuple[str, str], RenderedBriefing]:
    """Three briefings rendered by one browser."""
    return {key: printer.render(briefings[key], URL)
            for key in (("mayor", "en"), ("mayor", "es"), ("waste.head", "en"))}


@pytest.mark.browser
def test_the_pdf_carries_the_score_and_the_best_and_worst_kpis(
        rendered: dict[tuple[str, str], RenderedBriefing],
        briefings: dict[tuple[str, str], dict[str, Any]]) -> None:
    for (user, lang), result in rendered.items():
        briefing = briefings[user, lang]
        assert result.pdf.startswith(b"%PDF-")
        text = pdf_text(result.pdf)
        score = score_text(briefing["score"]["score"], lang)
        mark, words = status_words(briefing["score"]["status"], lang)
        assert folded(f"{score} {mark} {words}") in text
        assert folded(briefing["period"]["label"]) in text
        for kpi in briefing["best"] + briefing["worst"]:
            assert folded(kpi_row(kpi, lang)) in text, (user, lang, kpi_row(kpi, lang))
    assert "Best results" in pdf_text(rendered["mayor", "en"].pdf)
    spanish = pdf_text(rendered["mayor", "es"].pdf)
    assert "Mejores resultados" in spanish and "Requiere atención" in spanish
    assert rendered["mayor", "es"].subject.startswith("Informe semanal de CityLens")


@pytest.mark.browser
def test_the_email_has_its_charts_inline(
        rendered: dict[tuple[str, str], RenderedBriefing],
        briefings: dict[tuple[str, str], dict[str, Any]]) -> None:
    result = rendered["mayor", "en"]
    assert set(result.images) == {"score-windows", "kpi-best", "kpi-worst"}
    for name, png in result.images.items():
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        width = int.from_bytes(png[16:20], "big")
        assert width == 680 * 2, name  # the column's width, at twice the pixels
        assert f'src="cid:{name}"' in result.html
    assert "data:" not in result.html
    assert result.subject == "CityLens weekly briefing, 16 – 22 Nov 2026"
    assert result.text == briefing_text(briefings["mayor", "en"], URL)
    assert result.html == briefing_html(briefings["mayor", "en"], URL,
                                        charts={n: f"cid:{n}" for n in result.images})


@pytest.mark.browser
def test_nothing_personal_anywhere(rendered: dict[tuple[str, str], RenderedBriefing],
                                   personal: list[str]) -> None:
    for key, result in rendered.items():
        shown = "\n".join([result.subject, result.html, result.text, pdf_text(result.pdf)])
        leaks = [value for value in personal if value in shown or folded(value) in shown]
        assert not leaks, (key, leaks[:3])


@pytest.mark.browser
def test_the_browser_fetches_nothing(printer: Any) -> None:
    """A document that names a server (an image, a stylesheet, a font) is printed without
    a single request reaching it."""
    asked: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the standard library's name
            asked.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        html = (f'<html><head><link rel="stylesheet" href="{base}/style.css">'
                f"<style>@font-face{{font-family:x;src:url({base}/font.woff)}}</style></head>"
                f'<body style="font-family:x"><img src="{base}/image.png">Hello</body></html>')
        pdf = printer.pdf(html, "test")
    finally:
        server.shutdown()
        server.server_close()
    assert pdf.startswith(b"%PDF-") and "Hello" in pdf_text(pdf)
    assert asked == []
