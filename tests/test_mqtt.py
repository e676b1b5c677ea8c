"""The MQTT connector: message parsing, and runs against the real Mosquitto broker."""
from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy import Engine, select

from connectors import mqtt as mqtt_connector
from connectors import simulator
from connectors.base import Mapped
from connectors.mqtt import MqttConfig, MqttConnector
from connectors.mqtt_parse import Defaults, DeviceMapping, map_message, parse_topic
from connectors.runner import RunReport, run_source
from connectors.storing import _check
from dashboard.model import Asset, Observation, Quarantine
from dashboard.settings import Settings
from tests.conftest import service_missing, set_retry_policy

BROKER = ("127.0.0.1", 1883)
UTC = timezone.utc
RECEIVED = "2026-03-01T10:00:00+00:00"
THERMO = DeviceMapping(asset_id="urn:ngsi-ld:WeatherObserved:thermo-1", type="WeatherObserved",
                       metrics={"t": "temperature"}, units={"t": "Cel"}, name="Thermo 1")


def message(topic: str, payload: Any, received: str = RECEIVED) -> dict[str, Any]:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return {"topic": topic, "payload": text, "received": received}


# --- parsing ------------------------------------------------------------------------

@pytest.mark.parametrize(("topic", "parts"), [
    ("/k1/dev-1/attrs", ("k1", "dev-1", None)),
    ("k1/dev-1/attrs", ("k1", "dev-1", None)),
    ("/json/k1/dev-1/attrs", ("k1", "dev-1", None)),
    ("/k1/dev-1/attrs/t", ("k1", "dev-1", "t")),
    ("city/park/temperature", (None, None, None)),
    ("/k1//attrs", (None, None, None)),
    ("/k1/dev-1/attrs/", (None, None, None)),
])
def test_topics(topic: str, parts: tuple[str | None, ...]) -> None:
    parsed = parse_topic(topic)
    assert (parsed.apikey, parsed.device_id, parsed.attribute) == parts


def test_iot_agent_message_of_unknown_device() -> None:
    payload = {"no2": 41.5, "pm10": "17", "status": "ok", "TimeInstant": "2026-03-01T09:59:00Z"}
    asset, observations, cursor = map_message(message("/key/s7/attrs", payload), {}, Defaults())
    assert asset == {"id": "urn:ngsi-ld:Device:key:s7", "type": "Device", "domain": "environment",
                     "name": "s7", "attributes": {"status": "ok"}}
    assert [(o["metric"], o["value"]) for o in observations] == [("no2", 41.5), ("pm10", 17.0)]
    assert {o["time"] for o in observations} == {datetime(2026, 3, 1, 9, 59, tzinfo=UTC)}
    assert cursor == "2026-03-01T10:00:00.000000Z"  # the receive time


def test_mapped_device_renames_and_units() -> None:
    devices = {"thermo-1": THERMO, "city/park/air": DeviceMapping(
        asset_id="urn:ngsi-ld:AirQualityObserved:park", attribute="no2", domain="environment")}
    asset, [obs], _ = map_message(message("/key/thermo-1/attrs", {"t": 3}), devices, Defaults())
    assert asset == {"id": THERMO.asset_id, "type": "WeatherObserved", "domain": "environment",
                     "name": "Thermo 1"}
    assert (obs["metric"], obs["value"], obs["unit"]) == ("temperature", 3.0, "Cel")
    assert obs["time"] == datetime(2026, 3, 1, 10, tzinfo=UTC)
    _, [obs], _ = map_message(message("city/park/air", "12.5"), devices, Defaults())
    assert (obs["asset_id"], obs["metric"], obs["value"]) == (
        "urn:ngsi-ld:AirQualityObserved:park", "no2", 12.5)
    _, [obs], _ = map_message(message("/key/thermo-1/attrs/t", "4"), devices, Defaults())
    assert (obs["metric"], obs["value"]) == ("temperature", 4.0)


@pytest.mark.parametrize(("topic", "payload", "reason"), [
    ("/key/s1/attrs", "not json", "not JSON"),
    ("/key/s1/attrs", {"status": "ok"}, "no numeric value"),
    ("/key/s1/attrs", [1, 2], "not an object"),
    ("/key/s1/attrs", '{"t": NaN}', "finite"),
    ("/key/s1/attrs", {"t": 1, "TimeInstant": "yesterday"}, "TimeInstant"),
    ("/key/s 1/attrs", {"t": 1}, "safe identifier"),
    ("plain/topic", {"t": 1}, "maps to no device"),
])
def test_bad_messages(topic: str, payload: Any, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        map_message(message(topic, payload), {}, Defaults())


def test_unknown_device_refused_when_not_accepted() -> None:
    with pytest.raises(ValueError, match="unknown device"):
        map_message(message("/key/s1/attrs", {"t": 1}), {}, Defaults(accept_unknown=False))
    asset, _, _ = map_message(message("/key/thermo-1/attrs", {"t": 1}), {"thermo-1": THERMO},
                              Defaults(accept_unknown=False))
    assert asset["id"] == THERMO.asset_id


JSON = st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=70), inner, max_size=4), max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(topic=st.one_of(st.text(max_size=40), st.builds(
           "/{}/{}/attrs{}".format, st.text(max_size=8), st.text(max_size=8),
           st.sampled_from(["", "/t", "/"]))),
       payload=st.one_of(st.text(max_size=80), JSON.map(json.dumps)),
       received=st.one_of(st.just(RECEIVED), st.text(max_size=30)))
def test_any_message_maps_or_raises_value_error(topic: str, payload: str, received: str) -> None:
    try:
        asset, observations, _ = map_message(message(topic, payload, received),
                                             {"thermo-1": THERMO}, Defaults())
    except ValueError:
        return
    _check(Mapped(assets=[asset], observations=observations))  # fits the store


def test_config() -> None:
    config = MqttConfig(location="mqtts://ann:s%3Acret@broker.example:8884", count=5)
    assert config.location == "mqtts://broker.example:8884"
    assert config.username is not None and config.username.get_secret_value() == "ann"
    assert config.password is not None and config.password.get_secret_value() == "s:cret"
    assert config.broker() == ("broker.example", 8884, True)
    assert config.topics == ["/+/+/attrs"] and config.qos == 1
    assert "s:cret" not in json.dumps(config.model_dump(mode="json"))
    assert MqttConfig(location="mqtt://h", seconds=1).broker() == ("h", 1883, False)
    for bad in [{"location": "mqtt://h"}, {"location": "http://h", "count": 1},
                {"location": "mqtt://h", "count": 1, "topics": ["a/b+/c"]},
                {"location": "mqtt://h", "count": 1, "topics": ["a/#/c"]},
                {"location": "mqtt://h", "count": 1, "default_domain": "nowhere"}]:
        with pytest.raises(ValidationError):
            MqttConfig(**bad)


# --- against Mosquitto --------------------------------------------------------------

@pytest.fixture
def broker() -> None:
    try:
        socket.create_connection(BROKER, timeout=1).close()
    except OSError as error:
        service_missing(f"Mosquitto at {BROKER[0]}:{BROKER[1]}", error)


@pytest.fixture
def apikey() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def subscribed(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Set once a run's subscription is acknowledged (so publishing cannot beat it)."""
    event = threading.Event()

    class Signalling(mqtt_connector._Session):
        def _on_subscribe(self, *args: Any) -> None:
            super()._on_subscribe(*args)
            event.set()

    monkeypatch.setattr(mqtt_connector, "_Session", Signalling)
    yield event


def publish(messages: list[tuple[str, str]]) -> None:
    simulator.publish(f"mqtt://{BROKER[0]}:{BROKER[1]}", messages)


def run_with(engine: Engine, subscribed: threading.Event, config: dict[str, Any],
             messages: list[tuple[str, str]]) -> RunReport:
    """Run the connector in a thread, publish ``messages`` once it listens, wait for it."""
    connector = MqttConnector({"location": "mqtt://127.0.0.1:1883", "seconds": 5,
                               "count": len(messages), **config})
    reports: list[RunReport] = []
    runner = threading.Thread(target=lambda: reports.append(
        run_source(engine, Settings(), connector, "mqtt-test", connector.config.location)))
    runner.start()
    assert subscribed.wait(5), "the run never subscribed"
    publish(messages)
    runner.join(10)
    assert not runner.is_alive() and reports
    return reports[0]


def stored(engine: Engine) -> dict[tuple[str, str], tuple[int, float, str | None]]:
    with engine.connect() as conn:
        rows = conn.execute(select(Asset.id, Observation.metric, Observation.time,
                                   Observation.value, Observation.unit)
                            .join(Asset, Asset.pk == Observation.asset_pk)).all()
    return {(a, m): (t, v, u) for a, m, t, v, u in rows}


def test_run_stores_telemetry(fresh_engine: Engine, broker: None, subscribed: threading.Event,
                              apikey: str) -> None:
    config = {"topics": [f"/{apikey}/+/attrs", f"citylens-test/{apikey}/#"],
              "devices": {"thermo-1": THERMO.model_dump(), f"citylens-test/{apikey}/air":
                          {"asset_id": f"urn:ngsi-ld:AirQualityObserved:{apikey}",
                           "type": "AirQualityObserved", "attribute": "no2"}}}
    before = int(time.time())
    report = run_with(fresh_engine, subscribed, config, [
        (f"/{apikey}/thermo-1/attrs", json.dumps({"t": 21.5, "TimeInstant": "2026-03-01T08:00Z"})),
        (f"/{apikey}/s9/attrs", json.dumps({"no2": 40, "state": "calibrating"})),
        (f"citylens-test/{apikey}/air", "33"),
    ])
    after = int(time.time()) + 1
    assert (report.status, report.records_in, report.stored, report.quarantined) == (
        "ok", 3, 3, 0), report.error
    found = stored(fresh_engine)
    new = f"urn:ngsi-ld:Device:{apikey}:s9"
    assert found[(THERMO.asset_id, "temperature")] == (1_772_352_000, 21.5, "Cel")
    assert found[(new, "no2")][1] == 40.0  # unit None (pandas 3 stages it as 'nan' on PG)
    assert before <= found[(new, "no2")][0] <= after
    assert found[(f"urn:ngsi-ld:AirQualityObserved:{apikey}", "no2")][1] == 33.0
    with fresh_engine.connect() as conn:
        assets = {a.id: a for a in conn.execute(
            select(Asset.id, Asset.type, Asset.attributes, Asset.last_seen))}
    assert assets[new].attributes == {"state": "calibrating"} and assets[new].type == "Device"
    assert assets[THERMO.asset_id].last_seen.replace(tzinfo=UTC) == datetime(2026, 3, 1, 8,
                                                                             tzinfo=UTC)
    assert before <= assets[new].last_seen.replace(tzinfo=UTC).timestamp() <= after
    assert report.watermark is not None and report.watermark.startswith(
        datetime.now(UTC).strftime("%Y-%m-%d"))


def test_run_quarantines_bad_messages(fresh_engine: Engine, broker: None,
                                      subscribed: threading.Event, apikey: str) -> None:
    good = [(f"/{apikey}/s{n}/attrs", json.dumps({"pm25": n})) for n in range(3)]
    bad = [(f"/{apikey}/s8/attrs", "{not json"), (f"/{apikey}/s9/attrs", '{"status": "off"}')]
    report = run_with(fresh_engine, subscribed, {"topics": [f"/{apikey}/+/attrs"]},
                      good[:2] + bad + good[2:])
    assert (report.status, report.stored, report.quarantined) == ("partial", 3, 2)
    assert {(a, v) for (a, _), (_, v, _) in stored(fresh_engine).items()} == {
        (f"urn:ngsi-ld:Device:{apikey}:s{n}", float(n)) for n in range(3)}
    with fresh_engine.connect() as conn:
        reasons = conn.execute(select(Quarantine.reason).order_by(Quarantine.id)).scalars().all()
    assert "not JSON" in reasons[0] and "no numeric value" in reasons[1]


def test_run_quarantines_unknown_devices(fresh_engine: Engine, broker: None,
                                         subscribed: threading.Event, apikey: str) -> None:
    config = {"topics": [f"/{apikey}/+/attrs"], "accept_unknown_devices": False,
              "devices": {"thermo-1": THERMO.model_dump()}}
    report = run_with(fresh_engine, subscribed, config, [
        (f"/{apikey}/thermo-1/attrs", '{"t": 5}'), (f"/{apikey}/stranger/attrs", '{"t": 6}')])
    assert (report.status, report.stored, report.quarantined) == ("partial", 1, 1)
    assert list(stored(fresh_engine)) == [(THERMO.asset_id, "temperature")]
    with fresh_engine.connect() as conn:
        payload = conn.execute(select(Quarantine.payload)).scalar_one()
    assert "stranger" in payload


def test_unreachable_broker_fails_the_run(fresh_engine: Engine,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    set_retry_policy(monkeypatch, attempts=3)
    connector = MqttConnector({"location": "mqtt://127.0.0.1:1", "count": 1, "seconds": 1})
    assert not connector.check().ok
    report = run_source(fresh_engine, Settings(), connector, "mqtt-down", "mqtt://127.0.0.1:1")
    assert (report.status, report.failure) == ("failed", "unavailable")
    assert "unreachable after 3 tries" in (report.error or "")


def test_check_reaches_the_broker(broker: None) -> None:
    assert MqttConnector({"location": "mqtt://127.0.0.1:1883", "seconds": 1}).check().ok


def test_a_listener_needs_no_end_and_a_group_shares_its_subscriptions() -> None:
    from connectors.mqtt import MqttConfig

    with pytest.raises(ValueError, match="set count or seconds"):
        MqttConfig(location="mqtt://broker:1883")
    listener = MqttConfig(location="mqtt://broker:1883", listen=True, share="citylens",
                          topics=["/+/+/attrs", "city/#"], commit_every=50, commit_ms=200)
    assert listener.subscriptions() == ["$share/citylens//+/+/attrs", "$share/citylens/city/#"]
    assert MqttConfig(location="mqtt://b", listen=True).subscriptions() == ["/+/+/attrs"]
    with pytest.raises(ValueError):
        MqttConfig(location="mqtt://b", listen=True, share="a/b")  # no topic levels in a group
