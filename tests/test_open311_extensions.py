"""Open311 extensions CityLens reads when a feed has them: the requester's ``account_id``
on requests (a CRM's own feed), and ``department``, ``domain`` and ``sla_hours`` on
services. Public feeds have none and map as before."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from connectors.open311 import Open311Connector
from connectors.open311_parse import map_request, map_service
from connectors.runner import run_source
from dashboard.model import Citizen, Quarantine, ServiceRequest

REQUEST = {"service_request_id": "SR-1", "status": "open", "service_code": "pothole",
           "requested_datetime": "2026-05-01T10:00:00Z", "lat": 43.46, "long": -3.80}


def test_account_id_names_the_citizen_and_public_feeds_name_none() -> None:
    assert map_request({**REQUEST, "account_id": " C-17 "})["citizen_id"] == "C-17"
    assert map_request(REQUEST)["citizen_id"] is None
    assert map_request({**REQUEST, "account_id": ""})["citizen_id"] is None


def test_service_extensions_are_read_and_checked() -> None:
    row = map_service({"service_code": "pothole", "group": "Streets", "department": "Works",
                       "domain": "mobility", "sla_hours": "72"})
    assert (row["department"], row["group"], row["domain"], row["sla_hours"]) == (
        "Works", "Streets", "mobility", 72.0)
    plain = map_service({"service_code": "pothole", "group": "Streets"})
    assert (plain["department"], plain["domain"], plain["sla_hours"]) == (
        "Streets", "services", None)
    assert map_service({"service_code": "x", "domain": "astrology"})["domain"] == "services"
    for bad in ("soon", "-4", "0"):
        with pytest.raises(ValueError, match="sla_hours"):
            map_service({"service_code": "x", "sla_hours": bad})


def test_a_request_naming_an_unknown_citizen_is_quarantined(fresh_engine, settings,
                                                            tmp_path) -> None:
    with fresh_engine.begin() as conn:
        conn.execute(Citizen.__table__.insert(), [{"id": "C-1", "name": "Ana", "consent": {}}])
    feed = tmp_path / "requests.json"
    feed.write_text(json.dumps([{**REQUEST, "account_id": "C-1"},
                                {**REQUEST, "service_request_id": "SR-2", "account_id": "C-9"},
                                {**REQUEST, "service_request_id": "SR-3"}]))
    report = run_source(fresh_engine, settings, Open311Connector({"location": str(feed)}), "crm")
    assert (report.stored, report.quarantined) == (2, 1)
    with fresh_engine.connect() as conn:
        stored = dict(conn.execute(select(ServiceRequest.id, ServiceRequest.citizen_id)).all())
        reason = conn.execute(select(Quarantine.reason)).scalar_one()
    assert stored == {"SR-1": "C-1", "SR-3": None}
    assert "unknown citizen 'C-9'" in reason
