"""The staff pages on a phone (390x844, touch): a menu button, filters that fold, a map a
one-finger swipe scrolls past, tables that scroll inside their card; on a desktop the
same pages show the navigation and the filters without a button."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser.conftest import assert_clean, signed_in_context, wait_for, watch_errors

pytestmark = pytest.mark.browser
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


@pytest.fixture
def phone(browser, server_url: str) -> Iterator[object]:
    """A phone-sized touch page signed in as the mayor."""
    context = signed_in_context(browser, server_url, **PHONE)
    page = context.new_page()
    watch_errors(page)
    yield page
    context.close()


def _open(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("#shell-menu-toggle", state="attached", timeout=30_000)
    page.wait_for_load_state("networkidle")


def test_the_menu_opens_navigates_and_closes(phone, server_url: str) -> None:
    _open(phone, server_url + "/services")
    toggle = phone.locator("#shell-menu-toggle")
    alerts_link = phone.locator("#shell-nav a", has_text="Alerts")
    assert toggle.is_visible()
    assert not alerts_link.is_visible()
    assert not phone.locator(".account__signout").is_visible()

    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    assert alerts_link.is_visible()
    assert phone.locator(".account__signout").is_visible()  # sign-out is in the menu

    alerts_link.click()
    wait_for(phone, "location.pathname === '/alerts'")
    assert not alerts_link.is_visible()  # navigating closes the menu
    assert toggle.get_attribute("aria-expanded") == "false"
    assert_clean(phone)


def test_filters_fold_behind_a_button(phone, server_url: str) -> None:
    _open(phone, server_url + "/services")
    district = phone.locator("#services-district")
    toggle = phone.locator("#services-filters-fold").locator("xpath=..").locator(".fold__toggle")
    assert toggle.is_visible()
    assert not district.is_visible()
    assert not phone.locator("#services-channel").is_visible()  # the page's own fields fold too
    toggle.click()
    assert district.is_visible()
    assert phone.locator("#services-channel").is_visible()
    toggle.click()
    assert not district.is_visible()


def test_a_swipe_over_a_map_scrolls_the_page(phone, server_url: str) -> None:
    for path, map_id in (("/", "city-map"), ("/services", "services-map")):
        _open(phone, server_url + path)
        phone.wait_for_selector(f"#{map_id}.leaflet-container", timeout=30_000)
        touch_action = phone.evaluate(
            "id => getComputedStyle(document.getElementById(id)).touchAction", map_id)
        assert touch_action == "pan-y", path  # vertical swipes belong to the page


@pytest.mark.parametrize("path", ["/", "/services", "/alerts", "/domains", "/domain/air",
                                  "/district/santander-01", "/insights", "/feeds"])
def test_no_staff_page_scrolls_sideways(phone, server_url: str, path: str) -> None:
    """Wide tables and grids scroll inside their card, not the page."""
    _open(phone, server_url + path)
    phone.wait_for_timeout(1500)  # late callbacks fill the tables
    width = phone.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{path} scrolls sideways: {width}"
    assert_clean(phone)


def test_a_desktop_shows_the_navigation_and_filters_without_buttons(
        browser, server_url: str) -> None:
    context = signed_in_context(browser, server_url)
    page = context.new_page()
    try:
        _open(page, server_url + "/services")
        assert not page.locator("#shell-menu-toggle").is_visible()
        assert page.locator("#shell-nav a", has_text="Alerts").is_visible()
        assert not page.locator(".fold__toggle").is_visible()
        # the filter bar shows unfolded (waits for Dash to render it: a busy CI is slow)
        page.locator("#services-district").wait_for(state="visible", timeout=15_000)
        touch_action = page.evaluate(
            "getComputedStyle(document.getElementById('services-map')).touchAction")
        assert touch_action != "pan-y"
    finally:
        context.close()
