"""Redis hung with SIGSTOP while the app serves: every page and data callback of the
overview, services, district, alerts and kiosk still answers, from the database, instead
of a 500 after Redis's timeout (the cache's circuit breaker skips it)."""
from __future__ import annotations

from typing import Any

from dashboard.settings import Settings
from tests.conftest import router_body, sign_in
from tests.side_servers import SideRedis
from tests.test_access_routes import _outputs

UPDATE = "/_dash-update-component"
PAGES = ("overview", "city-", "district", "window-filter", "services", "alerts", "kiosk")
INPUTS = {"window-filter": "month", "district-filter": "", "overview-department": "",
          "overview-compare": "", "kiosk-lang": "es"}


def _callbacks(client: Any) -> list[dict[str, Any]]:
    """Requests for the server callbacks of those pages, with plain inputs."""
    bodies = []
    for dep in client.get("/_dash-dependencies").get_json():
        outputs = _outputs(dep["output"])
        names = [str(o["id"].get("type") if isinstance(o["id"], dict) else o["id"])
                 for o in outputs]
        if dep.get("clientside_function") or not any(n.startswith(PAGES) for n in names):
            continue
        bodies.append({"output": dep["output"],
                       "outputs": outputs if len(outputs) > 1 else outputs[0],
                       "inputs": [{"id": i["id"], "property": i["property"],
                                   "value": INPUTS.get(str(i["id"]))} for i in dep["inputs"]],
                       "state": [{"id": s["id"], "property": s["property"], "value": None}
                                 for s in dep.get("state", [])],
                       "changedPropIds": []})
    return bodies


def test_pages_answer_while_redis_hangs(tiny_city: Settings, side_redis: SideRedis,
                                        concrete: dict[str, str]) -> None:
    from app import create_app
    from dashboard import cache

    settings = tiny_city.model_copy(update={"redis_url": side_redis.url})
    app = create_app(settings)
    client = app.server.test_client()
    assert sign_in(client, "mayor").status_code == 302
    paths = ["/", "/services", concrete["/district/<district_id>"], "/alerts", "/kiosk"]
    bodies = _callbacks(client)
    assert len(bodies) >= 10

    def answers() -> list[tuple[str, int]]:
        got = [(path, client.post(UPDATE, json=router_body(path)).status_code)
               for path in paths]
        got += [(body["output"], client.post(UPDATE, json=body).status_code)
                for body in bodies]
        return got

    before = answers()
    side_redis.hang()
    try:
        during = answers()
    finally:
        side_redis.resume()
    assert [s for _, s in during] == [s for _, s in before]  # the same answers as before
    assert all(status < 500 for _, status in during), [a for a in during if a[1] >= 500]
    assert sum(status == 200 for _, status in during) >= len(paths) + 5
    assert not cache.get_cache(settings.redis_url, settings.cache_ttl_seconds).redis_in_use
