"""A time in year 9999 from MQTT and GTFS-Realtime (as from NGSI files, notifications and
Open311, tested with them): the record is quarantined with its reason and the good ones
of the batch are stored; before, an OverflowError lost the whole batch."""
from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, func, select

from connectors.base import Mapped
from connectors.gtfs_rt import EntitiesStream, GtfsRtConfig
from connectors.mqtt_parse import Defaults, map_message
from connectors.storing import store_batch
from dashboard.model import Observation
from dashboard.settings import Settings
from dashboard.store import unit_of_work

FAR = 253_402_300_000  # 9999-12-31, as a GTFS-RT timestamp
NOW = 1_764_000_000  # 2025-11-24


def _stored(engine: Engine, records: list[tuple[Any, Any]]) -> tuple[int, list[str]]:
    with unit_of_work(engine) as conn:
        stored, refused = store_batch(conn, Settings(), records)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Observation)).scalar() == stored
    return stored, [reason for _, reason in refused]


def test_mqtt(fresh_engine: Engine) -> None:
    messages = [{"topic": f"/k/s{n}/attrs", "received": "2026-11-01T10:00:00+00:00",
                 "payload": json.dumps({"no2": 40 + n, "TimeInstant": at})}
                for n, at in enumerate(["2026-11-01T09:59:00Z", "9999-12-31T23:00:00Z"])]
    records = []
    for message in messages:
        asset, observations, cursor = map_message(message, {}, Defaults())
        records.append((message, Mapped(assets=[asset], observations=observations,
                                        cursor=cursor)))
    stored, reasons = _stored(fresh_engine, records)
    assert stored == 1 and len(reasons) == 1 and "9999-12-31" in reasons[0]


def test_gtfs_realtime(fresh_engine: Engine) -> None:
    stream = EntitiesStream(GtfsRtConfig(location="x.pb", feed_id="tus"))
    vehicles = [{"kind": "vehicle", "id": f"v{n}", "feed_timestamp": NOW,
                 "vehicle": {"vehicle": {"id": f"bus-{n}"}, "timestamp": stamp,
                             "position": {"latitude": 43.46, "longitude": -3.8, "speed": 7.5}}}
                for n, stamp in enumerate([NOW, FAR])]
    stored, reasons = _stored(fresh_engine, [(v, stream.map(v)) for v in vehicles])
    assert stored == 1 and len(reasons) == 1
    assert "9999-12-31" in reasons[0] and "outside the plausible range" in reasons[0]
