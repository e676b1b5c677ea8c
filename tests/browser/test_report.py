"""Report a problem (/report) and following a report (/track/<token>) in a real browser,
without signing in, on a phone (390x844, touch), in Spanish and English: a resident chooses
a service, taps the map, adds words, a photo and an e-mail, sends, and follows the link;
what the store keeps (channel, moderation, contact apart, a photo without metadata); axe's
WCAG 2.1 A/AA rules on the form (first load, a refusal, the thank-you), the track page and
the kiosk's QR slide; "already reported nearby"; the kiosk's preset; the robots' trap; and
the description and photo shown once staff approved them.

The form allows 10 sends a minute from one address (refusals count too, except the trap's):
this module sends 8.
"""
from __future__ import annotations

import io
import math
import re
import sqlite3
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from PIL import Image
from playwright.sync_api import expect
from shapely.geometry import Point, shape

from tests.browser.conftest import Served, assert_clean, wait_for, watch_errors
from tests.browser.test_accessibility import _api, _describe, axe_source, run_axe  # noqa: F401
from tests.browser.test_kiosk import SETTLED, _open as _open_kiosk
from tests.browser.test_kiosk import _kiosk_context, _wait_index
from tests.browser.test_phone import PHONE

pytestmark = pytest.mark.browser
LANGS = ["es", "en"]
POTHOLE = "pothole"
OTHER = "graffiti"  # the service of the reports that must not count as a nearby pothole
SERVICE = {"es": "Bache en la calzada", "en": "Pothole in the road"}
PLACED = {"es": "Situado en", "en": "Placed in"}
THANKS = {"es": "Gracias: hemos recibido su aviso", "en": "Thank you: your report is in"}
OPEN = {"es": "Abierto", "en": "Open"}
NUMBER = {"es": "Número", "en": "Number"}
PHOTO = {"es": "Foto: ", "en": "Photo: "}
NO_SERVICE = {"es": "Elija qué problema es (parte 1).",
              "en": "Choose what the problem is (part 1)."}
ROBOT = {"es": "No se ha podido enviar su aviso.", "en": "Your report could not be sent."}
NEARBY = {"es": "Ya avisado cerca", "en": "Already reported nearby"}
PENDING = {"es": "La descripción y la foto se muestran aquí",
           "en": "The description and photo are shown here"}
KIOSK_SLIDE = {"es": "Avisar de un problema", "en": "Report a problem"}
DESCRIPTION = {"es": "Bache hondo junto a la parada del autobús, lleno de agua",
               "en": "Deep pothole by the bus stop, full of water"}
EMAIL = {"es": "lucia.report@example.org", "en": "sam.report@example.org"}
ADDRESS = "Calle de Burgos 12"
MARGIN_M = 150  # a chosen spot is this far from a district's edge and from open potholes
EXIF_MAKE, EXIF_GPS = 0x010F, 0x8825

# Where the district outlines are drawn inside the map (px, from the map's top left).
OUTLINES_BOX = """() => {
    const map = document.getElementById('report-map').getBoundingClientRect();
    const boxes = Array.from(document.querySelectorAll(
        '#report-map .leaflet-overlay-pane path')).map(p => p.getBoundingClientRect());
    return {left: Math.min(...boxes.map(b => b.left)) - map.left,
            top: Math.min(...boxes.map(b => b.top)) - map.top,
            right: Math.max(...boxes.map(b => b.right)) - map.left,
            bottom: Math.max(...boxes.map(b => b.bottom)) - map.top};
}"""
NO_SIDEWAYS_SCROLL = "document.scrollingElement.scrollWidth <= window.innerWidth"
# Sets the hidden trap field as a robot filling the whole form would (the page's own input
# event, so that Dash hears it).
FILL_TRAP = """value => {
    const input = document.getElementById('report-website');
    Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set.call(input, value);
    input.dispatchEvent(new Event('input', {bubbles: true}));
}"""


@dataclass(frozen=True)
class Spot:
    """A place to tap: where (lat, lon) and in which district (id, name)."""

    lat: float
    lon: float
    district: str
    name: str


@dataclass(frozen=True)
class Filed:
    """A report a resident sent through the form: its number and the token of its link."""

    lang: str
    number: str
    token: str
    spot: Spot


@contextmanager
def _db(served: Served) -> Iterator[sqlite3.Connection]:
    """The demo city's store (SQLite), rows by column name."""
    with closing(sqlite3.connect(served.var_dir / "citylens.db", timeout=30)) as db:
        db.row_factory = sqlite3.Row
        yield db


def _metres(lat: float) -> Callable[[Any], Any]:
    """(lon, lat) coordinates to metres east and north, around latitude ``lat`` (a city is
    small): for a geometry, ``shapely.transform(geometry, _metres(lat))``."""
    scale = np.array([111_320 * math.cos(math.radians(lat)), 110_540])
    return lambda coords: np.asarray(coords) * scale


@pytest.fixture(scope="module")
def districts(server_url: str) -> list[dict]:
    """The districts of the demo city (GeoJSON features, as the map draws them)."""
    features = _api(server_url, "/api/v1/districts")["features"]
    assert features
    return features


@pytest.fixture(scope="module")
def spots(served: Served, districts: list[dict]) -> dict[str, Spot]:
    """One spot per language, each well inside a district and far from any open pothole
    of the demo city and from the other spot (so that "already reported nearby" speaks
    only of the report sent there)."""
    with _db(served) as db:
        taken = [(r["lon"], r["lat"]) for r in db.execute(
            "SELECT lat, lon FROM service_requests WHERE service_code = ? AND status = 'open'"
            " AND closed_at IS NULL AND lat IS NOT NULL AND lon IS NOT NULL", (POTHOLE,))]
    west, south, east, north = _bounds(districts)
    to_m = _metres((south + north) / 2)
    areas = [(f, shapely.transform(shape(f["geometry"]), to_m)) for f in districts]
    candidates = []  # (lon, lat, in metres, district) on a grid, well inside a district
    for i in range(1, 60):
        for j in range(1, 60):
            lon, lat = west + (east - west) * i / 60, south + (north - south) * j / 60
            here = Point(to_m((lon, lat)))
            candidates += [(lon, lat, here, feature) for feature, area in areas
                           if area.contains(here) and area.exterior.distance(here) >= MARGIN_M]
    chosen: dict[str, Spot] = {}
    for lang in LANGS:
        avoid = [Point(to_m(xy)) for xy in taken] + [
            Point(to_m((s.lon, s.lat))) for s in chosen.values()]

        def room(candidate: tuple, avoid: list[Point] = avoid) -> float:
            return min((candidate[2].distance(a) for a in avoid), default=math.inf)

        lon, lat, here, feature = max(candidates, key=room)
        assert room((lon, lat, here)) >= MARGIN_M, "no spot far from the open potholes"
        chosen[lang] = Spot(lat, lon, feature["id"], feature["properties"]["name"])
    return chosen


def _bounds(districts: list[dict]) -> tuple[float, float, float, float]:
    """(west, south, east, north) of the districts: what the city map shows."""
    return shapely.GeometryCollection([shape(f["geometry"]) for f in districts]).bounds


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real JPEG from a phone camera: its maker and where it was taken in EXIF."""
    exif = Image.Exif()
    exif[EXIF_MAKE] = "CityLensTestCam"
    gps = exif.get_ifd(EXIF_GPS)
    gps.update({1: "N", 2: (43.0, 27.0, 54.0), 3: "W", 4: (3.0, 48.0, 32.0)})
    path = tmp_path_factory.mktemp("photo") / "bache.jpg"
    Image.new("RGB", (800, 600), (160, 110, 60)).save(path, "JPEG", exif=exif)
    with Image.open(path) as image:  # the test photo does carry what must be removed
        assert image.getexif()[EXIF_MAKE] == "CityLensTestCam"
        assert image.getexif().get_ifd(EXIF_GPS)[1] == "N"
    return path


@pytest.fixture(scope="module")
def filed() -> dict[str, Filed]:
    """The reports sent by the journey, per language (sent once, by whichever test needs
    one first)."""
    return {}


def _phone(browser):
    context = browser.new_context(**PHONE)
    page = context.new_page()
    watch_errors(page)
    return context, page


def _open(page, url: str) -> None:
    """Open a resident's page; on the form, wait for the map's district outlines."""
    page.goto(url)
    page.wait_for_selector(".resident-title", timeout=30_000)
    if "/report" in url:
        page.wait_for_selector("#report-map .leaflet-overlay-pane path", timeout=30_000)
    page.wait_for_load_state("networkidle")


def _assert_page_language(page, lang: str) -> None:
    assert page.evaluate("document.documentElement.lang") == lang


def _tap(page, spot: Spot, districts: list[dict], lang: str) -> tuple[float, float]:
    """Tap the city map at ``spot``; (lat, lon) where the form placed it. The map shows
    the whole city: the outlines' box on screen is the districts' box (Web Mercator)."""
    box = page.evaluate(OUTLINES_BOX)
    west, south, east, north = _bounds(districts)

    def mercator(lat: float) -> float:
        return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))

    x = box["left"] + (spot.lon - west) / (east - west) * (box["right"] - box["left"])
    y = box["top"] + (mercator(north) - mercator(spot.lat)) / (
        mercator(north) - mercator(south)) * (box["bottom"] - box["top"])
    page.locator("#report-map").tap(position={"x": x, "y": y})
    place = page.locator("#report-place")
    expect(place).to_contain_text(f"{PLACED[lang]} {spot.name} (", timeout=15_000)
    lat, lon = map(float, re.search(r"\(([-\d.]+), ([-\d.]+)\)", place.inner_text()).groups())
    to_m = _metres(lat)
    off = Point(to_m((lon, lat))).distance(Point(to_m((spot.lon, spot.lat))))
    assert off < MARGIN_M / 2, (lat, lon, spot)
    return lat, lon


def _choose(page, lang: str, code: str) -> None:
    """Choose the service ``code`` (the pothole by its name in ``lang``)."""
    if code == POTHOLE:
        page.locator("#report-service label", has_text=SERVICE[lang]).click()
    else:
        page.locator(f"#report-service input[value='{code}']").click()
    expect(page.locator(f"#report-service input[value='{code}']")).to_be_checked()


def _sent(page, lang: str) -> tuple[str, str, str]:
    """After a send: the thank-you shows (the form hidden); (number, token, link)."""
    expect(page.locator("#report-send-result")).to_contain_text(THANKS[lang], timeout=30_000)
    expect(page.locator("#report-send-box")).to_be_hidden()
    expect(page.locator("#report-send-error")).to_be_empty()
    number = page.inner_text("#report-send-result strong").strip()
    link = page.get_attribute("#report-send-result a.report-track-link", "href")
    parts = urllib.parse.urlsplit(link)
    assert parts.path.startswith("/track/")
    assert urllib.parse.parse_qs(parts.query) == {"lang": [lang]}
    return number, parts.path.removeprefix("/track/"), link


def _journey(browser, server_url: str, districts: list[dict], spot: Spot, photo: Path,
             lang: str) -> Filed:
    """A resident reports a pothole from a phone and follows the link they get."""
    context, page = _phone(browser)
    try:
        _open(page, f"{server_url}/report?lang={lang}")
        _assert_page_language(page, lang)
        assert page.evaluate(NO_SIDEWAYS_SCROLL)
        _choose(page, lang, POTHOLE)
        _tap(page, spot, districts, lang)
        page.fill("#report-description", DESCRIPTION[lang])
        page.set_input_files("#report-photo input[type=file]", photo)
        expect(page.locator("#report-photo-name")).to_have_text(PHOTO[lang] + photo.name)
        page.fill("#report-email", EMAIL[lang])
        page.click("#report-send")
        number, token, link = _sent(page, lang)
        assert page.locator("#report-nearby").inner_text() == ""  # a spot nobody reported
        assert page.evaluate(NO_SIDEWAYS_SCROLL)
        assert_clean(page)
        page.click("#report-send-result a.report-track-link")
        page.wait_for_url(link)
        page.wait_for_selector(".track-status", timeout=30_000)
        _assert_page_language(page, lang)
        expect(page.locator(".track-status")).to_contain_text(OPEN[lang])
        details = page.inner_text(".track-details")
        assert NUMBER[lang] in details and number in details
        assert SERVICE[lang] in details and spot.name in details
        assert page.evaluate(NO_SIDEWAYS_SCROLL)
        assert_clean(page)
        return Filed(lang, number, token, spot)
    finally:
        context.close()


def _report(filed: dict[str, Filed], browser, server_url: str, districts: list[dict],
            spots: dict[str, Spot], photo: Path, lang: str) -> Filed:
    """The journey's report in ``lang`` (sent now if no test sent it yet)."""
    if lang not in filed:
        filed[lang] = _journey(browser, server_url, districts, spots[lang], photo, lang)
    return filed[lang]


@pytest.mark.parametrize("lang", LANGS)
def test_a_resident_reports_a_pothole_from_a_phone(browser, served: Served, districts,
                                                   spots, photo, filed, lang: str) -> None:
    report = _report(filed, browser, served.url, districts, spots, photo, lang)
    with _db(served) as db:
        row = db.execute("SELECT * FROM service_requests WHERE token = ?",
                         (report.token,)).fetchone()
        assert row is not None
        assert (row["id"], row["service_code"], row["status"], row["channel"],
                row["moderation"], row["district_id"], row["description"]) == (
            report.number, POTHOLE, "open", "web", "pending", report.spot.district,
            DESCRIPTION[lang])
        # The resident's contact is kept apart, in citizens, never on the request.
        assert all(EMAIL[lang] not in str(value) for value in tuple(row))
        citizen = db.execute("SELECT email FROM citizens WHERE id = ?",
                             (row["citizen_id"],)).fetchone()
        assert citizen is not None and citizen["email"] == EMAIL[lang]
        photos = db.execute("SELECT media_type, content FROM request_photos"
                            " WHERE request_id = ?", (report.number,)).fetchall()
    assert len(photos) == 1 and photos[0]["media_type"] == "image/jpeg"
    with Image.open(io.BytesIO(photos[0]["content"])) as image:
        assert image.format == "JPEG" and image.size == (800, 600)
        assert not image.getexif()  # neither the camera's maker nor where it was taken
        assert "exif" not in image.info


def _axe_clean(page, axe_path: str, where: str) -> None:
    violations = run_axe(page, axe_path)
    assert not violations, (
        f"{len(violations)} WCAG 2.1 AA violation(s) on {where}:\n{_describe(violations)}")


@pytest.fixture(scope="module")
def kiosk_district(served: Served, districts: list[dict]) -> Spot:
    """A district of the store whose box's centre (where its map opens) lies well inside
    it."""
    with _db(served) as db:
        ids = [r["id"] for r in db.execute("SELECT id FROM districts ORDER BY id")]
    for feature in districts:
        if feature["id"] not in ids:
            continue
        area = shape(feature["geometry"])
        west, south, east, north = area.bounds
        lon, lat = (west + east) / 2, (south + north) / 2
        to_m = _metres(lat)
        if shapely.transform(area, to_m).buffer(-MARGIN_M).contains(Point(to_m((lon, lat)))):
            return Spot(lat, lon, feature["id"], feature["properties"]["name"])
    pytest.fail("no district of the demo city holds its box's centre")


@pytest.mark.parametrize("lang", LANGS)
def test_the_kiosk_report_slide_passes_axe(browser, server_url: str, axe_source: str,  # noqa: F811
                                           kiosk_district: Spot, lang: str) -> None:
    context = _kiosk_context(browser)
    try:
        page = context.new_page()
        watch_errors(page)
        _open_kiosk(page, f"{server_url}/kiosk?lang={lang}&district={kiosk_district.district}")
        index = page.evaluate(
            "title => Array.from(document.querySelectorAll('.kiosk-slide')).findIndex("
            "s => (s.getAttribute('aria-label') || '').includes(title))", KIOSK_SLIDE[lang])
        assert index >= 0, "no kiosk slide to report a problem"
        page.click(f"[data-kiosk-goto='{index}']")
        _wait_index(page, index, 5_000)
        wait_for(page, SETTLED, timeout=5_000)
        slide = page.locator(".kiosk-slide.is-active")
        expect(slide.locator("img.kiosk-report__qr")).to_be_visible()
        wait_for(page, "() => { const i = document.querySelector('.kiosk-slide.is-active "
                 "img.kiosk-report__qr'); return i.complete && i.naturalWidth > 0; }")
        host = urllib.parse.urlsplit(server_url).netloc
        expect(slide.locator(".kiosk-report__link")).to_have_text(
            f"{host}/report?from=kiosk&lang={lang}&district={kiosk_district.district}")
        _axe_clean(page, axe_source, f"the kiosk's report slide ({lang})")
        assert_clean(page)
    finally:
        context.close()


def test_a_spot_already_reported_says_so_before_sending(browser, server_url: str, districts,
                                                        spots, photo, filed) -> None:
    first = _report(filed, browser, server_url, districts, spots, photo, "es")
    context, page = _phone(browser)
    try:
        _open(page, f"{server_url}/report?lang=es")
        _choose(page, "es", POTHOLE)
        _tap(page, first.spot, districts, "es")
        nearby = page.locator("#report-nearby")
        expect(nearby).to_contain_text(NEARBY["es"], timeout=15_000)
        expect(nearby).to_contain_text(first.number)
        link = nearby.locator("a")
        expect(link).to_have_attribute("href", f"/track/{first.number}?lang=es")
        link.click()
        page.wait_for_selector(".track-status", timeout=30_000)
        assert first.number in page.inner_text(".track-details")
        assert_clean(page)
    finally:
        context.close()


def test_the_kiosk_qr_code_files_the_report_as_the_kiosks(browser, served: Served,
                                                          kiosk_district: Spot) -> None:
    context, page = _phone(browser)
    try:
        _open(page, f"{served.url}/report?district={kiosk_district.district}&from=kiosk"
                    "&lang=es")
        _assert_page_language(page, "es")
        english = page.get_attribute(".resident-langs a[lang='en']", "href")
        assert urllib.parse.parse_qs(urllib.parse.urlsplit(english).query) == {
            "district": [kiosk_district.district], "from": ["kiosk"], "lang": ["en"]}
        _choose(page, "es", OTHER)
        # The map opens on the district: its middle is the middle of the district's box.
        box = page.locator("#report-map").bounding_box()
        page.locator("#report-map").tap(position={"x": box["width"] / 2,
                                                  "y": box["height"] / 2})
        expect(page.locator("#report-place")).to_contain_text(
            f"{PLACED['es']} {kiosk_district.name} (", timeout=15_000)
        page.click("#report-send")
        number, _token, _link = _sent(page, "es")
        assert_clean(page)
    finally:
        context.close()
    with _db(served) as db:
        row = db.execute("SELECT channel, district_id, service_code FROM service_requests"
                         " WHERE id = ?", (number,)).fetchone()
    assert tuple(row) == ("kiosk", kiosk_district.district, OTHER)


def _count_requests(served: Served) -> int:
    with _db(served) as db:
        return db.execute("SELECT count(*) FROM service_requests").fetchone()[0]


def test_a_filled_trap_field_stores_nothing(browser, served: Served) -> None:
    context, page = _phone(browser)
    try:
        _open(page, f"{served.url}/report?lang=en")
        _choose(page, "en", OTHER)
        page.fill("#report-address", ADDRESS)
        page.fill("#report-description", "Tags all over the school wall")
        page.fill("#report-email", "robot@example.org")
        page.evaluate(FILL_TRAP, "https://spam.example")  # off-screen: people never see it
        before = _count_requests(served)
        page.click("#report-send")
        expect(page.locator("#report-send-error")).to_have_text(ROBOT["en"], timeout=30_000)
        expect(page.locator("#report-send-box")).to_be_visible()
        expect(page.locator("#report-send-result")).to_be_empty()
        assert _count_requests(served) == before
        # The same report without the trap is a valid one: it is filed.
        page.evaluate(FILL_TRAP, "")
        page.click("#report-send")
        _sent(page, "en")
        assert _count_requests(served) == before + 1
        assert_clean(page)
    finally:
        context.close()


def _set_moderation(served: Served, number: str, moderation: str) -> None:
    # What a staff member's decision writes (there is no command line for moderation).
    with _db(served) as db, db:
        db.execute("UPDATE service_requests SET moderation = ? WHERE id = ?",
                   (moderation, number))


def _shows_words(page, served: Served, report: Filed) -> bool:
    """Open the report's track page; whether it shows the description and the photo
    (both, or neither)."""
    _open(page, f"{served.url}/track/{report.token}?lang={report.lang}")
    page.wait_for_selector(".track-status", timeout=30_000)
    text = page.inner_text(".resident")
    photos = page.locator("img.track-photo")
    if DESCRIPTION[report.lang] not in text:
        assert photos.count() == 0
        assert PENDING[report.lang] in text
        return False
    assert page.inner_text(".track-text") == DESCRIPTION[report.lang]
    assert photos.count() == 1 and PENDING[report.lang] not in text
    wait_for(page, "() => { const i = document.querySelector('img.track-photo');"
             " return i.complete && i.naturalWidth > 0; }", timeout=15_000)
    return True


def test_the_track_page_shows_the_words_and_photo_once_approved(browser, served: Served,
                                                                districts, spots, photo,
                                                                filed) -> None:
    report = _report(filed, browser, served.url, districts, spots, photo, "es")
    context, page = _phone(browser)
    try:
        assert not _shows_words(page, served, report)  # pending
        _set_moderation(served, report.number, "approved")
        try:
            assert _shows_words(page, served, report)
            assert_clean(page)
        finally:
            _set_moderation(served, report.number, "pending")
        assert not _shows_words(page, served, report)
        assert_clean(page)
    finally:
        context.close()


@pytest.mark.parametrize("lang", LANGS)
def test_the_form_and_the_track_page_pass_axe(
        browser, server_url: str, axe_source: str, lang: str) -> None:  # noqa: F811
    context, page = _phone(browser)
    try:
        _open(page, f"{server_url}/report?lang={lang}")
        _assert_page_language(page, lang)
        _axe_clean(page, axe_source, f"/report?lang={lang}")
        # Sent with nothing chosen: one line says what to fix.
        page.click("#report-send")
        expect(page.locator("#report-send-error")).to_have_text(NO_SERVICE[lang],
                                                                timeout=30_000)
        expect(page.locator("#report-send-box")).to_be_visible()
        _axe_clean(page, axe_source, f"/report?lang={lang} (refused)")
        # Put right (a service, and the street in words), it is sent.
        _choose(page, lang, OTHER)
        page.fill("#report-address", ADDRESS)
        page.click("#report-send")
        _number, token, _link = _sent(page, lang)
        _axe_clean(page, axe_source, f"/report?lang={lang} (sent)")
        assert page.evaluate(NO_SIDEWAYS_SCROLL)
        assert_clean(page)
        _open(page, f"{server_url}/track/{token}?lang={lang}")
        page.wait_for_selector(".track-status", timeout=30_000)
        _assert_page_language(page, lang)
        _axe_clean(page, axe_source, f"/track/<token>?lang={lang}")
        assert_clean(page)
    finally:
        context.close()
