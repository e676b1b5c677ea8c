"""CityLens as an Open311 GeoReport v2 server: the standard's resources, field names,
filters and errors in JSON and XML, read back by a third-party client from PyPI
(``georeport``) over real HTTP; nothing personal and nothing unmoderated published."""
from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import xmltodict
from flask import Flask
from flask.testing import FlaskClient
from georeport import GeoReport
from sqlalchemy import insert, select, text
from werkzeug.serving import make_server

from dashboard.api.open311_server import register_open311
from dashboard.model import Citizen, District, Service, ServiceRequest
from dashboard.settings import Settings
from dashboard.store import get_engine

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
REQUEST_FIELDS = ["service_request_id", "status", "status_notes", "service_name",
                  "service_code", "description", "agency_responsible", "service_notice",
                  "requested_datetime", "updated_datetime", "expected_datetime", "address",
                  "address_id", "zipcode", "lat", "long", "media_url"]
POTHOLE_ATTRIBUTES = [
    {"code": "DEPTH", "datatype": "singlevaluelist", "required": True, "order": 2,
     "description": "How deep is it?", "datatype_description": "",
     "values": [{"key": "shallow", "name": "Under 5 cm"}, {"key": "deep", "name": "Deeper"}]},
    {"code": "LANE", "datatype": "string", "required": False, "order": 1,
     "description": "Which lane?"},
]
RESIDENT = {"id": "cit-1", "name": "María Pérez Gómez", "email": "maria.perez@example.es",
            "phone": "+34 942 123 456"}


def _request(n: int, **fields: Any) -> dict[str, Any]:
    base = {"id": f"SR-{n}", "service_code": "pothole", "service_name": "Pothole",
            "department": "Obras", "description": f"Hole number {n} outside my door",
            "status": "open", "status_notes": "", "channel": "app",
            "requested_at": NOW - timedelta(days=n), "lat": 43.462345, "lon": -3.809876,
            "address": f"Calle Alta {n}", "district_id": "d1", "citizen_id": "cit-1",
            "moderation": None, "closed_at": None, "updated_at": None}
    return {**base, **fields}


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A store of our own: two services, requests of several ages, statuses and
    moderation states, all of one resident."""
    settings = Settings(var_dir=tmp_path_factory.mktemp("open311"), database_url="",
                        redis_url=None, now=NOW, open311_jurisdiction="santander.es")
    with get_engine(settings.resolved_database_url).begin() as conn:
        conn.execute(insert(District), [{"id": "d1", "name": "Centro", "geometry": {}}])
        conn.execute(insert(Citizen), [RESIDENT])
        conn.execute(insert(Service), [
            {"service_code": "pothole", "service_name": "Pothole", "department": "Obras",
             "group": "Streets", "description": "A hole in the road",
             "attributes": POTHOLE_ATTRIBUTES},
            {"service_code": "graffiti", "service_name": "Graffiti", "department": "Limpieza",
             "group": "Cleaning", "description": "Paint on a wall", "attributes": []}])
        conn.execute(insert(ServiceRequest), [
            _request(1, moderation="approved", status_notes="Crew sent"),
            _request(2, moderation="pending"),
            _request(3, status="closed", closed_at=NOW - timedelta(days=2),
                     updated_at=NOW - timedelta(days=2), moderation="approved"),
            _request(5, service_code="graffiti", service_name="Graffiti",
                     department="Limpieza"),
            _request(120),  # older than the default 90 days
        ])
    return settings


def _server(settings: Settings) -> Flask:
    server = Flask("citylens-open311-test")
    register_open311(server, settings)
    return server


@pytest.fixture(scope="module")
def client(settings: Settings) -> FlaskClient:
    return _server(settings).test_client()


@pytest.fixture(scope="module")
def endpoint(settings: Settings) -> Iterator[str]:
    """The server on a real port, for a client that speaks HTTP."""
    http = make_server("127.0.0.1", 0, _server(settings), threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_port}/open311/v2"
    http.shutdown()


def _both(client: FlaskClient, path: str, **params: str) -> tuple[Any, Any, int]:
    """The JSON answer, the XML answer (as xmltodict reads it) and the status."""
    as_json = client.get(f"{path}.json", query_string=params)
    as_xml = client.get(f"{path}.xml", query_string=params)
    assert as_json.status_code == as_xml.status_code
    assert as_json.content_type == "application/json; charset=utf-8"
    assert as_xml.content_type == "text/xml; charset=utf-8"
    assert as_xml.data.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    return as_json.get_json(), xmltodict.parse(as_xml.data), as_json.status_code


def _xml_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_the_service_list_in_both_formats(client: FlaskClient) -> None:
    services, xml, status = _both(client, "/open311/v2/services")
    assert status == 200
    assert [s["service_code"] for s in services] == ["graffiti", "pothole"]
    assert list(services[1]) == ["service_code", "service_name", "description", "metadata",
                                 "type", "keywords", "group"]
    assert services[1]["metadata"] is True and services[0]["metadata"] is False
    assert services[1]["type"] == "realtime" and services[1]["group"] == "Streets"
    listed = _xml_list(xml["services"]["service"])
    assert [s["service_code"] for s in listed] == ["graffiti", "pothole"]
    assert listed[1]["metadata"] == "true" and listed[0]["metadata"] == "false"


def test_a_service_definition_lists_its_attributes_in_order(client: FlaskClient) -> None:
    definition, xml, status = _both(client, "/open311/v2/services/pothole")
    assert status == 200
    assert definition["service_code"] == "pothole"
    assert [a["code"] for a in definition["attributes"]] == ["LANE", "DEPTH"]
    depth = definition["attributes"][1]
    assert depth["required"] is True and depth["datatype"] == "singlevaluelist"
    assert depth["values"] == [{"key": "shallow", "name": "Under 5 cm"},
                               {"key": "deep", "name": "Deeper"}]
    assert set(depth) == {"variable", "code", "datatype", "required", "datatype_description",
                          "order", "description", "values"}
    attributes = _xml_list(xml["service_definition"]["attributes"]["attribute"])
    assert [a["code"] for a in attributes] == ["LANE", "DEPTH"]
    assert [v["key"] for v in attributes[1]["values"]["value"]] == ["shallow", "deep"]


def test_requests_default_to_the_last_90_days_newest_first(client: FlaskClient) -> None:
    found, xml, status = _both(client, "/open311/v2/requests")
    assert status == 200
    assert [r["service_request_id"] for r in found] == ["SR-1", "SR-2", "SR-3", "SR-5"]
    assert list(found[0]) == REQUEST_FIELDS
    listed = _xml_list(xml["service_requests"]["request"])
    assert [r["service_request_id"] for r in listed] == ["SR-1", "SR-2", "SR-3", "SR-5"]
    assert list(listed[0]) == REQUEST_FIELDS
    assert found[0]["requested_datetime"] == (NOW - timedelta(days=1)).isoformat()
    assert found[0]["agency_responsible"] == "Obras" and found[0]["status"] == "open"


@pytest.mark.parametrize(("params", "ids"), [
    ({"status": "closed"}, ["SR-3"]),
    ({"status": "open,closed", "service_code": "graffiti"}, ["SR-5"]),
    ({"start_date": "2026-07-01T00:00:00Z", "end_date": "2026-09-01T00:00:00Z"}, ["SR-120"]),
    ({"service_request_id": "SR-120,SR-2", "status": "closed"}, ["SR-2", "SR-120"]),
    ({"end_date": (NOW - timedelta(days=2, hours=12)).isoformat()}, ["SR-3", "SR-5"]),
])
def test_the_standard_filters(client: FlaskClient, params: dict[str, str],
                              ids: list[str]) -> None:
    found, xml, status = _both(client, "/open311/v2/requests", **params)
    assert status == 200
    assert [r["service_request_id"] for r in found] == ids
    assert [r["service_request_id"] for r in
            _xml_list(xml["service_requests"]["request"])] == ids


def test_one_request_is_a_list_of_one(client: FlaskClient) -> None:
    found, xml, status = _both(client, "/open311/v2/requests/SR-3")
    assert status == 200 and len(found) == 1
    assert found[0]["status"] == "closed" and found[0]["updated_datetime"]
    assert xml["service_requests"]["request"]["service_request_id"] == "SR-3"


@pytest.mark.parametrize(("path", "params", "status", "says"), [
    ("/open311/v2/requests", {"status": "pending"}, 400, "'pending' is not one of open, closed"),
    ("/open311/v2/requests", {"start_date": "2026-01-01T00:00:00Z",
                              "end_date": "2026-06-01T00:00:00Z"}, 400, "90 days"),
    ("/open311/v2/requests", {"start_date": "yesterday"}, 400, "W3C date-time"),
    ("/open311/v2/requests", {"jurisdiction_id": "elsewhere.es"}, 404, "jurisdiction_id"),
    ("/open311/v2/requests/SR-404", {}, 404, "no service request 'SR-404'"),
    ("/open311/v2/services/nothing", {}, 404, "no service with service_code 'nothing'"),
    ("/open311/v2/discovery", {}, 404, "no such resource"),
])
def test_errors_are_the_standards_list_in_either_format(
        client: FlaskClient, path: str, params: dict[str, str], status: int, says: str) -> None:
    errors, xml, got = _both(client, path, **params)
    assert got == status
    assert len(errors) == 1 and errors[0]["code"] == status and says in errors[0]["description"]
    assert xml["errors"]["error"]["code"] == str(status)
    assert says in xml["errors"]["error"]["description"]


def test_another_extension_is_not_found(client: FlaskClient) -> None:
    answer = client.get("/open311/v2/services.html")
    assert answer.status_code == 404
    assert answer.get_json()[0]["code"] == 404


def test_the_jurisdiction_of_this_server_is_accepted(client: FlaskClient) -> None:
    answer = client.get("/open311/v2/services.json?jurisdiction_id=santander.es")
    assert answer.status_code == 200 and len(answer.get_json()) == 2


def test_only_moderated_text_and_no_personal_data_is_published(client: FlaskClient) -> None:
    found = {r["service_request_id"]: r for r in
             client.get("/open311/v2/requests.json?status=open,closed").get_json()}
    assert found["SR-1"]["description"] == "Hole number 1 outside my door"
    assert found["SR-1"]["status_notes"] == "Crew sent"
    assert found["SR-1"]["address"] == "Calle Alta 1"
    for pending in ("SR-2", "SR-5"):  # awaiting moderation, or never moderated
        assert (found[pending]["description"], found[pending]["address"]) == ("", "")
    assert found["SR-1"]["lat"] == 43.462 and found["SR-1"]["long"] == -3.81
    for path in ("/open311/v2/requests.json", "/open311/v2/requests.xml",
                 "/open311/v2/requests/SR-2.xml", "/open311/v2/services.xml"):
        body = client.get(path).get_data(as_text=True)
        for personal in (RESIDENT["id"], RESIDENT["name"], RESIDENT["email"], "942 123 456",
                         "number 2 outside", "Calle Alta 2"):
            assert personal not in body, (path, personal)


def test_a_third_party_open311_client_reads_services_and_requests(endpoint: str) -> None:
    """``georeport`` (PyPI) against the server over HTTP, in JSON and in XML."""
    for fmt in ("json", "xml"):
        city = GeoReport(endpoint, jurisdiction="santander.es", output_format=fmt)
        services = _xml_list(city.get_service_list())
        assert [s["service_code"] for s in services] == ["graffiti", "pothole"]
        definition = city.get_service_definition("pothole")
        attributes = definition["attributes"]
        if fmt == "xml":
            attributes = _xml_list(attributes["attribute"])
        assert [a["code"] for a in attributes] == ["LANE", "DEPTH"]
        requests = _xml_list(city.get_service_requests(status="open"))
        assert [r["service_request_id"] for r in requests] == ["SR-1", "SR-2", "SR-5"]
        one = city.get_service_request("SR-3")
        assert one["service_request_id"] == "SR-3" and one["status"] == "closed"


def test_the_app_serves_it_to_anyone(settings: Settings) -> None:
    from app import create_app

    server = create_app(settings).server
    assert "open311_v2" in server.blueprints
    rules = {rule.rule for rule in server.url_map.iter_rules()}
    assert {"/open311/v2/<name>", "/open311/v2/services/<path:name>",
            "/open311/v2/requests/<path:name>"} <= rules


# ---- posting -----------------------------------------------------------------------------

SQUARE = {"type": "Polygon", "coordinates": [[[-3.9, 43.4], [-3.7, 43.4], [-3.7, 43.5],
                                              [-3.9, 43.5], [-3.9, 43.4]]]}


@pytest.fixture
def posting(tmp_path: Path) -> Iterator[tuple[FlaskClient, Settings, str]]:
    """A store of its own that apps may post to: (client, settings, a live api_key)."""
    from connectors.open311_intake import store_posted
    from dashboard.auth.api_keys import issue_key

    settings = Settings(var_dir=tmp_path, database_url="", redis_url=None, now=NOW)
    engine = get_engine(settings.resolved_database_url)
    with engine.begin() as conn:
        conn.execute(insert(District), [{"id": "d1", "name": "Centro", "geometry": SQUARE}])
        conn.execute(insert(Service), [
            {"service_code": "pothole", "service_name": "Pothole", "department": "Obras",
             "sla_hours": 72, "attributes": POTHOLE_ATTRIBUTES}])
        key = issue_key(conn, "City app")
    server = Flask("citylens-open311-post-test")
    register_open311(server, settings, store=store_posted)
    yield server.test_client(), settings, key
    engine.dispose()


GOOD_POST = {"service_code": "pothole", "lat": "43.46123", "long": "-3.80456",
             "description": "Deep hole by the bus stop, my car got damaged",
             "attribute[DEPTH]": "deep", "email": "Ana.Ruiz@example.es",
             "first_name": "Ana", "last_name": "Ruiz", "phone": "+34 600 111 222"}


def _stored(settings: Settings, request_id: str) -> dict[str, Any]:
    with get_engine(settings.resolved_database_url).connect() as conn:
        row = conn.execute(select(ServiceRequest).where(ServiceRequest.id == request_id)
                           ).first()
        assert row is not None
        return dict(row._mapping)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_an_app_posts_a_request_and_follows_it(posting: Any, fmt: str) -> None:
    client, settings, key = posting
    answer = client.post(f"/open311/v2/requests.{fmt}", data={**GOOD_POST, "api_key": key})
    assert answer.status_code == 201, answer.data
    body = answer.get_json() if fmt == "json" else [
        xmltodict.parse(answer.data)["service_requests"]["request"]]
    posted = body[0]
    assert set(posted) == {"service_request_id", "token", "service_notice", "account_id"}
    request_id, token = posted["service_request_id"], posted["token"]
    assert re.fullmatch(r"CL-20261123-[0-9A-F]{8}", request_id)
    for personal in ("Ana", "Ruiz", "example.es", "600 111", "bus stop"):
        assert personal not in answer.get_data(as_text=True)
    stored = _stored(settings, request_id)
    assert (stored["channel"], stored["status"], stored["moderation"]) == ("app", "open",
                                                                         "pending")
    assert stored["district_id"] == "d1" and stored["department"] == "Obras"
    assert stored["expected_at"] == NOW + timedelta(hours=72)
    assert stored["attributes"] == {"DEPTH": ["deep"]}
    assert stored["source_id"] == "open311-server"
    with get_engine(settings.resolved_database_url).connect() as conn:
        resident = conn.execute(select(Citizen).where(Citizen.id == stored["citizen_id"])
                                ).first()
    assert resident is not None
    assert (resident.name, resident.email, resident.phone) == ("Ana Ruiz",
                                                               "Ana.Ruiz@example.es",
                                                               "+34 600 111 222")
    followed = client.get(f"/open311/v2/requests/{request_id}.json").get_json()[0]
    assert followed["status"] == "open" and followed["description"] == ""  # not moderated
    assert followed["lat"] == 43.461 and followed["service_code"] == "pothole"
    by_token = client.get(f"/open311/v2/tokens/{token}.{fmt}")
    assert by_token.status_code == 200 and request_id in by_token.get_data(as_text=True)
    listed = client.get("/open311/v2/requests.json").get_data(as_text=True)
    assert request_id in listed
    for personal in ("Ana", "Ruiz", "example.es", "600 111", "bus stop"):
        assert personal not in listed


def test_one_resident_is_one_record_whatever_they_leave_blank(posting: Any) -> None:
    client, settings, key = posting
    first = client.post("/open311/v2/requests.json", data={**GOOD_POST, "api_key": key})
    again = client.post("/open311/v2/requests.json", data={
        "api_key": key, "service_code": "pothole", "address_string": "Calle Burgos 3",
        "attribute[DEPTH]": "shallow", "email": "ana.ruiz@EXAMPLE.es"})
    anonymous = client.post("/open311/v2/requests.json", data={
        "api_key": key, "service_code": "pothole", "lat": "43.45", "long": "-3.82",
        "attribute[DEPTH]": "shallow"})
    assert (first.status_code, again.status_code, anonymous.status_code) == (201, 201, 201)
    ids = [a.get_json()[0]["service_request_id"] for a in (first, again, anonymous)]
    residents = [_stored(settings, i)["citizen_id"] for i in ids]
    assert residents[0] == residents[1] and residents[0].startswith("o311-")
    assert residents[2] is None
    with get_engine(settings.resolved_database_url).connect() as conn:
        kept = conn.execute(select(Citizen.name, Citizen.phone)
                            .where(Citizen.id == residents[0])).one()
    assert tuple(kept) == ("Ana Ruiz", "+34 600 111 222")  # not blanked by the second post


@pytest.mark.parametrize(("change", "status", "says"), [
    ({"api_key": None}, 403, "api_key is missing, unknown or revoked"),
    ({"api_key": "not-a-key"}, 403, "api_key is missing, unknown or revoked"),
    ({"service_code": "graffiti"}, 400, "'graffiti' is not a service of this city"),
    ({"attribute[DEPTH]": None}, 400, "attribute[DEPTH] is required"),
    ({"attribute[DEPTH]": "bottomless"}, 400, "'bottomless' is not one of deep, shallow"),
    ({"attribute[COLOUR]": "red"}, 400, "attribute[COLOUR]: this service has no such"),
    ({"lat": None, "long": None}, 400, "a location is required"),
    ({"long": None}, 400, "lat and long go together"),
    ({"lat": "north"}, 400, "lat: 'north' is not a number"),
    ({"lat": "123"}, 400, "is not a lat in degrees"),
    ({"email": "ana at home"}, 400, "is not an e-mail address"),
    ({"media_url": "javascript:alert(1)"}, 400, "media_url: an https:// address"),
    ({"description": "x" * 4001}, 400, "description: at most 4000 characters"),
    ({"description": "a\x00b"}, 400, "control characters"),
    ({"jurisdiction_id": "elsewhere.es"}, 404, "jurisdiction_id"),
])
def test_a_post_that_is_wrong_is_refused_in_one_line_and_stores_nothing(
        posting: Any, change: dict[str, str | None], status: int, says: str) -> None:
    client, settings, key = posting
    if change.get("jurisdiction_id"):
        settings.open311_jurisdiction = "santander.es"
    data = {k: v for k, v in {**GOOD_POST, "api_key": key, **change}.items() if v is not None}
    for fmt in ("json", "xml"):
        answer = client.post(f"/open311/v2/requests.{fmt}", data=data)
        assert answer.status_code == status, answer.data
        text = answer.get_data(as_text=True)
        assert says in (answer.get_json()[0]["description"] if fmt == "json" else text)
    with get_engine(settings.resolved_database_url).connect() as conn:
        assert conn.execute(select(ServiceRequest.id)).first() is None


def test_a_revoked_key_posts_no_more_and_a_body_too_large_is_refused(posting: Any) -> None:
    from dashboard.auth.api_keys import revoke_key

    client, settings, key = posting
    huge = client.post("/open311/v2/requests.json",
                       data={**GOOD_POST, "api_key": key, "description": "x" * 70_000})
    assert huge.status_code == 413 and huge.get_json()[0]["code"] == 413
    with get_engine(settings.resolved_database_url).begin() as conn:
        assert revoke_key(conn, "City app")
    refused = client.post("/open311/v2/requests.json", data={**GOOD_POST, "api_key": key})
    assert refused.status_code == 403


def test_unknown_tokens_and_posts_elsewhere_are_not_found(posting: Any) -> None:
    client, _, key = posting
    assert client.get("/open311/v2/tokens/nope.json").status_code == 404
    assert client.post("/open311/v2/services.json", data={"api_key": key}).status_code == 404


def test_the_command_line_issues_lists_and_revokes_keys(cli_store: Any) -> None:
    from dashboard.auth.api_keys import key_owner
    from dashboard.settings import get_settings

    issued = cli_store("apikeys", "add", "FixMyStreet")
    twice = cli_store("apikeys", "add", "FixMyStreet")
    listed = cli_store("apikeys", "list", "--json")
    revoked = cli_store("apikeys", "revoke", "FixMyStreet")
    again = cli_store("apikeys", "revoke", "FixMyStreet")
    engine = get_engine(get_settings().resolved_database_url)
    assert issued.exit_code == 0
    key = issued.stdout.strip().splitlines()[0]
    assert len(key) >= 40
    assert twice.exit_code == 2 and "already a key named 'FixMyStreet'" in twice.output
    assert key not in listed.stdout and '"name": "FixMyStreet"' in listed.stdout
    assert revoked.exit_code == 0 and again.exit_code == 2
    with engine.connect() as conn:
        assert key_owner(conn, key) is None
        stored = conn.execute(text("SELECT key_hash FROM api_keys")).scalar()
    assert stored != key and len(stored) == 64


def _poster(settings: Settings) -> FlaskClient:
    from connectors.open311_intake import store_posted

    server = Flask("citylens-open311-limits-test")
    register_open311(server, settings, store=store_posted)
    return server.test_client()


def _post_from(client: FlaskClient, key: str, address: str, fmt: str = "json") -> Any:
    return client.post(f"/open311/v2/requests.{fmt}", data={**GOOD_POST, "api_key": key},
                       environ_base={"REMOTE_ADDR": address})


def test_posts_are_limited_per_address_and_per_api_key(posting: Any) -> None:
    _, settings, key = posting
    limited = settings.model_copy(update={"public_write_rate_per_address": "3 per minute",
                                          "public_write_rate_per_key": "5 per minute"})
    client = _poster(limited)
    answers = [_post_from(client, key, "203.0.113.7").status_code for _ in range(4)]
    assert answers == [201, 201, 201, 429]
    refused = _post_from(client, key, "203.0.113.7", "xml")
    assert refused.status_code == 429 and b"<code>429</code>" in refused.data
    assert b"more than 3 per 1 minute from this address" in refused.data
    others = [_post_from(client, key, f"198.51.100.{n}").status_code for n in range(3)]
    assert others == [201, 201, 429]  # the app's key: 5 stored in all, then refused
    with get_engine(settings.resolved_database_url).connect() as conn:
        assert len(conn.execute(select(ServiceRequest.id)).all()) == 5


def test_with_redis_the_limit_is_shared_by_every_worker(posting: Any) -> None:
    """Two web workers (two servers) count in the same Redis; a Redis that is down lets
    residents through rather than refusing them."""
    import uuid

    from tests.conftest import service_missing

    _, settings, key = posting
    shared = settings.model_copy(update={"redis_url": "redis://127.0.0.1:6379/0",
                                         "public_write_rate_per_address": "2 per minute"})
    try:
        import redis

        redis.Redis.from_url(shared.redis_url, socket_timeout=1).ping()
    except Exception as error:  # noqa: BLE001
        service_missing("Redis at 127.0.0.1:6379", error)
    address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    one, two = _poster(shared), _poster(shared)
    answers = [_post_from(client, key, address).status_code for client in (one, two, one)]
    assert answers == [201, 201, 429]
    down = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0",
                                       "public_write_rate_per_address": "1 per minute"})
    client = _poster(down)
    assert [_post_from(client, key, address).status_code for _ in range(2)] == [201, 201]


def _post_at(client: FlaskClient, key: str, lat: float, lon: float, code: str = "pothole"
             ) -> dict[str, Any]:
    answer = client.post("/open311/v2/requests.json", data={
        "api_key": key, "service_code": code, "lat": f"{lat:.6f}", "long": f"{lon:.6f}",
        "attribute[DEPTH]": "deep"})
    assert answer.status_code == 201, answer.data
    return answer.get_json()[0]


def test_a_request_near_an_open_one_of_its_service_is_marked_a_possible_duplicate(
        posting: Any) -> None:
    """Constructed cases around one open pothole: 30 m away (marked, the nearest of two),
    80 m away (not), another service at the same spot (not), and near a closed one (not)."""
    client, settings, key = posting
    lat, lon = 43.4600, -3.8100
    metre = 1 / 111_320  # of latitude
    first = _post_at(client, key, lat, lon)
    assert first["service_notice"] == ""
    second = _post_at(client, key, lat + 45 * metre, lon)  # 45 m north: repeats the first
    near = _post_at(client, key, lat + 15 * metre, lon)  # 15 m: the first is nearest (15 m)
    far = _post_at(client, key, lat - 80 * metre, lon)
    with get_engine(settings.resolved_database_url).begin() as conn:
        conn.execute(insert(Service).values(service_code="graffiti", service_name="Graffiti",
                                            department="Limpieza", attributes=[]))
    other = client.post("/open311/v2/requests.json", data={
        "api_key": key, "service_code": "graffiti", "lat": f"{lat:.6f}",
        "long": f"{lon:.6f}"}).get_json()[0]
    found = {name: _stored(settings, posted["service_request_id"])
             for name, posted in (("second", second), ("near", near), ("far", far),
                                  ("other", other))}
    first_id = first["service_request_id"]
    assert (found["second"]["duplicate_of"], found["second"]["duplicate_state"]) == (
        first_id, "suspected")
    assert f"request {first_id}, 45 m away, is open" in second["service_notice"]
    assert found["near"]["duplicate_of"] == first_id and "15 m away" in near["service_notice"]
    assert found["far"]["duplicate_of"] is None and far["service_notice"] == ""
    assert found["other"]["duplicate_of"] is None
    with get_engine(settings.resolved_database_url).begin() as conn:
        conn.execute(ServiceRequest.__table__.update().values(status="closed", closed_at=NOW))
    after_closing = _post_at(client, key, lat, lon)
    assert _stored(settings, after_closing["service_request_id"])["duplicate_of"] is None
