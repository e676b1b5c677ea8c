"""Notifications in a real browser: the mayor clicks "Notify me about this district" on a
district page, follows its link to /notifications and finds the subscription there, adds
an e-mail address and chooses a monthly briefing (the store has them), and marks read a
notification that came for that district (recorded and matched on the served store, as
the notifier does); the navigation's count follows. axe's WCAG 2.1 A/AA rules find
nothing on /notifications (the mayor) and /deliveries (an administrator), at 1280x800 and
390x844, with no sideways scroll.

The mayor's unread notifications are all marked read at the end, so later tests meet the
navigation as before.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Served, assert_clean, signed_in_context, watch_errors
from tests.browser.test_accessibility import axe_source  # noqa: F401 (a fixture)
from tests.browser.test_report import NO_SIDEWAYS_SCROLL, _axe_clean, _db

pytestmark = pytest.mark.browser
ADDRESS = "alcaldia@santander.example"
ASSET = "Contenedor de la prueba del navegador"
SIZES = [{"width": 1280, "height": 800}, {"width": 390, "height": 844}]


def _settings(served: Served) -> Any:
    from dashboard.settings import Settings

    return Settings(var_dir=served.var_dir, database_url="", redis_url=None)


@pytest.fixture(scope="module")
def district(served: Served) -> dict[str, str]:
    """A district of the demo city: its id and name."""
    with _db(served) as db:
        row = db.execute("SELECT id, name FROM districts ORDER BY id DESC").fetchone()
    return {"id": row["id"], "name": row["name"]}


@pytest.fixture(scope="module")
def delivery(served: Served) -> Iterator[None]:
    """One retrying webhook digest in the delivery log (the test server sends nothing)."""
    from sqlalchemy import delete, insert

    from dashboard.model import Delivery
    from dashboard.store import get_engine

    now = datetime.now(timezone.utc)
    engine = get_engine(_settings(served).resolved_database_url)
    with engine.begin() as conn:
        made = conn.execute(insert(Delivery).values(
            username="mayor", subscription_id=None, kind="digest", channel="webhook",
            destination="hooks.example.org", dedupe_key=None, status="retrying", items=3,
            attempts=2, created_at=now, next_attempt_at=now + timedelta(minutes=5),
            sent_at=None, last_error="HTTP 503 from hooks.example.org", payload={},
        ).returning(Delivery.id)).scalar_one()
    yield
    with engine.begin() as conn:
        conn.execute(delete(Delivery).where(Delivery.id == made))


def _tell(served: Served, district: dict[str, str]) -> None:
    """A container in ``district`` fills up: its event recorded and matched to the
    subscriptions, as the notifier does."""
    from dashboard.notify.events import record_events
    from dashboard.notify.matching import match_events
    from dashboard.store import get_engine

    settings = _settings(served)
    now = datetime.now(timezone.utc)
    event = {"key": f"browser-test:{now.timestamp()}", "kind": "alert_raised",
             "rule": "WasteContainer.fillingLevel>0.95", "district_id": district["id"],
             "domain": "waste", "severity": "warning", "occurred_at": now,
             "payload": {"alert_id": 0, "asset_id": "urn:ngsi-ld:WasteContainer:browser:1",
                         "asset_name": ASSET, "value": 0.97, "district_name": district["name"]}}
    with get_engine(settings.resolved_database_url).begin() as conn:
        record_events(conn, [event], now=now)
        while match_events(conn, settings, now):  # the demo's own alerts wait there too
            pass


def _unread(served: Served) -> int:
    with _db(served) as db:
        return int(db.execute("SELECT count(*) FROM notifications WHERE username = 'mayor'"
                              " AND read_at IS NULL").fetchone()[0])


def _open(page: Any, url: str, ready: str) -> None:
    page.goto(url)
    page.wait_for_selector("#main h1", timeout=30_000)
    page.wait_for_selector(ready, timeout=30_000)
    page.wait_for_load_state("networkidle")


def _count_says(page: Any, unread: int) -> None:
    """The bell says the unread count (its words are there folded or not)."""
    expect(page.locator("#notifications-unread")).to_have_text(
        f"Notifications, {unread} unread" if unread else "Notifications")


def test_the_mayor_follows_a_district_and_reads_what_came(browser, server_url: str,
                                                         served: Served,
                                                         district: dict[str, str]) -> None:
    context = signed_in_context(browser, server_url, viewport=SIZES[0])
    try:
        page = context.new_page()
        watch_errors(page)
        _open(page, f"{server_url}/district/{district['id']}", ".notify-me__button")
        page.get_by_role("button", name="Notify me about this district").click()
        status = page.locator(".notify-me__status")
        expect(status).to_have_text(re.compile(r"Subscribed — manage in Notifications"))
        status.get_by_role("link", name="manage in Notifications").click()
        page.wait_for_url(re.compile(r"/notifications\?subscription=\d+$"))
        added = page.locator(".subscription--new")
        expect(added).to_contain_text(district["name"])
        expect(added).to_contain_text("(just added)")
        expect(added).to_contain_text("In the app")

        page.fill("#notifications-email", ADDRESS)
        page.locator("#notifications-briefing label:has-text('Monthly')").click()
        page.click("#notifications-save")
        expect(page.locator("#notifications-saved")).to_have_text("Saved.")
        with _db(served) as db:
            user = db.execute("SELECT email, briefing FROM users WHERE username = 'mayor'"
                              ).fetchone()
        assert (user["email"], user["briefing"]) == (ADDRESS, "monthly")

        _tell(served, district)
        unread = _unread(served)
        assert unread >= 1
        _open(page, f"{server_url}/notifications", ".notice")
        _count_says(page, unread)
        expect(page.locator("#notifications-summary")).to_have_text(
            re.compile(rf"^{unread} unread of \d+$"))
        item = page.locator(".notice", has_text=ASSET)
        expect(item).to_have_count(1)
        expect(item.locator(".notice__flag")).to_have_text("Unread")
        expect(item.locator(".notice__title")).to_contain_text(district["name"])
        item.get_by_role("button", name="Mark read").click()
        expect(item.locator(".notice__flag")).to_have_count(0)
        expect(item.get_by_role("button", name="Mark unread")).to_be_visible()
        _count_says(page, unread - 1)
        assert _unread(served) == unread - 1
        assert page.evaluate(NO_SIDEWAYS_SCROLL)
        assert_clean(page)
    finally:
        context.close()


@pytest.mark.parametrize("size", SIZES, ids=["1280x800", "390x844"])
@pytest.mark.parametrize(("username", "path", "ready"), [
    ("mayor", "/notifications", ".notify-form"),
    ("admin", "/deliveries", ".deliveries-table"),
], ids=["notifications", "deliveries"])
def test_the_pages_pass_axe(browser, server_url: str, axe_source: str,  # noqa: F811
                            served: Served, delivery: None, username: str, path: str,
                            ready: str, size: dict[str, int]) -> None:
    context = signed_in_context(browser, server_url, username, viewport=size)
    try:
        page = context.new_page()
        watch_errors(page)
        _open(page, server_url + path, ready)
        if path == "/deliveries":
            expect(page.locator(".deliveries-table")).to_contain_text("hooks.example.org")
        _axe_clean(page, axe_source, f"{path} at {size['width']}x{size['height']}")
        assert page.evaluate(NO_SIDEWAYS_SCROLL)
        assert_clean(page)
    finally:
        context.close()


def test_mark_all_read_leaves_the_mayor_nothing_unread(browser, server_url: str,
                                                      served: Served) -> None:
    context = signed_in_context(browser, server_url, viewport=SIZES[1])
    try:
        page = context.new_page()
        watch_errors(page)
        _open(page, f"{server_url}/notifications", ".notify-form")
        page.get_by_role("button", name="Mark all read").click()
        expect(page.locator("#notifications-summary")).to_have_text(re.compile(r"^0 unread"))
        _count_says(page, 0)
        assert _unread(served) == 0
        page.locator("#notifications-show label:has-text('Unread')").click()
        expect(page.locator("#notifications-list")).to_have_text(
            re.compile(r"No unread notifications\.|Nothing yet"))
        assert_clean(page)
    finally:
        context.close()
