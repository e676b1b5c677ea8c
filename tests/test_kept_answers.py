"""Kept callback answers (callbacks/response_cache.py): an identical request of the same
user gets the rendered answer again until a write touches what it read; users never share
answers; Citizen 360, downloads and unknown callbacks are always computed. Also the static
bundles' compressed bodies, kept per worker."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text, update

from callbacks.response_cache import cacheable
from dashboard.model import Alert, Asset
from dashboard.settings import Settings
from dashboard.store import get_engine, unit_of_work
from dashboard.store.version import bump_data_version
from tests.conftest import router_body, sign_in

UPDATE = "/_dash-update-component"


@pytest.fixture
def city(tiny_city: Settings, tmp_path: Path) -> Settings:
    """A copy of the tiny city this test may write to."""
    var_dir = tmp_path / "var"
    shutil.copytree(tiny_city.var_dir, var_dir)
    return tiny_city.model_copy(update={"var_dir": var_dir})


@pytest.fixture
def app(city: Settings) -> Any:
    from app import create_app

    return create_app(city)


def _alerted_asset(settings: Settings) -> tuple[str, str]:
    with get_engine(settings.resolved_database_url).connect() as conn:
        row = conn.execute(select(Asset.id, Asset.name).join(Alert, Alert.asset_pk == Asset.pk)
                           .where(Alert.cleared_at.is_(None)).order_by(Asset.id)).first()
    assert row is not None, "the tiny city has an active alert"
    return row[0], row[1]


def _rename(settings: Settings, asset: str, name: str, *, bump: bool) -> None:
    with unit_of_work(get_engine(settings.resolved_database_url)) as conn:
        conn.execute(update(Asset).where(Asset.id == asset).values(name=name))
        if bump:
            bump_data_version(conn, ["assets"])


@pytest.fixture
def renders(app: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths whose layout the pages router really built (not a kept answer)."""
    import dash

    built: list[str] = []
    for page in dash.page_registry.values():
        def counted(*args: Any, _layout: Any = page["layout"], _path: str = page["path"],
                    **kwargs: Any) -> Any:
            built.append(_path)
            return _layout(*args, **kwargs)
        monkeypatch.setitem(page, "layout", counted)
    return built


def test_an_answer_is_kept_until_a_write_touches_what_it_read(
        app: Any, city: Settings, renders: list[str]) -> None:
    client = app.server.test_client()
    assert sign_in(client, "mayor").status_code == 302
    asset, name = _alerted_asset(city)
    name = json.dumps(name)[1:-1]  # as the JSON answer writes it
    first = client.post(UPDATE, json=router_body("/alerts"))
    assert first.status_code == 200 and name in first.get_data(as_text=True)
    # A change nobody announced (no version bump) is not seen: the kept answer is served.
    _rename(city, asset, "Contenedor renombrado", bump=False)
    kept = client.post(UPDATE, json=router_body("/alerts"))
    assert kept.get_data() == first.get_data() and renders == ["/alerts"]  # built once
    # A write that bumps what the page read (assets) is seen at once.
    _rename(city, asset, "Contenedor renombrado", bump=True)
    fresh = client.post(UPDATE, json=router_body("/alerts")).get_data(as_text=True)
    assert "Contenedor renombrado" in fresh and name not in fresh
    assert renders == ["/alerts", "/alerts"]
    # A write elsewhere (the service requests) leaves the kept answer in place.
    with unit_of_work(get_engine(city.resolved_database_url)) as conn:
        conn.execute(update(Asset).where(Asset.id == asset).values(name="Unannounced"))
        bump_data_version(conn, ["requests"])
    assert "Unannounced" not in client.post(UPDATE, json=router_body("/alerts")).get_data(
        as_text=True)


def test_users_never_share_answers(app: Any, city: Settings) -> None:
    mayor, head = app.server.test_client(), app.server.test_client()
    assert sign_in(mayor, "mayor").status_code == 302
    assert sign_in(head, "waste.head").status_code == 302
    for _ in range(2):
        as_mayor = mayor.post(UPDATE, json=router_body("/")).get_data(as_text=True)
        as_head = head.post(UPDATE, json=router_body("/")).get_data(as_text=True)
        assert as_mayor != as_head
        assert "Residuos y Limpieza" in as_head  # the department head's own scope
    public = app.server.test_client()
    assert public.post(UPDATE, json=router_body("/")).status_code == 401  # not signed in


def test_only_the_staff_pages_data_callbacks_are_kept() -> None:
    assert cacheable(router_body("/")) and cacheable(router_body("/district/santander-01"))
    assert cacheable(router_body("/services"))
    for path in ("/citizen360", "/admin", "/asset/x", "/feeds", "/insights", "/kiosk"):
        assert not cacheable(router_body(path)), path
    assert cacheable({"output": "..overview-place-title.children...overview-cards.children.."})
    assert cacheable({"output": "overview-alerts.children"})
    assert not cacheable({"output": "services-download.data"})
    assert not cacheable({"output": "..overview-alerts.children...citizen360-timeline.children.."})
    assert not cacheable({"output": '{"type":"overview-kpi-card","kpi":"x"}.className'})
    assert not cacheable({"output": ""}) and not cacheable({})


def test_a_store_without_redis_keeps_few_answers_in_the_process(city: Settings) -> None:
    from dashboard.cache import TEXTS_KEPT, QueryCache

    cache = QueryCache(None, 60)
    for n in range(TEXTS_KEPT + 10):
        cache.put_text(f"k{n}", "x" * 1000, 60)
    assert sum(cache.get_text(f"k{n}") is not None for n in range(TEXTS_KEPT + 10)) == TEXTS_KEPT
    with get_engine(city.resolved_database_url).connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1


def test_a_kept_answer_goes_out_compressed_as_it_was_kept(app: Any,
                                                         renders: list[str]) -> None:
    import gzip

    client = app.server.test_client()
    assert sign_in(client, "mayor").status_code == 302
    plain = client.post(UPDATE, json=router_body("/services")).get_data()
    packed = client.post(UPDATE, json=router_body("/services"),
                         headers={"Accept-Encoding": "gzip, deflate"})
    assert packed.headers["Content-Encoding"] == "gzip" and renders == ["/services"]
    assert gzip.decompress(packed.get_data()) == plain
    assert len(packed.get_data()) < len(plain) / 4


def test_static_bundles_are_compressed_once_per_worker(app: Any) -> None:
    """The versioned static bundles' compressed bodies are kept; answers are not."""
    from app import NOT_KEPT, StaticCompressed, static_compression_key

    client = app.server.test_client()
    page = client.get("/kiosk").get_data(as_text=True)
    bundle = next(src.split('"')[0] for src in page.split('src="')[1:]
                  if src.startswith("/_dash-component-suites/dash_ag_grid/"))
    first = client.get(bundle, headers={"Accept-Encoding": "gzip"})
    again = client.get(bundle, headers={"Accept-Encoding": "gzip"})
    assert first.headers["Content-Encoding"] == "gzip" and first.get_data() == again.get_data()
    kept = StaticCompressed()
    kept.set(f"gzip;{bundle}", b"packed")
    kept.set(f"gzip;{NOT_KEPT}", b"an answer")
    assert kept.get(f"gzip;{bundle}") == b"packed" and kept.get(f"gzip;{NOT_KEPT}") is None
    with app.server.test_request_context(UPDATE, method="POST"):
        from flask import request

        assert static_compression_key(request) == NOT_KEPT
