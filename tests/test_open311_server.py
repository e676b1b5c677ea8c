"""CityLens as an Open311 GeoReport v2 server: the standard's resources, field names,
filters and errors in JSON and XML, read back by a third-party client from PyPI
(``georeport``) over real HTTP; nothing personal and nothing unmoderated published."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import xmltodict
from flask import Flask
from flask.testing import FlaskClient
from georeport import GeoReport
from sqlalchemy import insert
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
