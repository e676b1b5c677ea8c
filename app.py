"""The composition root: the one module that may import every layer (import-linter holds
the others to their place, see ``pyproject.toml``).

- The web app: ``create_app(settings)``; ``server`` for gunicorn; ``python app.py`` runs it.
  Pages live in ``layouts/`` and their callbacks in ``callbacks/``; every module of both is
  imported here (``pages_folder=""``), so a new page is just a new module in each. The NGSI
  notification endpoint (a connector) is loaded only when it is configured.
- The command line: ``main()`` is the ``citylens`` command, the core's commands
  (``dashboard.cli``) with the connectors' groups added and the demo's ingest and
  ``serve`` wired in.
"""
from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import sys
from pathlib import Path
from typing import Any

import dash
import flask
from cachetools import LRUCache

from dashboard.api import register_api
from dashboard.api.media import register_media
from dashboard.api.ngsi_ld import register_ngsi_ld
from dashboard.api.open311_server import register_open311
from dashboard.api.opendata import register_opendata
from dashboard.auth.web import install as install_auth
from dashboard.settings import Settings, get_settings
from layouts import SETTINGS_KEY

APP_TITLE = "CityLens"
APP_LOAD_ERROR = 4
ASSETS_DIR = Path(__file__).resolve().parent / "assets"


def page_and_callback_modules() -> list[str]:
    """Every module of ``layouts/`` and ``callbacks/`` (pages register themselves)."""
    names = []
    for package in ("layouts", "callbacks"):
        module = importlib.import_module(package)
        names += [f"{package}.{info.name}" for info in pkgutil.iter_modules(module.__path__)]
    return sorted(names)


def _import_pages_and_callbacks() -> None:
    """Register pages (needs an app to exist) and callbacks (``@dash.callback``)."""
    for name in page_and_callback_modules():
        importlib.import_module(name)


_page_callbacks: tuple[dict[str, Any], list[Any], list[str]] | None = None


def _adopt_page_callbacks(app: dash.Dash) -> None:
    """Give ``app`` its own copy of the pages' ``@dash.callback``s. Dash keeps them in global
    lists that the first app to serve a request empties, so a second app in the same
    process (tests, or several cities in one process) would otherwise have none."""
    global _page_callbacks
    from dash import _callback

    if _page_callbacks is None:
        _page_callbacks = (dict(_callback.GLOBAL_CALLBACK_MAP),
                           list(_callback.GLOBAL_CALLBACK_LIST),
                           list(_callback.GLOBAL_INLINE_SCRIPTS))
        _callback.GLOBAL_CALLBACK_MAP.clear()
        _callback.GLOBAL_CALLBACK_LIST.clear()
        _callback.GLOBAL_INLINE_SCRIPTS.clear()
    callbacks, listing, scripts = _page_callbacks
    app.callback_map.update(callbacks)
    app._callback_list.extend(listing)  # noqa: SLF001 - Dash has no public way to do this
    app._inline_scripts.extend(scripts)  # noqa: SLF001


STATIC_PATHS = ("/_dash-component-suites/", "/assets/")  # versioned URLs: ?v= / ?m=
NOT_KEPT = "-"
STATIC_COMPRESSED_BYTES = 32 * 2**20


class StaticCompressed:
    """flask-compress's cache: the compressed bodies of the static bundles (Dash's component
    suites, 3.5 MB of plotly.js among them, and ``/assets/``) kept per worker, so a first
    visit does not make the worker compress them again; every other response is
    compressed afresh (its key is ``NOT_KEPT``)."""

    def __init__(self) -> None:
        self._kept: LRUCache[str, bytes] = LRUCache(maxsize=STATIC_COMPRESSED_BYTES,
                                                    getsizeof=len)

    def get(self, key: str) -> bytes | None:
        return self._kept.get(key)

    def set(self, key: str, value: bytes) -> None:
        if not key.endswith(";" + NOT_KEPT) and len(value) < STATIC_COMPRESSED_BYTES:
            self._kept[key] = value


def static_compression_key(request: Any) -> str:
    """A static bundle's full URL (its version is in the query), else ``NOT_KEPT``."""
    if request.method == "GET" and request.path.startswith(STATIC_PATHS):
        return str(request.full_path)
    return NOT_KEPT


def _web_server() -> flask.Flask:
    """The Flask server Dash runs on, its compression keeping the static bundles."""
    server = flask.Flask(__name__)
    server.config["COMPRESS_CACHE_BACKEND"] = StaticCompressed
    server.config["COMPRESS_CACHE_KEY"] = static_compression_key
    return server


class CityLensDash(dash.Dash):
    """Dash, minus what the page config tells every visitor about the server."""

    def _config(self) -> dict[str, Any]:
        config = dict(super()._config())
        config.pop("python_version", None)
        return config


def _store_posted(settings: Settings, rows: dict[str, list[dict[str, Any]]]) -> str | None:
    """A request posted to the Open311 server, stored by the connectors' path (loaded on
    the first post: a web worker loads no connector until it must)."""
    from connectors.open311_intake import store_posted

    return store_posted(settings, rows)


def create_app(settings: Settings | None = None) -> dash.Dash:
    """A configured CityLens Dash app (pages, callbacks, assets, settings)."""
    settings = settings or get_settings()
    app = CityLensDash(
        __name__,
        server=_web_server(),
        title=APP_TITLE,
        use_pages=True,
        pages_folder="",
        assets_folder=str(ASSETS_DIR),
        suppress_callback_exceptions=True,
        update_title=None,
        # gzip responses when flask-compress is installed (asset layers shrink ~10x)
        compress=importlib.util.find_spec("flask_compress") is not None,
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"},
                   {"name": "description", "content": "CityLens city management dashboard"}],
    )
    app.server.config[SETTINGS_KEY] = settings
    if settings.notify_token:  # a web worker loads no connector unless it must
        from connectors.ngsi_notify import register_notifications

        register_notifications(app.server, settings)
    register_api(app.server, settings)
    register_ngsi_ld(app.server, settings)
    register_opendata(app.server, settings)
    register_open311(app.server, settings, store=_store_posted)
    register_media(app.server)
    _import_pages_and_callbacks()
    _adopt_page_callbacks(app)

    from layouts.access import access_rules, enforce_where_read

    enforce_where_read(app)
    install_auth(app.server, settings, access_rules(app), app.csp_hashes)

    from layouts.shell import shell

    app.layout = lambda: shell(dash.page_container)
    if settings.cache_headers:
        _count_cache_work(app.server)
    if settings.keep_answers:
        from callbacks.response_cache import keep_answers

        keep_answers(app.server, settings)
    return app


def _count_cache_work(server: Any) -> None:
    """Say on every response how many views it computed and served stale (bench/live.py)."""
    from dashboard.cache import request_counts, start_counting

    server.before_request(start_counting)

    @server.after_request
    def _cache_headers(response: Any) -> Any:
        counts = request_counts()
        response.headers["X-CityLens-Computed"] = str(counts.get("computed", 0))
        response.headers["X-CityLens-Stale"] = str(counts.get("stale", 0))
        return response


_server: Any = None


def __getattr__(name: str) -> Any:
    """``app.server`` is created on first access (``gunicorn app:server``), not at import."""
    global _server
    if name == "server":
        if _server is None:
            _server = _create_or_exit().server
        return _server
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _create_or_exit(settings: Settings | None = None) -> dash.Dash:
    """``create_app``, or exit with one line when the store's schema is not this code's."""
    from sqlalchemy.exc import SQLAlchemyError

    from dashboard.store.problems import store_problem
    from dashboard.store.schema import StoreOutOfDate

    try:
        return create_app(settings)
    except (StoreOutOfDate, SQLAlchemyError, OSError) as error:
        problem = str(error) if isinstance(error, StoreOutOfDate) else store_problem(
            error, (settings or get_settings()).resolved_database_url)
        print(f"CityLens cannot start: {problem}", file=sys.stderr, flush=True)
        # 4 is gunicorn's "App failed to load": the arbiter stops instead of respawning
        # workers that would all refuse the same store.
        raise SystemExit(APP_LOAD_ERROR) from None


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Serve the dashboard with Dash's development server (production: gunicorn)."""
    _create_or_exit(settings).run(host=host or settings.host, port=port or settings.port,
                                  debug=settings.debug)


def render_briefing(briefing: dict[str, Any], public_url: str) -> Any:
    """The briefing renderer (``layouts.briefing_pdf``: Plotly charts, Chromium's PDF),
    loaded when the first briefing is rendered, not when a command starts."""
    from layouts.briefing_pdf import render_briefing as render

    return render(briefing, public_url)


def main(args: list[str] | None = None) -> None:
    """The ``citylens`` command line: the core's commands and the connectors' groups, with
    the demo's ingest (connectors) and ``serve`` (this app) wired in."""
    from connectors.cli import register_commands
    from connectors.demo import ingest_feeds
    from connectors.simulator import start_simulator
    from dashboard import cli
    from dashboard.notify.renderer import use_renderer

    use_renderer(render_briefing)
    register_commands(cli.app)
    cli.run(cli.app, cli.Wiring(ingest_demo=ingest_feeds, serve=serve,
                                simulate=start_simulator), args)


if __name__ == "__main__":
    serve(get_settings())
