"""The broker notification endpoint: token, parsing, storage through the runner."""
from __future__ import annotations

import io
import json
from datetime import datetime, timezone
from pathlib import Path

import flask
import pytest
from sqlalchemy import func, insert, select

from connectors.ngsi_notify import MAX_BODY_BYTES, register_notifications
from dashboard.model import Asset, FeedRun, Observation, Quarantine, Source
from dashboard.settings import Settings
from dashboard.store import get_engine

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PUSH = ["broker-air", "x", "pulled"]  # the push sources the token may write to
ENTITY = {
    "id": "urn:ngsi-ld:AirQualityObserved:santander:0042", "type": "AirQualityObserved",
    "dateObserved": {"type": "DateTime", "value": "2026-11-23T10:00:00Z"},
    "no2": {"type": "Number", "value": 41.5},
    "location": {"type": "geo:json", "value": {"type": "Point", "coordinates": [-3.81, 43.46]}},
}


def _client(tmp_path: Path, token: str = TOKEN) -> tuple[flask.testing.FlaskClient, Settings]:
    settings = Settings(var_dir=tmp_path / "var", notify_token=token, notify_sources=PUSH)
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
    answer = client.post("/ngsi/notify/x", data=body, headers=headers)
    assert answer.status_code == 401 and "bearer token" in answer.get_json()["error"]
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


def _notification(size: int = 0) -> bytes:
    """A valid notification of one entity, padded with JSON whitespace to ``size`` bytes."""
    body = json.dumps({"subscriptionId": "sub-1", "data": [ENTITY]}).encode()
    return body + b" " * max(0, size - len(body))


def _chunked(client: flask.testing.FlaskClient, path: str,
             body: bytes) -> tuple[flask.testing.TestResponse, io.BytesIO]:
    """POST ``body`` as a chunked upload: no Content-Length, and the WSGI server says it
    ends the stream (``wsgi.input_terminated``, as gunicorn and Werkzeug's server do)."""
    stream = io.BytesIO(body)
    answer = client.post(path, input_stream=stream, headers={**AUTH,
                         "Transfer-Encoding": "chunked"},
                         environ_overrides={"wsgi.input_terminated": True})
    return answer, stream


def test_the_token_writes_only_to_configured_push_sources(tmp_path: Path) -> None:
    client, settings = _client(tmp_path)
    answer = client.post("/ngsi/notify/parking-sql", data=_notification(), headers=AUTH)
    assert answer.status_code == 404 and answer.is_json
    assert "parking-sql" in answer.get_json()["error"]
    assert (_count(settings, FeedRun), _count(settings, Source)) == (0, 0)
    assert _count(settings, Observation) == 0


def test_no_configured_push_source_means_every_post_is_a_404(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path / "var", notify_token=TOKEN)
    server = flask.Flask("notify-none")
    assert register_notifications(server, settings) is True
    answer = server.test_client().post("/ngsi/notify/x", data=_notification(), headers=AUTH)
    assert answer.status_code == 404 and "error" in answer.get_json()
    assert _count(settings, FeedRun) == 0


def test_a_source_another_connector_feeds_is_a_409(tmp_path: Path) -> None:
    client, settings = _client(tmp_path)
    with get_engine(settings.resolved_database_url).begin() as conn:  # as the runner records it
        conn.execute(insert(Source).values(id="pulled", kind="ngsi", location="http://ctx",
                                           config={}))
        conn.execute(insert(FeedRun).values(source_id="pulled", status="ok",
                                            started=datetime.now(timezone.utc)))
    answer = client.post("/ngsi/notify/pulled", data=_notification(), headers=AUTH)
    assert answer.status_code == 409 and "'ngsi'" in answer.get_json()["error"]
    assert (_count(settings, FeedRun), _count(settings, Observation)) == (1, 0)
    with get_engine(settings.resolved_database_url).connect() as conn:
        assert conn.execute(select(Source.kind).where(Source.id == "pulled")).scalar() == "ngsi"
    # a source that only notifications fed takes the next notification
    for _ in range(2):
        assert client.post("/ngsi/notify/x", data=_notification(), headers=AUTH).status_code \
            == 200
    assert _count(settings, FeedRun) == 3


def test_a_body_over_the_limit_is_a_json_413(tmp_path: Path) -> None:
    client, settings = _client(tmp_path)
    answer = client.post("/ngsi/notify/x", data=_notification(MAX_BODY_BYTES + 1), headers=AUTH)
    assert answer.status_code == 413 and answer.is_json
    assert str(MAX_BODY_BYTES) in answer.get_json()["error"]
    assert _count(settings, FeedRun) == 0


def test_a_chunked_body_is_bounded_while_it_is_read(tmp_path: Path) -> None:
    client, settings = _client(tmp_path)
    answer, _ = _chunked(client, "/ngsi/notify/x", _notification())
    assert answer.status_code == 200, answer.get_data(as_text=True)  # read, not an empty body
    answer, _ = _chunked(client, "/ngsi/notify/x", _notification(MAX_BODY_BYTES))
    assert answer.status_code == 200  # exactly the limit is fine
    assert _count(settings, FeedRun) == 2
    for size in (MAX_BODY_BYTES + 1, 4 * MAX_BODY_BYTES):
        answer, stream = _chunked(client, "/ngsi/notify/x", _notification(size))
        assert answer.status_code == 413 and answer.is_json
        assert str(MAX_BODY_BYTES) in answer.get_json()["error"]
        assert stream.tell() <= MAX_BODY_BYTES + 1  # stopped reading at the limit
    assert _count(settings, FeedRun) == 2 and _count(settings, Observation) == 1


def test_notify_sources_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYLENS_NOTIFY_SOURCES", " air-push, traffic-push ,")
    assert Settings().notify_sources == ["air-push", "traffic-push"]
    monkeypatch.setenv("CITYLENS_NOTIFY_SOURCES", '["air-push", "traffic-push"]')
    assert Settings().notify_sources == ["air-push", "traffic-push"]
    monkeypatch.setenv("CITYLENS_NOTIFY_SOURCES", "")
    assert Settings().notify_sources == []


def test_a_reading_dated_9999_is_quarantined_and_the_rest_stored(tmp_path: Path) -> None:
    """A broker's notification with one entity dated in year 9999 answers 200: that entity
    is quarantined with its reason, the good one stored (before: a 500, and nothing)."""
    client, settings = _client(tmp_path)
    far = {**ENTITY, "id": "urn:ngsi-ld:AirQualityObserved:santander:0043",
           "dateObserved": {"type": "DateTime", "value": "9999-12-31T23:00:00Z"}}
    body = {"subscriptionId": "sub-1", "data": [ENTITY, far]}
    answer = client.post("/ngsi/notify/broker-air", data=json.dumps(body), headers=AUTH)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    report = answer.get_json()
    assert (report["records_in"], report["stored"], report["quarantined"]) == (2, 1, 1)
    assert report["watermark"] == "2026-11-23T10:00:00Z"
    with get_engine(settings.resolved_database_url).connect() as conn:
        reason = conn.execute(select(Quarantine.reason)).scalar_one()
    assert "9999-12-31" in reason and "outside the plausible range" in reason
