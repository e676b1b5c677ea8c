"""Accessibility in a real browser: every page passes axe-core's WCAG 2.1 A/AA rules, and
the filters can be used with the keyboard alone.

axe-core comes from npm (``tests/browser/package.json``; ``make test`` installs it). Without
it these tests skip, unless CITYLENS_REQUIRE_SERVICES=1.
"""
from __future__ import annotations

import json
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.browser.conftest import assert_clean, wait_for
from tests.conftest import service_missing

pytestmark = pytest.mark.browser
AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# Third-party widget internals we cannot change, left out of the check (axe's ``exclude``).
EXCLUDE = [
    # dcc.Dropdown (Dash 4): its hidden focus-target input has tabindex=0 and aria-hidden.
    ".dash-dropdown-focus-target",
    # dcc.DatePickerRange (Dash 4): its "clear dates" icon is an <a> without href or role.
    ".dash-datepicker-clear",
]
# Third-party internals that wrap our own content (labels, option texts): only the one
# rule is waived on them, every other rule still applies. (rule id, CSS selector)
WAIVED = [
    # (dcc.RadioItems' and dcc.Checklist's listbox/option roles around real inputs are
    # removed by assets/option_lists.js: no waiver needed.)
    # dcc.DatePickerRange (Dash 4) puts aria-expanded on its role-less wrapper <div>.
    ("aria-allowed-attr", ".dash-datepicker-input-wrapper"),
]
# (name, URL path, selector that shows the page's main content has rendered)
PAGES = [
    ("overview", "/", ".kpi-card"),
    ("overview-department", "/?department=Residuos%20y%20Limpieza", ".kpi-card"),
    ("domains", "/domains", ".domain-card"),
    ("domain", "/domain/waste", "#domain-page .grid-link"),
    ("district", "/district/{district}", "#district-page a[href^='/domain/']"),
    ("asset", "/asset/{asset}", "#asset-graph .js-plotly-plot .main-svg"),
    ("services", "/services", ".services .sr-stats"),
    ("alerts", "/alerts", "#alerts-grid .ag-root"),
    ("feeds", "/feeds", ".feeds-table"),
    ("insights", "/insights", ".insights-tile"),
    ("citizen360", "/citizen360", ".c360-search"),
]


@pytest.fixture(scope="module")
def axe_source() -> str:
    """axe-core's minified script (installed by npm)."""
    if not AXE.exists():
        service_missing("axe-core", FileNotFoundError(
            f"{AXE}; run: npm ci --no-audit --no-fund --prefix tests/browser"))
    return str(AXE)


def _api(server_url: str, path: str) -> dict:
    with urllib.request.urlopen(server_url + path, timeout=30) as response:
        return json.load(response)


@pytest.fixture(scope="module")
def demo_ids(server_url: str) -> dict[str, str]:
    """A real district and a real (located) asset of the demo city, from the open-data API."""
    districts = _api(server_url, "/api/v1/districts")["features"]
    assets = _api(server_url, "/api/v1/assets?domain=waste")["features"]
    assert districts and assets
    return {"district": urllib.parse.quote(districts[0]["properties"]["id"], safe=""),
            "asset": urllib.parse.quote(assets[0]["properties"]["id"], safe=":")}


def _describe(violations: list[dict]) -> str:
    """One block per violation: rule, impact, help, and its first few nodes."""
    lines = []
    for violation in violations:
        nodes = violation["nodes"]
        lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']} "
                     f"[{len(nodes)} node(s)] {violation['helpUrl']}")
        for node in nodes[:5]:
            lines.append(f"    {' '.join(map(str, node['target']))}")
            lines.append(f"      {node['html'][:300]}")
            if node.get("failureSummary"):
                summary = " ".join(node["failureSummary"].split())
                lines.append(f"      {summary[:300]}")
    return "\n".join(lines)


# Runs axe, then drops the nodes of a violation that match one of its rule's waivers.
RUN_AXE = """async ([context, tags, waived]) => {
    const result = await axe.run(context, {runOnly: {type: 'tag', values: tags},
                                           resultTypes: ['violations']});
    const matches = (node, selectors) => {
        const target = node.target[node.target.length - 1];
        const element = typeof target === 'string' ? document.querySelector(target) : null;
        return element !== null && selectors.some(s => element.matches(s));
    };
    return result.violations.map(v => {
        const selectors = waived.filter(([rule]) => rule === v.id).map(([, s]) => s);
        return {...v, nodes: v.nodes.filter(node => !matches(node, selectors))};
    }).filter(v => v.nodes.length > 0);
}"""


def run_axe(page, axe_path: str) -> list[dict]:
    """axe-core's WCAG 2.1 A/AA violations of the page as it is now (minus the waivers)."""
    # Evaluated through the DevTools protocol, which the page's CSP does not govern (a
    # <script> tag added to the page would be an inline script, rightly refused by it).
    page.evaluate(Path(axe_path).read_text(encoding="utf-8") + "\n;undefined")
    context = {"include": [["html"]], "exclude": [[selector] for selector in EXCLUDE]}
    return page.evaluate(RUN_AXE, [context, WCAG_TAGS, WAIVED])


@pytest.mark.parametrize(("path", "ready"), [(path, ready) for _, path, ready in PAGES],
                         ids=[name for name, _, _ in PAGES])
def test_page_has_no_wcag_violations(page, server_url: str, axe_source: str,
                                     demo_ids: dict[str, str], path: str, ready: str) -> None:
    page.goto(server_url + path.format(**demo_ids))
    page.wait_for_selector("#main h1", timeout=30_000)
    page.wait_for_selector(ready, timeout=30_000)
    page.wait_for_load_state("networkidle")
    violations = run_axe(page, axe_source)
    assert not violations, (
        f"{len(violations)} WCAG 2.1 AA violation(s) on {path}:\n{_describe(violations)}")
    assert_clean(page)


def _focus(page) -> dict:
    """Where the keyboard focus is: in the filter bar?, in the period group?, its value."""
    return page.evaluate(
        "() => { const e = document.activeElement; return {"
        " filters: !!e.closest('[role=search]'),"
        " period: e.matches('#services-period input[type=radio]'), value: e.value,"
        " outline: e.matches('#services-period input') &&"
        "   getComputedStyle(e.closest('label')).outlineStyle !== 'none'}; }")


def test_services_filters_work_with_the_keyboard(page, server_url: str) -> None:
    page.goto(server_url + "/services")
    page.wait_for_selector(".services .sr-stats", timeout=30_000)
    page.wait_for_load_state("networkidle")
    # Tab from the top of the page reaches the filter bar, then the period radio group.
    page.locator("body").focus()
    stops = []
    for _ in range(40):
        page.keyboard.press("Tab")
        stops.append(_focus(page))
        if stops[-1]["period"]:
            break
    assert any(stop["filters"] for stop in stops), stops
    focus = stops[-1]
    assert focus["period"] and focus["outline"], stops  # reached, and the focus is visible
    # An arrow key chooses the next period, and the URL follows.
    page.keyboard.press("ArrowRight")
    chosen = _focus(page)["value"]
    assert chosen != focus["value"]
    assert page.locator(f"#services-period input[value='{chosen}']").is_checked()
    wait_for(page, "v => new URLSearchParams(location.search).get('period') === v",
                           arg=chosen, timeout=15_000)
    # Space chooses the focused period too (the first one, not the default).
    first = page.locator("#services-period input[type=radio]").first
    first.focus()
    page.keyboard.press("Space")
    value = first.get_attribute("value")
    assert first.is_checked() and value != chosen
    wait_for(page, "v => new URLSearchParams(location.search).get('period') === v",
                           arg=value, timeout=15_000)
    assert_clean(page)
