"""The demo simulator: each tick stores new readings through the CSV connector and, now and
then, a service request through the Open311 connector; the KPIs see them."""
from __future__ import annotations

import json
import random
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from connectors.simulator import Simulator
from dashboard import queries
from dashboard.model import Observation, ServiceRequest
from dashboard.settings import Settings
from dashboard.store import get_engine
from dashboard.store.version import get_meta


@pytest.fixture
def live_city(tiny_city: Settings, tmp_path: Path) -> Settings:
    """A copy of the tiny city (its feeds stay where the tiny city wrote them)."""
    var_dir = tmp_path / "var"
    shutil.copytree(tiny_city.var_dir, var_dir)
    return tiny_city.model_copy(update={"var_dir": var_dir})


def _feeds(settings: Settings) -> Path:
    with get_engine(settings.resolved_database_url).connect() as conn:
        return Path(json.loads(get_meta(conn, "demo") or "{}")["feeds"])


def test_a_tick_stores_readings_of_every_type_and_a_request(live_city: Settings) -> None:
    engine = get_engine(live_city.resolved_database_url)
    simulator = Simulator(engine, live_city, _feeds(live_city), rng=random.Random(3))
    now = live_city.current_time() + timedelta(minutes=10)
    with engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(Observation)).scalar_one()
    stored = simulator.tick(now, request=True)
    types = {p.stem for p in (_feeds(live_city) / "telemetry").glob("*.yaml")}
    assert {f"demo-live-{t}" for t in types} <= set(stored)
    assert stored["demo-live-requests"] == 1
    assert all(n > 0 for n in stored.values())
    with engine.connect() as conn:
        after = conn.execute(select(func.count()).select_from(Observation)).scalar_one()
        newest = conn.execute(select(func.max(Observation.time))).scalar_one()
        live = conn.execute(select(ServiceRequest.status, ServiceRequest.district_id).where(
            ServiceRequest.id.like("SR-LIVE-%"))).all()
    assert after > before and newest == int(now.timestamp())
    assert [status for status, _ in live] == ["open"] and live[0][1]  # placed in a district
    # A second tick later stores again (the sources' watermarks move on with time).
    again = simulator.tick(now + timedelta(seconds=5), request=False)
    assert all(n > 0 for n in again.values()) and "demo-live-requests" not in again


BUS_SOURCES = ("demo-live-gtfs-rt-vehicle_positions", "demo-live-gtfs-rt-trip_updates")


def test_the_buses_keep_running_while_the_demo_serves(live_city: Settings) -> None:
    """Each tick writes the buses' GTFS-Realtime feeds anew from the demo's timetable and
    takes them in through the GTFS-RT connector: the kiosk's bus slide stays live."""
    from dashboard.model import Asset, Quarantine
    from dashboard.queries.kiosk import transit_now

    engine = get_engine(live_city.resolved_database_url)
    # 22:30 in Santander, 90 minutes after the demo's data ends: the last buses still run
    later = live_city.model_copy(update={"now": live_city.current_time() + timedelta(minutes=90)})
    assert transit_now(later)["vehicles_in_service"] == 0  # the generated moment is past
    stored = Simulator(engine, later, _feeds(later), rng=random.Random(6)).tick(
        later.current_time(), request=False)
    assert all(stored[source] > 0 for source in BUS_SOURCES)
    transit = transit_now(later)
    assert transit["available"] and transit["routes"]
    assert 0 < transit["vehicles_in_service"] <= stored[BUS_SOURCES[0]]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Quarantine)).scalar_one() == 0
        seen = conn.execute(select(func.max(Asset.last_seen)).where(
            Asset.type == "Vehicle")).scalar_one()
    assert seen is not None and seen.replace(tzinfo=None) == later.current_time().replace(
        tzinfo=None)


def test_the_kpis_see_the_simulated_readings(live_city: Settings) -> None:
    engine = get_engine(live_city.resolved_database_url)
    later = live_city.model_copy(update={"now": live_city.current_time() + timedelta(hours=3)})
    before = queries.overview(later, None, "day")
    no2_before = {k["id"]: k["as_of"] for k in before["kpis"]}["air_no2"]
    Simulator(engine, later, _feeds(later), rng=random.Random(5)).tick(
        later.current_time() - timedelta(minutes=5), request=False)
    after = {k["id"]: k["as_of"] for k in queries.overview(later, None, "day")["kpis"]}
    assert after["air_no2"] > no2_before  # fresher data, seen at once


def test_with_a_broker_the_readings_come_through_mqtt(live_city: Settings,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """With Mosquitto answering, the sensors publish IoT Agent JSON and one MQTT connector
    run per tick stores every reading (on a persistent session: nothing published between
    runs is missed); without one the simulator keeps to files."""
    from connectors import simulator as module
    from connectors.simulator import MQTT_SOURCE, broker_answering
    from dashboard.model import Asset, FeedRun

    published: list[int] = []

    def counted(url: str, messages: list[tuple[str, str]]) -> None:
        published.append(len(messages))
        real_publish(url, messages)

    real_publish = module.publish
    monkeypatch.setattr(module, "publish", counted)

    url = live_city.demo_mqtt_url
    assert broker_answering(url), "Mosquitto runs on this machine (127.0.0.1:1883)"
    assert not broker_answering("mqtt://127.0.0.1:1")
    engine = get_engine(live_city.resolved_database_url)
    simulator = Simulator(engine, live_city, _feeds(live_city), rng=random.Random(4),
                          mqtt_url=url)
    now = live_city.current_time() + timedelta(minutes=10)
    with engine.connect() as conn:
        names = dict(conn.execute(select(Asset.id, Asset.name)).all())
    try:
        _two_ticks(engine, simulator, now, published)
    finally:
        simulator.end_mqtt_session()  # the shared broker keeps no session of this test
    with engine.connect() as conn:
        runs = conn.execute(select(FeedRun.status, FeedRun.stored, FeedRun.quarantined)
                            .where(FeedRun.source_id == MQTT_SOURCE)).all()
        after = dict(conn.execute(select(Asset.id, Asset.name)).all())
    assert [r.status for r in runs] == ["ok"] * 3 and runs[0].stored == 0  # primed first
    assert all(r.quarantined == 0 for r in runs)
    buses = {urn for urn in after if urn.startswith("urn:ngsi-ld:Vehicle:")}  # they move on
    assert {k: v for k, v in after.items() if k not in buses} == {
        k: v for k, v in names.items() if k not in buses}  # no sensor renamed or added


def _two_ticks(engine, simulator: Simulator, now, published: list[int]) -> None:
    from connectors.simulator import MQTT_SOURCE

    for step in range(2):
        stored = simulator.tick(now + timedelta(seconds=5 * step), request=False)
        assert set(stored) == {MQTT_SOURCE, *BUS_SOURCES}  # the buses: their own feeds
        assert stored[MQTT_SOURCE] == published[-1] > 0
        with engine.connect() as conn:
            at_tick = conn.execute(select(func.count()).select_from(Observation).where(
                Observation.time == int((now + timedelta(seconds=5 * step)).timestamp()))
            ).scalar_one()
        assert at_tick >= stored[MQTT_SOURCE]  # every sampled sensor's readings are in
