"""Threshold alerts, raised and cleared at ingest from the staged observation batch.

For each rule and asset, the staged values are walked in time order: crossing the
threshold raises an alert (one open alert per asset and rule, its value the peak of the
episode); returning within bounds clears it. Alerts open before the batch continue. Each
raise and clear is also recorded as a notification event, in the same transaction.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Row, bindparam, insert, select, text, update

from dashboard.kpis.definitions import AlertRule
from dashboard.model import Alert
from dashboard.notify.events import ALERT_CLEARED, ALERT_RAISED, AlertChange, record_alert_changes
from dashboard.store.frames import rows_frame
from dashboard.store.observations import STAGE


def _dt(epoch: int) -> datetime:
    return datetime.fromtimestamp(int(epoch), timezone.utc)


def _staged(conn: Connection, rule: AlertRule) -> pd.DataFrame:
    """The batch's readings of the rule's metric, for only the assets that matter: those
    with a reading beyond the threshold, or with an alert of the rule still open (the rest
    can neither raise nor clear anything, and are most of a batch)."""
    beyond = "value > :limit" if rule.above is not None else "value < :limit"
    rows = conn.execute(
        text(
            f"SELECT asset_pk, rkey, time, value, district FROM {STAGE} "
            "WHERE state IN (1, 2) AND rkey = :metric AND (asset_pk IN ("
            f"SELECT asset_pk FROM {STAGE} WHERE state IN (1, 2) AND rkey = :metric "
            f"AND {beyond}) OR asset_pk IN (SELECT asset_pk FROM alerts "
            "WHERE rule = :rule AND cleared_at IS NULL))"
        ),
        {"metric": rule.metric, "rule": rule.rule_id,
         "limit": rule.above if rule.above is not None else rule.below},
    ).all()
    return rows_frame(rows, ["asset_pk", "rkey", "time", "value", "district"])


def _open_alerts(
    conn: Connection, rule: AlertRule, assets: list[int]
) -> dict[int, Row[int, int, float]]:
    stmt = select(Alert.id, Alert.asset_pk, Alert.value).where(
        Alert.rule == rule.rule_id,
        Alert.cleared_at.is_(None),
        Alert.asset_pk.in_(bindparam("assets", expanding=True)),
    )
    return {row.asset_pk: row for row in conn.execute(stmt, {"assets": assets})}


def _episodes(
    times: np.ndarray, values: np.ndarray, violating: np.ndarray, open_before: bool
) -> list[tuple[int | None, int | None, float]]:
    """(raised time or None if it continues an open alert, cleared time or None, peak)."""
    result: list[tuple[int | None, int | None, float]] = []
    start: int | None = None
    active = open_before
    peak = -np.inf
    first = True
    for t, v, bad in zip(times, values, violating, strict=True):
        if bad and not active:
            active, start, peak, first = True, int(t), float(v), False
        elif bad:
            peak = max(peak, float(v))
        elif active:
            result.append((None if first and open_before else start, int(t), peak))
            active, first = False, False
    if active:
        result.append((None if first and open_before else start, None, peak))
    return result


def evaluate_alerts(conn: Connection, rules: Sequence[AlertRule]) -> int:
    """Raise and clear alerts for the batch in the staging table; returns alerts changed."""
    if not rules:
        return 0
    changed = 0
    told: list[AlertChange] = []
    for rule in rules:
        part = _staged(conn, rule).sort_values(["asset_pk", "time"])
        if part.empty:
            continue
        values = part["value"].to_numpy()
        part = part.assign(
            bad=values > rule.above if rule.above is not None else values < rule.below
        )
        open_now = _open_alerts(conn, rule, part["asset_pk"].unique().tolist())
        for _, rows in part.groupby("asset_pk", sort=False):
            asset_pk = int(rows["asset_pk"].iloc[0])
            existing = open_now.get(asset_pk)
            if existing is None and not rows["bad"].any():
                continue
            district = rows["district"].iloc[0] or None
            for raised, cleared, peak in _episodes(
                rows["time"].to_numpy(), rows["value"].to_numpy(), rows["bad"].to_numpy(),
                existing is not None,
            ):
                changed += 1
                if raised is None:  # continues the alert that was open before the batch
                    assert existing is not None  # only an open alert is continued
                    value = max(existing.value, peak) if np.isfinite(peak) else existing.value
                    conn.execute(
                        update(Alert)
                        .where(Alert.id == existing.id)
                        .values(value=value,
                                cleared_at=_dt(cleared) if cleared is not None else None)
                    )
                    if cleared is not None:
                        told.append(AlertChange(existing.id, ALERT_CLEARED, _dt(cleared),
                                                asset_pk, rule.rule_id, rule.metric,
                                                rule.severity, value, district))
                    continue
                alert_id = conn.execute(
                    insert(Alert).values(
                        asset_pk=asset_pk, metric=rule.metric, rule=rule.rule_id,
                        severity=rule.severity, raised_at=_dt(raised), value=peak,
                        cleared_at=_dt(cleared) if cleared is not None else None,
                        district_id=district,
                    ).returning(Alert.id)
                ).scalar_one()
                told.append(AlertChange(alert_id, ALERT_RAISED, _dt(raised), asset_pk,
                                        rule.rule_id, rule.metric, rule.severity, peak,
                                        district))
                if cleared is not None:
                    told.append(AlertChange(alert_id, ALERT_CLEARED, _dt(cleared), asset_pk,
                                            rule.rule_id, rule.metric, rule.severity, peak,
                                            district))
    record_alert_changes(conn, told)
    return changed
