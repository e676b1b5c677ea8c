"""The feed-health page in a real browser: loads clean, lists sources, shows quarantine."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.browser.conftest import signed_in_context
from tests.conftest import CITYLENS_CLI

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]


def test_feeds_page_lists_a_run_source_and_its_quarantine(browser, server_url, demo_env,
                                                          tmp_path) -> None:
    districts = tmp_path / "extra.geojson"
    districts.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "<script>alert(1)</script>"},
         "geometry": None},
    ]}))
    subprocess.run([*CITYLENS_CLI, "districts", "load", str(districts),
                    "--source-id", "browser-boundaries"], env=demo_env, cwd=ROOT,
                   capture_output=True, check=False, timeout=120)
    context = signed_in_context(browser, server_url, "admin")  # the quarantine is admin-only
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: errors.append(f"dialog opened: {d.message}"))
    page.goto(server_url + "/feeds?source=browser-boundaries")
    page.wait_for_selector(".feeds-table", timeout=30_000)
    page.wait_for_load_state("networkidle")
    assert "browser-boundaries" in page.inner_text(".feeds-table")
    assert "<script>alert(1)</script>" in page.inner_text(".quarantine-table")  # text, not HTML
    # The navigation shows where we are, and follows in-app navigation.
    assert page.get_attribute(".nav__link[href='/feeds']", "aria-current") == "page"
    page.click(".nav__link[href='/']")
    page.wait_for_selector("#city-score", timeout=30_000)
    assert page.get_attribute(".nav__link[href='/']", "aria-current") == "page"
    assert page.get_attribute(".nav__link[href='/feeds']", "aria-current") is None
    assert errors == []
    context.close()
