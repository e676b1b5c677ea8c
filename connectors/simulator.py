"""The demo city kept live: while the demo serves, a share of its sensors report every few
seconds and now and then a resident files a service request. Each tick is written as the
city's systems export it (the demo's telemetry CSV with its own mapping, an Open311 JSON
file) and ingested through the same connectors as the demo's feeds, so the live path of
CityLens runs whenever anyone tries it.

Readings follow each sensor's newest stored value (a small random walk, ratios kept in
[0, 1]); requests copy the service, place and department of an earlier one.
"""
from __future__ import annotations

import csv
import json
import logging
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Engine, bindparam, select

from connectors.registry import get_connector
from connectors.runner import RunReport, run_source
from dashboard.model import Asset, Observation
from dashboard.settings import Settings

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
        for mapping in sorted((self.feeds / "telemetry").glob("*.yaml")):
            report = self._readings(mapping, now)
            if report is not None:
                stored[report.source] = report.stored
        chance = REQUESTS_PER_MINUTE * self.every / 60
        if request or (request is None and self.rng.random() < chance):
            report = self._request(now)
            if report is not None:
                stored[report.source] = report.stored
        return stored

    def _readings(self, mapping_path: Path, now: datetime) -> RunReport | None:
        mapping = yaml.safe_load(mapping_path.read_text(encoding="utf-8"))
        kind = mapping["type"]
        metrics = [m["metric"] for m in mapping.get("metrics", [])]
        with self.engine.connect() as conn:
            assets = conn.execute(select(Asset.pk, Asset.id).where(Asset.type == kind)).all()
        if not assets or not metrics:
            return None
        chosen = self.rng.sample(assets, max(1, round(len(assets) * SAMPLE_SHARE)))
        latest = self._latest({pk: urn for pk, urn in chosen}, now)
        units = {m["metric"]: m.get("unit") for m in mapping["metrics"]}
        rows = []
        for urn, values in sorted(latest.items()):
            row = {"entity_id": urn, "observed_at": now.isoformat()}
            row.update({metric: self._walk(values.get(metric), units.get(metric))
                        for metric in metrics})
            rows.append(row)
        if not rows:
            return None
        path = self.folder / f"{kind}.csv"
        _write_csv(path, ["entity_id", "observed_at", *metrics], rows)
        connector = get_connector("csv")({"location": str(path), "mapping": str(mapping_path)})
        return run_source(self.engine, self.settings, connector, f"demo-live-{kind}")

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
        """Tick every ``every`` seconds until ``stop`` is set; a failed tick is logged and
        the next one tries again."""
        while not stop.wait(self.every):
            try:
                self.tick(self.settings.current_time())
            except Exception:  # the demo keeps serving whatever a tick met
                log.exception("the demo simulator's tick failed")


def _write_csv(path: Path, columns: list[str], rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def start_simulator(engine: Engine, settings: Settings, feeds: Path,
                    every: float = 5.0) -> threading.Event:
    """Run the simulator in a daemon thread; set the returned event to stop it."""
    stop = threading.Event()
    simulator = Simulator(engine, settings, feeds, every)
    threading.Thread(target=simulator.run, args=(stop,), name="demo-simulator",
                     daemon=True).start()
    return stop
