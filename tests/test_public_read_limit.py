"""The public read endpoints (open-data API, NGSI-LD, open-data files, Open311 GETs) are
limited per client address, counted together; sign-in and the pages are not."""
from __future__ import annotations

import json
from typing import Any

from dashboard.settings import Settings


def _app(tiny_city: Settings, rate: str) -> Any:
    from app import create_app

    settings = tiny_city.model_copy(update={"public_read_rate": rate})
    return create_app(settings).server


def test_over_the_rate_an_address_gets_429_on_every_public_read(tiny_city: Settings) -> None:
    client = _app(tiny_city, "4 per minute").test_client()
    paths = ["/api/v1/districts", "/ngsi-ld/v1/entities?type=WasteContainer&limit=1",
             "/api/v1/catalog", "/open311/v2/services.json"]
    assert [client.get(p).status_code for p in paths] == [200, 200, 200, 200]
    refused = {p: client.get(p) for p in paths}
    assert {p: r.status_code for p, r in refused.items()} == dict.fromkeys(paths, 429)
    for path in ("/api/v1/districts", "/api/v1/catalog", "/open311/v2/services.json"):
        message = refused[path].get_json()["error"]["message"]
        assert message.startswith("too many requests from this address"), path
    problem = json.loads(refused["/ngsi-ld/v1/entities?type=WasteContainer&limit=1"].data)
    assert (problem["status"], problem["title"]) == (429, "Too many requests")
    # another address has its own count
    other = client.get("/api/v1/districts", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert other.status_code == 200
    # the sign-in form and the staff pages are not public reads
    assert client.get("/login").status_code == 200


def test_no_limit_when_the_rate_is_empty(tiny_city: Settings) -> None:
    client = _app(tiny_city, "").test_client()
    assert {client.get("/api/v1/districts").status_code for _ in range(30)} == {200}
