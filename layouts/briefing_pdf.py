"""Rendering a briefing (``dashboard.briefing``): its charts drawn to PNG by plotly.js and
its document printed to an A4 PDF, both in one headless Chromium driven by Playwright.

No network at all: plotly.js is the copy bundled with the plotly package, put inline in
the page; images travel as data URIs; every request the pages would make is aborted.
``render_briefing`` is the ``BriefingRenderer`` (one browser per call); a
``BriefingPrinter`` keeps one browser for many briefings, driven from a thread of its own
(Playwright's sync API refuses a thread with a running asyncio loop, such as a caller's
own Playwright session or an async server)::

    with BriefingPrinter() as printer:
        for content in briefings:
            send(printer.render(content, public_url))
"""
from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any, TypeVar

import plotly.offline
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Route, sync_playwright

from dashboard.briefing import RenderedBriefing, briefing_subject, briefing_text
from layouts.briefing_charts import briefing_figures
from layouts.briefing_document import briefing_html

DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-quic",
                 "--no-first-run"]
SCALE = 2  # device pixels per CSS pixel of the chart images (sharp on screens and paper)
CHART_PAGE = ("<!DOCTYPE html><html><head><meta charset='utf-8'><script>{plotly}</script>"
              "</head><body style='margin:0;background:#ffffff'><div id='chart'></div>"
              "</body></html>")
DRAW = """async (figure) => {
    const chart = document.getElementById('chart');
    chart.style.width = figure.layout.width + 'px';
    chart.style.height = figure.layout.height + 'px';
    Plotly.purge(chart);
    await Plotly.newPlot(chart, figure.data, figure.layout, {staticPlot: true});
}"""
T = TypeVar("T")
FOOTER = ("<div style=\"font-size:8px;color:#52606d;width:100%;padding:0 11mm;"
          "font-family:Arial,sans-serif;display:flex;justify-content:space-between\">"
          "<span>{title}</span><span><span class=\"pageNumber\"></span> / "
          "<span class=\"totalPages\"></span></span></div>")


def chromium_path() -> str:
    """The Chromium to drive: ``CITYLENS_CHROMIUM``, else Debian's."""
    return os.environ.get("CITYLENS_CHROMIUM") or DEFAULT_CHROMIUM


def _offline(route: Route) -> None:
    """Let nothing leave the machine: only ``data:`` and ``about:`` may load."""
    if route.request.url.startswith(("data:", "about:")):
        route.continue_()
    else:
        route.abort()


def _escape_footer(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


class BriefingPrinter:
    """One headless Chromium that renders briefings until closed (a context manager)."""

    def __init__(self, executable: str | None = None) -> None:
        self.executable = executable or chromium_path()
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._contexts: list[BrowserContext] = []
        self._charts: Page | None = None
        self._printer: Page | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="briefing-printer")
        self._thread_id = self._thread.submit(threading.get_ident).result()

    def _run(self, work: Callable[..., T], *args: Any) -> T:
        """``work(*args)`` on the printer's own thread (where its browser lives)."""
        if threading.get_ident() == self._thread_id:
            return work(*args)
        return self._thread.submit(work, *args).result()

    def __enter__(self) -> BriefingPrinter:
        self.open()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def open(self) -> None:
        """Start the browser: a page with plotly.js for the charts and a page without
        script for the document."""
        self._run(self._open)

    def _open(self) -> None:
        if self._browser is not None:
            return
        self._playwright = sync_playwright().start()
        try:
            self._browser = self._playwright.chromium.launch(
                executable_path=self.executable, headless=True, args=CHROMIUM_ARGS)
            charts = self._context(device_scale_factor=SCALE)
            self._charts = charts.new_page()
            self._charts.set_content(CHART_PAGE.format(plotly=plotly.offline.get_plotlyjs()),
                                     wait_until="load")
            self._printer = self._context(java_script_enabled=False).new_page()
        except Exception:
            self._close()
            raise

    def _context(self, **options: Any) -> BrowserContext:
        assert self._browser is not None
        context = self._browser.new_context(offline=True, service_workers="block", **options)
        context.route("**/*", _offline)
        self._contexts.append(context)
        return context

    def close(self) -> None:
        """Close the browser and Playwright, and the printer's thread (safe to call
        twice)."""
        self._run(self._close)
        self._thread.shutdown(wait=True)

    def _close(self) -> None:
        for context in self._contexts:
            context.close()
        self._contexts.clear()
        if self._browser is not None:
            self._browser.close()
        if self._playwright is not None:
            self._playwright.stop()
        self._browser = self._playwright = self._charts = self._printer = None

    def chart_images(self, briefing: dict[str, Any]) -> dict[str, bytes]:
        """Every chart of the briefing as PNG bytes, by name."""
        return self._run(self._chart_images, briefing)

    def _chart_images(self, briefing: dict[str, Any]) -> dict[str, bytes]:
        if self._charts is None:
            self._open()
        assert self._charts is not None
        images = {}
        for name, figure in briefing_figures(briefing).items():
            self._charts.evaluate(DRAW, json.loads(figure.to_json()))
            images[name] = self._charts.locator("#chart").screenshot(animations="disabled")
        return images

    def pdf(self, html: str, title: str) -> bytes:
        """The document ``html`` printed on A4, numbered pages."""
        return self._run(self._pdf, html, title)

    def _pdf(self, html: str, title: str) -> bytes:
        if self._printer is None:
            self._open()
        assert self._printer is not None
        self._printer.set_content(html, wait_until="load")
        return self._printer.pdf(
            format="A4", print_background=True, prefer_css_page_size=True,
            display_header_footer=True, header_template="<span></span>",
            footer_template=FOOTER.format(title=_escape_footer(title)))

    def render(self, briefing: dict[str, Any], public_url: str) -> RenderedBriefing:
        """The e-mail (HTML with ``cid:`` charts, text, subject, images) and the PDF."""
        images = self.chart_images(briefing)
        inline = {name: "data:image/png;base64," + base64.b64encode(png).decode("ascii")
                  for name, png in images.items()}
        subject = briefing_subject(briefing)
        return RenderedBriefing(
            subject=subject,
            html=briefing_html(briefing, public_url, charts={n: f"cid:{n}" for n in images}),
            text=briefing_text(briefing, public_url),
            pdf=self.pdf(briefing_html(briefing, public_url, charts=inline), subject),
            images=images)


def render_briefing(briefing: dict[str, Any], public_url: str) -> RenderedBriefing:
    """Render one briefing with a browser of its own (the ``BriefingRenderer``)."""
    with BriefingPrinter() as printer:
        return printer.render(briefing, public_url)
