"""The mayor's overview in a real browser: loads clean, shows numbers, reacts to a district."""
from __future__ import annotations

import re

import pytest

from tests.browser.conftest import assert_clean, wait_for

pytestmark = pytest.mark.browser
NUMBER = re.compile(r"\d+([.,]\d+)?")




def _open(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("#city-score", timeout=30_000)
    wait_for(page, "document.querySelectorAll('.kpi-card').length >= 12", timeout=30_000
    )
    page.wait_for_load_state("networkidle")


def _numbers(page) -> str:
    cards = page.locator(".kpi-card").all_inner_texts()
    return page.inner_text("#city-score") + "|" + "|".join(cards)

    assert "Error loading" not in page.content()


def test_overview_shows_score_cards_and_map(page, server_url: str) -> None:
    _open(page, server_url + "/")
    assert NUMBER.search(page.inner_text("#city-score"))
    assert page.locator(".kpi-card").count() >= 12
    assert page.locator("#city-map").is_visible()
    assert page.locator("#city-map path.leaflet-interactive").count() >= 8  # district polygons
    assert_clean(page)


def test_choosing_a_district_changes_the_numbers_and_the_url(page, server_url: str) -> None:
    _open(page, server_url + "/")
    before = _numbers(page)
    page.click("#district-filter")
    page.get_by_role("option").nth(1).click()  # first real district after "whole city"
    wait_for(page, "location.search.includes('district=')", timeout=15_000)
    wait_for(page, "prev => { const t = [document.querySelector('#city-score').innerText,"
        " ...[...document.querySelectorAll('.kpi-card')].map(c => c.innerText)].join('|');"
        " return t !== prev; }",
        arg=before, timeout=15_000,
    )
    assert _numbers(page) != before
    assert_clean(page)


def test_a_shared_link_restores_the_view(page, server_url: str) -> None:
    _open(page, server_url + "/")
    page.click("#district-filter")
    page.get_by_role("option").nth(2).click()
    wait_for(page, "location.search.includes('district=')", timeout=15_000)
    shared = page.url
    chosen = page.inner_text("#district-filter")
    page.goto("about:blank")
    _open(page, shared)
    assert page.inner_text("#district-filter") == chosen
    assert_clean(page)
