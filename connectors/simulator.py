"""The demo city kept live: while the demo serves, a share of its sensors report every few
seconds and now and then a resident files a service request, through the same connectors
as a real city's feeds, so the live path of CityLens runs whenever anyone tries it.

When an MQTT broker answers at ``CITYLENS_DEMO_MQTT_URL`` (a local Mosquitto), the sensors
publish their readings there as FIWARE IoT Agent JSON (``/citylens-demo/<device>/attrs``,
QoS 1) and one run of the MQTT connector per tick takes them in, on a persistent session
so that what is published between runs waits at the broker. Otherwise each tick is
written as the city's systems export it (the demo's telemetry CSV with its own mapping)
and ingested through the CSV connector. Requests come as Open311 JSON either way.

Readings follow each sensor's newest stored value (a small random walk, ratios kept in
[0, 1]); requests copy the service, place and department of an earlier one.
"""
from __future__ import annotations

import csv
import hashlib
import json
import logging
import random
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import yaml
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine, bindparam, select

from connectors.mqtt import DEFAULT_PORTS
from connectors.registry import get_connector
from connectors.runner import RunReport, run_source
from dashboard.demo.transit_live import FEEDS, Buses
from dashboard.model import Asset, Observation
from dashboard.settings import Settings

MQTT_SOURCE = "demo-live-mqtt"
MQTT_APIKEY = "citylens-demo"
MQTT_WAIT_SECONDS = 10.0  # a tick's run stops after this long even if messages are missing

log = logging.getLogger(__name__)
SAMPLE_SHARE = 0.1  # of each type's sensors report at each tick
REQUESTS_PER_MINUTE = 2.0
STEP = 0.04  # a reading moves by up to this share of its value (or of 1 for ratios)
# What a new request takes from an earlier one: its service, department and place.
COPIED = ("service_name", "service_code", "agency_responsible", "address", "lat", "long")


@dataclass
class Simulator:
    """New readings and requests for the demo city whose feeds are in ``feeds``."""

    engine: Engine
    settings: Settings
    feeds: Path
    every: float = 5.0
    rng: random.Random = field(default_factory=random.Random)
    mqtt_url: str | None = None  # a broker that answered: readings go through it
    _devices: dict[str, dict[str, Any]] | None = None
    _primed: bool = False
    _buses: Buses | None = None

    @property
    def folder(self) -> Path:
        """Where the ticks' files are written (beside the store)."""
        path = self.settings.var_dir / "demo-live"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def tick(self, now: datetime, *, request: bool | None = None) -> dict[str, int]:
        """One round: readings of a sample of every telemetry type at ``now``, and a
        request (with ``request`` None: as often as ``REQUESTS_PER_MINUTE`` says). Returns
        the records stored per source."""
        stored: dict[str, int] = {}
        messages: list[tuple[str, str]] = []
        for mapping in sorted((self.feeds / "telemetry").glob("*.yaml")):
            if self.mqtt_url:
                messages += self._messages(mapping, now)
                continue
            report = self._readings(mapping, now)
            if report is not None:
                stored[report.source] = report.stored
        if messages:
            report = self._through_mqtt(messages)
            stored[report.source] = report.stored
        for report in self._bus_feeds(now):
            stored[report.source] = report.stored
        chance = REQUESTS_PER_MINUTE * self.every / 60
        if request or (request is None and self.rng.random() < chance):
            report = self._request(now)
            if report is not None:
                stored[report.source] = report.stored
        return stored

    def _bus_feeds(self, now: datetime) -> list[RunReport]:
        """The buses at ``now``: the demo's GTFS-Realtime feeds written anew from its bus
        timetable (each bus reporting at ``now``), through the GTFS-RT connector."""
        if self._buses is None:
            self._buses = Buses.of_demo(self.engine, self.feeds, self.settings.timezone)
        if self._buses is None:
            return []  # a demo without buses
        self._buses.write(self.folder, now, lag=(0, 1))
        return [run_source(self.engine, self.settings, get_connector("gtfs-rt")(
                    {"location": str(self.folder / f"{name}.pb"),
                     "feed_id": self._buses.feed_id}), f"demo-live-gtfs-rt-{name}")
                for name in FEEDS]

    def _sample(self, mapping: dict[str, Any], now: datetime) -> list[dict[str, str]]:
        """Readings at ``now`` of a sample of the mapping's type: each sensor's newest
        values moved a little (``entity_id``, ``observed_at``, one text per metric)."""
        kind = mapping["type"]
        metrics = [m["metric"] for m in mapping.get("metrics", [])]
        with self.engine.connect() as conn:
            assets = conn.execute(select(Asset.pk, Asset.id).where(Asset.type == kind)).all()
        if not assets or not metrics:
            return []
        chosen = self.rng.sample(assets, max(1, round(len(assets) * SAMPLE_SHARE)))
        latest = self._latest({pk: urn for pk, urn in chosen}, now)
        units = {m["metric"]: m.get("unit") for m in mapping["metrics"]}
        rows = []
        for urn, values in sorted(latest.items()):
            row = {"entity_id": urn, "observed_at": now.isoformat()}
            row.update({metric: self._walk(values.get(metric), units.get(metric))
                        for metric in metrics})
            rows.append(row)
        return rows

    def _readings(self, mapping_path: Path, now: datetime) -> RunReport | None:
        """A sample's readings written as the demo's telemetry CSV, through that connector."""
        mapping = yaml.safe_load(mapping_path.read_text(encoding="utf-8"))
        kind = mapping["type"]
        metrics = [m["metric"] for m in mapping.get("metrics", [])]
        rows = self._sample(mapping, now)
        if not rows:
            return None
        path = self.folder / f"{kind}.csv"
        _write_csv(path, ["entity_id", "observed_at", *metrics], rows)
        connector = get_connector("csv")({"location": str(path), "mapping": str(mapping_path)})
        return run_source(self.engine, self.settings, connector, f"demo-live-{kind}")

    def _device_mappings(self) -> dict[str, dict[str, Any]]:
        """The MQTT connector's device mappings of every simulated sensor, by device id
        (``device_id``): its asset, type, domain, name and units (built once)."""
        if self._devices is None:
            units: dict[str, dict[str, str]] = {}
            for path in (self.feeds / "telemetry").glob("*.yaml"):
                mapping = yaml.safe_load(path.read_text(encoding="utf-8"))
                units[mapping["type"]] = {m["metric"]: m["unit"]
                                          for m in mapping.get("metrics", []) if m.get("unit")}
            with self.engine.connect() as conn:
                rows = conn.execute(select(Asset.id, Asset.type, Asset.domain, Asset.name)
                                    .where(Asset.type.in_(list(units)))).all()
            self._devices = {device_id(urn): {"asset_id": urn, "type": kind, "domain": domain,
                                              "name": name, "units": units[kind]}
                             for urn, kind, domain, name in rows}
        return self._devices

    def _messages(self, mapping_path: Path, now: datetime) -> list[tuple[str, str]]:
        """A sample's readings as IoT Agent JSON messages: (topic, payload)."""
        mapping = yaml.safe_load(mapping_path.read_text(encoding="utf-8"))
        devices = self._device_mappings()
        messages = []
        for row in self._sample(mapping, now):
            values = {metric: float(text) for metric, text in row.items()
                      if metric not in ("entity_id", "observed_at") and text != ""}
            device = device_id(row["entity_id"])
            if device in devices and values:
                payload = {"TimeInstant": row["observed_at"], **values}
                messages.append((f"/{MQTT_APIKEY}/{device}/attrs", json.dumps(payload)))
        return messages

    @property
    def mqtt_client_id(self) -> str:
        """The persistent session's client id: one per demo store."""
        digest = hashlib.sha1(str(self.settings.var_dir.resolve()).encode()).hexdigest()
        return f"citylens-demo-{digest[:12]}"

    def end_mqtt_session(self) -> None:
        """Ask the broker to drop the persistent session (and what it queued for it)."""
        if not self.mqtt_url:
            return
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.mqtt_client_id,
                             clean_session=True)
        client.connect(*broker_of(self.mqtt_url))
        client.disconnect()
        self._primed = False

    def _mqtt_connector(self, count: int | None, seconds: float) -> Any:
        return get_connector("mqtt")({
            "location": self.mqtt_url, "topics": [f"/{MQTT_APIKEY}/+/attrs"], "qos": 1,
            "client_id": self.mqtt_client_id,
            "count": count, "seconds": seconds, "devices": self._device_mappings(),
            "accept_unknown_devices": False})

    def _through_mqtt(self, messages: list[tuple[str, str]]) -> RunReport:
        """Publish the messages (QoS 1) and take them in with one MQTT connector run. The
        first run only opens the persistent session, so the broker keeps what is
        published for the runs after it."""
        if not self._primed:
            run_source(self.engine, self.settings, self._mqtt_connector(None, 0.5), MQTT_SOURCE)
            self._primed = True
        publish(self.mqtt_url or "", messages)
        connector = self._mqtt_connector(len(messages), MQTT_WAIT_SECONDS)
        return run_source(self.engine, self.settings, connector, MQTT_SOURCE)

    def _latest(self, urns: Mapping[int, str], now: datetime) -> dict[str, dict[str, float]]:
        """Each sensor's newest value per metric over the last two days."""
        since = int((now - timedelta(days=2)).timestamp())
        stmt = (select(Observation.asset_pk, Observation.metric, Observation.value)
                .where(Observation.asset_pk.in_(bindparam("pks", expanding=True)),
                       Observation.time >= since)
                .order_by(Observation.time))
        found: dict[str, dict[str, float]] = {urn: {} for urn in urns.values()}
        with self.engine.connect() as conn:
            for pk, metric, value in conn.execute(stmt, {"pks": list(urns)}):
                found[urns[pk]][metric] = float(value)
        return found

    def _walk(self, value: float | None, unit: str | None) -> str:
        if value is None:
            return ""
        if unit == "ratio":
            return f"{min(1.0, max(0.0, value + self.rng.uniform(-STEP, STEP))):.4f}"
        return f"{max(0.0, value * (1 + self.rng.uniform(-STEP, STEP))):.3f}"

    def _request(self, now: datetime) -> RunReport | None:
        """A new open request like an earlier one, through the Open311 connector."""
        earlier = json.loads((self.feeds / "requests.json").read_text(encoding="utf-8"))
        if not earlier:
            return None
        model: dict[str, Any] = self.rng.choice(earlier)
        stamp = now.astimezone(timezone.utc)
        sla = timedelta(hours=self.rng.choice((24, 72, 120)))
        request: dict[str, Any] = {key: model[key] for key in COPIED if key in model}
        number = f"{int(stamp.timestamp())}-{self.rng.randrange(1000):03d}"
        request.update({
            "service_request_id": f"SR-LIVE-{number}",
            "status": "open", "description": model.get("description", ""),
            "requested_datetime": stamp.isoformat().replace("+00:00", "Z"),
            "updated_datetime": stamp.isoformat().replace("+00:00", "Z"),
            "expected_datetime": (stamp + sla).isoformat().replace("+00:00", "Z"),
            "channel": self.rng.choice(("web", "app", "phone", "in_person")),
        })
        path = self.folder / "requests.json"
        path.write_text(json.dumps([request]), encoding="utf-8")
        connector = get_connector("open311")({"location": str(path)})
        return run_source(self.engine, self.settings, connector, "demo-live-requests")

    def run(self, stop: threading.Event) -> None:
        """Tick every ``every`` seconds until ``stop`` is set, and run the notifier every
        ``notify_every_seconds`` (in-app notifications come to life in the demo; no
        briefing is sent from it); a failed tick is logged and the next one tries again."""
        from dashboard.notify.cycle import notify_once

        notified = time.monotonic()
        while not stop.wait(self.every):
            try:
                self.tick(self.settings.current_time())
                if time.monotonic() - notified >= self.settings.notify_every_seconds:
                    notified = time.monotonic()
                    notify_once(self.engine, self.settings, None)
            except Exception:  # the demo keeps serving whatever a tick met
                log.exception("the demo simulator's tick failed")


def _write_csv(path: Path, columns: list[str], rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def device_id(urn: str) -> str:
    """A sensor's device id in its MQTT topic: topic-safe, the same for the same asset."""
    return "d" + hashlib.sha1(urn.encode()).hexdigest()[:16]


def broker_of(url: str) -> tuple[str, int]:
    """The host and port of ``mqtt://host:port`` (the local default port when none)."""
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or DEFAULT_PORTS["mqtt"]


def broker_answering(url: str, timeout: float = 0.5) -> bool:
    """Whether an MQTT broker accepts a TCP connection at ``url`` (``mqtt://host:port``)."""
    if not url:
        return False
    try:
        with socket.create_connection(broker_of(url), timeout=timeout):
            return True
    except OSError:
        return False


def publish(url: str, messages: list[tuple[str, str]]) -> None:
    """Publish ``messages`` (topic, payload) at QoS 1 and wait until the broker has them."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.connect(*broker_of(url))
    client.loop_start()
    try:
        for topic, payload in messages:
            client.publish(topic, payload, qos=1).wait_for_publish(timeout=5)
    finally:
        client.disconnect()
        client.loop_stop()


def start_simulator(engine: Engine, settings: Settings, feeds: Path,
                    every: float = 5.0) -> threading.Event:
    """Run the simulator in a daemon thread (through MQTT when a broker answers at
    ``settings.demo_mqtt_url``); set the returned event to stop it."""
    stop = threading.Event()
    mqtt_url = settings.demo_mqtt_url if broker_answering(settings.demo_mqtt_url) else None
    log.info("demo simulator: readings through %s", mqtt_url or "CSV files")
    simulator = Simulator(engine, settings, feeds, every, mqtt_url=mqtt_url)
    threading.Thread(target=simulator.run, args=(stop,), name="demo-simulator",
                     daemon=True).start()
    return stop
