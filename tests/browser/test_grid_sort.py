"""A grid's chosen sort is kept in the link: clicking a header writes ``sort=`` into the
URL, and opening that URL shows the grid sorted the same way."""
from __future__ import annotations

import pytest

from tests.browser.conftest import assert_clean, wait_for

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("path,grid", [("/domain/waste", "domain-grid"),
                                       ("/alerts?period=90d", "alerts-grid")])
def test_a_sorted_grid_survives_a_reload(page, server_url: str, path: str, grid: str) -> None:
    page.goto(server_url + path)
    header = page.locator(f"#{grid} .ag-header-cell[col-id='value'] .ag-header-cell-label")
    header.wait_for(timeout=30_000)
    page.wait_for_load_state("networkidle")
    header.click()
    wait_for(page, "location.search.includes('sort=value')")
    header.click()
    wait_for(page, "location.search.includes('sort=-value')")
    page.goto(page.evaluate("location.href"))
    header.wait_for(timeout=30_000)
    wait_for(page, """id => {
        const api = window.dash_ag_grid && dash_ag_grid.getApi(id);
        const sorted = api ? api.getColumnState().filter(c => c.sort) : [];
        return sorted.length === 1 && sorted[0].colId === 'value' && sorted[0].sort === 'desc';
    }""", grid)
    assert "sort=-value" in page.evaluate("location.search")
    assert_clean(page)
