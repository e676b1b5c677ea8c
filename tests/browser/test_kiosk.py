"""The public kiosk (/kiosk) in a real browser, without signing in: it fits 1920x1080 and
1080x1920 screens in Spanish and English, rotates on its own, pauses while touched, switches
language, redraws on new data without reloading, and keeps its slides while the server is
away."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser.conftest import _free_port, _wait_for, assert_clean, wait_for, watch_errors
from tests.browser.test_accessibility import _describe, axe_source, run_axe  # noqa: F401
from tests.conftest import CITYLENS_CLI

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
VIEWPORTS = {"landscape": {"width": 1920, "height": 1080},
             "portrait": {"width": 1080, "height": 1920}}
# A text of the air slide in each language (msgstr of "Air quality now" in the es catalogue).
AIR_TITLE = {"es": "Calidad del aire ahora", "en": "Air quality now"}
FAST_MS = 1200  # a short slide interval for the rotation checks

# Whether the document or the body can scroll.
SCROLLBARS = """() => {
    const d = document.documentElement, b = document.body;
    return {doc: [d.scrollWidth, d.scrollHeight], body: [b.scrollWidth, b.scrollHeight],
            view: [window.innerWidth, window.innerHeight]};
}"""
# Descendants of the active slide that stick out of it (right or bottom), described.
OVERFLOWING = """() => {
    const slide = document.querySelector('.kiosk-slide.is-active');
    const box = slide.getBoundingClientRect();
    return Array.from(slide.querySelectorAll('*')).filter(e => {
        const r = e.getBoundingClientRect();
        return r.width > 0 && r.height > 0 &&
            (r.bottom > box.bottom + 0.5 || r.right > box.right + 0.5);
    }).map(e => `${e.tagName.toLowerCase()}.${e.className.baseVal ?? e.className}: ` +
                `${JSON.stringify(e.getBoundingClientRect())} vs slide ${JSON.stringify(box)}`);
}"""
# Buttons and links of the kiosk smaller than 44x44 CSS px (when visible).
SMALL_TARGETS = """() => Array.from(document.querySelectorAll(
        '.kiosk button, .kiosk a, .kiosk [role=button]')).filter(e => {
    const r = e.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && (r.width < 44 || r.height < 44);
}).map(e => `${e.outerHTML.slice(0, 120)}: ${Math.round(e.getBoundingClientRect().width)}x` +
            `${Math.round(e.getBoundingClientRect().height)}`)"""
# The active slide has finished its entrance animation.
SETTLED = """() => {
    const slide = document.querySelector('.kiosk-slide.is-active');
    return !!slide && slide.getAnimations().every(a => a.playState !== 'running');
}"""


def _current(page) -> int:
    return int(page.get_attribute(".kiosk", "data-current"))


def _count(page) -> int:
    return page.locator(".kiosk-slide").count()


def _open(page, url: str) -> None:
    """Open the kiosk and wait until its script has taken over the slides."""
    page.goto(url)
    page.wait_for_selector(".kiosk[data-current] .kiosk-slide.is-active", timeout=30_000)
    page.wait_for_load_state("networkidle")


def _fast(page, ms: int = FAST_MS) -> None:
    page.evaluate(f"document.querySelector('.kiosk').setAttribute('data-slide-ms', '{ms}')")


def _wait_index(page, index: int, timeout: float) -> None:
    wait_for(page, f"document.querySelector('.kiosk').getAttribute('data-current') === '{index}'",
        timeout=timeout)


def _assert_holds(page, index: int, ms: int) -> None:
    """The slide stays ``index`` for ``ms`` (sampled)."""
    for _ in range(ms // 300):
        page.wait_for_timeout(300)
        assert _current(page) == index


def _kiosk_context(browser, orientation: str = "landscape", **options):
    return browser.new_context(viewport=VIEWPORTS[orientation], **options)


@pytest.mark.parametrize("lang", ["es", "en"])
@pytest.mark.parametrize("orientation", list(VIEWPORTS))
def test_every_slide_fits_reads_and_passes_axe(browser, server_url: str, axe_source: str,  # noqa: F811
                                               orientation: str, lang: str) -> None:
    viewport = VIEWPORTS[orientation]
    shots = os.environ.get("CITYLENS_SCREENSHOTS")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
    context = _kiosk_context(browser, orientation)
    try:
        page = context.new_page()
        watch_errors(page)
        _open(page, f"{server_url}/kiosk?lang={lang}")
        assert page.evaluate("document.documentElement.lang") == lang
        sizes = page.evaluate(SCROLLBARS)
        width, height = sizes["view"]
        assert (width, height) == (viewport["width"], viewport["height"])
        for part in ("doc", "body"):
            assert sizes[part][0] <= width and sizes[part][1] <= height, sizes
        text = page.inner_text(".kiosk-stage")
        other = AIR_TITLE["en" if lang == "es" else "es"]
        count = _count(page)
        assert count >= 5  # city, air, parking, services, progress at the least
        seen = []
        for i in range(count):
            page.click(f"[data-kiosk-goto='{i}']")
            _wait_index(page, i, 5_000)
            wait_for(page, SETTLED, timeout=5_000)
            active = page.locator(".kiosk-slide.is-active")
            assert active.count() == 1
            assert active.get_attribute("id") == f"kiosk-slide-{i}"
            box = active.bounding_box()
            assert box is not None and box["width"] > 0 and box["height"] > 0
            assert box["x"] >= 0 and box["y"] >= 0, box
            assert box["x"] + box["width"] <= width + 0.5, box
            assert box["y"] + box["height"] <= height + 0.5, box
            overflowing = page.evaluate(OVERFLOWING)
            assert not overflowing, f"slide {i} ({lang}, {orientation}):\n" + "\n".join(
                overflowing[:10])
            small = page.evaluate(SMALL_TARGETS)
            assert not small, f"slide {i} touch targets under 44 px: {small}"
            violations = [v for v in run_axe(page, axe_source)
                          if v["impact"] in ("serious", "critical")]
            assert not violations, f"slide {i} ({lang}, {orientation}):\n" + _describe(
                violations)
            seen.append(active.inner_text())
            if shots:
                page.screenshot(path=str(Path(shots) / f"kiosk-{lang}-{orientation}-{i}.png"))
        assert len(set(seen)) == count  # every dot showed a different slide
        text = "\n".join(seen) + page.inner_text(".kiosk-bar") + page.inner_text(
            ".kiosk-updated")
        assert AIR_TITLE[lang] in text
        assert other not in text
        if lang == "es":
            assert "Actualizado a las" in text and "Updated at" not in text
        else:
            assert "Updated at" in text and "Actualizado a las" not in text
        assert page.evaluate("document.documentElement.lang") == lang
        assert_clean(page)
    finally:
        context.close()


def test_slides_rotate_on_their_own_and_wrap_around(browser, server_url: str) -> None:
    context = _kiosk_context(browser)
    try:
        page = context.new_page()
        watch_errors(page)
        _open(page, server_url + "/kiosk?lang=en")
        count = _count(page)
        assert _current(page) == 0
        _fast(page)
        _wait_index(page, 1, FAST_MS * 4)
        _wait_index(page, 2, FAST_MS * 4)
        # Jump near the end without pausing (through the script, not a touch) and watch it
        # wrap around to the first slide.
        page.evaluate(f"window.citylensKiosk.show({count - 1})")
        _wait_index(page, 0, FAST_MS * 4)
        _wait_index(page, 1, FAST_MS * 4)
        assert page.locator(".kiosk-slide.is-active").get_attribute("id") == "kiosk-slide-1"
        assert page.get_attribute("[data-kiosk-goto='1']", "aria-current") == "true"
        assert "is-paused" not in page.get_attribute(".kiosk", "class")
        assert_clean(page)
    finally:
        context.close()


def test_a_touch_pauses_and_the_toggle_resumes_and_holds(browser, server_url: str) -> None:
    context = _kiosk_context(browser, has_touch=True)
    try:
        page = context.new_page()
        watch_errors(page)
        _open(page, server_url + "/kiosk?lang=en")
        _fast(page)
        _wait_index(page, 1, FAST_MS * 4)
        paused_hint = page.locator(".kiosk-updated__paused")
        assert not paused_hint.is_visible()
        box = page.locator(".kiosk-slides").bounding_box()
        page.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.wait_for_selector(".kiosk.is-paused", timeout=2_000)
        index = _current(page)
        _assert_holds(page, index, FAST_MS * 3)
        assert paused_hint.is_visible()
        assert page.locator(".kiosk-toggle__play").is_visible()
        assert page.get_attribute("[data-kiosk-toggle]", "aria-pressed") == "false"
        # The toggle plays at once, and the slides go on.
        page.click("[data-kiosk-toggle]")
        page.wait_for_selector(".kiosk:not(.is-paused)", timeout=2_000)
        assert not paused_hint.is_visible()
        assert page.locator(".kiosk-toggle__pause").is_visible()
        _wait_index(page, (index + 1) % _count(page), FAST_MS * 4)
        # Pressed again, it holds the slide until pressed once more.
        page.click("[data-kiosk-toggle]")
        page.wait_for_selector(".kiosk.is-paused", timeout=2_000)
        assert page.get_attribute("[data-kiosk-toggle]", "aria-pressed") == "true"
        held = _current(page)
        _assert_holds(page, held, FAST_MS * 3)
        assert paused_hint.is_visible()
        page.click("[data-kiosk-toggle]")
        page.wait_for_selector(".kiosk:not(.is-paused)", timeout=2_000)
        assert page.get_attribute("[data-kiosk-toggle]", "aria-pressed") == "false"
        _wait_index(page, (held + 1) % _count(page), FAST_MS * 4)
        assert_clean(page)
    finally:
        context.close()


def test_a_mouse_click_on_the_slides_pauses_too(browser, server_url: str) -> None:
    context = _kiosk_context(browser)
    try:
        page = context.new_page()
        watch_errors(page)
        _open(page, server_url + "/kiosk?lang=es")
        _fast(page)
        page.click(".kiosk-slides")
        page.wait_for_selector(".kiosk.is-paused", timeout=2_000)
        _assert_holds(page, _current(page), FAST_MS * 3)
        assert page.locator(".kiosk-updated__paused").is_visible()
        assert_clean(page)
    finally:
        context.close()


def test_the_language_toggle_switches_to_english(browser, server_url: str) -> None:
    context = _kiosk_context(browser)
    try:
        page = context.new_page()
        watch_errors(page)
        _open(page, server_url + "/kiosk?lang=es")
        assert page.get_attribute(".kiosk-langs a[lang='es']", "aria-current") == "true"
        assert "Actualizado a las" in page.inner_text(".kiosk-updated")
        page.click(".kiosk-langs a:has-text('English')")
        page.wait_for_selector(".kiosk[data-lang='en'][data-current]", timeout=30_000)
        wait_for(page, "document.documentElement.lang === 'en'", timeout=5_000)
        assert "lang=en" in page.url
        assert page.get_attribute(".kiosk-langs a[lang='en']", "aria-current") == "true"
        assert page.get_attribute(".kiosk-langs a[lang='es']", "aria-current") is None
        assert "Updated at" in page.inner_text(".kiosk-updated")
        assert "City information" in page.inner_text(".kiosk-bar")
        page.click("[data-kiosk-goto='1']")
        assert AIR_TITLE["en"] in page.inner_text(".kiosk-slide.is-active")
        assert_clean(page)
    finally:
        context.close()


def _version(page) -> str:
    return page.get_attribute("[data-kiosk-version]", "data-kiosk-version")


def test_new_data_redraws_the_slides_without_a_reload(browser, server_url: str,
                                                      demo_env: dict[str, str],
                                                      tmp_path: Path) -> None:
    context = _kiosk_context(browser)
    try:
        page = context.new_page()
        watch_errors(page)
        _open(page, server_url + "/kiosk?lang=en")
        page.click("[data-kiosk-goto='2']")
        before = _version(page)
        page.evaluate("window.__notReloaded = true")
        # Nothing new: a poll redraws nothing.
        page.evaluate("window.citylensKiosk.poll()")
        page.wait_for_load_state("networkidle")
        assert _version(page) == before
        districts = tmp_path / "kiosk.geojson"
        districts.write_text(json.dumps({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"id": "kiosk-test", "name": "Kiosk test"},
             "geometry": {"type": "Polygon", "coordinates": [[
                 [-3.80, 43.46], [-3.79, 43.46], [-3.79, 43.47], [-3.80, 43.46]]]}},
        ]}))
        result = subprocess.run(
            [*CITYLENS_CLI, "districts", "load", str(districts),
             "--source-id", "kiosk-test"], env=demo_env, cwd=ROOT, capture_output=True,
            check=False, timeout=120)
        assert result.returncode == 0, result.stderr.decode()[-2000:]
        page.evaluate("window.citylensKiosk.poll()")
        wait_for(page, f"(document.querySelector('[data-kiosk-version]') || {{}}).getAttribute?.("
            f"'data-kiosk-version') !== '{before}'", timeout=15_000)
        after = _version(page)
        assert after and int(after) > int(before)
        assert page.evaluate("window.__notReloaded") is True
        # The redraw keeps the slide on screen and the controls working.
        page.wait_for_selector(".kiosk-slide.is-active", timeout=5_000)
        assert _current(page) == 2
        assert page.locator(".kiosk-slide.is-active").get_attribute("id") == "kiosk-slide-2"
        assert page.get_attribute("[data-kiosk-goto='2']", "aria-current") == "true"
        assert "Updated at" in page.inner_text(".kiosk-updated")
        assert_clean(page)
    finally:
        context.close()


def _serve(demo_env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as stderr:
        process = subprocess.Popen([sys.executable, "app.py"],
                                   env={**demo_env, "CITYLENS_PORT": str(port)}, cwd=ROOT,
                                   stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        _wait_for(f"http://127.0.0.1:{port}/api/v1/version", process)
    except Exception as error:
        process.kill()
        raise RuntimeError(f"{error}; server log:\n{log.read_text()[-3000:]}") from error
    return process


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


EXPECTED_OFFLINE = ("Failed to load resource", "ERR_CONNECTION_REFUSED")


def test_the_kiosk_keeps_its_slides_while_the_server_is_away(browser, demo_env: dict[str, str],
                                                             tmp_path: Path) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    process = _serve(demo_env, port, log)
    context = _kiosk_context(browser)
    try:
        page = context.new_page()
        watch_errors(page)
        _open(page, url + "/kiosk?lang=en")
        slides = page.locator(".kiosk-slide").all_inner_texts()  # hidden ones are ""
        ids = [page.locator(".kiosk-slide").nth(i).get_attribute("id")
               for i in range(len(slides))]
        updated = page.inner_text(".kiosk-updated__ok")
        assert updated.startswith("Updated at ")
        stamp = updated.removeprefix("Updated at ").strip()
        assert not page.locator(".kiosk-updated__offline").is_visible()
        _stop(process)
        page.evaluate("window.citylensKiosk.poll()")
        page.wait_for_selector(".kiosk.is-offline", timeout=10_000)
        offline = page.locator(".kiosk-updated__offline")
        assert offline.is_visible()
        assert stamp in offline.inner_text() and "No connection" in offline.inner_text()
        assert not page.locator(".kiosk-updated__ok").is_visible()
        # The same slides stay, and go on rotating.
        assert [page.locator(".kiosk-slide").nth(i).get_attribute("id")
                for i in range(len(slides))] == ids
        assert page.locator(".kiosk-slide").count() == len(slides)
        start = _current(page)
        first = page.inner_text(".kiosk-slide.is-active")
        assert first == slides[start]
        _fast(page)
        _wait_index(page, (start + 1) % len(slides), FAST_MS * 4)
        _wait_index(page, (start + 2) % len(slides), FAST_MS * 4)
        wait_for(page, SETTLED, timeout=5_000)
        assert page.locator(".kiosk-slide.is-active").inner_text().strip()
        assert page.locator(".dash-fe-error__title").count() == 0
        page.evaluate("window.citylensKiosk.poll()")  # still away: still offline
        page.wait_for_timeout(500)
        assert "is-offline" in page.get_attribute(".kiosk", "class")
        # Back again: the next poll clears the offline line.
        process = _serve(demo_env, port, log)
        page.evaluate("window.citylensKiosk.poll()")
        page.wait_for_selector(".kiosk:not(.is-offline)", timeout=10_000)
        assert page.locator(".kiosk-updated__ok").is_visible()
        assert not offline.is_visible()
        assert page.locator(".kiosk-slide").count() == len(slides)
        assert page.locator(".dash-fe-error__title").count() == 0
        unexpected = [m for m in page.console_errors
                      if not any(expected in m for expected in EXPECTED_OFFLINE)]
        assert unexpected == []
    finally:
        context.close()
        _stop(process)


@pytest.mark.parametrize("orientation", sorted(VIEWPORTS))
def test_district_bars_share_one_scale(browser, server_url: str, orientation: str) -> None:
    """Every district's bar track on the progress slide is as long as every other's, so a
    longer bar always means more fixed, whatever its row's text (before, each track
    stretched or shrank with its own numbers' width)."""
    context = _kiosk_context(browser, orientation)
    try:
        page = context.new_page()
        _open(page, f"{server_url}/kiosk?lang=es")
        index = page.evaluate("Array.from(document.querySelectorAll('.kiosk-slide'))"
                              ".findIndex(s => s.querySelector('.kiosk-district__bar'))")
        assert index >= 0, "no slide shows the districts' bars"
        page.click(f"[data-kiosk-goto='{index}']")
        _wait_index(page, index, 5_000)
        wait_for(page, SETTLED, timeout=5_000)
        tracks = page.evaluate(
            "Array.from(document.querySelectorAll('.kiosk-slide.is-active "
            ".kiosk-district__bar')).map(b => Math.round(b.getBoundingClientRect().width))")
        assert len(tracks) >= 2 and len(set(tracks)) == 1 and tracks[0] > 20, tracks
    finally:
        context.close()
