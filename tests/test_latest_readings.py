"""``latest_readings``, kept by ingest, always equals the newest observation of each metric
of each asset, whatever order, repeats and corrections the batches bring (SQLite and
PostgreSQL); the pages' "latest value" reads agree with a brute-force MAX(time)."""
from __future__ import annotations

import random

import pandas as pd
from sqlalchemy import Connection, Engine, insert, select, text

from dashboard.model import Asset, District
from dashboard.queries.asset import latest_reading, metric_names
from dashboard.store.observations import ingest_observations

TZ = "Europe/Madrid"
T0 = 1_790_000_000


def _assets(conn: Connection, count: int) -> list[int]:
    conn.execute(insert(District), [{"id": "d1", "name": "Centro", "geometry": {},
                                     "population": 10}])
    conn.execute(insert(Asset), [{"id": f"urn:ngsi-ld:Device:l:{n}", "type": "Device",
                                  "domain": "environment", "district_id": "d1"}
                                 for n in range(count)])
    return list(conn.execute(select(Asset.pk)).scalars())


def _brute_force(conn: Connection) -> dict[tuple[int, str], tuple[int, float, str | None]]:
    rows = conn.execute(text(
        "SELECT o.asset_pk, o.metric, o.time, o.value, o.unit FROM observations o "
        "WHERE o.time = (SELECT MAX(time) FROM observations n WHERE n.asset_pk = o.asset_pk "
        "AND n.metric = o.metric)"))
    return {(pk, m): (t, v, u) for pk, m, t, v, u in rows}


def _kept(conn: Connection) -> dict[tuple[int, str], tuple[int, float, str | None]]:
    rows = conn.execute(text("SELECT asset_pk, metric, time, value, unit FROM latest_readings"))
    return {(pk, m): (t, v, u) for pk, m, t, v, u in rows}


def test_latest_readings_follow_out_of_order_repeated_and_corrected_batches(
        fresh_engine: Engine) -> None:
    chance = random.Random(20261204)
    with fresh_engine.begin() as conn:
        pks = _assets(conn, 6)
    sent: list[dict[str, object]] = []
    for _ in range(25):
        batch = []
        for _ in range(chance.randint(1, 40)):
            if sent and chance.random() < 0.3:  # a repeat, or a corrected value
                old = dict(chance.choice(sent))
                if chance.random() < 0.5:
                    old["value"] = round(chance.uniform(0, 100), 2)
                batch.append(old)
                continue
            batch.append({"asset_pk": chance.choice(pks),
                          "metric": chance.choice(["batteryLevel", "rssi", "temperature"]),
                          "time": T0 + chance.randint(-50_000, 50_000),
                          "value": round(chance.uniform(0, 100), 2),
                          "unit": chance.choice([None, "%", "dB"])})
        sent.extend(batch)
        with fresh_engine.begin() as conn:
            ingest_observations(conn, pd.DataFrame(batch), TZ)
            assert _kept(conn) == _brute_force(conn)
    with fresh_engine.connect() as conn:
        truth = _brute_force(conn)
        for pk in pks:
            metrics = sorted(m for (p, m) in truth if p == pk)
            assert metric_names(conn, pk) == metrics
            for metric in metrics:
                time, value, unit = truth[(pk, metric)]
                assert latest_reading(conn, pk, metric) == {
                    "metric": metric, "value": value, "unit": unit or "", "time": time}
        assert latest_reading(conn, pks[0], "no-such-metric") is None
