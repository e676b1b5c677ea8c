"""The civic pages in a real browser: what the city is doing (/commitments) on a phone
(390x844, touch), in Spanish and English, for the whole city and for one district, with
its progress over time opened by keyboard; the kiosk's "What the city is doing in your
district" slide; the staff's consultations (the list, an open consultation, approving a
free text) and a closed consultation's public page, which never shows a text still awaiting
moderation; keeping commitments as a department head (only their departments', an update
the public page then shows, a new row of progress history); and the staff navigation, on
one line at 1280 px and behind "Menu" at 1200 px. axe's WCAG 2.1 A/AA rules on each page.

What the pages should show is read from the served demo store (SQLite). The commitment
update runs after the tests that compare the public pages with the store: a public page
may answer once from its cache after a write (stale while it recomputes).
"""
from __future__ import annotations

import html
import json
import re
from datetime import datetime, timezone

import pytest
from playwright.sync_api import expect

from layouts.commitment_parts import percent_text
from tests.browser.conftest import (
    Served,
    assert_clean,
    signed_in_context,
    wait_for,
    watch_errors,
)
from tests.browser.test_accessibility import axe_source  # noqa: F401 (a fixture)
from tests.browser.test_kiosk import SETTLED, _kiosk_context, _wait_index
from tests.browser.test_kiosk import _open as _open_kiosk
from tests.browser.test_report import NO_SIDEWAYS_SCROLL, _axe_clean, _db, _open, _phone

pytestmark = pytest.mark.browser
LANGS = ["es", "en"]
SLIDE = {"es": "Qué hace el Ayuntamiento en su distrito",
         "en": "What the city is doing in your district"}
HEAD = "mobility.head"  # a department head (Movilidad, Obras Públicas)
NOTE = "Tramo revisado en la prueba del navegador"  # in the city's language, as staff write
REFRESHES = 10  # loads of the public page until it answers past its cache (see above)
NAV_FITS = ("(() => { const n = document.querySelector('.nav');"
            " return n.scrollWidth <= n.clientWidth; })()")
# Navigation links not wholly inside the navigation's box and the window (their text).
NAV_CUT = """() => {
    const nav = document.querySelector('.nav').getBoundingClientRect();
    return Array.from(document.querySelectorAll('.nav .nav__link')).filter(a => {
        const r = a.getBoundingClientRect();
        return r.width === 0 || r.left < nav.left - 0.5 || r.right > nav.right + 0.5 ||
            r.right > window.innerWidth;
    }).map(a => a.textContent);
}"""


def _utc_now() -> str:
    """Now as the store writes times (UTC, naive, microseconds)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


@pytest.fixture(scope="module")
def commitments(served: Served) -> list[dict]:
    """The commitments of the demo city: id, title per language, department, district,
    % complete and how many updates its progress history has."""
    with _db(served) as db:
        rows = db.execute(
            "SELECT c.id, c.title, c.department, c.district_id, c.percent_complete,"
            " (SELECT count(*) FROM commitment_progress p WHERE p.commitment_id = c.id)"
            " AS updates FROM commitments c ORDER BY c.id").fetchall()
    assert rows, "the demo city has no commitments"
    return [{"id": r["id"], "title": json.loads(r["title"]), "department": r["department"],
             "district": r["district_id"], "percent": r["percent_complete"],
             "updates": r["updates"]} for r in rows]


@pytest.fixture(scope="module")
def district(served: Served) -> str:
    """A district of the demo city with commitments of its own."""
    with _db(served) as db:
        row = db.execute("SELECT c.district_id FROM commitments c JOIN districts d"
                         " ON d.id = c.district_id ORDER BY c.district_id").fetchone()
    assert row is not None, "no commitment of the demo city is a district's"
    return str(row[0])


def _listed(commitments: list[dict], district: str | None, lang: str) -> dict[str, dict]:
    """What /commitments lists for ``district`` (its own and the city-wide ones; all
    without one), by title in ``lang``."""
    return {c["title"][lang]: c for c in commitments
            if district is None or c["district"] in (None, district)}


def _card_of(card, title: str, prefix: str, listed: dict[str, dict], lang: str) -> dict:
    """The commitment a card shows (its title the element of class ``title``), once its
    progress text (``prefix``-progress__text) is seen saying the store's % complete."""
    name = card.locator(f".{title}").inner_text()
    item = listed.get(name)
    assert item is not None, f"{name!r} is not a commitment listed here ({lang})"
    progress = card.locator(f".{prefix}-progress__text")
    expect(progress).to_be_visible()
    expect(progress).to_have_text(percent_text(item["percent"], lang))
    return item


@pytest.mark.parametrize("where", ["city", "district"])
@pytest.mark.parametrize("lang", LANGS)
def test_commitments_read_on_a_phone(browser, server_url: str, axe_source: str,  # noqa: F811
                                     commitments: list[dict], district: str, lang: str,
                                     where: str) -> None:
    chosen = district if where == "district" else None
    listed = _listed(commitments, chosen, lang)
    query = f"lang={lang}" + (f"&district={chosen}" if chosen else "")
    context, page = _phone(browser)
    try:
        _open(page, f"{server_url}/commitments?{query}")
        assert page.evaluate("document.documentElement.lang") == lang
        assert page.evaluate(NO_SIDEWAYS_SCROLL)
        _axe_clean(page, axe_source, f"/commitments?{query}")
        if chosen:
            expect(page.locator(".commitments-place[aria-current=page]")).to_have_attribute(
                "href", f"/commitments?lang={lang}&district={chosen}")
        cards = page.locator(".commitment-card")
        expect(cards).to_have_count(len(listed))
        for n, card in enumerate(cards.all()):
            item = _card_of(card, "commitment-card__title", "commitment", listed, lang)
            # Progress over time opens from the keyboard (Enter on one, Space on the next).
            more = card.locator("details.commitment-more")
            expect(more).to_have_count(1 if item["updates"] else 0)
            if not item["updates"]:
                continue
            summary = more.locator("summary")
            assert summary.evaluate("s => s.tabIndex") == 0  # in the Tab order
            summary.focus()
            assert summary.evaluate("s => s === document.activeElement")
            expect(more).to_have_js_property("open", False)
            page.keyboard.press("Enter" if n % 2 == 0 else "Space")
            expect(more).to_have_js_property("open", True)
            expect(more.locator(".commitment-history")).to_be_visible()
            expect(more.locator(".commitment-step")).to_have_count(item["updates"])
        # Every history open: still no sideways scroll, and axe on all of it.
        assert page.evaluate(NO_SIDEWAYS_SCROLL)
        _axe_clean(page, axe_source, f"/commitments?{query} (progress over time open)")
        # The key that opens a history closes it (the focus is on the last one opened).
        opened = page.locator("details.commitment-more[open]")
        count = opened.count()
        assert count > 0
        page.keyboard.press("Enter")
        expect(opened).to_have_count(count - 1)
        assert_clean(page)
    finally:
        context.close()


def _show_slide(page, title: str) -> object:
    """Go to the kiosk's slide whose label says ``title``; the slide."""
    index = page.evaluate(
        "title => Array.from(document.querySelectorAll('.kiosk-slide')).findIndex("
        "s => (s.getAttribute('aria-label') || '').includes(title))", title)
    assert index >= 0, f"no kiosk slide {title!r}"
    page.click(f"[data-kiosk-goto='{index}']")
    _wait_index(page, index, 5_000)
    wait_for(page, SETTLED, timeout=5_000)
    return page.locator(".kiosk-slide.is-active")


@pytest.mark.parametrize("lang", LANGS)
def test_the_kiosk_shows_what_the_city_is_doing_in_the_district(
        browser, server_url: str, axe_source: str, commitments: list[dict],  # noqa: F811
        district: str, lang: str) -> None:
    listed = _listed(commitments, district, lang)
    context = _kiosk_context(browser)
    try:
        page = context.new_page()
        watch_errors(page)
        _open_kiosk(page, f"{server_url}/kiosk?lang={lang}&district={district}")
        slide = _show_slide(page, SLIDE[lang])
        cards = slide.locator(".kiosk-commitment")
        expect(cards.first).to_be_visible()
        for card in cards.all():
            _card_of(card, "kiosk-commitment__title", "kiosk-commitment", listed, lang)
        _axe_clean(page, axe_source, f"the kiosk's commitments slide ({lang})")
        assert_clean(page)
    finally:
        context.close()


@pytest.fixture(scope="module")
def consultation_ids(served: Served) -> dict[str, str]:
    """An open and a closed consultation of the demo city, each the one with the most
    free texts still awaiting moderation."""
    now, found = _utc_now(), {}
    with _db(served) as db:
        for state, where, params in (("open", "s.opens_at <= ? AND s.closes_at > ?", (now, now)),
                                     ("closed", "s.closes_at <= ?", (now,))):
            row = db.execute(
                "SELECT s.id FROM surveys s JOIN survey_texts t ON t.survey_id = s.id"
                f" WHERE t.moderation = 'pending' AND {where}"
                " GROUP BY s.id ORDER BY count(*) DESC, s.id", params).fetchone()
            assert row is not None, f"no {state} consultation with a pending text"
            found[state] = str(row["id"])
    return found


def _open_staff(page, url: str, ready: str) -> None:
    page.goto(url)
    page.wait_for_selector("#main h1", timeout=30_000)
    page.wait_for_selector(ready, timeout=30_000)
    page.wait_for_load_state("networkidle")


def test_the_consultations_pages_pass_axe(page, server_url: str, axe_source: str,  # noqa: F811
                                          consultation_ids: dict[str, str]) -> None:
    _open_staff(page, f"{server_url}/consultations", ".consultations-table")
    _axe_clean(page, axe_source, "/consultations")
    link = page.locator(f".consultations-row a[href='/consultations/{consultation_ids['open']}']")
    expect(link).to_have_count(1)
    link.click()
    page.wait_for_selector("#consultations-queue .consultations-text", timeout=30_000)
    page.wait_for_load_state("networkidle")
    expect(page.locator("#consultations-facts")).to_contain_text("Open")
    _axe_clean(page, axe_source, f"/consultations/{consultation_ids['open']}")
    assert_clean(page)


def _waiting(page) -> int:
    """How many free texts the page says await a decision."""
    text = page.inner_text("#consultations-queue-count")
    found = re.match(r"([\d,]+) answers? await", text)
    assert found, text
    return int(found.group(1).replace(",", ""))


def test_approving_a_text_moves_it_from_the_queue_to_the_results(
        page, served: Served, consultation_ids: dict[str, str]) -> None:
    survey_id = consultation_ids["open"]
    _open_staff(page, f"{served.url}/consultations/{survey_id}",
                "#consultations-queue .consultations-text")
    before = _waiting(page)
    # The first text in the queue with no digits (a resident's phone number is never
    # approved, not even by a test).
    item = page.locator("#consultations-queue .consultations-text").filter(
        has=page.locator("blockquote", has_text=re.compile(r"^\D+$"))).first
    text = item.locator("blockquote").inner_text()
    approve = item.get_by_role("button", name=re.compile(r"^Approve\b"))
    text_id = json.loads(approve.get_attribute("id"))["id"]  # Dash's pattern-matching id
    results = page.locator("#consultations-results")
    expect(results.get_by_text(text, exact=True)).to_have_count(0)
    approve.click()
    expect(page.locator("#consultations-queue-note")).to_contain_text("Approved")
    expect(page.locator("#consultations-queue-count")).to_have_text(
        re.compile(rf"^{before - 1} answers? await"))
    expect(page.locator("#consultations-queue").get_by_text(text, exact=True)).to_have_count(0)
    expect(results.locator(".result-text").get_by_text(text, exact=True)).to_be_visible()
    with _db(served) as db:
        row = db.execute("SELECT survey_id, text, moderation FROM survey_texts WHERE id = ?",
                         (text_id,)).fetchone()
    assert tuple(row) == (survey_id, text, "approved")
    assert_clean(page)


def test_a_closed_consultation_never_shows_a_pending_text(
        browser, page, served: Served, consultation_ids: dict[str, str]) -> None:
    survey_id = consultation_ids["closed"]
    with _db(served) as db:
        texts = {moderation: [r["text"] for r in db.execute(
            "SELECT text FROM survey_texts WHERE survey_id = ? AND moderation = ?"
            " ORDER BY id", (survey_id, moderation))] for moderation in ("pending", "approved")}
    assert texts["pending"]
    resident_context, resident = _phone(browser)
    try:
        # As the mayor (signed in) and as a resident: the public page is the same.
        for viewer in (page, resident):
            for lang in LANGS:
                _open(viewer, f"{served.url}/participate/{survey_id}?lang={lang}")
                expect(viewer.locator(".results")).to_be_visible()
                shown, source = viewer.inner_text("body"), viewer.content()
                if texts["approved"]:  # the texts are there, only the approved ones
                    assert any(text in shown for text in texts["approved"])
                for text in texts["pending"]:
                    assert text not in shown and html.escape(text, quote=False) not in source
                assert_clean(viewer)
    finally:
        resident_context.close()


def test_the_staff_navigation_fits_at_1280_and_folds_at_1200(browser,
                                                             server_url: str) -> None:
    context = signed_in_context(browser, server_url, viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        watch_errors(page)
        _open_staff(page, f"{server_url}/consultations", ".consultations-table")
        toggle = page.locator("#shell-menu-toggle")
        links = page.locator("#shell-nav .nav__link")
        names = links.all_inner_texts()
        assert {"Consultations", "Commitments"} <= set(names), names
        expect(toggle).to_be_hidden()
        for link in links.all():
            expect(link).to_be_visible()
        assert page.evaluate(NAV_FITS)
        assert page.evaluate(NAV_CUT) == []
        page.set_viewport_size({"width": 1200, "height": 800})
        expect(toggle).to_be_visible()
        expect(toggle).to_have_attribute("aria-expanded", "false")
        for link in links.all():
            expect(link).to_be_hidden()
        toggle.click()
        expect(toggle).to_have_attribute("aria-expanded", "true")
        for name in names:
            expect(page.locator("#shell-nav").get_by_role("link", name=name, exact=True)
                   ).to_be_visible()
        page.keyboard.press("Escape")
        expect(toggle).to_have_attribute("aria-expanded", "false")
        expect(page.locator("#shell-nav").get_by_role("link", name="Consultations")
               ).to_be_hidden()
        assert_clean(page)
    finally:
        context.close()


def _progress_rows(served: Served, commitment_id: str) -> list[tuple]:
    with _db(served) as db:
        return [tuple(r) for r in db.execute(
            "SELECT percent_complete, status, note FROM commitment_progress"
            " WHERE commitment_id = ? ORDER BY at", (commitment_id,))]


def _theirs(served: Served, username: str) -> tuple[set[str], dict]:
    """The ids of the commitments of ``username``'s departments, and every commitment."""
    with _db(served) as db:
        departments = json.loads(db.execute("SELECT departments FROM users WHERE username = ?",
                                            (username,)).fetchone()[0])
        stored = {r["id"]: r for r in db.execute(
            "SELECT id, title, department, status, percent_complete FROM commitments")}
    theirs = {cid for cid, row in stored.items() if row["department"] in departments}
    assert theirs and len(theirs) < len(stored), (departments, theirs)
    return theirs, stored


def test_the_commitments_manage_page_passes_axe(browser, served: Served,
                                                axe_source: str) -> None:  # noqa: F811
    context = signed_in_context(browser, served.url, HEAD)
    try:
        page = context.new_page()
        watch_errors(page)
        _open_staff(page, f"{served.url}/commitments/manage", ".commitments-manage__item")
        _axe_clean(page, axe_source, f"/commitments/manage ({HEAD})")
        assert_clean(page)
    finally:
        context.close()


def test_a_department_head_updates_their_commitment(browser, served: Served) -> None:
    theirs, stored = _theirs(served, HEAD)
    chosen = stored[sorted(theirs)[0]]
    old = round(chosen["percent_complete"])
    new = old + 1 if old < 100 else old - 1
    history = _progress_rows(served, chosen["id"])
    context = signed_in_context(browser, served.url, HEAD)
    try:
        page = context.new_page()
        watch_errors(page)
        _open_staff(page, f"{served.url}/commitments/manage", ".commitments-manage__item")
        labels = page.evaluate("Array.from(document.querySelectorAll("
                               "'section.commitments-manage__item'))"
                               ".map(s => s.getAttribute('aria-labelledby'))")
        listed = [re.fullmatch(r"commitments-manage-(.+)-title", label).group(1)
                  for label in labels]
        assert sorted(listed) == sorted(theirs)
        form = page.locator(f"section[aria-labelledby='commitments-manage-{chosen['id']}-title']")
        form.locator("input[type=number]").fill(str(new))
        form.locator("input[type=text]").fill(NOTE)
        form.get_by_role("button", name="Save").click()
        expect(form.get_by_role("status")).to_contain_text("Saved: ", timeout=30_000)
        expect(form.get_by_role("status")).to_contain_text(f", {new} % complete.")
        assert_clean(page)
    finally:
        context.close()
    with _db(served) as db:
        percent = db.execute("SELECT percent_complete FROM commitments WHERE id = ?",
                             (chosen["id"],)).fetchone()[0]
    assert percent == new
    assert _progress_rows(served, chosen["id"]) == [*history, (new, chosen["status"], NOTE)]
    # Residents see it on the public page, with the note in its progress over time.
    title = json.loads(chosen["title"])["en"]
    expected = percent_text(new, "en")
    context, page = _phone(browser)
    try:
        card = page.locator(".commitment-card").filter(
            has=page.get_by_role("heading", name=title, exact=True))
        for _attempt in range(REFRESHES):
            _open(page, f"{served.url}/commitments?lang=en")
            if card.locator(".commitment-progress__text").inner_text() == expected:
                break
            page.wait_for_timeout(300)
        expect(card.locator(".commitment-progress__text")).to_have_text(expected)
        card.locator("details.commitment-more summary").click()
        expect(card.locator(".commitment-step")).to_have_count(len(history) + 1)
        expect(card.locator(".commitment-step").last).to_contain_text(NOTE)
        assert_clean(page)
    finally:
        context.close()


def test_a_navigation_too_long_for_its_line_folds_behind_the_menu(browser,
                                                                  server_url: str) -> None:
    """A department head's longer name and role leave the links less room: wherever they
    would be cut, they fold behind "Menu" instead (assets/nav.js); where they fit, not."""
    context = signed_in_context(browser, server_url, "mobility.head",
                                viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        watch_errors(page)
        _open_staff(page, f"{server_url}/consultations", ".consultations-table")
        toggle = page.locator("#shell-menu-toggle")
        for width in (1280, 1366, 1440, 1600, 1920):
            page.set_viewport_size({"width": width, "height": 800})
            # the resize event (and the script's fit) comes before the next frames
            page.evaluate("new Promise(done => requestAnimationFrame("
                          "() => requestAnimationFrame(done)))")
            if toggle.is_visible():  # folded: every link is behind the menu
                toggle.click()
                expect(page.locator("#shell-nav").get_by_role("link", name="Commitments")
                       ).to_be_visible()
                page.keyboard.press("Escape")
            else:  # on one line: nothing cut
                assert page.evaluate(NAV_FITS), width
                assert page.evaluate(NAV_CUT) == [], width
        assert not toggle.is_visible()  # 1920 px hold every link
        assert_clean(page)
    finally:
        context.close()
