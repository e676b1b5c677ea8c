"""The department head's path in a real browser: overview map -> district -> domain ->
asset -> its series; and an export that downloads what the page shows."""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator

import pytest

pytestmark = pytest.mark.browser


@pytest.fixture
def page(browser, server_url: str) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.console_errors = []  # type: ignore[attr-defined]
    page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
    page.on("pageerror", lambda e: page.console_errors.append(str(e)))
    yield page
    context.close()


def _assert_clean(page) -> None:
    assert page.console_errors == []
    assert page.locator(".dash-fe-error__title").count() == 0


def test_map_click_to_district_to_domain_to_asset_series(page, server_url: str) -> None:
    page.goto(server_url + "/?window=month")
    page.wait_for_selector("#city-map path.leaflet-interactive", timeout=30_000)
    page.wait_for_load_state("networkidle")
    page.locator("#city-map path.leaflet-interactive").first.click()
    page.wait_for_url(re.compile(r"/district/[^/?]+\?period=30d"), timeout=30_000)
    district_url = page.url
    page.wait_for_selector("#district-page a[href^='/domain/']", timeout=30_000)
    page.wait_for_load_state("networkidle")
    heading = page.inner_text("h1")
    assert heading and "No district" not in heading

    page.locator("a[href^='/domain/'][href*='district=']").first.click()
    page.wait_for_url(re.compile(r"/domain/\w+\?.*district="), timeout=30_000)
    page.wait_for_selector("#domain-page .grid-link", timeout=30_000)
    page.wait_for_load_state("networkidle")
    name = page.locator(".grid-link").first.inner_text()
    page.locator(".grid-link").first.click()

    page.wait_for_url(re.compile(r"/asset/urn"), timeout=30_000)
    page.wait_for_selector("#asset-graph .js-plotly-plot .scatterlayer .trace", timeout=30_000)
    page.wait_for_load_state("networkidle")
    assert name in page.inner_text("h1")
    assert page.locator("#asset-graph .scatterlayer .trace").count() >= 1  # the series
    _assert_clean(page)

    page.go_back()  # the browser's history follows the path back
    page.wait_for_url(re.compile(r"/domain/"), timeout=30_000)
    page.goto(district_url)  # a shared link opens the same district view
    page.wait_for_selector("#district-page a[href^='/domain/']", timeout=30_000)
    assert page.inner_text("h1") == heading


def test_alerts_export_downloads_the_rows_shown(page, server_url: str) -> None:
    page.goto(server_url + "/alerts?period=90d&state=raised")
    page.wait_for_selector("#alerts-grid .ag-row", timeout=30_000)
    page.wait_for_load_state("networkidle")
    shown = int(page.inner_text(".alerts-page .count-pill").split()[0])
    with page.expect_download(timeout=30_000) as info:
        page.click("button:has-text('CSV')")
    rows = list(csv.DictReader(io.StringIO(info.value.path().read_text(encoding="utf-8-sig"))))
    assert len(rows) == shown > 0
    assert set(rows[0]) >= {"Severity", "Asset", "Domain", "District", "Rule", "Value"}

    page.fill("#alerts-search", "Container")  # the export follows the search
    page.wait_for_timeout(800)
    visible = page.locator("#alerts-grid .ag-center-cols-container .ag-row").count()
    with page.expect_download(timeout=30_000) as info:
        page.click("button:has-text('CSV')")
    rows = list(csv.DictReader(io.StringIO(info.value.path().read_text(encoding="utf-8-sig"))))
    assert rows and all("Container" in " ".join(r.values()) for r in rows)
    assert len(rows) <= shown and (len(rows) == visible or visible >= 20)
    _assert_clean(page)
