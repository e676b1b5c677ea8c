"""The broker notification endpoint: token, parsing, storage through the runner."""
from __future__ import annotations

import json
from pathlib import Path

import flask
import pytest
from sqlalchemy import func, select

from connectors.ngsi_notify import register_notifications
from dashboard.model import Asset, FeedRun, Observation, Quarantine
from dashboard.settings import Settings
from dashboard.store import get_engine

TOKEN = "s3cret-token"
ENTITY = {
    "id": "urn:ngsi-ld:AirQualityObserved:santander:0042", "type": "AirQualityObserved",
    "dateObserved": {"type": "DateTime", "value": "2026-11-23T10:00:00Z"},
    "no2": {"type": "Number", "value": 41.5},
    "location": {"type": "geo:json", "value": {"type": "Point", "coordinates": [-3.81, 43.46]}},
}


def _client(tmp_path: Path, token: str = TOKEN) -> tuple[flask.testing.FlaskClient, Settings]:
    settings = Settings(var_dir=tmp_path / "var", notify_token=token)
    server = flask.Flask("notify-test")
    register_notifications(server, settings)
    return server.test_client(), settings


def _count(settings: Settings, model: type) -> int:
    with get_engine(settings.resolved_database_url).connect() as conn:
        return conn.execute(select(func.count()).select_from(model)).scalar_one()


def test_a_v2_notification_is_stored_as_a_run(tmp_path: Path) -> None:
    client, settings = _client(tmp_path)
    body = {"subscriptionId": "sub-1", "data": [ENTITY, {"id": "broken"}]}
    answer = client.post("/ngsi/notify/broker-air", data=json.dumps(body),
                         headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200
    report = answer.get_json()
    assert (report["records_in"], report["stored"], report["quarantined"]) == (2, 1, 1)
    assert (_count(settings, Asset), _count(settings, Observation)) == (1, 1)
    assert _count(settings, Quarantine) == 1 and _count(settings, FeedRun) == 1


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}"])
def test_without_the_token_nothing_is_stored(tmp_path: Path, header: str | None) -> None:
    client, settings = _client(tmp_path)
    headers = {"Authorization": header} if header else {}
    body = json.dumps({"subscriptionId": "s", "data": [ENTITY]})
    assert client.post("/ngsi/notify/x", data=body, headers=headers).status_code == 401
    assert _count(settings, Observation) == 0


def test_a_body_that_is_no_notification_is_a_400(tmp_path: Path) -> None:
    client, _ = _client(tmp_path)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    answer = client.post("/ngsi/notify/x", data=b"[1, 2]", headers=auth)
    assert answer.status_code == 400 and "not an object" in answer.get_json()["error"]
    assert client.post("/ngsi/notify/bad id!", data=b"{}", headers=auth).status_code == 400


def test_without_a_configured_token_there_is_no_endpoint(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path / "var", notify_token="")
    server = flask.Flask("notify-off")
    assert register_notifications(server, settings) is False
    assert server.test_client().post("/ngsi/notify/x", data=b"{}").status_code == 404
