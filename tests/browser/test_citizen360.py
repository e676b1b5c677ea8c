"""Citizen 360 in a real browser: sign in through the form, search a resident, open the
profile, and find the read in the administrators' audit log; each screen passes axe."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.browser.conftest import assert_clean, signed_in_context, watch_errors
from tests.browser.test_accessibility import _describe, axe_source, run_axe  # noqa: F401

pytestmark = pytest.mark.browser
REASON = "Follow-up of complaint 2026/0042 at the desk"


def _busiest_resident(demo_env: dict[str, str]) -> tuple[str, str, int]:
    """(id, name, interactions) of the resident with most service requests."""
    db = sqlite3.connect(Path(demo_env["CITYLENS_VAR_DIR"]) / "citylens.db")
    cid, name = db.execute(
        "SELECT c.id, c.name FROM citizens c JOIN service_requests r ON r.citizen_id = c.id "
        "GROUP BY c.id ORDER BY count(*) DESC, c.id LIMIT 1").fetchone()
    total = sum(db.execute(f"SELECT count(*) FROM {table} WHERE citizen_id = ?",
                           (cid,)).fetchone()[0]
                for table in ("service_requests", "cases", "participation"))
    return cid, name, total


def _no_violations(page, axe_path: str) -> None:
    violations = run_axe(page, axe_path)
    assert not violations, _describe(violations)


def test_sign_in_search_open_profile_and_find_it_in_the_audit_log(
        browser, server_url: str, demo_env: dict[str, str], axe_source: str) -> None:  # noqa: F811
    from dashboard.demo.users import DEMO_PASSWORD

    cid, name, total = _busiest_resident(demo_env)
    context = browser.new_context(viewport={"width": 1440, "height": 900},
                                  accept_downloads=True)
    page = context.new_page()
    watch_errors(page)
    page.goto(server_url + "/citizen360")  # not signed in: the form, then back here
    page.wait_for_selector("#username")
    _no_violations(page, axe_source)
    page.fill("#username", "mayor")
    page.fill("#password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#citizen360-query", timeout=30_000)
    assert page.url.endswith("/citizen360")

    # Without a reason nothing is read.
    page.fill("#citizen360-query", name.split()[0].lower() + " " + name.split()[1])
    page.click("#citizen360-search")
    page.wait_for_selector(".c360-error", timeout=30_000)
    assert "reason" in page.inner_text(".c360-error")

    page.fill("#citizen360-reason", REASON)
    page.fill("#citizen360-query", name.lower())
    page.press("#citizen360-query", "Enter")
    page.wait_for_selector(".c360-result", timeout=30_000)
    result = page.locator(".c360-result", has_text=cid)
    assert "@" not in result.inner_text() or "•••" in result.inner_text()  # contact masked
    result.locator("button").click()
    page.wait_for_selector(".c360-profile", timeout=30_000)
    assert name in page.inner_text(".c360-person")
    assert page.locator(".c360-item").count() == total
    tags = page.locator(".c360-item").evaluate_all(
        "items => items.map(i => i.classList.contains('c360-item--open'))")
    assert tags == sorted(tags, reverse=True)  # open items first
    _no_violations(page, axe_source)

    with page.expect_download() as download:
        page.click("text=Download this profile")
    assert download.value.suggested_filename == f"citizen-{cid}.csv"
    assert_clean(page)
    context.close()

    admin = signed_in_context(browser, server_url, "admin")
    audit = admin.new_page()
    watch_errors(audit)
    audit.goto(server_url + f"/admin/audit?citizen={cid}")
    audit.wait_for_selector(".audit-table", timeout=30_000)
    rows = audit.locator(".audit-table tbody tr").all_inner_texts()
    assert any("mayor" in r and "Opened a profile" in r and REASON in r for r in rows)
    assert any("Downloaded a profile" in r for r in rows)
    _no_violations(audit, axe_source)
    assert_clean(audit)
    admin.close()


SURNAME = "Martínez"  # a common surname of the tiny demo city: more than one page of matches
LINK_REASON = "Colleague sent me this profile link"


def _audit_rows(demo_env: dict[str, str], cid: str) -> list[tuple[str, str]]:
    """(action, reason) of every audit entry about resident ``cid``."""
    db = sqlite3.connect(Path(demo_env["CITYLENS_VAR_DIR"]) / "citylens.db")
    rows = db.execute("SELECT action, reason FROM audit_log WHERE subject = ? ORDER BY id",
                      (cid,)).fetchall()
    db.close()
    return rows


def test_pages_of_matches_and_an_opened_profile_in_view_and_in_a_link(
        browser, server_url: str, demo_env: dict[str, str], axe_source: str) -> None:  # noqa: F811
    from playwright.sync_api import expect

    from dashboard.queries.citizen360 import PAGE_SIZE, normalise

    db = sqlite3.connect(Path(demo_env["CITYLENS_VAR_DIR"]) / "citylens.db")
    total = db.execute("SELECT count(*) FROM citizens WHERE search_text LIKE ?",
                       (f"%{normalise(SURNAME)}%",)).fetchone()[0]
    db.close()
    assert total > PAGE_SIZE
    context = signed_in_context(browser, server_url)
    page = context.new_page()
    watch_errors(page)
    page.goto(server_url + "/citizen360")
    page.wait_for_selector("#citizen360-query", timeout=30_000)
    page.fill("#citizen360-reason", REASON)
    page.fill("#citizen360-query", SURNAME)
    page.press("#citizen360-query", "Enter")
    count = page.locator(".c360-count")
    expect(count).to_have_text(f"{total} residents match “{SURNAME}” — showing 1–{PAGE_SIZE}",
                               timeout=30_000)
    metas = page.locator(".c360-result__meta")
    first = metas.all_inner_texts()
    page.click("text=Next →")
    expect(count).to_contain_text(f"showing {PAGE_SIZE + 1}–", timeout=30_000)
    assert not set(metas.all_inner_texts()) & set(first)
    page.click("text=← Previous")
    expect(count).to_contain_text(f"showing 1–{PAGE_SIZE}", timeout=30_000)
    assert metas.all_inner_texts() == first

    # The profile box sits below a page of results, out of sight: opening one brings it in.
    page.evaluate("window.scrollTo(0, 0)")
    expect(page.locator("#citizen360-profile")).not_to_be_in_viewport()
    result = page.locator(".c360-result").first
    name = result.locator(".c360-result__name").inner_text()
    cid = result.locator(".c360-result__meta").inner_text().split(" · ")[0]
    result.locator("button").click()
    expect(page.locator(".c360-person")).to_contain_text(name, timeout=30_000)
    expect(page.locator(".c360-person__name")).to_be_in_viewport()
    expect(page).to_have_url(f"{server_url}/citizen360?resident={cid}")
    assert_clean(page)
    opened = page.url
    page.go_back()  # back to the results: the profile closes, the results stay
    expect(page.locator(".c360-person")).to_have_count(0, timeout=30_000)
    expect(page.locator(".c360-result").first).to_be_visible()

    # The link, opened anew: nothing of the resident until a reason is given; then one entry.
    linked = context.new_page()
    watch_errors(linked)
    linked.goto(opened)
    linked.wait_for_selector(".c360-linked", timeout=30_000)
    assert name not in linked.content()
    before = _audit_rows(demo_env, cid)
    linked.click(".c360-linked button")
    expect(linked.locator("#citizen360-profile .c360-error")).to_contain_text(
        "reason", timeout=30_000)
    assert name not in linked.content() and _audit_rows(demo_env, cid) == before
    linked.fill("#citizen360-reason", LINK_REASON)
    linked.click(".c360-linked button")
    expect(linked.locator(".c360-person")).to_contain_text(name, timeout=30_000)
    expect(linked.locator(".c360-person__name")).to_be_in_viewport()
    assert _audit_rows(demo_env, cid) == [*before, ("view_profile", LINK_REASON)]
    _no_violations(linked, axe_source)
    assert_clean(linked)
    context.close()
