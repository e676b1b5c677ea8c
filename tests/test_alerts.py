"""Threshold alerts raised and cleared at ingest."""
from __future__ import annotations

import pandas as pd
from sqlalchemy import Connection, insert, select

from dashboard.alerts import evaluate_alerts
from dashboard.kpis.definitions import AlertRule
from dashboard.model import Alert, Asset, District
from dashboard.store.observations import ingest_observations

RULE = AlertRule(metric="WasteContainer.fillingLevel", above=0.9, severity="warning",
                 rule={"en": "Container full", "es": "Contenedor lleno"})
T0 = 1_767_225_600


def _container(conn: Connection) -> int:
    conn.execute(insert(District), [{"id": "d1", "name": "Centro", "geometry": {}}])
    conn.execute(insert(Asset), [{"id": "urn:w:1", "type": "WasteContainer", "domain": "waste",
                                  "district_id": "d1"}])
    return conn.execute(select(Asset.pk)).scalar_one()


def _ingest(conn: Connection, pk: int, values: list[float], start: int) -> None:
    frame = pd.DataFrame({"asset_pk": pk, "metric": "fillingLevel",
                          "time": [start + 3600 * i for i in range(len(values))], "value": values})
    ingest_observations(conn, frame, "Europe/Madrid")
    evaluate_alerts(conn, [RULE])


def _alerts(conn: Connection) -> list[tuple]:
    return conn.execute(
        select(Alert.raised_at, Alert.cleared_at, Alert.value, Alert.district_id)
        .order_by(Alert.raised_at)
    ).all()


def test_episode_inside_one_batch_is_raised_and_cleared(conn: Connection) -> None:
    pk = _container(conn)
    _ingest(conn, pk, [0.5, 0.95, 0.99, 0.2, 0.3], T0)
    (raised, cleared, peak, district), = _alerts(conn)
    assert int(raised.timestamp()) == T0 + 3600
    assert int(cleared.timestamp()) == T0 + 3 * 3600
    assert peak == 0.99 and district == "d1"


def test_alert_stays_open_across_batches_then_clears(conn: Connection) -> None:
    pk = _container(conn)
    _ingest(conn, pk, [0.5, 0.93], T0)
    assert _alerts(conn)[0][1] is None  # open
    _ingest(conn, pk, [0.97, 0.98], T0 + 2 * 3600)
    assert len(_alerts(conn)) == 1 and _alerts(conn)[0][2] == 0.98  # same alert, new peak
    _ingest(conn, pk, [0.1], T0 + 4 * 3600)
    (raised, cleared, peak, _), = _alerts(conn)
    assert int(cleared.timestamp()) == T0 + 4 * 3600 and peak == 0.98


def test_reingesting_the_same_batch_raises_nothing_new(conn: Connection) -> None:
    pk = _container(conn)
    _ingest(conn, pk, [0.95, 0.2], T0)
    _ingest(conn, pk, [0.95, 0.2], T0)
    assert len(_alerts(conn)) == 1


def test_values_within_bounds_raise_nothing(conn: Connection) -> None:
    pk = _container(conn)
    _ingest(conn, pk, [0.1, 0.5, 0.89], T0)
    assert _alerts(conn) == []
