"""Have your say in a real browser, without signing in, on a phone (390x844, touch), in
Spanish and English: a resident finds the district's open consultation, answers it (a
choice, several, a scale, words), is thanked, and finds it answered on coming back (the
device's cookie); a closed consultation shows its results, never a pending text; axe's
WCAG 2.1 A/AA rules on the list, the form, the thank-you and the results; and the kiosk's
"Have your say" slide. The consultations are created in the served demo store through the
core (as a member of staff would)."""
from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import expect
from sqlalchemy import update

from dashboard.auth import OFFICIAL
from dashboard.auth.users import Principal
from dashboard.consultations import (
    SCOPE,
    device_key,
    moderate_text,
    record_answer,
    save_survey,
)
from dashboard.model import Survey
from dashboard.queries.consultations import texts_to_moderate
from dashboard.settings import Settings
from dashboard.store import bump_data_version, get_engine
from tests.browser.conftest import Served, assert_clean, wait_for, watch_errors
from tests.browser.test_accessibility import axe_source  # noqa: F401 (a fixture)
from tests.browser.test_kiosk import SETTLED, _kiosk_context, _wait_index
from tests.browser.test_kiosk import _open as _open_kiosk
from tests.browser.test_phone import PHONE
from tests.browser.test_report import NO_SIDEWAYS_SCROLL, _axe_clean
from tests.test_consultations import plaza_survey

pytestmark = pytest.mark.browser
LANGS = ["es", "en"]
OPEN_ID, CLOSED_ID = "browser-plaza", "browser-closed"
TITLE = {"es": "La plaza del Pilar", "en": "Pilar square"}
USE = {"es": "Jugar", "en": "Play"}
THANKS = {"es": "Gracias por sus respuestas", "en": "Thank you for your answers"}
ALREADY = {"es": "ya ha respondido desde este dispositivo",
           "en": "already answered from this device"}
RESULTS = {"es": "Resultados", "en": "Results"}
SLIDE = {"es": "Participe", "en": "Have your say"}
APPROVED_TEXT = "Que pongan más árboles"
PENDING_TEXT = "Llamen a mi vecino al 600 999 888"


@pytest.fixture(scope="module")
def district(served: Served) -> str:
    """The first district of the demo city, where the open consultation is."""
    with closing(sqlite3.connect(served.var_dir / "citylens.db", timeout=30)) as db:
        return str(db.execute("SELECT id FROM districts ORDER BY id").fetchone()[0])


@pytest.fixture(scope="module")
def consultations(served: Served, district: str) -> None:
    """An open consultation in ``district`` and a closed city-wide one with two texts, one
    approved and one pending, stored in the served city."""
    now = datetime.now(timezone.utc)
    settings = Settings(var_dir=served.var_dir, database_url="", redis_url=None)
    mayor = Principal("mayor", OFFICIAL)
    save_survey(settings, mayor, plaza_survey(id=OPEN_ID, district_id=district,
                                              opens_at=now - timedelta(days=1),
                                              closes_at=now + timedelta(days=10)), "es")
    save_survey(settings, mayor, plaza_survey(
        id=CLOSED_ID, district_id=None, title={"es": "Carril bici", "en": "Cycle lanes"},
        opens_at=now - timedelta(days=30), closes_at=now + timedelta(minutes=5)), "es")
    for n, text in enumerate([APPROVED_TEXT, PENDING_TEXT, ""]):
        record_answer(settings, CLOSED_ID, device_key("browser", str(n)),
                      {"use": "rest", "rating": 2 + n, "else": text})
    approved, _pending = texts_to_moderate(settings, CLOSED_ID)
    moderate_text(settings, mayor, approved["id"], "approve")
    with get_engine(settings.resolved_database_url).begin() as conn:  # it closed yesterday
        conn.execute(update(Survey).where(Survey.id == CLOSED_ID)
                     .values(closes_at=now - timedelta(days=1)))
        bump_data_version(conn, {SCOPE})


def _phone(browser):
    context = browser.new_context(**PHONE)
    page = context.new_page()
    watch_errors(page)
    return context, page


def _open(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector(".resident-title", timeout=30_000)
    page.wait_for_load_state("networkidle")


@pytest.mark.parametrize("lang", LANGS)
def test_a_resident_answers_the_districts_consultation_once(
        browser, server_url: str, district: str, consultations: None, axe_source: str,  # noqa: F811
        lang: str) -> None:
    context, page = _phone(browser)
    try:
        _open(page, f"{server_url}/participate?lang={lang}&district={district}")
        assert page.evaluate("document.documentElement.lang") == lang
        assert page.evaluate(NO_SIDEWAYS_SCROLL)
        _axe_clean(page, axe_source, f"/participate ({lang})")
        page.locator(".consult-card__title a", has_text=TITLE[lang]).click()
        page.wait_for_selector("#participate-send", timeout=30_000)
        page.wait_for_load_state("networkidle")
        _axe_clean(page, axe_source, f"the consultation's form ({lang})")
        page.locator(".report-choices label", has_text=USE[lang]).first.click()
        page.locator(".report-choices label", has_text="Sombra").click()
        page.locator(".consult-scale__values label", has_text="4").click()
        page.locator("textarea").fill("Bancos a la sombra")
        page.click("#participate-send")
        expect(page.locator("#participate-send-result")).to_contain_text(THANKS[lang],
                                                                         timeout=30_000)
        expect(page.locator("#participate-send-box")).to_be_hidden()
        _axe_clean(page, axe_source, f"the thank-you ({lang})")
        assert any(c["name"] == "citylens_device" and c["httpOnly"]
                   for c in context.cookies())
        page.reload()
        page.wait_for_selector(".resident-title", timeout=30_000)
        expect(page.locator(".report-sent")).to_contain_text(ALREADY[lang])
        expect(page.locator("#participate-send")).to_have_count(0)
        assert page.evaluate(NO_SIDEWAYS_SCROLL)
        assert_clean(page)
    finally:
        context.close()


@pytest.mark.parametrize("lang", LANGS)
def test_a_closed_consultation_shows_its_results_and_no_pending_text(
        browser, server_url: str, consultations: None, axe_source: str,  # noqa: F811
        lang: str) -> None:
    context, page = _phone(browser)
    try:
        _open(page, f"{server_url}/participate/{CLOSED_ID}?lang={lang}")
        expect(page.locator(".results")).to_be_visible()
        expect(page.locator(".participate")).to_contain_text(RESULTS[lang])
        expect(page.locator(".result-texts")).to_contain_text(APPROVED_TEXT)
        assert PENDING_TEXT not in page.content()
        assert page.evaluate(NO_SIDEWAYS_SCROLL)
        _axe_clean(page, axe_source, f"a consultation's results ({lang})")
        assert_clean(page)
    finally:
        context.close()


@pytest.mark.parametrize("lang", LANGS)
def test_the_kiosk_invites_to_answer_on_a_phone(browser, server_url: str, district: str,
                                                consultations: None, axe_source: str,  # noqa: F811
                                                lang: str) -> None:
    context = _kiosk_context(browser)
    try:
        page = context.new_page()
        watch_errors(page)
        _open_kiosk(page, f"{server_url}/kiosk?lang={lang}&district={district}")
        index = page.evaluate(
            "title => Array.from(document.querySelectorAll('.kiosk-slide')).findIndex("
            "s => (s.getAttribute('aria-label') || '').includes(title))", SLIDE[lang])
        assert index >= 0, "no kiosk slide to have your say"
        page.click(f"[data-kiosk-goto='{index}']")
        _wait_index(page, index, 5_000)
        wait_for(page, SETTLED, timeout=5_000)
        slide = page.locator(".kiosk-slide.is-active")
        expect(slide.locator("img.kiosk-report__qr")).to_be_visible()
        # the district's open consultation (the demo city has its own besides ours)
        expect(slide.locator(".kiosk-report__link")).to_have_text(re.compile(
            rf"/participate/[a-z0-9-]+\?from=kiosk&lang={lang}$"))
        _axe_clean(page, axe_source, f"the kiosk's consultation slide ({lang})")
        assert_clean(page)
    finally:
        context.close()
