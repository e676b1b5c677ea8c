"""The department head's path in a real browser: overview map -> district -> domain ->
asset -> its series; and an export that downloads what the page shows."""
from __future__ import annotations

import csv
import io
import re

import pytest

from tests.browser.conftest import assert_clean, wait_for

pytestmark = pytest.mark.browser





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
    assert_clean(page)

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
    assert list(rows[0]) == ["id", "severity", "asset_id", "asset_name", "domain",
                             "district_id", "rule", "metric", "value", "unit",
                             "raised_at_utc", "cleared_at_utc"]  # raw values, UTC times
    assert all(r["raised_at_utc"].endswith("+00:00") and float(r["value"]) == float(r["value"])
               for r in rows)

    page.fill("#alerts-search", "Container")  # the export follows the search
    page.wait_for_timeout(800)
    visible = page.locator("#alerts-grid .ag-center-cols-container .ag-row").count()
    with page.expect_download(timeout=30_000) as info:
        page.click("button:has-text('CSV')")
    rows = list(csv.DictReader(io.StringIO(info.value.path().read_text(encoding="utf-8-sig"))))
    assert rows and all("Container" in " ".join(r.values()) for r in rows)
    assert len(rows) <= shown and (len(rows) == visible or visible >= 20)
    assert_clean(page)


def _brush(page, graph: str, left: float, right: float) -> None:
    """Drag across a chart's plot area from ``left`` to ``right`` (fractions of its width)."""
    area = page.locator(f"#{graph} .nsewdrag").first
    area.scroll_into_view_if_needed()
    box = area.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * left, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * right, y, steps=12)
    page.mouse.up()


def test_brushing_the_trend_filters_the_services_page(page, server_url: str) -> None:
    page.goto(server_url + "/services?period=30d")
    page.wait_for_selector("#services-trend-graph .nsewdrag", timeout=30_000)
    page.wait_for_load_state("networkidle")
    received = page.locator(".sr-stat__value").nth(2).inner_text()
    _brush(page, "services-trend-graph", 0.4, 0.7)
    wait_for(page, "location.search.includes('from=')", timeout=30_000)
    page.wait_for_load_state("networkidle")
    wait_for(page, f"document.querySelectorAll('.sr-stat__value')[2].innerText !== {received!r}",
        timeout=30_000)
    subtitle = page.inner_text("#services-subtitle")
    assert "Last 30 days" not in subtitle and " – " in subtitle
    assert page.locator("#services-period input:checked").count() == 0  # no preset
    assert page.input_value("#services-range-start")  # the picker shows the range
    shared = page.evaluate("location.href")
    assert_clean(page)

    page.goto(shared)  # the link opens the same range
    page.wait_for_selector("#services-trend-graph .nsewdrag", timeout=30_000)
    page.wait_for_load_state("networkidle")
    assert page.inner_text("#services-subtitle") == subtitle
    page.locator("#services-period label:has-text('7 d')").click()  # a preset clears it
    wait_for(page, "!location.search.includes('from=')", timeout=30_000)
    wait_for(page, "document.querySelector('#services-range-start').value === ''",
                           timeout=30_000)
    assert_clean(page)


def test_domain_grid_pages_searches_sorts_and_exports_from_the_server(
        page, server_url: str) -> None:
    page.goto(server_url + "/domain/lighting")
    page.wait_for_selector("#domain-grid .ag-row .grid-link", timeout=30_000)
    page.wait_for_load_state("networkidle")
    summary = "#domain-grid .ag-paging-row-summary-panel"
    total = ("(s) => Number((document.querySelector(s) || {innerText: ''}).innerText"
             ".trim().split(/\\s+/).pop().replace(/,/g, ''))")
    everything = page.evaluate(total, summary)
    assert everything > 0
    page.click("#domain-grid .ag-header-cell[col-id='name'] .ag-header-cell-label")
    wait_for(page, "() => { const n = [...document.querySelectorAll("
                   "'#domain-grid .ag-center-cols-container .ag-row')]"
                   ".sort((a, b) => a.getAttribute('row-index') - b.getAttribute('row-index'))"
                   ".map(r => r.querySelector('.grid-link'));"
                   " if (n.length < 2 || n.some(a => !a)) return false;"
                   " const t = n.map(a => a.innerText.toLowerCase());"
                   " return t.every((v, i) => !i || t[i - 1] <= v); }")  # sorted on the server
    word = page.locator("#domain-grid .ag-row[row-index='0'] .grid-link").inner_text().split()[-1]
    page.fill("#domain-search", word)
    wait_for(page, f"(s) => ({total})(s) > 0 && ({total})(s) < {everything}", summary)
    found = page.evaluate(total, summary)
    with page.expect_download(timeout=30_000) as info:
        page.click("#domain-page button:has-text('CSV')")
    rows = list(csv.DictReader(io.StringIO(info.value.path().read_text(encoding="utf-8-sig"))))
    assert len(rows) == found and all(word.casefold() in " ".join(r.values()).casefold()
                                      for r in rows)
    assert_clean(page)


def test_a_custom_range_on_the_overview(page, server_url: str) -> None:
    """Two dates typed in the overview's picker make the period those local days: the
    subtitle, the URL (a link that opens the same range) and the numbers follow; a preset
    empties the picker."""
    page.goto(server_url + "/?period=30d")
    page.wait_for_selector("#overview-range-start", timeout=30_000)
    page.wait_for_load_state("networkidle")
    page.click("#overview-range-start")
    page.fill("#overview-range-start", "10 Nov 2026")
    page.keyboard.press("Tab")
    page.fill("#overview-range-end", "20 Nov 2026")
    page.keyboard.press("Tab")
    wait_for(page, "location.search.includes('period=2026-11-09T23')", timeout=30_000)
    wait_for(page, "document.querySelector('#overview-subtitle').innerText"
                   ".startsWith('Chosen period · 10 Nov – 20 Nov 2026')", timeout=30_000)
    assert page.locator("#window-filter input:checked").count() == 0  # no preset
    shared = page.evaluate("location.href")
    page.goto(shared)  # the link opens the same range
    page.wait_for_selector("#overview-range-start", timeout=30_000)
    assert page.input_value("#overview-range-start") and page.inner_text(
        "#overview-subtitle").startswith("Chosen period · 10 Nov – 20 Nov 2026")
    page.locator("#window-filter label:has-text('7 d')").click()  # a preset empties it
    wait_for(page, "location.search.includes('period=7d')", timeout=30_000)
    wait_for(page, "document.querySelector('#overview-range-start').value === ''",
             timeout=30_000)
    assert_clean(page)
